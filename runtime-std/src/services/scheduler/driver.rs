//! The scheduler's driver in the daemon: one thread that feeds the core
//! [`Scheduler`] the clock, control requests and job results, and carries out its
//! actions (shell commands on their own threads, ETRN over TCP). Both runtimes start
//! it the same way from `startup::prepare`.

use super::{commands, control, etrn, localclock, watch};
use crate::platform::clock;
use crate::platform::datadir::DataDir;
use crate::services::app::Shared;
use crate::services::{monitor, summary};
use mailroom_core::config::Config;
use mailroom_core::monitor::Status;
use mailroom_core::schedule::clock::SEC;
use mailroom_core::schedule::{
    Action, ConnId, Hook, Outcome, Scheduler, SchedulerCommand, Setup, Target,
};
use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};
use mailroom_core::{Agent, Instant, Next};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

/// How often the control files and the clock are looked at.
const POLL: Duration = Duration::from_secs(1);
/// Limits for commands the scheduler does not time itself.
const CHECK_LIMIT: Duration = Duration::from_secs(30);
const DOWN_LIMIT: Duration = Duration::from_secs(60);

enum Msg {
    SchedulerCommand(SchedulerCommand),
    /// A link watch check ended (see [`watch`]).
    LinkCheck {
        conn: ConnId,
        generation: u64,
        up: bool,
    },
    Stop,
}

/// Where sessions send notices (inbound SMTP sessions, queued mail).
/// The sender of the newest driver, with its generation so an older driver's
/// shutdown does not unhook a newer one (tests run several servers in one process).
static NOTIFY: OnceLock<Mutex<Option<Notifier>>> = OnceLock::new();
type Notifier = (u64, Sender<Msg>);
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Tell the running scheduler something (no-op when none runs).
pub fn notify(n: SchedulerCommand) {
    if let Some(m) = NOTIFY.get() {
        if let Some((_, tx)) = m.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(Msg::SchedulerCommand(n));
        }
    }
}

/// An incoming SMTP session started (`true`) or ended.
pub fn inbound(started: bool) {
    notify(if started {
        SchedulerCommand::InboundStarted
    } else {
        SchedulerCommand::InboundEnded
    });
}

/// Stops the driver thread when dropped.
pub struct Handle {
    generation: u64,
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(m) = NOTIFY.get() {
            let mut slot = m.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|(g, _)| *g == self.generation) {
                *slot = None;
            }
        }
    }
}

/// Start the scheduler for the configuration the server starts with. Connection
/// settings changed later take effect at the next start.
pub fn spawn(shared: Arc<Shared>, dir: DataDir) -> std::io::Result<Handle> {
    let (tx, rx) = mpsc::channel();
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    *NOTIFY
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((generation, tx.clone()));
    let tx2 = tx.clone();
    let thread = std::thread::Builder::new()
        .name("connections".into())
        .spawn(move || Driver::new(shared, dir, tx2).run(rx))?;
    Ok(Handle {
        generation,
        tx,
        thread: Some(thread),
    })
}

/// A `mailroom connect` request being followed.
struct Request {
    id: String,
    expected: usize,
    finished: usize,
}

struct Driver {
    shared: Arc<Shared>,
    dir: DataDir,
    config: Config,
    sched: Scheduler,
    tx: Sender<Msg>,
    requests: BTreeMap<u64, Request>,
    next_request: u64,
    cancel: BTreeMap<ConnId, Arc<AtomicBool>>,
    watch: watch::LinkWatch,
    /// When each connection went online, for SUMMARY.LOG's online time (code 9).
    online_since: BTreeMap<ConnId, StdInstant>,
}

/// The enabled In Mails and the connections that collect each (`[[inmail]]`).
fn in_mails(config: &Config) -> Vec<(String, Vec<String>)> {
    config
        .inmails
        .iter()
        .filter(|m| m.enabled)
        .map(|m| (m.name.clone(), m.connections.clone()))
        .collect()
}

impl Driver {
    fn new(shared: Arc<Shared>, dir: DataDir, tx: Sender<Msg>) -> Driver {
        let config = shared.snapshot().config.clone();
        let now = clock::now();
        let sched = Scheduler::new(now, Setup::from_config(&config, &in_mails(&config)));
        if !config.connections.is_empty() {
            tracing::info!(
                "connections: {} configured, {} schedules",
                config.connections.len(),
                config.schedules.len()
            );
        }
        Driver {
            shared,
            dir,
            config,
            sched,
            tx,
            requests: BTreeMap::new(),
            next_request: 1,
            cancel: BTreeMap::new(),
            watch: watch::LinkWatch::default(),
            online_since: BTreeMap::new(),
        }
    }

    fn now(&self) -> Instant {
        clock::now()
    }

