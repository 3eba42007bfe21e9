//! A scripted ISP POP3 server for the collection scenarios (issue 7), and a link that
//! runs any client machine against it in virtual time.
//!
//! The mailbox lives outside the sessions ([`IspMailbox`]): each session works on the
//! messages as they were when it started and, as RFC 1939 §6 requires, removes what it
//! DELEs only when the client QUITs in the TRANSACTION state. A connection that drops
//! or times out removes nothing. [`Behaviour`] scripts the faults ISP servers show:
//! UIDL refused or missing, no TOP, no CAPA, the connection dropped during or after the
//! n-th RETR, slow replies, and a server that stops answering.

pub use crate::wire::Link;
use mailroom_core::challenge::apop_digest;
use mailroom_core::{Input, Instant, Machine, Output};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

/// Longest command line taken (RFC 2449 allows 255 octets); longer input is refused.
const MAX_COMMAND: usize = 1024;
/// RFC 1939 §3: the autologout timer is at least 10 minutes.
const AUTOLOGOUT: Duration = Duration::from_secs(600);

/// One message the ISP holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IspMessage {
    pub uid: String,
    /// CRLF line ends, as it goes on the wire before byte-stuffing.
    pub data: Vec<u8>,
}

/// The ISP mailbox, across sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IspMailbox {
    messages: Vec<IspMessage>,
    next_uid: u64,
}

/// Bare LF made CRLF, and a final line end added: what a POP3 server sends.
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + data.len() / 16 + 2);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            v.push(b'\r');
        }
        v.push(b);
        prev = b;
    }
    if !v.ends_with(b"\r\n") {
        v.extend_from_slice(b"\r\n");
    }
    v
}

impl IspMailbox {
    pub fn new() -> IspMailbox {
        IspMailbox::default()
    }

    /// Add a message (line ends made CRLF) with a fresh UID; returns the UID.
    pub fn add(&mut self, data: &[u8]) -> String {
        self.next_uid += 1;
        let uid = format!("isp-{:08}", self.next_uid);
        self.messages.push(IspMessage {
            uid: uid.clone(),
            data: crlf(data),
        });
        uid
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn messages(&self) -> &[IspMessage] {
        &self.messages
    }

    pub fn uids(&self) -> Vec<String> {
        self.messages.iter().map(|m| m.uid.clone()).collect()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.messages.iter().any(|m| m.uid == uid)
    }

    pub fn get(&self, uid: &str) -> Option<&IspMessage> {
        self.messages.iter().find(|m| m.uid == uid)
    }

    fn remove(&mut self, uids: &BTreeSet<String>) {
        self.messages.retain(|m| !uids.contains(&m.uid));
    }
}

/// How the server answers UIDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UidlMode {
    Normal,
    /// Listed in CAPA, but every UIDL gets `-ERR`.
    Refused,
    /// Not in CAPA; an unknown command.
    Absent,
}

/// Where the connection drops during a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropAt {
    /// The n-th RETR of the session (1-based).
    pub retr: usize,
    /// `true`: half the message is sent, then the connection closes. `false`: the whole
    /// response is sent, then it closes before reading another command.
    pub mid_message: bool,
}

/// What kind of ISP server this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    pub uidl: UidlMode,
    pub top: bool,
    /// Answers CAPA (RFC 2449); `false` = `-ERR` to CAPA, as RFC 1939-only servers do.
    pub capa: bool,
    /// A `<timestamp>` in the greeting and APOP accepted.
    pub apop: bool,
    pub drop: Option<DropAt>,
    /// Every reply (the greeting too) is held back this long.
    pub reply_delay: Duration,
    /// After this many command lines, nothing more is ever answered.
    pub stall_after: Option<usize>,
}

impl Behaviour {
    /// UIDL, TOP, CAPA, replies at once.
    pub fn normal() -> Behaviour {
        Behaviour {
            uidl: UidlMode::Normal,
            top: true,
            capa: true,
            apop: false,
            drop: None,
            reply_delay: Duration::ZERO,
            stall_after: None,
        }
    }

