//! The machine contract for agents (core/src/machine.rs, docs/ARCHITECTURE.md "The
//! machine contract"), checked on every agent: the connection scheduler and the
//! outbound queue.
//!
//! - Drain reaches `Wait` after every handle.
//! - Commands nobody asked for change nothing: a run with stray answers mixed in gives
//!   the same events and deadlines as the run without them.
//! - A timeout before the deadline changes nothing.
//! - Time never runs backwards: an earlier `now` fires nothing, and timers started
//!   under it count from the latest `now` seen.

mod agent_support;

use agent_support::*;
use mailroom_core::outbound::{QueueAction, QueueCommand};
use mailroom_core::schedule::{Action, Hook, Scheduler, SchedulerCommand, Setup};
use mailroom_core::smtp::client::{RcptOutcome, TxReport};
use mailroom_core::wire::Reply;
use mailroom_core::{Agent, Instant};
use std::fmt::Debug;

/// What an agent did after one handle: its events and the deadline it waits for.
fn step<A: Agent>(a: &mut A) -> String
where
    A::Event: Debug,
{
    let (events, wait) = a.drain();
    format!("{events:?} wait {:?}", wait.map(mono_secs))
}

// ----- the scheduler --------------------------------------------------------------------

/// Answers no event asks for at the point they come (the scheduler's run ids start at 1).
fn scheduler_strays() -> Vec<SchedulerCommand> {
    vec![
        SchedulerCommand::DialResult {
            conn: 0,
            attempt: 7,
            result: Ok(()),
        },
        SchedulerCommand::DialResult {
            conn: 9,
            attempt: 1,
            result: Err("no such connection".into()),
        },
        SchedulerCommand::LinkChecked { conn: 0, up: None },
        SchedulerCommand::HookDone {
            conn: 0,
            hook: Hook::PreDisconnect,
        },
        SchedulerCommand::HookDone {
            conn: 0,
            hook: Hook::PostConnect,
        },
        SchedulerCommand::OutMailDone { conn: 0, run: 99 },
        SchedulerCommand::InMailDone {
            conn: 0,
            run: 99,
            in_mail: "isp".into(),
        },
        SchedulerCommand::EtrnDone {
            conn: 3,
            run: 1,
            result: Ok(()),
        },
        SchedulerCommand::LinkLost { conn: 4 },
    ]
}

/// A connection request, a failed dial, its retry, a successful dial, the Out Mail
/// run and the hang-up; with `strays`, every stray answer is given between steps.
fn scheduler_run(strays: bool) -> Vec<String> {
    let mut setup = dialup();
    setup.sends = true;
    let mut s = Scheduler::new(at(0, 0), Setup::with_connections(vec![setup]));
    let mut trace = Vec::new();
    let stray = |s: &mut Scheduler, t: u64| {
        if strays {
            for n in scheduler_strays() {
                s.handle_command(at(t, 0), n);
                let (events, _) = s.drain();
                assert!(events.is_empty(), "a stray answer at {t} gave {events:?}");
            }
        }
    };
    let cmd = |s: &mut Scheduler, t: u64, n: SchedulerCommand, trace: &mut Vec<String>| {
        s.handle_command(at(t, 0), n);
        trace.push(step(s));
    };
    cmd(
        &mut s,
        0,
        SchedulerCommand::ConnectNow {
            target: mailroom_core::schedule::Target::Primary,
            request: 1,
        },
        &mut trace,
    );
    stray(&mut s, 1);
    cmd(
        &mut s,
        10,
        SchedulerCommand::DialResult {
            conn: 0,
            attempt: 1,
            result: Err("busy".into()),
        },
        &mut trace,
    );
    stray(&mut s, 11);
    s.handle_timeout(at(70, 0));
    trace.push(step(&mut s));
    stray(&mut s, 71);
    cmd(
        &mut s,
        75,
        SchedulerCommand::DialResult {
            conn: 0,
            attempt: 2,
            result: Ok(()),
        },
        &mut trace,
    );
    stray(&mut s, 76);
    // The Out Mail run the scheduler asked for ends.
    let run = trace
        .last()
        .and_then(|t| t.split("RunOutMail { conn: 0, run: ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no Out Mail run in {trace:?}"));
    cmd(
        &mut s,
        80,
        SchedulerCommand::OutMailDone { conn: 0, run },
        &mut trace,
    );
    stray(&mut s, 81);
    trace
}

#[test]
fn scheduler_ignores_answers_nobody_asked_for() {
    let clean = scheduler_run(false);
    assert!(
        clean[0].contains("Dial { conn: 0, attempt: 1 }"),
        "{clean:?}"
    );
    assert!(
        clean[2].contains("Dial { conn: 0, attempt: 2 }"),
        "{clean:?}"
    );
    assert!(clean[4].contains("HangUp"), "{clean:?}");
    assert_eq!(scheduler_run(true), clean);
}

