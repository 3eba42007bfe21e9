use super::*;
use crate::rng::Rng;
use crate::wire::Faults;

/// A client that sends one command per response and reports each response whole.
struct Script {
    commands: VecDeque<(String, bool)>,
    inbuf: Vec<u8>,
    /// Whether the response being read is multi-line.
    multi: bool,
    current: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<String>,
    done: bool,
}

impl Script {
    /// `(command, multi-line on +OK)`; the greeting is read first.
    fn new(commands: &[(&str, bool)]) -> Script {
        Script {
            commands: commands
                .iter()
                .map(|(c, m)| ((*c).to_string(), *m))
                .collect(),
            inbuf: Vec::new(),
            multi: false,
            current: Vec::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            done: false,
        }
    }

    fn finish_response(&mut self) {
        let r = String::from_utf8_lossy(&std::mem::take(&mut self.current)).into_owned();
        self.events.push_back(r);
        match self.commands.pop_front() {
            Some((c, m)) => {
                self.out.extend_from_slice(c.as_bytes());
                self.out.extend_from_slice(b"\r\n");
                self.multi = m;
            }
            None => self.done = true,
        }
    }
}

impl Machine for Script {
    type Command = ();
    type Event = String;

    fn handle_input(&mut self, _now: Instant, input: Input<'_>) {
        match input {
            Input::Bytes(b) => {
                self.inbuf.extend_from_slice(b);
                while let Some(end) = self.inbuf.iter().position(|&c| c == b'\n') {
                    let line: Vec<u8> = self.inbuf.drain(..=end).collect();
                    let first = self.current.is_empty();
                    self.current.extend_from_slice(&line);
                    let ended = if first {
                        !(self.multi && line.starts_with(b"+OK"))
                    } else {
                        line == b".\r\n"
                    };
                    if ended {
                        self.finish_response();
                    }
                }
            }
            Input::Eof => {
                if !self.current.is_empty() {
                    let r =
                        String::from_utf8_lossy(&std::mem::take(&mut self.current)).into_owned();
                    self.events.push_back(format!("{r}<EOF>"));
                }
                self.done = true;
            }
            Input::Tick => {}
        }
    }

    fn handle_command(&mut self, _now: Instant, _cmd: ()) {}

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<String> {
        out.append(&mut self.out);
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        if self.done {
            return Output::Close;
        }
        Output::Wait(None)
    }
}

fn mailbox() -> IspMailbox {
    let mut m = IspMailbox::new();
    m.add(b"Subject: one\nMessage-Id: <1@x>\n\nfirst\n.dot line\n");
    m.add(b"Subject: two\r\nMessage-Id: <2@x>\r\n\r\nsecond\r\nline 2\r\nline 3\r\n");
    m.add(b"Subject: three\nMessage-Id: <3@x>\n\nthird");
    m
}

const LOGIN: [(&str, bool); 2] = [("USER office", false), ("PASS secret word", false)];

fn session(
    mailbox: &IspMailbox,
    behaviour: Behaviour,
    commands: &[(&str, bool)],
    faults: Faults,
    seed: u64,
) -> (Vec<String>, Link<Script, IspPop3>, Instant) {
    let all: Vec<(&str, bool)> = LOGIN.iter().chain(commands).copied().collect();
    let server = IspPop3::new(Instant::ZERO, mailbox, behaviour, "office", "secret word");
    let mut link = Link::new(Script::new(&all), server, faults, Rng::new(seed));
    let limit = Instant::from_secs(24 * 3600);
    let (events, end) = link.run(Instant::ZERO, limit, &mut |_, _| None);
    (events, link, end)
}

#[test]
fn normal_session_lists_serves_and_deletes_on_quit() {
    let mut mb = mailbox();
    let uids = mb.uids();
    let (r, link, _) = session(
        &mb,
        Behaviour::normal(),
        &[
            ("CAPA", true),
            ("STAT", false),
            ("LIST", true),
            ("UIDL", true),
            ("UIDL 2", false),
            ("TOP 2 1", true),
            ("RETR 1", true),
            ("DELE 1", false),
            ("RETR 1", true),
            ("QUIT", false),
        ],
        Faults::CLEAN,
        1,
    );
    assert!(link.is_ended());
    assert_eq!(r[0], "+OK POP3 server ready\r\n");
    assert!(r[2].starts_with("+OK logged in"), "{r:?}");
    assert!(r[3].contains("\r\nTOP\r\n") && r[3].contains("\r\nUIDL\r\n"));
    let sizes: Vec<usize> = mb.messages().iter().map(|m| m.data.len()).collect();
    let total: usize = sizes.iter().sum();
    assert_eq!(r[4], format!("+OK 3 {total}\r\n"));
    assert_eq!(
        r[5],
        format!(
            "+OK\r\n1 {}\r\n2 {}\r\n3 {}\r\n.\r\n",
            sizes[0], sizes[1], sizes[2]
        )
    );
    assert_eq!(
        r[6],
        format!(
            "+OK\r\n1 {}\r\n2 {}\r\n3 {}\r\n.\r\n",
            uids[0], uids[1], uids[2]
        )
    );
    assert_eq!(r[7], format!("+OK 2 {}\r\n", uids[1]));
    assert_eq!(
        r[8],
        "+OK top of message follows\r\nSubject: two\r\nMessage-Id: <2@x>\r\n\r\nsecond\r\n.\r\n"
    );
    // LF made CRLF and the leading dot stuffed.
    assert_eq!(
        r[9],
        format!(
            "+OK {} octets\r\nSubject: one\r\nMessage-Id: <1@x>\r\n\r\nfirst\r\n..dot line\r\n.\r\n",
            sizes[0]
        )
    );
    assert!(r[10].starts_with("+OK"));
    assert!(
        r[11].starts_with("-ERR"),
        "a deleted message is gone: {r:?}"
    );
    assert!(r[12].starts_with("+OK bye, 1 deleted"));
    assert!(link.server.updated());
    assert_eq!(link.server.retrieved(), [uids[0].clone()]);
    assert_eq!(link.server.transcript()[1], "PASS ****");
    assert_eq!(link.server.apply(&mut mb), [uids[0].clone()]);
    assert_eq!(mb.uids(), uids[1..]);
}

