//! Which machine serves a listener, and the application half of each connection:
//! a [`Handler`] per connection answers its machine's events (password checks, the
//! mailbox, the store). Both runtimes drive every service through this one table.

use crate::config::files::load_snapshot;
use crate::config::security::Verdict;
use crate::config::users;
use crate::daemon::reload;
use crate::net::listen::Kind;
use crate::net::pump::{self, Pump, PumpError};
use crate::net::transcript;
use crate::platform::secrets;
use crate::services::app::{dummy_hash, Shared};
use crate::services::defense::ConnTicket;
use crate::services::imap::{ImapMailbox, IDLE_LOOK};
use crate::services::web;
use crate::store::index::{Listed, Mailbox, MailboxError};
use mailroom_core::accounts::{verify_password, Account};
use mailroom_core::auth::{AuthOutcome, ClientInfo};
use mailroom_core::challenge::{apop_digest, cram_md5_digest, digests_match};
use mailroom_core::connlimit::Busy;
use mailroom_core::finger::{FingerCommand, FingerEvent, FingerServer};
use mailroom_core::http::{HttpCommand, HttpEvent, HttpServer};
use mailroom_core::ids::Gate;
use mailroom_core::imap::{ImapCommand, ImapEvent, ImapServer};
use mailroom_core::ldap::{LdapCommand, LdapEvent, LdapServer};
use mailroom_core::monitor::{MonitorCommand, MonitorEvent, MonitorServer};
use mailroom_core::pass::{PassCommand, PassEvent, PassServer};
use mailroom_core::pop3::{MessageEntry, OpenError, Pop3Command, Pop3Event, Pop3Server};
use mailroom_core::security::Service;
use mailroom_core::smtp::{SmtpCommand, SmtpEvent, SmtpServer};
use mailroom_core::{Instant, Machine};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;

/// Bytes of a message read from disk per step of RETR: a 50 MB message never sits in
/// memory, and a small one goes out in one step.
pub const RETRIEVE_CHUNK: usize = 64 * 1024;

/// The application half of one connection.
pub trait Handler: Send + 'static {
    type Machine: Machine;
    /// Answer one event; `None` for the events that want no answer (IMAP's
    /// `Deselect` and `Idle`). May block (argon2, disk): the async runtime runs it on
    /// its blocking pool unless it is [`Handler::quick`].
    fn answer(
        &mut self,
        event: <Self::Machine as Machine>::Event,
    ) -> Option<<Self::Machine as Machine>::Command>;

    /// Whether `event` is answered in a moment (a read of at most one chunk of a
    /// message, usually from the page cache): the async runtime then answers it in
    /// place, and no driver needs to write out pending output before answering it.
    /// Slow events (passwords, fsync, opening a mailbox) always see the output written
    /// first, so the client is never kept waiting for a reply that is ready.
    fn quick(&self, _event: &<Self::Machine as Machine>::Event) -> bool {
        false
    }

    /// While the session waits for its peer, how often to [`Handler::look`] for news
    /// from elsewhere (IMAP IDLE: the folder changed); `None`: no news expected.
    fn watching(&self) -> Option<std::time::Duration> {
        None
    }

    /// A quick look for news (a few `stat`s at most): a command for the machine, if
    /// any. Answered in place by both runtimes.
    fn look(&mut self) -> Option<<Self::Machine as Machine>::Command> {
        None
    }
}

/// A new connection's machine and handler, by service. The machines are boxed: a session lives for hours, and on a connection thread
/// (mailroom-lite) a machine held inline would keep its stack frames, and so their
/// pages, large for as long (docs/PERFORMANCE.md §10).
pub enum Session {
    Smtp(Box<Pump<SmtpServer>>, SmtpHandler),
    Pop3(Box<Pump<Pop3Server>>, Pop3Handler),
    Pass(Box<Pump<PassServer>>, PassHandler),
    Imap(Box<Pump<ImapServer>>, ImapHandler),
    Http(Box<Pump<HttpServer>>, HttpHandler),
    Finger(Box<Pump<FingerServer>>, FingerHandler),
    Ldap(Box<Pump<LdapServer>>, LdapHandler),
    Monitor(Box<Pump<MonitorServer>>, MonitorHandler),
}

