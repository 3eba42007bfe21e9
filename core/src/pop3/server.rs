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

use super::codec::Stuffer;
use super::command::{self, Command, ParseError};
use super::{AuthOutcome, MessageEntry, OpenError, Pop3Command, Pop3Event, Pop3Info};
use crate::config::{PlaintextAuth, Snapshot};
use crate::smtp::codec::{LineReader, LineStep};
use crate::smtp::policy::is_lan;
use crate::smtp::sasl::{self, SaslError};
use crate::{Input, Instant, Machine, Output};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

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
enum Awaiting {
    Nothing,
    Auth,
    Open,
    Chunk,
    Commit,
}

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
    out: Vec<u8>,
    inbuf: Vec<u8>,
    lines: LineReader,
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
    errors: u32,
    event: Option<Pop3Event>,
    awaiting: Awaiting,
    tls_active: bool,
    closing: bool,
    start_tls: bool,
    discard_input: bool,
    eof: bool,
    last_activity: Instant,
}

impl Pop3Server {
    /// A new session; the first `poll_output` yields the greeting (or, for an address
    /// the access file refuses, `-ERR` and a close).
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, mut info: Pop3Info) -> Self {
        info.peer_ip = info.peer_ip.to_canonical();
        let mut s = Pop3Server {
            tls_active: info.tls_active,
            timestamp: None,
            snapshot,
            info,
            out: Vec::with_capacity(256),
            inbuf: Vec::new(),
            lines: LineReader::default(),
            phase: Phase::Command,
            state: State::Authorization,
            user: None,
            account: None,
            pending_account: None,
            messages: Vec::new(),
            sending: None,
            errors: 0,
            event: None,
            awaiting: Awaiting::Nothing,
            closing: false,
            start_tls: false,
            discard_input: false,
            eof: false,
            last_activity: now,
        };
        if !s.snapshot.access.pop3.may_connect(s.info.peer_ip) {
            s.err("Access denied");
            s.closing = true;
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

    fn max_line(&self) -> usize {
        (self.snapshot.config.pop3.max_command_line as usize).max(MIN_COMMAND_LINE)
    }

    fn paused(&self) -> bool {
        self.closing || self.start_tls || self.event.is_some() || self.awaiting != Awaiting::Nothing
    }

    fn deadline(&self) -> Option<Instant> {
        let secs = self.snapshot.config.pop3.idle_timeout_secs;
        (secs != 0 && self.awaiting == Awaiting::Nothing)
            .then(|| self.last_activity + Duration::from_secs(u64::from(secs)))
    }

    /// USER/PASS and AUTH PLAIN may be used on this connection now.
    fn plaintext_allowed(&self) -> bool {
        let p = &self.snapshot.config.pop3;
        !p.require_apop
            && (self.tls_active
                || match p.plaintext_auth {
                    PlaintextAuth::Always => true,
                    PlaintextAuth::Lan => is_lan(self.info.peer_ip),
                    PlaintextAuth::Never => false,
                })
    }

    fn stls_offered(&self) -> bool {
        self.info.tls_available && !self.tls_active && self.state == State::Authorization
    }

    fn ok(&mut self, text: &str) {
        self.out.extend_from_slice(b"+OK ");
        push_clean(&mut self.out, text);
        self.out.extend_from_slice(b"\r\n");
    }

    fn err(&mut self, text: &str) {
        self.out.extend_from_slice(b"-ERR ");
        push_clean(&mut self.out, text);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A refusal caused by the client's mistake: counts toward `max_errors`.
    fn error(&mut self, text: &str) {
        self.err(text);
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.snapshot.config.pop3.max_errors.max(1) && !self.closing {
            self.err("Too many errors, closing connection");
            self.closing = true;
        }
    }

    fn process(&mut self, now: Instant, input: &[u8]) -> usize {
        let mut pos = 0;
        while pos < input.len() && !self.paused() {
            let max = self.max_line();
            let (n, step) = self.lines.feed(&input[pos..], max);
            pos += n;
            match step {
                LineStep::Partial => {}
                LineStep::TooLong => {
                    self.phase = Phase::Command;
                    self.error("Line too long");
                }
                LineStep::Line => {
                    let line = self.lines.take_line();
                    self.on_line(now, &line);
                    self.lines.restore(line);
                }
            }
            if self.discard_input {
                self.discard_input = false;
                return input.len();
            }
        }
        pos
    }

    fn resume(&mut self, now: Instant) {
        if !self.inbuf.is_empty() && !self.paused() {
            let mut buf = std::mem::take(&mut self.inbuf);
            let used = self.process(now, &buf);
            buf.drain(..used);
            self.inbuf = buf;
        }
        if self.eof && self.inbuf.is_empty() && !self.paused() {
            self.closing = true;
        }
    }

    fn on_line(&mut self, now: Instant, line: &[u8]) {
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::SaslPlain => self.on_sasl_plain(line),
            Phase::Command => self.on_command(now, line),
        }
    }

    fn on_command(&mut self, _now: Instant, line: &[u8]) {
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
                self.closing = true;
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
            self.out.extend_from_slice(c.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b".\r\n");
    }

    fn on_stls(&mut self) {
        if self.tls_active {
            return self.error("TLS already active");
        }
        if !self.info.tls_available {
            return self.error("STLS not available");
        }
        self.ok("Begin TLS negotiation");
        // RFC 2595 §4: anything sent before the handshake is discarded.
        self.user = None;
        self.lines.reset();
        self.start_tls = true;
        self.discard_input = true;
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
        self.event = Some(Pop3Event::Authenticate { user, password });
        self.awaiting = Awaiting::Auth;
    }

    fn on_apop(&mut self, user: String, digest: String) {
        let Some(timestamp) = self.timestamp.clone() else {
            return self.error("APOP is not available on this server");
        };
        if user.len() > MAX_CREDENTIAL || digest.len() != 32 {
            return self.error("[AUTH] Authentication failed");
        }
        self.user = None;
        self.event = Some(Pop3Event::Apop {
            user,
            timestamp,
            digest,
        });
        self.awaiting = Awaiting::Auth;
    }

    fn on_auth(&mut self, mechanism: Option<String>, initial: Option<String>) {
        let Some(mechanism) = mechanism else {
            // The pre-RFC 5034 form: list the mechanisms.
            self.ok("Mechanisms follow");
            if self.plaintext_allowed() {
                self.out.extend_from_slice(b"PLAIN\r\n");
            }
            self.out.extend_from_slice(b".\r\n");
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
                self.out.extend_from_slice(b"+ \r\n");
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
                self.event = Some(Pop3Event::Authenticate { user, password });
                self.awaiting = Awaiting::Auth;
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
                    self.closing = true;
                    return;
                }
                self.pending_account = Some(name.clone());
                self.event = Some(Pop3Event::Open { user: name });
                self.awaiting = Awaiting::Open;
            }
            AuthOutcome::Invalid => self.error("[AUTH] Authentication failed"),
            AuthOutcome::Locked => {
                self.error("[AUTH] Account locked after too many failed logins; try again later")
            }
            AuthOutcome::Unavailable => {
                self.error("[AUTH] This login method is not available for this account")
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
        if let Some(n) = which {
            return match self.message_index(n) {
                Ok(i) => {
                    let text = format!("{n} {}", self.messages[i].entry.size);
                    self.ok(&text);
                }
                Err(why) => self.error(why),
            };
        }
        let (n, size) = self.totals();
        let text = format!("{n} messages ({size} octets)");
        self.ok(&text);
        for (i, m) in self.messages.iter().enumerate() {
            if !m.deleted {
                let _ = write!(Lines(&mut self.out), "{} {}\r\n", i + 1, m.entry.size);
            }
        }
        self.out.extend_from_slice(b".\r\n");
    }

    fn on_uidl(&mut self, which: Option<u64>) {
        if let Some(n) = which {
            return match self.message_index(n) {
                Ok(i) => {
                    let text = format!("{n} {}", self.messages[i].entry.uid);
                    self.ok(&text);
                }
                Err(why) => self.error(why),
            };
        }
        self.ok("Unique-ID listing follows");
        for (i, m) in self.messages.iter().enumerate() {
            if !m.deleted {
                let _ = write!(Lines(&mut self.out), "{} {}\r\n", i + 1, m.entry.uid);
            }
        }
        self.out.extend_from_slice(b".\r\n");
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
        self.event = Some(Pop3Event::Retrieve { index });
        self.awaiting = Awaiting::Chunk;
    }

    fn on_chunk(&mut self, data: &[u8], last: bool) {
        let Some(mut s) = self.sending.take() else {
            self.awaiting = Awaiting::Nothing;
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
        let enough = s.stuffer.push(data, &mut self.out);
        if last || enough {
            s.stuffer.finish(&mut self.out);
            if !s.top {
                if let Some(m) = self.messages.get_mut(s.index) {
                    m.retrieved = true;
                }
            }
            self.awaiting = Awaiting::Nothing;
        } else {
            self.sending = Some(s);
            self.event = Some(Pop3Event::NextChunk);
            self.awaiting = Awaiting::Chunk;
        }
    }

    fn on_missing(&mut self) {
        self.awaiting = Awaiting::Nothing;
        match self.sending.take() {
            Some(s) if s.started => {
                // The +OK went out and the file vanished mid-message: the transfer
                // cannot be ended honestly, so the connection is.
                self.out.extend_from_slice(b"\r\n.\r\n");
                self.closing = true;
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
        self.event = Some(Pop3Event::Commit { delete, seen });
        self.awaiting = Awaiting::Commit;
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
        self.closing = true;
    }
}

/// `write!` into the output buffer.
struct Lines<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Lines<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Reply text with CR, LF and other controls replaced, so a reply stays one line.
fn push_clean(out: &mut Vec<u8>, text: &str) {
    out.extend(
        text.bytes()
            .take(400)
            .map(|b| if b.is_ascii_control() { b' ' } else { b }),
    );
}

impl Machine for Pop3Server {
    type Command = Pop3Command;
    type Event = Pop3Event;

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
                    if self.inbuf.len() + bytes.len() > MAX_PENDING_INPUT.max(self.inbuf.len()) {
                        self.err("Too much pipelined input, closing connection");
                        self.closing = true;
                        return;
                    }
                    self.inbuf.extend_from_slice(bytes);
                    return;
                }
                let used = self.process(now, bytes);
                if used < bytes.len() {
                    self.inbuf.extend_from_slice(&bytes[used..]);
                }
            }
            Input::Eof => {
                if self.event.is_some() || self.awaiting != Awaiting::Nothing {
                    self.eof = true;
                } else {
                    self.closing = true;
                }
            }
            Input::Tick => {
                if let Some(deadline) = self.deadline() {
                    if now >= deadline && self.event.is_none() {
                        // RFC 1939 §3: an autologout timer never enters UPDATE.
                        self.err("Idle for too long, closing connection");
                        self.closing = true;
                    }
                }
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: Pop3Command) {
        if self.closing {
            return;
        }
        match (cmd, self.awaiting) {
            (Pop3Command::AuthResult(outcome), Awaiting::Auth) => {
                self.awaiting = Awaiting::Nothing;
                self.on_auth_result(outcome);
            }
            (Pop3Command::Opened(result), Awaiting::Open) => {
                self.awaiting = Awaiting::Nothing;
                self.on_opened(result);
            }
            (Pop3Command::Chunk { data, last }, Awaiting::Chunk) => self.on_chunk(&data, last),
            (Pop3Command::Missing, Awaiting::Chunk) => self.on_missing(),
            (Pop3Command::Committed(ok), Awaiting::Commit) => {
                self.awaiting = Awaiting::Nothing;
                self.sign_off(ok);
            }
            // An answer to nothing (or the wrong thing): ignore it.
            _ => return,
        }
        if self.closing {
            return;
        }
        self.last_activity = now;
        self.resume(now);
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<Pop3Event> {
        out.append(&mut self.out);
        if let Some(event) = self.event.take() {
            return Output::Event(event);
        }
        if self.closing {
            return Output::Close;
        }
        if self.start_tls {
            self.start_tls = false;
            self.tls_active = true;
            self.inbuf.clear();
            return Output::StartTls;
        }
        Output::Wait(self.deadline())
    }
}