    /// Both readings of one moment: the scheduler maps local time onto the monotonic
    /// one, so a wall-clock step shows up as a clock change (SCHEDULE.md).
    fn clock(&mut self) {
        let now = self.now();
        let wall = i64::try_from(now.unix_micros()).unwrap_or(i64::MAX);
        let local = localclock::local_stamp(wall);
        let unix = wall.div_euclid(SEC);
        let next_change = localclock::next_change(unix, 2 * 86_400)
            .map(|t| now + Duration::from_secs(u64::try_from(t - unix).unwrap_or(0)));
        self.sched
            .handle_command(now, SchedulerCommand::Clock { local, next_change });
    }

    fn name(&self, conn: ConnId) -> String {
        self.sched.name(conn).to_string()
    }

    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            self.clock();
            self.control();
            let now = self.now();
            self.sched.handle_timeout(now);
            let deadline = self.drain();
            self.watch_links();
            let wait = deadline
                .map(|d| d.saturating_since(self.now()))
                .unwrap_or(POLL)
                .min(POLL);
            match rx.recv_timeout(wait) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(m) => {
                    self.clock();
                    self.take(m);
                    // Take whatever else is waiting before the next round.
                    while let Ok(m) = rx.try_recv() {
                        if matches!(m, Msg::Stop) {
                            return;
                        }
                        self.take(m);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn take(&mut self, m: Msg) {
        match m {
            Msg::SchedulerCommand(n) => self.sched.handle_command(self.now(), n),
            Msg::LinkCheck {
                conn,
                generation,
                up,
            } => {
                if self.watch.answer(conn, generation, up, StdInstant::now()) {
                    tracing::warn!(connection = %self.name(conn), "the link went down by itself");
                    self.sched
                        .handle_command(self.now(), SchedulerCommand::LinkLost { conn });
                }
            }
            Msg::Stop => {}
        }
    }

    /// Run the `check` command of each link in use that is due (docs/SCHEDULE.md).
    fn watch_links(&mut self) {
        for c in self.watch.due(StdInstant::now()) {
            let tx = self.tx.clone();
            let spawned = std::thread::Builder::new()
                .name("conn-watch".into())
                .spawn(move || {
                    let up =
                        commands::run(&c.command, c.conn + 1, &c.name, CHECK_LIMIT, None).is_ok();
                    let _ = tx.send(Msg::LinkCheck {
                        conn: c.conn,
                        generation: c.generation,
                        up,
                    });
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a thread for a link check: {e}");
            }
        }
    }

    fn targets(&self, t: &Target) -> usize {
        let s = self.sched.setup();
        match t {
            Target::All => s.connections.len(),
            Target::Primary => s.connections.iter().filter(|c| c.primary).count(),
            Target::Named(n) => s
                .connections
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(n))
                .count(),
        }
    }

    fn control(&mut self) {
        for (id, target) in control::take_requests(&self.dir) {
            let target = Target::parse(&target);
            let request = self.next_request;
            self.next_request += 1;
            tracing::info!(request = %id, ?target, "connect requested");
            let expected = self.targets(&target);
            self.requests.insert(
                request,
                Request {
                    id,
                    expected,
                    finished: 0,
                },
            );
            let now = self.now();
            self.sched
                .handle_command(now, SchedulerCommand::ConnectNow { target, request });
        }
        if let Some(target) = control::take_connect_now(&self.dir) {
            tracing::info!("CONNECT.NOW found");
            let request = self.next_request;
            self.next_request += 1;
            let now = self.now();
            self.sched.handle_command(
                now,
                SchedulerCommand::ConnectNow {
                    target: Target::parse(&target),
                    request,
                },
            );
        }
    }

    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.sched.poll_event() {
                Next::Event(a) => self.act(a),
                Next::Wait(w) => return w,
            }
        }
    }

    fn answer_later(&self, n: SchedulerCommand) {
        let _ = self.tx.send(Msg::SchedulerCommand(n));
    }

