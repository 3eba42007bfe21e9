//! Schedules in virtual time: a week of fixed times and interval windows, DST both
//! ways under both clock-change rules, a clock-sync program, and the §6.5.1 modifiers.

mod common;

use common::*;
use mailroom_core::schedule::{Reason, RunKind, Target};
use mailroom_harness::localtime::{utc, LocalClock};
use mailroom_harness::office::{OfficeSpec, Traffic};

const WEEK_SCHEDULES: &str = r#"
[[schedule]]
name = "morning and lunch"
days = ["weekdays"]
at = ["09:00", "13:00"]

[[schedule]]
name = "office hours"
days = ["mon", "wed"]
every = "2h"
from = "10:00"
to = "16:00"

[[schedule]]
name = "weekend"
days = ["weekend"]
at = ["12:00"]
"#;

#[test]
fn a_week_of_fixed_times_and_interval_windows() {
    let cfg = config(&format!("{DIALUP}{WEEK_SCHEDULES}"));
    let mut o = office(OfficeSpec::new(cfg, monday()));
    o.run_until(utc(2026, 3, 30, 0, 0));
    let busy = ["09:00", "10:00", "12:00", "13:00", "14:00", "16:00"];
    let quiet = ["09:00", "13:00"];
    let mut want = Vec::new();
    for (day, times) in [
        (23, &busy[..]),
        (24, &quiet[..]),
        (25, &busy[..]),
        (26, &quiet[..]),
        (27, &quiet[..]),
        (28, &["12:00"][..]),
        (29, &["12:00"][..]),
    ] {
        for t in times {
            want.push(format!("2026-03-{day} {t}:00"));
        }
    }
    assert_eq!(o.log.full_run_times(0), want);
    // Each run dialled once, went online, and hung up.
    assert_eq!(o.log.dials.len(), want.len());
    assert_eq!(o.log.hangups.len(), want.len());
    assert!(o
        .log
        .runs
        .iter()
        .all(|r| matches!(r.reason, Reason::Schedule(_))));
    assert!(!o.dialled_up(0));
    assert_clean(&mut o);
}

fn dst_office(mode: &str, at: &str) -> mailroom_harness::office::Office {
    let cfg = config(&format!(
        "{DIALUP}\n[connect]\nclock_change = \"{mode}\"\n\n[[schedule]]\nat = [{at}]\n"
    ));
    let mut spec = OfficeSpec::new(cfg, utc(2026, 3, 28, 0, 0));
    spec.clock = LocalClock::central_europe_2026();
    office(spec)
}

const NIGHT: &str = r#""01:30", "02:30", "03:00", "03:30""#;

#[test]
fn dst_forward_skips_the_missing_hour_by_default() {
    let mut o = dst_office("next", NIGHT);
    // Local midnight of the 30th (UTC+2 by then).
    o.run_until(utc(2026, 3, 29, 22, 0));
    let times = o.log.full_run_times(0);
    // The 28th has all four; on the 29th 02:30 never happens on the wall clock.
    assert_eq!(
        times,
        [
            "2026-03-28 01:30:00",
            "2026-03-28 02:30:00",
            "2026-03-28 03:00:00",
            "2026-03-28 03:30:00",
            "2026-03-29 01:30:00",
            "2026-03-29 03:00:00",
            "2026-03-29 03:30:00",
        ]
    );
    assert_eq!(o.log.skipped.len(), 1, "{:?}", o.log.skipped);
    assert_eq!(o.log.clock_changes[0].1, 3600);
    assert_clean(&mut o);
}