/// A new POP3 or IMAP connection's facts, with a fresh session id.
fn client_info(now: Instant, peer: IpAddr, implicit_tls: bool, tls_available: bool) -> ClientInfo {
    ClientInfo {
        peer_ip: peer,
        session_id: pump::new_session_id(now),
        tls_active: implicit_tls,
        tls_available,
    }
}

/// Set up the session for a connection accepted on a `kind` listener; also returns
/// the session id for logs.
pub fn open(
    shared: &Arc<Shared>,
    kind: Kind,
    peer: IpAddr,
    now: Instant,
) -> Result<(Session, String), PumpError> {
    let snap = shared.snapshot();
    let tls = shared.tls.clone();
    let tls_available = tls.is_some();
    match kind {
        Kind::Smtp | Kind::Smtps => {
            let mut info = pump::session_info(now, peer, kind == Kind::Smtps, tls_available);
            info.pop_before_smtp = shared.security.pop_before_smtp(&snap, peer, now);
            // SMTP rules' TimeNow:/DayNow: are local time; core reads no zone.
            let secs = i64::try_from(now.unix_secs()).unwrap_or(i64::MAX);
            let offset = crate::services::scheduler::localclock::offset_at(secs);
            info.local_offset_secs = i32::try_from(offset).unwrap_or(0);
            let id = info.session_id.clone();
            let mut conn = Pump::new(now, snap, info, tls)?;
            conn.set_transcript(transcript::open(transcript::Kind::SmtpServer, &id));
            let handler = SmtpHandler {
                shared: shared.clone(),
                peer,
            };
            Ok((Session::Smtp(Box::new(conn), handler), id))
        }
        Kind::Pop3 | Kind::Pop3s => {
            let implicit = kind == Kind::Pop3s;
            let info = client_info(now, peer, implicit, tls_available);
            let id = info.session_id.clone();
            let machine = Pop3Server::new(now, snap, info);
            let mut conn = Pump::with_machine(now, machine, implicit, tls)?;
            conn.set_transcript(transcript::open(transcript::Kind::Pop3Server, &id));
            Ok((
                Session::Pop3(Box::new(conn), Pop3Handler::new(shared.clone(), peer)),
                id,
            ))
        }
        Kind::Imap | Kind::Imaps => {
            let implicit = kind == Kind::Imaps;
            let info = client_info(now, peer, implicit, tls_available);
            let id = info.session_id.clone();
            let machine = ImapServer::new(now, snap, info);
            let mut conn = Pump::with_machine(now, machine, implicit, tls)?;
            conn.set_transcript(transcript::open(transcript::Kind::ImapServer, &id));
            let handler = ImapHandler {
                mailbox: ImapMailbox::new(shared.clone()),
                shared: shared.clone(),
                peer,
            };
            Ok((Session::Imap(Box::new(conn), handler), id))
        }
        Kind::Http | Kind::Https => {
            let implicit = kind == Kind::Https;
            let id = pump::new_session_id(now);
            let machine = HttpServer::new(now, web::limits(&snap.config));
            let conn = Pump::with_machine(now, machine, implicit, tls)?;
            let handler = HttpHandler {
                shared: shared.clone(),
                client: web::Client {
                    ip: peer,
                    tls: implicit,
                },
            };
            Ok((Session::Http(Box::new(conn), handler), id))
        }
        Kind::Pass => {
            let id = pump::new_session_id(now);
            let conn = Pump::with_machine(now, PassServer::new(now, snap, peer), false, None)?;
            let handler = PassHandler {
                shared: shared.clone(),
                peer,
            };
            Ok((Session::Pass(Box::new(conn), handler), id))
        }
        Kind::Finger => {
            let id = pump::new_session_id(now);
            let conn = Pump::with_machine(now, FingerServer::new(now), false, None)?;
            let handler = FingerHandler {
                shared: shared.clone(),
            };
            Ok((Session::Finger(Box::new(conn), handler), id))
        }
        Kind::Ldap => {
            let id = pump::new_session_id(now);
            let conn = Pump::with_machine(now, LdapServer::new(now), false, None)?;
            let handler = LdapHandler {
                shared: shared.clone(),
            };
            Ok((Session::Ldap(Box::new(conn), handler), id))
        }
        Kind::Monitor => {
            let id = pump::new_session_id(now);
            let challenge = format!("<{id}.{}@{}>", now.unix_micros(), snap.config.hostname);
            let conn = Pump::with_machine(now, MonitorServer::new(now, challenge), false, None)?;
            let handler = MonitorHandler {
                shared: shared.clone(),
                peer,
                feed: None,
            };
            Ok((Session::Monitor(Box::new(conn), handler), id))
        }
    }
}

