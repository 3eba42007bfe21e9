//! The POP3 client session machine (RFC 1939, CAPA RFC 2449, STLS RFC 2595): logs in
//! to an ISP mailbox, then runs one request at a time for its driver.
//!
//! The driver connects (implicit TLS first when the In Mail says so), creates a
//! [`Pop3Client`] and pumps it like any machine. After the greeting, CAPA, STLS and
//! USER/PASS (or APOP), the session asks for work with [`ClientEvent::Ready`]. Every
//! event except [`ClientEvent::Data`] and [`ClientEvent::Ended`] must be answered with
//! a [`Request`]. A retrieved message arrives as [`ClientEvent::Data`] parts (already
//! un-stuffed, CRLF line ends as the server sent them) followed by
//! [`ClientEvent::Retrieved`]: it never sits in memory whole here.
//!
//! Every wait for a response has a deadline (`settings.timeout`, counted from the last
//! byte received, so a slow but moving download is not cut off). Every failure becomes
//! a [`Pop3Error`] carrying the server's line and the last command sent (passwords
//! masked) for the §21.4 error mail, and ends the session with [`ClientEvent::Ended`]
//! followed by [`Output::Close`].

use crate::challenge::apop_digest;
use crate::config::{InMailTls, Pop3Auth};
use crate::wire::{contract, write, Clock, Ending, LineReader, LineStep, Unstuffer};
use crate::{Input, Instant, Machine, Output};
use std::collections::VecDeque;
use std::time::Duration;

/// Longest status line accepted (RFC 2449 allows 512 octets; servers exceed it).
pub const MAX_STATUS_LINE: usize = 4096;
/// Largest CAPA, LIST or UIDL response kept (about 100,000 messages' worth).
pub const MAX_LISTING: usize = 16 * 1024 * 1024;
/// Largest header kept from TOP; the rest is read and dropped.
pub const MAX_HEADER: usize = 256 * 1024;
/// Input kept while the session waits for its driver.
pub const MAX_PENDING: usize = 64 * 1024;
/// Octets past `max_message` that a RETR may still run on (read and dropped) before the
/// session is cut off; at least as much again as `max_message`.
pub const DISCARD_SLACK: u64 = 16 * 1024 * 1024;

/// How one session logs in. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub user: String,
    pub password: String,
    pub auth: Pop3Auth,
    pub tls: InMailTls,
    /// The driver can run a TLS handshake (it has a client configuration).
    pub tls_available: bool,
    /// Longest wait for a response, or between two reads of a multi-line response.
    pub timeout: Duration,
    /// A RETR that yields more than this many octets is not passed on (its rest is read
    /// and dropped, and `Retrieved` says `ok: false`); one that goes on far beyond it
    /// ends the session (a server that never stops).
    pub max_message: u64,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("tls_available", &self.tls_available)
            .field("timeout", &self.timeout)
            .field("max_message", &self.max_message)
            .finish()
    }
}

/// What the server said it can do (CAPA; all false when CAPA is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub capa: bool,
    pub stls: bool,
    pub top: bool,
    pub uidl: bool,
    pub user: bool,
}

/// One message of the ISP mailbox (LIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    /// The message number of this session (1-based).
    pub number: u32,
    /// Octets as the server counts them.
    pub size: u64,
}

/// What the driver asks the session to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    List,
    Uidl,
    /// `TOP n 0`: the header only.
    Top(u32),
    Retr(u32),
    Dele(u32),
    Quit,
}

/// What kind of trouble ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No usable greeting (or `-ERR` in it).
    Greeting,
    /// STLS required but not offered or refused, or the handshake cannot be run.
    Tls,
    /// The login was refused, or APOP was asked of a server without a timestamp.
    Auth,
    /// `-ERR` to a command the session cannot go on without.
    Reply,
    /// The server sent something that is not POP3, or too much of it.
    Protocol,
    /// The connection was closed before QUIT was answered.
    Closed,
    /// No response within the timeout.
    Timeout,
    /// A message grew past `max_message` while being retrieved.
    TooLarge,
}

