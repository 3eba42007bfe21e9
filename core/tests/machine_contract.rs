//! The machine contract (docs/ARCHITECTURE.md, "The machine contract") checked on
//! every byte machine: SMTP server and client, POP3 server and client, the password
//! service, the finger and LDAP servers, the ETRN client, the IMAP server, the HTTP
//! server and the collection run.
//!
//! One generic checker runs each machine through a short scripted session, answering
//! its events as a driver would, and then again with disturbances that the rules say
//! must change nothing: stray commands (none outstanding, the wrong kind, after
//! `Close`), a `now` earlier than one already seen, a tick just before the deadline.
//! It also ends the session with `Eof` after every step and expects `Close` without
//! any more bytes, and checks that `Close` comes exactly once.

#[path = "imap_support/mod.rs"]
mod imap_support;

use imap_support::snapshot;
use mailroom_core::auth::AuthOutcome;
use mailroom_core::config::{InMailTls, OutTls, Pop3Auth};
use mailroom_core::finger::{FingerCommand, FingerServer};
use mailroom_core::ldap::{Entry, LdapCommand, LdapServer};
use mailroom_core::pass::{PassCommand, PassEvent, PassServer};
use mailroom_core::pop3::client::{self as pop3c, Pop3Client, Request};
use mailroom_core::pop3::{MessageEntry, Pop3Command, Pop3Event, Pop3Info, Pop3Server};
use mailroom_core::smtp::client::{self as smtpc, ClientCommand, Job, JobRecipient, SmtpClient};
use mailroom_core::smtp::etrn_client::{EtrnClient, EtrnEvent};
use mailroom_core::smtp::{SessionInfo, SmtpCommand, SmtpEvent, SmtpServer};
use mailroom_core::{Input, Instant, Machine, Output};
use std::fmt::Debug;
use std::time::Duration;

const T0: u64 = 1_767_225_600;

/// How a driver answers events in one run (it may keep state, e.g. jobs handed out).
type Responder<M> = Box<dyn FnMut(&<M as Machine>::Event) -> Option<<M as Machine>::Command>>;

/// Commands for an event (the wrong kinds sent before the right answer).
type Wrong<M> = fn(&<M as Machine>::Event) -> Vec<<M as Machine>::Command>;

/// One machine and its scripted session.
struct Case<M: Machine> {
    name: &'static str,
    start: fn(Instant) -> M,
    /// What the peer sends, one read per step.
    script: Vec<&'static [u8]>,
    responder: fn() -> Responder<M>,
    /// Commands of the wrong kind for this event (sent before the right answer).
    wrong: Wrong<M>,
    /// Commands sent while nothing is outstanding.
    strays: fn() -> Vec<M::Command>,
}

/// Runs one machine the way a driver must (rule 1) and records what it saw.
struct Driver<M: Machine> {
    name: &'static str,
    m: M,
    now: Instant,
    out: Vec<u8>,
    log: Vec<String>,
    closes: usize,
    last_wait: Option<Option<Instant>>,
    respond: Responder<M>,
    wrong: Option<Wrong<M>>,
}

