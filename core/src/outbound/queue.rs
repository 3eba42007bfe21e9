//! The outbound queue machine: which queued recipient goes out when, through which
//! session, and what happens after each answer (§6.4, §6.4.4, §13.3, OUT-1, OUT-4).
//!
//! The spool (runtime) is the source of truth; this machine holds a copy of each
//! entry's recipient states and tells the driver what to write back. Per recipient:
//! `Pending` until a server took it (`Delivered`) or it was given up (`Failed`). A
//! temporary failure schedules the next attempt `retry` later; `warn_after` after
//! arrival the sender gets one delay warning (per the warning policy); at
//! `bounce_after` (LAN forwarding: `fail_after`) the recipient is given up and
//! bounced. A permanent failure bounces at once. Bounces and warnings are asked of
//! the driver ([`QueueAction::Bounce`], [`QueueAction::Warn`]) *before* the state
//! change that records them ([`QueueAction::Save`], [`QueueAction::Remove`]), so a
//! crash between the two can repeat a report but never lose one.
//!
//! Sending happens in *runs*: one per connection's Out Mail ([`QueueCommand::Run`],
//! the scheduler's "run Out Mail"), plus the always-on LAN forwarding queue. A run
//! takes the due recipients its domain filter allows, splits them into jobs (one
//! message, at most `max_recipients` recipients, one destination: the relay list, a
//! recipient domain, or a LAN server), orders them (smaller first by default) and
//! opens sessions — at most `per_destination` per destination and `max_sessions` in
//! all. Each session takes jobs one after another until none is left. A session
//! that never got through to a server ends every waiting job of its destination for
//! this run (VPOP3: no responding relay, no mail sent). A run ends when its jobs and
//! sessions are done ([`QueueAction::RunFinished`]).
//!
//! Out Mails marked `auto` (LAN links: always up, nothing to dial) also run by
//! themselves whenever something of theirs is due: new mail, a retry time, a flush.
//! The scheduler's runs come on top; a run asked for while one is going starts when
//! it ends.

use super::filter::DomainFilter;
use super::lanfwd::LanTarget;
use crate::config::{Config, LinkKind, ReturnAddress, SendOrder, WarningPolicy};
use crate::dsn::FailedRecipient;
use crate::smtp::client::{Job, JobRecipient, RcptOutcome, TxReport};
use crate::wire::Reply;
use crate::{Agent, Instant, Next};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Duration;

/// Index of a connection in the configuration (as in [`crate::schedule::ConnId`]).
pub type ConnId = usize;
pub type RunId = u64;
pub type SessionId = u64;

/// Recipients per transaction when no limit is configured: RFC 5321 §4.5.3.1.8 makes
/// every server take at least 100.
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;

/// Where a session goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dest {
    /// The relays of this connection's Out Mail, tried in order by the driver.
    Relay(ConnId),
    /// The mail hosts of this domain (MX lookup by the driver), for this connection.
    Direct(ConnId, String),
    /// A LAN forwarding server, `host:port`.
    Lan(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Relay,
    Direct,
}

/// One connection's Out Mail, resolved from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMailSetup {
    pub conn: ConnId,
    pub name: String,
    pub method: Method,
    pub only_waiting: bool,
    pub order: SendOrder,
    /// Recipients per transaction.
    pub max_recipients: usize,
    pub filter: DomainFilter,
    pub return_address: Option<ReturnAddress>,
    /// Runs by itself when something is due (a LAN link).
    pub auto: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSetup {
    pub retry: Duration,
    pub warn_after: Duration,
    pub bounce_after: Duration,
    pub warnings: WarningPolicy,
    pub max_sessions: usize,
    pub per_destination: usize,
    pub lan_retry: Duration,
    pub lan_fail_after: Duration,
    pub lan_threads: usize,
    pub lan_per_target: usize,
    pub lan_limits: BTreeMap<String, usize>,
    pub outmails: Vec<OutMailSetup>,
    pub local_domains: Vec<String>,
    /// `[smtp] etrn_domains` (lower case): mail for these waits until their own server
    /// sends `ETRN` (SMTP-8, §7.7.3); see [`QueueCommand::Release`].
    pub held_domains: Vec<String>,
}

impl QueueSetup {
    /// Resolve a validated configuration. `auto` says which connections run by
    /// themselves; [`auto_lan`] is the rule the runtimes use (LAN links do).
    pub fn from_config(
        cfg: &Config,
        auto: impl Fn(&crate::config::Connection) -> bool,
    ) -> QueueSetup {
        let o = &cfg.outbound;
        let l = &cfg.lan_forward;
        let outmails = cfg
            .connections
            .iter()
            .enumerate()
            .filter_map(|(conn, c)| {
                let om = c.outmail.as_ref()?;
                Some(OutMailSetup {
                    conn,
                    name: c.name.trim().to_string(),
                    method: match om.method {
                        crate::config::OutMethod::Relay => Method::Relay,
                        crate::config::OutMethod::Direct => Method::Direct,
                    },
                    only_waiting: om.only_waiting,
                    order: om.order,
                    max_recipients: match om.max_recipients {
                        0 => DEFAULT_MAX_RECIPIENTS,
                        n => n as usize,
                    },
                    // Validated with the configuration; a bad list cannot get here.
                    filter: DomainFilter::parse(&om.domain_filter).unwrap_or_default(),
                    return_address: om.return_address.clone(),
                    auto: auto(c),
                })
            })
            .collect();
        QueueSetup {
            retry: o.retry.0,
            warn_after: o.warn_after.0,
            bounce_after: o.bounce_after.0,
            warnings: o.warnings,
            max_sessions: o.max_sessions.max(1) as usize,
            per_destination: o.per_destination.max(1) as usize,
            lan_retry: l.retry.0,
            lan_fail_after: l.fail_after.0,
            lan_threads: l.threads.max(1) as usize,
            lan_per_target: l.per_target.max(1) as usize,
            lan_limits: l
                .limits
                .iter()
                .map(|(k, v)| (k.clone(), (*v).max(1) as usize))
                .collect(),
            outmails,
            local_domains: cfg.local_domains.clone(),
            held_domains: cfg
                .smtp
                .etrn_domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        }
    }
}

