use super::*;
use crate::wire::Stuffer;
use proptest::prelude::*;

/// A scripted ISP POP3 server for the client and collection tests: a mailbox and a
/// few switches, answering one command line at a time.
pub(crate) mod fake {
    use crate::wire::Stuffer;
    use crate::{Input, Instant, Machine, Output};

    pub struct FakeServer {
        pub greeting: String,
        /// `None`: CAPA is answered with -ERR.
        pub capa: Option<Vec<&'static str>>,
        pub uidl: bool,
        pub top: bool,
        /// (UID, message, marked deleted)
        pub msgs: Vec<(String, Vec<u8>, bool)>,
        /// Commands received, in order.
        pub log: Vec<String>,
        /// UIDs removed at QUIT.
        pub removed: Vec<String>,
        /// Answer a command starting with this with -ERR.
        pub refuse: Option<&'static str>,
        /// After answering a command starting with this, send only this many bytes of
        /// the answer and close.
        pub drop_after: Option<(&'static str, usize)>,
        pub closed: bool,
    }

    impl FakeServer {
        pub fn new(msgs: &[(&str, &[u8])]) -> FakeServer {
            FakeServer {
                greeting: "+OK ready <1.2@isp.example>".into(),
                capa: Some(vec!["TOP", "UIDL", "USER"]),
                uidl: true,
                top: true,
                msgs: msgs
                    .iter()
                    .map(|(u, m)| (u.to_string(), m.to_vec(), false))
                    .collect(),
                log: Vec::new(),
                removed: Vec::new(),
                refuse: None,
                drop_after: None,
                closed: false,
            }
        }

        fn msg(&self, arg: Option<&str>) -> Option<usize> {
            let n: usize = arg?.parse().ok()?;
            let i = n.checked_sub(1)?;
            self.msgs.get(i).filter(|m| !m.2).map(|_| i)
        }

        pub fn respond(&mut self, line: &str) -> Vec<u8> {
            self.log.push(line.to_string());
            let mut words = line.split(' ');
            let verb = words.next().unwrap_or("").to_ascii_uppercase();
            let arg = words.next();
            let mut out = Vec::new();
            if self.refuse.is_some_and(|r| line.starts_with(r)) {
                return b"-ERR refused\r\n".to_vec();
            }
            match verb.as_str() {
                "CAPA" => match &self.capa {
                    Some(c) => {
                        out.extend_from_slice(b"+OK\r\n");
                        for l in c {
                            out.extend_from_slice(l.as_bytes());
                            out.extend_from_slice(b"\r\n");
                        }
                        out.extend_from_slice(b".\r\n");
                    }
                    None => out.extend_from_slice(b"-ERR no CAPA\r\n"),
                },
                "STLS" | "USER" | "PASS" | "APOP" => out.extend_from_slice(b"+OK\r\n"),
                "LIST" => {
                    out.extend_from_slice(b"+OK\r\n");
                    for (i, m) in self.msgs.iter().enumerate().filter(|(_, m)| !m.2) {
                        out.extend_from_slice(format!("{} {}\r\n", i + 1, m.1.len()).as_bytes());
                    }
                    out.extend_from_slice(b".\r\n");
                }
                "UIDL" if self.uidl => {
                    out.extend_from_slice(b"+OK\r\n");
                    for (i, m) in self.msgs.iter().enumerate().filter(|(_, m)| !m.2) {
                        out.extend_from_slice(format!("{} {}\r\n", i + 1, m.0).as_bytes());
                    }
                    out.extend_from_slice(b".\r\n");
                }
                "TOP" if self.top => match self.msg(arg) {
                    Some(i) => {
                        out.extend_from_slice(b"+OK\r\n");
                        let mut s = Stuffer::top(0);
                        s.push(&self.msgs[i].1, &mut out);
                        s.finish(&mut out);
                    }
                    None => out.extend_from_slice(b"-ERR no such message\r\n"),
                },
                "RETR" => match self.msg(arg) {
                    Some(i) => {
                        out.extend_from_slice(b"+OK\r\n");
                        let mut s = Stuffer::full();
                        s.push(&self.msgs[i].1, &mut out);
                        s.finish(&mut out);
                    }
                    None => out.extend_from_slice(b"-ERR no such message\r\n"),
                },
                "DELE" => match self.msg(arg) {
                    Some(i) => {
                        self.msgs[i].2 = true;
                        out.extend_from_slice(b"+OK\r\n");
                    }
                    None => out.extend_from_slice(b"-ERR no such message\r\n"),
                },
                "QUIT" => {
                    for m in &self.msgs {
                        if m.2 {
                            self.removed.push(m.0.clone());
                        }
                    }
                    self.msgs.retain(|m| !m.2);
                    self.closed = true;
                    out.extend_from_slice(b"+OK bye\r\n");
                }
                _ => out.extend_from_slice(b"-ERR unknown command\r\n"),
            }
            if let Some((p, n)) = self.drop_after {
                if line.starts_with(p) {
                    out.truncate(n);
                    self.closed = true;
                }
            }
            out
        }
    }