#[test]
fn a_wrong_password_is_refused_and_unsplit_or_split_writes_read_the_same() {
    let mb = mailbox();
    let (r, _, _) = session(
        &mb,
        Behaviour::normal(),
        &[("STAT", false)],
        Faults::CLEAN,
        1,
    );
    let split = Faults {
        latency: (1_000, 90_000),
        split: true,
        reset: 0.0,
        refuse: 0.0,
    };
    for seed in 0..20 {
        let (r2, _, _) = session(&mb, Behaviour::normal(), &[("STAT", false)], split, seed);
        assert_eq!(r, r2, "seed {seed}");
    }
    let server = IspPop3::new(Instant::ZERO, &mb, Behaviour::normal(), "office", "other");
    let mut link = Link::new(
        Script::new(&[
            ("USER office", false),
            ("PASS secret word", false),
            ("STAT", false),
        ]),
        server,
        Faults::CLEAN,
        Rng::new(1),
    );
    let (r, _) = link.run(Instant::ZERO, Instant::from_secs(60), &mut |_, _| None);
    assert!(r[2].starts_with("-ERR [AUTH]"), "{r:?}");
    assert!(r[3].starts_with("-ERR"), "STAT before login: {r:?}");
}

#[test]
fn a_session_without_quit_deletes_nothing() {
    let mut mb = mailbox();
    let (r, link, _) = session(
        &mb,
        Behaviour::normal(),
        &[("DELE 1", false), ("DELE 2", false)],
        Faults::CLEAN,
        1,
    );
    assert!(r[3].starts_with("+OK") && r[4].starts_with("+OK"));
    assert!(!link.server.updated());
    assert_eq!(link.server.marked().len(), 2);
    assert!(link.server.apply(&mut mb).is_empty());
    assert_eq!(mb.len(), 3);
}

#[test]
fn dropping_in_the_middle_of_retr_cuts_the_message_and_keeps_the_mailbox() {
    let mut mb = mailbox();
    let (r, link, _) = session(
        &mb,
        Behaviour::drop_on_retr(2, true),
        &[
            ("RETR 1", true),
            ("DELE 1", false),
            ("RETR 2", true),
            ("DELE 2", false),
            ("QUIT", false),
        ],
        Faults::CLEAN,
        1,
    );
    assert!(link.is_ended());
    assert!(r[5].ends_with("<EOF>"), "{r:?}");
    assert!(!r[5].contains("\r\n.\r\n"), "no end marker: {r:?}");
    assert_eq!(r.len(), 6, "nothing after the cut: {r:?}");
    assert_eq!(link.server.retrieved(), [mb.uids()[0].clone()]);
    assert!(link.server.apply(&mut mb).is_empty());
    assert_eq!(mb.len(), 3);
}

#[test]
fn dropping_after_retr_sends_it_whole_then_closes() {
    let mb = mailbox();
    let (r, link, _) = session(
        &mb,
        Behaviour::drop_on_retr(1, false),
        &[("RETR 3", true), ("DELE 3", false), ("QUIT", false)],
        Faults::CLEAN,
        1,
    );
    assert!(r[3].ends_with("third\r\n.\r\n"), "{r:?}");
    assert_eq!(r.len(), 4, "{r:?}");
    assert_eq!(link.server.retrieved(), [mb.uids()[2].clone()]);
    assert!(!link.server.updated());
}

