//! A scripted remote SMTP server (a relay or an MX host) for the outbound simulation:
//! greylisting, 4xx for a while, 5xx for good, connections refused, and connections
//! dropped during the data, after storing it but before the reply, or after the reply.
//!
//! A host ([`Host`]) outlives its sessions: it remembers greylisted triplets and every
//! message it stored; each connection is one [`SmtpPeer`] machine sharing it.

use crate::rng::Rng;
use mailroom_core::{Input, Instant, Machine, Output};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

/// The server closes a connection idle this long (RFC 5321 §4.5.3.2.7: 5 minutes).
const IDLE: Duration = Duration::from_secs(300);

/// How a host behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    pub name: String,
    /// Connections are refused during these spans (the host is down).
    pub down: Vec<(Instant, Instant)>,
    /// Every RCPT gets 451 until then ("4xx for hours").
    pub temp_until: Option<Instant>,
    /// Greylisting: a (sender, recipient) pair is refused with 450 until this long
    /// after it was first seen.
    pub greylist: Option<Duration>,
    /// Every RCPT gets 550 (a permanent refusal).
    pub reject: bool,
    /// Chances, per message, of dropping the connection during the data (nothing
    /// stored), after storing it but before the reply, and after the reply.
    pub drop_in_data: f64,
    pub drop_before_reply: f64,
    pub drop_after_reply: f64,
    /// Offer PIPELINING (the client sends RCPTs and DATA without waiting).
    pub pipelining: bool,
}

impl HostSpec {
    /// A host that takes everything.
    pub fn accepting(name: &str) -> HostSpec {
        HostSpec {
            name: name.to_string(),
            down: Vec::new(),
            temp_until: None,
            greylist: None,
            reject: false,
            drop_in_data: 0.0,
            drop_before_reply: 0.0,
            drop_after_reply: 0.0,
            pipelining: true,
        }
    }

    pub fn is_down(&self, now: Instant) -> bool {
        self.down.iter().any(|&(a, b)| a <= now && now < b)
    }
}

/// One message a host stored, for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub at: Instant,
    pub host: String,
    /// The queue's message id (from the `X-Sim-Msg` header field).
    pub message: String,
    pub rcpt: String,
    /// The connection it came over (the world's session id).
    pub session: u64,
}

/// A host's state across connections.
#[derive(Debug)]
pub struct Host {
    pub spec: HostSpec,
    greylist_seen: BTreeMap<(String, String), Instant>,
    /// Stored since the world last took them.
    pub stored: Vec<Stored>,
    rng: Rng,
}

pub type SharedHost = Rc<RefCell<Host>>;

impl Host {
    pub fn new(spec: HostSpec, rng: Rng) -> SharedHost {
        Rc::new(RefCell::new(Host {
            spec,
            greylist_seen: BTreeMap::new(),
            stored: Vec::new(),
            rng,
        }))
    }

    fn rcpt_reply(&mut self, now: Instant, from: &str, to: &str) -> &'static str {
        if self.spec.reject {
            return "550 5.1.1 no such user here";
        }
        if self.spec.temp_until.is_some_and(|t| now < t) {
            return "451 4.3.0 temporarily unable to take mail";
        }
        if let Some(wait) = self.spec.greylist {
            let key = (from.to_ascii_lowercase(), to.to_ascii_lowercase());
            let first = *self.greylist_seen.entry(key).or_insert(now);
            if now < first + wait {
                return "450 4.7.1 greylisted, try again later";
            }
        }
        "250 2.1.5 ok"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Command,
    Data,
}

/// One connection to a host: a line-at-a-time SMTP server.
pub struct SmtpPeer {
    host: SharedHost,
    session: u64,
    now: Instant,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    mode: Mode,
    from: Option<String>,
    rcpts: Vec<String>,
    data: Vec<u8>,
    idle_deadline: Instant,
    /// Close once `out` is written.
    closing: bool,
    closed: bool,
}

impl SmtpPeer {
    /// A connection accepted at `now`: the greeting is sent at once.
    pub fn new(now: Instant, host: SharedHost, session: u64) -> SmtpPeer {
        let name = host.borrow().spec.name.clone();
        let mut p = SmtpPeer {
            host,
            session,
            now,
            inbuf: Vec::new(),
            out: Vec::new(),
            mode: Mode::Command,
            from: None,
            rcpts: Vec::new(),
            data: Vec::new(),
            idle_deadline: now + IDLE,
            closing: false,
            closed: false,
        };
        p.reply(&format!("220 {name} ESMTP"));
        p
    }

