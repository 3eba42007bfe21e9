//! The SMTP client session machine: mail transactions in, commands out, one result
//! per recipient back (RFC 5321, with PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME
//! RFC 6152, SMTPUTF8 RFC 6531, DSN RFC 3461, STARTTLS RFC 3207, AUTH RFC 4954).
//!
//! The driver connects, creates an [`SmtpClient`] and pumps it like any machine. Once
//! the greeting, EHLO (or HELO), STARTTLS and AUTH are through, the session asks for
//! work with [`ClientEvent::Ready`]; the driver answers with a [`Job`] or with
//! [`ClientCommand::Quit`]. The message itself is pulled in chunks
//! ([`ClientEvent::NextChunk`]) so it never sits in memory whole. Each job ends with
//! [`ClientEvent::Finished`] carrying the fate of every recipient; the session ends
//! with [`ClientEvent::Ended`] followed by [`Output::Close`].
//!
//! Replies are read with [`ReplyReader`] (bounded); every wait for a reply has a
//! deadline from the settings, reported with [`Output::Wait`].

use crate::config::OutTls;
use crate::wire::{contract, write, Clock, Ending, Reply, ReplyReader, Stuffer};
use crate::{Input, Instant, Machine, Output};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::VecDeque;
use std::time::Duration;

/// Input kept while the session waits for the driver.
pub const MAX_CLIENT_PENDING: usize = 64 * 1024;

/// Credentials for AUTH at a relay. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::auth::debug_login(f, "Credentials", &self.user)
    }
}

/// How one session behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The name sent with EHLO/HELO.
    pub helo_name: String,
    pub tls: OutTls,
    /// The driver can run a TLS handshake (it has a client configuration).
    pub tls_available: bool,
    /// The connection is already encrypted (implicit TLS); no STARTTLS then.
    pub tls_active: bool,
    pub auth: Option<Credentials>,
    /// Longest wait for a reply.
    pub timeout: Duration,
    /// Longest wait for the reply after the end of the data.
    pub data_timeout: Duration,
}

/// One recipient of a job, with its DSN parameters (RFC 3461) as they arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecipient {
    pub address: String,
    pub notify: Option<String>,
    pub orcpt: Option<String>,
}

/// One mail transaction to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The driver's name for it; comes back in [`TxReport::job`].
    pub id: String,
    /// `None` = the null sender `<>`.
    pub mail_from: Option<String>,
    pub recipients: Vec<JobRecipient>,
    /// Octets of the message as stored (for SIZE).
    pub size: u64,
    /// The message has 8-bit content (`BODY=8BITMIME` when it arrived).
    pub eight_bit: bool,
    /// RFC 3461 `RET` and `ENVID`, as they arrived.
    pub dsn_ret: Option<String>,
    pub dsn_envid: Option<String>,
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    /// The server took responsibility (250 after the data).
    Delivered(Reply),
    /// Try again later.
    Temporary(Reply),
    /// Give up and tell the sender.
    Permanent(Reply),
}

impl RcptOutcome {
    pub fn reply(&self) -> &Reply {
        match self {
            RcptOutcome::Delivered(r) | RcptOutcome::Temporary(r) | RcptOutcome::Permanent(r) => r,
        }
    }
}

/// The end of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReport {
    pub job: String,
    /// Every recipient of the job, in its order.
    pub recipients: Vec<(String, RcptOutcome)>,
    /// The server supports DSN (RFC 3461), so the recipients' `NOTIFY` went with them
    /// and success reports are now its business, not ours.
    pub dsn_passed: bool,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    /// The server greeted, and EHLO/HELO (and STARTTLS and AUTH, when used) went
    /// through: it "answered", so a relay list stops here (§6.4.2).
    pub established: bool,
    /// STARTTLS was completed.
    pub tls: bool,
    /// `None` after a normal QUIT.
    pub error: Option<SessionError>,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    /// The reply that caused it, when there was one.
    pub reply: Option<Reply>,
    pub text: String,
}