/// A connection the IDS/IPS and the connection limits let in; counted until the
/// session it is handed to ([`accept`]) ends.
pub struct Admitted {
    _ticket: ConnTicket,
}

/// A connection turned away at accept: the protocol's reply, then close.
pub struct TurnedAway {
    reply: Vec<u8>,
}

impl TurnedAway {
    /// Write the reply (one small write to a fresh socket: it never waits) and drop
    /// the connection.
    pub fn send(self, stream: &TcpStream) {
        if !self.reply.is_empty() {
            let mut s = stream;
            let _ = s.write(&self.reply);
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

/// Why a connection is turned away at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Blocked,
    Busy,
}

/// The refusal a client of the `[services]` key `service` understands. The TLS
/// services get none: nothing is readable before a handshake, and a handshake is
/// what a flood should not get.
fn refusal(service: &str, host: &str, why: Refusal) -> Vec<u8> {
    let text = match why {
        Refusal::Blocked => "Your address is blocked after repeated errors, try again later",
        Refusal::Busy => "Too many connections, try again later",
    };
    match service {
        "smtp" => format!("421 4.7.0 {host} {text}\r\n"),
        "pop3" => format!("-ERR [SYS/TEMP] {text}\r\n"),
        "imap" => format!("* BYE {text}\r\n"),
        "pass" => format!("500 {text}\r\n"),
        "http" => {
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                .to_string()
        }
        _ => String::new(),
    }
    .into_bytes()
}

/// Whether a connection from `peer` on a `kind` listener may be served: not on the
/// IDS/IPS block list (docs/DEFENSE.md) and within `[limits]`. Both runtimes ask
/// this right after accept, before any session or TLS exists.
pub fn admit(shared: &Arc<Shared>, kind: Kind, peer: SocketAddr) -> Result<Admitted, TurnedAway> {
    let snap = shared.snapshot();
    let config = &snap.config;
    let (service, ip) = (kind.key(), peer.ip());
    let now = crate::platform::clock::now();
    let gate = shared.defense.gate(config, ip, now);
    let trusted = gate == Gate::Exempt;
    let why = match gate {
        Gate::Blocked { .. } => Refusal::Blocked,
        Gate::Open | Gate::Exempt => match shared.defense.admit(config, service, ip, trusted) {
            Ok(ticket) => return Ok(Admitted { _ticket: ticket }),
            Err(Busy::Service) => {
                tracing::warn!(peer = %peer, service, "too many connections to the service");
                Refusal::Busy
            }
            Err(Busy::Client) => {
                tracing::info!(peer = %peer, service, "too many connections from this client");
                Refusal::Busy
            }
        },
    };
    if why == Refusal::Blocked {
        tracing::debug!(peer = %peer, service, "refused: on the IDS block list");
    }
    Err(TurnedAway {
        reply: refusal(service, &config.hostname, why),
    })
}

/// Open the session for a connection from `peer` accepted on a `kind` listener and
/// [`admit`]ted, for a runtime's socket loop; `None` (logged) when it cannot start.
/// The [`SessionLog`] logs the end, adds the session's client errors to the IDS/IPS
/// score, and for SMTP keeps a dial-up online while the session runs (§6.3.3).
pub fn accept(
    shared: &Arc<Shared>,
    kind: Kind,
    peer: SocketAddr,
    admitted: Admitted,
) -> Option<(Session, SessionLog)> {
    // FINGERALLOWED.DAT, LDAPALLOWED.DAT: these protocols have no refusal to send, so
    // a client not allowed is disconnected at once (the others' machines answer it).
    let access = &shared.snapshot().access;
    let refused = match kind {
        Kind::Finger => !access.finger.may_connect(peer.ip()),
        Kind::Ldap => !access.ldap.may_connect(peer.ip()),
        _ => false,
    };
    if refused {
        tracing::info!(peer = %peer, service = kind.key(), "refused by the access file");
        return None;
    }
    let (session, id) = match open(shared, kind, peer.ip(), crate::platform::clock::now()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(peer = %peer, "cannot start a {} session: {e}", kind.key());
            return None;
        }
    };
    tracing::debug!(session = %id, peer = %peer, service = kind.key(), "connected");
    let inbound = matches!(session, Session::Smtp(..)).then(InboundSmtp::start);
    Some((
        session,
        SessionLog {
            id,
            peer,
            shared: shared.clone(),
            _inbound: inbound,
            _admitted: admitted,
        },
    ))
}

/// A running session's identity for the logs.
pub struct SessionLog {
    id: String,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _inbound: Option<InboundSmtp>,
    _admitted: Admitted,
}

impl SessionLog {
    /// The session is over: `result` is how its socket loop ended, `client_errors`
    /// its machine's [`Machine::client_errors`] for the IDS/IPS. Errors are added
    /// when a session ends: `max_errors` closes a session that keeps making them,
    /// and the block applies to the next connection.
    pub fn ended<E: std::fmt::Display>(self, (result, client_errors): (Result<(), E>, u32)) {
        let SessionLog {
            id,
            peer,
            shared,
            _inbound,
            _admitted,
        } = self;
        drop(_inbound);
        drop(_admitted);
        let snap = shared.snapshot();
        let now = crate::platform::clock::now();
        shared
            .defense
            .record(&snap.config, peer.ip(), client_errors, now);
        if let Err(e) = result {
            tracing::info!(session = %id, peer = %peer, "session ended: {e}");
        }
        tracing::debug!(session = %id, "closed");
    }
}

/// Tells the connection scheduler an SMTP session runs, from start to drop.
struct InboundSmtp;

impl InboundSmtp {
    fn start() -> Self {
        crate::services::scheduler::inbound(true);
        InboundSmtp
    }
}

impl Drop for InboundSmtp {
    fn drop(&mut self) {
        crate::services::scheduler::inbound(false);
    }
}

/// Check a password against the current accounts, spending the same time whether or
/// not the name exists.
fn password_verdict(shared: &Shared, account: Option<&Account>, password: &str) -> Verdict {
    let ok = match account {
        Some(a) => shared.passwords.verify(&a.name, &a.password_hash, password),
        None => {
            let _ = verify_password(dummy_hash(), password);
            false
        }
    };
    if ok {
        Verdict::Right
    } else {
        Verdict::Wrong
    }
}

fn password_login(
    shared: &Shared,
    service: Service,
    peer: IpAddr,
    user: &str,
    password: &str,
) -> AuthOutcome {
    let snap = shared.snapshot();
    shared.security.login(
        &snap,
        service,
        peer,
        user,
        crate::platform::clock::now(),
        |account| password_verdict(shared, account, password),
    )
}

/// A challenge-response check: `expected(secret)` is the digest the client should
/// have sent. Needs the option on and a stored secret for the account.
fn challenge_login(
    shared: &Shared,
    service: Service,
    peer: IpAddr,
    user: &str,
    given: &str,
    expected: impl FnOnce(&str) -> String,
) -> AuthOutcome {
    let snap = shared.snapshot();
    let enabled = snap.config.accounts.challenge_response;
    let dd = shared.store.data_dir().clone();
    shared.security.login(
        &snap,
        service,
        peer,
        user,
        crate::platform::clock::now(),
        |account| {
            let Some(account) = account else {
                return Verdict::Wrong;
            };
            if !enabled {
                return Verdict::Unavailable;
            }
            match secrets::load(&dd, &account.name) {
                Ok(Some(secret)) if digests_match(&expected(&secret), given) => Verdict::Right,
                Ok(Some(_)) => Verdict::Wrong,
                Ok(None) => Verdict::Unavailable,
                Err(e) => {
                    tracing::error!(user = %account.name, "challenge-response secret: {e}");
                    Verdict::Unavailable
                }
            }
        },
    )
}

pub struct SmtpHandler {
    shared: Arc<Shared>,
    peer: IpAddr,
}

impl Handler for SmtpHandler {
    type Machine = SmtpServer;

