//! The POP3 server session machine: commands in, replies and events out.
//!
//! States follow RFC 1939: AUTHORIZATION until a login succeeds and the mailbox is
//! open, then TRANSACTION; QUIT there is the UPDATE state (the [`Pop3Event::Commit`]
//! event). Deletions are only marks until then, so a dropped connection or a timeout
//! removes nothing.
//!
//! Flow control: while an event is outstanding the session reads nothing and keeps
//! pipelined input in a bounded buffer. A message is sent in chunks the driver reads
//! from disk; the session asks for the next one ([`Pop3Event::NextChunk`]) only after
//! handing out its output, so a 50 MB message never sits in memory.

use super::command::{self, Command, ParseError};
use super::{MessageEntry, OpenError, Pop3Command, Pop3Event, Pop3Info};
use crate::auth::sasl::{self, SaslError};
use crate::auth::{self, AuthOutcome};
use crate::config::Snapshot;
use crate::wire::session::{self, Farewell, Limits, LineProtocol, LineSession};
use crate::wire::{write, Stuffer};
use crate::Instant;
use std::io::Write as _;
use std::sync::Arc;

/// Input kept while an event is outstanding, beyond what the current read brought.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;
/// RFC 2449 §4: command lines up to 255 octets must be accepted.
const MIN_COMMAND_LINE: usize = 255;
/// Longest user name or password taken from the client; longer ones cannot be real.
const MAX_CREDENTIAL: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Authorization,
    Transaction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Command,
    /// AUTH PLAIN sent `+ `; the next line is the client's response.
    SaslPlain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    Auth,
    Open,
    Chunk,
    Commit,
}

/// What LIST or UIDL shows of a message.
type Item = fn(&MessageEntry) -> &dyn std::fmt::Display;

#[derive(Debug)]
struct Message {
    entry: MessageEntry,
    deleted: bool,
    retrieved: bool,
}

#[derive(Debug)]
struct Sending {
    index: usize,
    stuffer: Stuffer,
    started: bool,
    top: bool,
}

pub struct Pop3Server {
    snapshot: Arc<Snapshot>,
    info: Pop3Info,
    wire: LineSession<Pop3Event, Awaiting>,
    phase: Phase,
    state: State,
    /// The name given with USER, waiting for PASS.
    user: Option<String>,
    /// The account logged in (set once the mailbox is open).
    account: Option<String>,
    /// The account whose password was right; the mailbox is being opened.
    pending_account: Option<String>,
    messages: Vec<Message>,
    /// The APOP timestamp of the greeting (`<...>`), if APOP is offered.
    timestamp: Option<String>,
    sending: Option<Sending>,
}