/// What the session asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Ready for a transaction: answer with [`ClientCommand::Send`] or
    /// [`ClientCommand::Quit`].
    Ready,
    /// The server waits for message data: answer with [`ClientCommand::Chunk`] or
    /// [`ClientCommand::Missing`]. Asked again after each chunk until the last.
    NextChunk,
    /// A job ended; no answer.
    Finished(TxReport),
    /// The session is over; no answer. `Close` follows.
    Ended(SessionEnd),
}

/// The driver's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    Send(Box<Job>),
    Quit,
    /// The next part of the message as stored (CRLF lines); `last` ends it.
    Chunk {
        data: Vec<u8>,
        last: bool,
    },
    /// The message cannot be read any more: the session is dropped without ending
    /// the data, so the server discards what it got.
    Missing,
}

/// What a reply that is still to come answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthPlain,
    /// AUTH PLAIN without initial response (server sent 334 first).
    AuthPlainContinue,
    AuthLogin,
    AuthLoginUser,
    AuthLoginPassword,
    Mail,
    Rcpt(usize),
    Data,
    DataEnd,
    Rset,
    Quit,
}

/// The server's EHLO answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extensions {
    esmtp: bool,
    pipelining: bool,
    /// `Some(0)` = SIZE without a limit.
    size: Option<u64>,
    eight_bit: bool,
    smtputf8: bool,
    dsn: bool,
    starttls: bool,
    auth_plain: bool,
    auth_login: bool,
}