#[test]
fn uidl_refused_and_absent_and_no_top() {
    let mb = mailbox();
    let cmds = [("CAPA", true), ("UIDL", true), ("TOP 1 0", true)];
    let (r, _, _) = session(&mb, Behaviour::uidl_refused(), &cmds, Faults::CLEAN, 1);
    assert!(r[3].contains("UIDL"), "still claimed in CAPA: {r:?}");
    assert!(r[4].starts_with("-ERR"), "{r:?}");
    assert!(r[5].starts_with("+OK top"), "{r:?}");
    let (r, _, _) = session(&mb, Behaviour::bare(), &cmds, Faults::CLEAN, 1);
    assert!(!r[3].contains("UIDL") && !r[3].contains("TOP"), "{r:?}");
    assert!(
        r[4].starts_with("-ERR") && r[5].starts_with("-ERR"),
        "{r:?}"
    );
    let no_capa = Behaviour {
        capa: false,
        ..Behaviour::normal()
    };
    let (r, _, _) = session(&mb, no_capa, &cmds, Faults::CLEAN, 1);
    assert!(r[3].starts_with("-ERR"), "{r:?}");
    assert!(r[4].starts_with("+OK"), "{r:?}");
}

#[test]
fn apop_with_the_greeting_timestamp() {
    let mb = mailbox();
    let behaviour = Behaviour {
        apop: true,
        ..Behaviour::normal()
    };
    let server = IspPop3::new(Instant::ZERO, &mb, behaviour, "office", "secret word");
    let ts = server.timestamp.clone();
    let digest = apop_digest(&ts, "secret word");
    let apop = format!("APOP office {digest}");
    let mut link = Link::new(
        Script::new(&[("APOP office 0123", false), (&apop, false), ("STAT", false)]),
        server,
        Faults::CLEAN,
        Rng::new(1),
    );
    let (r, _) = link.run(Instant::ZERO, Instant::from_secs(60), &mut |_, _| None);
    assert!(r[0].contains(&ts), "{r:?}");
    assert!(r[1].starts_with("-ERR"), "{r:?}");
    assert!(r[2].starts_with("+OK logged in"), "{r:?}");
    assert!(r[3].starts_with("+OK 3 "), "{r:?}");
    assert_eq!(link.server.transcript()[1], format!("APOP office ****"));
}

#[test]
fn a_slow_server_answers_late_and_a_stalled_one_never() {
    let mb = mailbox();
    let (_, _, fast_end) = session(
        &mb,
        Behaviour::normal(),
        &[("QUIT", false)],
        Faults::CLEAN,
        1,
    );
    let (r, _, slow_end) = session(
        &mb,
        Behaviour::slow(Duration::from_secs(30)),
        &[("QUIT", false)],
        Faults::CLEAN,
        1,
    );
    assert!(r[3].starts_with("+OK bye"));
    // Greeting, USER, PASS and QUIT each 30 s late.
    assert!(slow_end.saturating_since(fast_end) >= Duration::from_secs(120));

    let stall = Behaviour {
        stall_after: Some(2),
        ..Behaviour::normal()
    };
    let (r, link, end) = session(&mb, stall, &[("STAT", false)], Faults::CLEAN, 1);
    assert_eq!(r.len(), 3, "no answer after PASS: {r:?}");
    // The scripted client waits forever; the server's autologout ends it.
    assert!(link.is_ended());
    assert!(end >= Instant::ZERO + AUTOLOGOUT);
    assert!(!link.server.updated());
}

#[test]
fn over_long_lines_are_refused_without_growing() {
    let mb = mailbox();
    let long = format!("NOOP {}", "x".repeat(5000));
    let (r, link, _) = session(
        &mb,
        Behaviour::normal(),
        &[(&long, false), ("STAT", false)],
        Faults::CLEAN,
        1,
    );
    assert!(r[3].starts_with("-ERR line too long"), "{r:?}");
    assert!(r[4].starts_with("+OK 3 "), "the session goes on: {r:?}");
    assert!(link.server.inbuf.is_empty());
}

#[test]
fn a_reset_before_quit_deletes_nothing() {
    let faults = Faults {
        latency: (10_000, 10_000),
        split: true,
        reset: 0.05,
        refuse: 0.0,
    };
    let mut resets = 0;
    for seed in 0..50 {
        let cmds = [
            ("DELE 1", false),
            ("DELE 2", false),
            ("DELE 3", false),
            ("QUIT", false),
        ];
        let mut mb = mailbox();
        let (_, link, _) = session(&mb, Behaviour::normal(), &cmds, faults, seed);
        assert!(link.is_ended(), "seed {seed}");
        // A QUIT that reached the server counts even if its reply was lost.
        if !link.server.updated() {
            resets += 1;
            assert!(link.server.apply(&mut mb).is_empty(), "seed {seed}");
            assert_eq!(mb.len(), 3, "seed {seed}");
        }
    }
    assert!(
        resets > 0,
        "a 5% reset chance per chunk hit no session in 50"
    );
}

#[test]
fn ledger_finds_lost_and_duplicated_messages() {
    let mut l = Ledger::default();
    l.store("a");
    l.store("b");
    l.store("b");
    l.removed(&["a".to_string(), "c".to_string()]);
    assert_eq!(l.lost(), ["c"]);
    assert_eq!(l.duplicates(), ["b"]);
}
