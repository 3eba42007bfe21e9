//! A wall-clock jump of ±1 hour neither fires nor starves a timer (issue 11 item 3,
//! docs/ARCHITECTURE.md "Time"): the monotonic reading advances normally while the
//! wall reading is set forward or back, and idle timeouts, retry timers, the 4-hour
//! delay warning and dial retries keep to the monotonic line. Schedules in local time
//! follow the wall clock by the clock-change rule (docs/SCHEDULE.md).

mod agent_support;

use agent_support::*;
use mailroom_core::access::AccessFiles;
use mailroom_core::accounts::Accounts;
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_core::outbound::{QueueAction, QueueCommand};
use mailroom_core::pop3::{Pop3Info, Pop3Server};
use mailroom_core::schedule::{Action, Scheduler, Setup};
use mailroom_core::smtp::{SessionInfo, SmtpServer};
use mailroom_core::{Agent, Input, Instant, Machine, Output};
use std::sync::Arc;

const JUMPS: [i64; 2] = [HOUR, -HOUR];

fn snapshot() -> Arc<Snapshot> {
    let config = parse_config(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    Arc::new(Snapshot {
        config,
        accounts: Accounts::new([]),
        access: AccessFiles::default(),
    })
}

/// Drain a session that should raise no event: (bytes written, closed, deadline).
fn drain<M: Machine>(m: &mut M) -> (String, bool, Option<Instant>) {
    let mut out = Vec::new();
    let mut closed = false;
    loop {
        if closed {
            return (String::from_utf8_lossy(&out).into_owned(), closed, None);
        }
        match m.poll_output(&mut out) {
            Output::Wait(w) => return (String::from_utf8_lossy(&out).into_owned(), closed, w),
            // Once closed the session is finished: nothing more to drain.
            Output::Close => closed = true,
            Output::StartTls => panic!("no TLS here"),
            Output::Event(_) => panic!("no event expected"),
        }
    }
}

/// Open a session at `at(0, 0)`, tick it just before its idle deadline and at it,
/// with the wall clock set by `jump` in between.
fn idle_timeout_keeps_to_the_monotonic_clock<M: Machine>(
    mut m: M,
    idle: u64,
    jump: i64,
    closing_reply: &str,
) {
    let (greeting, closed, wait) = drain(&mut m);
    assert!(!greeting.is_empty() && !closed);
    assert_eq!(wait.map(mono_secs), Some(idle));
    m.handle_input(at(idle - 1, jump), Input::Tick);
    let (out, closed, wait) = drain(&mut m);
    assert_eq!((out.as_str(), closed), ("", false), "jump {jump}: early");
    assert_eq!(
        wait.map(mono_secs),
        Some(idle),
        "jump {jump}: deadline moved"
    );
    m.handle_input(at(idle, jump), Input::Tick);
    let (out, closed, _) = drain(&mut m);
    assert!(out.starts_with(closing_reply), "jump {jump}: {out}");
    assert!(closed, "jump {jump}: starved");
}

#[test]
fn smtp_idle_timeout() {
    for jump in JUMPS {
        let info = SessionInfo {
            peer_ip: "192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}")),
            session_id: "j1".into(),
            tls_active: false,
            tls_available: false,
            pop_before_smtp: false,
            local_offset_secs: 0,
        };
        let idle = u64::from(snapshot().config.smtp.idle_timeout_secs);
        let m = SmtpServer::new(at(0, 0), snapshot(), info);
        idle_timeout_keeps_to_the_monotonic_clock(m, idle, jump, "421 ");
    }
}

#[test]
fn pop3_idle_timeout() {
    for jump in JUMPS {
        let info = Pop3Info {
            peer_ip: "192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}")),
            session_id: "j1".into(),
            tls_active: false,
            tls_available: false,
        };
        let idle = u64::from(snapshot().config.pop3.idle_timeout_secs);
        let m = Pop3Server::new(at(0, 0), snapshot(), info);
        idle_timeout_keeps_to_the_monotonic_clock(m, idle, jump, "-ERR");
    }
}

#[test]
fn outbound_retry_timer() {
    for jump in JUMPS {
        let mut d = QueueDriver::new(at(0, 0), queue_setup(true));
        let retry = d.q.setup().retry.as_secs();
        let wake = d.command(
            at(0, 0),
            QueueCommand::Load(Box::new(message("m1", at(0, 0)))),
        );
        assert_eq!(d.sends(), 1, "the first attempt goes at once");
        assert_eq!(wake.map(mono_secs), Some(retry));
        // The wall clock is set; the retry stays where it was on the monotonic line.
        d.timeout(at(retry - 1, jump));
        assert_eq!(d.sends(), 1, "jump {jump}: retried early");
        d.timeout(at(retry, jump));
        assert_eq!(d.sends(), 2, "jump {jump}: retry starved");
    }
}