impl<M: Machine> Driver<M>
where
    M::Event: Debug,
{
    fn new(case: &Case<M>, disturb: bool) -> Self {
        let now = Instant::from_secs(T0);
        let mut d = Driver {
            name: case.name,
            m: (case.start)(now),
            now,
            out: Vec::new(),
            log: Vec::new(),
            closes: 0,
            last_wait: None,
            respond: (case.responder)(),
            wrong: disturb.then_some(case.wrong),
        };
        d.drain();
        d
    }

    /// Poll until `Wait`, answering events at once as the runtimes do.
    fn drain(&mut self) {
        for _ in 0..10_000 {
            let o = self.m.poll_output(&mut self.out);
            self.log.push(format!("{o:?}"));
            match o {
                Output::Event(e) => {
                    if let Some(wrong) = self.wrong {
                        for c in wrong(&e) {
                            self.m.handle_command(self.now, c);
                        }
                    }
                    if let Some(c) = (self.respond)(&e) {
                        self.m.handle_command(self.now, c);
                    }
                }
                Output::Close => self.closes += 1,
                Output::StartTls => {}
                Output::Wait(d) => {
                    self.last_wait = Some(d);
                    return;
                }
            }
        }
        panic!("{}: poll_output never said Wait (rule 1)", self.name);
    }

    fn step(&mut self, bytes: &[u8]) {
        self.now = self.now + Duration::from_secs(1);
        self.m.handle_input(self.now, Input::Bytes(bytes));
        self.drain();
    }

    /// After a handle that must change nothing: one poll gives the same `Wait` as
    /// before and writes nothing.
    fn expect_nothing(&mut self, what: &str) {
        let before = self.out.len();
        let o = self.m.poll_output(&mut self.out);
        let same = matches!(&o, Output::Wait(d) if Some(*d) == self.last_wait);
        assert!(
            same,
            "{}: {what} changed the output: {o:?} (was Wait({:?}))",
            self.name, self.last_wait
        );
        assert_eq!(self.out.len(), before, "{}: {what} wrote bytes", self.name);
    }

    fn strays(&mut self, strays: fn() -> Vec<M::Command>, what: &str) {
        let early = Instant::from_secs(T0 - 3600);
        for c in strays() {
            self.m.handle_command(early, c);
            self.expect_nothing(what);
        }
    }

    /// Rule 3: after `Close`, nothing is written and nothing changes.
    fn check_finished(&mut self, case: &Case<M>) {
        assert_eq!(
            self.closes, 1,
            "{}: Close must come exactly once",
            self.name
        );
        assert_eq!(
            self.last_wait,
            Some(None),
            "{}: Wait(None) after Close",
            self.name
        );
        self.expect_nothing("a poll after Close");
        let later = self.now + Duration::from_secs(86_400);
        for input in [Input::Bytes(b"QUIT\r\n"), Input::Eof, Input::Tick] {
            self.m.handle_input(later, input);
            self.expect_nothing("input after Close");
        }
        self.strays(case.strays, "a command after Close");
    }
}

fn check<M: Machine>(case: Case<M>)
where
    M::Event: Debug,
{
    // The plain session ends with exactly one Close.
    let mut base = Driver::new(&case, false);
    for bytes in &case.script {
        base.step(bytes);
    }
    base.check_finished(&case);

    // Stray and wrong-kind commands and a `now` from the past change nothing: the
    // same bytes and the same outputs, Wait deadlines included.
    let mut disturbed = Driver::new(&case, true);
    let early = Instant::from_secs(T0 - 3600);
    for bytes in &case.script {
        disturbed.strays(case.strays, "a command nobody asked for");
        disturbed.m.handle_input(early, Input::Tick);
        disturbed.expect_nothing("a tick from the past");
        disturbed.step(bytes);
    }
    assert_eq!(
        String::from_utf8_lossy(&disturbed.out),
        String::from_utf8_lossy(&base.out),
        "{}: stray commands changed the bytes",
        case.name
    );
    assert_eq!(
        disturbed.log, base.log,
        "{}: stray commands changed the outputs",
        case.name
    );

    // After any step: a tick before the deadline changes nothing, and after Eof the
    // machine reaches Close without waiting for bytes.
    for k in 0..=case.script.len() {
        let mut d = Driver::new(&case, false);
        for bytes in &case.script[..k] {
            d.step(bytes);
        }
        if let Some(Some(deadline)) = d.last_wait {
            let just_before = deadline - Duration::from_micros(1);
            if just_before > d.now {
                d.m.handle_input(just_before, Input::Tick);
                d.expect_nothing("a tick before the deadline");
                d.now = just_before;
            }
        }
        d.m.handle_input(d.now, Input::Eof);
        d.drain();
        assert_eq!(
            d.closes,
            1,
            "{}: Eof after step {k} did not lead to Close ({:?})",
            case.name,
            d.log.iter().rev().take(3).collect::<Vec<_>>()
        );
        d.check_finished(&case);
    }
}