impl Pop3Server {
    /// A new session; the first `poll_output` yields the greeting (or, for an address
    /// the access file refuses, `-ERR` and a close).
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, mut info: Pop3Info) -> Self {
        let p = &snapshot.config.pop3;
        let (line, errors, idle) = (p.max_command_line, p.max_errors, p.idle_timeout_secs);
        let limits = Limits::new(line, MIN_COMMAND_LINE, errors, idle, MAX_PENDING_INPUT);
        info.peer_ip = info.peer_ip.to_canonical();
        let mut s = Pop3Server {
            wire: LineSession::new(now, limits, info.tls_active),
            timestamp: None,
            snapshot,
            info,
            phase: Phase::Command,
            state: State::Authorization,
            user: None,
            account: None,
            pending_account: None,
            messages: Vec::new(),
            sending: None,
        };
        if !s.snapshot.access.pop3.may_connect(s.info.peer_ip) {
            s.err("Access denied");
            s.wire.close();
            return s;
        }
        let mut greeting = format!("{} POP3 Mailroom ready", s.host());
        if s.snapshot.config.accounts.challenge_response {
            let ts = format!(
                "<{}.{}@{}>",
                s.info.session_id,
                now.unix_micros(),
                s.snapshot.config.hostname
            );
            greeting.push(' ');
            greeting.push_str(&ts);
            s.timestamp = Some(ts);
        }
        s.ok(&greeting);
        s
    }

    /// The account logged in, once the mailbox is open.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    fn host(&self) -> &str {
        &self.snapshot.config.hostname
    }

    /// USER/PASS and AUTH PLAIN may be used on this connection now.
    fn plaintext_allowed(&self) -> bool {
        let p = &self.snapshot.config.pop3;
        !p.require_apop
            && auth::plaintext_allowed(p.plaintext_auth, self.info.peer_ip, self.wire.tls_active)
    }

    fn stls_offered(&self) -> bool {
        self.info.tls_available && !self.wire.tls_active && self.state == State::Authorization
    }

    fn ok(&mut self, text: &str) {
        write::ok(&mut self.wire.out, text);
    }

    fn err(&mut self, text: &str) {
        write::err(&mut self.wire.out, text);
    }

    /// A refusal caused by the client's mistake: counts toward `max_errors`.
    fn error(&mut self, text: &str) {
        self.err(text);
        session::count_error(self);
    }

    fn on_command(&mut self, line: &[u8]) {
        let cmd = match command::parse(line) {
            Ok(c) => c,
            Err(ParseError::Unknown) => return self.error("Unknown command"),
            Err(ParseError::Syntax(why)) => return self.error(why),
        };
        match (self.state, cmd) {
            (_, Command::Capa) => self.on_capa(),
            (State::Authorization, Command::Quit) => {
                let text = format!("{} POP3 server signing off", self.host());
                self.ok(&text);
                self.wire.close();
            }
            (State::Authorization, Command::Stls) => self.on_stls(),
            (State::Authorization, Command::User(name)) => self.on_user(name),
            (State::Authorization, Command::Pass(pw)) => self.on_pass(pw),
            (State::Authorization, Command::Apop { user, digest }) => self.on_apop(user, digest),
            (State::Authorization, Command::Auth { mechanism, initial }) => {
                self.on_auth(mechanism, initial)
            }
            (State::Authorization, _) => self.error("Not logged in yet (use USER and PASS)"),
            (State::Transaction, Command::Stat) => {
                let (n, size) = self.totals();
                let text = format!("{n} {size}");
                self.ok(&text);
            }
            (State::Transaction, Command::List(which)) => self.on_list(which),
            (State::Transaction, Command::Uidl(which)) => self.on_uidl(which),
            (State::Transaction, Command::Retr(n)) => self.on_retrieve(n, None),
            (State::Transaction, Command::Top { msg, lines }) => self.on_retrieve(msg, Some(lines)),
            (State::Transaction, Command::Dele(n)) => match self.message_index(n) {
                Ok(i) => {
                    self.messages[i].deleted = true;
                    let text = format!("message {n} deleted");
                    self.ok(&text);
                }
                Err(why) => self.error(why),
            },
            (State::Transaction, Command::Noop) => self.ok(""),
            (State::Transaction, Command::Rset) => {
                for m in &mut self.messages {
                    m.deleted = false;
                }
                let (n, size) = self.totals();
                let text = format!("maildrop has {n} messages ({size} octets)");
                self.ok(&text);
            }
            (State::Transaction, Command::Quit) => self.on_quit(),
            (State::Transaction, _) => self.error("Already logged in"),
        }
    }

    fn on_capa(&mut self) {
        let mut caps: Vec<String> = vec!["TOP".into(), "UIDL".into()];
        if self.state == State::Authorization {
            if self.plaintext_allowed() {
                caps.push("USER".into());
                caps.push("SASL PLAIN".into());
            }
            if self.stls_offered() {
                caps.push("STLS".into());
            }
        }
        caps.extend(
            [
                "RESP-CODES",
                "AUTH-RESP-CODE",
                "PIPELINING",
                "EXPIRE NEVER",
                "IMPLEMENTATION Mailroom",
            ]
            .map(String::from),
        );
        self.ok("Capability list follows");
        for c in caps {
            self.wire.out.extend_from_slice(c.as_bytes());
            self.wire.out.extend_from_slice(b"\r\n");
        }
        self.wire.out.extend_from_slice(b".\r\n");
    }

    fn on_stls(&mut self) {
        if self.wire.tls_active {
            return self.error("TLS already active");
        }
        if !self.info.tls_available {
            return self.error("STLS not available");
        }
        self.ok("Begin TLS negotiation");
        // RFC 2595 §4: anything sent before the handshake is discarded.
        self.user = None;
        self.wire.start_tls();
    }

    fn on_user(&mut self, name: String) {
        if !self.plaintext_allowed() {
            return self.refuse_plaintext();
        }
        if name.len() > MAX_CREDENTIAL {
            return self.error("[AUTH] User name too long");
        }
        self.user = Some(name);
        self.ok("Send your password");
    }

    fn refuse_plaintext(&mut self) {
        if self.snapshot.config.pop3.require_apop {
            self.error("[AUTH] APOP is required on this server")
        } else if self.stls_offered() {
            self.error("[AUTH] Use STLS first: plaintext login is not allowed here")
        } else {
            self.error("[AUTH] Plaintext login is not allowed here")
        }
    }

    fn on_pass(&mut self, password: String) {
        if !self.plaintext_allowed() {
            return self.refuse_plaintext();
        }
        let Some(user) = self.user.take() else {
            return self.error("Send USER first");
        };
        if password.len() > MAX_CREDENTIAL {
            return self.error("[AUTH] Authentication failed");
        }
        self.wire
            .ask(Pop3Event::Authenticate { user, password }, Awaiting::Auth);
    }

    fn on_apop(&mut self, user: String, digest: String) {
        let Some(timestamp) = self.timestamp.clone() else {
            return self.error("APOP is not available on this server");
        };
        if user.len() > MAX_CREDENTIAL || digest.len() != 32 {
            return self.error("[AUTH] Authentication failed");
        }
        self.user = None;
        let apop = Pop3Event::Apop {
            user,
            timestamp,
            digest,
        };
        self.wire.ask(apop, Awaiting::Auth);
    }

    fn on_auth(&mut self, mechanism: Option<String>, initial: Option<String>) {
        let Some(mechanism) = mechanism else {
            // The pre-RFC 5034 form: list the mechanisms.
            self.ok("Mechanisms follow");
            if self.plaintext_allowed() {
                self.wire.out.extend_from_slice(b"PLAIN\r\n");
            }
            self.wire.out.extend_from_slice(b".\r\n");
            return;
        };
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            return self.error("Unsupported authentication mechanism");
        }
        if !self.plaintext_allowed() {
            return self.refuse_plaintext();
        }
        match initial {
            Some(resp) => self.on_sasl_plain(resp.as_bytes()),
            None => {
                self.wire.out.extend_from_slice(b"+ \r\n");
                self.phase = Phase::SaslPlain;
            }
        }
    }

    fn on_sasl_plain(&mut self, line: &[u8]) {
        let result = std::str::from_utf8(line)
            .map_err(|_| SaslError::Malformed)
            .and_then(sasl::decode)
            .and_then(|b| sasl::plain(&b));
        match result {
            Ok((user, password)) => {
                if user.len() > MAX_CREDENTIAL || password.len() > MAX_CREDENTIAL {
                    return self.error("[AUTH] Authentication failed");
                }
                self.user = None;
                self.wire
                    .ask(Pop3Event::Authenticate { user, password }, Awaiting::Auth);
            }
            Err(SaslError::Cancelled) => self.error("Authentication cancelled"),
            Err(SaslError::Malformed) => self.error("Invalid authentication response"),
            Err(SaslError::OtherIdentity) => self.error("[AUTH] Authentication failed"),
        }
    }

    fn on_auth_result(&mut self, outcome: AuthOutcome) {
        match outcome {
            AuthOutcome::Ok(name) => {
                let allowed = self
                    .snapshot
                    .access
                    .pop3
                    .check(self.info.peer_ip, Some(&name))
                    .allowed;
                if !allowed {
                    self.err("[AUTH] Access denied for this user from this address");
                    self.wire.close();
                    return;
                }
                self.pending_account = Some(name.clone());
                self.wire
                    .ask(Pop3Event::Open { user: name }, Awaiting::Open);
            }
            AuthOutcome::Invalid => self.error("[AUTH] Authentication failed"),
            AuthOutcome::Locked => {
                self.error("[AUTH] Account locked after too many failed logins; try again later")
            }
            AuthOutcome::Unavailable => {
                self.error("[AUTH] This login method is not available for this account")
            }
            AuthOutcome::TooManyConnections => {
                self.error("[IN-USE] Too many connections for this account")
            }
        }
    }

    fn on_opened(&mut self, result: Result<Vec<MessageEntry>, OpenError>) {
        let account = self.pending_account.take();
        match result {
            Ok(list) => {
                self.messages = list
                    .into_iter()
                    .map(|entry| Message {
                        entry,
                        deleted: false,
                        retrieved: false,
                    })
                    .collect();
                self.account = account;
                self.state = State::Transaction;
                let (n, size) = self.totals();
                let text = format!("Logged in, maildrop has {n} messages ({size} octets)");
                self.ok(&text);
            }
            Err(OpenError::InUse) => {
                self.err("[IN-USE] Mailbox is in use by another session; try again later")
            }
            Err(OpenError::Failed) => self.err("[SYS/TEMP] Cannot open the mailbox now"),
        }
    }

    /// Messages not marked deleted, and their total size.
    fn totals(&self) -> (usize, u64) {
        self.messages
            .iter()
            .filter(|m| !m.deleted)
            .fold((0, 0), |(n, s), m| (n + 1, s + m.entry.size))
    }

    /// The index of message number `n` (1-based), if it exists and is not deleted.
    fn message_index(&self, n: u64) -> Result<usize, &'static str> {
        let i = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|i| *i < self.messages.len())
            .ok_or("No such message")?;
        if self.messages[i].deleted {
            return Err("Message already deleted");
        }
        Ok(i)
    }

    fn on_list(&mut self, which: Option<u64>) {
        let (n, size) = self.totals();
        let head = format!("{n} messages ({size} octets)");
        self.on_listing(which, &head, |e| &e.size);
    }

    fn on_uidl(&mut self, which: Option<u64>) {
        self.on_listing(which, "Unique-ID listing follows", |e| &e.uid);
    }

    /// LIST and UIDL: `+OK n item` for one message, or `head` and a line per message
    /// not deleted.
    fn on_listing(&mut self, which: Option<u64>, head: &str, item: Item) {
        if let Some(n) = which {
            return match self.message_index(n) {
                Ok(i) => {
                    let text = format!("{n} {}", item(&self.messages[i].entry));
                    self.ok(&text);
                }
                Err(why) => self.error(why),
            };
        }
        self.ok(head);
        for (i, m) in self.messages.iter().enumerate() {
            if !m.deleted {
                let _ = write!(self.wire.out, "{} {}\r\n", i + 1, item(&m.entry));
            }
        }
        self.wire.out.extend_from_slice(b".\r\n");
    }

    fn on_retrieve(&mut self, n: u64, top: Option<u64>) {
        let index = match self.message_index(n) {
            Ok(i) => i,
            Err(why) => return self.error(why),
        };
        self.sending = Some(Sending {
            index,
            stuffer: top.map_or_else(Stuffer::full, Stuffer::top),
            started: false,
            top: top.is_some(),
        });
        self.wire
            .ask(Pop3Event::Retrieve { index }, Awaiting::Chunk);
    }

    fn on_chunk(&mut self, data: &[u8], last: bool) {
        let Some(mut s) = self.sending.take() else {
            return;
        };
        if !s.started {
            s.started = true;
            if s.top {
                self.ok("Top of message follows");
            } else {
                let text = format!("{} octets", self.messages[s.index].entry.size);
                self.ok(&text);
            }
        }
        let enough = s.stuffer.push(data, &mut self.wire.out);
        if last || enough {
            s.stuffer.finish(&mut self.wire.out);
            if !s.top {
                if let Some(m) = self.messages.get_mut(s.index) {
                    m.retrieved = true;
                }
            }
        } else {
            self.sending = Some(s);
            self.wire.ask(Pop3Event::NextChunk, Awaiting::Chunk);
        }
    }

    fn on_missing(&mut self) {
        match self.sending.take() {
            Some(s) if s.started => {
                // The +OK went out and the file vanished mid-message: the transfer
                // cannot be ended honestly, so the connection is.
                self.wire.out.extend_from_slice(b"\r\n.\r\n");
                self.wire.close();
            }
            _ => self.err("Message is no longer available"),
        }
    }

    fn on_quit(&mut self) {
        let delete: Vec<usize> = (0..self.messages.len())
            .filter(|&i| self.messages[i].deleted)
            .collect();
        let seen: Vec<usize> = (0..self.messages.len())
            .filter(|&i| self.messages[i].retrieved && !self.messages[i].deleted)
            .collect();
        if delete.is_empty() && seen.is_empty() {
            return self.sign_off(true);
        }
        self.wire
            .ask(Pop3Event::Commit { delete, seen }, Awaiting::Commit);
    }

    fn sign_off(&mut self, ok: bool) {
        let (left, _) = self.totals();
        if ok {
            let text = format!(
                "{} POP3 server signing off ({left} messages left)",
                self.host()
            );
            self.ok(&text);
        } else {
            self.err("Some deleted messages were not removed");
        }
        self.wire.close();
    }
}