    /// The host this connection is to.
    pub fn host(&self) -> &SharedHost {
        &self.host
    }

    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn reset_tx(&mut self) {
        self.from = None;
        self.rcpts.clear();
        self.data.clear();
        self.mode = Mode::Command;
    }

    fn receive(&mut self, bytes: &[u8]) {
        self.idle_deadline = self.now + IDLE;
        self.inbuf.extend_from_slice(bytes);
        self.take_lines();
    }

    fn take_lines(&mut self) {
        while !self.closing {
            let Some(end) = self.inbuf.iter().position(|&c| c == b'\n') else {
                return;
            };
            let raw: Vec<u8> = self.inbuf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            match self.mode {
                Mode::Data => self.data_line(&line),
                Mode::Command => self.command(&line),
            }
        }
    }

    fn data_line(&mut self, line: &str) {
        if line != "." {
            self.data.extend_from_slice(line.as_bytes());
            self.data.extend_from_slice(b"\r\n");
            return;
        }
        let (in_data, before, after) = {
            let h = self.host.borrow();
            (
                h.spec.drop_in_data,
                h.spec.drop_before_reply,
                h.spec.drop_after_reply,
            )
        };
        let mut h = self.host.borrow_mut();
        if h.rng.chance(in_data) {
            drop(h);
            self.closing = true;
            self.out.clear();
            return;
        }
        let message = String::from_utf8_lossy(&self.data)
            .lines()
            .find_map(|l| l.strip_prefix("X-Sim-Msg: ").map(str::to_string))
            .unwrap_or_default();
        let host = h.spec.name.clone();
        for rcpt in &self.rcpts {
            h.stored.push(Stored {
                at: self.now,
                host: host.clone(),
                message: message.clone(),
                rcpt: rcpt.clone(),
                session: self.session,
            });
        }
        let drop_before = h.rng.chance(before);
        let drop_after = !drop_before && h.rng.chance(after);
        drop(h);
        self.reset_tx();
        if drop_before {
            self.closing = true;
            return;
        }
        self.reply("250 2.0.0 stored");
        if drop_after {
            self.closing = true;
        }
    }

    fn command(&mut self, line: &str) {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => {
                let (name, pipelining) = {
                    let h = self.host.borrow();
                    (h.spec.name.clone(), h.spec.pipelining)
                };
                self.reset_tx();
                self.reply(&format!("250-{name}"));
                if pipelining {
                    self.reply("250-PIPELINING");
                }
                self.reply("250 8BITMIME");
            }
            "HELO" => {
                self.reset_tx();
                self.reply("250 hello");
            }
            "MAIL" => {
                let from = angle(line).unwrap_or_default();
                self.reset_tx();
                self.from = Some(from);
                self.reply("250 2.1.0 ok");
            }
            "RCPT" => {
                let Some(from) = self.from.clone() else {
                    return self.reply("503 5.5.1 MAIL first");
                };
                let to = angle(line).unwrap_or_default();
                let r = self.host.borrow_mut().rcpt_reply(self.now, &from, &to);
                if r.starts_with('2') {
                    self.rcpts.push(to);
                }
                self.reply(r);
            }
            "DATA" => {
                if self.rcpts.is_empty() {
                    self.reply("554 5.5.1 no valid recipients");
                } else {
                    self.mode = Mode::Data;
                    self.reply("354 go ahead");
                }
            }
            "RSET" => {
                self.reset_tx();
                self.reply("250 2.0.0 reset");
            }
            "NOOP" => self.reply("250 2.0.0 ok"),
            "QUIT" => {
                self.reply("221 2.0.0 bye");
                self.closing = true;
            }
            _ => self.reply("500 5.5.2 unknown command"),
        }
    }
}

/// The address between `<` and `>`.
fn angle(line: &str) -> Option<String> {
    let a = line.find('<')?;
    let b = line[a..].find('>')? + a;
    Some(line[a + 1..b].to_string())
}

impl Machine for SmtpPeer {
    type Command = ();
    type Event = Infallible;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = now;
        match input {
            _ if self.closed => {}
            Input::Bytes(b) => self.receive(b),
            // The client went away: a transaction in progress is dropped unstored.
            Input::Eof => self.closing = true,
            Input::Tick if now >= self.idle_deadline => {
                self.reply("421 4.4.2 idle too long");
                self.closing = true;
            }
            Input::Tick => {}
        }
    }

    fn handle_command(&mut self, _now: Instant, _cmd: ()) {}

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<Infallible> {
        if self.closed {
            return Output::Close;
        }
        out.append(&mut self.out);
        if self.closing {
            self.closed = true;
            return Output::Close;
        }
        Output::Wait(Some(self.idle_deadline))
    }
}
