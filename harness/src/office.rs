//! A simulated office: the real connection scheduler and the real SMTP server session
//! (ours, the ISP relay's, the upstream MX's), driven in virtual time against scripted
//! links and peers, with the invariants checked after every event.
//!
//! Stand-ins: the office's Out Mail runs hand their mail over with [`PushClient`] and
//! the POP3 collector is a message-level model; the real outbound queue and SMTP client
//! run in [`crate::outbound`] (each sweep seed runs one beside its office) and the real
//! collector against [`crate::isp_pop3`]. Everything the scheduler and the SMTP server
//! do here is the production code.

use crate::localtime::LocalClock;
use crate::rng::Rng;
use crate::sim::{EventQueue, Trace, World};
use crate::wire::{
    sim_id, Client, ClientEvent, Faults, PushClient, PushEvent, PushResult, SimMessage, Step, Wire,
};
use mailroom_core::config::{Config, OutMethod, Snapshot};
use mailroom_core::schedule::clock::{day_of, format_local, weekday, DAY, SEC};
use mailroom_core::schedule::{
    Action, ConnId, Hook, Outcome, Reason, RunId, RunKind, Scheduler, SchedulerCommand, Setup,
    Target,
};
use mailroom_core::smtp::etrn_client::{EtrnClient, EtrnEvent};
use mailroom_core::smtp::{SessionInfo, SmtpCommand, SmtpEvent, SmtpServer};
use mailroom_core::{Agent, Instant, Next};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// How a dial attempt goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOutcome {
    /// Up after this many seconds.
    Up(u64),
    /// Fails after this many seconds.
    Fail(u64),
    /// Never answers (the dial timeout has to end it).
    Hang,
}

/// The simulated link of one connection.
#[derive(Debug, Clone)]
pub struct LinkSpec {
    /// Seconds a dial takes, uniform in this range.
    pub dial_secs: (u64, u64),
    pub fail: f64,
    pub hang: f64,
    /// Outcomes of the first dials, before the random ones.
    pub script: Vec<DialOutcome>,
    /// Chance per hour that an up link drops by itself.
    pub drop_per_hour: f64,
    /// Sessions of someone else's (the link is up without us dialling).
    pub external: Vec<(Instant, Instant)>,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            dial_secs: (5, 5),
            fail: 0.0,
            hang: 0.0,
            script: Vec::new(),
            drop_per_hour: 0.0,
            external: Vec::new(),
        }
    }
}

/// When the ISP relay pushes held mail in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// It notices us online and connects in after this many seconds.
    ConnectIn(u64),
    /// It waits for our ETRN, then connects in after this many seconds.
    OnEtrn(u64),
    Never,
}

/// What the upstream server (relay or MX) answers to our outgoing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamPolicy {
    Accept,
    /// 451 for each message until this long after its first attempt.
    Greylist(u64),
    /// 451 for everything until this moment.
    TempFailUntil(Instant),
}

/// Scripted things that happen in the office or at the ISP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traffic {
    /// A user queues mail for a remote recipient.
    Outgoing {
        priority: bool,
    },
    /// Mail for us arrives at the ISP relay (pushed by SMTP).
    AtRelay,
    /// Mail for us arrives in the ISP POP3 mailbox.
    AtPop3,
    UserChecks(String),
    Connect(Target),
}

#[derive(Debug, Clone)]
pub struct OfficeSpec {
    pub seed: u64,
    pub start: Instant,
    pub config: Config,
    /// In Mails (POP3) and the connections they use.
    pub in_mails: Vec<(String, Vec<String>)>,
    pub clock: LocalClock,
    /// Per connection, by index.
    pub links: Vec<LinkSpec>,
    /// The connection that reaches the ISP (relay and POP3 box).
    pub isp_conn: ConnId,
    pub push: PushMode,
    pub upstream: UpstreamPolicy,
    pub faults: Faults,
    /// DNS for `method = "direct"`: seconds per lookup and chance of failure.
    pub dns_secs: u64,
    pub dns_fail: f64,
    /// Seconds per POP3 message.
    pub pop3_secs: (u64, u64),
    pub hook_secs: u64,
    pub check_secs: u64,
    pub traffic: Vec<(Instant, Traffic)>,
    pub keep_trace: bool,
}

impl OfficeSpec {
    /// A quiet office: this config, fixed UTC+0 clock, clean links.
    pub fn new(config: Config, start: Instant) -> OfficeSpec {
        let n = config.connections.len();
        OfficeSpec {
            seed: 1,
            start,
            config,
            in_mails: Vec::new(),
            clock: LocalClock::fixed(0),
            links: vec![LinkSpec::default(); n],
            isp_conn: 0,
            push: PushMode::Never,
            upstream: UpstreamPolicy::Accept,
            faults: Faults::CLEAN,
            dns_secs: 1,
            dns_fail: 0.0,
            pop3_secs: (1, 1),
            hook_secs: 1,
            check_secs: 1,
            traffic: Vec::new(),
            keep_trace: true,
        }
    }
}

/// A run as the office saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub conn: ConnId,
    pub run: RunId,
    pub kind: RunKind,
    pub reason: Reason,
    pub started: Instant,
    /// Local wall time at the start, `YYYY-MM-DD HH:MM:SS`.
    pub local: String,
    pub local_stamp: i64,
    pub ended: Option<(Instant, Outcome)>,
}