impl LineProtocol for Pop3Server {
    fn on_line(&mut self, _now: Instant, line: &[u8]) {
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::SaslPlain => self.on_sasl_plain(line),
            Phase::Command => self.on_command(line),
        }
    }

    fn on_line_too_long(&mut self) {
        self.phase = Phase::Command;
        self.error("Line too long");
    }

    fn farewell(&mut self, why: Farewell) {
        // RFC 1939 §3: an autologout timer never enters UPDATE.
        self.err(why.text());
    }

    fn answer(&mut self, cmd: Pop3Command) -> bool {
        match (cmd, self.wire.awaiting()) {
            (Pop3Command::AuthResult(outcome), Some(Awaiting::Auth)) => {
                self.on_auth_result(outcome)
            }
            (Pop3Command::Opened(result), Some(Awaiting::Open)) => self.on_opened(result),
            (Pop3Command::Chunk { data, last }, Some(Awaiting::Chunk)) => {
                self.on_chunk(&data, last)
            }
            (Pop3Command::Missing, Some(Awaiting::Chunk)) => self.on_missing(),
            (Pop3Command::Committed(ok), Some(Awaiting::Commit)) => self.sign_off(ok),
            _ => return false,
        }
        true
    }
}

session::line_machine!(Pop3Server, Pop3Command, Pop3Event, Awaiting, "POP3 server");