#[test]
fn dst_forward_with_check_connects_once_for_the_jumped_time() {
    let mut o = dst_office("check", r#""02:30", "04:00""#);
    o.run_until(utc(2026, 3, 30, 0, 0));
    let day29: Vec<_> = o
        .log
        .runs
        .iter()
        .filter(|r| r.local.starts_with("2026-03-29"))
        .map(|r| (r.local.clone(), r.reason.clone()))
        .collect();
    assert_eq!(
        day29,
        [
            ("2026-03-29 03:00:00".to_string(), Reason::ClockCatchUp),
            (
                "2026-03-29 04:00:00".to_string(),
                Reason::Schedule("schedule 1".into())
            ),
        ]
    );
    assert!(o.log.skipped.is_empty());
    assert_clean(&mut o);
}

#[test]
fn dst_back_never_runs_a_wall_clock_time_twice() {
    for mode in ["next", "check"] {
        let cfg = config(&format!(
            "{DIALUP}\n[connect]\nclock_change = \"{mode}\"\n\n[[schedule]]\nat = [{NIGHT}]\n"
        ));
        let mut spec = OfficeSpec::new(cfg, utc(2026, 10, 24, 12, 0));
        spec.clock = LocalClock::central_europe_2026();
        let mut o = office(spec);
        o.run_until(utc(2026, 10, 26, 0, 0));
        let times = o.log.full_run_times(0);
        assert_eq!(
            times,
            [
                "2026-10-25 01:30:00",
                "2026-10-25 02:30:00",
                "2026-10-25 03:00:00",
                "2026-10-25 03:30:00",
            ],
            "mode {mode}"
        );
        // 03:00 comes an hour after 02:30 in real time: the repeated hour is not rerun.
        let starts: Vec<_> = o
            .log
            .runs
            .iter()
            .map(|r| r.started.mono_micros() / 1_000_000)
            .collect();
        assert_eq!(starts[2] - starts[1], 5400, "mode {mode}");
        assert_eq!(o.log.clock_changes[0].1, -3600);
        assert_clean(&mut o);
    }
}

#[test]
fn a_clock_sync_jump_over_a_slot_follows_the_rule() {
    for (mode, runs) in [("next", 0), ("check", 1)] {
        let cfg = config(&format!(
            "{DIALUP}\n[connect]\nclock_change = \"{mode}\"\n\n[[schedule]]\nat = [\"09:00\"]\n"
        ));
        let mut spec = OfficeSpec::new(cfg, monday());
        // A time-sync program moves a slow clock 30 s forward, over 09:00.
        spec.clock.jump(utc(2026, 3, 23, 8, 59) + secs(45), 30);
        let mut o = office(spec);
        o.run_until(utc(2026, 3, 23, 12, 0));
        assert_eq!(o.log.runs.len(), runs, "mode {mode}");
        assert_clean(&mut o);
    }
}

#[test]
fn skip_if_connected_recently() {
    let cfg = config(&format!(
        "{DIALUP}\n[connect]\nskip_if_connected_within = \"30m\"\n\n[[schedule]]\nat = [\"09:00\", \"09:30\"]\n"
    ));
    let mut spec = OfficeSpec::new(cfg, monday());
    spec.traffic
        .push((utc(2026, 3, 23, 8, 50), Traffic::Connect(Target::Primary)));
    let mut o = office(spec);
    o.run_until(utc(2026, 3, 23, 12, 0));
    let runs: Vec<_> = o
        .log
        .runs
        .iter()
        .map(|r| (r.local.clone(), r.reason.clone()))
        .collect();
    assert_eq!(
        runs,
        [
            ("2026-03-23 08:50:00".to_string(), Reason::Manual),
            (
                "2026-03-23 09:30:00".to_string(),
                Reason::Schedule("schedule 1".into())
            ),
        ]
    );
    assert_eq!(o.log.skipped.len(), 1);
    assert!(o.log.skipped[0].2.contains("connected"));
    assert_clean(&mut o);
}

#[test]
fn enough_different_users_checking_mail_brings_a_connection() {
    let cfg = config(&format!(
        "{DIALUP}\n[connect]\nusers_checked = 2\nusers_checked_within = \"10m\"\n"
    ));
    let mut spec = OfficeSpec::new(cfg, monday());
    let t = |h, m| utc(2026, 3, 23, h, m);
    spec.traffic = vec![
        (t(20, 0), Traffic::UserChecks("alice".into())),
        (t(20, 1), Traffic::UserChecks("Alice".into())),
        (t(20, 5), Traffic::UserChecks("bob".into())),
        // After the connection the count starts again: one user is not enough.
        (t(20, 30), Traffic::UserChecks("alice".into())),
    ];
    let mut o = office(spec);
    o.run_until(t(23, 0));
    let runs: Vec<_> = o
        .log
        .runs
        .iter()
        .map(|r| (r.local.clone(), r.reason.clone(), r.kind))
        .collect();
    assert_eq!(
        runs,
        [(
            "2026-03-23 20:15:00".to_string(),
            Reason::UsersChecked,
            RunKind::Full
        )]
    );
    assert_clean(&mut o);
}