    fn answer(&mut self, event: SmtpEvent) -> Option<SmtpCommand> {
        Some(match event {
            SmtpEvent::Authenticate { user, password } => {
                let outcome =
                    password_login(&self.shared, Service::Smtp, self.peer, &user, &password);
                SmtpCommand::AuthResult(match outcome {
                    AuthOutcome::Ok(name) => Some(name),
                    _ => None,
                })
            }
            SmtpEvent::AuthenticateCram {
                user,
                challenge,
                digest,
            } => {
                let outcome = challenge_login(
                    &self.shared,
                    Service::Smtp,
                    self.peer,
                    &user,
                    &digest,
                    |s| cram_md5_digest(&challenge, s),
                );
                SmtpCommand::AuthResult(match outcome {
                    AuthOutcome::Ok(name) => Some(name),
                    _ => None,
                })
            }
            other => self.shared.answer(other),
        })
    }

    /// Logging a rule activation is an append to a log file.
    fn quick(&self, event: &SmtpEvent) -> bool {
        matches!(event, SmtpEvent::RuleFired(_))
    }
}

/// One POP3 connection's side of the mailbox: the lock (held from login to the end of
/// the connection), the listing, and the message being sent.
pub struct Pop3Handler {
    shared: Arc<Shared>,
    peer: IpAddr,
    mailbox: Option<Mailbox>,
    listing: Vec<Listed>,
    /// The message being sent, and how many of its octets are still to be read.
    reading: Option<(File, u64)>,
    logged_in: bool,
}

impl Pop3Handler {
    pub fn new(shared: Arc<Shared>, peer: IpAddr) -> Self {
        Pop3Handler {
            shared,
            peer,
            mailbox: None,
            listing: Vec::new(),
            reading: None,
            logged_in: false,
        }
    }

