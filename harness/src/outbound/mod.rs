//! Outbound delivery in virtual time: the real core [`OutQueue`](mailroom_core::outbound::OutQueue)
//! and real [`SmtpClient`](mailroom_core::smtp::client::SmtpClient) sessions (through
//! [`driver`], the one adapter) against scripted relays and MX hosts ([`smtp_peer`])
//! and a scripted DNS server ([`dns_peer`]) over the simulated links of
//! [`crate::wire`], with the invariants checked after every event:
//!
//! - no acknowledged message is lost: each recipient ends delivered (a host stored it
//!   and the client saw the 250), bounced, or still queued;
//! - none is delivered twice by a host after the client saw its 250 (a repeat is only
//!   allowed after a lost acknowledgement, RFC 5321 §6.1), and none acknowledged twice;
//! - none is left in the queue without a reason (a next-attempt time the queue will
//!   wake for, or a session in flight);
//! - the delay warning comes once per message, not before `warn_after` and not later
//!   than the first moment the queue is idle after it; a bounce for a temporary failure
//!   comes at `bounce_after` and not before, a permanent one at once;
//! - a relay session that found no server tried every relay, in order.

pub mod dns_peer;
pub mod driver;
pub mod random;
pub mod smtp_peer;

use crate::rng::Rng;
use crate::sim::{EventQueue, Trace, World};
use crate::wire::Faults;
use dns_peer::DnsPeer;
use driver::{body_of, Driver, Net, Obs};
use mailroom_core::config::{Config, WarningPolicy};
use mailroom_core::outbound::{Dest, QueueAction, QueuedMessage, QueuedRecipient, RcptState};
use mailroom_core::smtp::client::RcptOutcome;
use mailroom_core::Instant;
use smtp_peer::{Host, HostSpec, SharedHost};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The outbound world's events.
#[derive(Debug)]
pub enum OutEv {
    /// A user queues mail (index into the spec's mails).
    Mail(usize),
    /// The queue's timer (its generation).
    QueueWake(u64),
    /// A session's next step.
    Session(u64),
    /// The scheduler's "run Out Mail" for a dial-up connection.
    Run,
}

/// One message a user sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMail {
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct OutSpec {
    pub seed: u64,
    pub start: Instant,
    /// One connection with an Out Mail, relay or direct, and the `[outbound]` policy:
    /// a LAN link (its Out Mail runs by itself, the runtime's `auto_lan`) or a dial-up
    /// one (see `run_every`).
    pub config: Config,
    /// Relays and MX hosts, by name.
    pub hosts: Vec<HostSpec>,
    pub dns: DnsPeer,
    pub faults: Faults,
    pub mails: Vec<(Instant, OutMail)>,
    /// The connection is not a LAN link: its Out Mail runs only when asked, this often
    /// (a stand-in for the connection scheduler, which the office runs).
    pub run_every: Option<Duration>,
    pub keep_trace: bool,
}

impl OutSpec {
    /// A quiet world: this configuration, clean links, no hosts, no mail.
    pub fn new(config: Config, start: Instant) -> OutSpec {
        OutSpec {
            seed: 1,
            start,
            config,
            hosts: Vec::new(),
            dns: DnsPeer::default(),
            faults: Faults::CLEAN,
            mails: Vec::new(),
            run_every: None,
            keep_trace: true,
        }
    }
}

/// Counts for the sweep's summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutStats {
    pub messages: u64,
    pub recipients: u64,
    pub delivered: u64,
    /// Failed attempts followed by a retry.
    pub retried: u64,
    pub warned: u64,
    pub bounced: u64,
    /// Relay sessions delivered through a relay other than the first tried.
    pub failed_over: u64,
    /// Stored twice because the first 250 never reached the client (RFC 5321 §6.1).
    pub duplicates: u64,
    pub sessions: u64,
    pub dns_queries: u64,
}