/// Everything worth asserting on after a run.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub runs: Vec<RunRecord>,
    pub dials: Vec<(Instant, ConnId, u32)>,
    pub hangups: Vec<(Instant, ConnId)>,
    /// (time, CONNECTION number, hook).
    pub hooks: Vec<(Instant, u32, Hook)>,
    pub notices: Vec<(Instant, ConnId, u32)>,
    pub etrn: Vec<(Instant, ConnId, Result<Vec<u16>, String>)>,
    pub outmail_runs: Vec<(Instant, ConnId)>,
    pub inmail_runs: Vec<(Instant, ConnId, String)>,
    /// (opened, closed) of the ISP's sessions into our SMTP server.
    pub inbound: Vec<(Instant, Option<Instant>)>,
    /// (up, down) of links this server dialled.
    pub online: Vec<(ConnId, Instant, Option<Instant>)>,
    pub skipped: Vec<(Instant, ConnId, String)>,
    pub clock_changes: Vec<(Instant, i64, bool)>,
    pub rejected: Vec<u64>,
}

impl Log {
    pub fn runs_of(&self, conn: ConnId) -> impl Iterator<Item = &RunRecord> {
        self.runs.iter().filter(move |r| r.conn == conn)
    }

    /// Local start times of the full runs of a connection.
    pub fn full_run_times(&self, conn: ConnId) -> Vec<String> {
        self.runs_of(conn)
            .filter(|r| r.kind == RunKind::Full)
            .map(|r| r.local.clone())
            .collect()
    }
}

#[derive(Debug)]
pub(crate) enum Ev {
    Wake(u64),
    ClockEdge,
    Traffic(usize),
    DialDone {
        conn: ConnId,
        attempt: u32,
        ok: bool,
    },
    Checked {
        conn: ConnId,
        links: Vec<ConnId>,
    },
    HookDone {
        conn: ConnId,
        hook: Hook,
    },
    WireStep(u64),
    RelayConnect,
    InMailStep {
        conn: ConnId,
        run: RunId,
        in_mail: String,
    },
    Answer(SchedulerCommand),
    LinkDrop {
        conn: ConnId,
        epoch: u64,
    },
    External,
    OpenOutMail {
        conn: ConnId,
        run: RunId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The relay pushing mail into our server.
    Inbound,
    OutMail {
        conn: ConnId,
        run: RunId,
    },
    Etrn {
        conn: ConnId,
        run: RunId,
    },
}

struct Slot {
    wire: Wire,
    purpose: Purpose,
    /// The link it runs over (`None`: over no link of ours, e.g. LAN).
    conn: ConnId,
    /// Stored by the server, 250 not yet seen by the client.
    unacked: Vec<u64>,
    scheduled: Option<Instant>,
}

#[derive(Debug, Default, Clone)]
struct LinkState {
    ours: bool,
    dialing: Option<u32>,
    epoch: u64,
    script_used: usize,
}

struct Pop3Session {
    uids: Vec<u64>,
    next: usize,
    delete: Vec<u64>,
}

impl World for Office {
    type Event = Ev;

    fn queue(&mut self) -> &mut EventQueue<Ev> {
        &mut self.q
    }

    fn clock(&mut self) -> &mut Instant {
        &mut self.now
    }

    fn run_event(&mut self, ev: Ev) {
        self.events += 1;
        self.handle(ev);
        self.check_after_event();
    }

    fn storm(&mut self) {
        self.violation("event storm: 100000 events at one instant".into());
    }