    /// What a conversation produced.
    pub struct Talk<E> {
        pub events: Vec<E>,
        pub start_tls: usize,
        pub closed: bool,
    }

    /// Run `m` against `server`, feeding each answer in pieces of `cut` octets and
    /// answering events with `answer`. Stops at Close, or when nobody has anything to
    /// say.
    pub fn talk<M: Machine>(
        m: &mut M,
        server: &mut FakeServer,
        now: Instant,
        cut: usize,
        answer: &mut dyn FnMut(&M::Event) -> Option<M::Command>,
    ) -> Talk<M::Event> {
        let mut t = Talk {
            events: Vec::new(),
            start_tls: 0,
            closed: false,
        };
        let mut wire = Vec::new();
        let mut pending: Vec<u8> = format!("{}\r\n", server.greeting).into_bytes();
        let mut eof = false;
        for _ in 0..100_000 {
            for part in pending.chunks(cut.max(1)) {
                m.handle_input(now, Input::Bytes(part));
            }
            pending.clear();
            if eof {
                m.handle_input(now, Input::Eof);
                eof = false;
            }
            let mut stalled = false;
            while !stalled {
                match m.poll_output(&mut wire) {
                    Output::Event(e) => {
                        let c = answer(&e);
                        t.events.push(e);
                        if let Some(c) = c {
                            m.handle_command(now, c);
                        }
                    }
                    Output::StartTls => t.start_tls += 1,
                    Output::Close => {
                        // Let the server see what was said before the close.
                        for line in wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                            let line = String::from_utf8_lossy(line).trim_end().to_string();
                            if !server.closed {
                                server.respond(&line);
                            }
                        }
                        t.closed = true;
                        return t;
                    }
                    Output::Wait(_) => stalled = true,
                }
            }
            while let Some(nl) = wire.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = wire.drain(..=nl).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if server.closed {
                    continue;
                }
                pending.extend(server.respond(&line));
                if server.closed {
                    eof = true;
                }
            }
            if pending.is_empty() && !eof {
                return t;
            }
        }
        t
    }
}

use fake::{talk, FakeServer};

fn settings() -> ClientSettings {
    ClientSettings {
        user: "office".into(),
        password: "secret".into(),
        auth: Pop3Auth::Plain,
        tls: InMailTls::Opportunistic,
        tls_available: false,
        timeout: Duration::from_secs(60),
        max_message: 1 << 20,
    }
}

const T0: Instant = Instant::from_secs(1_000_000);

fn ended(events: &[ClientEvent]) -> &SessionEnd {
    match events.last() {
        Some(ClientEvent::Ended(e)) => e,
        other => panic!("not ended: {other:?}"),
    }
}

/// Logs in, then quits at once.
fn login_only(s: ClientSettings, server: &mut FakeServer) -> fake::Talk<ClientEvent> {
    let mut c = Pop3Client::new(T0, s);
    talk(&mut c, server, T0, 7, &mut |e| match e {
        ClientEvent::Ready(_) => Some(Request::Quit),
        _ => None,
    })
}

#[test]
fn user_pass_login_with_capa_then_quit() {
    let mut server = FakeServer::new(&[]);
    let t = login_only(settings(), &mut server);
    assert_eq!(server.log, ["CAPA", "USER office", "PASS secret", "QUIT"]);
    assert!(matches!(&t.events[0], ClientEvent::Ready(c) if c.top && c.uidl && !c.stls));
    let end = ended(&t.events);
    assert!(end.logged_in && end.error.is_none());
    assert!(t.closed);
}

#[test]
fn capa_refused_is_tolerated() {
    let mut server = FakeServer::new(&[]);
    server.capa = None;
    let t = login_only(settings(), &mut server);
    assert_eq!(server.log, ["CAPA", "USER office", "PASS secret", "QUIT"]);
    assert!(matches!(&t.events[0], ClientEvent::Ready(c) if !c.capa));
}

#[test]
fn apop_sends_the_rfc_digest_and_needs_a_timestamp() {
    let mut server = FakeServer::new(&[]);
    server.greeting = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>".into();
    let s = ClientSettings {
        user: "mrose".into(),
        password: "tanstaaf".into(),
        auth: Pop3Auth::Apop,
        ..settings()
    };
    login_only(s.clone(), &mut server);
    assert_eq!(server.log[1], "APOP mrose c4c9334bac560ecc979e58001b3e22fb");

    let mut server = FakeServer::new(&[]);
    server.greeting = "+OK no timestamp here".into();
    let t = login_only(s, &mut server);
    let err = ended(&t.events).error.clone().unwrap();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(server.log, ["CAPA", "QUIT"]);
}