#[test]
fn smtp_server() {
    check(Case::<SmtpServer> {
        name: "SMTP server",
        start: |now| {
            let info = SessionInfo {
                peer_ip: "127.0.0.1".parse().unwrap(),
                session_id: "s1".into(),
                tls_active: false,
                tls_available: false,
                pop_before_smtp: false,
                local_offset_secs: 0,
            };
            SmtpServer::new(now, snapshot(""), info)
        },
        script: vec![
            b"EHLO client.example\r\n",
            // AUTH PLAIN \0alice\0secret
            b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<alice@example.com>\r\n",
            b"RCPT TO:<alice@example.com>\r\nDATA\r\n",
            b"Subject: hi\r\n\r\nhello\r\n.\r\n",
            b"QUIT\r\n",
        ],
        responder: || {
            Box::new(|e| {
                Some(match e {
                    SmtpEvent::Authenticate { .. } | SmtpEvent::AuthenticateCram { .. } => {
                        SmtpCommand::AuthResult(Some("alice".into()))
                    }
                    SmtpEvent::Deliver(_) => SmtpCommand::DeliveryResult(Ok(())),
                    SmtpEvent::Etrn { .. } => SmtpCommand::EtrnResult(Ok(0)),
                    SmtpEvent::RuleFired(_) => SmtpCommand::RuleLogged,
                    SmtpEvent::Dnsbl { .. } => SmtpCommand::DnsblResult(None),
                    SmtpEvent::CheckAuth(_) => SmtpCommand::AuthChecked(Box::new(
                        mailroom_core::smtp::AuthAnswer::unchecked(),
                    )),
                })
            })
        },
        wrong: |e| match e {
            SmtpEvent::Deliver(_) => vec![
                SmtpCommand::AuthResult(None),
                SmtpCommand::EtrnResult(Ok(1)),
                SmtpCommand::RuleLogged,
                SmtpCommand::DnsblResult(Some("zen.example".into())),
            ],
            _ => vec![SmtpCommand::DeliveryResult(Ok(()))],
        },
        strays: || {
            vec![
                SmtpCommand::AuthResult(Some("alice".into())),
                SmtpCommand::DeliveryResult(Ok(())),
                SmtpCommand::EtrnResult(Ok(3)),
                SmtpCommand::RuleLogged,
                SmtpCommand::DnsblResult(None),
            ]
        },
    });
}

#[test]
fn pop3_server() {
    const MESSAGE: &[u8] = b"Subject: hi\r\n\r\nhello\r\n";
    check(Case::<Pop3Server> {
        name: "POP3 server",
        start: |now| {
            let info = Pop3Info {
                peer_ip: "127.0.0.1".parse().unwrap(),
                session_id: "p1".into(),
                tls_active: false,
                tls_available: false,
            };
            Pop3Server::new(now, snapshot(""), info)
        },
        script: vec![
            b"USER alice\r\n",
            b"PASS secret\r\nSTAT\r\n",
            b"RETR 1\r\nDELE 1\r\n",
            b"QUIT\r\n",
        ],
        responder: || {
            Box::new(|e| {
                Some(match e {
                    Pop3Event::Authenticate { .. } | Pop3Event::Apop { .. } => {
                        Pop3Command::AuthResult(AuthOutcome::Ok("alice".into()))
                    }
                    Pop3Event::Open { .. } => Pop3Command::Opened(Ok(vec![MessageEntry {
                        uid: "u1".into(),
                        size: MESSAGE.len() as u64,
                    }])),
                    Pop3Event::Retrieve { .. } | Pop3Event::NextChunk => Pop3Command::Chunk {
                        data: MESSAGE.to_vec(),
                        last: true,
                    },
                    Pop3Event::Commit { .. } => Pop3Command::Committed(true),
                })
            })
        },
        wrong: |e| match e {
            Pop3Event::Authenticate { .. } | Pop3Event::Apop { .. } => {
                vec![Pop3Command::Opened(Ok(vec![])), Pop3Command::Missing]
            }
            Pop3Event::Open { .. } => vec![Pop3Command::Committed(false)],
            Pop3Event::Retrieve { .. } | Pop3Event::NextChunk => vec![
                Pop3Command::AuthResult(AuthOutcome::Invalid),
                Pop3Command::Committed(false),
            ],
            Pop3Event::Commit { .. } => vec![Pop3Command::Opened(Ok(vec![])), Pop3Command::Missing],
        },
        strays: || {
            vec![
                Pop3Command::AuthResult(AuthOutcome::Ok("alice".into())),
                Pop3Command::Opened(Ok(vec![])),
                Pop3Command::Chunk {
                    data: b"x\r\n".to_vec(),
                    last: true,
                },
                Pop3Command::Missing,
                Pop3Command::Committed(true),
            ]
        },
    });
}