/// Why a session failed: enough for the log and for the §21.4 error mail ("The
/// received error was ... The last command sent was ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct Pop3Error {
    pub kind: ErrorKind,
    /// The server's line that caused it, when there was one.
    pub received: Option<String>,
    /// The last command sent, with PASS and APOP arguments masked.
    pub last_command: Option<String>,
    pub text: String,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    /// The login went through (`Ready` was emitted).
    pub logged_in: bool,
    /// STLS was completed (or the connection was implicit TLS).
    pub tls: bool,
    /// `None` after QUIT was answered.
    pub error: Option<Pop3Error>,
}

/// What the session asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Logged in; answer with a [`Request`].
    Ready(Capabilities),
    /// The LIST response; answer with a [`Request`].
    Listing(Vec<Listed>),
    /// The UIDL response; `None` when the server answered `-ERR`. Answer with a
    /// [`Request`].
    Uids(Option<Vec<(u32, String)>>),
    /// The TOP response: the header with its blank line (at most [`MAX_HEADER`]
    /// octets), or `None` when the server answered `-ERR`. Answer with a [`Request`].
    Header {
        number: u32,
        header: Option<Vec<u8>>,
    },
    /// The next part of the message being retrieved; no answer.
    Data(Vec<u8>),
    /// The end of RETR. `ok: false`: the server answered `-ERR` (`size` 0), or the
    /// message turned out larger than `max_message` and its data was not all passed
    /// on (`size` is what the server sent): throw away the parts. Answer with a
    /// [`Request`].
    Retrieved { number: u32, size: u64, ok: bool },
    /// The DELE response. Answer with a [`Request`].
    Deleted { number: u32, ok: bool },
    /// The session is over; no answer. `Close` follows.
    Ended(SessionEnd),
}

/// What the response still to come answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Capa,
    Stls,
    User,
    Pass,
    Apop,
    /// The driver's request.
    Do(Request),
}

impl Expect {
    fn multi_line(self) -> bool {
        matches!(
            self,
            Expect::Capa
                | Expect::Do(Request::List | Request::Uidl | Request::Top(_) | Request::Retr(_))
        )
    }
}

/// A multi-line response being read.
#[derive(Debug)]
struct Multi {
    dot: Unstuffer,
    /// What is kept (listings, headers); RETR streams instead.
    kept: Vec<u8>,
    /// Octets of the response so far (un-stuffed).
    total: u64,
}

pub struct Pop3Client {
    settings: ClientSettings,
    inbuf: Vec<u8>,
    /// Status lines.
    lines: LineReader,
    out: Vec<u8>,
    expect: Option<Expect>,
    multi: Option<Multi>,
    capa: Capabilities,
    timestamp: Option<String>,
    tls: bool,
    logged_in: bool,
    last_command: Option<String>,
    events: VecDeque<ClientEvent>,
    /// An event that needs a [`Request`] was emitted and not answered yet.
    awaiting: bool,
    start_tls: bool,
    ended: bool,
    ending: Ending,
    deadline: Option<Instant>,
    clock: Clock,
}

impl Pop3Client {
    /// A session on a fresh connection; it waits for the greeting. With
    /// `tls = Implicit` the driver has already run the handshake.
    pub fn new(now: Instant, settings: ClientSettings) -> Pop3Client {
        let tls = settings.tls == InMailTls::Implicit;
        let deadline = Some(now + settings.timeout);
        Pop3Client {
            settings,
            inbuf: Vec::new(),
            lines: LineReader::default(),
            out: Vec::new(),
            expect: Some(Expect::Greeting),
            multi: None,
            capa: Capabilities::default(),
            timestamp: None,
            tls,
            logged_in: false,
            last_command: None,
            events: VecDeque::new(),
            awaiting: false,
            start_tls: false,
            ended: false,
            ending: Ending::default(),
            deadline,
            clock: Clock::new(now),
        }
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.capa
    }