#[test]
fn stls_when_offered_and_capa_again_after() {
    let mut server = FakeServer::new(&[]);
    server.capa = Some(vec!["STLS", "UIDL"]);
    let s = ClientSettings {
        tls_available: true,
        ..settings()
    };
    let t = login_only(s.clone(), &mut server);
    assert_eq!(t.start_tls, 1);
    assert_eq!(
        server.log,
        ["CAPA", "STLS", "CAPA", "USER office", "PASS secret", "QUIT"]
    );
    assert!(ended(&t.events).tls);

    // Opportunistic: a refused STLS goes on in the clear.
    let mut server = FakeServer::new(&[]);
    server.capa = Some(vec!["STLS"]);
    server.refuse = Some("STLS");
    let t = login_only(s.clone(), &mut server);
    assert_eq!(t.start_tls, 0);
    assert!(ended(&t.events).error.is_none());
    assert!(!ended(&t.events).tls);

    // Required: refused, or not offered, is an error before any password is sent.
    for (capa, refuse) in [(vec!["STLS"], Some("STLS")), (vec!["UIDL"], None)] {
        let mut server = FakeServer::new(&[]);
        server.capa = Some(capa);
        server.refuse = refuse;
        let t = login_only(
            ClientSettings {
                tls: InMailTls::Starttls,
                ..s.clone()
            },
            &mut server,
        );
        let err = ended(&t.events).error.clone().unwrap();
        assert_eq!(err.kind, ErrorKind::Tls);
        assert!(!server.log.iter().any(|l| l.starts_with("PASS")));
    }

    // tls = "none": never STLS.
    let mut server = FakeServer::new(&[]);
    server.capa = Some(vec!["STLS"]);
    login_only(
        ClientSettings {
            tls: InMailTls::None,
            ..s
        },
        &mut server,
    );
    assert!(!server.log.iter().any(|l| l == "STLS"));
}

#[test]
fn refused_password_names_the_masked_command() {
    let mut server = FakeServer::new(&[]);
    server.refuse = Some("PASS");
    let t = login_only(settings(), &mut server);
    let err = ended(&t.events).error.clone().unwrap();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(err.received.as_deref(), Some("-ERR refused"));
    assert_eq!(err.last_command.as_deref(), Some("PASS ********"));
    assert!(!format!("{err:?}").contains("secret"));
    assert!(!format!("{:?}", settings()).contains("secret"));
}

#[test]
fn uidl_refused_is_an_event_not_an_error() {
    let mut server = FakeServer::new(&[("u1", b"A: b\r\n\r\nx\r\n")]);
    server.uidl = false;
    let mut c = Pop3Client::new(T0, settings());
    let t = talk(&mut c, &mut server, T0, 3, &mut |e| match e {
        ClientEvent::Ready(_) => Some(Request::Uidl),
        ClientEvent::Uids(None) => Some(Request::Top(1)),
        ClientEvent::Header { .. } => Some(Request::Quit),
        _ => None,
    });
    assert!(t.events.contains(&ClientEvent::Uids(None)));
    assert!(t.events.contains(&ClientEvent::Header {
        number: 1,
        header: Some(b"A: b\r\n\r\n".to_vec())
    }));
    assert!(ended(&t.events).error.is_none());
}

fn retrieve(msg: &[u8], cut: usize, max: u64) -> (Vec<u8>, Vec<ClientEvent>) {
    let mut server = FakeServer::new(&[("u1", msg)]);
    let mut c = Pop3Client::new(
        T0,
        ClientSettings {
            max_message: max,
            ..settings()
        },
    );
    let t = talk(&mut c, &mut server, T0, cut, &mut |e| match e {
        ClientEvent::Ready(_) => Some(Request::Retr(1)),
        ClientEvent::Retrieved { .. } => Some(Request::Quit),
        _ => None,
    });
    let mut got = Vec::new();
    for e in &t.events {
        if let ClientEvent::Data(d) = e {
            got.extend_from_slice(d);
        }
    }
    (got, t.events)
}

proptest! {
    #[test]
    fn retr_unstuffs_at_every_split(
        lines in proptest::collection::vec("[.a-z\\r]{0,6}", 0..8),
        cut in 1usize..40,
    ) {
        let mut msg = Vec::new();
        for l in &lines {
            msg.extend_from_slice(l.as_bytes());
            msg.extend_from_slice(b"\r\n");
        }
        // What the server sends once its line ends are made CRLF.
        let mut wire = Vec::new();
        let mut s = Stuffer::full();
        s.push(&msg, &mut wire);
        let (got, events) = retrieve(&msg, cut, 1 << 20);
        let want: Vec<u8> = {
            // Un-stuff the expectation the simple way: drop a leading dot per line.
            let mut out = Vec::new();
            for line in wire.split_inclusive(|&b| b == b'\n') {
                out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            }
            out
        };
        prop_assert_eq!(&got, &want);
        let size = got.len() as u64;
        prop_assert!(
            events.contains(&ClientEvent::Retrieved { number: 1, size, ok: true }),
            "retrieved size {}", size
        );
    }
}