    /// `-ERR` to UIDL (TOP still works).
    pub fn uidl_refused() -> Behaviour {
        Behaviour {
            uidl: UidlMode::Refused,
            ..Behaviour::normal()
        }
    }

    /// Neither UIDL nor TOP.
    pub fn bare() -> Behaviour {
        Behaviour {
            uidl: UidlMode::Absent,
            top: false,
            ..Behaviour::normal()
        }
    }

    /// Drops the connection during (`mid_message`) or after the n-th RETR.
    pub fn drop_on_retr(retr: usize, mid_message: bool) -> Behaviour {
        Behaviour {
            drop: Some(DropAt { retr, mid_message }),
            ..Behaviour::normal()
        }
    }

    /// Every reply `delay` late.
    pub fn slow(delay: Duration) -> Behaviour {
        Behaviour {
            reply_delay: delay,
            ..Behaviour::normal()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Authorization,
    Transaction,
    /// QUIT in TRANSACTION: deletions take effect.
    Updated,
    /// Closed any other way: nothing changes.
    Aborted,
}

/// A reply waiting for its time.
#[derive(Debug)]
struct Pending {
    at: Instant,
    bytes: Vec<u8>,
    close_after: bool,
}

/// One POP3 session of the ISP server: a [`Machine`] fed with the client's bytes.
#[derive(Debug)]
pub struct IspPop3 {
    messages: Vec<IspMessage>,
    behaviour: Behaviour,
    user: String,
    password: String,
    timestamp: String,
    given_user: Option<String>,
    state: State,
    deleted: BTreeSet<usize>,
    inbuf: Vec<u8>,
    /// Refusing the rest of an over-long line.
    skipping: bool,
    pending: VecDeque<Pending>,
    now: Instant,
    idle_deadline: Instant,
    commands: usize,
    retrs: usize,
    closing: bool,
    closed: bool,
    transcript: Vec<String>,
    retrieved: Vec<String>,
    topped: Vec<String>,
}

impl IspPop3 {
    /// A session on `mailbox` as it is now; `user`/`password` are the account.
    pub fn new(
        now: Instant,
        mailbox: &IspMailbox,
        behaviour: Behaviour,
        user: &str,
        password: &str,
    ) -> IspPop3 {
        let timestamp = format!("<{}.{}@pop.isp.example>", now.unix_micros(), mailbox.len());
        let mut s = IspPop3 {
            messages: mailbox.messages.clone(),
            behaviour,
            user: user.to_string(),
            password: password.to_string(),
            timestamp,
            given_user: None,
            state: State::Authorization,
            deleted: BTreeSet::new(),
            inbuf: Vec::new(),
            skipping: false,
            pending: VecDeque::new(),
            now,
            idle_deadline: now + AUTOLOGOUT,
            commands: 0,
            retrs: 0,
            closing: false,
            closed: false,
            transcript: Vec::new(),
            retrieved: Vec::new(),
            topped: Vec::new(),
        };
        let greeting = if s.behaviour.apop {
            format!("+OK POP3 server ready {}", s.timestamp)
        } else {
            "+OK POP3 server ready".to_string()
        };
        s.reply(&greeting);
        s
    }

    /// The mailbox as this session sees it (message `n` is `messages()[n - 1]`).
    pub fn messages(&self) -> &[IspMessage] {
        &self.messages
    }

    /// Every command line received (PASS and APOP secrets masked), in order.
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// UIDs of the messages whose whole RETR response was sent.
    pub fn retrieved(&self) -> &[String] {
        &self.retrieved
    }

    /// UIDs of the messages TOP was answered for.
    pub fn topped(&self) -> &[String] {
        &self.topped
    }

    /// Whether the session ended with QUIT in the TRANSACTION state.
    pub fn updated(&self) -> bool {
        self.state == State::Updated
    }

    /// UIDs marked for deletion in this session (removed only if [`Self::updated`]).
    pub fn marked(&self) -> Vec<String> {
        self.deleted
            .iter()
            .filter_map(|&n| self.messages.get(n - 1))
            .map(|m| m.uid.clone())
            .collect()
    }

    /// End of session: remove the DELEd messages from `mailbox` if the client QUIT
    /// properly; returns the UIDs removed.
    pub fn apply(&self, mailbox: &mut IspMailbox) -> Vec<String> {
        if !self.updated() {
            return Vec::new();
        }
        let gone: BTreeSet<String> = self.marked().into_iter().collect();
        mailbox.remove(&gone);
        gone.into_iter().collect()
    }

    fn reply(&mut self, line: &str) {
        let mut b = line.as_bytes().to_vec();
        b.extend_from_slice(b"\r\n");
        self.send(b, false);
    }

    fn send(&mut self, bytes: Vec<u8>, close_after: bool) {
        let earliest = self.pending.back().map_or(self.now, |p| p.at);
        let at = (self.now + self.behaviour.reply_delay).max(earliest);
        self.pending.push_back(Pending {
            at,
            bytes,
            close_after,
        });
    }

    /// A multi-line response: status line, byte-stuffed body, `.` line.
    fn multi(&mut self, status: &str, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(status.len() + body.len() + 16);
        b.extend_from_slice(status.as_bytes());
        b.extend_from_slice(b"\r\n");
        stuff_into(body, &mut b);
        b.extend_from_slice(b".\r\n");
        b
    }

    /// The message `arg` names, if it exists and is not deleted.
    fn message(&self, arg: Option<&str>) -> Result<usize, &'static str> {
        let n: usize = arg
            .and_then(|a| a.parse().ok())
            .ok_or("-ERR invalid message number")?;
        if n == 0 || n > self.messages.len() {
            return Err("-ERR no such message");
        }
        if self.deleted.contains(&n) {
            return Err("-ERR message is deleted");
        }
        Ok(n)
    }

    fn live(&self) -> impl Iterator<Item = (usize, &IspMessage)> {
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| (i + 1, m))
            .filter(|(n, _)| !self.deleted.contains(n))
    }