    fn send(&mut self, line: &str, e: Expect) {
        write::line(&mut self.out, line);
        self.last_command = Some(mask_command(line));
        self.expect = Some(e);
        self.deadline = Some(self.clock.now() + self.settings.timeout);
    }

    fn emit(&mut self, e: ClientEvent, needs_answer: bool) {
        self.events.push_back(e);
        if needs_answer {
            self.awaiting = true;
            self.deadline = None;
        }
    }

    fn fail(&mut self, kind: ErrorKind, received: Option<&str>, text: String) {
        if self.ended {
            return;
        }
        // After a refusal the server still listens: say goodbye (any DELEs so far are
        // of messages already safe here). After a drop or nonsense, just close.
        if matches!(kind, ErrorKind::Reply | ErrorKind::Auth | ErrorKind::Tls)
            && !self.start_tls
            && self.expect != Some(Expect::Do(Request::Quit))
        {
            self.out.extend_from_slice(b"QUIT\r\n");
        }
        let err = Pop3Error {
            kind,
            received: received.map(|r| clip(r).to_string()),
            last_command: self.last_command.clone(),
            text,
        };
        self.finish(Some(err));
    }

    fn finish(&mut self, error: Option<Pop3Error>) {
        self.ended = true;
        self.expect = None;
        self.deadline = None;
        let end = SessionEnd {
            logged_in: self.logged_in,
            tls: self.tls,
            error,
        };
        self.events.push_back(ClientEvent::Ended(end));
    }

    fn process_input(&mut self) {
        while !self.ended && !self.awaiting && !self.start_tls && !self.inbuf.is_empty() {
            if self.multi.is_some() {
                self.read_multi();
                continue;
            }
            let (n, step) = self.lines.feed(&self.inbuf, MAX_STATUS_LINE + 2);
            self.inbuf.drain(..n);
            match step {
                LineStep::Partial => {}
                LineStep::TooLong => self.fail(
                    ErrorKind::Protocol,
                    None,
                    "the server sent a response line that is too long".into(),
                ),
                LineStep::Line => {
                    let raw = self.lines.take_line();
                    let line = String::from_utf8_lossy(&raw).into_owned();
                    self.lines.restore(raw);
                    self.on_status(&line);
                }
            }
        }
    }

    fn on_status(&mut self, line: &str) {
        let Some(expect) = self.expect else {
            self.fail(
                ErrorKind::Protocol,
                Some(line),
                "the server sent a response to nothing".into(),
            );
            return;
        };
        let ok = if line.starts_with("+OK") {
            true
        } else if line.starts_with("-ERR") {
            false
        } else {
            self.fail(
                ErrorKind::Protocol,
                Some(line),
                "the server's response is neither +OK nor -ERR".into(),
            );
            return;
        };
        if ok && expect.multi_line() {
            self.multi = Some(Multi {
                dot: Unstuffer::new(),
                kept: Vec::new(),
                total: 0,
            });
            if let Expect::Do(Request::Retr(_)) = expect {
                // The deadline now counts from the last byte received.
                self.deadline = Some(self.clock.now() + self.settings.timeout);
            }
            return;
        }
        self.expect = None;
        self.deadline = None;
        self.on_response(expect, ok, line, Vec::new(), 0);
    }

