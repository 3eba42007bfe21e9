//! The scheduler machine. See the module docs of [`super`] and docs/SCHEDULE.md.

use super::clock::SEC;
use super::{
    Action, ConnId, Hook, Outcome, Reason, RunId, RunKind, SchedulerCommand, Setup, Target,
};
use crate::config::ClockChange;
use crate::{Agent, Instant, Next};
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// Clock moves smaller than this are jitter between the driver's two clock readings,
/// not a clock change.
const JUMP_TOLERANCE: i64 = 2 * SEC;

/// Most actions kept undrained: a driver that stops draining gets no more.
const MAX_ACTIONS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    /// Waiting for [`SchedulerCommand::LinkChecked`].
    Checking,
    Dialing {
        attempt: u32,
        deadline: Instant,
    },
    RetryWait {
        attempt: u32,
        until: Instant,
    },
    /// Usable; `ours`: this server dialled it and hangs it up.
    Up {
        ours: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the link.
    Connecting,
    /// Waiting for the post-connect hook.
    PostHook,
    Working,
}

#[derive(Debug)]
struct Run {
    id: RunId,
    kind: RunKind,
    stage: Stage,
    requests: Vec<u64>,
    deadline: Option<Instant>,
    etrn: bool,
    outmail: bool,
    outmail_again: bool,
    inmail: BTreeSet<String>,
    wait_until: Option<Instant>,
    inbound_seen: bool,
}

#[derive(Debug)]
struct Pending {
    kind: RunKind,
    reason: Reason,
    requests: Vec<u64>,
}

#[derive(Debug)]
struct Conn {
    link: Link,
    run: Option<Run>,
    pending: Option<Pending>,
    /// The pre-disconnect hook is running; the link is hung up after it.
    closing: bool,
    /// The post-connect hook ran for the current link session.
    session_open: bool,
    idle_until: Option<Instant>,
    failed_dials: u32,
    notified: bool,
    last_online: Option<Instant>,
    /// An outstanding `CheckLink`: for AutoConnect, before dialling, or both.
    check_auto: bool,
    check_dial: bool,
    auto_next: Option<Instant>,
    /// AutoConnect saw the link up (and ran, when once per session).
    auto_seen_up: bool,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            link: Link::Down,
            run: None,
            pending: None,
            closing: false,
            session_open: false,
            idle_until: None,
            failed_dials: 0,
            notified: false,
            last_online: None,
            check_auto: false,
            check_dial: false,
            auto_next: None,
            auto_seen_up: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Local stamp minus `now`, in microseconds.
    delta: i64,
    next_change: Option<Instant>,
}

/// The connection scheduler (see [`super`]).
#[derive(Debug)]
pub struct Scheduler {
    setup: Setup,
    conns: Vec<Conn>,
    actions: VecDeque<Action>,
    now: Instant,
    clock: Option<Clock>,
    /// Schedule slots at or before this local stamp are handled.
    cursor: Option<i64>,
    inbound_open: u32,
    checked: BTreeSet<String>,
    users_deadline: Option<Instant>,
    next_run: RunId,
}

/// The monotonic reading: local stamps are mapped onto it, so a wall-clock step shows
/// up as a change of `Clock::delta` (the clock-change rule) and never moves a timer.
fn micros(t: Instant) -> i64 {
    i64::try_from(t.mono_micros()).unwrap_or(i64::MAX)
}

/// The instant whose monotonic reading is `us`, with the wall reading moved alike.
fn instant_of(now: Instant, us: i64) -> Instant {
    let d = us.saturating_sub(micros(now));
    let by = Duration::from_micros(d.unsigned_abs());
    if d >= 0 {
        now + by
    } else {
        now - by
    }
}

impl Scheduler {
    pub fn new(now: Instant, setup: Setup) -> Scheduler {
        let mut conns: Vec<Conn> = setup.connections.iter().map(|_| Conn::new()).collect();
        for (c, s) in conns.iter_mut().zip(&setup.connections) {
            if !s.command_link {
                c.link = Link::Up { ours: false };
            }
            if s.autoconnect && s.command_link {
                c.auto_next = Some(now);
            }
        }
        Scheduler {
            setup,
            conns,
            actions: VecDeque::new(),
            now,
            clock: None,
            cursor: None,
            inbound_open: 0,
            checked: BTreeSet::new(),
            users_deadline: None,
            next_run: 1,
        }
    }

    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The connection's name.
    pub fn name(&self, conn: ConnId) -> &str {
        self.setup
            .connections
            .get(conn)
            .map_or("?", |c| c.name.as_str())
    }

