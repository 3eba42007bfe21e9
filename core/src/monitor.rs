//! The status monitor service (SVC-5, manual §3.1 and §22, VPOP3's "Status Monitor
//! (port 5109) protocol"): a client logs in and is then sent a status line whenever
//! something it may see changes.
//!
//! ```text
//! S: +OK Mailroom Status Server Ready <2K9F0001.1733700000000000@mail.example>
//! C: LOGIN postmaster secret            (or: ALOGIN postmaster <md5 hex>)
//! S: +OK Logged in OK (Build 1)
//! S: 1 Online: dialup
//! S: 4 Queue: 2 messages waiting to be sent
//! C: QUIT
//! S: +OK Bye
//! ```
//!
//! `ALOGIN`'s response is the hex MD5 of the greeting's challenge (with its `<` and
//! `>`) followed by the password, as APOP's. `APILOGIN` (a web API key) is answered
//! `-ERR`: Mailroom has no such key. A status line is `<type> <text>`; the types are
//! [`Status::kind`]'s (docs/LOGS.md lists them). The driver feeds the session
//! [`MonitorCommand::Push`] whenever the server's state changes; the session writes
//! only what the logged-in user may see (queue counts: administrators).

use crate::auth::AuthOutcome;
use crate::wire::session::{self, Farewell, Limits, LineProtocol, LineSession};
use crate::wire::write;
use crate::Instant;

/// Longest command line (a user name and an MD5 digest fit many times over).
pub const MAX_LINE: u32 = 512;
/// Refused commands before the session closes.
pub const MAX_ERRORS: u32 = 5;
/// Seconds to wait for a login; a logged-in monitor may stay silent for days.
pub const LOGIN_IDLE_SECS: u32 = 120;
/// Input kept while a password check is outstanding.
pub const MAX_PENDING_INPUT: usize = 4096;
/// Status lines waiting for a slow client before older ones are dropped.
pub const MAX_QUEUED_STATUS: usize = 256;
/// The build number in the login answer, which VPOP3 clients show.
pub const BUILD: u32 = 1;

/// One change of the server's state, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A connection (§5) came up or went down.
    Connection { name: String, online: bool },
    /// Outgoing SMTP sessions running now.
    Sending { sessions: usize },
    /// A connection's In Mail (POP3 collection) started or finished.
    Collecting { name: String, active: bool },
    /// Messages in the outbound queue.
    Queue { messages: usize },
}

impl Status {
    /// The line's type: `1` connection status (as VPOP3's), then Mailroom's `2`
    /// sending, `3` collecting, `4` outgoing queue.
    pub fn kind(&self) -> char {
        match self {
            Status::Connection { .. } => '1',
            Status::Sending { .. } => '2',
            Status::Collecting { .. } => '3',
            Status::Queue { .. } => '4',
        }
    }

    /// Whether only administrators see it ("view total queue message counts").
    pub fn admin_only(&self) -> bool {
        matches!(self, Status::Queue { .. })
    }

    /// The status line, without CRLF. Names are cleaned of control characters.
    pub fn line(&self) -> String {
        let text = match self {
            Status::Connection { name, online: true } => format!("Online: {}", clean(name)),
            Status::Connection {
                name,
                online: false,
            } => format!("Offline: {}", clean(name)),
            Status::Sending { sessions: 0 } => "Sending: idle".to_string(),
            Status::Sending { sessions } => format!("Sending: {sessions} sessions"),
            Status::Collecting { name, active: true } => format!("Collecting: {}", clean(name)),
            Status::Collecting {
                name,
                active: false,
            } => format!("Collected: {}", clean(name)),
            Status::Queue { messages } => {
                format!("Queue: {messages} messages waiting to be sent")
            }
        };
        format!("{} {text}", self.kind())
    }
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// An event for the driver. `Debug` leaves passwords out.
#[derive(PartialEq, Eq)]
pub enum MonitorEvent {
    /// `LOGIN`: check the password. Answer with [`MonitorCommand::AuthResult`].
    Login { user: String, password: String },
    /// `ALOGIN`: check `digest` = MD5(challenge + password). Answer with
    /// [`MonitorCommand::AuthResult`].
    DigestLogin {
        user: String,
        challenge: String,
        digest: String,
    },
}

impl std::fmt::Debug for MonitorEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, user) = match self {
            MonitorEvent::Login { user, .. } => ("Login", user),
            MonitorEvent::DigestLogin { user, .. } => ("DigestLogin", user),
        };
        crate::auth::debug_login(f, name, user)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorCommand {
    /// The login's outcome, and whether the account is an administrator.
    AuthResult { outcome: AuthOutcome, admin: bool },
    /// State changes (or, right after login, the current state) to show. Accepted at
    /// any time; before login it is ignored.
    Push(Vec<Status>),
}