    fn read_multi(&mut self) {
        let Some(expect) = self.expect else { return };
        let Some(m) = self.multi.as_mut() else { return };
        let mut part = Vec::new();
        let used = m.dot.push(&self.inbuf, &mut part);
        self.inbuf.drain(..used);
        m.total += part.len() as u64;
        let done = m.dot.is_done();
        let total = m.total;
        match expect {
            Expect::Do(Request::Retr(_)) => {
                let max = self.settings.max_message;
                // Past the maximum the rest is read and dropped, so one message whose
                // LIST size lied does not block the mailbox; a server that goes on
                // far beyond that is cut off.
                if total > max.saturating_mul(2).max(max.saturating_add(DISCARD_SLACK)) {
                    self.fail(
                        ErrorKind::TooLarge,
                        None,
                        format!("the message is larger than {max} octets; not downloaded"),
                    );
                    return;
                }
                if total <= max && !part.is_empty() {
                    self.events.push_back(ClientEvent::Data(part));
                }
                self.deadline = Some(self.clock.now() + self.settings.timeout);
            }
            Expect::Do(Request::Top(_)) => {
                let room = MAX_HEADER.saturating_sub(m.kept.len());
                m.kept.extend_from_slice(&part[..part.len().min(room)]);
            }
            _ => {
                if m.kept.len() + part.len() > MAX_LISTING {
                    self.fail(
                        ErrorKind::Protocol,
                        None,
                        format!("the server's listing is larger than {MAX_LISTING} octets"),
                    );
                    return;
                }
                m.kept.extend_from_slice(&part);
            }
        }
        if done {
            let kept = self.multi.take().map(|m| m.kept).unwrap_or_default();
            self.expect = None;
            self.deadline = None;
            self.on_response(expect, true, "+OK", kept, total);
        }
    }

    fn on_response(&mut self, expect: Expect, ok: bool, line: &str, body: Vec<u8>, size: u64) {
        match expect {
            Expect::Greeting => {
                if !ok {
                    self.fail(
                        ErrorKind::Greeting,
                        Some(line),
                        "the server refused the session".into(),
                    );
                    return;
                }
                self.timestamp = apop_timestamp(line);
                self.send("CAPA", Expect::Capa);
            }
            Expect::Capa => {
                self.capa = if ok {
                    parse_capa(&body)
                } else {
                    Capabilities::default()
                };
                self.after_capa();
            }
            Expect::Stls => {
                if ok {
                    self.tls = true;
                    self.start_tls = true;
                    // Anything sent after +OK came in the clear: drop it (RFC 2595
                    // §4, the STARTTLS injection defence).
                    self.inbuf.clear();
                } else if self.settings.tls == InMailTls::Starttls {
                    self.fail(
                        ErrorKind::Tls,
                        Some(line),
                        "STLS was refused and tls = \"starttls\" requires it".into(),
                    );
                } else {
                    self.login();
                }
            }
            Expect::User => {
                if ok {
                    let pw = self.settings.password.clone();
                    self.send(&format!("PASS {pw}"), Expect::Pass);
                } else {
                    self.fail(
                        ErrorKind::Auth,
                        Some(line),
                        "the server refused the user name".into(),
                    );
                }
            }
            Expect::Pass | Expect::Apop => {
                if ok {
                    self.logged_in = true;
                    let capa = self.capa.clone();
                    self.emit(ClientEvent::Ready(capa), true);
                } else {
                    self.fail(
                        ErrorKind::Auth,
                        Some(line),
                        "the server refused the login".into(),
                    );
                }
            }
            Expect::Do(Request::List) => {
                if !ok {
                    self.fail(
                        ErrorKind::Reply,
                        Some(line),
                        "the server refused LIST".into(),
                    );
                    return;
                }
                match parse_list(&body) {
                    Ok(l) => self.emit(ClientEvent::Listing(l), true),
                    Err(bad) => self.fail(
                        ErrorKind::Protocol,
                        Some(&bad),
                        "the server sent a LIST line that cannot be read".into(),
                    ),
                }
            }
            Expect::Do(Request::Uidl) => {
                if !ok {
                    self.emit(ClientEvent::Uids(None), true);
                    return;
                }
                match parse_uidl(&body) {
                    Ok(u) => self.emit(ClientEvent::Uids(Some(u)), true),
                    Err(bad) => self.fail(
                        ErrorKind::Protocol,
                        Some(&bad),
                        "the server sent a UIDL line that cannot be read".into(),
                    ),
                }
            }
            Expect::Do(Request::Top(number)) => {
                let header = ok.then_some(body);
                self.emit(ClientEvent::Header { number, header }, true);
            }
            Expect::Do(Request::Retr(number)) => {
                // Too large: what came was dropped (see `read_multi`).
                let ok = ok && size <= self.settings.max_message;
                self.emit(ClientEvent::Retrieved { number, size, ok }, true)
            }
            Expect::Do(Request::Dele(number)) => {
                self.emit(ClientEvent::Deleted { number, ok }, true)
            }
            Expect::Do(Request::Quit) => {
                if ok {
                    self.finish(None);
                } else {
                    // The server could not commit the deletions (RFC 1939 §6).
                    self.fail(
                        ErrorKind::Reply,
                        Some(line),
                        "the server could not apply the deletions at QUIT".into(),
                    );
                }
            }
        }
    }

