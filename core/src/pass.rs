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
use crate::auth::AuthOutcome;
use crate::config::Snapshot;
use crate::wire::session::{self, Farewell, Limits, LineProtocol, LineSession};
use crate::wire::write;
use crate::Instant;
use std::net::IpAddr;
use std::sync::Arc;

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
        crate::auth::debug_login(f, name, user)
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

/// Which answer the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    Auth,
    Change,
}

pub struct PassServer {
    snapshot: Arc<Snapshot>,
    peer: IpAddr,
    wire: LineSession<PassEvent, Awaiting>,
    state: State,
}

impl PassServer {
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, peer: IpAddr) -> Self {
        let peer = peer.to_canonical();
        let p = &snapshot.config.pass;
        let (line, errors, idle) = (p.max_command_line, p.max_errors, p.idle_timeout_secs);
        let limits = Limits::new(line, 0, errors, idle, MAX_PENDING_INPUT);
        let mut s = PassServer {
            wire: LineSession::new(now, limits, false),
            snapshot,
            peer,
            state: State::User,
        };
        if s.snapshot.access.pass.may_connect(peer) {
            s.reply(200, "Mailroom - Hello who are you (type USER <userid>)");
        } else {
            s.reply(500, "Access denied");
            s.wire.close();
        }
        s
    }

    fn reply(&mut self, code: u16, text: &str) {
        write::code(&mut self.wire.out, code, text);
    }

    fn error(&mut self, text: &str) {
        self.reply(500, text);
        session::count_error(self);
    }

    fn on_command(&mut self, line: &[u8]) {
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
                self.wire.close();
            }
            ("USER", _) if !arg.is_empty() && !arg.contains(' ') => {
                self.state = State::Pass {
                    user: arg.to_string(),
                };
                self.reply(200, "Now enter your password (type PASS <password>)");
            }
            ("USER", _) => self.error("Usage: USER <userid>"),
            ("PASS", State::Pass { user }) if !arg.is_empty() => {
                self.wire.ask(
                    PassEvent::Authenticate {
                        user: user.clone(),
                        password: arg.to_string(),
                    },
                    Awaiting::Auth,
                );
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
                self.wire.ask(
                    PassEvent::ChangePassword {
                        user: user.clone(),
                        password: arg.to_string(),
                    },
                    Awaiting::Change,
                );
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

    fn on_auth_result(&mut self, outcome: AuthOutcome) {
        match outcome {
            AuthOutcome::Ok(name) => {
                if !self
                    .snapshot
                    .access
                    .pass
                    .check(self.peer, Some(&name))
                    .allowed
                {
                    self.reply(500, "Access denied for this user from this address");
                    self.wire.close();
                    return;
                }
                if let State::NewPass { old, .. } = std::mem::replace(&mut self.state, State::User)
                {
                    self.state = State::NewPass { user: name, old };
                }
                self.reply(200, "Now type NEWPASS <new password>");
            }
            outcome => {
                self.state = State::User;
                self.error(match outcome {
                    AuthOutcome::Locked => {
                        "Account locked after too many failed logins; try again later"
                    }
                    _ => "Old password is incorrect",
                });
            }
        }
    }

    fn on_changed(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.reply(200, "New password accepted - Thanks"),
            Err(why) => {
                // The old password is still the one in force; start again.
                self.state = State::User;
                self.error(&format!("Password not changed: {why}"));
            }
        }
    }
}

impl LineProtocol for PassServer {
    fn on_line(&mut self, _now: Instant, line: &[u8]) {
        self.on_command(line);
    }

    fn on_line_too_long(&mut self) {
        self.error("Line too long");
    }

    fn farewell(&mut self, why: Farewell) {
        let text = match why {
            Farewell::TooMuchInput => "Too much input, closing connection",
            other => other.text(),
        };
        self.reply(500, text);
    }

    fn answer(&mut self, cmd: PassCommand) -> bool {
        match (cmd, self.wire.awaiting()) {
            (PassCommand::AuthResult(outcome), Some(Awaiting::Auth)) => {
                self.on_auth_result(outcome)
            }
            (PassCommand::Changed(result), Some(Awaiting::Change)) => self.on_changed(result),
            _ => return false,
        }
        true
    }
}

session::line_machine!(
    PassServer,
    PassCommand,
    PassEvent,
    Awaiting,
    "password service"
);