/// LAN links are always up: their Out Mail sends at once, without waiting for a run
/// of the scheduler.
pub fn auto_lan(c: &crate::config::Connection) -> bool {
    c.link == LinkKind::Lan
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcptState {
    Pending,
    Delivered,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub address: String,
    /// RFC 3461 `NOTIFY` and `ORCPT` as they arrived.
    pub notify: Option<String>,
    pub orcpt: Option<String>,
    pub state: RcptState,
    pub attempts: u32,
    /// Not tried before this (`Instant::ZERO` = at once).
    pub next_attempt: Instant,
    /// The last failure, `code text` on one line.
    pub last_error: Option<String>,
    /// Set when a LAN forwarding rule takes this recipient.
    pub lan: Option<LanTarget>,
}

impl QueuedRecipient {
    pub fn new(address: &str) -> QueuedRecipient {
        QueuedRecipient {
            address: address.to_string(),
            notify: None,
            orcpt: None,
            state: RcptState::Pending,
            attempts: 0,
            next_attempt: Instant::ZERO,
            last_error: None,
            lan: None,
        }
    }

    fn notify_has(&self, what: &str) -> bool {
        match &self.notify {
            None => true,
            Some(n) => n.split(',').any(|w| w.trim().eq_ignore_ascii_case(what)),
        }
    }
}

/// A spool entry as the machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: String,
    /// Octets of the message file.
    pub size: u64,
    pub arrival: Instant,
    /// `None` = the null sender (a bounce: never bounced or warned about).
    pub sender: Option<String>,
    pub eight_bit: bool,
    pub dsn_ret: Option<String>,
    pub dsn_envid: Option<String>,
    /// A delay warning went out.
    pub warned: bool,
    pub recipients: Vec<QueuedRecipient>,
    /// Where a transmission receipt goes (§16.1.2: the address in a
    /// `Return-Receipt-To` field or the like), found by the runtime in the header.
    pub receipt_to: Option<String>,
}

/// Counts of recipients in a run, by what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub delivered: usize,
    pub failed: usize,
    pub deferred: usize,
}

/// What the driver tells the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueCommand {
    /// A spool entry (at start, or newly queued). Known ids are ignored.
    Load(Box<QueuedMessage>),
    /// Many entries at once (the spool at start): the same as a `Load` each, faster.
    LoadAll(Vec<QueuedMessage>),
    /// The entry was deleted (`queue del`); results for it are dropped.
    Forget(String),
    /// Run this connection's Out Mail (the scheduler's `RunOutMail`); `flush` also
    /// takes recipients whose retry time has not come.
    Run {
        conn: ConnId,
        run: RunId,
        flush: bool,
    },
    /// `queue flush`: every retry time is now; LAN links and LAN forwarding send.
    Flush,
    /// The downstream server sent `ETRN domain` (RFC 1985): the held mail for that
    /// domain queued now is sent at once, by every Out Mail that takes it. A recipient
    /// it does not reach (4xx) is held again until the next ETRN.
    Release { domain: String },
    /// A session is ready for a job.
    Ready { session: SessionId },
    /// A session's job ended.
    Finished {
        session: SessionId,
        report: TxReport,
    },
    /// A session ended. `established`: a server answered. `permanent`: the
    /// destination can never work (a domain that does not exist).
    Ended {
        session: SessionId,
        established: bool,
        permanent: bool,
        error: Option<String>,
    },
}