    fn after_capa(&mut self) {
        let s = &self.settings;
        let wants = matches!(s.tls, InMailTls::Opportunistic | InMailTls::Starttls);
        if !self.tls && wants && s.tls_available && self.capa.stls {
            self.send("STLS", Expect::Stls);
            return;
        }
        if !self.tls && s.tls == InMailTls::Starttls {
            let why = if s.tls_available {
                "tls = \"starttls\" but the server does not offer STLS"
            } else {
                "tls = \"starttls\" but TLS is not available here"
            };
            self.fail(ErrorKind::Tls, None, why.into());
            return;
        }
        self.login();
    }

    fn login(&mut self) {
        match self.settings.auth {
            Pop3Auth::Plain => {
                let user = self.settings.user.clone();
                self.send(&format!("USER {user}"), Expect::User);
            }
            Pop3Auth::Apop => {
                let Some(ts) = self.timestamp.clone() else {
                    self.fail(
                        ErrorKind::Auth,
                        None,
                        "auth = \"apop\" but the server's greeting has no APOP timestamp".into(),
                    );
                    return;
                };
                let digest = apop_digest(&ts, &self.settings.password);
                let user = self.settings.user.clone();
                self.send(&format!("APOP {user} {digest}"), Expect::Apop);
            }
        }
    }

    fn request(&mut self, r: Request) {
        let line = match r {
            Request::List => "LIST".to_string(),
            Request::Uidl => "UIDL".to_string(),
            Request::Top(n) => format!("TOP {n} 0"),
            Request::Retr(n) => format!("RETR {n}"),
            Request::Dele(n) => format!("DELE {n}"),
            Request::Quit => "QUIT".to_string(),
        };
        self.send(&line, Expect::Do(r));
    }
}

impl Machine for Pop3Client {
    type Command = Request;
    type Event = ClientEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        let now = self.clock.see(now);
        if self.ended {
            return;
        }
        match input {
            Input::Bytes(b) => {
                if self.inbuf.len() + b.len() > MAX_PENDING && (self.awaiting || self.start_tls) {
                    self.fail(
                        ErrorKind::Protocol,
                        None,
                        "the server sent data nobody asked for".into(),
                    );
                    return;
                }
                self.inbuf.extend_from_slice(b);
                if self.multi.is_some() {
                    self.deadline = Some(now + self.settings.timeout);
                }
                self.process_input();
            }
            Input::Eof => {
                if self.expect == Some(Expect::Do(Request::Quit)) {
                    // No +OK to QUIT: the server may never have read it, so its
                    // deletions may not be applied (RFC 1939 §6); the caller must not
                    // forget the DELEd messages.
                    self.fail(
                        ErrorKind::Closed,
                        None,
                        "the server closed the connection before answering QUIT".into(),
                    );
                } else {
                    self.fail(
                        ErrorKind::Closed,
                        None,
                        "the server closed the connection".into(),
                    );
                }
            }
            Input::Tick => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.fail(
                        ErrorKind::Timeout,
                        None,
                        format!(
                            "no response from the server within {} seconds",
                            self.settings.timeout.as_secs()
                        ),
                    );
                }
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: Request) {
        self.clock.see(now);
        if self.ended || !self.awaiting {
            return contract::stray("POP3 client");
        }
        self.awaiting = false;
        self.request(cmd);
        self.process_input();
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<ClientEvent> {
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        out.append(&mut self.out);
        if self.start_tls {
            self.start_tls = false;
            // CAPA again, since the server may offer more over TLS (RFC 2595 §4). It
            // stays in `self.out` until the next poll, after the driver has started
            // the handshake, so it goes out encrypted.
            self.send("CAPA", Expect::Capa);
            return Output::StartTls;
        }
        if self.ended {
            self.ending.close();
        }
        if let Some(o) = self.ending.poll() {
            return o;
        }
        Output::Wait(if self.awaiting { None } else { self.deadline })
    }
}