/// Which answer the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    Auth,
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Login {
    user: String,
    admin: bool,
}

pub struct MonitorServer {
    wire: LineSession<MonitorEvent, Awaiting>,
    challenge: String,
    login: Option<Login>,
}

impl MonitorServer {
    /// `challenge` is the greeting's `<...>` text; the driver makes it unique
    /// (session id, time, host name).
    pub fn new(now: Instant, challenge: String) -> Self {
        let limits = Limits::new(MAX_LINE, 0, MAX_ERRORS, LOGIN_IDLE_SECS, MAX_PENDING_INPUT);
        let mut s = MonitorServer {
            wire: LineSession::new(now, limits, false),
            challenge: clean(&challenge),
            login: None,
        };
        let greeting = format!("Mailroom Status Server Ready {}", s.challenge);
        write::ok(&mut s.wire.out, &greeting);
        s
    }

    /// The user logged in, if any.
    pub fn user(&self) -> Option<&str> {
        self.login.as_ref().map(|l| l.user.as_str())
    }

    fn err(&mut self, text: &str) {
        write::err(&mut self.wire.out, text);
        session::count_error(self);
    }

    fn on_command(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.err("Unknown command");
        };
        let mut words = text.split(' ').filter(|w| !w.is_empty());
        let keyword = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        match keyword.as_str() {
            "QUIT" => {
                write::ok(&mut self.wire.out, "Bye");
                self.wire.close();
            }
            "NOOP" => write::ok(&mut self.wire.out, "OK"),
            "LOGIN" | "ALOGIN" | "APILOGIN" if self.login.is_some() => {
                self.err("Already logged in")
            }
            "LOGIN" => match args.as_slice() {
                [user, password] => self.wire.ask(
                    MonitorEvent::Login {
                        user: user.to_string(),
                        password: password.to_string(),
                    },
                    Awaiting::Auth,
                ),
                _ => self.err("Usage: LOGIN <username> <password>"),
            },
            "ALOGIN" => match args.as_slice() {
                [user, digest] => self.wire.ask(
                    MonitorEvent::DigestLogin {
                        user: user.to_string(),
                        challenge: self.challenge.clone(),
                        digest: digest.to_string(),
                    },
                    Awaiting::Auth,
                ),
                _ => self.err("Usage: ALOGIN <username> <response>"),
            },
            "APILOGIN" => self.err("No web API key is configured"),
            _ => self.err("Unknown command"),
        }
    }

    fn on_auth(&mut self, outcome: AuthOutcome, admin: bool) {
        match outcome {
            AuthOutcome::Ok(user) => {
                self.login = Some(Login { user, admin });
                // A logged-in monitor listens for days without a word.
                self.wire.limits.idle = None;
                write::ok(&mut self.wire.out, &format!("Logged in OK (Build {BUILD})"));
            }
            AuthOutcome::Locked => {
                self.err("Account locked after too many failed logins; try again later")
            }
            _ => self.err("Login failed"),
        }
    }

    fn push(&mut self, statuses: Vec<Status>) {
        let Some(login) = &self.login else { return };
        if !self.wire.is_open() {
            return;
        }
        let admin = login.admin;
        for s in statuses.iter().filter(|s| admin || !s.admin_only()) {
            // A client that stops reading must not make us hold its lines for ever.
            if self.wire.out.len() > MAX_QUEUED_STATUS * 128 {
                break;
            }
            self.wire.out.extend_from_slice(s.line().as_bytes());
            self.wire.out.extend_from_slice(b"\r\n");
        }
    }
}