/// What the queue asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAction {
    /// Connect a session to `dest`; answer with `Ready` (or `Ended`).
    Open { session: SessionId, dest: Dest },
    /// Give the session this job (the message file is `message`'s).
    Send {
        session: SessionId,
        message: String,
        job: Job,
    },
    /// End the session (QUIT).
    Close { session: SessionId },
    /// Store a bounce (RFC 3464, Action: failed) about `message` to `to`. Before the
    /// state change that follows.
    Bounce {
        message: String,
        to: String,
        recipients: Vec<FailedRecipient>,
    },
    /// Store a success report (Action: relayed) about `message` to `to`: recipients
    /// whose `NOTIFY` asked for SUCCESS and whose server could not take that request
    /// on (RFC 3461 §5.2.2), and a transmission receipt (§16.1.2) for every recipient
    /// handed on. One per transaction and address.
    Success {
        message: String,
        to: String,
        recipients: Vec<FailedRecipient>,
    },
    /// Store a delay warning (Action: delayed).
    Warn {
        message: String,
        to: String,
        recipients: Vec<FailedRecipient>,
        retry_until: Instant,
    },
    /// Write the recipient states of a message durably.
    Save(Box<QueuedMessage>),
    /// Every recipient is done: delete the spool entry.
    Remove { message: String },
    /// A run ended. `requested`: it was asked for with `Run` (else it was automatic).
    RunFinished {
        conn: ConnId,
        run: RunId,
        requested: bool,
        report: RunReport,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Owner {
    Conn(ConnId),
    Lan,
}

#[derive(Debug, Clone)]
struct JobSpec {
    msg: String,
    rcpts: Vec<usize>,
    mail_from: Option<String>,
    /// Size or arrival, by the run's order.
    key: u64,
    seq: u64,
}

#[derive(Debug)]
struct Run {
    id: RunId,
    requested: bool,
    started: Instant,
    jobs: BTreeMap<Dest, VecDeque<JobSpec>>,
    /// Destinations that answered in this run, and the session cap after a failure.
    answered: Vec<Dest>,
    caps: HashMap<Dest, usize>,
    report: RunReport,
    /// Asked again while running: start once more afterwards.
    again: Option<(RunId, bool)>,
}

impl Run {
    fn new(id: RunId, requested: bool, started: Instant) -> Run {
        Run {
            id,
            requested,
            started,
            jobs: BTreeMap::new(),
            answered: Vec::new(),
            caps: HashMap::new(),
            report: RunReport::default(),
            again: None,
        }
    }
}

#[derive(Debug)]
enum SessionState {
    /// Opened or between jobs: will say `Ready`.
    Waiting,
    Busy(JobSpec),
    Closing,
}

#[derive(Debug)]
struct Session {
    owner: Owner,
    dest: Dest,
    state: SessionState,
}

#[derive(Debug)]
struct Entry {
    msg: QueuedMessage,
    in_flight: Vec<bool>,
    /// When the machine learned of it (for "only messages waiting at start").
    known_at: Instant,
}

pub struct OutQueue {
    setup: QueueSetup,
    entries: BTreeMap<String, Entry>,
    runs: BTreeMap<Owner, Run>,
    sessions: BTreeMap<SessionId, Session>,
    next_session: SessionId,
    next_auto_run: RunId,
    next_seq: u64,
    /// Last delay warning per recipient domain (warning policy "once per domain per
    /// day"); in memory only.
    warned_domains: HashMap<String, Instant>,
    actions: VecDeque<QueueAction>,
    /// A run ended: look for due work before sleeping.
    dirty: bool,
    /// Each entry's next moment of interest, and a heap of them (stale items are
    /// dropped when they come up), so finding the next wake-up is not a full scan.
    armed: HashMap<String, Instant>,
    timers: BinaryHeap<Reverse<(Instant, String)>>,
    now: Instant,
    /// Recipients of held domains that an ETRN released for one attempt, by message.
    released: HashMap<String, HashSet<usize>>,
}

/// Automatic run ids start here so they never meet the scheduler's.
const AUTO_RUN_BASE: RunId = 1 << 62;
const DAY: Duration = Duration::from_secs(86_400);

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

impl OutQueue {
    pub fn new(now: Instant, setup: QueueSetup) -> OutQueue {
        OutQueue {
            setup,
            entries: BTreeMap::new(),
            runs: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
            next_auto_run: AUTO_RUN_BASE,
            next_seq: 0,
            warned_domains: HashMap::new(),
            actions: VecDeque::new(),
            dirty: false,
            armed: HashMap::new(),
            timers: BinaryHeap::new(),
            now,
            released: HashMap::new(),
        }
    }

    pub fn setup(&self) -> &QueueSetup {
        &self.setup
    }

    /// Replace the configuration (a reload). Runs in progress keep their jobs.
    pub fn set_setup(&mut self, setup: QueueSetup) {
        self.setup = setup;
        self.armed.clear();
        self.timers.clear();
        let ids: Vec<String> = self.entries.keys().cloned().collect();
        for id in ids {
            self.arm(&id);
        }
    }

    /// The messages the queue holds, for listings.
    pub fn messages(&self) -> impl Iterator<Item = &QueuedMessage> {
        self.entries.values().map(|e| &e.msg)
    }

    pub fn is_running(&self, conn: ConnId) -> bool {
        self.runs.contains_key(&Owner::Conn(conn))
    }

    /// No run and no session: nothing is being sent.
    pub fn is_idle(&self) -> bool {
        self.runs.is_empty() && self.sessions.is_empty() && self.actions.is_empty()
    }

    /// Sessions open now.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    fn outmail(&self, conn: ConnId) -> Option<&OutMailSetup> {
        self.setup.outmails.iter().find(|o| o.conn == conn)
    }

    fn is_local(&self, address: &str) -> bool {
        let d = domain_of(address);
        self.setup
            .local_domains
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&d))
    }

    /// Waiting for an ETRN: a held domain's recipient (not LAN forwarded) that no
    /// ETRN has released.
    fn is_held(&self, msg: &str, i: usize, r: &QueuedRecipient) -> bool {
        if r.lan.is_some() || self.setup.held_domains.is_empty() {
            return false;
        }
        let d = domain_of(&r.address);
        self.setup.held_domains.contains(&d)
            && !self.released.get(msg).is_some_and(|s| s.contains(&i))
    }

    fn expiry(&self, msg: &QueuedMessage, r: &QueuedRecipient) -> Instant {
        let span = if r.lan.is_some() {
            self.setup.lan_fail_after
        } else {
            self.setup.bounce_after
        };
        msg.arrival + span
    }

    // ----- loading -------------------------------------------------------------------

    fn load(&mut self, now: Instant, msg: QueuedMessage) {
        if self.insert(now, msg) {
            self.fill();
        }
    }

    fn load_all(&mut self, now: Instant, msgs: Vec<QueuedMessage>) {
        let mut any = false;
        for m in msgs {
            any |= self.insert_only(now, m).is_some();
        }
        if any {
            self.fill();
            self.housekeeping(now, None);
        }
    }

    /// Add one entry and look at what it makes due; `false` if it was known.
    fn insert(&mut self, now: Instant, msg: QueuedMessage) -> bool {
        match self.insert_only(now, msg) {
            Some(id) => {
                self.housekeeping(now, Some(&id));
                true
            }
            None => false,
        }
    }

    /// Add one entry and give running Out Mails its jobs; the new id.
    fn insert_only(&mut self, now: Instant, msg: QueuedMessage) -> Option<String> {
        if self.entries.contains_key(&msg.id) {
            return None;
        }
        let n = msg.recipients.len();
        let id = msg.id.clone();
        self.entries.insert(
            id.clone(),
            Entry {
                msg,
                in_flight: vec![false; n],
                known_at: now,
            },
        );
        // Running Out Mails that take new mail get its jobs now.
        let owners: Vec<Owner> = self.runs.keys().copied().collect();
        for owner in owners {
            let take = match owner {
                Owner::Lan => true,
                Owner::Conn(c) => self.outmail(c).is_some_and(|o| !o.only_waiting),
            };
            if take {
                self.add_jobs(now, owner, &id, false);
            }
        }
        self.arm(&id);
        Some(id)
    }

    // ----- runs ----------------------------------------------------------------------

    fn start_run(&mut self, now: Instant, owner: Owner, id: RunId, requested: bool, flush: bool) {
        if let Some(run) = self.runs.get_mut(&owner) {
            if requested {
                run.again = Some((id, flush));
            }
            return;
        }
        self.runs.insert(owner, Run::new(id, requested, now));
        let ids: Vec<String> = self.entries.keys().cloned().collect();
        for m in ids {
            self.add_jobs(now, owner, &m, flush);
        }
        self.fill();
        self.check_run(owner);
    }

    /// Jobs for the recipients of `msg` that `owner` may take now.
    fn add_jobs(&mut self, now: Instant, owner: Owner, msg: &str, flush: bool) {
        let Some(run) = self.runs.get(&owner) else {
            return;
        };
        let started = run.started;
        let om = match owner {
            Owner::Conn(c) => match self.outmail(c) {
                Some(o) => Some(o.clone()),
                None => return,
            },
            Owner::Lan => None,
        };
        let Some(e) = self.entries.get(msg) else {
            return;
        };
        if om.as_ref().is_some_and(|o| o.only_waiting) && e.known_at > started {
            return;
        }
        let sender = e.msg.sender.clone();
        let mut groups: Vec<(Dest, Vec<usize>)> = Vec::new();
        for (i, r) in e.msg.recipients.iter().enumerate() {
            if r.state != RcptState::Pending
                || e.in_flight[i]
                || !(flush || r.next_attempt <= now)
                || self.is_held(msg, i, r)
            {
                continue;
            }
            let dest = match (&om, &r.lan) {
                (None, Some(t)) => Dest::Lan(t.server.clone()),
                (Some(o), None) => {
                    let domain = domain_of(&r.address);
                    if !o.filter.allows(sender.as_deref(), &domain) {
                        continue;
                    }
                    match o.method {
                        Method::Relay => Dest::Relay(o.conn),
                        Method::Direct => Dest::Direct(o.conn, domain),
                    }
                }
                _ => continue,
            };
            match groups.iter_mut().find(|(d, _)| *d == dest) {
                Some((_, v)) => v.push(i),
                None => groups.push((dest, vec![i])),
            }
        }
        if groups.is_empty() {
            return;
        }
        let max = om
            .as_ref()
            .map_or(DEFAULT_MAX_RECIPIENTS, |o| o.max_recipients.max(1));
        let key = match om.as_ref().map_or(SendOrder::SmallerFirst, |o| o.order) {
            SendOrder::SmallerFirst => e.msg.size,
            SendOrder::Arrival => e.msg.arrival.mono_micros(),
        };
        let mail_from = self.mail_from(om.as_ref(), sender.as_deref());
        let mut specs = Vec::new();
        for (dest, rcpts) in groups {
            for chunk in rcpts.chunks(max) {
                self.next_seq += 1;
                specs.push((
                    dest.clone(),
                    JobSpec {
                        msg: msg.to_string(),
                        rcpts: chunk.to_vec(),
                        mail_from: mail_from.clone(),
                        key,
                        seq: self.next_seq,
                    },
                ));
            }
        }
        if let Some(e) = self.entries.get_mut(msg) {
            for (_, s) in &specs {
                for &i in &s.rcpts {
                    e.in_flight[i] = true;
                }
            }
        }
        if let Some(run) = self.runs.get_mut(&owner) {
            for (dest, spec) in specs {
                let q = run.jobs.entry(dest).or_default();
                let at = q.partition_point(|j| (j.key, j.seq) <= (spec.key, spec.seq));
                q.insert(at, spec);
            }
        }
    }

    /// §6.4.2.2: the envelope sender this Out Mail uses. The null sender stays null.
    fn mail_from(&self, om: Option<&OutMailSetup>, sender: Option<&str>) -> Option<String> {
        let sender = sender?;
        match om.and_then(|o| o.return_address.as_ref()) {
            Some(ReturnAddress::Always(a)) => Some(a.clone()),
            Some(ReturnAddress::NonLocal(a)) if !self.is_local(sender) => Some(a.clone()),
            _ => Some(sender.to_string()),
        }
    }

    fn dest_limit(&self, owner: Owner, dest: &Dest) -> usize {
        let base = match dest {
            Dest::Lan(server) => self
                .setup
                .lan_limits
                .get(server)
                .copied()
                .unwrap_or(self.setup.lan_per_target),
            _ => self.setup.per_destination,
        };
        let cap = self
            .runs
            .get(&owner)
            .and_then(|r| r.caps.get(dest))
            .copied()
            .unwrap_or(usize::MAX);
        base.min(cap).max(1)
    }

    /// Open sessions where jobs wait, within the limits.
    fn fill(&mut self) {
        let mut opens = Vec::new();
        let mut lan_open = self
            .sessions
            .values()
            .filter(|s| s.owner == Owner::Lan)
            .count();
        let mut other_open = self.sessions.len() - lan_open;
        for (owner, run) in &self.runs {
            for (dest, q) in &run.jobs {
                if q.is_empty() {
                    continue;
                }
                let mine = self.sessions.values().filter(|s| {
                    s.owner == *owner
                        && s.dest == *dest
                        && !matches!(s.state, SessionState::Closing)
                });
                let open = mine.clone().count()
                    + opens
                        .iter()
                        .filter(|(o, d)| o == owner && d == dest)
                        .count();
                let waiting = mine
                    .filter(|s| matches!(s.state, SessionState::Waiting))
                    .count()
                    + opens
                        .iter()
                        .filter(|(o, d)| o == owner && d == dest)
                        .count();
                let limit = self.dest_limit(*owner, dest);
                let (mut global, max) = match owner {
                    Owner::Lan => (lan_open, self.setup.lan_threads),
                    Owner::Conn(_) => (other_open, self.setup.max_sessions),
                };
                let (mut open, mut waiting) = (open, waiting);
                while waiting < q.len() && open < limit && global < max {
                    opens.push((*owner, dest.clone()));
                    open += 1;
                    waiting += 1;
                    global += 1;
                }
                match owner {
                    Owner::Lan => lan_open = global,
                    Owner::Conn(_) => other_open = global,
                }
            }
        }
        for (owner, dest) in opens {
            let session = self.next_session;
            self.next_session += 1;
            self.sessions.insert(
                session,
                Session {
                    owner,
                    dest: dest.clone(),
                    state: SessionState::Waiting,
                },
            );
            self.actions.push_back(QueueAction::Open { session, dest });
        }
    }

    /// Report a run that has nothing left, and start the one asked for meanwhile.
    fn check_run(&mut self, owner: Owner) {
        let busy = self.sessions.values().any(|s| s.owner == owner);
        let Some(run) = self.runs.get(&owner) else {
            return;
        };
        if busy || run.jobs.values().any(|q| !q.is_empty()) {
            return;
        }
        let Some(run) = self.runs.remove(&owner) else {
            return;
        };
        self.dirty = true;
        if let Owner::Conn(conn) = owner {
            self.actions.push_back(QueueAction::RunFinished {
                conn,
                run: run.id,
                requested: run.requested,
                report: run.report,
            });
            if let Some((id, flush)) = run.again {
                let now = self.now;
                self.start_run(now, owner, id, true, flush);
            }
        }
    }

    // ----- sessions ------------------------------------------------------------------

    /// The latest `now` seen (machine contract rule 6: time never runs backwards).
    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn ready(&mut self, session: SessionId) {
        let Some(s) = self
            .sessions
            .get(&session)
            .filter(|s| matches!(s.state, SessionState::Waiting))
        else {
            return stray("Ready", session);
        };
        let (owner, dest) = (s.owner, s.dest.clone());
        loop {
            let job = self
                .runs
                .get_mut(&owner)
                .and_then(|r| r.jobs.get_mut(&dest))
                .and_then(VecDeque::pop_front);
            let Some(spec) = job else {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.state = SessionState::Closing;
                }
                self.actions.push_back(QueueAction::Close { session });
                return;
            };
            // The message may have been deleted since the job was made.
            let Some(job) = self.client_job(&spec, &dest) else {
                continue;
            };
            if let Some(s) = self.sessions.get_mut(&session) {
                s.state = SessionState::Busy(spec.clone());
            }
            self.actions.push_back(QueueAction::Send {
                session,
                message: spec.msg.clone(),
                job,
            });
            return;
        }
    }

    fn client_job(&self, spec: &JobSpec, dest: &Dest) -> Option<Job> {
        let e = self.entries.get(&spec.msg)?;
        let m = &e.msg;
        let recipients = spec
            .rcpts
            .iter()
            .filter_map(|&i| m.recipients.get(i))
            .map(|r| JobRecipient {
                address: match (&r.lan, dest) {
                    (Some(t), Dest::Lan(_)) => t.address.clone(),
                    _ => r.address.clone(),
                },
                notify: r.notify.clone(),
                orcpt: r.orcpt.clone(),
            })
            .collect();
        Some(Job {
            id: format!("{}#{}", spec.msg, spec.seq),
            mail_from: spec.mail_from.clone(),
            recipients,
            size: m.size,
            eight_bit: m.eight_bit,
            dsn_ret: m.dsn_ret.clone(),
            dsn_envid: m.dsn_envid.clone(),
        })
    }

    fn finished(&mut self, now: Instant, session: SessionId, report: TxReport) {
        let Some(s) = self
            .sessions
            .get_mut(&session)
            .filter(|s| matches!(s.state, SessionState::Busy(_)))
        else {
            return stray("Finished", session);
        };
        let SessionState::Busy(spec) = std::mem::replace(&mut s.state, SessionState::Waiting)
        else {
            return;
        };
        let owner = s.owner;
        let outcomes: Vec<(usize, RcptOutcome)> = spec
            .rcpts
            .iter()
            .zip(report.recipients)
            .map(|(&i, (_, o))| (i, o))
            .collect();
        // A report shorter than the job leaves the rest for a retry.
        let missing: Vec<usize> = spec.rcpts.iter().skip(outcomes.len()).copied().collect();
        let mut all = outcomes;
        for i in missing {
            all.push((
                i,
                RcptOutcome::Temporary(Reply::new(451, "4.4.2 no answer for this recipient")),
            ));
        }
        self.apply(now, owner, &spec.msg, all, report.dsn_passed);
    }

    fn ended(
        &mut self,
        now: Instant,
        session: SessionId,
        established: bool,
        permanent: bool,
        error: Option<String>,
    ) {
        let Some(s) = self.sessions.remove(&session) else {
            return stray("Ended", session);
        };
        let why = error.unwrap_or_else(|| "the session ended".into());
        let reply = |perm: bool| {
            if perm {
                Reply::new(550, &format!("5.4.4 {why}"))
            } else {
                Reply::new(451, &format!("4.4.1 {why}"))
            }
        };
        if let SessionState::Busy(spec) = s.state {
            let outcomes = spec
                .rcpts
                .iter()
                .map(|&i| (i, RcptOutcome::Temporary(reply(false))))
                .collect();
            self.apply(now, s.owner, &spec.msg, outcomes, false);
        }
        if established {
            if let Some(run) = self.runs.get_mut(&s.owner) {
                if !run.answered.contains(&s.dest) {
                    run.answered.push(s.dest.clone());
                }
            }
        } else {
            let answered = self
                .runs
                .get(&s.owner)
                .is_some_and(|r| r.answered.contains(&s.dest));
            let others_alive = self
                .sessions
                .values()
                .filter(|o| o.owner == s.owner && o.dest == s.dest)
                .count();
            if answered && others_alive > 0 && !permanent {
                // The destination works but takes fewer sessions: stay below this.
                if let Some(run) = self.runs.get_mut(&s.owner) {
                    run.caps.insert(s.dest.clone(), others_alive);
                }
            } else {
                // Nobody there: every job waiting for it ends for this run.
                let drained: Vec<JobSpec> = self
                    .runs
                    .get_mut(&s.owner)
                    .and_then(|r| r.jobs.remove(&s.dest))
                    .map(Vec::from)
                    .unwrap_or_default();
                for spec in drained {
                    let outcomes = spec
                        .rcpts
                        .iter()
                        .map(|&i| {
                            let r = reply(permanent);
                            let o = if permanent {
                                RcptOutcome::Permanent(r)
                            } else {
                                RcptOutcome::Temporary(r)
                            };
                            (i, o)
                        })
                        .collect();
                    self.apply(now, s.owner, &spec.msg, outcomes, false);
                }
            }
        }
        self.fill();
        self.check_run(s.owner);
    }

    // ----- outcomes ------------------------------------------------------------------

    /// Record what became of some recipients of one message, then report, save or
    /// remove it.
    fn apply(
        &mut self,
        now: Instant,
        owner: Owner,
        msg: &str,
        outcomes: Vec<(usize, RcptOutcome)>,
        dsn_passed: bool,
    ) {
        let (retry, bounce_after, lan_retry, lan_fail) = (
            self.setup.retry,
            self.setup.bounce_after,
            self.setup.lan_retry,
            self.setup.lan_fail_after,
        );
        let Some(e) = self.entries.get_mut(msg) else {
            return;
        };
        let mut failed = Vec::new();
        let mut delivered = Vec::new();
        let mut too_many = Vec::new();
        let mut report = RunReport::default();
        for (i, outcome) in outcomes {
            let Some(r) = e.msg.recipients.get_mut(i) else {
                continue;
            };
            e.in_flight[i] = false;
            if let Some(set) = self.released.get_mut(msg) {
                set.remove(&i);
            }
            if r.state != RcptState::Pending {
                continue;
            }
            let (retry, span) = if r.lan.is_some() {
                (lan_retry, lan_fail)
            } else {
                (retry, bounce_after)
            };
            match outcome {
                RcptOutcome::Delivered(reply) => {
                    r.state = RcptState::Delivered;
                    r.last_error = None;
                    report.delivered += 1;
                    delivered.push((i, reply.one_line()));
                }
                RcptOutcome::Permanent(reply) => {
                    r.state = RcptState::Failed;
                    r.attempts += 1;
                    r.last_error = Some(reply.one_line());
                    failed.push(i);
                    report.failed += 1;
                }
                RcptOutcome::Temporary(reply) => {
                    r.attempts += 1;
                    r.last_error = Some(reply.one_line());
                    if now >= e.msg.arrival + span {
                        r.state = RcptState::Failed;
                        failed.push(i);
                        report.failed += 1;
                    } else {
                        r.next_attempt = now + retry;
                        report.deferred += 1;
                        if reply.code == 452 {
                            too_many.push(i);
                        }
                    }
                }
            }
        }
        // RFC 5321 §4.5.3.1.10: "452 too many recipients" while others were taken
        // means "send the rest in another transaction": at once, not at the retry.
        let again = !delivered.is_empty() && !too_many.is_empty();
        if again {
            for &i in &too_many {
                e.msg.recipients[i].next_attempt = now;
            }
            report.deferred -= too_many.len();
        }
        for (to, recipients) in success_reports(&e.msg, &delivered, dsn_passed) {
            self.actions.push_back(QueueAction::Success {
                message: msg.to_string(),
                to,
                recipients,
            });
        }
        if let Some(run) = self.runs.get_mut(&owner) {
            run.report.delivered += report.delivered;
            run.report.failed += report.failed;
            run.report.deferred += report.deferred;
        }
        self.settle(now, msg, failed);
        if again {
            self.add_jobs(now, owner, msg, false);
        }
    }

    /// After a change to `msg`: bounce `failed`, warn if due, then save or remove.
    fn settle(&mut self, now: Instant, msg: &str, failed: Vec<usize>) {
        let Some(e) = self.entries.get(msg) else {
            return;
        };
        if !failed.is_empty() {
            match &e.msg.sender {
                Some(to) => {
                    let recipients: Vec<FailedRecipient> = failed
                        .iter()
                        .filter_map(|&i| e.msg.recipients.get(i))
                        .filter(|r| r.notify_has("FAILURE"))
                        .map(|r| failure(r, "5.0.0"))
                        .collect();
                    if !recipients.is_empty() {
                        self.actions.push_back(QueueAction::Bounce {
                            message: msg.to_string(),
                            to: to.clone(),
                            recipients,
                        });
                    }
                }
                None => tracing::warn!(id = msg, "undeliverable bounce dropped (its sender is <>)"),
            }
        }
        self.maybe_warn(now, msg);
        let Some(e) = self.entries.get(msg) else {
            return;
        };
        let done = e
            .msg
            .recipients
            .iter()
            .all(|r| r.state != RcptState::Pending);
        if done && !e.in_flight.iter().any(|f| *f) {
            self.released.remove(msg);
            self.entries.remove(msg);
            self.armed.remove(msg);
            self.actions.push_back(QueueAction::Remove {
                message: msg.to_string(),
            });
        } else {
            self.actions
                .push_back(QueueAction::Save(Box::new(e.msg.clone())));
            self.arm(msg);
        }
    }

    /// The delay warning for `msg`, if one is due. Sets `warned` (the caller saves).
    fn maybe_warn(&mut self, now: Instant, msg: &str) -> bool {
        let policy = self.setup.warnings;
        let warn_after = self.setup.warn_after;
        let bounce_after = self.setup.bounce_after;
        let Some(e) = self.entries.get_mut(msg) else {
            return false;
        };
        let m = &mut e.msg;
        if m.warned || now < m.arrival + warn_after {
            return false;
        }
        if !m.recipients.iter().any(|r| r.state == RcptState::Pending) {
            return false;
        }
        m.warned = true;
        let Some(to) = m.sender.clone() else {
            return true;
        };
        if policy == WarningPolicy::None {
            return true;
        }
        let mut recipients: Vec<&QueuedRecipient> = m
            .recipients
            .iter()
            .filter(|r| r.state == RcptState::Pending && r.notify_has("DELAY"))
            .collect();
        if policy == WarningPolicy::OncePerDomainPerDay {
            let warned = &mut self.warned_domains;
            recipients.retain(|r| {
                let d = domain_of(&r.address);
                let recent = warned.get(&d).is_some_and(|t| now < *t + DAY);
                !recent
            });
            for r in &recipients {
                warned.insert(domain_of(&r.address), now);
            }
        }
        if recipients.is_empty() {
            return true;
        }
        let list = recipients.iter().map(|r| failure(r, "4.0.0")).collect();
        self.actions.push_back(QueueAction::Warn {
            message: msg.to_string(),
            to,
            recipients: list,
            retry_until: m.arrival + bounce_after,
        });
        true
    }

    // ----- time ----------------------------------------------------------------------

    /// Expiries, warnings and automatic runs due at `now`; with `only`, just for that
    /// entry (a new one), else for all.
    fn housekeeping(&mut self, now: Instant, only: Option<&str>) {
        let ids: Vec<String> = match only {
            Some(id) => vec![id.to_string()],
            None => self.entries.keys().cloned().collect(),
        };
        // Recipients past their time that no session holds are given up.
        let mut expired: Vec<(String, Vec<usize>)> = Vec::new();
        let mut warn: Vec<String> = Vec::new();
        for id in &ids {
            let Some(e) = self.entries.get(id) else {
                continue;
            };
            let idx: Vec<usize> = e
                .msg
                .recipients
                .iter()
                .enumerate()
                .filter(|(i, r)| {
                    r.state == RcptState::Pending
                        && !e.in_flight[*i]
                        && now >= self.expiry(&e.msg, r)
                })
                .map(|(i, _)| i)
                .collect();
            if !idx.is_empty() {
                expired.push((id.clone(), idx));
            } else if !e.msg.warned && now >= e.msg.arrival + self.setup.warn_after {
                warn.push(id.clone());
            }
        }
        for (id, idx) in expired {
            if let Some(e) = self.entries.get_mut(&id) {
                for &i in &idx {
                    let r = &mut e.msg.recipients[i];
                    r.state = RcptState::Failed;
                    if r.last_error.is_none() {
                        r.last_error = Some("451 4.4.7 no attempt could be made in the time allowed (no connection sent it)".into());
                    }
                }
            }
            self.settle(now, &id, idx);
        }
        for id in warn {
            if self.maybe_warn(now, &id) {
                if let Some(e) = self.entries.get(&id) {
                    self.actions
                        .push_back(QueueAction::Save(Box::new(e.msg.clone())));
                }
                self.arm(&id);
            }
        }
        // Automatic runs, and LAN forwarding, for what is due.
        let autos: Vec<ConnId> = self
            .setup
            .outmails
            .iter()
            .filter(|o| o.auto)
            .map(|o| o.conn)
            .collect();
        for conn in autos {
            let owner = Owner::Conn(conn);
            if self.runs.contains_key(&owner) {
                continue;
            }
            if self.has_due(now, owner, only) {
                let id = self.next_auto_run;
                self.next_auto_run += 1;
                self.start_run(now, owner, id, false, false);
            }
        }
        if self.has_due(now, Owner::Lan, only) {
            self.runs
                .entry(Owner::Lan)
                .or_insert_with(|| Run::new(0, false, now));
            let ids: Vec<String> = match only {
                Some(id) => vec![id.to_string()],
                None => self.entries.keys().cloned().collect(),
            };
            for m in ids {
                self.add_jobs(now, Owner::Lan, &m, false);
            }
            self.fill();
        }
        self.check_run(Owner::Lan);
    }

    /// Whether `owner` would take some recipient now (of entry `only`, or of any).
    fn has_due(&self, now: Instant, owner: Owner, only: Option<&str>) -> bool {
        let om = match owner {
            Owner::Conn(c) => match self.outmail(c) {
                Some(o) => Some(o),
                None => return false,
            },
            Owner::Lan => None,
        };
        let due = |e: &Entry| {
            e.msg.recipients.iter().enumerate().any(|(i, r)| {
                r.state == RcptState::Pending
                    && !e.in_flight[i]
                    && r.next_attempt <= now
                    && !self.is_held(&e.msg.id, i, r)
                    && match (om, &r.lan) {
                        (None, Some(_)) => true,
                        (Some(o), None) => o
                            .filter
                            .allows(e.msg.sender.as_deref(), &domain_of(&r.address)),
                        _ => false,
                    }
            })
        };
        match only {
            Some(id) => self.entries.get(id).is_some_and(due),
            None => self.entries.values().any(due),
        }
    }

    /// The next moment `e` needs attention: a retry an automatic Out Mail or LAN
    /// forwarding would take, its delay warning, an expiry.
    fn entry_wake(&self, e: &Entry) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        let mut pending = false;
        for (i, r) in e.msg.recipients.iter().enumerate() {
            if r.state != RcptState::Pending || e.in_flight[i] {
                continue;
            }
            pending = true;
            at(self.expiry(&e.msg, r));
            let taken = match &r.lan {
                Some(_) => true,
                None if self.is_held(&e.msg.id, i, r) => false,
                None => self.setup.outmails.iter().any(|o| {
                    o.auto
                        && o.filter
                            .allows(e.msg.sender.as_deref(), &domain_of(&r.address))
                }),
            };
            if taken && r.next_attempt > self.now {
                at(r.next_attempt);
            }
        }
        if pending && !e.msg.warned {
            at(e.msg.arrival + self.setup.warn_after);
        }
        next
    }

    /// Record when entry `id` next needs attention.
    fn arm(&mut self, id: &str) {
        let wake = self.entries.get(id).and_then(|e| self.entry_wake(e));
        match wake {
            Some(w) if self.armed.get(id) == Some(&w) => {}
            Some(w) => {
                self.armed.insert(id.to_string(), w);
                self.timers.push(Reverse((w, id.to_string())));
            }
            None => {
                self.armed.remove(id);
            }
        }
    }

    /// The next moment something is due (see [`OutQueue::entry_wake`]).
    pub fn next_wake(&mut self) -> Option<Instant> {
        while let Some(Reverse((t, id))) = self.timers.peek().cloned() {
            if self.armed.get(&id) != Some(&t) {
                self.timers.pop();
                continue;
            }
            let now_wake = self.entries.get(&id).and_then(|e| self.entry_wake(e));
            if now_wake == Some(t) {
                return Some(t);
            }
            self.timers.pop();
            self.armed.remove(&id);
            self.arm(&id);
        }
        None
    }

    fn flush(&mut self, now: Instant) {
        for e in self.entries.values_mut() {
            for (i, r) in e.msg.recipients.iter_mut().enumerate() {
                if r.state == RcptState::Pending && !e.in_flight[i] {
                    r.next_attempt = Instant::ZERO;
                }
            }
        }
        let ids: Vec<String> = self.entries.keys().cloned().collect();
        for id in &ids {
            self.arm(id);
        }
        self.housekeeping(now, None);
    }

    /// `ETRN domain`: release what is held for it and start the Out Mails that take it.
    fn release(&mut self, now: Instant, domain: &str) {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut touched = Vec::new();
        for (id, e) in self.entries.iter_mut() {
            for (i, r) in e.msg.recipients.iter_mut().enumerate() {
                if r.state == RcptState::Pending
                    && !e.in_flight[i]
                    && r.lan.is_none()
                    && domain_of(&r.address) == domain
                {
                    r.next_attempt = Instant::ZERO;
                    self.released.entry(id.clone()).or_default().insert(i);
                    touched.push(id.clone());
                }
            }
        }
        touched.dedup();
        for id in &touched {
            self.arm(id);
        }
        // The downstream server is reachable now (it just called): every Out Mail that
        // takes the domain runs, whether its link runs by itself or not.
        let conns: Vec<ConnId> = self.setup.outmails.iter().map(|o| o.conn).collect();
        for conn in conns {
            let owner = Owner::Conn(conn);
            if self.runs.contains_key(&owner) {
                for id in &touched {
                    self.add_jobs(now, owner, id, false);
                }
                self.fill();
            } else if self.has_due(now, owner, None) {
                let id = self.next_auto_run;
                self.next_auto_run += 1;
                self.start_run(now, owner, id, false, false);
            }
        }
    }

    fn forget(&mut self, id: &str) {
        self.released.remove(id);
        self.entries.remove(id);
        self.armed.remove(id);
        for run in self.runs.values_mut() {
            for q in run.jobs.values_mut() {
                q.retain(|j| j.msg != id);
            }
        }
    }
}