impl OutStats {
    pub fn add(&mut self, o: &OutStats) {
        self.messages += o.messages;
        self.recipients += o.recipients;
        self.delivered += o.delivered;
        self.retried += o.retried;
        self.warned += o.warned;
        self.bounced += o.bounced;
        self.failed_over += o.failed_over;
        self.duplicates += o.duplicates;
        self.sessions += o.sessions;
        self.dns_queries += o.dns_queries;
    }
}

/// What became of one recipient.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RcptFate {
    /// Hosts that stored it, with when.
    pub stored: Vec<(Instant, String)>,
    /// The client saw the 250.
    pub acked: Option<Instant>,
    pub bounced: Option<(Instant, String)>,
    /// Failed attempts, and the last error, as the queue last saved them.
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFate {
    pub arrival: Instant,
    pub rcpts: BTreeMap<String, RcptFate>,
    pub warnings: Vec<Instant>,
    pub removed: Option<Instant>,
}

impl World for OutWorld {
    type Event = OutEv;

    fn queue(&mut self) -> &mut EventQueue<OutEv> {
        &mut self.events
    }

    fn clock(&mut self) -> &mut Instant {
        &mut self.now
    }

    fn run_event(&mut self, ev: OutEv) {
        self.events_run += 1;
        self.handle(ev);
        self.check_after_event();
    }

    fn storm(&mut self) {
        self.violation("event storm: 100000 events at one instant".into());
    }
}

pub struct OutWorld {
    pub spec: OutSpec,
    pub now: Instant,
    events: EventQueue<OutEv>,
    driver: Driver,
    hosts: BTreeMap<String, SharedHost>,
    addrs: BTreeMap<IpAddr, String>,
    dns: DnsPeer,
    rng: Rng,
    pub fates: BTreeMap<String, MailFate>,
    pub stats: OutStats,
    pub trace: Trace,
    pub violations: Vec<String>,
    pub events_run: u64,
    runs: u64,
    run_going: Option<u64>,
}