    fn command(&mut self, line: &str) {
        self.commands += 1;
        let mut words = line.split_ascii_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        let shown = match verb.as_str() {
            "PASS" => "PASS ****".to_string(),
            "APOP" => format!("APOP {} ****", args.first().unwrap_or(&"")),
            _ => line.to_string(),
        };
        self.transcript.push(shown);
        if self
            .behaviour
            .stall_after
            .is_some_and(|k| self.commands > k)
        {
            return;
        }
        match (self.state, verb.as_str()) {
            (_, "QUIT") => {
                if self.state == State::Transaction {
                    self.state = State::Updated;
                }
                let n = self.deleted.len();
                self.send(format!("+OK bye, {n} deleted\r\n").into_bytes(), true);
                self.closing = true;
            }
            (_, "CAPA") if self.behaviour.capa => {
                let mut caps = String::from("USER\r\nRESP-CODES\r\nPIPELINING\r\n");
                if self.behaviour.top {
                    caps.push_str("TOP\r\n");
                }
                if self.behaviour.uidl != UidlMode::Absent {
                    caps.push_str("UIDL\r\n");
                }
                let b = self.multi("+OK capability list follows", caps.as_bytes());
                self.send(b, false);
            }
            (_, "NOOP") if self.state == State::Transaction => self.reply("+OK"),
            (State::Authorization, "USER") => match args.first() {
                Some(u) => {
                    self.given_user = Some((*u).to_string());
                    self.reply("+OK send PASS");
                }
                None => self.reply("-ERR USER needs a name"),
            },
            (State::Authorization, "PASS") => {
                // A password may contain spaces: everything after "PASS ".
                let pass = line.get(5..).unwrap_or("");
                if self.given_user.as_deref() == Some(self.user.as_str()) && pass == self.password {
                    self.login();
                } else {
                    self.given_user = None;
                    self.reply("-ERR [AUTH] invalid user name or password");
                }
            }
            (State::Authorization, "APOP") if self.behaviour.apop => {
                let good = apop_digest(&self.timestamp, &self.password);
                if args.first() == Some(&self.user.as_str()) && args.get(1) == Some(&good.as_str())
                {
                    self.login();
                } else {
                    self.reply("-ERR [AUTH] authentication failed");
                }
            }
            (State::Transaction, "STAT") => {
                let (n, size) = self
                    .live()
                    .fold((0usize, 0usize), |(n, s), (_, m)| (n + 1, s + m.data.len()));
                self.reply(&format!("+OK {n} {size}"));
            }
            (State::Transaction, "LIST") => self.list(args.first().copied(), false),
            (State::Transaction, "UIDL") => match self.behaviour.uidl {
                UidlMode::Normal => self.list(args.first().copied(), true),
                UidlMode::Refused => self.reply("-ERR UIDL temporarily unavailable"),
                UidlMode::Absent => self.reply("-ERR unknown command"),
            },
            (State::Transaction, "TOP") if self.behaviour.top => {
                let lines = args.get(1).and_then(|l| l.parse::<usize>().ok());
                match (self.message(args.first().copied()), lines) {
                    (Ok(n), Some(lines)) => {
                        let m = &self.messages[n - 1];
                        let body = top_of(&m.data, lines);
                        let uid = m.uid.clone();
                        let b = self.multi("+OK top of message follows", &body);
                        self.send(b, false);
                        self.topped.push(uid);
                    }
                    (Err(e), _) => self.reply(e),
                    (_, None) => self.reply("-ERR TOP needs a message and a line count"),
                }
            }
            (State::Transaction, "RETR") => match self.message(args.first().copied()) {
                Ok(n) => self.retr(n),
                Err(e) => self.reply(e),
            },
            (State::Transaction, "DELE") => match self.message(args.first().copied()) {
                Ok(n) => {
                    self.deleted.insert(n);
                    self.reply(&format!("+OK message {n} deleted"));
                }
                Err(e) => self.reply(e),
            },
            (State::Transaction, "RSET") => {
                self.deleted.clear();
                self.reply("+OK");
            }
            _ => self.reply("-ERR unknown command"),
        }
    }