/// An answer nobody asked for (machine contract rule 5): logged, nothing else.
fn stray(what: &str, session: SessionId) {
    tracing::debug!(session, "outbound queue: {what} nobody asked for, ignored");
}

/// The success reports one transaction owes: to the sender for `NOTIFY=SUCCESS`
/// recipients the server could not pass the request on for, and a transmission
/// receipt for all of them to the receipt address (one report when both are the same
/// address). Nothing for a message with the null sender: reports are never reported.
fn success_reports(
    msg: &QueuedMessage,
    delivered: &[(usize, String)],
    dsn_passed: bool,
) -> Vec<(String, Vec<FailedRecipient>)> {
    let Some(sender) = msg.sender.as_deref() else {
        return Vec::new();
    };
    let item = |i: usize, reply: &str| {
        let r = &msg.recipients[i];
        FailedRecipient {
            address: r.address.clone(),
            status: "2.0.0".into(),
            diagnostic: reply.to_string(),
            original_recipient: r.orcpt.clone(),
        }
    };
    let asked = |i: usize| {
        msg.recipients[i].notify.as_deref().is_some_and(|n| {
            n.split(',')
                .any(|w| w.trim().eq_ignore_ascii_case("SUCCESS"))
        })
    };
    let mut out: Vec<(String, Vec<FailedRecipient>)> = Vec::new();
    let receipt = msg.receipt_to.as_deref().filter(|_| !delivered.is_empty());
    if let Some(to) = receipt {
        out.push((
            to.to_string(),
            delivered.iter().map(|(i, r)| item(*i, r)).collect(),
        ));
    }
    if !dsn_passed {
        let notify: Vec<FailedRecipient> = delivered
            .iter()
            .filter(|(i, _)| asked(*i))
            .map(|(i, r)| item(*i, r))
            .collect();
        let same = receipt.is_some_and(|t| t.eq_ignore_ascii_case(sender));
        if !notify.is_empty() && !same {
            out.push((sender.to_string(), notify));
        }
    }
    out
}