    fn stamp(&self, t: Instant) -> Instant {
        self.spec.clock.stamp(t)
    }
}

/// Messages as the invariants see them.
#[derive(Debug, Default)]
struct Mail {
    /// Outgoing, queued at the office.
    queued: BTreeSet<u64>,
    all_outgoing: BTreeSet<u64>,
    upstream_got: BTreeMap<u64, u32>,
    upstream_first: BTreeMap<u64, Instant>,
    out_lost_acks: BTreeMap<u64, u32>,
    /// At the ISP relay, for us.
    relay_held: BTreeSet<u64>,
    all_relay: BTreeSet<u64>,
    in_lost_acks: BTreeMap<u64, u32>,
    /// In the ISP POP3 box: uid → id.
    pop3_box: BTreeMap<u64, u64>,
    all_pop3: BTreeSet<u64>,
    pop3_seen: BTreeSet<u64>,
    /// Our mailboxes: id → times stored.
    stored: BTreeMap<u64, u32>,
}

pub const OUT_BASE: u64 = 1_000_000;
pub const RELAY_BASE: u64 = 2_000_000;
pub const POP3_BASE: u64 = 3_000_000;

pub struct Office {
    pub spec: OfficeSpec,
    pub now: Instant,
    q: EventQueue<Ev>,
    pub sched: Scheduler,
    wake_gen: u64,
    wake_at: Option<Instant>,
    links: Vec<LinkState>,
    link_rng: Rng,
    wire_rng: Rng,
    relay_rng: Rng,
    wires: BTreeMap<u64, Slot>,
    next_wire: u64,
    ours: Arc<Snapshot>,
    relay: Arc<Snapshot>,
    upstream: Arc<Snapshot>,
    mail: Mail,
    next_id: u64,
    pop3: BTreeMap<(ConnId, RunId, String), Pop3Session>,
    relay_pushing: bool,
    active_runs: BTreeMap<ConnId, (RunId, Instant)>,
    idle_since: BTreeMap<ConnId, Instant>,
    last_jump: Option<Instant>,
    pub log: Log,
    pub trace: Trace,
    pub violations: Vec<String>,
    pub events: u64,
}

fn snapshot(config: Config) -> Arc<Snapshot> {
    Arc::new(Snapshot {
        config,
        accounts: Default::default(),
        access: Default::default(),
    })
}

fn peer_config(host: &str, local: &[&str], etrn: &[String]) -> Config {
    let mut c = Config {
        hostname: host.into(),
        default_domain: local.first().map(|s| s.to_string()).unwrap_or_default(),
        local_domains: local.iter().map(|s| s.to_string()).collect(),
        ..Config::default()
    };
    c.smtp.require_auth = false;
    c.smtp.reject_unknown_local = false;
    c.smtp.etrn_domains = etrn.to_vec();
    c
}

fn info(id: u64) -> SessionInfo {
    SessionInfo {
        peer_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        session_id: format!("SIM{id}"),
        tls_active: false,
        tls_available: false,
        pop_before_smtp: false,
        local_offset_secs: 0,
    }
}

impl Office {
    pub fn new(spec: OfficeSpec) -> Office {
        let root = Rng::new(spec.seed);
        let setup = Setup::from_config(&spec.config, &spec.in_mails);
        let sched = Scheduler::new(spec.start, setup);
        let our_domain = spec.config.default_domain.clone();
        let mut ours_cfg = spec.config.clone();
        ours_cfg.smtp.require_auth = false;
        ours_cfg.smtp.reject_unknown_local = false;
        let relay_cfg = peer_config(
            "relay.isp.example",
            &["far.example"],
            std::slice::from_ref(&our_domain),
        );
        let upstream_cfg = peer_config("mx.far.example", &["far.example"], &[]);
        let n = spec.config.connections.len();
        let mut o = Office {
            now: spec.clock.stamp(spec.start),
            q: EventQueue::default(),
            sched,
            wake_gen: 0,
            wake_at: None,
            links: vec![LinkState::default(); n],
            link_rng: root.fork("links"),
            wire_rng: root.fork("wires"),
            relay_rng: root.fork("relay"),
            wires: BTreeMap::new(),
            next_wire: 1,
            ours: snapshot(ours_cfg),
            relay: snapshot(relay_cfg),
            upstream: snapshot(upstream_cfg),
            mail: Mail::default(),
            next_id: 0,
            pop3: BTreeMap::new(),
            relay_pushing: false,
            active_runs: BTreeMap::new(),
            idle_since: BTreeMap::new(),
            last_jump: None,
            log: Log::default(),
            trace: Trace::new(spec.keep_trace),
            violations: Vec::new(),
            events: 0,
            spec,
        };
        for c in o.spec.clock.changes().to_vec() {
            if c.at > o.now {
                o.q.push(c.at, Ev::ClockEdge);
            }
        }
        for i in 0..o.spec.traffic.len() {
            let at = o.spec.traffic[i].0.max(o.now);
            o.q.push(at, Ev::Traffic(i));
        }
        for l in &o.spec.links {
            for &(a, b) in &l.external {
                o.q.push(a, Ev::External);
                o.q.push(b, Ev::External);
            }
        }
        o.tell(SchedulerCommand::Clock {
            local: o.spec.clock.local(o.now),
            next_change: o.spec.clock.next_change(o.now),
        });
        o
    }

    fn note(&mut self, line: String) {
        self.trace.record(self.now, &line);
    }

    fn violation(&mut self, what: String) {
        let line = format!(
            "seed {}: at {} (local {}): {what}",
            self.spec.seed,
            self.now.unix_secs(),
            format_local(self.spec.clock.local(self.now))
        );
        if self.violations.len() < 20 {
            self.violations.push(line);
        }
    }

    fn local_now(&self) -> i64 {
        self.spec.clock.local(self.now)
    }

    // ----- the scheduler -----

    fn tell(&mut self, n: SchedulerCommand) {
        if !matches!(n, SchedulerCommand::Clock { .. }) {
            self.note(format!("notice {n:?}"));
        }
        let clock = SchedulerCommand::Clock {
            local: self.local_now(),
            next_change: self.spec.clock.next_change(self.now),
        };
        if !matches!(n, SchedulerCommand::Clock { .. }) {
            self.sched.handle_command(self.now, clock);
        }
        self.sched.handle_command(self.now, n);
        self.drain();
    }

    fn drain(&mut self) {
        loop {
            match self.sched.poll_event() {
                Next::Event(a) => self.on_action(a),
                Next::Wait(w) => {
                    if w != self.wake_at {
                        self.wake_at = w;
                        self.wake_gen += 1;
                        if let Some(t) = w {
                            self.q.push(t.max(self.now), Ev::Wake(self.wake_gen));
                        }
                    }
                    return;
                }
            }
        }
    }

    fn link_up(&self, conn: ConnId) -> bool {
        let s = &self.spec.config.connections[conn];
        s.link == mailroom_core::config::LinkKind::Lan
            || self.links[conn].ours
            || self.external_up(conn)
    }

    fn external_up(&self, conn: ConnId) -> bool {
        self.spec.links[conn]
            .external
            .iter()
            .any(|&(a, b)| a <= self.now && self.now < b)
    }