    fn login(&mut self) {
        self.state = State::Transaction;
        let n = self.messages.len();
        self.reply(&format!("+OK logged in, {n} messages"));
    }

    fn list(&mut self, arg: Option<&str>, uidl: bool) {
        let field = |m: &IspMessage| {
            if uidl {
                m.uid.clone()
            } else {
                m.data.len().to_string()
            }
        };
        if arg.is_some() {
            match self.message(arg) {
                Ok(n) => {
                    let f = field(&self.messages[n - 1]);
                    self.reply(&format!("+OK {n} {f}"));
                }
                Err(e) => self.reply(e),
            }
            return;
        }
        let body: String = self
            .live()
            .map(|(n, m)| format!("{n} {}\r\n", field(m)))
            .collect();
        let b = self.multi("+OK", body.as_bytes());
        self.send(b, false);
    }

    fn retr(&mut self, n: usize) {
        self.retrs += 1;
        let m = &self.messages[n - 1];
        let uid = m.uid.clone();
        let status = format!("+OK {} octets", m.data.len());
        let data = m.data.clone();
        let full = self.multi(&status, &data);
        match self.behaviour.drop.filter(|d| d.retr == self.retrs) {
            Some(DropAt {
                mid_message: true, ..
            }) => {
                let cut = status.len() + 2 + data.len() / 2;
                self.send(full[..cut.min(full.len())].to_vec(), true);
                self.closing = true;
            }
            Some(DropAt {
                mid_message: false, ..
            }) => {
                self.send(full, true);
                self.retrieved.push(uid);
                self.closing = true;
            }
            None => {
                self.send(full, false);
                self.retrieved.push(uid);
            }
        }
    }