    /// Whether the connection's link is usable now (LAN links always are).
    pub fn is_online(&self, conn: ConnId) -> bool {
        matches!(self.conns.get(conn).map(|c| c.link), Some(Link::Up { .. }))
    }

    /// Whether this server dialled the link and it is up.
    pub fn is_dialled_up(&self, conn: ConnId) -> bool {
        matches!(
            self.conns.get(conn).map(|c| c.link),
            Some(Link::Up { ours: true })
        )
    }

    /// Whether a run is in progress on the connection.
    pub fn is_running(&self, conn: ConnId) -> bool {
        self.conns.get(conn).is_some_and(|c| c.run.is_some())
    }

    /// Incoming SMTP sessions open now, as counted from the notices.
    pub fn inbound_open(&self) -> u32 {
        self.inbound_open
    }

    fn emit(&mut self, a: Action) {
        if self.actions.len() < MAX_ACTIONS {
            self.actions.push_back(a);
        }
    }

    fn primaries(&self) -> Vec<ConnId> {
        (0..self.conns.len())
            .filter(|&i| self.setup.connections[i].primary)
            .collect()
    }

    // ----- time -----

    fn local_now(&self) -> Option<i64> {
        self.clock.map(|c| micros(self.now).saturating_add(c.delta))
    }

    fn on_clock(&mut self, local: i64, next_change: Option<Instant>) {
        let now = micros(self.now);
        let delta = local.saturating_sub(now);
        let Some(old) = self.clock else {
            self.clock = Some(Clock { delta, next_change });
            self.cursor = Some(local);
            return;
        };
        let jump = delta - old.delta;
        if jump.abs() < JUMP_TOLERANCE {
            // Follow the small step (slots it passes are simply due; a step back
            // repeats nothing, the cursor stays), but it is no clock change.
            self.clock = Some(Clock { delta, next_change });
            self.advance_schedule(local);
            return;
        }
        // Slots before what the old mapping says it is now were due before the change;
        // the change instant itself already reads the new time.
        let predicted = now.saturating_add(old.delta);
        self.advance_schedule(predicted - 1);
        self.clock = Some(Clock { delta, next_change });
        let mut caught_up = false;
        if jump > 0 {
            // Forward: scheduled times strictly between the old and the new time never
            // happened on the wall clock.
            let from = self.cursor.unwrap_or(predicted - 1);
            let jumped: BTreeSet<ConnId> = self
                .setup
                .rules
                .iter()
                .filter(|r| r.fires_in(from, local - 1))
                .flat_map(|r| r.connections.iter().copied())
                .collect();
            self.cursor = Some(local - 1);
            for conn in jumped {
                match self.setup.clock_change {
                    ClockChange::Next => self.emit(Action::Skipped {
                        conn,
                        why: "the clock jumped over its scheduled time".into(),
                    }),
                    ClockChange::Check => {
                        caught_up = true;
                        self.scheduled(conn, Reason::ClockCatchUp);
                    }
                }
            }
            self.advance_schedule(local);
        }
        // Backward: the cursor stays where it was, so the repeated wall-clock span
        // fires nothing a second time.
        self.emit(Action::ClockChanged {
            by_secs: jump / SEC,
            caught_up,
        });
    }

    /// Fire the schedule slots in `(cursor, upto]`, at most one run per connection.
    fn advance_schedule(&mut self, upto: i64) {
        let Some(cursor) = self.cursor else { return };
        if upto <= cursor {
            return;
        }
        let mut due: Vec<(ConnId, Reason)> = Vec::new();
        for r in &self.setup.rules {
            let Some(first) = r.next_after(cursor) else {
                continue;
            };
            if first > upto {
                continue;
            }
            // Two slots of one rule in one step: the wake-up came late.
            let reason = if r.fires_in(first, upto) {
                Reason::ClockCatchUp
            } else {
                Reason::Schedule(r.label.clone())
            };
            for &c in &r.connections {
                if !due.iter().any(|(d, _)| *d == c) {
                    due.push((c, reason.clone()));
                }
            }
        }
        self.cursor = Some(upto);
        for (conn, reason) in due {
            self.scheduled(conn, reason);
        }
    }