    fn on_action(&mut self, a: Action) {
        self.note(format!("action {a:?}"));
        let now = self.now;
        match a {
            Action::CheckLink { conn, links } => {
                let at = now + Duration::from_secs(self.spec.check_secs);
                self.q.push(at, Ev::Checked { conn, links });
            }
            Action::Dial { conn, attempt } => {
                self.log.dials.push((now, conn, attempt));
                if !self.active_runs.contains_key(&conn) {
                    self.violation(format!("dial on connection {conn} with no run in progress"));
                }
                if self.links[conn].ours || self.links[conn].dialing.is_some() {
                    self.violation(format!("dial on connection {conn} while up or dialling"));
                }
                let spec = &self.spec.links[conn];
                let st = &mut self.links[conn];
                let outcome = if st.script_used < spec.script.len() {
                    st.script_used += 1;
                    spec.script[st.script_used - 1]
                } else if self.link_rng.chance(spec.hang) {
                    DialOutcome::Hang
                } else {
                    let secs = self.link_rng.range(spec.dial_secs.0, spec.dial_secs.1);
                    if self.link_rng.chance(spec.fail) {
                        DialOutcome::Fail(secs)
                    } else {
                        DialOutcome::Up(secs)
                    }
                };
                self.links[conn].dialing = Some(attempt);
                match outcome {
                    DialOutcome::Up(s) => self.q.push(
                        now + Duration::from_secs(s),
                        Ev::DialDone {
                            conn,
                            attempt,
                            ok: true,
                        },
                    ),
                    DialOutcome::Fail(s) => self.q.push(
                        now + Duration::from_secs(s),
                        Ev::DialDone {
                            conn,
                            attempt,
                            ok: false,
                        },
                    ),
                    DialOutcome::Hang => {}
                }
            }
            Action::CancelDial { conn, .. } => {
                // The `up` command is stopped and `down` runs: a link that came up at
                // the last moment goes down again.
                self.links[conn].dialing = None;
                if self.links[conn].ours {
                    self.take_down(conn);
                }
            }
            Action::HangUp { conn } => {
                self.log.hangups.push((now, conn));
                self.take_down(conn);
            }
            Action::RunHook { conn, hook } => {
                self.log.hooks.push((now, conn as u32 + 1, hook));
                let at = now + Duration::from_secs(self.spec.hook_secs);
                self.q.push(at, Ev::HookDone { conn, hook });
            }
            Action::SendEtrn {
                conn, run, domains, ..
            } => {
                let client =
                    Client::Etrn(EtrnClient::new(now, &self.spec.config.hostname, domains));
                let server = SmtpServer::new(now, self.relay.clone(), info(self.next_wire));
                if !self.open_wire(client, server, Purpose::Etrn { conn, run }, conn) {
                    self.log.etrn.push((now, conn, Err("refused".into())));
                    self.q.push(
                        now,
                        Ev::Answer(SchedulerCommand::EtrnDone {
                            conn,
                            run,
                            result: Err("connection refused".into()),
                        }),
                    );
                }
            }
            Action::RunOutMail { conn, run } => {
                self.log.outmail_runs.push((now, conn));
                let direct = self.spec.config.connections[conn]
                    .outmail
                    .as_ref()
                    .is_some_and(|o| o.method == OutMethod::Direct);
                if direct {
                    // Resolve the MX first.
                    let at = now + Duration::from_secs(self.spec.dns_secs);
                    self.q.push(at, Ev::OpenOutMail { conn, run });
                } else {
                    self.open_outmail(conn, run, false);
                }
            }
            Action::RunInMail { conn, run, in_mail } => {
                self.log.inmail_runs.push((now, conn, in_mail.clone()));
                let uids: Vec<u64> = self.mail.pop3_box.keys().copied().collect();
                self.pop3.insert(
                    (conn, run, in_mail.clone()),
                    Pop3Session {
                        uids,
                        next: 0,
                        delete: Vec::new(),
                    },
                );
                let at = now + Duration::from_secs(self.spec.pop3_secs.0);
                self.q.push(at, Ev::InMailStep { conn, run, in_mail });
            }
            Action::NotifyAdmin {
                conn, failed_dials, ..
            } => self.log.notices.push((now, conn, failed_dials)),
            Action::RunStarted {
                conn,
                run,
                kind,
                reason,
                ..
            } => {
                self.check_run_reason(conn, &reason);
                self.active_runs.insert(conn, (run, now));
                self.idle_since.remove(&conn);
                self.log.runs.push(RunRecord {
                    conn,
                    run,
                    kind,
                    reason,
                    started: now,
                    local: format_local(self.local_now()),
                    local_stamp: self.local_now(),
                    ended: None,
                });
            }
            Action::RunFinished {
                conn, run, outcome, ..
            } => {
                if self.active_runs.get(&conn).is_some_and(|r| r.0 == run) {
                    self.active_runs.remove(&conn);
                }
                if self.links[conn].ours {
                    self.idle_since.insert(conn, now);
                }
                if let Some(r) = self.log.runs.iter_mut().rev().find(|r| r.run == run) {
                    r.ended = Some((now, outcome));
                }
            }
            Action::Online { conn, dialled } => {
                if dialled {
                    self.log.online.push((conn, now, None));
                }
                if conn == self.spec.isp_conn {
                    if let PushMode::ConnectIn(after) = self.spec.push {
                        self.q
                            .push(now + Duration::from_secs(after), Ev::RelayConnect);
                    }
                }
            }
            Action::Offline { conn, hung_up } => {
                self.idle_since.remove(&conn);
                if !hung_up && self.links[conn].ours {
                    self.take_down(conn);
                }
            }
            Action::Skipped { conn, why } => self.log.skipped.push((now, conn, why)),
            Action::ClockChanged { by_secs, caught_up } => {
                self.log.clock_changes.push((now, by_secs, caught_up))
            }
            Action::Rejected { request, .. } => self.log.rejected.push(request),
        }
    }

    fn take_down(&mut self, conn: ConnId) {
        let st = &mut self.links[conn];
        st.ours = false;
        st.dialing = None;
        st.epoch += 1;
        if let Some(o) = self
            .log
            .online
            .iter_mut()
            .rev()
            .find(|o| o.0 == conn && o.2.is_none())
        {
            o.2 = Some(self.now);
        }
        self.reset_wires_if_down(conn);
    }