    fn take_lines(&mut self) {
        while !self.closing {
            let Some(end) = self.inbuf.iter().position(|&b| b == b'\n') else {
                if self.inbuf.len() > MAX_COMMAND {
                    self.inbuf.clear();
                    self.skipping = true;
                    self.reply("-ERR line too long");
                }
                return;
            };
            let raw: Vec<u8> = self.inbuf.drain(..=end).collect();
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if raw.len() > MAX_COMMAND {
                self.reply("-ERR line too long");
                continue;
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            self.command(&line);
        }
    }
}

/// Byte-stuff `body` (CRLF lines) into `out`; a last line without its end gets one.
fn stuff_into(body: &[u8], out: &mut Vec<u8>) {
    let mut line_start = true;
    for &b in body {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
}

/// The header, the blank line and `lines` lines of the body.
fn top_of(data: &[u8], lines: usize) -> Vec<u8> {
    let header_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(data.len(), |p| p + 4);
    let mut end = header_end;
    for _ in 0..lines {
        match data[end..].iter().position(|&b| b == b'\n') {
            Some(p) => end += p + 1,
            None => {
                end = data.len();
                break;
            }
        }
    }
    data[..end].to_vec()
}

impl Machine for IspPop3 {
    type Command = ();
    type Event = Infallible;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = now;
        if self.closed {
            return;
        }
        match input {
            Input::Bytes(b) => {
                self.idle_deadline = now + AUTOLOGOUT;
                if !self.closing {
                    self.inbuf.extend_from_slice(b);
                    self.take_lines();
                }
            }
            Input::Eof => {
                // The client went away: no UPDATE state, nothing is deleted.
                if self.state != State::Updated {
                    self.state = State::Aborted;
                }
                self.closed = true;
            }
            Input::Tick => {
                if now >= self.idle_deadline && !self.closing {
                    self.state = State::Aborted;
                    self.closed = true;
                }
            }
        }
    }

    fn handle_command(&mut self, _now: Instant, _cmd: ()) {}

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<Infallible> {
        if self.closed {
            return Output::Close;
        }
        while let Some(p) = self.pending.front() {
            if p.at > self.now {
                return Output::Wait(Some(p.at));
            }
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            out.extend_from_slice(&p.bytes);
            if p.close_after {
                if self.state == State::Transaction || self.state == State::Authorization {
                    self.state = State::Aborted;
                }
                self.closed = true;
                return Output::Close;
            }
        }
        Output::Wait(Some(self.idle_deadline))
    }
}

/// What happened to each message over several sessions: a check that nothing was
/// deleted at the ISP before the collector had stored it.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// UID → times it was stored locally (by the scenario's store).
    pub stored: BTreeMap<String, usize>,
    /// UIDs the ISP removed, with whether they were stored first.
    pub removed: Vec<(String, bool)>,
}

impl Ledger {
    pub fn store(&mut self, uid: &str) {
        *self.stored.entry(uid.to_string()).or_default() += 1;
    }

    /// Record the removals of a finished session.
    pub fn removed(&mut self, uids: &[String]) {
        for u in uids {
            let stored = self.stored.contains_key(u);
            self.removed.push((u.clone(), stored));
        }
    }

    /// UIDs removed at the ISP that were never stored here.
    pub fn lost(&self) -> Vec<String> {
        self.removed
            .iter()
            .filter(|(_, s)| !s)
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// UIDs stored more than once.
    pub fn duplicates(&self) -> Vec<String> {
        self.stored
            .iter()
            .filter(|(_, &n)| n > 1)
            .map(|(u, _)| u.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