    fn scheduled(&mut self, conn: ConnId, reason: Reason) {
        let skip = self.setup.skip_if_connected_within;
        if !skip.is_zero() {
            if let Some(last) = self.conns[conn].last_online {
                if self.now.saturating_since(last) < skip {
                    self.emit(Action::Skipped {
                        conn,
                        why: format!(
                            "it connected {}s ago",
                            self.now.saturating_since(last).as_secs()
                        ),
                    });
                    return;
                }
            }
        }
        self.request(conn, RunKind::Full, reason, Vec::new());
    }

    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        if let Some(local) = self.local_now() {
            self.advance_schedule(local);
        }
        if self.users_deadline.is_some_and(|d| d <= self.now) {
            self.users_deadline = None;
            self.checked.clear();
            for c in self.primaries() {
                self.request(c, RunKind::Full, Reason::UsersChecked, Vec::new());
            }
        }
        for conn in 0..self.conns.len() {
            self.advance_conn(conn);
        }
    }

    fn advance_conn(&mut self, conn: ConnId) {
        let now = self.now;
        match self.conns[conn].link {
            Link::Dialing { attempt, deadline } if deadline <= now => {
                self.emit(Action::CancelDial { conn, attempt });
                self.dial_failed(conn, attempt, "the dial timed out".into());
            }
            Link::RetryWait { attempt, until } if until <= now => self.dial(conn, attempt),
            _ => {}
        }
        let s = &self.setup.connections[conn];
        if s.autoconnect && s.command_link {
            let every = s.autoconnect_every;
            let c = &mut self.conns[conn];
            if c.auto_next.is_some_and(|t| t <= now) {
                c.auto_next = Some(now + every);
                let idle = c.run.is_none() && !c.closing && c.link == Link::Down;
                if idle && !c.check_auto && !c.check_dial {
                    c.check_auto = true;
                    c.link = Link::Checking;
                    let links = self.check_links(conn);
                    self.emit(Action::CheckLink { conn, links });
                }
            }
        }
        let timed_out = self.conns[conn]
            .run
            .as_ref()
            .is_some_and(|r| r.stage != Stage::Connecting && r.deadline.is_some_and(|d| d <= now));
        if timed_out {
            self.finish_run(conn, Outcome::TimedOut, true);
        }
        self.try_finish(conn);
        let c = &self.conns[conn];
        if c.run.is_none()
            && !c.closing
            && c.link == (Link::Up { ours: true })
            && c.idle_until.is_some_and(|t| t <= now)
        {
            self.conns[conn].idle_until = None;
            self.close_session(conn);
        }
    }

    // ----- runs -----

    /// Ask for a run; it starts now, joins the one in progress, or follows it.
    fn request(&mut self, conn: ConnId, kind: RunKind, reason: Reason, requests: Vec<u64>) {
        let sends = self.setup.connections[conn].sends;
        let c = &mut self.conns[conn];
        if let Some(run) = c.run.as_mut() {
            if run.kind == RunKind::Full || kind == RunKind::Send {
                run.requests.extend(requests);
                if kind == RunKind::Send && sends && run.stage == Stage::Working {
                    if run.outmail {
                        run.outmail_again = true;
                    } else {
                        run.outmail = true;
                        let id = run.id;
                        self.emit(Action::RunOutMail { conn, run: id });
                    }
                }
                return;
            }
        }
        if c.run.is_some() || c.closing {
            match c.pending.as_mut() {
                Some(p) => {
                    p.kind = p.kind.max(kind);
                    p.requests.extend(requests);
                }
                None => {
                    c.pending = Some(Pending {
                        kind,
                        reason,
                        requests,
                    })
                }
            }
            return;
        }
        self.start_run(conn, kind, reason, requests);
    }

    fn start_run(&mut self, conn: ConnId, kind: RunKind, reason: Reason, requests: Vec<u64>) {
        let id = self.next_run;
        self.next_run += 1;
        self.emit(Action::RunStarted {
            conn,
            run: id,
            kind,
            reason,
            requests: requests.clone(),
        });
        let c = &mut self.conns[conn];
        c.idle_until = None;
        c.run = Some(Run {
            id,
            kind,
            stage: Stage::Connecting,
            requests,
            deadline: None,
            etrn: false,
            outmail: false,
            outmail_again: false,
            inmail: BTreeSet::new(),
            wait_until: None,
            inbound_seen: false,
        });
        match c.link {
            Link::Up { .. } => self.online(conn),
            Link::Checking => c.check_dial = true,
            Link::Dialing { .. } | Link::RetryWait { .. } => {}
            Link::Down => {
                let links = self.check_links(conn);
                if links.is_empty() {
                    self.dial(conn, 1);
                } else {
                    let c = &mut self.conns[conn];
                    c.check_dial = true;
                    c.link = Link::Checking;
                    self.emit(Action::CheckLink { conn, links });
                }
            }
        }
    }

    /// The links to look at before dialling: this one's (if it has a check) and the
    /// alternatives.
    fn check_links(&self, conn: ConnId) -> Vec<ConnId> {
        let s = &self.setup.connections[conn];
        let mut v = Vec::new();
        if s.has_check {
            v.push(conn);
        }
        v.extend(s.alternatives.iter().copied().filter(|&a| a != conn));
        v
    }

    fn dial(&mut self, conn: ConnId, attempt: u32) {
        let timeout = self.setup.connections[conn].dial_timeout;
        self.conns[conn].link = Link::Dialing {
            attempt,
            deadline: self.now + timeout,
        };
        self.emit(Action::Dial { conn, attempt });
    }

    fn dial_failed(&mut self, conn: ConnId, attempt: u32, why: String) {
        let s = &self.setup.connections[conn];
        let (retries, interval) = (s.dial_retries, s.retry_interval);
        let notice = self.setup.failed_dials_notice;
        let c = &mut self.conns[conn];
        c.failed_dials = c.failed_dials.saturating_add(1);
        if notice > 0 && c.failed_dials >= notice && !c.notified {
            c.notified = true;
            let n = c.failed_dials;
            self.emit(Action::NotifyAdmin {
                conn,
                failed_dials: n,
                detail: why.clone(),
            });
        }
        let c = &mut self.conns[conn];
        if attempt <= retries {
            c.link = Link::RetryWait {
                attempt: attempt + 1,
                until: self.now + interval,
            };
        } else {
            c.link = Link::Down;
            // Whatever waited for this connection fails with it.
            let pending = c.pending.take();
            self.finish_run(conn, Outcome::DialFailed(why.clone()), false);
            if let Some(p) = pending {
                if !p.requests.is_empty() {
                    let id = self.next_run;
                    self.next_run += 1;
                    self.emit(Action::RunFinished {
                        conn,
                        run: id,
                        outcome: Outcome::DialFailed(why),
                        requests: p.requests,
                    });
                }
            }
        }
    }

    fn online(&mut self, conn: ConnId) {
        let hook = self.setup.post_connect;
        let c = &mut self.conns[conn];
        let Some(run) = c.run.as_mut() else { return };
        if run.kind == RunKind::Full && hook && !c.session_open {
            run.stage = Stage::PostHook;
            run.deadline = Some(self.now + self.setup.connections[conn].max_online);
            self.emit(Action::RunHook {
                conn,
                hook: Hook::PostConnect,
            });
        } else {
            if run.kind == RunKind::Full {
                c.session_open = true;
            }
            self.start_work(conn);
        }
    }

    fn start_work(&mut self, conn: ConnId) {
        let now = self.now;
        let s = self.setup.connections[conn].clone();
        let c = &mut self.conns[conn];
        let Some(run) = c.run.as_mut() else { return };
        run.stage = Stage::Working;
        run.deadline.get_or_insert(now + s.max_online);
        c.last_online = Some(now);
        let id = run.id;
        let mut actions = Vec::new();
        if run.kind == RunKind::Full {
            if let Some(si) = &s.smtp_in {
                if let (false, Some(host)) = (si.etrn.is_empty(), &si.etrn_host) {
                    run.etrn = true;
                    actions.push(Action::SendEtrn {
                        conn,
                        run: id,
                        host: host.clone(),
                        domains: si.etrn.clone(),
                    });
                }
                run.wait_until = Some(now + si.wait);
            }
        }
        if s.sends {
            run.outmail = true;
            actions.push(Action::RunOutMail { conn, run: id });
        }
        if run.kind == RunKind::Full {
            for m in &s.in_mails {
                if run.inmail.insert(m.clone()) {
                    actions.push(Action::RunInMail {
                        conn,
                        run: id,
                        in_mail: m.clone(),
                    });
                }
            }
        }
        let full = run.kind == RunKind::Full;
        for a in actions {
            self.emit(a);
        }
        if full && s.primary {
            self.checked.clear();
            self.users_deadline = None;
        }
        self.try_finish(conn);
    }

    fn try_finish(&mut self, conn: ConnId) {
        let now = self.now;
        let open = self.inbound_open;
        let Some(run) = self.conns[conn].run.as_ref() else {
            return;
        };
        if run.stage != Stage::Working
            || run.etrn
            || run.outmail
            || run.outmail_again
            || !run.inmail.is_empty()
        {
            return;
        }
        let waited = match run.wait_until {
            None => true,
            Some(t) => open == 0 && (run.inbound_seen || now >= t),
        };
        if waited {
            self.finish_run(conn, Outcome::Done, false);
        }
    }

    /// End the run; `force` hangs up at once (no idle time).
    fn finish_run(&mut self, conn: ConnId, outcome: Outcome, force: bool) {
        let Some(run) = self.conns[conn].run.take() else {
            return;
        };
        self.emit(Action::RunFinished {
            conn,
            run: run.id,
            outcome: outcome.clone(),
            requests: run.requests,
        });
        let c = &self.conns[conn];
        let link_up = matches!(c.link, Link::Up { .. });
        if !force && link_up {
            if let Some(p) = self.conns[conn].pending.take() {
                self.start_run(conn, p.kind, p.reason, p.requests);
                return;
            }
        }
        match self.conns[conn].link {
            Link::Up { ours: true } => {
                let idle = self.setup.connections[conn].idle_hangup;
                if force || idle.is_zero() {
                    self.close_session(conn);
                } else {
                    self.conns[conn].idle_until = Some(self.now + idle);
                }
            }
            Link::Up { ours: false } => {
                if self.conns[conn].session_open || force {
                    self.close_session(conn);
                }
            }
            _ => {
                let c = &mut self.conns[conn];
                c.session_open = false;
                if let Some(p) = c.pending.take() {
                    if p.kind == RunKind::Full {
                        self.start_run(conn, p.kind, p.reason, p.requests);
                    }
                }
            }
        }
    }

    fn close_session(&mut self, conn: ConnId) {
        let c = &mut self.conns[conn];
        if c.closing {
            return;
        }
        if self.setup.pre_disconnect && c.session_open {
            c.closing = true;
            self.emit(Action::RunHook {
                conn,
                hook: Hook::PreDisconnect,
            });
        } else {
            self.finish_close(conn);
        }
    }

    fn finish_close(&mut self, conn: ConnId) {
        let command_link = self.setup.connections[conn].command_link;
        let c = &mut self.conns[conn];
        c.closing = false;
        c.session_open = false;
        c.idle_until = None;
        match c.link {
            Link::Up { ours: true } => {
                c.link = Link::Down;
                self.emit(Action::HangUp { conn });
                self.emit(Action::Offline {
                    conn,
                    hung_up: true,
                });
            }
            Link::Up { ours: false } if command_link => {
                // Someone else's link: stop using it, leave it up.
                c.link = Link::Down;
                self.emit(Action::Offline {
                    conn,
                    hung_up: false,
                });
            }
            _ => {}
        }
        let c = &mut self.conns[conn];
        if let Some(p) = c.pending.take() {
            // Sending alone never dials: that mail waits for the next connection.
            if p.kind == RunKind::Full || matches!(c.link, Link::Up { .. }) {
                self.start_run(conn, p.kind, p.reason, p.requests);
            }
        }
    }

    // ----- notices -----

    /// An answer nobody asked for (machine contract rule 5): logged, nothing else.
    fn stray(what: &str, conn: ConnId) {
        tracing::debug!(conn, "scheduler: {what} nobody asked for, ignored");
    }

    fn on_notice(&mut self, n: SchedulerCommand) {
        match n {
            SchedulerCommand::Clock { local, next_change } => self.on_clock(local, next_change),
            SchedulerCommand::ConnectNow { target, request } => {
                let conns: Vec<ConnId> = match &target {
                    Target::All => (0..self.conns.len()).collect(),
                    Target::Primary => self.primaries(),
                    Target::Named(name) => self
                        .setup
                        .connections
                        .iter()
                        .position(|c| c.name.eq_ignore_ascii_case(name))
                        .into_iter()
                        .collect(),
                };
                if conns.is_empty() {
                    let why = match target {
                        Target::Named(n) => format!("there is no connection named {n:?}"),
                        _ => "no connection is configured".into(),
                    };
                    self.emit(Action::Rejected { request, why });
                }
                for c in conns {
                    self.request(c, RunKind::Full, Reason::Manual, vec![request]);
                }
            }
            SchedulerCommand::MessageQueued { priority } => {
                if priority && self.setup.priority_connect {
                    for c in self.primaries() {
                        self.request(c, RunKind::Full, Reason::Priority, Vec::new());
                    }
                } else if self.setup.send_while_online {
                    for conn in 0..self.conns.len() {
                        if !self.setup.connections[conn].sends {
                            continue;
                        }
                        let c = &mut self.conns[conn];
                        // §6.5.1: online is a LAN link, a link we use, or one AutoConnect
                        // saw up.
                        if c.link == Link::Down && c.auto_seen_up && c.run.is_none() && !c.closing {
                            c.link = Link::Up { ours: false };
                            self.emit(Action::Online {
                                conn,
                                dialled: false,
                            });
                        }
                        if matches!(self.conns[conn].link, Link::Up { .. }) {
                            self.request(conn, RunKind::Send, Reason::Queued, Vec::new());
                        }
                    }
                }
            }
            SchedulerCommand::UserCheckedMail { user } => {
                let x = self.setup.users_checked;
                if x == 0 {
                    return;
                }
                self.checked.insert(user.to_ascii_lowercase());
                if self.checked.len() >= x as usize && self.users_deadline.is_none() {
                    self.users_deadline = Some(self.now + self.setup.users_checked_within);
                }
            }
            SchedulerCommand::InboundStarted => {
                self.inbound_open = self.inbound_open.saturating_add(1);
                let now = self.now;
                for c in &mut self.conns {
                    if let Some(r) = c.run.as_mut() {
                        if r.wait_until.is_some_and(|t| now <= t) {
                            r.inbound_seen = true;
                        }
                    }
                }
            }
            SchedulerCommand::InboundEnded => {
                self.inbound_open = self.inbound_open.saturating_sub(1);
            }
            SchedulerCommand::LinkChecked { conn, up } => self.on_checked(conn, up),
            SchedulerCommand::DialResult {
                conn,
                attempt,
                result,
            } => {
                let Some(c) = self.conns.get_mut(conn) else {
                    return Self::stray("a dial result", conn);
                };
                if !matches!(c.link, Link::Dialing { attempt: a, .. } if a == attempt) {
                    return Self::stray("a dial result", conn);
                }
                match result {
                    Ok(()) => {
                        c.link = Link::Up { ours: true };
                        c.failed_dials = 0;
                        c.notified = false;
                        self.emit(Action::Online {
                            conn,
                            dialled: true,
                        });
                        self.online(conn);
                    }
                    Err(why) => self.dial_failed(conn, attempt, why),
                }
            }
            SchedulerCommand::LinkLost { conn } => {
                let Some(c) = self.conns.get_mut(conn) else {
                    return Self::stray("a lost link", conn);
                };
                if !self.setup.connections[conn].command_link || !matches!(c.link, Link::Up { .. })
                {
                    return Self::stray("a lost link", conn);
                }
                c.link = Link::Down;
                c.session_open = false;
                c.idle_until = None;
                c.auto_seen_up = false;
                self.emit(Action::Offline {
                    conn,
                    hung_up: false,
                });
                let c = &mut self.conns[conn];
                if c.closing {
                    self.finish_close(conn);
                } else if c.run.as_ref().is_some_and(|r| r.stage != Stage::Working) {
                    self.finish_run(conn, Outcome::LinkLost, false);
                }
            }
            SchedulerCommand::HookDone { conn, hook } => {
                let Some(c) = self.conns.get_mut(conn) else {
                    return Self::stray("a hook result", conn);
                };
                match hook {
                    Hook::PostConnect
                        if c.run.as_ref().is_some_and(|r| r.stage == Stage::PostHook) =>
                    {
                        c.session_open = true;
                        self.start_work(conn);
                    }
                    Hook::PreDisconnect if c.closing => self.finish_close(conn),
                    _ => Self::stray("a hook result", conn),
                }
            }
            SchedulerCommand::EtrnDone { conn, run, .. } => {
                match self.conns.get_mut(conn).and_then(|c| c.run.as_mut()) {
                    Some(r) if r.id == run => r.etrn = false,
                    _ => Self::stray("an ETRN result", conn),
                }
            }
            SchedulerCommand::OutMailDone { conn, run } => {
                match self.conns.get_mut(conn).and_then(|c| c.run.as_mut()) {
                    Some(r) if r.id == run && r.outmail_again => {
                        r.outmail_again = false;
                        self.emit(Action::RunOutMail { conn, run });
                    }
                    Some(r) if r.id == run => r.outmail = false,
                    _ => Self::stray("an Out Mail result", conn),
                }
            }
            SchedulerCommand::InMailDone { conn, run, in_mail } => {
                match self.conns.get_mut(conn).and_then(|c| c.run.as_mut()) {
                    Some(r) if r.id == run => {
                        r.inmail.remove(&in_mail);
                    }
                    _ => Self::stray("an In Mail result", conn),
                }
            }
        }
    }

    fn on_checked(&mut self, conn: ConnId, up: Option<ConnId>) {
        let Some(c) = self.conns.get_mut(conn) else {
            return Self::stray("a link check", conn);
        };
        if c.link != Link::Checking {
            return Self::stray("a link check", conn);
        }
        let (auto, dial) = (c.check_auto, c.check_dial);
        c.check_auto = false;
        c.check_dial = false;
        if up.is_some() {
            c.link = Link::Up { ours: false };
            self.emit(Action::Online {
                conn,
                dialled: false,
            });
            let c = &mut self.conns[conn];
            if c.run.is_some() {
                self.online(conn);
            } else if auto {
                let once = self.setup.connections[conn].autoconnect_once;
                if !once || !c.auto_seen_up {
                    c.auto_seen_up = true;
                    self.start_run(conn, RunKind::Full, Reason::AutoConnect, Vec::new());
                } else {
                    // Seen before in this link session: leave it alone.
                    c.link = Link::Down;
                    self.emit(Action::Offline {
                        conn,
                        hung_up: false,
                    });
                }
            }
        } else {
            c.link = Link::Down;
            if auto {
                c.auto_seen_up = false;
            }
            if dial || c.run.is_some() {
                self.dial(conn, 1);
            }
        }
    }

    // ----- deadlines -----

    fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |x| x.min(t)));
            }
        };
        at(self.users_deadline);
        if let (Some(clock), Some(cursor)) = (self.clock, self.cursor) {
            at(clock.next_change.filter(|&t| t > self.now));
            let next_slot = self
                .setup
                .rules
                .iter()
                .filter_map(|r| r.next_after(cursor))
                .min();
            if let Some(local) = next_slot {
                at(Some(instant_of(
                    self.now,
                    local.saturating_sub(clock.delta),
                )));
            }
        }
        for (i, c) in self.conns.iter().enumerate() {
            match c.link {
                Link::Dialing { deadline, .. } => at(Some(deadline)),
                Link::RetryWait { until, .. } => at(Some(until)),
                _ => {}
            }
            let s = &self.setup.connections[i];
            if s.autoconnect && s.command_link {
                at(c.auto_next);
            }
            at(c.idle_until.filter(|_| c.run.is_none()));
            if let Some(r) = &c.run {
                if r.stage != Stage::Connecting {
                    at(r.deadline);
                }
                if r.stage == Stage::Working && !r.inbound_seen {
                    // Once passed, the wait no longer needs a wake-up (the run ends
                    // when its other work does); returning it would spin.
                    at(r.wait_until.filter(|&t| t > self.now));
                }
            }
        }
        d
    }
}