#[test]
fn scheduler_timeouts_before_the_deadline_and_earlier_times_change_nothing() {
    let mut c = dialup();
    c.dial_timeout = secs(1000);
    let mut s = Scheduler::new(at(0, 0), Setup::with_connections(vec![c]));
    connect_now(&mut s, at(0, 0));
    // Before the dial's deadline: nothing happens.
    s.handle_timeout(at(100, 0));
    let (events, wait) = s.drain();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(wait.map(mono_secs), Some(1000));
    // The dial's answer comes with a `now` from before the last one seen.
    let wait = dial_fails(&mut s, at(50, 0), 1);
    assert_eq!(
        wait.map(mono_secs),
        Some(160),
        "the retry counts from the latest now"
    );
    for t in [159, 20, 0] {
        s.handle_timeout(at(t, 0));
        let (events, again) = s.drain();
        assert!(events.is_empty(), "timeout at {t}: {events:?}");
        assert_eq!(again, wait);
    }
    s.handle_timeout(at(160, 0));
    let (events, _) = s.drain();
    assert!(events.contains(&Action::Dial {
        conn: 0,
        attempt: 2
    }));
}

// ----- the outbound queue ---------------------------------------------------------------

fn queue_strays() -> Vec<QueueCommand> {
    let report = TxReport {
        job: "m1#1".into(),
        recipients: vec![(
            "bob@remote.test".into(),
            RcptOutcome::Delivered(Reply::new(250, "2.0.0 ok")),
        )],
        dsn_passed: false,
    };
    vec![
        QueueCommand::Ready { session: 999 },
        QueueCommand::Finished {
            session: 999,
            report,
        },
        QueueCommand::Ended {
            session: 999,
            established: true,
            permanent: true,
            error: None,
        },
        QueueCommand::Forget("no-such-entry".into()),
    ]
}

/// Two messages, a temporary failure, the retry, then delivery; with `strays`, every
/// stray answer is given between steps.
fn queue_run(strays: bool) -> Vec<String> {
    let mut d = QueueDriver::new(at(0, 0), queue_setup(true));
    let retry = d.q.setup().retry.as_secs();
    let mut trace = Vec::new();
    let stray = |d: &mut QueueDriver, t: u64| {
        if strays {
            for n in queue_strays() {
                let before = d.log.len();
                d.command(at(t, 0), n);
                assert_eq!(d.log.len(), before, "a stray answer at {t}: {:?}", d.log);
            }
        }
    };
    let mut record = |d: &mut QueueDriver, wake: Option<Instant>| {
        let log: Vec<String> = d
            .log
            .drain(..)
            .map(|(t, a)| format!("{} {a:?}", mono_secs(t)))
            .collect();
        trace.push(format!("{log:?} wait {:?}", wake.map(mono_secs)));
    };
    stray(&mut d, 0);
    let w = d.command(
        at(0, 0),
        QueueCommand::Load(Box::new(message("m1", at(0, 0)))),
    );
    record(&mut d, w);
    stray(&mut d, 1);
    let w = d.command(
        at(2, 0),
        QueueCommand::Load(Box::new(message("m2", at(2, 0)))),
    );
    record(&mut d, w);
    stray(&mut d, 3);
    d.answer = RcptOutcome::Delivered(Reply::new(250, "2.0.0 ok"));
    let w = d.timeout(at(retry + 2, 0));
    record(&mut d, w);
    stray(&mut d, retry + 3);
    trace
}

#[test]
fn queue_ignores_answers_nobody_asked_for() {
    let clean = queue_run(false);
    assert!(clean[0].contains("Send"), "{clean:?}");
    assert!(clean[2].contains("Remove"), "{clean:?}");
    assert_eq!(queue_run(true), clean);
}

#[test]
fn queue_timeouts_before_the_deadline_and_earlier_times_change_nothing() {
    let mut d = QueueDriver::new(at(0, 0), queue_setup(true));
    let retry = d.q.setup().retry.as_secs();
    d.timeout(at(100, 0));
    // Loaded with a `now` from before the last one seen: the retry counts from 100.
    let wait = d.command(
        at(40, 0),
        QueueCommand::Load(Box::new(message("m1", at(40, 0)))),
    );
    assert_eq!(d.sends(), 1);
    assert_eq!(wait.map(mono_secs), Some(100 + retry));
    for t in [100 + retry - 1, 50, 0] {
        let before = d.log.len();
        let again = d.timeout(at(t, 0));
        assert_eq!(
            d.log.len(),
            before,
            "timeout at {t}: {:?}",
            &d.log[before..]
        );
        assert_eq!(again, wait);
    }
    d.timeout(at(100 + retry, 0));
    assert_eq!(d.sends(), 2);
    assert!(d
        .log
        .iter()
        .all(|(_, a)| !matches!(a, QueueAction::Bounce { .. })));
}