/// A POP3 command as it may be shown: the argument of PASS (and the digest of APOP)
/// is replaced, so a log line or an error mail never carries the ISP password.
pub fn mask_command(command: &str) -> String {
    let c = command.trim_end_matches(['\r', '\n']);
    let verb = c.split(' ').next().unwrap_or("");
    if verb.eq_ignore_ascii_case("PASS") {
        format!("{verb} ********")
    } else if verb.eq_ignore_ascii_case("APOP") {
        let user = c.split(' ').nth(1).unwrap_or("");
        format!("{verb} {user} ********")
    } else if verb.eq_ignore_ascii_case("AUTH") {
        // SASL responses follow on their own lines; only the mechanism is shown.
        let mech = c.split(' ').nth(1).unwrap_or("");
        format!("{verb} {mech}")
    } else {
        c.to_string()
    }
}

/// The `<...>` timestamp of an APOP-capable greeting.
fn apop_timestamp(line: &str) -> Option<String> {
    let start = line.find('<')?;
    let end = start + line[start..].find('>')?;
    let ts = &line[start..=end];
    (ts.len() > 2 && ts.contains('@') && ts.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .then(|| ts.to_string())
}

fn lines(body: &[u8]) -> impl Iterator<Item = &str> {
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| std::str::from_utf8(l).unwrap_or("\u{fffd}"))
}

fn parse_capa(body: &[u8]) -> Capabilities {
    let mut c = Capabilities {
        capa: true,
        ..Capabilities::default()
    };
    for l in lines(body) {
        match l
            .split_ascii_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase()
            .as_str()
        {
            "STLS" => c.stls = true,
            "TOP" => c.top = true,
            "UIDL" => c.uidl = true,
            "USER" => c.user = true,
            _ => {}
        }
    }
    c
}

fn parse_list(body: &[u8]) -> Result<Vec<Listed>, String> {
    lines(body)
        .map(|l| {
            let mut w = l.split_ascii_whitespace();
            let number = w.next().and_then(|n| n.parse::<u32>().ok());
            let size = w.next().and_then(|n| n.parse::<u64>().ok());
            match (number, size) {
                (Some(number), Some(size)) if number > 0 => Ok(Listed { number, size }),
                _ => Err(clip(l).to_string()),
            }
        })
        .collect()
}

fn parse_uidl(body: &[u8]) -> Result<Vec<(u32, String)>, String> {
    lines(body)
        .map(|l| {
            let mut w = l.split_ascii_whitespace();
            let number = w.next().and_then(|n| n.parse::<u32>().ok());
            let uid = w.next().filter(|u| {
                (1..=70).contains(&u.len()) && u.bytes().all(|b| (0x21..0x7f).contains(&b))
            });
            match (number, uid) {
                (Some(n), Some(u)) if n > 0 => Ok((n, u.to_string())),
                _ => Err(clip(l).to_string()),
            }
        })
        .collect()
}

/// A server line as it may be quoted: bounded.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(1000) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
pub(crate) mod tests;