fn failure(r: &QueuedRecipient, generic: &str) -> FailedRecipient {
    let text = r
        .last_error
        .clone()
        .unwrap_or_else(|| "no answer yet".into());
    // `code x.y.z text`: the status is the enhanced code when there is one.
    let status = text
        .split_whitespace()
        .nth(1)
        .filter(|s| {
            let p: Vec<&str> = s.split('.').collect();
            p.len() == 3
                && p.iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            match text.as_bytes().first() {
                Some(b'4') => "4.0.0",
                Some(b'5') => "5.0.0",
                _ => generic,
            }
            .to_string()
        });
    FailedRecipient {
        address: r.address.clone(),
        status,
        diagnostic: text,
        original_recipient: r.orcpt.clone(),
    }
}

impl Agent for OutQueue {
    type Command = QueueCommand;
    type Event = QueueAction;

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        self.housekeeping(now, None);
    }

    fn handle_command(&mut self, now: Instant, cmd: QueueCommand) {
        let now = self.advance(now);
        match cmd {
            QueueCommand::Load(m) => self.load(now, *m),
            QueueCommand::LoadAll(v) => self.load_all(now, v),
            QueueCommand::Forget(id) => self.forget(&id),
            QueueCommand::Run { conn, run, flush } => {
                if self.outmail(conn).is_some() {
                    self.start_run(now, Owner::Conn(conn), run, true, flush);
                } else {
                    self.actions.push_back(QueueAction::RunFinished {
                        conn,
                        run,
                        requested: true,
                        report: RunReport::default(),
                    });
                }
            }
            QueueCommand::Flush => self.flush(now),
            QueueCommand::Release { domain } => self.release(now, &domain),
            QueueCommand::Ready { session } => self.ready(session),
            QueueCommand::Finished { session, report } => {
                self.finished(now, session, report);
                self.fill();
            }
            QueueCommand::Ended {
                session,
                established,
                permanent,
                error,
            } => self.ended(now, session, established, permanent, error),
        }
    }

    fn poll_event(&mut self) -> Next<QueueAction> {
        if self.actions.is_empty() && self.dirty {
            self.dirty = false;
            let now = self.now;
            self.housekeeping(now, None);
        }
        match self.actions.pop_front() {
            Some(a) => Next::Event(a),
            None => Next::Wait(self.next_wake()),
        }
    }
}
