//! Outbound delivery, the runtime half (docs/OUTBOUND.md): a driver thread runs the
//! core queue machine ([`OutQueue`]) over the spool, and a [`Transport`] runs its SMTP
//! sessions — threads in the blocking runtime, async tasks in the smol one.
//!
//! The spool stays the source of truth. The driver loads every entry at start, learns
//! of new ones from the store's hook (and a directory scan every few seconds, which
//! also notices `queue del`), writes each recipient's fate next to the entry
//! ([`state`]) and removes the entry once nothing is pending. A message leaves the
//! spool only after the remote server's 250 for its last recipient; a crash at any
//! moment loses nothing, and can repeat only the transaction that was in flight.
//!
//! The connection scheduler drives Out Mail with [`OutboundHandle::run_outmail`] ("run
//! Out Mail for connection X", answered when the run ends); the connection driver
//! calls it for `Action::RunOutMail` and is told of each new spool entry. Connections
//! with a LAN link also send by themselves whenever something is due
//! ([`Options::auto_lan`]): the link is always up.

pub mod blocking;
pub mod client;
pub mod dns;
pub mod handle;
pub mod popauth;
pub mod report;
pub mod session;
pub mod state;
pub mod tls;

use crate::platform::datadir::DataDir;
use crate::services::app::Shared;
use handle::{Done, Msg, OutboundHandle};
use mailroom_core::config::{Config, OutTls, Snapshot, TlsVerify};
use mailroom_core::monitor::Status;
use mailroom_core::outbound::{
    auto_lan, lan_target, parse_rules, ConnId, Dest, LanRule, OutQueue, QueueAction, QueueCommand,
    QueueSetup, RunId, RunReport, SessionId,
};
use mailroom_core::router::Source;
use mailroom_core::smtp::client::{ClientSettings, Credentials};
use mailroom_core::{Agent, Next};
use session::{Order, OrderSink, Reporter, SessionPlan, Targets};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant, SystemTime};

/// How often the spool, the flush file, the rules and the configuration are looked at.
const SCAN_INTERVAL: Duration = Duration::from_secs(2);

/// Runs sessions for the queue.
pub trait Transport: Send + Sync {
    /// Start a session; it reports to the queue through `report` and takes its orders
    /// from the returned sink.
    fn open(&self, plan: SessionPlan, report: Reporter) -> Box<dyn OrderSink>;
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// LAN-link connections send by themselves when something is due.
    pub auto_lan: bool,
    /// Stop once nothing is being sent (the command line's `queue flush`).
    pub exit_when_idle: bool,
    /// Start with a flush: every retry time is now.
    pub flush_at_start: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auto_lan: true,
            exit_when_idle: false,
            flush_at_start: false,
        }
    }
}

/// The running outbound service. Dropping it stops the driver.
pub struct Outbound {
    handle: OutboundHandle,
    thread: Option<JoinHandle<RunReport>>,
    _lock: fs::File,
}

impl Outbound {
    /// Start sending from the spool of `shared`'s store. `Ok(None)` when another
    /// process (a second server on the same data directory) already sends from it.
    pub fn start(
        shared: Arc<Shared>,
        transport: Arc<dyn Transport>,
        opts: Options,
    ) -> io::Result<Option<Outbound>> {
        let dd = shared.store.data_dir().clone();
        let Some(lock) = try_lock(&dd)? else {
            return Ok(None);
        };
        let (tx, rx) = mpsc::channel();
        let handle = OutboundHandle { tx: tx.clone() };
        let hook_tx = std::sync::Mutex::new(tx.clone());
        shared.store.set_queued_hook(Arc::new(move |id: &str| {
            let tx = hook_tx.lock().unwrap_or_else(|p| p.into_inner());
            let _ = tx.send(Msg::Queued(id.to_string()));
        }));
        if !opts.exit_when_idle {
            let _ = shared.outbound.set(handle.clone());
        }
        let driver = Driver::new(shared, transport, tx, opts);
        let thread = std::thread::Builder::new()
            .name("outbound".into())
            .spawn(move || driver.run(rx))?;
        Ok(Some(Outbound {
            handle,
            thread: Some(thread),
            _lock: lock,
        }))
    }

    pub fn handle(&self) -> OutboundHandle {
        self.handle.clone()
    }