    /// A link that is down (ours and nobody else's) takes its connections with it.
    fn reset_wires_if_down(&mut self, conn: ConnId) {
        if self.link_up(conn) {
            return;
        }
        let ids: Vec<u64> = self
            .wires
            .iter()
            .filter(|(_, s)| s.conn == conn)
            .map(|(&i, _)| i)
            .collect();
        for id in ids {
            self.reset_wire(id);
        }
    }

    /// §6.5.1 "no connection while the schedule forbids one": a scheduled run starts
    /// only at a slot of a rule that names the connection, recomputed here by brute
    /// force from the configuration rather than by the scheduler's own code.
    /// Whether schedule `label` fires for `conn` at the local stamp `local` (whole
    /// seconds only), from the configuration by brute force.
    fn slot_at(&self, conn: ConnId, label: &str, local: i64) -> bool {
        if local % SEC != 0 {
            return false;
        }
        let day = day_of(local);
        let secs = (local - day * DAY) / SEC;
        let name = &self.spec.config.connections[conn].name;
        self.spec.config.schedules.iter().enumerate().any(|(i, s)| {
            let l = s
                .name
                .clone()
                .unwrap_or_else(|| format!("schedule {}", i + 1));
            let days = if s.days.is_empty() {
                127
            } else {
                s.days.iter().fold(0, |m, d| m | d.mask())
            };
            let targets = if s.connections.is_empty() {
                self.spec.config.connections[conn].primary
            } else {
                s.connections.iter().any(|c| c.eq_ignore_ascii_case(name))
            };
            let mut slots: Vec<i64> = s.at.iter().map(|t| i64::from(t.minutes()) * 60).collect();
            if let (Some(e), Some(f), Some(t)) = (s.every, s.from, s.to) {
                let mut m = i64::from(f.minutes()) * 60;
                while m <= i64::from(t.minutes()) * 60 {
                    slots.push(m);
                    m += e.0.as_secs().max(60) as i64;
                }
            }
            l == label && targets && days & (1 << weekday(day)) != 0 && slots.contains(&secs)
        })
    }

    /// §6.5.1 "no connection while the schedule forbids one": a scheduled run starts
    /// at a slot of a rule that names the connection (recomputed here by brute force,
    /// not by the scheduler's code), or just after the run that was busy at that slot.
    fn check_run_reason(&mut self, conn: ConnId, reason: &Reason) {
        match reason {
            Reason::Schedule(label) => {
                let local = self.local_now();
                if self.slot_at(conn, label, local) {
                    return;
                }
                let prev = self.log.runs.iter().rev().find(|r| r.conn == conn).cloned();
                let waited = prev.is_some_and(|p| {
                    let ended_just_now = p.ended.as_ref().is_some_and(|e| {
                        self.now.saturating_since(e.0)
                            <= Duration::from_secs(self.spec.hook_secs + 1)
                    });
                    let from = (p.local_stamp / (60 * SEC)) * 60 * SEC;
                    ended_just_now
                        && (0..)
                            .map(|k| from + k * 60 * SEC)
                            .take_while(|&t| t <= local)
                            .any(|t| self.slot_at(conn, label, t))
                });
                if !waited {
                    self.violation(format!(
                        "scheduled run of connection {conn} ({label}) at a time no schedule allows"
                    ));
                }
            }
            Reason::ClockCatchUp if self.last_jump != Some(self.now) => {
                self.violation(format!(
                    "catch-up run of connection {conn} without a clock change"
                ));
            }
            _ => {}
        }
    }

    // ----- wires -----

    fn open_wire(
        &mut self,
        client: Client,
        server: SmtpServer,
        purpose: Purpose,
        conn: ConnId,
    ) -> bool {
        if !self.link_up(conn) || Wire::refused(&mut self.wire_rng, &self.spec.faults) {
            self.note(format!("wire refused {purpose:?}"));
            return false;
        }
        let id = self.next_wire;
        self.next_wire += 1;
        let rng = self.wire_rng.fork(&format!("wire{id}"));
        let mut wire = Wire::new(client, server, self.spec.faults, rng);
        let step = wire.open(self.now, &mut Self::server_answer_static);
        self.wires.insert(
            id,
            Slot {
                wire,
                purpose,
                conn,
                unacked: Vec::new(),
                scheduled: None,
            },
        );
        self.note(format!("wire {id} open {purpose:?}"));
        self.after_step(id, step);
        true
    }

    /// Greetings never raise events; this answers nothing.
    fn server_answer_static(_e: &SmtpEvent) -> Option<SmtpCommand> {
        None
    }

    fn open_outmail(&mut self, conn: ConnId, run: RunId, dns_failed: bool) {
        let msgs: Vec<SimMessage> = self
            .mail
            .queued
            .iter()
            .take(50)
            .map(|&id| SimMessage {
                id,
                from: format!("user@{}", self.spec.config.default_domain),
                to: format!("friend{}@far.example", id % 7),
            })
            .collect();
        let opened = !dns_failed && !msgs.is_empty() && {
            let client = Client::Push(PushClient::new(self.now, msgs));
            let server = SmtpServer::new(self.now, self.upstream.clone(), info(self.next_wire));
            self.open_wire(client, server, Purpose::OutMail { conn, run }, conn)
        };
        if !opened {
            self.q.push(
                self.now,
                Ev::Answer(SchedulerCommand::OutMailDone { conn, run }),
            );
        }
    }

    fn schedule_wire(&mut self, id: u64) {
        let Some(slot) = self.wires.get_mut(&id) else {
            return;
        };
        if let Some(t) = slot.wire.next_time() {
            let t = t.max(self.now);
            if slot.scheduled.is_none_or(|s| s != t) {
                slot.scheduled = Some(t);
                self.q.push(t, Ev::WireStep(id));
            }
        }
    }