#[test]
fn imap_server() {
    use mailroom_core::imap::{ImapCommand, ImapEvent, ImapServer, MailboxError};
    check(Case::<ImapServer> {
        name: "IMAP server",
        start: |now| {
            let info = imap_support::info("127.0.0.1", false);
            ImapServer::new(now, snapshot(""), info)
        },
        script: vec![
            b"a LOGIN alice secret\r\n",
            b"b SELECT INBOX\r\nc FETCH 1:* (FLAGS BODY.PEEK[])\r\n",
            b"d STORE 1 +FLAGS (\\Deleted)\r\ne APPEND INBOX {3}\r\n",
            b"abc\r\nf IDLE\r\nDONE\r\ng EXPUNGE\r\n",
            b"h LOGOUT\r\n",
        ],
        responder: || {
            let mut store = imap_support::Store::new();
            Box::new(move |e| store.answer(e))
        },
        wrong: |e| match e {
            ImapEvent::Authenticate { .. } => vec![
                ImapCommand::Changes {
                    records: vec![],
                    recent: vec![],
                },
                ImapCommand::Message(None),
                ImapCommand::Wake,
            ],
            ImapEvent::Idle | ImapEvent::Deselect => vec![ImapCommand::Message(None)],
            _ => vec![
                ImapCommand::AuthResult(AuthOutcome::Invalid),
                ImapCommand::Done(Err(MailboxError::Failed)),
                ImapCommand::Wake,
            ],
        },
        strays: || {
            vec![
                ImapCommand::AuthResult(AuthOutcome::Ok("alice".into())),
                ImapCommand::Changes {
                    records: vec![],
                    recent: vec![],
                },
                ImapCommand::Message(Some(b"x".to_vec())),
                ImapCommand::Expunged(Ok(vec![])),
                ImapCommand::Wake,
            ]
        },
    });
}