    fn open(&mut self, user: &str) -> Pop3Command {
        match self.shared.store.open_mailbox(user) {
            Ok(mailbox) => {
                self.listing = mailbox.visible().cloned().collect();
                self.mailbox = Some(mailbox);
                if !self.logged_in {
                    self.logged_in = true;
                    self.shared
                        .security
                        .pop_login(self.peer, crate::platform::clock::now());
                    // §6.5.1 "connect when X users have checked their mail".
                    crate::services::scheduler::notify(
                        mailroom_core::schedule::SchedulerCommand::UserCheckedMail {
                            user: user.to_string(),
                        },
                    );
                }
                tracing::info!(user, peer = %self.peer, messages = self.listing.len(), "pop3 login");
                Pop3Command::Opened(Ok(self
                    .listing
                    .iter()
                    .map(|m| MessageEntry {
                        uid: m.uidl.clone(),
                        size: m.size,
                    })
                    .collect()))
            }
            Err(MailboxError::InUse) => Pop3Command::Opened(Err(OpenError::InUse)),
            Err(MailboxError::Io(e)) => {
                tracing::error!(user, "cannot open the mailbox: {e}");
                Pop3Command::Opened(Err(OpenError::Failed))
            }
        }
    }

    fn start(&mut self, index: usize) -> Pop3Command {
        let (Some(mailbox), Some(m)) = (self.mailbox.as_ref(), self.listing.get(index)) else {
            return Pop3Command::Missing;
        };
        match mailbox
            .open_message(m)
            .and_then(|f| Ok((f.metadata()?.len(), f)))
        {
            Ok((len, f)) => {
                crate::services::download_receipts::on_retrieve(&self.shared, &m.path);
                self.reading = Some((f, len));
                self.next_chunk()
            }
            Err(e) => {
                tracing::warn!(path = %m.path.display(), "message vanished: {e}");
                Pop3Command::Missing
            }
        }
    }

    fn next_chunk(&mut self) -> Pop3Command {
        let Some((f, left)) = self.reading.as_mut() else {
            return Pop3Command::Missing;
        };
        // Sized to what is left, so a small message costs a small buffer and one read.
        let want = usize::try_from(*left).map_or(RETRIEVE_CHUNK, |l| l.clamp(1, RETRIEVE_CHUNK));
        let mut data = vec![0u8; want];
        let mut n = 0;
        while n < data.len() {
            match f.read(&mut data[n..]) {
                Ok(0) => break,
                Ok(k) => {
                    n += k;
                    *left = left.saturating_sub(k as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!("reading a message: {e}");
                    self.reading = None;
                    return Pop3Command::Missing;
                }
            }
        }
        data.truncate(n);
        // Maildir files never change once delivered: the size read at open is the end.
        let last = n < want || *left == 0;
        if last {
            self.reading = None;
        }
        Pop3Command::Chunk { data, last }
    }

    fn commit(&mut self, delete: &[usize], seen: &[usize]) -> Pop3Command {
        let Some(mailbox) = self.mailbox.as_mut() else {
            return Pop3Command::Committed(false);
        };
        let pick = |list: &[usize]| -> Vec<&Listed> {
            list.iter().filter_map(|&i| self.listing.get(i)).collect()
        };
        let (d, s) = (pick(delete), pick(seen));
        match mailbox.commit(&d, &s) {
            Ok(()) => {
                tracing::info!(peer = %self.peer, deleted = d.len(), "pop3 update");
                Pop3Command::Committed(true)
            }
            Err(e) => {
                tracing::error!(peer = %self.peer, "pop3 update: deleting failed: {e}");
                Pop3Command::Committed(false)
            }
        }
    }
}

impl Handler for Pop3Handler {
    type Machine = Pop3Server;