    fn step_wire(&mut self, id: u64) {
        let now = self.now;
        let Some(mut slot) = self.wires.remove(&id) else {
            return;
        };
        if slot.scheduled != Some(now) {
            self.wires.insert(id, slot);
            return;
        }
        slot.scheduled = None;
        let purpose = slot.purpose;
        let mut stored = Vec::new();
        let mut etrn_asked = false;
        let step = {
            let mail = &mut self.mail;
            let upstream = self.spec.upstream;
            let mut answer = |e: &SmtpEvent| -> Option<SmtpCommand> {
                match e {
                    SmtpEvent::Deliver(d) => {
                        let sid = sim_id(&d.data).unwrap_or(0);
                        match purpose {
                            Purpose::Inbound => {
                                stored.push(sid);
                                Some(SmtpCommand::DeliveryResult(Ok(())))
                            }
                            Purpose::OutMail { .. } => {
                                let first = *mail.upstream_first.entry(sid).or_insert(now);
                                let accept = match upstream {
                                    UpstreamPolicy::Accept => true,
                                    UpstreamPolicy::Greylist(secs) => {
                                        now >= first + Duration::from_secs(secs)
                                    }
                                    UpstreamPolicy::TempFailUntil(t) => now >= t,
                                };
                                if accept {
                                    stored.push(sid);
                                    Some(SmtpCommand::DeliveryResult(Ok(())))
                                } else {
                                    Some(SmtpCommand::DeliveryResult(Err(
                                        mailroom_core::smtp::DeliveryError {
                                            temporary: true,
                                            text: "Greylisted, try again later".into(),
                                        },
                                    )))
                                }
                            }
                            Purpose::Etrn { .. } => Some(SmtpCommand::DeliveryResult(Ok(()))),
                        }
                    }
                    SmtpEvent::Etrn { .. } => {
                        etrn_asked = true;
                        Some(SmtpCommand::EtrnResult(Ok(mail.relay_held.len())))
                    }
                    SmtpEvent::Authenticate { .. } | SmtpEvent::AuthenticateCram { .. } => {
                        Some(SmtpCommand::AuthResult(None))
                    }
                    SmtpEvent::RuleFired(_) => Some(SmtpCommand::RuleLogged),
                    SmtpEvent::Dnsbl { .. } => Some(SmtpCommand::DnsblResult(None)),
                    // The simulation has no DNS for the checks.
                    SmtpEvent::CheckAuth(_) => Some(SmtpCommand::AuthChecked(Box::new(
                        mailroom_core::smtp::AuthAnswer::unchecked(),
                    ))),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            };
            slot.wire.step(now, &mut answer)
        };
        for sid in stored {
            slot.unacked.push(sid);
            match purpose {
                Purpose::Inbound => self.store(sid),
                Purpose::OutMail { .. } => {
                    let n = self.mail.upstream_got.entry(sid).or_insert(0);
                    *n += 1;
                    let n = *n;
                    let lost = self.mail.out_lost_acks.get(&sid).copied().unwrap_or(0);
                    if n > 1 + lost {
                        self.violation(format!("outgoing message {sid} delivered {n} times"));
                    }
                }
                Purpose::Etrn { .. } => {}
            }
        }
        if etrn_asked {
            if let PushMode::OnEtrn(after) = self.spec.push {
                self.q
                    .push(now + Duration::from_secs(after), Ev::RelayConnect);
            }
        }
        self.wires.insert(id, slot);
        self.after_step(id, step);
    }

    fn store(&mut self, sid: u64) {
        let n = self.mail.stored.entry(sid).or_insert(0);
        *n += 1;
        let n = *n;
        let lost = self.mail.in_lost_acks.get(&sid).copied().unwrap_or(0);
        if n > 1 + lost {
            self.violation(format!("message {sid} stored {n} times"));
        }
    }

    fn after_step(&mut self, id: u64, step: Step) {
        let Some(mut slot) = self.wires.remove(&id) else {
            return;
        };
        let purpose = slot.purpose;
        for ev in step.client_events {
            match ev {
                ClientEvent::Push(PushEvent::Result(sid, r)) => {
                    slot.unacked.retain(|&x| x != sid);
                    if r == PushResult::Accepted {
                        match purpose {
                            Purpose::Inbound => {
                                self.mail.relay_held.remove(&sid);
                                if self.mail.stored.get(&sid).copied().unwrap_or(0) == 0 {
                                    self.violation(format!(
                                        "message {sid} acknowledged but not stored"
                                    ));
                                }
                            }
                            Purpose::OutMail { .. } => {
                                self.mail.queued.remove(&sid);
                            }
                            Purpose::Etrn { .. } => {}
                        }
                    }
                }
                ClientEvent::Etrn(EtrnEvent::Done(r)) => {
                    if let Purpose::Etrn { conn, run } = purpose {
                        let codes = r.clone().map(|v| v.iter().map(|x| x.code).collect());
                        self.log.etrn.push((self.now, conn, codes));
                        let result = r.map(|_| ());
                        self.q.push(
                            self.now,
                            Ev::Answer(SchedulerCommand::EtrnDone { conn, run, result }),
                        );
                    }
                }
            }
        }
        let ended = step.ended || slot.wire.is_ended();
        self.wires.insert(id, slot);
        if ended {
            self.end_wire(id);
        } else {
            self.schedule_wire(id);
        }
    }

    fn reset_wire(&mut self, id: u64) {
        let Some(slot) = self.wires.get_mut(&id) else {
            return;
        };
        let mut step = Step::default();
        let mut answer = |_: &SmtpEvent| None;
        slot.wire.reset(self.now, &mut step, &mut answer);
        self.after_step(id, step);
    }

    fn end_wire(&mut self, id: u64) {
        let Some(slot) = self.wires.remove(&id) else {
            return;
        };
        self.note(format!("wire {id} ended {:?}", slot.purpose));
        for sid in slot.unacked {
            let map = match slot.purpose {
                Purpose::Inbound => &mut self.mail.in_lost_acks,
                _ => &mut self.mail.out_lost_acks,
            };
            *map.entry(sid).or_insert(0) += 1;
        }
        match slot.purpose {
            Purpose::Inbound => {
                self.relay_pushing = false;
                if let Some(i) = self.log.inbound.iter_mut().rev().find(|i| i.1.is_none()) {
                    i.1 = Some(self.now);
                }
                self.tell(SchedulerCommand::InboundEnded);
            }
            Purpose::OutMail { conn, run } => {
                self.tell(SchedulerCommand::OutMailDone { conn, run })
            }
            Purpose::Etrn { conn, run } => {
                // A session that ended without a result (reset) still answers.
                self.q.push(
                    self.now,
                    Ev::Answer(SchedulerCommand::EtrnDone {
                        conn,
                        run,
                        result: Err("connection lost".into()),
                    }),
                );
            }
        }
    }

    fn relay_connect(&mut self) {
        if self.relay_pushing || self.mail.relay_held.is_empty() {
            return;
        }
        let conn = self.spec.isp_conn;
        let msgs: Vec<SimMessage> = self
            .mail
            .relay_held
            .iter()
            .take(50)
            .map(|&id| SimMessage {
                id,
                from: format!("sender{}@far.example", id % 5),
                to: format!("user{}@{}", id % 3, self.spec.config.default_domain),
            })
            .collect();
        let client = Client::Push(PushClient::new(self.now, msgs));
        let server = SmtpServer::new(self.now, self.ours.clone(), info(self.next_wire));
        if self.open_wire(client, server, Purpose::Inbound, conn) {
            self.relay_pushing = true;
            self.log.inbound.push((self.now, None));
            self.tell(SchedulerCommand::InboundStarted);
        }
    }

    // ----- the event loop -----

    fn handle(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Wake(gen) => {
                if gen == self.wake_gen {
                    self.wake_at = None;
                    self.tell(SchedulerCommand::Clock {
                        local: self.local_now(),
                        next_change: self.spec.clock.next_change(now),
                    });
                    self.sched.handle_timeout(now);
                    self.drain();
                }
            }
            Ev::ClockEdge => {
                self.last_jump = Some(now);
                self.note(format!("clock now {}", format_local(self.local_now())));
                self.tell(SchedulerCommand::Clock {
                    local: self.local_now(),
                    next_change: self.spec.clock.next_change(now),
                });
            }
            Ev::Traffic(i) => {
                let t = self.spec.traffic[i].1.clone();
                self.note(format!("traffic {t:?}"));
                match t {
                    Traffic::Outgoing { priority } => {
                        self.next_id += 1;
                        let id = OUT_BASE + self.next_id;
                        self.mail.queued.insert(id);
                        self.mail.all_outgoing.insert(id);
                        self.tell(SchedulerCommand::MessageQueued { priority });
                    }
                    Traffic::AtRelay => {
                        self.next_id += 1;
                        let id = RELAY_BASE + self.next_id;
                        self.mail.relay_held.insert(id);
                        self.mail.all_relay.insert(id);
                        // A permanently connected office gets its mail pushed at once.
                        if self.link_up(self.spec.isp_conn) {
                            if let PushMode::ConnectIn(after) = self.spec.push {
                                let jitter = self.relay_rng.range(0, 2);
                                self.q.push(
                                    now + Duration::from_secs(after + jitter),
                                    Ev::RelayConnect,
                                );
                            }
                        }
                    }
                    Traffic::AtPop3 => {
                        self.next_id += 1;
                        let id = POP3_BASE + self.next_id;
                        self.mail.pop3_box.insert(self.next_id, id);
                        self.mail.all_pop3.insert(id);
                    }
                    Traffic::UserChecks(u) => {
                        self.tell(SchedulerCommand::UserCheckedMail { user: u })
                    }
                    Traffic::Connect(target) => {
                        let request = i as u64 + 1;
                        self.tell(SchedulerCommand::ConnectNow { target, request });
                    }
                }
            }
            Ev::DialDone { conn, attempt, ok } => {
                if self.links[conn].dialing != Some(attempt) {
                    return;
                }
                self.links[conn].dialing = None;
                let result = if ok {
                    let st = &mut self.links[conn];
                    st.ours = true;
                    st.epoch += 1;
                    let epoch = st.epoch;
                    let p = self.spec.links[conn].drop_per_hour;
                    if p > 0.0 {
                        // Geometric time to a drop, minute by minute.
                        let per_min = p / 60.0;
                        let mut mins = 1u64;
                        while mins < 24 * 60 && !self.link_rng.chance(per_min) {
                            mins += 1;
                        }
                        if mins < 24 * 60 {
                            self.q.push(
                                now + Duration::from_secs(mins * 60),
                                Ev::LinkDrop { conn, epoch },
                            );
                        }
                    }
                    Ok(())
                } else {
                    Err("NO CARRIER".to_string())
                };
                self.tell(SchedulerCommand::DialResult {
                    conn,
                    attempt,
                    result,
                });
            }
            Ev::Checked { conn, links } => {
                let up = links
                    .into_iter()
                    .find(|&l| self.links[l].ours || self.external_up(l));
                self.tell(SchedulerCommand::LinkChecked { conn, up });
            }
            Ev::HookDone { conn, hook } => self.tell(SchedulerCommand::HookDone { conn, hook }),
            Ev::WireStep(id) => self.step_wire(id),
            Ev::RelayConnect => self.relay_connect(),
            Ev::InMailStep { conn, run, in_mail } => self.pop3_step(conn, run, in_mail),
            Ev::Answer(n) => self.tell(n),
            Ev::LinkDrop { conn, epoch } => {
                if self.links[conn].ours && self.links[conn].epoch == epoch {
                    self.note(format!("link {conn} dropped"));
                    self.take_down(conn);
                    self.tell(SchedulerCommand::LinkLost { conn });
                }
            }
            Ev::External => {
                for conn in 0..self.links.len() {
                    self.reset_wires_if_down(conn);
                }
            }
            Ev::OpenOutMail { conn, run } => {
                let failed = self.relay_rng.chance(self.spec.dns_fail);
                self.open_outmail(conn, run, failed);
            }
        }
    }

