//! A fake POP3 driver for session tests: an in-memory maildrop with a lock, chunked
//! retrieval, and commits that really remove messages, on a virtual clock.
#![allow(dead_code)]

use mailroom_core::access::{AccessFiles, AccessList};
use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::auth::AuthOutcome;
use mailroom_core::challenge::{apop_digest, digests_match};
use mailroom_core::config::{parse_config, Config, Snapshot};
use mailroom_core::pop3::{MessageEntry, OpenError, Pop3Command, Pop3Event, Pop3Info, Pop3Server};
use mailroom_core::wire::SizeCounter;
use mailroom_core::{Input, Instant, Machine, Output};
use std::net::IpAddr;
use std::sync::Arc;

pub const T0: u64 = 1_767_225_600;

pub fn config() -> Config {
    parse_config(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
    )
    .unwrap()
}

pub fn snapshot(config: Config, pop3_access: &str) -> Arc<Snapshot> {
    // Built from the file format, so this keeps compiling as accounts gain fields.
    let account = |n: &str| -> Account {
        toml::from_str(&format!("name = \"{n}\"\npassword_hash = \"\"\n")).unwrap()
    };
    Arc::new(Snapshot {
        config,
        accounts: Accounts::new([account("alice"), account("bob")]),
        access: AccessFiles {
            pop3: AccessList::parse(pop3_access).unwrap().0,
            ..AccessFiles::default()
        },
    })
}

pub fn info(ip: &str) -> Pop3Info {
    Pop3Info {
        peer_ip: ip.parse::<IpAddr>().unwrap(),
        session_id: "S1".into(),
        tls_active: false,
        tls_available: true,
    }
}

/// A maildrop shared by the sessions of a test.
#[derive(Debug, Clone, Default)]
pub struct Maildrop {
    /// (uid, contents), in listing order.
    pub messages: Vec<(String, Vec<u8>)>,
    pub locked: bool,
    pub seen: Vec<String>,
}

impl Maildrop {
    pub fn with(messages: &[&[u8]]) -> Self {
        Maildrop {
            messages: messages
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("uid{}", i + 1), m.to_vec()))
                .collect(),
            ..Default::default()
        }
    }
}

/// One session under test, with its driver state.
pub struct Client {
    pub server: Pop3Server,
    pub now: Instant,
    pub transcript: Vec<u8>,
    pub events: Vec<Pop3Event>,
    pub closed: bool,
    pub start_tls: bool,
    /// (user, password) pairs that log in; APOP uses the same passwords as secrets.
    pub users: Vec<(&'static str, &'static str)>,
    /// Answer Authenticate with Locked.
    pub locked_out: bool,
    /// The listing the session got, frozen at open (as the real store does).
    listing: Vec<(String, Vec<u8>)>,
    /// Chunk size for retrieval.
    pub chunk: usize,
    /// Every message file has vanished since the listing.
    pub vanished: bool,
    reading: Option<(usize, usize)>,
    holds_lock: bool,
}

impl Client {
    pub fn new(snapshot: Arc<Snapshot>, info: Pop3Info) -> Self {
        let now = Instant::from_secs(T0);
        let server = Pop3Server::new(now, snapshot, info);
        let mut c = Client {
            server,
            now,
            transcript: Vec::new(),
            events: Vec::new(),
            closed: false,
            start_tls: false,
            users: vec![("alice", "secret")],
            locked_out: false,
            listing: Vec::new(),
            chunk: 7,
            vanished: false,
            reading: None,
            holds_lock: false,
        };
        c.drain(&mut Maildrop::default());
        c
    }

    pub fn feed(&mut self, drop: &mut Maildrop, input: Input<'_>) {
        self.server.handle_input(self.now, input);
        self.drain(drop);
    }

    /// Send one command line and return what the server wrote in answer.
    pub fn cmd(&mut self, drop: &mut Maildrop, line: &str) -> String {
        let start = self.transcript.len();
        let bytes = format!("{line}\r\n");
        self.feed(drop, Input::Bytes(bytes.as_bytes()));
        String::from_utf8_lossy(&self.transcript[start..]).into_owned()
    }