#[test]
fn http_server() {
    use mailroom_core::http::{HttpCommand, HttpEvent, HttpLimits, HttpServer, Response};
    check(Case::<HttpServer> {
        name: "http server",
        start: |now| HttpServer::new(now, HttpLimits::default()),
        script: vec![
            b"GET /login HTTP/1.1\r\nHost: h\r\n\r\n",
            b"POST /login HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nuser=",
            b"abcdGET /admin/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ],
        responder: || {
            Box::new(|e| {
                let HttpEvent::Request(r) = e;
                Some(HttpCommand::Respond(
                    Response::new(200).body("text/plain", r.target.clone().into_bytes()),
                ))
            })
        },
        // One kind of command: none is of the wrong kind.
        wrong: |_| Vec::new(),
        strays: || vec![HttpCommand::Respond(Response::new(500))],
    });
}

#[test]
fn finger_server() {
    check(Case::<FingerServer> {
        name: "finger server",
        start: FingerServer::new,
        script: vec![b"/W al", b"ice\r\n"],
        responder: || Box::new(|_| Some(FingerCommand::Answer("UserId: alice".into()))),
        wrong: |_| vec![],
        strays: || vec![FingerCommand::Answer("stray".into())],
    });
}

#[test]
fn ldap_server() {
    check(Case::<LdapServer> {
        name: "ldap server",
        start: LdapServer::new,
        script: vec![
            // Anonymous bind, a search for (objectClass=*), unbind (BER).
            b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00",
            b"\x30\x25\x02\x01\x02\x63\x20\x04\x00\x0a\x01\x02\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00\x87\x0bobjectClass\x30\x00",
            b"\x30\x05\x02\x01\x03\x42\x00",
        ],
        responder: || {
            Box::new(|_| {
                Some(LdapCommand::Directory(vec![Entry {
                    dn: "uid=alice,dc=example,dc=com".into(),
                    attributes: vec![("objectclass".into(), "person".into())],
                }]))
            })
        },
        wrong: |_| vec![],
        strays: || vec![LdapCommand::Directory(vec![])],
    });
}

#[test]
fn password_service() {
    check(Case::<PassServer> {
        name: "password service",
        start: |now| PassServer::new(now, snapshot(""), "127.0.0.1".parse().unwrap()),
        script: vec![
            b"USER alice\r\n",
            b"PASS old-secret\r\n",
            b"NEWPASS new-secret\r\nQUIT\r\n",
        ],
        responder: || {
            Box::new(|e| {
                Some(match e {
                    PassEvent::Authenticate { .. } => {
                        PassCommand::AuthResult(AuthOutcome::Ok("alice".into()))
                    }
                    PassEvent::ChangePassword { .. } => PassCommand::Changed(Ok(())),
                })
            })
        },
        wrong: |e| match e {
            PassEvent::Authenticate { .. } => vec![PassCommand::Changed(Ok(()))],
            PassEvent::ChangePassword { .. } => {
                vec![PassCommand::AuthResult(AuthOutcome::Invalid)]
            }
        },
        strays: || {
            vec![
                PassCommand::AuthResult(AuthOutcome::Ok("alice".into())),
                PassCommand::Changed(Err("no".into())),
            ]
        },
    });
}

#[test]
fn smtp_client() {
    check(Case::<SmtpClient> {
        name: "SMTP client",
        start: |now| {
            let settings = smtpc::ClientSettings {
                helo_name: "mail.example.com".into(),
                tls: OutTls::Off,
                tls_available: false,
                tls_active: false,
                auth: None,
                timeout: Duration::from_secs(300),
                data_timeout: Duration::from_secs(600),
            };
            SmtpClient::new(now, settings)
        },
        script: vec![
            b"220 mx.example ESMTP\r\n",
            b"250-mx.example\r\n250 PIPELINING\r\n",
            b"250 ok\r\n250 ok\r\n354 go ahead\r\n",
            b"250 queued\r\n",
            b"221 bye\r\n",
        ],
        responder: || {
            let mut jobs = vec![job()];
            Box::new(move |e| match e {
                smtpc::ClientEvent::Ready => Some(match jobs.pop() {
                    Some(j) => ClientCommand::Send(Box::new(j)),
                    None => ClientCommand::Quit,
                }),
                smtpc::ClientEvent::NextChunk => Some(ClientCommand::Chunk {
                    data: b"Subject: hi\r\n\r\n.hello\r\n".to_vec(),
                    last: true,
                }),
                smtpc::ClientEvent::Finished(_) | smtpc::ClientEvent::Ended(_) => None,
            })
        },
        wrong: |e| match e {
            smtpc::ClientEvent::Ready => vec![ClientCommand::Missing],
            smtpc::ClientEvent::NextChunk => {
                vec![ClientCommand::Quit, ClientCommand::Send(Box::new(job()))]
            }
            _ => vec![],
        },
        strays: || {
            vec![
                ClientCommand::Send(Box::new(job())),
                ClientCommand::Quit,
                ClientCommand::Missing,
                ClientCommand::Chunk {
                    data: b"x\r\n".to_vec(),
                    last: true,
                },
            ]
        },
    });
}

fn job() -> Job {
    Job {
        id: "j1".into(),
        mail_from: Some("alice@example.com".into()),
        recipients: vec![JobRecipient {
            address: "bob@example.net".into(),
            notify: None,
            orcpt: None,
        }],
        size: 24,
        eight_bit: false,
        dsn_ret: None,
        dsn_envid: None,
    }
}

#[test]
fn pop3_client() {
    check(Case::<Pop3Client> {
        name: "POP3 client",
        start: |now| {
            let settings = pop3c::ClientSettings {
                tls: InMailTls::Opportunistic,
                tls_available: false,
                user: "office".into(),
                password: "secret".into(),
                max_message: 1 << 20,
                auth: Pop3Auth::Plain,
                timeout: Duration::from_secs(60),
            };
            Pop3Client::new(now, settings)
        },
        script: vec![
            b"+OK ready\r\n",
            b"-ERR no CAPA here\r\n",
            b"+OK send PASS\r\n",
            b"+OK logged in\r\n",
            b"+OK 20 octets\r\nSubject: hi\r\n\r\n..x\r\n.\r\n",
            b"+OK bye\r\n",
        ],
        responder: || {
            Box::new(|e| match e {
                pop3c::ClientEvent::Ready(_) => Some(Request::Retr(1)),
                pop3c::ClientEvent::Retrieved { .. } => Some(Request::Quit),
                pop3c::ClientEvent::Data(_) | pop3c::ClientEvent::Ended(_) => None,
                _ => Some(Request::Quit),
            })
        },
        // One command answers every question: there is no wrong kind.
        wrong: |_| vec![],
        strays: || vec![Request::List, Request::Dele(1), Request::Quit],
    });
}

#[test]
fn etrn_client() {
    check(Case::<EtrnClient> {
        name: "ETRN client",
        start: |now| EtrnClient::new(now, "mail.example.com", vec!["example.com".into()]),
        script: vec![
            b"220 isp ESMTP\r\n",
            b"250-isp\r\n250 ETRN\r\n",
            b"250 Queuing started\r\n",
            b"221 bye\r\n",
        ],
        responder: || Box::new(|_: &EtrnEvent| None),
        wrong: |_| vec![],
        strays: || vec![()],
    });
}

#[test]
fn collection_run() {
    use mailroom_core::collect::run::{
        Collector, Decision, RunCommand, RunEvent, RunSettings, Stored,
    };
    use mailroom_core::collect::seen::SeenBook;
    check(Case::<Collector> {
        name: "collection run",
        start: |now| {
            let client = pop3c::ClientSettings {
                tls: InMailTls::None,
                tls_available: false,
                user: "office".into(),
                password: "secret".into(),
                max_message: 1 << 20,
                auth: Pop3Auth::Plain,
                timeout: Duration::from_secs(60),
            };
            let run = RunSettings {
                inmail: "isp".into(),
                leave_on_server_days: 0,
                size_limit: None,
                download_rules: true,
            };
            Collector::new(now, client, run, SeenBook::new())
        },
        script: vec![
            b"+OK ready\r\n",
            b"-ERR no CAPA here\r\n",
            b"+OK send PASS\r\n",
            b"+OK logged in\r\n",
            b"+OK 1 messages\r\n1 20\r\n.\r\n",
            b"+OK\r\n1 u1\r\n.\r\n",
            b"+OK header\r\nSubject: hi\r\n\r\n.\r\n",
            b"+OK 20 octets\r\nSubject: hi\r\n\r\n..x\r\n.\r\n",
            b"+OK deleted\r\n",
            b"+OK bye\r\n",
        ],
        responder: || {
            Box::new(|e| match e {
                RunEvent::Decide { .. } => Some(RunCommand::Decision(Decision::Download)),
                RunEvent::Store { .. } => Some(RunCommand::Stored(Stored::Stored)),
                _ => None,
            })
        },
        wrong: |e| match e {
            RunEvent::Decide { .. } => vec![RunCommand::Stored(Stored::Stored)],
            RunEvent::Store { .. } => vec![RunCommand::Decision(Decision::Delete)],
            _ => vec![],
        },
        strays: || {
            vec![
                RunCommand::Decision(Decision::Delete),
                RunCommand::Stored(Stored::Stored),
            ]
        },
    });
}