    fn quick(&self, event: &Pop3Event) -> bool {
        matches!(event, Pop3Event::Retrieve { .. } | Pop3Event::NextChunk)
    }

    fn answer(&mut self, event: Pop3Event) -> Option<Pop3Command> {
        Some(match event {
            Pop3Event::Authenticate { user, password } => Pop3Command::AuthResult(password_login(
                &self.shared,
                Service::Pop3,
                self.peer,
                &user,
                &password,
            )),
            Pop3Event::Apop {
                user,
                timestamp,
                digest,
            } => Pop3Command::AuthResult(challenge_login(
                &self.shared,
                Service::Pop3,
                self.peer,
                &user,
                &digest,
                |secret| apop_digest(&timestamp, secret),
            )),
            Pop3Event::Open { user } => self.open(&user),
            Pop3Event::Retrieve { index } => self.start(index),
            Pop3Event::NextChunk => self.next_chunk(),
            Pop3Event::Commit { delete, seen } => self.commit(&delete, &seen),
        })
    }
}

impl Drop for Pop3Handler {
    fn drop(&mut self) {
        if self.logged_in {
            // The POP-before-SMTP window runs from here (§11.3).
            self.shared
                .security
                .pop_logoff(self.peer, crate::platform::clock::now());
        }
    }
}

/// One IMAP connection: the password check here, the mailbox in
/// [`crate::services::imap`].
pub struct ImapHandler {
    shared: Arc<Shared>,
    peer: IpAddr,
    mailbox: ImapMailbox,
}

impl Handler for ImapHandler {
    type Machine = ImapServer;

    fn answer(&mut self, event: ImapEvent) -> Option<ImapCommand> {
        let outcome = match &event {
            ImapEvent::Authenticate { user, password } => {
                password_login(&self.shared, Service::Imap, self.peer, user, password)
            }
            ImapEvent::AuthenticateCram {
                user,
                challenge,
                digest,
            } => challenge_login(&self.shared, Service::Imap, self.peer, user, digest, |s| {
                cram_md5_digest(challenge, s)
            }),
            _ => return self.mailbox.answer(event),
        };
        let outcome = match outcome {
            AuthOutcome::Ok(name) => self.mailbox.log_in(&name, self.peer),
            other => other,
        };
        if let AuthOutcome::Ok(name) = &outcome {
            tracing::info!(user = %name, peer = %self.peer, "imap login");
        }
        Some(ImapCommand::AuthResult(outcome))
    }

    /// Reading one message (FETCH) is from the page cache as a rule.
    fn quick(&self, event: &ImapEvent) -> bool {
        matches!(
            event,
            ImapEvent::Message { .. } | ImapEvent::Deselect | ImapEvent::Idle
        )
    }

    fn watching(&self) -> Option<std::time::Duration> {
        self.mailbox.idling().then_some(IDLE_LOOK)
    }

    fn look(&mut self) -> Option<ImapCommand> {
        self.mailbox.look()
    }
}

/// The finger server's side of a connection (§11.5): the query is answered from
/// the accounts and the store by `services::finger`.
pub struct FingerHandler {
    shared: Arc<Shared>,
}

impl Handler for FingerHandler {
    type Machine = FingerServer;