    pub fn greeting(&self) -> String {
        let t = String::from_utf8_lossy(&self.transcript);
        t.lines().next().unwrap_or("").to_string()
    }

    pub fn disconnect(&mut self, drop: &mut Maildrop) {
        self.feed(drop, Input::Eof);
        self.release(drop);
    }

    /// What the driver does when the connection ends: the lock goes.
    pub fn release(&mut self, drop: &mut Maildrop) {
        if self.holds_lock {
            drop.locked = false;
            self.holds_lock = false;
        }
    }

    pub fn drain(&mut self, drop: &mut Maildrop) {
        loop {
            match self.server.poll_output(&mut self.transcript) {
                Output::Event(e) => {
                    let answer = self.answer(drop, &e);
                    self.events.push(e);
                    if let Some(a) = answer {
                        self.server.handle_command(self.now, a);
                    }
                }
                Output::StartTls => self.start_tls = true,
                Output::Close => {
                    self.closed = true;
                    self.release(drop);
                    return;
                }
                Output::Wait(_) => return,
            }
        }
    }

    fn next_chunk(&mut self) -> Pop3Command {
        let Some((i, pos)) = self.reading else {
            return Pop3Command::Missing;
        };
        let data = &self.listing[i].1;
        let end = (pos + self.chunk).min(data.len());
        self.reading = Some((i, end));
        Pop3Command::Chunk {
            data: data[pos..end].to_vec(),
            last: end == data.len(),
        }
    }

    fn answer(&mut self, drop: &mut Maildrop, e: &Pop3Event) -> Option<Pop3Command> {
        Some(match e {
            Pop3Event::Authenticate { user, password } => {
                if self.locked_out {
                    Pop3Command::AuthResult(AuthOutcome::Locked)
                } else if let Some((u, _)) = self
                    .users
                    .iter()
                    .find(|(u, p)| u.eq_ignore_ascii_case(user) && p == password)
                {
                    Pop3Command::AuthResult(AuthOutcome::Ok((*u).to_string()))
                } else {
                    Pop3Command::AuthResult(AuthOutcome::Invalid)
                }
            }
            Pop3Event::Apop {
                user,
                timestamp,
                digest,
            } => {
                let hit = self.users.iter().find(|(u, p)| {
                    u.eq_ignore_ascii_case(user)
                        && digests_match(&apop_digest(timestamp, p), digest)
                });
                Pop3Command::AuthResult(match hit {
                    Some((u, _)) => AuthOutcome::Ok((*u).to_string()),
                    None => AuthOutcome::Invalid,
                })
            }
            Pop3Event::Open { .. } => {
                if drop.locked {
                    Pop3Command::Opened(Err(OpenError::InUse))
                } else {
                    drop.locked = true;
                    self.holds_lock = true;
                    self.listing = drop.messages.clone();
                    Pop3Command::Opened(Ok(self
                        .listing
                        .iter()
                        .map(|(uid, data)| {
                            let mut c = SizeCounter::new();
                            c.push(data);
                            MessageEntry {
                                uid: uid.clone(),
                                size: c.finish(),
                            }
                        })
                        .collect()))
                }
            }
            Pop3Event::Retrieve { .. } if self.vanished => Pop3Command::Missing,
            Pop3Event::Retrieve { index } => {
                self.reading = Some((*index, 0));
                self.next_chunk()
            }
            Pop3Event::NextChunk => self.next_chunk(),
            Pop3Event::Commit { delete, seen } => {
                let gone: Vec<String> = delete.iter().map(|&i| self.listing[i].0.clone()).collect();
                drop.seen
                    .extend(seen.iter().map(|&i| self.listing[i].0.clone()));
                drop.messages.retain(|(uid, _)| !gone.contains(uid));
                Pop3Command::Committed(true)
            }
        })
    }
}

/// Log in as alice with USER/PASS and return the reply to PASS.
pub fn login(c: &mut Client, drop: &mut Maildrop) -> String {
    c.cmd(drop, "USER alice");
    c.cmd(drop, "PASS secret")
}