impl LineProtocol for MonitorServer {
    fn on_line(&mut self, _now: Instant, line: &[u8]) {
        self.on_command(line);
    }

    fn on_line_too_long(&mut self) {
        self.err("Line too long");
    }

    fn farewell(&mut self, why: Farewell) {
        write::err(&mut self.wire.out, why.text());
    }

    fn answer(&mut self, cmd: MonitorCommand) -> bool {
        match (cmd, self.wire.awaiting()) {
            (MonitorCommand::AuthResult { outcome, admin }, Some(Awaiting::Auth)) => {
                self.on_auth(outcome, admin)
            }
            _ => return false,
        }
        true
    }
}

impl session::LineHost for MonitorServer {
    type Event = MonitorEvent;
    type Command = MonitorCommand;
    type Awaiting = Awaiting;
    const NAME: &'static str = "status monitor";

    fn wire(&mut self) -> &mut LineSession<MonitorEvent, Awaiting> {
        &mut self.wire
    }
}

impl crate::machine::Machine for MonitorServer {
    type Command = MonitorCommand;
    type Event = MonitorEvent;

    fn handle_input(&mut self, now: Instant, input: crate::machine::Input<'_>) {
        session::handle_input(self, now, input);
    }

    fn handle_command(&mut self, now: Instant, cmd: MonitorCommand) {
        // Pushed status is news, not an answer: it never ends a wait.
        if let MonitorCommand::Push(statuses) = cmd {
            self.wire.see(now);
            return self.push(statuses);
        }
        session::handle_command(self, now, cmd);
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> crate::machine::Output<MonitorEvent> {
        session::poll_output(self, out)
    }

    fn client_errors(&self) -> u32 {
        self.wire.strikes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::apop_digest;
    use crate::machine::{Input, Machine, Output};

    fn t0() -> Instant {
        Instant::from_secs(1_700_000_000)
    }

    fn out(s: &mut MonitorServer) -> (String, Option<MonitorEvent>) {
        let mut buf = Vec::new();
        let o = s.poll_output(&mut buf);
        let text = String::from_utf8(buf).unwrap();
        match o {
            Output::Event(e) => (text, Some(e)),
            _ => (text, None),
        }
    }

    fn send(s: &mut MonitorServer, line: &str) -> (String, Option<MonitorEvent>) {
        s.handle_input(t0(), Input::Bytes(format!("{line}\r\n").as_bytes()));
        out(s)
    }

    fn logged_in(admin: bool) -> MonitorServer {
        let mut s = MonitorServer::new(t0(), "<3.d28.51abf1c9>".into());
        out(&mut s);
        let (_, e) = send(&mut s, "LOGIN postmaster admin");
        assert!(e.is_some());
        s.handle_command(
            t0(),
            MonitorCommand::AuthResult {
                outcome: AuthOutcome::Ok("postmaster".into()),
                admin,
            },
        );
        assert_eq!(out(&mut s).0, "+OK Logged in OK (Build 1)\r\n");
        s
    }

    #[test]
    fn greeting_carries_the_challenge() {
        let mut s = MonitorServer::new(t0(), "<3.d28.51abf1c9>".into());
        assert_eq!(
            out(&mut s).0,
            "+OK Mailroom Status Server Ready <3.d28.51abf1c9>\r\n"
        );
    }

    #[test]
    fn plain_login_as_the_manual_shows() {
        let mut s = MonitorServer::new(t0(), "<3.d28.51abf1c9>".into());
        out(&mut s);
        let (text, e) = send(&mut s, "LOGIN postmaster admin");
        assert_eq!(text, "");
        assert_eq!(
            e,
            Some(MonitorEvent::Login {
                user: "postmaster".into(),
                password: "admin".into()
            })
        );
        s.handle_command(
            t0(),
            MonitorCommand::AuthResult {
                outcome: AuthOutcome::Ok("postmaster".into()),
                admin: true,
            },
        );
        assert_eq!(out(&mut s).0, "+OK Logged in OK (Build 1)\r\n");
        assert_eq!(s.user(), Some("postmaster"));
    }

    #[test]
    fn challenge_login_hands_over_the_challenge() {
        let mut s = MonitorServer::new(t0(), "<3.d28.51abf1c9>".into());
        out(&mut s);
        let digest = apop_digest("<3.d28.51abf1c9>", "admin").to_ascii_uppercase();
        let (_, e) = send(&mut s, &format!("ALOGIN postmaster {digest}"));
        assert_eq!(
            e,
            Some(MonitorEvent::DigestLogin {
                user: "postmaster".into(),
                challenge: "<3.d28.51abf1c9>".into(),
                digest,
            })
        );
        s.handle_command(
            t0(),
            MonitorCommand::AuthResult {
                outcome: AuthOutcome::Invalid,
                admin: false,
            },
        );
        assert!(out(&mut s).0.starts_with("-ERR "));
        assert_eq!(s.user(), None);
    }

    #[test]
    fn status_lines_by_type() {
        let cases = [
            (
                Status::Connection {
                    name: "dialup".into(),
                    online: true,
                },
                "1 Online: dialup",
            ),
            (
                Status::Connection {
                    name: "dialup".into(),
                    online: false,
                },
                "1 Offline: dialup",
            ),
            (Status::Sending { sessions: 0 }, "2 Sending: idle"),
            (Status::Sending { sessions: 2 }, "2 Sending: 2 sessions"),
            (
                Status::Collecting {
                    name: "isp".into(),
                    active: true,
                },
                "3 Collecting: isp",
            ),
            (
                Status::Collecting {
                    name: "isp".into(),
                    active: false,
                },
                "3 Collected: isp",
            ),
            (
                Status::Queue { messages: 3 },
                "4 Queue: 3 messages waiting to be sent",
            ),
        ];
        for (status, line) in cases {
            assert_eq!(status.line(), line);
        }
        let evil = Status::Connection {
            name: "a\r\nb".into(),
            online: true,
        };
        assert_eq!(evil.line(), "1 Online: ab");
    }

    #[test]
    fn pushed_lines_only_after_login_and_queue_only_for_admins() {
        let mut s = MonitorServer::new(t0(), "<c>".into());
        out(&mut s);
        s.handle_command(
            t0(),
            MonitorCommand::Push(vec![Status::Queue { messages: 1 }]),
        );
        assert_eq!(out(&mut s).0, "");

        let both = vec![
            Status::Connection {
                name: "isp".into(),
                online: true,
            },
            Status::Queue { messages: 1 },
        ];
        let mut user = logged_in(false);
        user.handle_command(t0(), MonitorCommand::Push(both.clone()));
        assert_eq!(out(&mut user).0, "1 Online: isp\r\n");
        let mut admin = logged_in(true);
        admin.handle_command(t0(), MonitorCommand::Push(both));
        assert_eq!(
            out(&mut admin).0,
            "1 Online: isp\r\n4 Queue: 1 messages waiting to be sent\r\n"
        );
    }

    #[test]
    fn bad_commands_are_refused_then_the_session_closes() {
        let mut s = MonitorServer::new(t0(), "<c>".into());
        out(&mut s);
        assert_eq!(send(&mut s, "APILOGIN x y").0.get(..5), Some("-ERR "));
        assert_eq!(send(&mut s, "LOGIN onlyone").0.get(..5), Some("-ERR "));
        for _ in 0..3 {
            send(&mut s, "\u{1}\u{2}");
        }
        assert!(!s.wire.is_open());
    }

    #[test]
    fn a_logged_in_monitor_has_no_idle_deadline() {
        let mut s = MonitorServer::new(t0(), "<c>".into());
        let mut buf = Vec::new();
        assert!(matches!(s.poll_output(&mut buf), Output::Wait(Some(_))));
        let mut s = logged_in(true);
        assert!(matches!(s.poll_output(&mut buf), Output::Wait(None)));
        let later = t0() + std::time::Duration::from_secs(86_400);
        s.handle_input(later, Input::Tick);
        assert!(matches!(s.poll_output(&mut buf), Output::Wait(None)));
    }
}
