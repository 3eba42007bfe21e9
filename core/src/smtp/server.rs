//! The SMTP server session machine: commands in, replies and events out.
//!
//! Command lines, pending input, timeouts and the end of the session are
//! [`crate::wire::session`]'s; content framing lives in [`super::codec`], parsing in
//! [`super::command`], decisions in [`super::policy`]; this file is the state machine
//! that ties them together.
//!
//! Flow control: while an event is outstanding (a password check or a delivery) the
//! session stops reading and keeps what arrives in a bounded buffer, so pipelined
//! commands (RFC 2920) are answered in order once the driver answers the event.

use super::codec::{BodyError, BodyScanner, Framing};
use super::command::{self, Body, Command, MailParams, ParseError, RcptParams};
use super::policy::{self, RcptDecision, SessionFacts};
use super::received::{self, Trace};
use super::reply::Refusal;
use super::{
    AuthAnswer, AuthRequest, Delivery, Envelope, Recipient, SessionInfo, SmtpCommand, SmtpEvent,
};
use crate::address::{Mailbox, Path};
use crate::auth::sasl::{self, Mechanism, SaslError};
use crate::config::Snapshot;
use crate::mailauth::Verdict;
use crate::rulefmt::LocalClock;
use crate::smtprules::{Action, Activation, Fired, RuleInput, Stage};
use crate::wire::session::{self, Farewell, Limits, LineProtocol, LineSession};
use crate::wire::write;
use crate::Instant;
use base64::Engine;
use std::fmt::Write as _;
use std::sync::Arc;

/// Index of the configured held domain `domain` is, if any (case-insensitive).
fn etrn_held(held: &[String], domain: &str) -> Option<usize> {
    held.iter().position(|h| h.eq_ignore_ascii_case(domain))
}

/// Input kept while an event is outstanding, beyond what the current read brought.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;
/// Command lines shorter than this are always accepted (RFC 5321 §4.5.3.1.4).
const MIN_COMMAND_LINE: usize = 512;
/// Message bound when no size limit is configured: a message is held in memory until
/// it is stored, so "no limit" still has one.
pub const ABSOLUTE_MAX_MESSAGE: u64 = 1 << 30;

/// Where incoming bytes go.
#[derive(Debug)]
enum Phase {
    Command,
    /// Waiting for a SASL response line.
    Sasl(SaslStep),
    /// Reading DATA content into the transaction.
    Data,
    /// Reading a BDAT chunk; with `refuse`, the chunk is read and thrown away and the
    /// refusal is the reply.
    Bdat {
        size: u64,
        remaining: u64,
        last: bool,
        refuse: Option<Refusal>,
    },
}

#[derive(Debug)]
enum SaslStep {
    Plain,
    LoginUser,
    LoginPassword { user: String },
    Cram { challenge: String },
}

/// What the session is waiting for from the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    Auth,
    Delivery,
    /// The answer to an `ETRN` for this domain.
    Etrn(usize),
    /// The SMTP rules log took an activation; then deliver the transaction if asked.
    RuleLog {
        then_deliver: bool,
    },
    /// The DNS blocklist verdict; then the MAIL command held meanwhile goes on.
    Dnsbl,
    /// The mail authentication checks (`SmtpEvent::CheckAuth`).
    AuthCheck,
}

/// The DNS blocklist verdict of this session's client (§11.3).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Blocklist {
    NotAsked,
    Clear,
    /// Listed in this zone: every MAIL is refused.
    Listed(String),
}

#[derive(Debug)]
struct Helo {
    name: String,
    esmtp: bool,
}

/// One mail transaction, MAIL to end of data.
#[derive(Debug)]
struct Transaction {
    sender: Option<Mailbox>,
    size_limit: u64,
    eight_bit: bool,
    smtputf8: bool,
    dsn_ret: Option<String>,
    dsn_envid: Option<String>,
    recipients: Vec<Recipient>,
    /// The `Received:` line followed by the message, once data has started.
    data: Vec<u8>,
    scanner: Option<BodyScanner>,
    id: String,
    /// `SIZE=` from MAIL, for SMTP rules' `Size:` before the message is there.
    declared_size: Option<u64>,
    /// SMTP rules (§8.2) are done with this message: a rule fired at MAIL or after
    /// DATA. Recipients refused by a RCPT rule are not counted anywhere.
    rules_done: bool,
    /// A recipient was accepted without a RCPT rule firing for it, so the after-DATA
    /// rules still have something to decide.
    unsettled: bool,
    /// Recipients accepted at RCPT (ignored and redirected ones included): `RcptCount:`.
    rcpt_count: usize,
    /// Recipients an Ignore rule accepted and dropped at RCPT.
    ignored: usize,
    /// An Ignore rule fired at MAIL: accept everything, store nothing.
    discard: bool,
    /// A Redirect rule fired at MAIL: this address (and its route) instead of the
    /// recipients.
    redirect: Option<Recipient>,
    /// Where the message proper starts in `data` (after our `Received:` line).
    message_start: usize,
    /// The mail authentication checks have run (or are not wanted) for this message.
    auth_checked: bool,
    /// The checks sent it to the recipients' Junk folders.
    junk: bool,
}

pub struct SmtpServer {
    snapshot: Arc<Snapshot>,
    info: SessionInfo,
    wire: LineSession<SmtpEvent, Awaiting>,
    phase: Phase,
    helo: Option<Helo>,
    auth_user: Option<String>,
    tx: Option<Transaction>,
    /// Messages begun in this session (for ids).
    messages: u32,
    blocklist: Blocklist,
    /// The MAIL command waiting for the blocklist verdict.
    held_mail: Option<(Path, MailParams)>,
}