impl Extensions {
    fn from_ehlo(reply: &Reply) -> Extensions {
        let mut x = Extensions {
            esmtp: true,
            ..Extensions::default()
        };
        // The first line is the server's name.
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let kw = keyword.to_ascii_uppercase();
            match kw.as_str() {
                "PIPELINING" => x.pipelining = true,
                "SIZE" => x.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => x.eight_bit = true,
                "SMTPUTF8" => x.smtputf8 = true,
                "DSN" => x.dsn = true,
                "STARTTLS" => x.starttls = true,
                _ if kw == "AUTH" || kw.starts_with("AUTH=") => {
                    let first = kw.strip_prefix("AUTH=").filter(|s| !s.is_empty());
                    for m in first
                        .into_iter()
                        .map(str::to_string)
                        .chain(words.map(str::to_ascii_uppercase))
                    {
                        match m.as_str() {
                            "PLAIN" => x.auth_plain = true,
                            "LOGIN" => x.auth_login = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        x
    }
}

/// The transaction in progress.
#[derive(Debug)]
struct Tx {
    job: Job,
    /// Per recipient; `None` = not decided yet.
    outcomes: Vec<Option<RcptOutcome>>,
    /// MAIL was refused: everything fails with this reply.
    mail_refused: Option<Reply>,
    /// Recipients not yet sent (lock-step mode).
    next_rcpt: usize,
    stuffer: Option<Stuffer>,
}

impl Tx {
    fn accepted(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Some(RcptOutcome::Delivered(_))))
            .count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    /// `Ready` was emitted.
    Job,
    /// `NextChunk` was emitted.
    Chunk,
}

pub struct SmtpClient {
    settings: ClientSettings,
    reader: ReplyReader,
    /// Input not processed yet.
    inbuf: Vec<u8>,
    out: Vec<u8>,
    expect: VecDeque<Expect>,
    ext: Extensions,
    tls: bool,
    established: bool,
    tx: Option<Tx>,
    events: VecDeque<ClientEvent>,
    awaiting: Awaiting,
    /// StartTls must be handed to the driver before anything else is written.
    start_tls: bool,
    /// After STARTTLS: send EHLO again once the driver has the handshake under way.
    ehlo_after_tls: bool,
    ended: bool,
    ending: Ending,
    deadline: Option<Instant>,
    clock: Clock,
}

impl SmtpClient {
    /// A session on a fresh connection; it waits for the greeting.
    pub fn new(now: Instant, settings: ClientSettings) -> SmtpClient {
        let tls = settings.tls_active;
        let mut c = SmtpClient {
            settings,
            reader: ReplyReader::default(),
            inbuf: Vec::new(),
            out: Vec::new(),
            expect: VecDeque::new(),
            ext: Extensions::default(),
            tls,
            established: false,
            tx: None,
            events: VecDeque::new(),
            awaiting: Awaiting::Nothing,
            start_tls: false,
            ehlo_after_tls: false,
            ended: false,
            ending: Ending::default(),
            deadline: None,
            clock: Clock::new(now),
        };
        c.expect_reply(Expect::Greeting, now);
        c
    }

    fn expect_reply(&mut self, e: Expect, now: Instant) {
        if self.expect.is_empty() {
            self.arm(now, e);
        }
        self.expect.push_back(e);
    }

    fn arm(&mut self, now: Instant, e: Expect) {
        let t = if e == Expect::DataEnd {
            self.settings.data_timeout
        } else {
            self.settings.timeout
        };
        self.deadline = Some(now + t);
    }

    fn send(&mut self, line: &str, e: Expect) {
        write::line(&mut self.out, line);
        let now = self.clock.now();
        self.expect_reply(e, now);
    }

    fn process_input(&mut self) {
        while !self.ended
            && self.awaiting == Awaiting::Nothing
            && !self.start_tls
            && !self.inbuf.is_empty()
        {
            let (n, reply) = self.reader.feed(&self.inbuf);
            self.inbuf.drain(..n);
            match reply {
                None => {}
                Some(Err(e)) => self.fail(None, format!("protocol error: {e}")),
                Some(Ok(reply)) => self.on_reply(reply),
            }
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            self.fail(
                Some(reply),
                "reply to nothing (the server is out of step)".into(),
            );
            return;
        };
        match self.expect.front().copied() {
            Some(next) => {
                let now = self.clock.now();
                self.arm(now, next);
            }
            None => self.deadline = None,
        }
        // 421: the server is closing; nothing more will be answered.
        if reply.code == 421 && expect != Expect::Quit {
            self.fail(Some(reply), "the server closed the session".into());
            return;
        }
        match expect {
            Expect::Greeting => {
                if reply.class() == 2 {
                    self.ehlo();
                } else {
                    self.fail(Some(reply), "greeting refused".into());
                }
            }
            Expect::Ehlo => {
                if reply.class() == 2 {
                    self.ext = Extensions::from_ehlo(&reply);
                    self.after_hello();
                } else if reply.class() == 5 && !self.tls {
                    let name = self.settings.helo_name.clone();
                    self.send(&format!("HELO {name}"), Expect::Helo);
                } else {
                    self.fail(Some(reply), "EHLO refused".into());
                }
            }
            Expect::Helo => {
                if reply.class() == 2 {
                    self.ext = Extensions::default();
                    self.after_hello();
                } else {
                    self.fail(Some(reply), "HELO refused".into());
                }
            }
            Expect::StartTls => {
                if reply.code == 220 {
                    self.start_tls = true;
                    self.ehlo_after_tls = true;
                    self.tls = true;
                    // Anything the server sent after 220 came in the clear: ignore it
                    // (RFC 3207 §5, the STARTTLS injection defence).
                    self.inbuf.clear();
                    self.reader = ReplyReader::default();
                } else if self.settings.tls == OutTls::Required {
                    self.fail(Some(reply), "STARTTLS refused and TLS is required".into());
                } else {
                    self.after_tls_decision();
                }
            }
            Expect::AuthPlain | Expect::AuthPlainContinue => {
                if reply.code == 334 && expect == Expect::AuthPlain {
                    let blob = self.plain_blob();
                    self.send(&blob, Expect::AuthPlainContinue);
                } else {
                    self.after_auth(reply);
                }
            }
            Expect::AuthLogin => self.login_step(reply, |a| &a.user, Expect::AuthLoginUser),
            Expect::AuthLoginUser => {
                self.login_step(reply, |a| &a.password, Expect::AuthLoginPassword)
            }
            Expect::AuthLoginPassword => self.after_auth(reply),
            Expect::Mail => self.on_mail(reply),
            Expect::Rcpt(i) => self.on_rcpt(i, reply),
            Expect::Data => self.on_data(reply),
            Expect::DataEnd => self.on_data_end(reply),
            Expect::Rset => {
                if reply.class() == 2 {
                    self.ready();
                } else {
                    self.fail(Some(reply), "RSET refused".into());
                }
            }
            Expect::Quit => self.end(None),
        }
    }

    fn ehlo(&mut self) {
        let name = self.settings.helo_name.clone();
        self.send(&format!("EHLO {name}"), Expect::Ehlo);
    }

    fn after_hello(&mut self) {
        let s = &self.settings;
        let want_tls = !self.tls && s.tls != OutTls::Off && s.tls_available;
        if want_tls && self.ext.starttls {
            self.send("STARTTLS", Expect::StartTls);
            return;
        }
        if !self.tls && s.tls == OutTls::Required {
            let why = if !s.tls_available {
                "TLS is required but not available here"
            } else {
                "TLS is required but the server does not offer STARTTLS"
            };
            self.fail(None, why.into());
            return;
        }
        self.after_tls_decision();
    }

    fn after_tls_decision(&mut self) {
        if self.settings.auth.is_none() {
            self.established = true;
            self.ready();
            return;
        }
        if self.ext.auth_plain {
            let blob = self.plain_blob();
            self.send(&format!("AUTH PLAIN {blob}"), Expect::AuthPlain);
        } else if self.ext.auth_login {
            self.send("AUTH LOGIN", Expect::AuthLogin);
        } else {
            self.fail(
                None,
                "the server offers no AUTH PLAIN or LOGIN, but credentials are configured".into(),
            );
        }
    }

    fn plain_blob(&self) -> String {
        let Some(a) = &self.settings.auth else {
            return String::new();
        };
        let mut raw = Vec::with_capacity(a.user.len() + a.password.len() + 2);
        raw.push(0);
        raw.extend_from_slice(a.user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(a.password.as_bytes());
        STANDARD.encode(raw)
    }

    /// AUTH LOGIN: a 334 asks for the next credential, sent in base64.
    fn login_step(&mut self, reply: Reply, part: fn(&Credentials) -> &str, next: Expect) {
        if reply.code != 334 {
            return self.after_auth(reply);
        }
        let text = self
            .settings
            .auth
            .as_ref()
            .map(|a| STANDARD.encode(part(a)))
            .unwrap_or_default();
        self.send(&text, next);
    }

    fn after_auth(&mut self, reply: Reply) {
        if reply.class() == 2 {
            self.established = true;
            self.ready();
        } else {
            self.fail(Some(reply), "authentication refused".into());
        }
    }

    fn ready(&mut self) {
        self.events.push_back(ClientEvent::Ready);
    }

    fn start_job(&mut self, job: Job) {
        let n = job.recipients.len();
        let mut tx = Tx {
            job,
            outcomes: vec![None; n],
            mail_refused: None,
            next_rcpt: 0,
            stuffer: None,
        };
        // Checks the server's limits allow before anything is sent.
        if let Some(r) = self.precheck(&tx.job) {
            for o in &mut tx.outcomes {
                *o = Some(RcptOutcome::Permanent(r.clone()));
            }
            self.tx = Some(tx);
            self.finish_tx();
            self.ready();
            return;
        }
        for (i, r) in tx.job.recipients.iter().enumerate() {
            if !clean_address(&r.address) {
                tx.outcomes[i] = Some(RcptOutcome::Permanent(Reply::new(
                    553,
                    "5.1.3 recipient address not usable in SMTP",
                )));
            }
        }
        let mail = self.mail_command(&tx.job);
        self.tx = Some(tx);
        self.send(&mail, Expect::Mail);
        if self.ext.pipelining {
            let lines: Vec<(usize, String)> = self.rcpt_lines();
            for (i, line) in lines {
                self.send(&line, Expect::Rcpt(i));
            }
            if let Some(tx) = self.tx.as_mut() {
                tx.next_rcpt = tx.job.recipients.len();
            }
            self.send("DATA", Expect::Data);
        }
    }

    /// A permanent refusal decided before sending, if the job cannot go to this server.
    fn precheck(&self, job: &Job) -> Option<Reply> {
        if let Some(limit) = self.ext.size.filter(|&l| l > 0) {
            if job.size > limit {
                return Some(Reply::new(
                    552,
                    &format!(
                        "5.3.4 message of {} octets is larger than the server's limit of {limit}",
                        job.size
                    ),
                ));
            }
        }
        let non_ascii = job.mail_from.as_deref().is_some_and(|a| !a.is_ascii())
            || job.recipients.iter().any(|r| !r.address.is_ascii());
        if non_ascii && !self.ext.smtputf8 {
            return Some(Reply::new(
                553,
                "5.6.7 the server does not support SMTPUTF8 for this address",
            ));
        }
        if job.mail_from.as_deref().is_some_and(|a| !clean_address(a)) {
            return Some(Reply::new(553, "5.1.7 sender address not usable in SMTP"));
        }
        None
    }

    fn mail_command(&self, job: &Job) -> String {
        let mut s = format!("MAIL FROM:<{}>", job.mail_from.as_deref().unwrap_or(""));
        if self.ext.size.is_some() {
            s.push_str(&format!(" SIZE={}", job.size));
        }
        if job.eight_bit && self.ext.eight_bit {
            s.push_str(" BODY=8BITMIME");
        }
        let non_ascii = job.mail_from.as_deref().is_some_and(|a| !a.is_ascii())
            || job.recipients.iter().any(|r| !r.address.is_ascii());
        if non_ascii && self.ext.smtputf8 {
            s.push_str(" SMTPUTF8");
        }
        if self.ext.dsn {
            if let Some(ret) = job.dsn_ret.as_deref().filter(|v| xtext_ok(v)) {
                s.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = job.dsn_envid.as_deref().filter(|v| xtext_ok(v)) {
                s.push_str(&format!(" ENVID={envid}"));
            }
        }
        s
    }

    /// RCPT lines for every recipient not already decided.
    fn rcpt_lines(&self) -> Vec<(usize, String)> {
        let Some(tx) = &self.tx else {
            return Vec::new();
        };
        tx.job
            .recipients
            .iter()
            .enumerate()
            .filter(|(i, _)| tx.outcomes[*i].is_none())
            .map(|(i, r)| (i, rcpt_line(r, self.ext.dsn)))
            .collect()
    }

    fn on_mail(&mut self, reply: Reply) {
        let pipelining = self.ext.pipelining;
        let Some(tx) = self.tx.as_mut() else { return };
        if reply.class() != 2 {
            tx.mail_refused = Some(reply);
            if !pipelining {
                self.abort_tx();
            }
            return;
        }
        if !pipelining {
            self.next_rcpt_or_data();
        }
    }

    fn on_rcpt(&mut self, i: usize, reply: Reply) {
        let pipelining = self.ext.pipelining;
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.mail_refused.is_none() && i < tx.outcomes.len() {
            tx.outcomes[i] = Some(match reply.class() {
                2 => RcptOutcome::Delivered(reply),
                4 => RcptOutcome::Temporary(reply),
                _ => RcptOutcome::Permanent(reply),
            });
        }
        if !pipelining {
            self.next_rcpt_or_data();
        }
    }

    /// Lock-step mode: the next RCPT, or DATA once all are answered (RSET if none
    /// was accepted).
    fn next_rcpt_or_data(&mut self) {
        let Some(tx) = self.tx.as_mut() else { return };
        while tx.next_rcpt < tx.job.recipients.len() && tx.outcomes[tx.next_rcpt].is_some() {
            tx.next_rcpt += 1;
        }
        if tx.next_rcpt < tx.job.recipients.len() {
            let i = tx.next_rcpt;
            tx.next_rcpt += 1;
            let line = rcpt_line(&tx.job.recipients[i], self.ext.dsn);
            self.send(&line, Expect::Rcpt(i));
        } else if tx.accepted() > 0 {
            self.send("DATA", Expect::Data);
        } else {
            self.abort_tx();
        }
    }

    fn on_data(&mut self, reply: Reply) {
        let Some(tx) = self.tx.as_mut() else { return };
        if reply.code == 354 {
            if tx.mail_refused.is_some() || tx.accepted() == 0 {
                // A pipelining server that says 354 with no recipient (RFC 2920 §3.1
                // forbids it): send an empty message and ignore its fate.
                self.out.extend_from_slice(b".\r\n");
                let now = self.clock.now();
                self.expect_reply(Expect::DataEnd, now);
                return;
            }
            tx.stuffer = Some(Stuffer::full());
            self.awaiting = Awaiting::Chunk;
            self.events.push_back(ClientEvent::NextChunk);
            return;
        }
        // DATA refused: the accepted recipients share its fate.
        if tx.mail_refused.is_none() {
            let outcome = if reply.class() == 4 {
                RcptOutcome::Temporary
            } else {
                RcptOutcome::Permanent
            };
            for o in tx.outcomes.iter_mut() {
                if matches!(o, Some(RcptOutcome::Delivered(_))) {
                    *o = Some(outcome(reply.clone()));
                }
            }
        }
        self.abort_tx();
    }

    fn on_chunk(&mut self, data: &[u8], last: bool) {
        let Some(tx) = self.tx.as_mut() else { return };
        let Some(stuffer) = tx.stuffer.as_mut() else {
            return;
        };
        stuffer.push(data, &mut self.out);
        if last {
            stuffer.finish(&mut self.out);
            tx.stuffer = None;
            let now = self.clock.now();
            self.expect_reply(Expect::DataEnd, now);
        } else {
            self.awaiting = Awaiting::Chunk;
            self.events.push_back(ClientEvent::NextChunk);
        }
    }

    fn on_data_end(&mut self, reply: Reply) {
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.mail_refused.is_none() {
            let class = reply.class();
            for o in tx.outcomes.iter_mut() {
                if matches!(o, Some(RcptOutcome::Delivered(_))) {
                    *o = Some(match class {
                        2 => RcptOutcome::Delivered(reply.clone()),
                        4 => RcptOutcome::Temporary(reply.clone()),
                        _ => RcptOutcome::Permanent(reply.clone()),
                    });
                }
            }
        }
        self.finish_tx();
        self.ready();
    }

    /// End the transaction without data: report, then RSET (which leads to Ready).
    fn abort_tx(&mut self) {
        if let Some(tx) = self.tx.as_mut() {
            if let Some(r) = tx.mail_refused.clone() {
                let permanent = r.class() == 5;
                for o in tx.outcomes.iter_mut() {
                    // Recipients refused before sending keep their own reason.
                    if !matches!(o, Some(RcptOutcome::Permanent(_))) {
                        *o = Some(if permanent {
                            RcptOutcome::Permanent(r.clone())
                        } else {
                            RcptOutcome::Temporary(r.clone())
                        });
                    }
                }
            }
        }
        self.finish_tx();
        self.send("RSET", Expect::Rset);
    }

    /// Report the transaction; undecided recipients failed temporarily.
    fn finish_tx(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let fallback = Reply::new(451, "4.4.2 session ended before the recipient was answered");
        let recipients = tx
            .job
            .recipients
            .into_iter()
            .zip(tx.outcomes)
            .map(|(r, o)| {
                (
                    r.address,
                    o.unwrap_or_else(|| RcptOutcome::Temporary(fallback.clone())),
                )
            })
            .collect();
        self.events.push_back(ClientEvent::Finished(TxReport {
            job: tx.job.id,
            recipients,
            dsn_passed: self.ext.dsn,
        }));
    }

    /// The session failed: the job in progress fails temporarily where not yet
    /// decided (after the data went out, "accepted" is no longer certain either).
    fn fail(&mut self, reply: Option<Reply>, text: String) {
        if self.ended {
            return;
        }
        if let Some(tx) = self.tx.as_mut() {
            let why = match &reply {
                Some(r) => Reply::new(451, &format!("4.4.2 {text}: {}", r.one_line())),
                None => Reply::new(451, &format!("4.4.2 {text}")),
            };
            for o in tx.outcomes.iter_mut() {
                // Undecided, or accepted at RCPT while the data's fate is unknown (if
                // the data went out, the server may have it: the retry may be a
                // duplicate, the one RFC 5321 §6.1 accepts).
                if matches!(o, None | Some(RcptOutcome::Delivered(_))) {
                    *o = Some(RcptOutcome::Temporary(why.clone()));
                }
            }
        }
        self.finish_tx();
        self.end(Some(SessionError { reply, text }));
    }

    fn end(&mut self, error: Option<SessionError>) {
        if self.ended {
            return;
        }
        self.ended = true;
        // Questions not yet handed out are void; the driver learns it from `Ended`.
        self.events
            .retain(|e| !matches!(e, ClientEvent::Ready | ClientEvent::NextChunk));
        self.expect.clear();
        self.deadline = None;
        self.events.push_back(ClientEvent::Ended(SessionEnd {
            established: self.established,
            tls: self.tls,
            error,
        }));
    }
}

fn rcpt_line(r: &JobRecipient, dsn: bool) -> String {
    let mut s = format!("RCPT TO:<{}>", r.address);
    if dsn {
        if let Some(n) = r.notify.as_deref().filter(|v| xtext_ok(v)) {
            s.push_str(&format!(" NOTIFY={n}"));
        }
        if let Some(o) = r.orcpt.as_deref().filter(|v| xtext_ok(v)) {
            s.push_str(&format!(" ORCPT={o}"));
        }
    }
    s
}

/// An address that can go between `<` and `>` as it is.
fn clean_address(a: &str) -> bool {
    a.len() <= 512
        && !a
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '<' | '>'))
}

/// A DSN parameter value that can be passed on unchanged (xtext, RFC 3461 §4).
fn xtext_ok(v: &str) -> bool {
    !v.is_empty() && v.len() <= 500 && v.bytes().all(|b| (33..=126).contains(&b) && b != b'=')
}

impl Machine for SmtpClient {
    type Command = ClientCommand;
    type Event = ClientEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        let now = self.clock.see(now);
        match input {
            Input::Bytes(b) => {
                if self.ended {
                    return;
                }
                if self.inbuf.len() + b.len() > MAX_CLIENT_PENDING
                    && self.awaiting != Awaiting::Nothing
                {
                    self.fail(None, "the server sent too much unasked".into());
                    return;
                }
                self.inbuf.extend_from_slice(b);
                self.process_input();
            }
            Input::Eof => {
                if !self.ended {
                    if self.expect.front() == Some(&Expect::Quit) {
                        self.end(None);
                    } else {
                        self.fail(None, "connection closed by the server".into());
                    }
                }
            }
            Input::Tick => {
                if !self.ended && self.deadline.is_some_and(|d| now >= d) {
                    if self.expect.front() == Some(&Expect::Quit) {
                        self.end(None);
                    } else {
                        self.fail(None, "timed out waiting for the server".into());
                    }
                }
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: ClientCommand) {
        self.clock.see(now);
        if self.ended {
            // Questions handed out before the end are void (`Ended` said so).
            return contract::stray("SMTP client");
        }
        match (cmd, self.awaiting) {
            (ClientCommand::Send(job), Awaiting::Job) => {
                self.awaiting = Awaiting::Nothing;
                self.start_job(*job);
            }
            (ClientCommand::Quit, Awaiting::Job) => {
                self.awaiting = Awaiting::Nothing;
                self.send("QUIT", Expect::Quit);
            }
            (ClientCommand::Chunk { data, last }, Awaiting::Chunk) => {
                self.awaiting = Awaiting::Nothing;
                self.on_chunk(&data, last);
            }
            (ClientCommand::Missing, Awaiting::Chunk) => {
                self.awaiting = Awaiting::Nothing;
                self.fail(None, "the queued message could not be read".into());
            }
            _ => return contract::stray("SMTP client"),
        }
        self.process_input();
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<ClientEvent> {
        if self.ending.is_closed() {
            return Output::Wait(None);
        }
        if self.ehlo_after_tls && !self.start_tls {
            self.ehlo_after_tls = false;
            self.ehlo();
        }
        out.append(&mut self.out);
        if self.start_tls {
            self.start_tls = false;
            return Output::StartTls;
        }
        if let Some(ev) = self.events.pop_front() {
            match &ev {
                ClientEvent::Ready => self.awaiting = Awaiting::Job,
                ClientEvent::NextChunk => self.awaiting = Awaiting::Chunk,
                ClientEvent::Ended(_) => self.ending.close(),
                ClientEvent::Finished(_) => {}
            }
            return Output::Event(ev);
        }
        if let Some(o) = self.ending.poll() {
            return o;
        }
        self.process_input();
        if !self.events.is_empty() || !self.out.is_empty() || self.start_tls {
            return self.poll_output(out);
        }
        Output::Wait(self.deadline)
    }
}
