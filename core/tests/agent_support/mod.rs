//! Drivers for the agents (the scheduler and the outbound queue) shared by the agent
//! contract test and the clock-jump test: instants with a jumped wall reading, a queue
//! with one automatic Out Mail whose relay always answers the same, and a dial-up
//! scheduler.
#![allow(dead_code)]

use mailroom_core::config::parse_config;
use mailroom_core::outbound::{
    OutQueue, QueueAction, QueueCommand, QueueSetup, QueuedMessage, QueuedRecipient,
};
use mailroom_core::schedule::{Action, ConnSetup, Scheduler, SchedulerCommand, Setup, Target};
use mailroom_core::smtp::client::{RcptOutcome, TxReport};
use mailroom_core::wire::Reply;
use mailroom_core::{Agent, Instant, Next};
use std::time::Duration;

/// 2026-01-01T00:00:00Z, a Thursday.
pub const T0: u64 = 1_767_225_600;
pub const HOUR: i64 = 3600;

/// `secs` after [`T0`] on the monotonic line, with the wall clock set by `wall_jump`
/// seconds.
pub fn at(secs: u64, wall_jump: i64) -> Instant {
    Instant::from_secs(T0 + secs).jump_wall(wall_jump * 1_000_000)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Seconds after [`T0`] of an instant's monotonic reading.
pub fn mono_secs(t: Instant) -> u64 {
    t.saturating_since(Instant::from_secs(T0)).as_secs()
}

// ----- the outbound queue ---------------------------------------------------------------

/// One relay Out Mail on connection 0 (running by itself when `auto`), as the
/// runtime resolves it from the configuration; `example.com` is local.
pub fn queue_setup(auto: bool) -> QueueSetup {
    let cfg = parse_config(
        "hostname = \"mail.example.com\"\n\
         default_domain = \"example.com\"\n\
         local_domains = [\"example.com\"]\n\
         [[connection]]\nname = \"isp\"\n\
         [connection.outmail]\nmethod = \"relay\"\nrelays = [\"smtp.isp.example:25\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let s = QueueSetup::from_config(&cfg, |_| auto);
    assert_eq!(s.outmails.len(), 1);
    s
}

pub fn message(id: &str, arrival: Instant) -> QueuedMessage {
    QueuedMessage {
        id: id.into(),
        size: 100,
        arrival,
        sender: Some("alice@example.com".into()),
        eight_bit: false,
        dsn_ret: None,
        dsn_envid: None,
        warned: false,
        recipients: vec![QueuedRecipient::new("bob@remote.test")],
        receipt_to: None,
    }
}

/// A queue whose relay answers every recipient with `answer` at once.
pub struct QueueDriver {
    pub q: OutQueue,
    pub answer: RcptOutcome,
    /// Every action the queue asked for, with the time it was drained.
    pub log: Vec<(Instant, QueueAction)>,
}

impl QueueDriver {
    pub fn new(now: Instant, setup: QueueSetup) -> QueueDriver {
        QueueDriver {
            q: OutQueue::new(now, setup),
            answer: RcptOutcome::Temporary(Reply::new(451, "4.3.0 try later")),
            log: Vec::new(),
        }
    }

    pub fn command(&mut self, now: Instant, n: QueueCommand) -> Option<Instant> {
        self.q.handle_command(now, n);
        self.drain(now)
    }

    pub fn timeout(&mut self, now: Instant) -> Option<Instant> {
        self.q.handle_timeout(now);
        self.drain(now)
    }

    /// Act on everything the queue asks; the relay answers at once.
    pub fn drain(&mut self, now: Instant) -> Option<Instant> {
        loop {
            let a = match self.q.poll_event() {
                Next::Wait(w) => return w,
                Next::Event(a) => a,
            };
            let reply = match &a {
                QueueAction::Open { session, .. } => {
                    vec![QueueCommand::Ready { session: *session }]
                }
                QueueAction::Send { session, job, .. } => vec![
                    QueueCommand::Finished {
                        session: *session,
                        report: TxReport {
                            job: job.id.clone(),
                            recipients: job
                                .recipients
                                .iter()
                                .map(|r| (r.address.clone(), self.answer.clone()))
                                .collect(),
                            dsn_passed: false,
                        },
                    },
                    QueueCommand::Ready { session: *session },
                ],
                QueueAction::Close { session } => vec![QueueCommand::Ended {
                    session: *session,
                    established: true,
                    permanent: false,
                    error: None,
                }],
                _ => Vec::new(),
            };
            self.log.push((now, a));
            for n in reply {
                self.q.handle_command(now, n);
            }
        }
    }

    /// How many relay transactions (`Send`) so far.
    pub fn sends(&self) -> usize {
        self.log
            .iter()
            .filter(|(_, a)| matches!(a, QueueAction::Send { .. }))
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.log
            .iter()
            .filter(|(_, a)| matches!(a, QueueAction::Warn { .. }))
            .count()
    }
}

// ----- the scheduler --------------------------------------------------------------------

/// A dial-up connection with one retry a minute after a failed dial.
pub fn dialup() -> ConnSetup {
    let mut c = ConnSetup::dialup("isp");
    c.dial_retries = 1;
    c.retry_interval = secs(60);
    c
}

/// A dial-up connection `isp` with a daily schedule at 09:00 local.
pub fn scheduled_setup() -> Setup {
    let cfg = parse_config(
        "hostname = \"mail.example.com\"\n\
         default_domain = \"example.com\"\n\
         local_domains = [\"example.com\"]\n\
         [[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"pon\"\ndown = \"poff\"\n\
         [[schedule]]\nat = [\"09:00\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    Setup::from_config(&cfg, &[])
}

/// Ask for a connection now; returns the dial attempt asked for.
pub fn connect_now(s: &mut Scheduler, now: Instant) -> Vec<Action> {
    s.handle_command(
        now,
        SchedulerCommand::ConnectNow {
            target: Target::Primary,
            request: 1,
        },
    );
    s.drain().0
}

/// Connection 0's dial `attempt` fails at `now`; returns the deadline then.
pub fn dial_fails(s: &mut Scheduler, now: Instant, attempt: u32) -> Option<Instant> {
    s.handle_command(
        now,
        SchedulerCommand::DialResult {
            conn: 0,
            attempt,
            result: Err("busy".into()),
        },
    );
    s.drain().1
}

/// The local time a driver in UTC reports at `now` (the wall reading).
pub fn clock(now: Instant) -> SchedulerCommand {
    SchedulerCommand::Clock {
        local: i64::try_from(now.unix_micros()).unwrap_or(i64::MAX),
        next_change: None,
    }
}
