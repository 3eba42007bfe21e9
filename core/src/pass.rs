//! The password server (§11.7): the poppassd dialogue Eudora and telnet users speak
//! on port 106, with the manual's replies verbatim and `500` for every error.
//!
//! ```text
//! S: 200 Mailroom - Hello who are you (type USER <userid>)
//! C: USER alice
//! S: 200 Now enter your password (type PASS <password>)
//! C: PASS old-secret
//! S: 200 Now type NEWPASS <new password>
//! C: NEWPASS new-secret
//! S: 200 New password accepted - Thanks
//! C: QUIT
//! S: 200 Bye
//! ```
//!
//! The new password is checked against the policy here; the driver writes it with
//! the same code as `mailroom user passwd`.

use crate::accounts::check_password;
use crate::config::Snapshot;
use crate::pop3::AuthOutcome;
use crate::smtp::codec::{LineReader, LineStep};
use crate::{Input, Instant, Machine, Output};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Longest line accepted, CRLF included.
pub const MAX_LINE: usize = 512;
/// Bad commands tolerated before the connection is closed.
pub const MAX_ERRORS: u32 = 10;
/// Seconds without input before the connection is closed (DECISIONS.md: 300 s).
pub const IDLE_TIMEOUT_SECS: u64 = 300;
/// Input kept while an event is outstanding.
pub const MAX_PENDING_INPUT: usize = 4096;

/// An event for the driver. `Debug` leaves passwords out.
#[derive(PartialEq, Eq)]
pub enum PassEvent {
    /// Check the current password (and the lockout). Answer with
    /// [`PassCommand::AuthResult`].
    Authenticate { user: String, password: String },
    /// Store `password` (already checked against the policy) for `user`. Answer with
    /// [`PassCommand::Changed`].
    ChangePassword { user: String, password: String },
}