    fn pop3_step(&mut self, conn: ConnId, run: RunId, in_mail: String) {
        let key = (conn, run, in_mail.clone());
        let up = self.link_up(conn);
        let Some(mut s) = self.pop3.remove(&key) else {
            return;
        };
        if !up {
            // The session died: no QUIT, so no deletions on the ISP.
            self.tell(SchedulerCommand::InMailDone { conn, run, in_mail });
            return;
        }
        if s.next < s.uids.len() {
            let uid = s.uids[s.next];
            s.next += 1;
            if let Some(&id) = self.mail.pop3_box.get(&uid) {
                // UIDL: a message seen before is not stored again.
                if self.mail.pop3_seen.insert(uid) {
                    let n = self.mail.stored.entry(id).or_insert(0);
                    *n += 1;
                    if *n > 1 {
                        let n = *n;
                        self.violation(format!("POP3 message {id} stored {n} times"));
                    }
                }
                s.delete.push(uid);
            }
            let secs = self
                .relay_rng
                .range(self.spec.pop3_secs.0, self.spec.pop3_secs.1);
            self.pop3.insert(key, s);
            self.q.push(
                self.now + Duration::from_secs(secs),
                Ev::InMailStep { conn, run, in_mail },
            );
            return;
        }
        // QUIT: deletions take effect.
        for uid in s.delete {
            if let Some(id) = self.mail.pop3_box.remove(&uid) {
                if self.mail.stored.get(&id).copied().unwrap_or(0) == 0 {
                    self.violation(format!(
                        "POP3 message {id} deleted at the ISP but not stored"
                    ));
                }
            }
        }
        self.tell(SchedulerCommand::InMailDone { conn, run, in_mail });
    }