impl SmtpServer {
    /// A new session; the first `poll_output` yields the 220 greeting.
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, mut info: SessionInfo) -> Self {
        info.peer_ip = info.peer_ip.to_canonical();
        let s = &snapshot.config.smtp;
        let (line, errors, idle) = (s.max_command_line, s.max_errors, s.idle_timeout_secs);
        let limits = Limits::new(line, MIN_COMMAND_LINE, errors, idle, MAX_PENDING_INPUT);
        let mut wire = LineSession::new(now, limits, info.tls_active);
        let greeting = format!("{} ESMTP Mailroom", snapshot.config.hostname);
        write::code(&mut wire.out, 220, &greeting);
        SmtpServer {
            snapshot,
            info,
            wire,
            phase: Phase::Command,
            helo: None,
            auth_user: None,
            tx: None,
            messages: 0,
            blocklist: Blocklist::NotAsked,
            held_mail: None,
        }
    }

    /// The account this session authenticated as.
    pub fn auth_user(&self) -> Option<&str> {
        self.auth_user.as_deref()
    }

    fn host(&self) -> &str {
        &self.snapshot.config.hostname
    }

    fn auth_offered(&self) -> bool {
        policy::auth_allowed(
            &self.snapshot.config,
            self.info.peer_ip,
            self.wire.tls_active,
        )
    }

    /// CRAM-MD5 needs the reusable secrets kept only when the administrator enabled
    /// challenge-response authentication.
    fn cram_offered(&self) -> bool {
        self.snapshot.config.accounts.challenge_response
    }

    fn starttls_offered(&self) -> bool {
        self.info.tls_available && !self.wire.tls_active
    }

    fn size_limit(&self) -> u64 {
        policy::size_limit(&self.snapshot, self.auth_user.as_deref())
    }

    /// A refusal caused by the client's mistake: counts toward `max_errors`.
    fn error(&mut self, code: u16, status: &str, text: &str) {
        write::code_status(&mut self.wire.out, code, status, text);
        session::count_error(self);
    }

    fn refuse(&mut self, r: Refusal) {
        self.error(r.code, r.status, r.text);
    }

    /// DNS blocklists are for mail arriving from the Internet (§11.3): a client that
    /// authenticated (AUTH, or POP3 before SMTP) is a user sending, and a
    /// `[ids] never_block` address is trusted. MAIL is the place: AUTH cannot come
    /// after it, and nothing of the message has been sent yet.
    fn blocklist_applies(&self) -> bool {
        let c = &self.snapshot.config;
        !c.smtp.dnsbl.is_empty()
            && self.auth_user.is_none()
            && !self.info.pop_before_smtp
            && !c.ids.never_blocked(self.info.peer_ip)
    }

    fn close(&mut self) {
        self.wire.close();
        self.tx = None;
        self.phase = Phase::Command;
    }

    fn on_command(&mut self, now: Instant, line: &[u8]) {
        let cmd = match command::parse(line) {
            Ok(cmd) => cmd,
            Err(ParseError::Unknown) => return self.error(500, "5.5.2", "Command unrecognized"),
            Err(ParseError::Refused(r)) => return self.refuse(r),
        };
        match cmd {
            Command::Ehlo(name) => self.on_helo(name, true),
            Command::Helo(name) => self.on_helo(name, false),
            Command::Mail(path, params) => self.on_mail(path, params),
            Command::Rcpt(path, params) => self.on_rcpt(path, params),
            Command::Data => self.on_data(now),
            Command::Bdat { size, last } => self.on_bdat(now, size, last),
            Command::Rset => {
                self.tx = None;
                write::code_status(&mut self.wire.out, 250, "2.0.0", "OK");
            }
            Command::Noop => write::code_status(&mut self.wire.out, 250, "2.0.0", "OK"),
            Command::Quit => {
                let text = format!("{} closing connection", self.host());
                write::code_status(&mut self.wire.out, 221, "2.0.0", &text);
                self.close();
            }
            Command::Vrfy => write::code_status(
                &mut self.wire.out,
                252,
                "2.5.2",
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Command::Expn => {
                write::code_status(&mut self.wire.out, 502, "5.5.1", "EXPN not available")
            }
            Command::Help => write::code_status(
                &mut self.wire.out,
                214,
                "2.0.0",
                "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH STARTTLS",
            ),
            Command::Auth { mechanism, initial } => self.on_auth(mechanism, initial),
            Command::StartTls => self.on_starttls(),
            Command::Etrn(node) => self.on_etrn(node),
        }
    }

    fn on_helo(&mut self, args: &str, esmtp: bool) {
        // VPOP3 looks for the refused text anywhere in the HELO argument (§11.3).
        let refuse = &self.snapshot.config.smtp.refuse_helo;
        if !refuse.is_empty()
            && args
                .to_ascii_lowercase()
                .contains(&refuse.to_ascii_lowercase())
        {
            let text = format!("{} Connection refused", self.host());
            write::code_status(&mut self.wire.out, 554, "5.7.1", &text);
            self.close();
            return;
        }
        self.tx = None;
        let name = args.split([' ', '\t']).next().unwrap_or(args);
        self.helo = Some(Helo {
            name: name.to_owned(),
            esmtp,
        });
        if !esmtp {
            write::code(&mut self.wire.out, 250, &self.snapshot.config.hostname);
            return;
        }
        let size = match self.size_limit() {
            0 => "SIZE".to_owned(),
            n => format!("SIZE {n}"),
        };
        let host = self.host().to_owned();
        let mut lines = vec![
            host.as_str(),
            "PIPELINING",
            size.as_str(),
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
        ];
        if self.snapshot.config.smtp.dsn {
            lines.push("DSN");
        }
        lines.extend(["SMTPUTF8", "CHUNKING"]);
        if self.starttls_offered() {
            lines.push("STARTTLS");
        }
        if self.auth_offered() && self.auth_user.is_none() {
            lines.push(if self.cram_offered() {
                "AUTH PLAIN LOGIN CRAM-MD5"
            } else {
                "AUTH PLAIN LOGIN"
            });
        }
        if !self.snapshot.config.smtp.etrn_domains.is_empty() {
            lines.push("ETRN");
        }
        lines.push("HELP");
        write::code_lines(&mut self.wire.out, 250, lines);
    }

    fn on_mail(&mut self, path: Path, params: MailParams) {
        if self.helo.is_none() {
            return self.error(503, "5.5.1", "Send EHLO or HELO first");
        }
        if self.tx.is_some() {
            return self.error(503, "5.5.1", "Nested MAIL command");
        }
        if self.blocklist == Blocklist::NotAsked && self.blocklist_applies() {
            self.held_mail = Some((path, params));
            let ip = self.info.peer_ip;
            self.wire.ask(SmtpEvent::Dnsbl { ip }, Awaiting::Dnsbl);
            return;
        }
        if let Blocklist::Listed(zone) = &self.blocklist {
            // Postfix's wording, so administrators and senders recognise it.
            let text = format!(
                "Service unavailable; client [{}] blocked using {zone}",
                self.info.peer_ip
            );
            write::code_status(&mut self.wire.out, 554, "5.7.1", &text);
            return;
        }
        let sender = match path {
            Path::Null => None,
            Path::Mailbox(m) => Some(m),
            Path::Postmaster => return self.error(501, "5.1.7", "Bad sender address syntax"),
        };
        if (params.ret.is_some() || params.envid.is_some()) && !self.snapshot.config.smtp.dsn {
            return self.error(555, "5.5.4", "DSN parameters are not supported");
        }
        if sender.as_ref().is_some_and(|s| !s.is_ascii()) && !params.smtputf8 {
            return self.error(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
        }
        let limit = match self.size_limit() {
            0 => ABSOLUTE_MAX_MESSAGE,
            n => n.min(ABSOLUTE_MAX_MESSAGE),
        };
        if params.size.is_some_and(|s| s > limit) {
            write::code_status(
                &mut self.wire.out,
                552,
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            );
            return;
        }
        self.tx = Some(Transaction {
            sender,
            size_limit: limit,
            eight_bit: params.body == Some(Body::EightBitMime) || params.smtputf8,
            smtputf8: params.smtputf8,
            dsn_ret: params.ret,
            dsn_envid: params.envid,
            recipients: Vec::new(),
            data: Vec::new(),
            scanner: None,
            id: String::new(),
            declared_size: params.size,
            rules_done: false,
            unsettled: false,
            rcpt_count: 0,
            ignored: 0,
            discard: false,
            redirect: None,
            message_start: 0,
            auth_checked: false,
            junk: false,
        });
        if let Some(fired) = self.rule_at(Stage::Mail, None) {
            return self.apply_mail_rule(fired);
        }
        write::code_status(&mut self.wire.out, 250, "2.1.0", "Sender OK");
    }

    fn on_rcpt(&mut self, path: Path, params: RcptParams) {
        let Some(tx) = self.tx.as_ref() else {
            return self.error(503, "5.5.1", "Need MAIL command first");
        };
        if tx.scanner.is_some() {
            return self.error(503, "5.5.1", "RCPT not allowed after BDAT");
        }
        if (params.notify.is_some() || params.orcpt.is_some()) && !self.snapshot.config.smtp.dsn {
            return self.error(555, "5.5.4", "DSN parameters are not supported");
        }
        let rcpt = match path {
            Path::Mailbox(m) => m,
            Path::Postmaster => {
                let text = format!("postmaster@{}", self.snapshot.config.default_domain);
                match Mailbox::parse(&text) {
                    Ok(m) => m,
                    Err(_) => {
                        write::code_status(
                            &mut self.wire.out,
                            550,
                            "5.1.1",
                            "Recipient not recognised",
                        );
                        return;
                    }
                }
            }
            Path::Null => return self.error(501, "5.1.3", "Bad recipient address syntax"),
        };
        if !rcpt.is_ascii() && !tx.smtputf8 {
            return self.error(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
        }
        let smtp = &self.snapshot.config.smtp;
        if smtp.refuse_percent && rcpt.as_str().contains('%') {
            write::code_status(
                &mut self.wire.out,
                550,
                "5.7.1",
                "Addresses containing '%' are not accepted",
            );
            return;
        }
        let max = smtp.max_recipients as usize;
        if max != 0 && tx.recipients.len() >= max {
            write::code_status(&mut self.wire.out, 452, "4.5.3", "Too many recipients");
            return;
        }
        let fired = if tx.rules_done {
            None
        } else {
            self.rule_at(Stage::Rcpt, Some(rcpt.as_str()))
        };
        let Some(tx) = self.tx.as_ref() else { return };
        let facts = SessionFacts {
            peer_ip: self.info.peer_ip,
            auth_user: self.auth_user.as_deref(),
            pop_before_smtp: self.info.pop_before_smtp,
            sender: tx.sender.as_ref(),
        };
        if let Some(fired) = &fired {
            match &fired.action {
                Action::Reject => {
                    let r = fired.refusal();
                    write::code_status(&mut self.wire.out, r.code, r.status, r.text);
                    let reply = format!("{} {}", r.code, r.status);
                    return self.log_rule(fired.clone(), Some(rcpt.as_str()), Some(reply), false);
                }
                Action::Redirect(target) => {
                    // The rule's target takes the recipient's place unchecked.
                    let (address, route) = policy::rule_target(&self.snapshot, &facts, target);
                    if let Some(tx) = self.tx.as_mut() {
                        tx.rcpt_count += 1;
                        add_recipient(tx, address, route, None, None);
                    }
                    write::code_status(&mut self.wire.out, 250, "2.1.5", "Recipient OK");
                    return self.log_rule(fired.clone(), Some(rcpt.as_str()), None, false);
                }
                Action::Ignore => {
                    // Appears accepted and is dropped (§8.2.1): nothing is stored for
                    // it, so no recipient or relay check is needed.
                    if let Some(tx) = self.tx.as_mut() {
                        tx.rcpt_count += 1;
                        tx.ignored += 1;
                    }
                    write::code_status(&mut self.wire.out, 250, "2.1.5", "Recipient OK");
                    return self.log_rule(fired.clone(), Some(rcpt.as_str()), None, false);
                }
                Action::Accept | Action::Copy(_) => {}
            }
        }
        let copy = match fired.as_ref().map(|f| &f.action) {
            Some(Action::Copy(target)) => Some(policy::rule_target(&self.snapshot, &facts, target)),
            _ => None,
        };
        // Mail held for a downstream server (§7.7.3) is accepted like a backup MX's.
        let held = etrn_held(&self.snapshot.config.smtp.etrn_domains, rcpt.domain()).is_some();
        let decision = if held {
            RcptDecision::Accept(super::Route::Remote)
        } else {
            policy::decide_recipient(&self.snapshot, &facts, &rcpt)
        };
        let address = rcpt.as_str().to_owned();
        match decision {
            RcptDecision::Refuse(r) => {
                write::code_status(&mut self.wire.out, r.code, r.status, r.text);
                // Unknown local users and refused relaying are how spammers probe.
                self.wire.strike();
            }
            RcptDecision::Accept(route) => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.rcpt_count += 1;
                    if fired.is_none() {
                        tx.unsettled = true;
                    }
                    add_recipient(tx, rcpt.into_string(), route, params.notify, params.orcpt);
                    if let Some((address, route)) = copy {
                        add_recipient(tx, address, route, None, None);
                    }
                }
                write::code_status(&mut self.wire.out, 250, "2.1.5", "Recipient OK");
            }
        }
        if let Some(fired) = fired {
            self.log_rule(fired, Some(&address), None, false);
        }
    }

    /// The local clock now, for `TimeNow:` and `DayNow:`.
    fn clock(&self) -> LocalClock {
        let secs = i64::try_from(self.wire.now().unix_secs()).unwrap_or(i64::MAX);
        LocalClock::at(secs.saturating_add(i64::from(self.info.local_offset_secs)))
    }

    /// The SMTP rule that fires at `stage` for the current transaction; at RCPT for
    /// the recipient `rcpt` being given.
    fn rule_at(&self, stage: Stage, rcpt: Option<&str>) -> Option<Fired> {
        let rules = &self.snapshot.access.smtp_rules;
        if !rules.any_at(stage) {
            return None;
        }
        let tx = self.tx.as_ref()?;
        let mail_from = tx.sender.as_ref().map_or("", Mailbox::as_str);
        let recipients: Vec<String> = match rcpt {
            Some(r) => vec![r.to_owned()],
            None => tx.recipients.iter().map(|r| r.address.clone()).collect(),
        };
        let message = tx.data.get(tx.message_start..).unwrap_or_default();
        let input = RuleInput {
            mail_from,
            recipients: &recipients,
            rcpt_count: tx.rcpt_count + usize::from(rcpt.is_some()),
            size: match stage {
                Stage::Data => Some(message.len() as u64),
                _ => tx.declared_size,
            },
            size_known_at_mail: tx.declared_size.is_some(),
            message: if stage == Stage::Data { message } else { &[] },
            clock: self.clock(),
        };
        rules.decide(stage, &input)
    }

    /// Carry out a rule that fired at MAIL; the reply to MAIL is written here.
    fn apply_mail_rule(&mut self, fired: Fired) {
        let facts = SessionFacts {
            peer_ip: self.info.peer_ip,
            auth_user: self.auth_user.as_deref(),
            pop_before_smtp: self.info.pop_before_smtp,
            sender: self.tx.as_ref().and_then(|tx| tx.sender.as_ref()),
        };
        let redirect = match &fired.action {
            Action::Redirect(t) | Action::Copy(t) => {
                let (address, route) = policy::rule_target(&self.snapshot, &facts, t);
                Some(Recipient {
                    address,
                    route,
                    dsn_notify: None,
                    dsn_orcpt: None,
                })
            }
            _ => None,
        };
        if fired.action == Action::Reject {
            let r = fired.refusal();
            write::code_status(&mut self.wire.out, r.code, r.status, r.text);
            let reply = format!("{} {}", r.code, r.status);
            self.log_rule(fired, None, Some(reply), false);
            self.tx = None;
            return;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.rules_done = true;
            match &fired.action {
                Action::Ignore => tx.discard = true,
                Action::Redirect(_) => tx.redirect = redirect,
                // A copy goes along from the start; the recipients join it.
                Action::Copy(_) => {
                    if let Some(r) = redirect {
                        add_recipient(tx, r.address, r.route, None, None);
                    }
                }
                Action::Accept | Action::Reject => {}
            }
        }
        write::code_status(&mut self.wire.out, 250, "2.1.0", "Sender OK");
        self.log_rule(fired, None, None, false);
    }

    /// Hand an activation to the driver for the SMTP rules log (§8.2, RUL-4).
    fn log_rule(
        &mut self,
        fired: Fired,
        rcpt: Option<&str>,
        reply: Option<String>,
        then_deliver: bool,
    ) {
        let tx = self.tx.as_ref();
        let stage = fired.stage;
        let message = tx
            .filter(|_| stage == Stage::Data)
            .and_then(|tx| tx.data.get(tx.message_start..));
        let activation = Activation {
            session: self.info.session_id.clone(),
            client_ip: self.info.peer_ip,
            auth_user: self.auth_user.clone(),
            mail_from: tx
                .and_then(|tx| tx.sender.as_ref())
                .map_or(String::new(), |m| m.as_str().to_owned()),
            recipients: match rcpt {
                Some(r) => vec![r.to_owned()],
                None => tx.map_or(Vec::new(), |tx| {
                    tx.recipients.iter().map(|r| r.address.clone()).collect()
                }),
            },
            subject: message.and_then(crate::smtprules::subject_of),
            size: match message {
                Some(m) => Some(m.len() as u64),
                None => tx.and_then(|tx| tx.declared_size),
            },
            reply,
            fired,
        };
        self.wire.ask(
            SmtpEvent::RuleFired(Box::new(activation)),
            Awaiting::RuleLog { then_deliver },
        );
    }

    /// Check that a transaction can take data; refuse with the reason if not.
    fn data_refusal(&self) -> Option<Refusal> {
        let Some(tx) = self.tx.as_ref() else {
            return Some(Refusal {
                code: 503,
                status: "5.5.1",
                text: "Need MAIL command first",
            });
        };
        if tx.recipients.is_empty() && tx.ignored == 0 {
            return Some(Refusal {
                code: 554,
                status: "5.5.1",
                text: "No valid recipients",
            });
        }
        None
    }

    /// Start the message: number it, write the `Received:` line, set up the reader.
    fn begin_content(&mut self, now: Instant, framing: Framing) {
        self.messages = self.messages.saturating_add(1);
        let esmtp = self.helo.as_ref().is_some_and(|h| h.esmtp);
        let protocol = received::protocol(esmtp, self.wire.tls_active, self.auth_user.is_some());
        let smtp = &self.snapshot.config.smtp;
        let (policy, max_line, hide_ip) = (
            smtp.bare_newlines,
            smtp.max_data_line,
            smtp.hide_ip_addresses,
        );
        let Some(tx) = self.tx.as_mut() else { return };
        tx.id.clear();
        let _ = write!(tx.id, "{}.{}", self.info.session_id, self.messages);
        let rcpt = match tx.recipients.as_slice() {
            [one] => Some(one.address.as_str()),
            _ => None,
        };
        let trace = Trace {
            helo: self.helo.as_ref().map_or("unknown", |h| h.name.as_str()),
            ip: (!hide_ip).then_some(self.info.peer_ip),
            host: &self.snapshot.config.hostname,
            protocol,
            id: &tx.id,
            rcpt,
            date: now,
        };
        tx.data.clear();
        received::write_received(&mut tx.data, &trace);
        tx.message_start = tx.data.len();
        tx.scanner = Some(BodyScanner::new(
            framing,
            policy,
            tx.data.len(),
            tx.size_limit,
            max_line as usize,
        ));
    }

    fn on_data(&mut self, now: Instant) {
        if let Some(r) = self.data_refusal() {
            return self.refuse(r);
        }
        if self.tx.as_ref().is_some_and(|tx| tx.scanner.is_some()) {
            return self.error(503, "5.5.1", "DATA not allowed after BDAT");
        }
        self.begin_content(now, Framing::Dot);
        write::code(&mut self.wire.out, 354, "End data with <CR><LF>.<CR><LF>");
        self.phase = Phase::Data;
    }

    fn on_bdat(&mut self, now: Instant, size: u64, last: bool) {
        let refuse = self.data_refusal();
        if refuse.is_none() && self.tx.as_ref().is_some_and(|tx| tx.scanner.is_none()) {
            self.begin_content(now, Framing::Chunk);
        }
        self.phase = Phase::Bdat {
            size,
            remaining: size,
            last,
            refuse,
        };
        if size == 0 {
            self.end_of_chunk();
        }
    }

    fn body_refusal(&mut self, why: BodyError) {
        self.tx = None;
        match why {
            BodyError::TooBig => write::code_status(
                &mut self.wire.out,
                552,
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            ),
            BodyError::LineTooLong => write::code_status(
                &mut self.wire.out,
                500,
                "5.5.6",
                "Message refused: line too long",
            ),
            BodyError::BareNewline => write::code_status(
                &mut self.wire.out,
                550,
                "5.6.0",
                "Message refused: bare CR or LF in message (lines must end with CRLF)",
            ),
        }
    }

    fn end_of_data(&mut self) {
        let refused = self
            .tx
            .as_ref()
            .and_then(|tx| tx.scanner.as_ref())
            .and_then(BodyScanner::refused);
        match refused {
            Some(why) => self.body_refusal(why),
            None => self.deliver(),
        }
    }

    fn end_of_chunk(&mut self) {
        let Phase::Bdat {
            size, last, refuse, ..
        } = std::mem::replace(&mut self.phase, Phase::Command)
        else {
            return;
        };
        if let Some(r) = refuse {
            return self.refuse(r);
        }
        let Some(tx) = self.tx.as_mut() else { return };
        let Some(scanner) = tx.scanner.as_mut() else {
            return;
        };
        if last {
            scanner.finish_chunked(&mut tx.data);
        }
        if let Some(why) = scanner.refused() {
            return self.body_refusal(why);
        }
        if last {
            self.deliver();
        } else {
            let text = format!("{size} octets received");
            write::code_status(&mut self.wire.out, 250, "2.0.0", &text);
        }
    }

    /// The message is all there: the after-DATA SMTP rules, then the store.
    fn deliver(&mut self) {
        if self.wants_auth_check() {
            return self.ask_auth_check();
        }
        let Some(tx) = self.tx.as_ref() else { return };
        let fired = if tx.rules_done || !tx.unsettled {
            None
        } else {
            self.rule_at(Stage::Data, None)
        };
        let Some(fired) = fired else {
            return self.deliver_now();
        };
        let facts = SessionFacts {
            peer_ip: self.info.peer_ip,
            auth_user: self.auth_user.as_deref(),
            pop_before_smtp: self.info.pop_before_smtp,
            sender: tx.sender.as_ref(),
        };
        let target = match &fired.action {
            Action::Redirect(t) | Action::Copy(t) => {
                Some(policy::rule_target(&self.snapshot, &facts, t))
            }
            _ => None,
        };
        match &fired.action {
            Action::Reject => {
                let r = fired.refusal();
                write::code_status(&mut self.wire.out, r.code, r.status, r.text);
                let reply = format!("{} {}", r.code, r.status);
                self.log_rule(fired, None, Some(reply), false);
                self.tx = None;
            }
            Action::Ignore => {
                self.accepted_unstored();
                self.log_rule(fired, None, None, false);
                self.tx = None;
            }
            Action::Accept | Action::Redirect(_) | Action::Copy(_) => {
                // Logged with the recipients as given; the store comes after the log.
                self.log_rule(fired.clone(), None, None, true);
                if let (Some(tx), Some((address, route))) = (self.tx.as_mut(), target) {
                    if matches!(fired.action, Action::Redirect(_)) {
                        tx.recipients.clear();
                    }
                    add_recipient(tx, address, route, None, None);
                }
            }
        }
    }

    /// Unauthenticated mail from a client `[mailauth] skip` does not list is checked
    /// once, before the after-DATA rules (so they see the results).
    fn wants_auth_check(&self) -> bool {
        let cfg = &self.snapshot.config.mailauth;
        self.tx.as_ref().is_some_and(|tx| !tx.auth_checked)
            && self.auth_user.is_none()
            && cfg.enabled
            && !cfg.skips(self.info.peer_ip)
    }

    fn ask_auth_check(&mut self) {
        let Some(tx) = self.tx.as_mut() else { return };
        tx.auth_checked = true;
        let request = AuthRequest {
            id: tx.id.clone(),
            client_ip: self.info.peer_ip,
            helo: self
                .helo
                .as_ref()
                .map(|h| h.name.clone())
                .unwrap_or_default(),
            mail_from: tx.sender.as_ref().map(|m| m.as_str().to_owned()),
            message: tx.data.get(tx.message_start..).unwrap_or_default().to_vec(),
        };
        self.wire
            .ask(SmtpEvent::CheckAuth(Box::new(request)), Awaiting::AuthCheck);
    }

    /// Record the checks' results in the message, then refuse it or go on.
    fn auth_checked(&mut self, answer: AuthAnswer) {
        let host = self.snapshot.config.hostname.clone();
        let Some(tx) = self.tx.as_mut() else { return };
        let start = tx.message_start;
        let (cleaned, _) = crate::mailauth::strip_own_results(&tx.data[start..], &host);
        tx.data.truncate(start);
        tx.data.extend_from_slice(answer.header.as_bytes());
        tx.data.extend_from_slice(&cleaned);
        match answer.verdict {
            Verdict::Refuse { temporary } => {
                self.tx = None;
                let (code, status) = if temporary {
                    (451, "4.7.5")
                } else {
                    (550, "5.7.1")
                };
                write::code_status(&mut self.wire.out, code, status, &answer.refusal);
            }
            Verdict::Deliver => self.deliver(),
            Verdict::Junk => {
                tx.junk = true;
                self.deliver();
            }
        }
    }

    /// The 250 for a message an Ignore rule throws away: what a stored one gets.
    fn accepted_unstored(&mut self) {
        let text = format!("Ok: queued as {}.{}", self.info.session_id, self.messages);
        write::code_status(&mut self.wire.out, 250, "2.0.0", &text);
    }

    fn deliver_now(&mut self) {
        let Some(mut tx) = self.tx.take() else { return };
        if let Some(r) = tx.redirect.take() {
            tx.recipients = vec![r];
        }
        if tx.discard || tx.recipients.is_empty() {
            // An Ignore rule at MAIL, or every recipient ignored at RCPT.
            return self.accepted_unstored();
        }
        let envelope = Envelope {
            mail_from: tx.sender.map(Mailbox::into_string),
            recipients: tx.recipients,
            helo: self
                .helo
                .as_ref()
                .map(|h| h.name.clone())
                .unwrap_or_default(),
            client_ip: self.info.peer_ip,
            auth_user: self.auth_user.clone(),
            eight_bit: tx.eight_bit,
            dsn_ret: tx.dsn_ret,
            dsn_envid: tx.dsn_envid,
        };
        let delivery = Delivery {
            id: tx.id,
            envelope,
            data: tx.data,
            junk: tx.junk,
        };
        self.wire
            .ask(SmtpEvent::Deliver(Box::new(delivery)), Awaiting::Delivery);
    }

    fn on_auth(&mut self, mechanism: &str, initial: Option<&str>) {
        if !self.helo.as_ref().is_some_and(|h| h.esmtp) {
            return self.error(503, "5.5.1", "Send EHLO first");
        }
        if self.auth_user.is_some() {
            return self.error(503, "5.5.1", "Already authenticated");
        }
        if self.tx.is_some() {
            return self.error(503, "5.5.1", "AUTH not permitted during a mail transaction");
        }
        if !self.auth_offered() {
            if self.starttls_offered() {
                return self.error(538, "5.7.11", "Encryption required: use STARTTLS first");
            }
            return self.error(503, "5.5.1", "AUTH not available on this connection");
        }
        let Some(mech) =
            sasl::mechanism(mechanism).filter(|m| *m != Mechanism::CramMd5 || self.cram_offered())
        else {
            return self.error(504, "5.5.4", "Unrecognized authentication type");
        };
        match (mech, initial) {
            (Mechanism::Plain, Some(resp)) => self.on_sasl(SaslStep::Plain, resp.as_bytes()),
            (Mechanism::Plain, None) => {
                write::code(&mut self.wire.out, 334, "");
                self.phase = Phase::Sasl(SaslStep::Plain);
            }
            (Mechanism::Login, Some(resp)) => self.on_sasl(SaslStep::LoginUser, resp.as_bytes()),
            (Mechanism::Login, None) => {
                write::code(&mut self.wire.out, 334, sasl::LOGIN_USERNAME);
                self.phase = Phase::Sasl(SaslStep::LoginUser);
            }
            (Mechanism::CramMd5, Some(_)) => {
                self.error(501, "5.5.2", "CRAM-MD5 takes no initial response")
            }
            (Mechanism::CramMd5, None) => {
                // RFC 2195: a unique, timestamped challenge. The session id is unique
                // per connection and comes from the driver; core draws no entropy.
                let challenge = format!(
                    "<{}.{}@{}>",
                    self.info.session_id,
                    self.wire.now().unix_secs(),
                    self.host()
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(&challenge);
                write::code(&mut self.wire.out, 334, &encoded);
                self.phase = Phase::Sasl(SaslStep::Cram { challenge });
            }
        }
    }

    fn on_sasl(&mut self, step: SaslStep, line: &[u8]) {
        let result = std::str::from_utf8(line)
            .map_err(|_| SaslError::Malformed)
            .and_then(sasl::decode);
        let result = result.and_then(|bytes| match step {
            SaslStep::Plain => sasl::plain(&bytes)
                .map(|(user, password)| Some(SmtpEvent::Authenticate { user, password })),
            SaslStep::LoginUser => {
                let user = sasl::utf8(&bytes)?;
                write::code(&mut self.wire.out, 334, sasl::LOGIN_PASSWORD);
                self.phase = Phase::Sasl(SaslStep::LoginPassword { user });
                Ok(None)
            }
            SaslStep::LoginPassword { user } => Ok(Some(SmtpEvent::Authenticate {
                user,
                password: sasl::utf8(&bytes)?,
            })),
            SaslStep::Cram { challenge } => {
                let (user, digest) = sasl::cram(&bytes)?;
                Ok(Some(SmtpEvent::AuthenticateCram {
                    user,
                    challenge,
                    digest,
                }))
            }
        });
        match result {
            Ok(Some(event)) => self.wire.ask(event, Awaiting::Auth),
            Ok(None) => {}
            Err(SaslError::Cancelled) => self.error(501, "5.0.0", "Authentication cancelled"),
            Err(SaslError::Malformed) => {
                self.error(501, "5.5.2", "Invalid authentication response")
            }
            Err(SaslError::OtherIdentity) => {
                self.error(535, "5.7.8", "Authentication credentials invalid")
            }
        }
    }

    /// RFC 1985 `ETRN`: ask the driver to start delivering a held domain's mail.
    fn on_etrn(&mut self, node: &str) {
        if self.helo.is_none() {
            return self.error(503, "5.5.1", "Send EHLO or HELO first");
        }
        if self.tx.is_some() {
            return self.error(
                503,
                "5.5.1",
                "ETRN is not allowed inside a mail transaction",
            );
        }
        // `@domain` asks for subdomains too and `#name` for a named queue; both come
        // down to a configured domain here.
        let domain = node.trim_start_matches(['@', '#']);
        match etrn_held(&self.snapshot.config.smtp.etrn_domains, domain) {
            None => {
                let text = format!("Node {domain} not allowed");
                write::code_status(&mut self.wire.out, 459, "4.7.1", &text);
            }
            Some(i) => {
                let domain = self.snapshot.config.smtp.etrn_domains[i].clone();
                self.wire.ask(SmtpEvent::Etrn { domain }, Awaiting::Etrn(i));
            }
        }
    }

    fn on_starttls(&mut self) {
        if self.wire.tls_active {
            return self.error(503, "5.5.1", "TLS already active");
        }
        if !self.info.tls_available {
            return self.error(502, "5.5.1", "STARTTLS not available");
        }
        write::code_status(&mut self.wire.out, 220, "2.0.0", "Ready to start TLS");
        // RFC 3207 §4.2: forget everything learned before the handshake.
        self.helo = None;
        self.tx = None;
        self.auth_user = None;
        self.wire.start_tls();
    }
}

impl LineProtocol for SmtpServer {
    fn on_line(&mut self, now: Instant, line: &[u8]) {
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::Sasl(step) => self.on_sasl(step, line),
            Phase::Command => self.on_command(now, line),
            other => self.phase = other,
        }
    }

    fn on_line_too_long(&mut self) {
        if matches!(self.phase, Phase::Sasl(_)) {
            self.phase = Phase::Command;
        }
        self.error(500, "5.5.6", "Line too long");
    }

    fn farewell(&mut self, why: Farewell) {
        let (status, text) = match why {
            Farewell::Idle => ("4.4.2", "Idle timeout, closing connection"),
            other => ("4.7.0", other.text()),
        };
        let text = format!("{} {text}", self.host());
        write::code_status(&mut self.wire.out, 421, status, &text);
        self.close();
    }

    /// DATA and BDAT content; lines otherwise.
    fn raw(&mut self, _now: Instant, input: &[u8]) -> Option<usize> {
        match &mut self.phase {
            Phase::Data => {
                let Some(tx) = self.tx.as_mut() else {
                    self.phase = Phase::Command;
                    return Some(0);
                };
                let Some(scanner) = tx.scanner.as_mut() else {
                    self.phase = Phase::Command;
                    return Some(0);
                };
                let (n, ended) = scanner.scan(input, &mut tx.data);
                if ended {
                    self.phase = Phase::Command;
                    self.end_of_data();
                }
                Some(n)
            }
            Phase::Bdat {
                remaining, refuse, ..
            } => {
                let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                *remaining -= take as u64;
                let done = *remaining == 0;
                if refuse.is_none() {
                    if let Some(tx) = self.tx.as_mut() {
                        if let Some(scanner) = tx.scanner.as_mut() {
                            scanner.scan(&input[..take], &mut tx.data);
                        }
                    }
                }
                if done {
                    self.end_of_chunk();
                }
                Some(take)
            }
            Phase::Command | Phase::Sasl(_) => None,
        }
    }

    fn answer(&mut self, cmd: SmtpCommand) -> bool {
        match (cmd, self.wire.awaiting()) {
            (SmtpCommand::AuthResult(result), Some(Awaiting::Auth)) => match result {
                Some(name) => {
                    self.auth_user = Some(name);
                    write::code_status(
                        &mut self.wire.out,
                        235,
                        "2.7.0",
                        "Authentication successful",
                    );
                }
                None => self.error(535, "5.7.8", "Authentication credentials invalid"),
            },
            (SmtpCommand::DeliveryResult(result), Some(Awaiting::Delivery)) => match result {
                Ok(()) => {
                    let text = format!("Ok: queued as {}.{}", self.info.session_id, self.messages);
                    write::code_status(&mut self.wire.out, 250, "2.0.0", &text);
                }
                Err(e) if e.temporary => {
                    write::code_status(&mut self.wire.out, 451, "4.3.0", &e.text)
                }
                Err(e) => write::code_status(&mut self.wire.out, 554, "5.3.0", &e.text),
            },
            (SmtpCommand::DnsblResult(listed), Some(Awaiting::Dnsbl)) => {
                self.blocklist = match listed {
                    Some(zone) => Blocklist::Listed(zone),
                    None => Blocklist::Clear,
                };
                if let Some((path, params)) = self.held_mail.take() {
                    self.on_mail(path, params);
                }
            }
            (SmtpCommand::AuthChecked(answer), Some(Awaiting::AuthCheck)) => {
                self.auth_checked(*answer);
            }
            (SmtpCommand::RuleLogged, Some(Awaiting::RuleLog { then_deliver })) => {
                if then_deliver {
                    self.deliver_now();
                }
            }
            (SmtpCommand::EtrnResult(result), Some(Awaiting::Etrn(i))) => {
                let domain = self
                    .snapshot
                    .config
                    .smtp
                    .etrn_domains
                    .get(i)
                    .cloned()
                    .unwrap_or_default();
                match result {
                    Ok(0) => {
                        let text = format!("OK, no messages waiting for node {domain}");
                        write::code(&mut self.wire.out, 251, &text);
                    }
                    Ok(n) => {
                        let text = format!("OK, {n} pending messages for node {domain} started");
                        write::code(&mut self.wire.out, 253, &text);
                    }
                    Err(_) => {
                        let text = format!("Unable to queue messages for node {domain}");
                        write::code(&mut self.wire.out, 458, &text);
                    }
                }
            }
            _ => return false,
        }
        true
    }
}

session::line_machine!(SmtpServer, SmtpCommand, SmtpEvent, Awaiting, "SMTP server");

/// Add a recipient to the transaction once (addresses compare in any case).
fn add_recipient(
    tx: &mut Transaction,
    address: String,
    route: super::Route,
    dsn_notify: Option<String>,
    dsn_orcpt: Option<String>,
) {
    if !tx
        .recipients
        .iter()
        .any(|r| r.address.eq_ignore_ascii_case(&address))
    {
        tx.recipients.push(Recipient {
            address,
            route,
            dsn_notify,
            dsn_orcpt,
        });
    }
}