    /// Stop the driver and wait for it. Sessions still running are left to end with
    /// the process; what they had not finished is sent again after the next start.
    pub fn stop(mut self) -> RunReport {
        let _ = self.handle.tx.send(Msg::Stop);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }

    /// Wait for the driver to end by itself (with [`Options::exit_when_idle`]).
    pub fn wait(mut self) -> RunReport {
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        let _ = self.handle.tx.send(Msg::Stop);
    }
}

/// Start sending for a server; problems are logged (the server still receives mail,
/// which waits in the queue).
pub fn start_for_server(shared: &Arc<Shared>, transport: Arc<dyn Transport>) -> Option<Outbound> {
    match Outbound::start(shared.clone(), transport, Options::default()) {
        Ok(Some(o)) => Some(o),
        Ok(None) => {
            tracing::warn!("another process sends from this queue; this server only receives");
            None
        }
        Err(e) => {
            tracing::error!("cannot start sending: {e}; queued mail waits");
            None
        }
    }
}

/// Take the spool's sending lock; `None` if another process holds it.
fn try_lock(dd: &DataDir) -> io::Result<Option<fs::File>> {
    fs::create_dir_all(dd.spool_dir())?;
    crate::platform::lock::try_exclusive(&dd.outbound_lock_file())
}

/// `queue flush` from the command line: ask the running server, or, when none runs,
/// send from this process (LAN-link connections and LAN forwarding) and report.
pub fn flush_from_cli(dd: &DataDir) -> Result<String, String> {
    let spool = dd.spool_dir();
    fs::create_dir_all(&spool).map_err(|e| format!("{}: {e}", spool.display()))?;
    let held = try_lock(dd).map_err(|e| format!("cannot check the spool lock: {e}"))?;
    let Some(lock) = held else {
        let path = dd.flush_request_file();
        fs::write(&path, b"").map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok("Asked the running server to send queued mail now.".into());
    };
    drop(lock);
    let snapshot = crate::config::files::load_snapshot(dd).map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let store = crate::store::Store::open(dd).map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared::new(snapshot, store, None));
    let opts = Options {
        auto_lan: true,
        exit_when_idle: true,
        flush_at_start: true,
    };
    let ob = Outbound::start(shared, Arc::new(blocking::ThreadTransport), opts)
        .map_err(|e| format!("cannot start sending: {e}"))?
        .ok_or("another process is sending from this queue")?;
    let r = ob.wait();
    Ok(format!(
        "No server is running; sent from here: {} delivered, {} failed (bounced), {} deferred.",
        r.delivered, r.failed, r.deferred
    ))
}

struct Driver {
    shared: Arc<Shared>,
    dd: DataDir,
    q: OutQueue,
    transport: Arc<dyn Transport>,
    tx: mpsc::Sender<Msg>,
    opts: Options,
    sinks: HashMap<SessionId, Box<dyn OrderSink>>,
    snapshot: Arc<Snapshot>,
    resolver: Arc<dns::Resolver>,
    verifying: HashMap<Option<String>, Result<Arc<rustls::ClientConfig>, String>>,
    opportunistic: Arc<rustls::ClientConfig>,
    lan_rules: Vec<LanRule>,
    lan_stamp: Option<SystemTime>,
    known: HashSet<String>,
    callbacks: HashMap<(ConnId, RunId), Done>,
    total: RunReport,
    dir_dirty: bool,
    last_scan: StdInstant,
}