impl std::fmt::Debug for PassEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, user) = match self {
            PassEvent::Authenticate { user, .. } => ("Authenticate", user),
            PassEvent::ChangePassword { user, .. } => ("ChangePassword", user),
        };
        f.debug_struct(name)
            .field("user", user)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassCommand {
    AuthResult(AuthOutcome),
    /// `Err` carries a reason fit for the user.
    Changed(Result<(), String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    User,
    Pass { user: String },
    NewPass { user: String, old: String },
}

pub struct PassServer {
    snapshot: Arc<Snapshot>,
    peer: IpAddr,
    out: Vec<u8>,
    inbuf: Vec<u8>,
    lines: LineReader,
    state: State,
    event: Option<PassEvent>,
    awaiting: bool,
    errors: u32,
    closing: bool,
    eof: bool,
    last_activity: Instant,
}

impl PassServer {
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, peer: IpAddr) -> Self {
        let peer = peer.to_canonical();
        let mut s = PassServer {
            snapshot,
            peer,
            out: Vec::with_capacity(128),
            inbuf: Vec::new(),
            lines: LineReader::default(),
            state: State::User,
            event: None,
            awaiting: false,
            errors: 0,
            closing: false,
            eof: false,
            last_activity: now,
        };
        if s.snapshot.access.pass.may_connect(peer) {
            s.reply(200, "Mailroom - Hello who are you (type USER <userid>)");
        } else {
            s.reply(500, "Access denied");
            s.closing = true;
        }
        s
    }

    fn reply(&mut self, code: u16, text: &str) {
        self.out.extend_from_slice(code.to_string().as_bytes());
        self.out.push(b' ');
        self.out.extend(
            text.bytes()
                .take(400)
                .map(|b| if b.is_ascii_control() { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    fn error(&mut self, text: &str) {
        self.reply(500, text);
        self.errors += 1;
        if self.errors >= MAX_ERRORS && !self.closing {
            self.reply(500, "Too many errors, closing connection");
            self.closing = true;
        }
    }

    fn paused(&self) -> bool {
        self.closing || self.event.is_some() || self.awaiting
    }

    fn process(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while pos < input.len() && !self.paused() {
            let (n, step) = self.lines.feed(&input[pos..], MAX_LINE);
            pos += n;
            match step {
                LineStep::Partial => {}
                LineStep::TooLong => self.error("Line too long"),
                LineStep::Line => {
                    let line = self.lines.take_line();
                    self.on_line(&line);
                    self.lines.restore(line);
                }
            }
        }
        pos
    }

    fn on_line(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error("Unknown command");
        };
        let (keyword, arg) = match text.find(' ') {
            Some(i) => (&text[..i], text[i + 1..].trim_matches(' ')),
            None => (text, ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        match (
            keyword.as_str(),
            std::mem::replace(&mut self.state, State::User),
        ) {
            ("QUIT", _) => {
                self.reply(200, "Bye");
                self.closing = true;
            }
            ("USER", _) if !arg.is_empty() && !arg.contains(' ') => {
                self.state = State::Pass {
                    user: arg.to_string(),
                };
                self.reply(200, "Now enter your password (type PASS <password>)");
            }
            ("USER", _) => self.error("Usage: USER <userid>"),
            ("PASS", State::Pass { user }) if !arg.is_empty() => {
                self.event = Some(PassEvent::Authenticate {
                    user: user.clone(),
                    password: arg.to_string(),
                });
                self.awaiting = true;
                self.state = State::NewPass {
                    user,
                    old: arg.to_string(),
                };
            }
            ("PASS", state @ State::Pass { .. }) => {
                self.state = state;
                self.error("Usage: PASS <password>");
            }
            ("PASS", _) => self.error("Send USER first"),
            ("NEWPASS", State::NewPass { user, old }) => {
                if arg == old {
                    self.state = State::NewPass { user, old };
                    return self.error("New password must differ from the old one");
                }
                if let Err(why) = check_password(arg, &self.snapshot.config.accounts) {
                    self.state = State::NewPass { user, old };
                    return self.error(&format!("New password refused: {why}"));
                }
                self.event = Some(PassEvent::ChangePassword {
                    user: user.clone(),
                    password: arg.to_string(),
                });
                self.awaiting = true;
                self.state = State::NewPass {
                    user,
                    old: arg.to_string(),
                };
            }
            ("NEWPASS", _) => self.error("Send USER and PASS first"),
            (_, state) => {
                self.state = state;
                self.error("Unknown command");
            }
        }
    }

    fn resume(&mut self) {
        if !self.inbuf.is_empty() && !self.paused() {
            let mut buf = std::mem::take(&mut self.inbuf);
            let used = self.process(&buf);
            buf.drain(..used);
            self.inbuf = buf;
        }
        if self.eof && self.inbuf.is_empty() && !self.paused() {
            self.closing = true;
        }
    }
}

impl Machine for PassServer {
    type Command = PassCommand;
    type Event = PassEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.closing {
            return;
        }
        match input {
            Input::Bytes(bytes) => {
                if self.eof || bytes.is_empty() {
                    return;
                }
                self.last_activity = now;
                if self.paused() {
                    if self.inbuf.len() + bytes.len() > MAX_PENDING_INPUT {
                        self.reply(500, "Too much input, closing connection");
                        self.closing = true;
                    } else {
                        self.inbuf.extend_from_slice(bytes);
                    }
                    return;
                }
                let used = self.process(bytes);
                if used < bytes.len() {
                    self.inbuf.extend_from_slice(&bytes[used..]);
                }
            }
            Input::Eof => {
                if self.paused() {
                    self.eof = true;
                } else {
                    self.closing = true;
                }
            }
            Input::Tick => {
                if !self.awaiting
                    && now >= self.last_activity + Duration::from_secs(IDLE_TIMEOUT_SECS)
                {
                    self.reply(500, "Idle for too long, closing connection");
                    self.closing = true;
                }
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: PassCommand) {
        if self.closing || !self.awaiting {
            return;
        }
        self.awaiting = false;
        self.last_activity = now;
        match cmd {
            PassCommand::AuthResult(AuthOutcome::Ok(name)) => {
                if !self
                    .snapshot
                    .access
                    .pass
                    .check(self.peer, Some(&name))
                    .allowed
                {
                    self.reply(500, "Access denied for this user from this address");
                    self.closing = true;
                    return;
                }
                if let State::NewPass { old, .. } = std::mem::replace(&mut self.state, State::User)
                {
                    self.state = State::NewPass { user: name, old };
                }
                self.reply(200, "Now type NEWPASS <new password>");
            }
            PassCommand::AuthResult(outcome) => {
                self.state = State::User;
                self.error(match outcome {
                    AuthOutcome::Locked => {
                        "Account locked after too many failed logins; try again later"
                    }
                    _ => "Old password is incorrect",
                });
            }
            PassCommand::Changed(Ok(())) => {
                self.reply(200, "New password accepted - Thanks");
            }
            PassCommand::Changed(Err(why)) => {
                // The old password is still the one in force; start again.
                self.state = State::User;
                self.error(&format!("Password not changed: {why}"));
            }
        }
        self.resume();
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<PassEvent> {
        out.append(&mut self.out);
        if let Some(e) = self.event.take() {
            return Output::Event(e);
        }
        if self.closing {
            return Output::Close;
        }
        let deadline =
            (!self.awaiting).then(|| self.last_activity + Duration::from_secs(IDLE_TIMEOUT_SECS));
        Output::Wait(deadline)
    }
}