#[test]
fn retr_of_dotted_lines_split_at_every_byte() {
    let msg = b"Subject: x\r\n\r\n.\r\n..\r\n.hidden\r\nend.\r\n";
    for cut in 1..60 {
        let (got, _) = retrieve(msg, cut, 1 << 20);
        assert_eq!(got, msg, "cut {cut}");
    }
}

#[test]
fn a_message_larger_than_the_maximum_ends_the_session() {
    let msg = vec![b'x'; 20 << 20];
    let (got, events) = retrieve(&msg, 64 << 10, 1000);
    assert!(got.len() <= 1000);
    let err = ended(&events).error.clone().unwrap();
    assert_eq!(err.kind, ErrorKind::TooLarge);
    assert!(!events
        .iter()
        .any(|e| matches!(e, ClientEvent::Retrieved { .. })));
}

#[test]
fn a_message_somewhat_larger_than_the_maximum_is_dropped_not_fatal() {
    let msg = vec![b'y'; 1500];
    let (got, events) = retrieve(&msg, 100, 1000);
    assert!(got.len() <= 1000, "{} octets passed on", got.len());
    assert!(events.contains(&ClientEvent::Retrieved {
        number: 1,
        size: 1502,
        ok: false
    }));
    assert!(
        ended(&events).error.is_none(),
        "the session went on to QUIT"
    );
}

#[test]
fn a_drop_in_the_middle_of_retr_is_a_closed_error() {
    let msg = b"Subject: x\r\n\r\nbody line\r\n";
    let mut server = FakeServer::new(&[("u1", msg)]);
    server.drop_after = Some(("RETR", 12));
    let mut c = Pop3Client::new(T0, settings());
    let t = talk(&mut c, &mut server, T0, 5, &mut |e| match e {
        ClientEvent::Ready(_) => Some(Request::Retr(1)),
        ClientEvent::Retrieved { .. } => Some(Request::Quit),
        _ => None,
    });
    let err = ended(&t.events).error.clone().unwrap();
    assert_eq!(err.kind, ErrorKind::Closed);
    assert_eq!(err.last_command.as_deref(), Some("RETR 1"));
}

#[test]
fn silence_past_the_deadline_is_a_timeout() {
    let mut c = Pop3Client::new(T0, settings());
    let mut out = Vec::new();
    let Output::Wait(Some(deadline)) = c.poll_output(&mut out) else {
        panic!("no deadline for the greeting");
    };
    assert_eq!(deadline, T0 + Duration::from_secs(60));
    c.handle_input(T0 + Duration::from_secs(59), Input::Tick);
    assert!(matches!(c.poll_output(&mut out), Output::Wait(_)));
    c.handle_input(deadline, Input::Tick);
    let Output::Event(ClientEvent::Ended(end)) = c.poll_output(&mut out) else {
        panic!("no end");
    };
    assert_eq!(end.error.unwrap().kind, ErrorKind::Timeout);
    assert_eq!(c.poll_output(&mut out), Output::Close);
}

#[test]
fn garbage_and_endless_lines_are_protocol_errors() {
    let mut c = Pop3Client::new(T0, settings());
    c.handle_input(T0, Input::Bytes(b"HTTP/1.1 200 OK\r\n"));
    let mut out = Vec::new();
    let Output::Event(ClientEvent::Ended(end)) = c.poll_output(&mut out) else {
        panic!("no end");
    };
    assert_eq!(end.error.unwrap().kind, ErrorKind::Protocol);

    let mut c = Pop3Client::new(T0, settings());
    c.handle_input(T0, Input::Bytes(&vec![b'+'; MAX_STATUS_LINE + 10]));
    let Output::Event(ClientEvent::Ended(end)) = c.poll_output(&mut out) else {
        panic!("no end");
    };
    assert_eq!(end.error.unwrap().kind, ErrorKind::Protocol);
}
#[test]
fn commands_are_masked() {
    assert_eq!(mask_command("RETR 3\r\n"), "RETR 3");
    assert_eq!(mask_command("pass secret"), "pass ********");
    assert_eq!(
        mask_command("APOP fred c4c9334bac560ecc979e58001b3e22fb"),
        "APOP fred ********"
    );
    assert_eq!(mask_command("AUTH PLAIN AGZyZWQAc2VjcmV0"), "AUTH PLAIN");
}