impl Driver {
    fn new(
        shared: Arc<Shared>,
        transport: Arc<dyn Transport>,
        tx: mpsc::Sender<Msg>,
        opts: Options,
    ) -> Driver {
        let snapshot = shared.snapshot();
        let dd = shared.store.data_dir().clone();
        let q = OutQueue::new(crate::platform::clock::now(), setup(&snapshot.config, opts));
        Driver {
            resolver: Arc::new(dns::Resolver::from_config(&snapshot.config.dns)),
            shared,
            dd,
            q,
            transport,
            tx,
            opts,
            sinks: HashMap::new(),
            snapshot,
            verifying: HashMap::new(),
            opportunistic: tls::opportunistic(),
            lan_rules: Vec::new(),
            lan_stamp: None,
            known: HashSet::new(),
            callbacks: HashMap::new(),
            total: RunReport::default(),
            dir_dirty: false,
            last_scan: StdInstant::now(),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) -> RunReport {
        self.load_lan_rules();
        self.scan();
        if self.opts.flush_at_start {
            self.q
                .handle_command(crate::platform::clock::now(), QueueCommand::Flush);
        }
        loop {
            let wake = self.drain();
            if self.opts.exit_when_idle && self.q.is_idle() && self.sinks.is_empty() {
                break;
            }
            let now = crate::platform::clock::now();
            let until_wake = wake.map(|w| w.saturating_since(now));
            let until_scan = SCAN_INTERVAL.saturating_sub(self.last_scan.elapsed());
            let timeout = until_wake.map_or(until_scan, |w| w.min(until_scan));
            match rx.recv_timeout(timeout) {
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Ok(m) => {
                    if !self.handle(m) {
                        break;
                    }
                    // Take everything already waiting before acting (one fsync for all).
                    let mut stop = false;
                    while let Ok(m) = rx.try_recv() {
                        if matches!(m, Msg::Stop) || !self.handle(m) {
                            stop = true;
                            break;
                        }
                    }
                    if stop {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if self.last_scan.elapsed() >= SCAN_INTERVAL {
                self.maintenance();
            }
            let now = crate::platform::clock::now();
            if wake.is_some_and(|w| w <= now) {
                self.q.handle_timeout(now);
            }
        }
        self.drain();
        self.total
    }

    /// Returns `false` to stop.
    fn handle(&mut self, m: Msg) -> bool {
        let now = crate::platform::clock::now();
        match m {
            Msg::Stop => return false,
            Msg::SchedulerCommand(n) => {
                if let QueueCommand::Ended { session, .. } = &n {
                    self.sinks.remove(session);
                }
                self.q.handle_command(now, n);
            }
            Msg::Queued(id) => {
                self.load(&id);
                self.tell_scheduler(&id);
            }
            Msg::Flush => {
                self.scan();
                self.q.handle_command(now, QueueCommand::Flush);
            }
            Msg::Run {
                conn,
                run,
                flush,
                done,
            } => {
                if let Some(d) = done {
                    self.callbacks.insert((conn, run), d);
                }
                self.q
                    .handle_command(now, QueueCommand::Run { conn, run, flush });
            }
        }
        true
    }

    /// Act on everything the queue asks; returns when it next wants to be woken.
    fn drain(&mut self) -> Option<mailroom_core::Instant> {
        let wake = loop {
            match self.q.poll_event() {
                Next::Event(a) => self.act(a),
                Next::Wait(w) => break w,
            }
        };
        // The status monitor shows the queue and the sending sessions (SVC-5).
        crate::services::monitor::publish(Status::Queue {
            messages: self.q.messages().count(),
        });
        crate::services::monitor::publish(Status::Sending {
            sessions: self.sinks.len(),
        });
        if self.dir_dirty {
            self.dir_dirty = false;
            if let Err(e) = state::sync_queue_dir(&self.dd) {
                tracing::error!(error = %e, "cannot sync the spool directory");
            }
        }
        wake
    }

    fn act(&mut self, a: QueueAction) {
        let now = crate::platform::clock::now();
        match a {
            QueueAction::Open { session, dest } => match self.plan(session, &dest) {
                Ok(plan) => {
                    tracing::debug!(session, ?dest, "opening a session");
                    let tx = std::sync::Mutex::new(self.tx.clone());
                    let report: Reporter = Arc::new(move |n| {
                        let tx = tx.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = tx.send(Msg::SchedulerCommand(n));
                    });
                    let sink = self.transport.open(plan, report);
                    self.sinks.insert(session, sink);
                }
                Err(error) => {
                    tracing::warn!(session, ?dest, "cannot send: {error}");
                    self.q.handle_command(
                        now,
                        QueueCommand::Ended {
                            session,
                            established: false,
                            permanent: false,
                            error: Some(error),
                        },
                    );
                }
            },
            QueueAction::Send {
                session,
                message,
                job,
            } => {
                tracing::debug!(session, id = %message, recipients = job.recipients.len(), "sending");
                match self.sinks.get(&session) {
                    Some(s) => s.send(Order::Job { message, job }),
                    None => tracing::error!(session, "job for a session that is gone"),
                }
            }
            QueueAction::Close { session } => {
                if let Some(s) = self.sinks.get(&session) {
                    s.send(Order::Quit);
                }
            }
            QueueAction::Bounce {
                message,
                to,
                recipients,
            } => self.report(&message, &to, &recipients, report::Kind::Bounce, "bounce"),
            QueueAction::Success {
                message,
                to,
                recipients,
            } => self.report(
                &message,
                &to,
                &recipients,
                report::Kind::Relayed,
                "success report",
            ),
            QueueAction::Warn {
                message,
                to,
                recipients,
                retry_until,
            } => self.report(
                &message,
                &to,
                &recipients,
                report::Kind::Warning { retry_until },
                "delay warning",
            ),
            QueueAction::Save(m) => {
                for r in &m.recipients {
                    if let Some(err) = &r.last_error {
                        tracing::debug!(id = %m.id, rcpt = %r.address, state = ?r.state, "{err}");
                    }
                }
                if let Err(e) = state::write(&self.dd, &m) {
                    tracing::error!(id = %m.id, error = %e, "cannot record the sending state");
                }
                self.dir_dirty = true;
            }
            QueueAction::Remove { message } => {
                tracing::info!(id = %message, "sent; removed from the queue");
                if let Err(e) = state::remove(&self.dd, &message) {
                    tracing::error!(id = %message, error = %e, "cannot remove a sent message from the queue");
                }
                self.known.remove(&message);
                self.dir_dirty = true;
            }
            QueueAction::RunFinished {
                conn,
                run,
                requested,
                report,
            } => {
                self.total.delivered += report.delivered;
                self.total.failed += report.failed;
                self.total.deferred += report.deferred;
                tracing::info!(
                    connection = conn,
                    run,
                    requested,
                    delivered = report.delivered,
                    failed = report.failed,
                    deferred = report.deferred,
                    "Out Mail run finished"
                );
                if let Some(done) = self.callbacks.remove(&(conn, run)) {
                    done(report);
                }
            }
        }
    }

    /// Store a report about `message` for `to`; a failure is logged and the queue
    /// goes on.
    fn report(
        &self,
        message: &str,
        to: &str,
        recipients: &[mailroom_core::dsn::FailedRecipient],
        kind: report::Kind,
        what: &str,
    ) {
        let arrival = self.arrival(message);
        if let Err(e) = report::store(&self.shared, message, to, recipients, arrival, kind) {
            tracing::error!(id = %message, to, "cannot store the {what}: {}", e.text);
        }
    }

    fn arrival(&self, id: &str) -> mailroom_core::Instant {
        self.q
            .messages()
            .find(|m| m.id == id)
            .map_or_else(crate::platform::clock::now, |m| m.arrival)
    }

    /// What a session to `dest` needs, from the current configuration.
    fn plan(&mut self, session: SessionId, dest: &Dest) -> Result<SessionPlan, String> {
        let cfg = self.snapshot.config.clone();
        let o = &cfg.outbound;
        let settings = |tls: OutTls, auth: Option<Credentials>| ClientSettings {
            helo_name: o.helo_name.clone().unwrap_or_else(|| cfg.hostname.clone()),
            tls,
            tls_available: false,
            tls_active: false,
            auth,
            timeout: o.timeout.0,
            data_timeout: o.data_timeout.0,
        };
        let outmail = |conn: ConnId| {
            cfg.connections
                .get(conn)
                .and_then(|c| c.outmail.clone())
                .ok_or_else(|| format!("connection {} has no Out Mail any more", conn + 1))
        };
        let mut pop_login = None;
        let (targets, settings, tls) = match dest {
            Dest::Relay(conn) => {
                let om = outmail(*conn)?;
                if let Some(server) = &om.pop_before_smtp {
                    let (user, password) = match (&om.pop_user, &om.pop_password) {
                        (Some(u), Some(p)) => (u.clone(), p.clone()),
                        _ => (
                            om.auth_user.clone().unwrap_or_default(),
                            om.auth_password.clone().unwrap_or_default(),
                        ),
                    };
                    pop_login = Some(popauth::PopLogin {
                        server: server.clone(),
                        user,
                        password,
                    });
                }
                let auth = match (&om.auth_user, &om.auth_password) {
                    (Some(u), Some(p)) => Some(Credentials {
                        user: u.clone(),
                        password: p.clone(),
                    }),
                    _ => None,
                };
                let tls = match (om.tls, om.tls_verify) {
                    (OutTls::Off, _) => None,
                    (_, TlsVerify::Never) => Some(self.opportunistic.clone()),
                    (OutTls::Required, _) => Some(self.verifying(om.ca_file.clone())?),
                    (OutTls::Opportunistic, _) => match self.verifying(om.ca_file.clone()) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            // Without CAs to check against, opportunistic TLS to a relay
                            // would fail every handshake: send in the clear instead.
                            tracing::warn!("{e}; sending to the relay without STARTTLS");
                            None
                        }
                    },
                };
                (
                    Targets::Hosts(om.relays.clone()),
                    settings(om.tls, auth),
                    tls,
                )
            }
            Dest::Direct(conn, domain) => {
                let om = outmail(*conn)?;
                let tls = match (om.tls, om.tls_verify) {
                    (OutTls::Off, _) => None,
                    (_, TlsVerify::Always) => Some(self.verifying(om.ca_file.clone())?),
                    _ => Some(self.opportunistic.clone()),
                };
                let targets = Targets::Mx {
                    domain: domain.clone(),
                    port: o.direct_port,
                };
                (targets, settings(om.tls, None), tls)
            }
            Dest::Lan(server) => (
                Targets::Hosts(vec![server.clone()]),
                settings(OutTls::Opportunistic, None),
                Some(self.opportunistic.clone()),
            ),
        };
        Ok(SessionPlan {
            session,
            dest: dest.clone(),
            targets,
            settings,
            tls,
            connect_timeout: o.connect_timeout.0,
            data: self.dd.clone(),
            resolver: self.resolver.clone(),
            pop_login,
        })
    }

    fn verifying(&mut self, ca_file: Option<String>) -> Result<Arc<rustls::ClientConfig>, String> {
        let dd = self.dd.clone();
        self.verifying
            .entry(ca_file.clone())
            .or_insert_with(|| tls::verifying(&dd, ca_file.as_deref()))
            .clone()
            .map_err(|e| format!("TLS: {e}"))
    }

    /// Read one spool entry into the queue.
    fn load(&mut self, id: &str) {
        if let Some(m) = self.read(id) {
            self.q.handle_command(
                crate::platform::clock::now(),
                QueueCommand::Load(Box::new(m)),
            );
        }
    }

    /// A spool entry not yet known, with its LAN forwarding targets.
    fn read(&mut self, id: &str) -> Option<mailroom_core::outbound::QueuedMessage> {
        if self.known.contains(id) {
            return None;
        }
        match state::load(&self.dd, id, crate::platform::clock::now()) {
            Ok(Some(mut m)) => {
                if m.sender.is_some() {
                    m.receipt_to = receipt_to(&self.dd, id, &self.snapshot.config);
                }
                let local = spool_source_is_local(&self.dd, id);
                let source = if local { Source::Local } else { Source::Smtp };
                // A recipient queued for a LAN server (In Mail routing = "lan") keeps it.
                for r in m.recipients.iter_mut().filter(|r| r.lan.is_none()) {
                    r.lan = lan_target(&self.lan_rules, &r.address, &source, None, true);
                }
                self.known.insert(id.to_string());
                Some(m)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(id, error = %e, "unreadable queue entry skipped");
                None
            }
        }
    }

    /// Tell the connection scheduler about new mail (§6.5.1 send while online,
    /// §16.1.1 priority messages).
    fn tell_scheduler(&self, id: &str) {
        let rules = &self.snapshot.config.connect.priority_headers;
        let priority = !rules.is_empty()
            && crate::store::spool::message_path(&self.dd, id)
                .ok()
                .and_then(|p| fs::File::open(p).ok())
                .is_some_and(|f| {
                    let mut head = Vec::new();
                    let _ = io::Read::read_to_end(&mut io::Read::take(f, 64 * 1024), &mut head);
                    mailroom_core::schedule::priority::is_priority(&head, rules)
                });
        crate::services::scheduler::notify(
            mailroom_core::schedule::SchedulerCommand::MessageQueued { priority },
        );
    }

    /// Compare the spool with what the queue holds: load new entries, forget deleted
    /// ones.
    fn scan(&mut self) {
        let ids = match state::entry_ids(&self.dd) {
            // Held entries (USR-6) are as good as gone until released.
            Ok(mut ids) => {
                let held = crate::services::queue_hold::held_ids(&self.dd);
                ids.retain(|id| !held.contains(id));
                ids
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the spool");
                return;
            }
        };
        let present: HashSet<&String> = ids.iter().collect();
        let gone: Vec<String> = self
            .known
            .iter()
            .filter(|k| !present.contains(k))
            .cloned()
            .collect();
        for id in gone {
            tracing::info!(id = %id, "deleted from the queue");
            self.known.remove(&id);
            self.q
                .handle_command(crate::platform::clock::now(), QueueCommand::Forget(id));
        }
        let new: Vec<_> = ids.iter().filter_map(|id| self.read(id)).collect();
        if !new.is_empty() {
            self.q
                .handle_command(crate::platform::clock::now(), QueueCommand::LoadAll(new));
        }
    }

    fn maintenance(&mut self) {
        self.last_scan = StdInstant::now();
        let snap = self.shared.snapshot();
        if !Arc::ptr_eq(&snap, &self.snapshot) {
            self.q.set_setup(setup(&snap.config, self.opts));
            self.resolver = Arc::new(dns::Resolver::from_config(&snap.config.dns));
            self.verifying.clear();
            self.snapshot = snap;
            tracing::info!("outbound settings reloaded");
        }
        self.load_lan_rules();
        let flush = self.dd.flush_request_file();
        if flush.exists() {
            let _ = fs::remove_file(&flush);
            tracing::info!("queue flush requested");
            self.scan();
            self.q
                .handle_command(crate::platform::clock::now(), QueueCommand::Flush);
        } else {
            self.scan();
        }
    }

    fn load_lan_rules(&mut self) {
        let path: PathBuf = self.dd.lan_rules_file();
        let stamp = fs::metadata(&path).and_then(|m| m.modified()).ok();
        if stamp == self.lan_stamp {
            return;
        }
        self.lan_stamp = stamp;
        self.lan_rules = match fs::read_to_string(&path) {
            Err(_) => Vec::new(),
            Ok(text) => match parse_rules(&text) {
                Ok(r) => {
                    tracing::info!(rules = r.len(), "LAN forwarding rules loaded");
                    r
                }
                Err(errs) => {
                    for e in &errs {
                        tracing::error!("{}:{}: {}", path.display(), e.line, e.message);
                    }
                    tracing::error!(
                        "LAN forwarding rules not used until {} is fixed",
                        path.display()
                    );
                    Vec::new()
                }
            },
        };
    }
}

/// Problems in SMTPFWD.DAT, for `mailroom check` (none when there is no such file).
pub fn check_lan_rules(dd: &DataDir) -> Vec<crate::config::problem::Problem> {
    let path = dd.lan_rules_file();
    let Ok(text) = fs::read_to_string(&path) else {
        return Vec::new();
    };
    match parse_rules(&text) {
        Ok(_) => Vec::new(),
        Err(errs) => errs
            .into_iter()
            .map(|e| crate::config::problem::Problem::new(&path, Some(e.line), e.message))
            .collect(),
    }
}

fn setup(cfg: &Config, opts: Options) -> QueueSetup {
    QueueSetup::from_config(cfg, |c| opts.auto_lan && auto_lan(c))
}

/// §16.1.2: the transmission receipt address in the queued message's header, if
/// receipts are on.
fn receipt_to(dd: &DataDir, id: &str, cfg: &Config) -> Option<String> {
    let names = &cfg.outbound.transmission_receipt_headers;
    if names.is_empty() {
        return None;
    }
    let f = fs::File::open(crate::store::spool::message_path(dd, id).ok()?).ok()?;
    let mut head = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(f, 64 * 1024), &mut head).ok()?;
    mailroom_core::dsn::receipt_address(&head, names)
}

fn spool_source_is_local(dd: &DataDir, id: &str) -> bool {
    crate::store::spool::read_envelope(dd, id)
        .ok()
        .flatten()
        .is_some_and(|e| e.auth_user.is_some())
}