impl OutWorld {
    pub fn new(spec: OutSpec) -> OutWorld {
        let root = Rng::new(spec.seed).fork("outbound");
        let hosts: BTreeMap<String, SharedHost> = spec
            .hosts
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    Host::new(h.clone(), root.fork(&format!("host {}", h.name))),
                )
            })
            .collect();
        let mut dns = spec.dns.clone();
        let mut addrs = BTreeMap::new();
        for (i, name) in hosts.keys().enumerate() {
            let ip = Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1);
            dns.a.entry(name.clone()).or_insert(ip);
        }
        for (name, ip) in &dns.a {
            addrs.insert(IpAddr::V4(*ip), name.clone());
        }
        let mut events = EventQueue::default();
        for (i, (at, _)) in spec.mails.iter().enumerate() {
            events.push((*at).max(spec.start), OutEv::Mail(i));
        }
        if spec.run_every.is_some() {
            events.push(spec.start, OutEv::Run);
        }
        OutWorld {
            now: spec.start,
            driver: Driver::new(spec.start, spec.config.clone()),
            events,
            hosts,
            addrs,
            dns,
            rng: root.fork("net"),
            fates: BTreeMap::new(),
            stats: OutStats::default(),
            trace: Trace::new(spec.keep_trace),
            violations: Vec::new(),
            events_run: 0,
            runs: 0,
            run_going: None,
            spec,
        }
    }

    fn note(&mut self, line: String) {
        self.trace.record(self.now, &line);
    }

    fn violation(&mut self, what: String) {
        let line = format!(
            "seed {} outbound: at {}: {what}",
            self.spec.seed,
            self.now.unix_secs()
        );
        if self.violations.len() < 20 {
            self.violations.push(line);
        }
    }

    /// Run events until `until` (inclusive).
    pub fn run_until(&mut self, until: Instant) {
        crate::sim::run_until(self, until);
    }

    fn handle(&mut self, ev: OutEv) {
        let now = self.now;
        let mut obs = Vec::new();
        let mut net = Net {
            events: &mut self.events,
            hosts: &self.hosts,
            addrs: &self.addrs,
            dns: &mut self.dns,
            faults: self.spec.faults,
            rng: &mut self.rng,
            obs: &mut obs,
        };
        match ev {
            OutEv::Mail(i) => {
                let id = format!("M{:05}", i + 1);
                let mail = self.spec.mails[i].1.clone();
                let msg = QueuedMessage {
                    id: id.clone(),
                    size: body_of(&id).len() as u64,
                    arrival: now,
                    sender: Some("user@office.example".into()),
                    eight_bit: false,
                    dsn_ret: None,
                    dsn_envid: None,
                    warned: false,
                    recipients: mail
                        .recipients
                        .iter()
                        .map(|r| QueuedRecipient::new(r))
                        .collect(),
                    receipt_to: None,
                };
                self.stats.messages += 1;
                self.stats.recipients += mail.recipients.len() as u64;
                self.fates.insert(
                    id.clone(),
                    MailFate {
                        arrival: now,
                        rcpts: mail
                            .recipients
                            .iter()
                            .map(|r| (r.clone(), RcptFate::default()))
                            .collect(),
                        warnings: Vec::new(),
                        removed: None,
                    },
                );
                self.driver.load(now, msg, &mut net);
                self.trace
                    .record(now, &format!("queued {id} {:?}", mail.recipients));
            }
            OutEv::QueueWake(gen) => self.driver.wake(now, gen, &mut net),
            OutEv::Run => {
                if let Some(every) = self.spec.run_every {
                    net.events.push(now + every, OutEv::Run);
                }
                // As the scheduler: no second run while one is going.
                if self.run_going.is_none() {
                    self.runs += 1;
                    self.run_going = Some(self.runs);
                    self.driver.run(now, 0, self.runs, &mut net);
                }
            }
            OutEv::Session(id) => self.driver.session_event(now, id, &mut net),
        }
        for o in obs {
            self.observe(o);
        }
    }

    fn fate(&mut self, msg: &str, rcpt: &str) -> Option<&mut RcptFate> {
        self.fates.get_mut(msg)?.rcpts.get_mut(rcpt)
    }

    /// A host, to change how it behaves in the middle of a scenario.
    pub fn host(&self, name: &str) -> Option<SharedHost> {
        self.hosts.get(name).cloned()
    }

    /// What became of `rcpt` of the `n`-th mail (from 1).
    pub fn rcpt(&self, n: usize, rcpt: &str) -> Option<&RcptFate> {
        self.fates.get(&format!("M{n:05}"))?.rcpts.get(rcpt)
    }

    pub fn mail(&self, n: usize) -> Option<&MailFate> {
        self.fates.get(&format!("M{n:05}"))
    }

    /// The ledger and the invariants that judge one observation.
    fn observe(&mut self, o: Obs) {
        let now = self.now;
        let setup = self.driver.setup().clone();
        match o {
            Obs::DnsQuery => self.stats.dns_queries += 1,
            Obs::Stored(s) => {
                self.note(format!("{} stored {} for {}", s.host, s.message, s.rcpt));
                let Some(f) = self.fate(&s.message, &s.rcpt) else {
                    return self.violation(format!(
                        "{} stored {} for {}, which was never queued",
                        s.host, s.message, s.rcpt
                    ));
                };
                f.stored.push((now, s.host.clone()));
                let acked = f.acked.is_some();
                let again = f.stored.len() > 1;
                if acked {
                    self.violation(format!(
                        "{} for {} delivered again (to {}) after a server acknowledged it",
                        s.message, s.rcpt, s.host
                    ));
                } else if again {
                    self.stats.duplicates += 1;
                }
            }
            Obs::Finished {
                session,
                message,
                report,
            } => {
                let codes: Vec<u16> = report
                    .recipients
                    .iter()
                    .map(|(_, o)| o.reply().code)
                    .collect();
                self.note(format!("session {session} finished {message} {codes:?}"));
                for (rcpt, outcome) in report.recipients {
                    let Some(f) = self.fate(&message, &rcpt) else {
                        continue;
                    };
                    match outcome {
                        RcptOutcome::Delivered(_) => {
                            let twice = f.acked.is_some();
                            let stored = !f.stored.is_empty();
                            f.acked = Some(now);
                            self.stats.delivered += 1;
                            if twice {
                                self.violation(format!("{message} for {rcpt} acknowledged twice"));
                            }
                            if !stored {
                                self.violation(format!(
                                    "{message} for {rcpt} acknowledged but stored nowhere"
                                ));
                            }
                        }
                        RcptOutcome::Temporary(_) | RcptOutcome::Permanent(_) => {}
                    }
                }
            }
            Obs::SessionEnded {
                session,
                dest,
                tried,
                established,
                permanent,
                error,
            } => {
                self.stats.sessions += 1;
                self.note(format!(
                    "session {session} ended {dest:?} tried {tried:?} established {established} permanent {permanent} {error:?}"
                ));
                if let Dest::Relay(conn) = dest {
                    let relays = driver::relay_hosts(&self.spec.config, conn);
                    if !relays.starts_with(&tried) {
                        self.violation(format!(
                            "relay session {session} tried {tried:?}, not in the order of {relays:?}"
                        ));
                    } else if !established && tried.len() < relays.len() {
                        self.violation(format!(
                            "relay session {session} gave up after trying {tried:?} of {relays:?}"
                        ));
                    }
                    if established && tried.len() > 1 {
                        self.stats.failed_over += 1;
                    }
                }
            }
            Obs::Queue(a) => self.observe_queue(now, a, &setup),
        }
    }

    fn observe_queue(
        &mut self,
        now: Instant,
        a: QueueAction,
        setup: &mailroom_core::outbound::QueueSetup,
    ) {
        match a {
            QueueAction::Bounce {
                message,
                recipients,
                ..
            } => {
                let list: Vec<String> = recipients
                    .iter()
                    .map(|r| format!("{} {}", r.address, r.status))
                    .collect();
                self.note(format!("bounce {message} {list:?}"));
                let Some(arrival) = self.fates.get(&message).map(|f| f.arrival) else {
                    return;
                };
                for r in recipients {
                    self.stats.bounced += 1;
                    let temporary = r.status.starts_with('4');
                    if temporary && now < arrival + setup.bounce_after {
                        self.violation(format!(
                            "{message} for {} bounced after {}s, before the give-up age of {}s",
                            r.address,
                            now.saturating_since(arrival).as_secs(),
                            setup.bounce_after.as_secs()
                        ));
                    }
                    let Some(f) = self.fate(&message, &r.address) else {
                        continue;
                    };
                    let acked = f.acked.is_some();
                    let twice = f.bounced.is_some();
                    f.bounced = Some((now, r.status.clone()));
                    if acked {
                        self.violation(format!(
                            "{message} for {} bounced though delivered",
                            r.address
                        ));
                    }
                    if twice {
                        self.violation(format!("{message} for {} bounced twice", r.address));
                    }
                }
            }
            QueueAction::Warn { message, .. } => {
                self.note(format!("warn {message}"));
                self.stats.warned += 1;
                let Some(f) = self.fates.get_mut(&message) else {
                    return;
                };
                f.warnings.push(now);
                let (n, arrival) = (f.warnings.len(), f.arrival);
                if setup.warnings == WarningPolicy::None {
                    self.violation(format!("{message} warned with warnings = \"none\""));
                }
                if n > 1 {
                    self.violation(format!("{message} warned {n} times"));
                }
                if now < arrival + setup.warn_after {
                    self.violation(format!(
                        "{message} warned after {}s, before warn_after",
                        now.saturating_since(arrival).as_secs()
                    ));
                }
            }
            QueueAction::Remove { message } => {
                self.note(format!("remove {message}"));
                let Some(f) = self.fates.get_mut(&message) else {
                    return;
                };
                f.removed = Some(now);
                let open: Vec<String> = f
                    .rcpts
                    .iter()
                    .filter(|(_, r)| r.acked.is_none() && r.bounced.is_none())
                    .map(|(a, _)| a.clone())
                    .collect();
                if !open.is_empty() {
                    self.violation(format!(
                        "{message} removed from the queue, but {open:?} neither delivered nor bounced"
                    ));
                }
            }
            QueueAction::Save(m) => {
                self.note(format!("save {}", m.id));
                let Some(f) = self.fates.get_mut(&m.id) else {
                    return;
                };
                for r in &m.recipients {
                    let Some(fate) = f.rcpts.get_mut(&r.address) else {
                        continue;
                    };
                    if r.attempts > fate.attempts && r.state == RcptState::Pending {
                        self.stats.retried += u64::from(r.attempts - fate.attempts);
                    }
                    fate.attempts = r.attempts;
                    fate.last_error.clone_from(&r.last_error);
                }
            }
            QueueAction::Open { session, dest } => self.note(format!("open {session} {dest:?}")),
            QueueAction::Send {
                session, message, ..
            } => self.note(format!("send {session} {message}")),
            QueueAction::Close { session } => self.note(format!("close {session}")),
            QueueAction::RunFinished { run, requested, .. } => {
                self.note(format!("run {run} finished (requested {requested})"));
                if requested && self.run_going == Some(run) {
                    self.run_going = None;
                }
            }
            other => self.note(format!("{other:?}")),
        }
    }

    /// The queue's own view: nothing pending without a reason, no warning or bounce
    /// overdue.
    fn check_after_event(&mut self) {
        let now = self.now;
        let busy = self.driver.busy();
        let wake = self.driver.next_wake();
        let setup = self.driver.setup().clone();
        let auto = self.spec.run_every.is_none();
        let mut found = Vec::new();
        for m in self.driver.messages() {
            let pending: Vec<&QueuedRecipient> = m
                .recipients
                .iter()
                .filter(|r| r.state == RcptState::Pending)
                .collect();
            if pending.is_empty() || busy {
                continue;
            }
            for r in &pending {
                if !auto {
                    // A dial-up Out Mail sends at its next run, which always comes.
                    break;
                }
                // At the very instant it falls due, the queue's wake-up may still be
                // behind this event: then it must be armed for now.
                if r.next_attempt < now {
                    found.push(format!(
                        "{} for {} due since {}s with no session to send it",
                        m.id,
                        r.address,
                        r.next_attempt.unix_secs()
                    ));
                } else if wake.is_none_or(|w| w > r.next_attempt) {
                    found.push(format!(
                        "{} for {} waits for {}s but the queue sleeps until {wake:?}",
                        m.id,
                        r.address,
                        r.next_attempt.unix_secs()
                    ));
                }
            }
            if now > m.arrival + setup.bounce_after {
                found.push(format!("{} still pending past the give-up age", m.id));
            }
            if !m.warned && now > m.arrival + setup.warn_after {
                found.push(format!("{} pending past warn_after, not warned", m.id));
            }
        }
        for f in found {
            self.violation(f);
        }
    }

    /// The end-of-run check: every recipient delivered, bounced, or still queued.
    pub fn final_checks(&mut self) {
        let mut found = Vec::new();
        for (id, f) in &self.fates {
            for (rcpt, r) in &f.rcpts {
                if r.acked.is_some() || r.bounced.is_some() {
                    continue;
                }
                let queued = self.driver.messages().any(|m| {
                    m.id == *id
                        && m.recipients
                            .iter()
                            .any(|q| q.address == *rcpt && q.state == RcptState::Pending)
                });
                if !queued {
                    found.push(format!(
                        "{id} for {rcpt} lost: not delivered, bounced or queued"
                    ));
                }
            }
        }
        for f in found {
            self.violation(f);
        }
    }
}