    fn answer(&mut self, event: FingerEvent) -> Option<FingerCommand> {
        let FingerEvent::Query(q) = event;
        Some(FingerCommand::Answer(crate::services::finger::answer(
            &self.shared,
            &q.user,
            q.verbose,
        )))
    }
}

/// The LDAP address book's side of a connection (§11.4): the directory of
/// `services::ldap` for each search.
pub struct LdapHandler {
    shared: Arc<Shared>,
}

impl Handler for LdapHandler {
    type Machine = LdapServer;

    fn answer(&mut self, event: LdapEvent) -> Option<LdapCommand> {
        let LdapEvent::Directory = event;
        Some(LdapCommand::Directory(crate::services::ldap::directory(
            &self.shared,
        )))
    }
}

/// The status monitor's side of a connection (SVC-5): the login checks here, then
/// the feed of `services::monitor`, looked at while the monitor listens.
pub struct MonitorHandler {
    shared: Arc<Shared>,
    peer: IpAddr,
    feed: Option<crate::services::monitor::Subscription>,
}

/// How often a logged-in monitor's feed is looked at.
const MONITOR_LOOK: std::time::Duration = std::time::Duration::from_millis(500);

impl Handler for MonitorHandler {
    type Machine = MonitorServer;

    fn answer(&mut self, event: MonitorEvent) -> Option<MonitorCommand> {
        let (s, peer) = (&self.shared, self.peer);
        let outcome = match event {
            MonitorEvent::Login { user, password } => {
                password_login(s, Service::Monitor, peer, &user, &password)
            }
            MonitorEvent::DigestLogin {
                user,
                challenge,
                digest,
            } => challenge_login(s, Service::Monitor, peer, &user, &digest, |secret| {
                apop_digest(&challenge, secret)
            }),
        };
        let mut admin = false;
        if let AuthOutcome::Ok(name) = &outcome {
            admin = s.snapshot().accounts.get(name).is_some_and(|a| a.admin);
            self.feed = Some(crate::services::monitor::subscribe());
        }
        Some(MonitorCommand::AuthResult { outcome, admin })
    }

    fn watching(&self) -> Option<std::time::Duration> {
        self.feed.as_ref().map(|_| MONITOR_LOOK)
    }

    fn look(&mut self) -> Option<MonitorCommand> {
        let news = self.feed.as_ref()?.take();
        (!news.is_empty()).then_some(MonitorCommand::Push(news))
    }
}

pub struct PassHandler {
    shared: Arc<Shared>,
    peer: IpAddr,
}

impl Handler for PassHandler {
    type Machine = PassServer;

    fn answer(&mut self, event: PassEvent) -> Option<PassCommand> {
        Some(match event {
            PassEvent::Authenticate { user, password } => PassCommand::AuthResult(password_login(
                &self.shared,
                Service::Pass,
                self.peer,
                &user,
                &password,
            )),
            PassEvent::ChangePassword { user, password } => {
                let dd = self.shared.store.data_dir().clone();
                match users::set_password(&dd, &user, &password) {
                    Ok(()) => {
                        self.shared.security.password_changed(
                            Service::Pass,
                            self.peer,
                            &user,
                            crate::platform::clock::now(),
                        );
                        // New sessions must see the new password at once, not at the
                        // reloader's next look.
                        reload::reload_once(&self.shared, &|| load_snapshot(&dd));
                        PassCommand::Changed(Ok(()))
                    }
                    Err(e) => {
                        tracing::error!(user, "password server: {e}");
                        PassCommand::Changed(Err("the server could not store it".into()))
                    }
                }
            }
        })
    }
}

/// One web connection: pages from [`crate::services::web`], logins through the
/// lock-out every mail protocol shares.
pub struct HttpHandler {
    shared: Arc<Shared>,
    client: web::Client,
}

impl Handler for HttpHandler {
    type Machine = HttpServer;

    fn answer(&mut self, event: HttpEvent) -> Option<HttpCommand> {
        let HttpEvent::Request(request) = event;
        let (shared, peer) = (&self.shared, self.client.ip);
        let login = |user: &str, password: &str| {
            password_login(shared, Service::Http, peer, user, password)
        };
        let reload = || {
            let dd = shared.store.data_dir().clone();
            reload::reload_once(shared, &|| load_snapshot(&dd));
        };
        let hooks = web::Hooks {
            login: &login,
            reload: &reload,
        };
        Some(HttpCommand::Respond(web::serve(
            &self.shared,
            &request,
            self.client,
            &hooks,
        )))
    }
}