    fn job(&self, what: &str, f: impl FnOnce() -> Option<SchedulerCommand> + Send + 'static) {
        let tx = self.tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{what}"))
            .spawn(move || {
                if let Some(n) = f() {
                    let _ = tx.send(Msg::SchedulerCommand(n));
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a thread for {what}: {e}");
        }
    }

    fn act(&mut self, a: Action) {
        tracing::debug!(?a, "scheduler");
        let cfg = &self.config;
        match a {
            Action::CheckLink { conn, links } => {
                let checks: Vec<(ConnId, String, String)> = links
                    .iter()
                    .filter_map(|&l| {
                        let c = cfg.connections.get(l)?;
                        Some((l, c.check.clone()?, c.name.clone()))
                    })
                    .collect();
                self.job("check", move || {
                    let up = checks.into_iter().find_map(|(l, cmd, name)| {
                        commands::run(&cmd, l + 1, &name, CHECK_LIMIT, None)
                            .ok()
                            .map(|()| l)
                    });
                    Some(SchedulerCommand::LinkChecked { conn, up })
                });
            }
            Action::Dial { conn, attempt } => {
                let Some(c) = cfg.connections.get(conn) else {
                    return;
                };
                let cmd = c.up.clone().unwrap_or_default();
                let name = c.name.clone();
                // The scheduler cancels at the dial timeout; the limit is a backstop.
                let limit = c.dial_timeout.0 + Duration::from_secs(5);
                let flag = Arc::new(AtomicBool::new(false));
                self.cancel.insert(conn, flag.clone());
                tracing::info!(connection = %name, attempt, "dialling");
                self.job("dial", move || {
                    let result = commands::run(&cmd, conn + 1, &name, limit, Some(&flag));
                    if let Err(e) = &result {
                        tracing::warn!(connection = %name, attempt, "dial failed: {e}");
                    }
                    Some(SchedulerCommand::DialResult {
                        conn,
                        attempt,
                        result,
                    })
                });
            }
            Action::CancelDial { conn, .. } => {
                if let Some(f) = self.cancel.remove(&conn) {
                    f.store(true, Ordering::SeqCst);
                }
                tracing::warn!(connection = %self.name(conn), "dial timed out; cancelled");
                self.hang_up(conn);
            }
            Action::HangUp { conn } => {
                tracing::info!(connection = %self.name(conn), "hanging up");
                self.hang_up(conn);
            }
            Action::RunHook { conn, hook } => {
                let cmd = match hook {
                    Hook::PostConnect => cfg.connect.post_connect.clone(),
                    Hook::PreDisconnect => cfg.connect.pre_disconnect.clone(),
                };
                let limit = cfg.connect.hook_timeout.0;
                let name = self.name(conn);
                self.job("hook", move || {
                    if let Some(cmd) = cmd {
                        if let Err(e) = commands::run(&cmd, conn + 1, &name, limit, None) {
                            tracing::warn!(connection = %name, ?hook, "hook: {e}");
                        }
                    }
                    Some(SchedulerCommand::HookDone { conn, hook })
                });
            }
            Action::SendEtrn {
                conn,
                run,
                host,
                domains,
            } => {
                let helo = cfg.hostname.clone();
                let name = self.name(conn);
                self.job("etrn", move || {
                    let result = etrn::send(&host, &helo, domains);
                    match &result {
                        Ok(()) => tracing::info!(connection = %name, %host, "ETRN sent"),
                        Err(e) => tracing::warn!(connection = %name, %host, "ETRN: {e}"),
                    }
                    Some(SchedulerCommand::EtrnDone { conn, run, result })
                });
            }
            Action::RunOutMail { conn, run } => match self.shared.outbound.get() {
                // The outbound queue runs this connection's Out Mail and says when it
                // is done (docs/OUTBOUND.md).
                Some(out) => {
                    let tx = self.tx.clone();
                    let done = move |_report| {
                        let _ = tx.send(Msg::SchedulerCommand(SchedulerCommand::OutMailDone {
                            conn,
                            run,
                        }));
                    };
                    out.run_outmail(conn, run, false, Some(Box::new(done)));
                }
                None => {
                    tracing::info!(connection = %self.name(conn), "Out Mail: the outbound queue is not running; queued mail stays in the spool");
                    self.answer_later(SchedulerCommand::OutMailDone { conn, run });
                }
            },
            Action::RunInMail { conn, run, in_mail } => {
                // Collected on its own thread; progress goes to every `connect --wait`
                // being followed (usually one).
                let shared = self.shared.clone();
                let dir = self.dir.clone();
                let ids: Vec<String> = self.requests.values().map(|r| r.id.clone()).collect();
                let name = self.name(conn);
                self.job("inmail", move || {
                    let status = |active| Status::Collecting {
                        name: name.clone(),
                        active,
                    };
                    monitor::publish(status(true));
                    crate::services::collect::run::collect_for_driver(
                        &shared, &dir, &in_mail, &ids,
                    );
                    monitor::publish(status(false));
                    Some(SchedulerCommand::InMailDone { conn, run, in_mail })
                });
            }
            Action::NotifyAdmin {
                conn,
                failed_dials,
                detail,
            } => {
                let name = self.name(conn);
                tracing::error!(connection = %name, failed_dials, "dialling keeps failing: {detail}");
                self.notify_admin(&name, failed_dials, &detail);
            }
            Action::RunStarted {
                conn,
                kind,
                reason,
                requests,
                ..
            } => {
                let name = self.name(conn);
                tracing::info!(connection = %name, ?kind, ?reason, "connection run started");
                for r in requests {
                    if let Some(req) = self.requests.get(&r) {
                        control::status(&self.dir, &req.id, &format!("{name}: started"));
                    }
                }
            }
            Action::RunFinished {
                conn,
                outcome,
                requests,
                ..
            } => {
                let name = self.name(conn);
                let text = match &outcome {
                    Outcome::Done => "finished".to_string(),
                    Outcome::DialFailed(why) => format!("failed: {why}"),
                    Outcome::TimedOut => "timed out (max_online)".to_string(),
                    Outcome::LinkLost => "link lost".to_string(),
                };
                tracing::info!(connection = %name, "connection run {text}");
                for r in requests {
                    let Some(req) = self.requests.get_mut(&r) else {
                        continue;
                    };
                    control::status(&self.dir, &req.id, &format!("{name}: {text}"));
                    req.finished += 1;
                    if req.finished >= req.expected {
                        control::status(&self.dir, &req.id, "done");
                        self.requests.remove(&r);
                    }
                }
            }
            Action::Rejected { request, why } => {
                tracing::warn!("connect request refused: {why}");
                if let Some(req) = self.requests.remove(&request) {
                    control::status(&self.dir, &req.id, &format!("rejected: {why}"));
                }
            }
            Action::Online { conn, dialled } => {
                tracing::info!(connection = %self.name(conn), dialled, "online");
                super::online::set(&self.name(conn), true);
                monitor::publish(Status::Connection {
                    name: self.name(conn),
                    online: true,
                });
                self.watch.online(conn, &self.config, StdInstant::now());
                self.online_since.insert(conn, StdInstant::now());
            }
            Action::Offline { conn, hung_up } => {
                tracing::info!(connection = %self.name(conn), hung_up, "offline");
                super::online::set(&self.name(conn), false);
                monitor::publish(Status::Connection {
                    name: self.name(conn),
                    online: false,
                });
                self.watch.offline(conn);
                if let Some(since) = self.online_since.remove(&conn) {
                    let secs = since.elapsed().as_secs();
                    let name = self.name(conn);
                    let dd = self.shared.store.data_dir();
                    summary::record(dd, summary::Code::OnlineTime, secs, Some(&name));
                }
            }
            Action::Skipped { conn, why } => {
                tracing::info!(connection = %self.name(conn), "scheduled connection skipped: {why}")
            }
            Action::ClockChanged { by_secs, caught_up } => {
                tracing::warn!(by_secs, caught_up, "the clock changed")
            }
        }
    }

    fn hang_up(&self, conn: ConnId) {
        let Some(c) = self.config.connections.get(conn) else {
            return;
        };
        let Some(cmd) = c.down.clone() else { return };
        let name = c.name.clone();
        self.job("down", move || {
            if let Err(e) = commands::run(&cmd, conn + 1, &name, DOWN_LIMIT, None) {
                tracing::warn!(connection = %name, "hang-up: {e}");
            }
            None
        });
    }

    /// §16.3 "Generate RAS Error Messages": a message in the main administrator's
    /// mailbox.
    fn notify_admin(&self, name: &str, failed: u32, detail: &str) {
        let snapshot = self.shared.snapshot();
        let admin = self
            .config
            .admin
            .main_administrator
            .clone()
            .unwrap_or_else(|| "postmaster".into());
        let Some(account) = snapshot.accounts.get(&admin) else {
            tracing::warn!("no main administrator account {admin:?} for the dial notice");
            return;
        };
        let domain = &self.config.default_domain;
        let text = format!(
            "From: Mailroom <Mailer_Daemon@{domain}>\r\nTo: <{}@{domain}>\r\nSubject: Connection \"{name}\": {failed} dials failed\r\n\r\nMailroom could not dial the connection \"{name}\" {failed} times in a row.\r\nThe last attempt said: {detail}\r\n",
            account.name
        );
        let delivery = Delivery {
            id: format!("dial.{}", clock::unix_micros()),
            envelope: Envelope {
                mail_from: None,
                recipients: vec![Recipient {
                    address: format!("{}@{domain}", account.name),
                    route: Route::Local(account.name.clone()),
                    dsn_notify: None,
                    dsn_orcpt: None,
                }],
                helo: self.config.hostname.clone(),
                client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                auth_user: None,
                eight_bit: false,
                dsn_ret: None,
                dsn_envid: None,
            },
            data: text.into_bytes(),
            junk: false,
        };
        match self.shared.store.deliver(&delivery) {
            Ok(()) => summary::stored(
                self.shared.store.data_dir(),
                &delivery,
                &mailroom_core::router::Source::Local,
            ),
            Err(e) => tracing::warn!("cannot store the dial notice: {}", e.text),
        }
    }
}