impl Agent for Scheduler {
    type Command = SchedulerCommand;
    type Event = Action;

    fn handle_command(&mut self, now: Instant, cmd: SchedulerCommand) {
        if now > self.now {
            self.now = now;
        }
        self.on_notice(cmd);
        self.advance(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    fn poll_event(&mut self) -> Next<Action> {
        match self.actions.pop_front() {
            Some(a) => Next::Event(a),
            None => Next::Wait(self.next_deadline()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ConnSetup, Setup};
    use std::time::Duration;

    fn drain(s: &mut Scheduler) -> (Vec<Action>, Option<Instant>) {
        s.drain()
    }

    fn t(s: u64) -> Instant {
        Instant::from_secs(1_000_000 + s)
    }

    /// The first dial of connection 0 succeeds at t(5).
    fn dialled(s: &mut Scheduler) -> Vec<Action> {
        s.handle_command(
            t(5),
            SchedulerCommand::DialResult {
                conn: 0,
                attempt: 1,
                result: Ok(()),
            },
        );
        drain(s).0
    }

    fn dialup_with_outmail() -> Scheduler {
        let mut c = ConnSetup::dialup("isp");
        c.sends = true;
        c.max_online = Duration::from_secs(600);
        Scheduler::new(t(0), Setup::with_connections(vec![c]))
    }

    fn connect(s: &mut Scheduler) -> RunId {
        s.handle_command(
            t(0),
            SchedulerCommand::ConnectNow {
                target: Target::Primary,
                request: 1,
            },
        );
        let (a, _) = drain(s);
        assert!(matches!(
            a[1],
            Action::Dial {
                conn: 0,
                attempt: 1
            }
        ));
        let a = dialled(s);
        match a.last() {
            Some(Action::RunOutMail { run, .. }) => *run,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_run_that_never_finishes_is_ended_at_max_online() {
        let mut s = dialup_with_outmail();
        let run = connect(&mut s);
        let (_, wait) = drain(&mut s);
        assert_eq!(wait, Some(t(605)));
        s.handle_timeout(t(605));
        let (a, _) = drain(&mut s);
        assert!(a.contains(&Action::RunFinished {
            conn: 0,
            run,
            outcome: Outcome::TimedOut,
            requests: vec![1]
        }));
        assert!(a.contains(&Action::HangUp { conn: 0 }));
        // The late answer is ignored.
        s.handle_command(t(700), SchedulerCommand::OutMailDone { conn: 0, run });
        assert!(drain(&mut s).0.is_empty());
        assert!(!s.is_online(0));
    }

    #[test]
    fn queued_mail_while_sending_restarts_the_send_cycle() {
        let mut s = dialup_with_outmail();
        let run = connect(&mut s);
        s.handle_command(t(6), SchedulerCommand::MessageQueued { priority: false });
        assert!(drain(&mut s).0.is_empty());
        s.handle_command(t(7), SchedulerCommand::OutMailDone { conn: 0, run });
        assert_eq!(drain(&mut s).0, [Action::RunOutMail { conn: 0, run }]);
        s.handle_command(t(8), SchedulerCommand::OutMailDone { conn: 0, run });
        let (a, _) = drain(&mut s);
        assert!(matches!(
            a[0],
            Action::RunFinished {
                outcome: Outcome::Done,
                ..
            }
        ));
        assert_eq!(a[1], Action::HangUp { conn: 0 });
    }

    #[test]
    fn a_link_lost_while_dialling_hooks_ends_the_run() {
        let mut setup = Setup::with_connections(vec![ConnSetup::dialup("isp")]);
        setup.post_connect = true;
        let mut s = Scheduler::new(t(0), setup);
        s.handle_command(
            t(0),
            SchedulerCommand::ConnectNow {
                target: Target::All,
                request: 9,
            },
        );
        drain(&mut s);
        let a = dialled(&mut s);
        assert!(a.contains(&Action::RunHook {
            conn: 0,
            hook: Hook::PostConnect
        }));
        s.handle_command(t(6), SchedulerCommand::LinkLost { conn: 0 });
        let (a, _) = drain(&mut s);
        assert!(a.iter().any(|x| matches!(
            x,
            Action::RunFinished {
                outcome: Outcome::LinkLost,
                ..
            }
        )));
        // Nothing to hang up: the link is already gone.
        assert!(!a.contains(&Action::HangUp { conn: 0 }));
    }

    #[test]
    fn unknown_names_are_rejected() {
        let mut s = dialup_with_outmail();
        s.handle_command(
            t(0),
            SchedulerCommand::ConnectNow {
                target: Target::Named("nope".into()),
                request: 3,
            },
        );
        let (a, _) = drain(&mut s);
        assert!(matches!(&a[..], [Action::Rejected { request: 3, .. }]));
    }
}