    fn check_after_event(&mut self) {
        // The link is never left up, idle, beyond the idle timeout (plus the time the
        // pre-disconnect hook takes).
        for (&conn, &since) in &self.idle_since.clone() {
            let c = &self.spec.config.connections[conn];
            let limit = c.idle_hangup.0 + Duration::from_secs(self.spec.hook_secs + 1);
            if self.links[conn].ours && self.now.saturating_since(since) > limit {
                self.violation(format!(
                    "connection {conn} left up and idle for {}s",
                    self.now.saturating_since(since).as_secs()
                ));
                self.idle_since.remove(&conn);
            }
        }
        for (&conn, &(_, started)) in &self.active_runs.clone() {
            let c = &self.spec.config.connections[conn];
            let limit = c.max_online.0
                + c.dial_timeout.0 * (c.dial_retries + 2)
                + c.retry_interval.0 * (c.dial_retries + 1)
                + Duration::from_secs(4 * self.spec.hook_secs + 10);
            if self.now.saturating_since(started) > limit {
                self.violation(format!(
                    "run on connection {conn} has lasted {}s",
                    self.now.saturating_since(started).as_secs()
                ));
                self.active_runs.remove(&conn);
            }
        }
    }

    /// Run events until `until` (inclusive).
    pub fn run_until(&mut self, until: Instant) {
        crate::sim::run_until(self, until);
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Inject traffic now.
    pub fn inject(&mut self, t: Traffic) {
        self.spec.traffic.push((self.now, t));
        let i = self.spec.traffic.len() - 1;
        self.handle(Ev::Traffic(i));
        self.check_after_event();
    }

    /// The end-of-scenario checks: no message lost anywhere.
    pub fn final_checks(&mut self) {
        for id in self.mail.all_outgoing.clone() {
            if !self.mail.queued.contains(&id) && !self.mail.upstream_got.contains_key(&id) {
                self.violation(format!("outgoing message {id} lost"));
            }
        }
        for id in self.mail.all_relay.clone() {
            if !self.mail.relay_held.contains(&id) && !self.mail.stored.contains_key(&id) {
                self.violation(format!("incoming message {id} lost"));
            }
        }
        for id in self.mail.all_pop3.clone() {
            let at_isp = self.mail.pop3_box.values().any(|&v| v == id);
            if !at_isp && !self.mail.stored.contains_key(&id) {
                self.violation(format!("POP3 message {id} lost"));
            }
        }
    }

    /// Messages waiting in our outbound queue / at the relay / in the POP3 box, and
    /// how many different messages reached our mailboxes.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.mail.queued.len(),
            self.mail.relay_held.len(),
            self.mail.pop3_box.len(),
            self.mail.stored.len(),
        )
    }

    /// Whether our side dialled link `conn` is up now.
    pub fn dialled_up(&self, conn: ConnId) -> bool {
        self.links[conn].ours
    }
}