#[test]
fn outbound_delay_warning_after_four_hours() {
    for jump in JUMPS {
        // No automatic runs: nothing but the warning and the expiry is due.
        let mut d = QueueDriver::new(at(0, 0), queue_setup(false));
        let warn = d.q.setup().warn_after.as_secs();
        assert_eq!(warn, 4 * 3600);
        let wake = d.command(
            at(0, 0),
            QueueCommand::Load(Box::new(message("m1", at(0, 0)))),
        );
        assert_eq!(wake.map(mono_secs), Some(warn));
        d.timeout(at(warn - 1, jump));
        assert_eq!(d.warnings(), 0, "jump {jump}: warned early");
        d.timeout(at(warn, jump));
        assert_eq!(d.warnings(), 1, "jump {jump}: warning starved");
    }
}

/// A message whose queue stamps come back from disk after a restart (anchored to the
/// current reading) still warns four hours after it arrived by the wall clock it was
/// written with.
#[test]
fn outbound_warning_for_a_message_read_back_from_disk() {
    for jump in JUMPS {
        // Restart one hour after arrival, with a new monotonic epoch (a day after boot)
        // and the wall clock already set by `jump` (so it reads arrival + 1 h + jump).
        let now = Instant::from_readings(86_400_000_000, (T0 + 3600) * 1_000_000)
            .jump_wall(jump * 1_000_000);
        let arrival = Instant::from_unix_secs(T0, now);
        let mut d = QueueDriver::new(now, queue_setup(false));
        let wake = d.command(now, QueueCommand::Load(Box::new(message("m1", arrival))));
        let left = wake.map(|w| w.saturating_since(now).as_secs());
        let expected = i64::from(3 * 3600) - jump;
        assert_eq!(
            left,
            Some(u64::try_from(expected).unwrap_or(0)),
            "jump {jump}"
        );
    }
}

#[test]
fn scheduler_dial_retry() {
    for jump in JUMPS {
        let mut s = Scheduler::new(at(0, 0), Setup::with_connections(vec![dialup()]));
        let a = connect_now(&mut s, at(0, 0));
        assert!(
            a.contains(&Action::Dial {
                conn: 0,
                attempt: 1
            }),
            "{a:?}"
        );
        let wait = dial_fails(&mut s, at(10, 0), 1);
        assert_eq!(wait.map(mono_secs), Some(70));
        s.handle_timeout(at(69, jump));
        let (a, wait) = s.drain();
        assert!(a.is_empty(), "jump {jump}: {a:?}");
        assert_eq!(wait.map(mono_secs), Some(70));
        s.handle_timeout(at(70, jump));
        let (a, _) = s.drain();
        assert!(
            a.contains(&Action::Dial {
                conn: 0,
                attempt: 2
            }),
            "jump {jump}: {a:?}"
        );
    }
}

/// The 09:00 slot follows the wall clock: set forward from 08:30 to 09:30 it is jumped
/// over (`clock_change = "next"`); set back to 07:30 it comes at 09:00 by the new wall
/// clock, 2½ hours of monotonic time later.
#[test]
fn a_schedule_in_local_time_follows_the_wall_clock() {
    let h = 3600;
    for jump in JUMPS {
        let mut s = Scheduler::new(at(8 * h, 0), scheduled_setup());
        s.handle_command(at(8 * h, 0), clock(at(8 * h, 0)));
        let (a, wait) = s.drain();
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(wait.map(mono_secs), Some(9 * h));
        // At 08:30 somebody sets the clock.
        let now = at(8 * h + 1800, jump);
        s.handle_command(now, clock(now));
        let (a, wait) = s.drain();
        assert!(
            a.contains(&Action::ClockChanged {
                by_secs: jump,
                caught_up: false
            }),
            "jump {jump}: {a:?}"
        );
        if jump > 0 {
            assert!(
                a.iter()
                    .any(|x| matches!(x, Action::Skipped { conn: 0, .. })),
                "{a:?}"
            );
            assert!(!a.iter().any(|x| matches!(x, Action::Dial { .. })), "{a:?}");
            // Next: 09:00 tomorrow by the wall clock.
            assert_eq!(wait.map(mono_secs), Some(8 * h + 24 * h));
        } else {
            assert!(!a.iter().any(|x| matches!(x, Action::Dial { .. })), "{a:?}");
            assert_eq!(wait.map(mono_secs), Some(10 * h));
            let before = at(10 * h - 1, jump);
            s.handle_command(before, clock(before));
            let (a, _) = s.drain();
            assert!(!a.iter().any(|x| matches!(x, Action::Dial { .. })), "{a:?}");
            let then = at(10 * h, jump);
            s.handle_timeout(then);
            s.handle_command(then, clock(then));
            let (a, _) = s.drain();
            assert!(
                a.contains(&Action::Dial {
                    conn: 0,
                    attempt: 1
                }),
                "{a:?}"
            );
        }
    }
}

#[test]
fn queue_actions_are_what_the_tests_above_count() {
    // Guard against a renamed action silently making the counts above zero.
    let mut d = QueueDriver::new(at(0, 0), queue_setup(true));
    d.command(
        at(0, 0),
        QueueCommand::Load(Box::new(message("m1", at(0, 0)))),
    );
    assert!(d
        .log
        .iter()
        .any(|(_, a)| matches!(a, QueueAction::Open { .. })));
}
