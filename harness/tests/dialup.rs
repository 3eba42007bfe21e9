//! Dialling in virtual time: retries, dial timeout, the failed-dial notice,
//! alternative links, AutoConnect, idle hang-up, hooks, priority messages, sending
//! while online and the manual triggers.

mod common;

use common::*;
use mailroom_core::schedule::{Hook, Outcome, Reason, RunKind, Target};
use mailroom_harness::localtime::utc;
use mailroom_harness::office::{DialOutcome, OfficeSpec, Traffic, UpstreamPolicy};

fn t(h: u32, m: u32) -> mailroom_core::Instant {
    utc(2026, 3, 23, h, m)
}

fn dialup(extra: &str) -> OfficeSpec {
    OfficeSpec::new(config(&format!("{DIALUP}{extra}")), monday())
}

/// The dial-up connection with more keys in its own table.
fn dialup_with(keys: &str, extra: &str) -> OfficeSpec {
    OfficeSpec::new(dialup_config(keys, extra), monday())
}

#[test]
fn a_dial_that_fails_twice_then_succeeds() {
    let mut spec = dialup_with("dial_retries = 2\nretry_interval = \"1m\"", "");
    spec.links[0].script = vec![
        DialOutcome::Fail(10),
        DialOutcome::Fail(10),
        DialOutcome::Up(10),
    ];
    spec.traffic
        .push((t(9, 0), Traffic::Connect(Target::Named("isp".into()))));
    spec.traffic
        .push((t(8, 0), Traffic::Outgoing { priority: false }));
    let mut o = office(spec);
    o.run_until(t(10, 0));
    let dials: Vec<_> = o
        .log
        .dials
        .iter()
        .map(|d| (d.0.saturating_since(t(9, 0)).as_secs(), d.2))
        .collect();
    assert_eq!(dials, [(0, 1), (70, 2), (140, 3)]);
    assert_eq!(o.log.runs.len(), 1);
    assert_eq!(
        o.log.runs[0].ended.as_ref().map(|e| e.1.clone()),
        Some(Outcome::Done)
    );
    assert_eq!(o.log.online[0].1.saturating_since(t(9, 0)).as_secs(), 150);
    // The queued message went out once the link was up.
    assert_eq!(o.counts().0, 0);
    assert!(o.log.notices.is_empty());
    assert_clean(&mut o);
}

#[test]
fn the_dial_timeout_cancels_a_dial_that_hangs() {
    let mut spec = dialup("");
    spec.links[0].script = vec![DialOutcome::Hang, DialOutcome::Up(5)];
    spec.traffic
        .push((t(9, 0), Traffic::Connect(Target::Primary)));
    let mut o = office(spec);
    o.run_until(t(10, 0));
    let dials = dial_secs(&o, t(9, 0));
    // Timeout 1 min, then the retry interval of 1 min.
    assert_eq!(dials, [0, 120]);
    assert!(o.trace.lines().iter().any(|l| l.contains("CancelDial")));
    assert_eq!(
        o.log.runs[0].ended.as_ref().map(|e| e.1.clone()),
        Some(Outcome::Done)
    );
    assert_clean(&mut o);
}

#[test]
fn four_failed_dials_tell_the_administrator_once() {
    let mut spec = dialup("");
    spec.links[0].fail = 1.0;
    for h in [9, 10, 11] {
        spec.traffic
            .push((t(h, 0), Traffic::Connect(Target::Primary)));
    }
    let mut o = office(spec);
    o.run_until(t(12, 0));
    // Three runs of two attempts (dial_retries = 1): six failed dials, one notice.
    assert_eq!(o.log.dials.len(), 6);
    assert_eq!(o.log.notices.len(), 1);
    assert_eq!(o.log.notices[0].2, 4);
    // The fourth failure: the 10:00 run's retry, dialled at 10:01:05.
    assert_eq!(o.log.notices[0].0, t(10, 1) + secs(10));
    assert!(o
        .log
        .runs
        .iter()
        .all(|r| matches!(r.ended, Some((_, Outcome::DialFailed(_))))));
    assert_clean(&mut o);
}

#[test]
fn an_alternative_link_that_is_up_is_used_instead_of_dialling() {
    let isdn = r#"
[[connection]]
name = "isdn"
link = "command"
up = "isdnctrl dial"
down = "isdnctrl hangup"
check = "isdnctrl status"
primary = false
"#;
    let mut spec = dialup_with("alternatives = [\"isdn\"]", isdn);
    spec.links[1].external = vec![(t(9, 0), t(10, 0))];
    spec.traffic
        .push((t(9, 30), Traffic::Connect(Target::Named("ISP".into()))));
    spec.traffic
        .push((t(11, 0), Traffic::Connect(Target::Named("isp".into()))));
    let mut o = office(spec);
    o.run_until(t(12, 0));
    // 09:30 over the ISDN link someone else brought up; 11:00 dials its own.
    assert_eq!(o.log.dials.len(), 1);
    assert_eq!(o.log.dials[0].0, t(11, 0) + secs(1));
    assert_eq!(o.log.hangups.len(), 1);
    assert_eq!(o.log.runs.len(), 2);
    assert_clean(&mut o);
}

fn autoconnect(once: bool) -> OfficeSpec {
    let mut spec = dialup_with(
        &format!("check = \"ip link show ppp0\"\nautoconnect = true\nautoconnect_once = {once}\nautoconnect_every = \"5m\""),
        "",
    );
    spec.links[0].external = vec![(t(10, 2), t(10, 31)), (t(11, 0), t(11, 10))];
    spec
}

#[test]
fn autoconnect_once_per_link_session() {
    let mut o = office(autoconnect(true));
    o.run_until(t(12, 0));
    let times = runs(&o, |r| (r.local.clone(), r.reason.clone()));
    assert_eq!(
        times,
        [
            ("2026-03-23 10:05:01".to_string(), Reason::AutoConnect),
            ("2026-03-23 11:00:01".to_string(), Reason::AutoConnect),
        ]
    );
    // Someone else's link is never dialled or hung up by us.
    assert!(o.log.dials.is_empty() && o.log.hangups.is_empty());
    assert_clean(&mut o);
}

#[test]
fn autoconnect_every_period_while_the_link_is_up() {
    let mut o = office(autoconnect(false));
    o.run_until(t(12, 0));
    let times = runs(&o, |r| r.local[11..16].to_string());
    assert_eq!(
        times,
        ["10:05", "10:10", "10:15", "10:20", "10:25", "10:30", "11:00", "11:05"]
    );
    assert_clean(&mut o);
}

#[test]
fn idle_hang_up_and_sending_while_online() {
    let mut spec = dialup_with("idle_hangup = \"5m\"", "");
    spec.in_mails = vec![("isp-box".into(), vec![])];
    spec.traffic = vec![
        (t(9, 0), Traffic::Connect(Target::Primary)),
        (t(9, 2), Traffic::Outgoing { priority: false }),
        (t(9, 20), Traffic::Outgoing { priority: false }),
    ];
    let mut o = office(spec);
    o.run_until(t(10, 0));
    let runs = runs(&o, |r| {
        (r.local[11..].to_string(), r.kind, r.reason.clone())
    });
    // The 09:02 message goes out at once over the idle link, without collecting mail;
    // the 09:20 one waits (the link was hung up at 09:07).
    assert_eq!(
        runs,
        [
            ("09:00:00".to_string(), RunKind::Full, Reason::Manual),
            ("09:02:00".to_string(), RunKind::Send, Reason::Queued),
        ]
    );
    assert_eq!(o.log.inmail_runs.len(), 1);
    assert_eq!(o.log.dials.len(), 1);
    // Five minutes after the send run ended (its SMTP exchange took a moment).
    assert_eq!(o.log.hangups.len(), 1);
    let (at, _) = o.log.hangups[0];
    assert!(at > t(9, 7) && at < t(9, 7) + secs(2), "{at:?}");
    assert_eq!(o.counts().0, 1);
    assert_clean(&mut o);
}

#[test]
fn lan_offices_send_at_once_without_collecting() {
    let text = "[[connection]]\nname = \"office-lan\"\nlink = \"lan\"\n[connection.outmail]\nmethod = \"direct\"\n";
    let mut spec = OfficeSpec::new(config(text), monday());
    spec.in_mails = vec![("box".into(), vec![])];
    spec.traffic = vec![
        (t(9, 0), Traffic::Outgoing { priority: false }),
        (t(9, 1), Traffic::Outgoing { priority: false }),
    ];
    let mut o = office(spec);
    o.run_until(t(10, 0));
    assert_eq!(o.log.runs.len(), 2);
    assert!(o.log.runs.iter().all(|r| r.kind == RunKind::Send));
    assert!(o.log.inmail_runs.is_empty() && o.log.dials.is_empty());
    assert_eq!(o.counts().0, 0);
    assert_clean(&mut o);
}

#[test]
fn hooks_run_with_the_connection_number() {
    let extra = r#"
[[connection]]
name = "backup"
link = "command"
up = "pon backup"
down = "poff backup"
primary = false

[connect]
post_connect = "/usr/local/bin/after-connect"
pre_disconnect = "/usr/local/bin/before-disconnect"
"#;
    let mut spec = dialup(extra);
    spec.traffic.push((t(9, 0), Traffic::Connect(Target::All)));
    let mut o = office(spec);
    o.run_until(t(10, 0));
    let mut hooks: Vec<_> = o.log.hooks.iter().map(|h| (h.1, h.2)).collect();
    hooks.sort_by_key(|h| (h.0, h.1 == Hook::PreDisconnect));
    assert_eq!(
        hooks,
        [
            (1, Hook::PostConnect),
            (1, Hook::PreDisconnect),
            (2, Hook::PostConnect),
            (2, Hook::PreDisconnect)
        ]
    );
    // Each hang-up comes after its pre-disconnect hook finished.
    for (at, conn) in &o.log.hangups {
        let pre = o
            .log
            .hooks
            .iter()
            .find(|h| h.1 == *conn as u32 + 1 && h.2 == Hook::PreDisconnect)
            .map(|h| h.0);
        assert_eq!(pre.map(|p| p + secs(1)), Some(*at));
    }
    assert_clean(&mut o);
}

#[test]
fn an_urgent_message_connects_at_once() {
    let mut spec =
        dialup("\n[connect]\npriority_connect = true\n\n[[schedule]]\nat = [\"18:00\"]\n");
    spec.traffic = vec![
        (t(9, 0), Traffic::Outgoing { priority: false }),
        (t(10, 0), Traffic::Outgoing { priority: true }),
    ];
    let mut o = office(spec);
    o.run_until(t(12, 0));
    assert_eq!(o.log.runs.len(), 1);
    assert_eq!(o.log.runs[0].reason, Reason::Priority);
    assert_eq!(o.log.runs[0].started, t(10, 0));
    // Both the waiting message and the urgent one went.
    assert_eq!(o.counts().0, 0);
    assert_clean(&mut o);
}

#[test]
fn connect_targets_and_unknown_names() {
    let extra = "\n[[connection]]\nname = \"lan2\"\nprimary = false\n";
    let mut spec = dialup(extra);
    spec.traffic = vec![
        (t(9, 0), Traffic::Connect(Target::Primary)),
        (t(10, 0), Traffic::Connect(Target::All)),
        (t(11, 0), Traffic::Connect(Target::Named("lan2".into()))),
        (t(12, 0), Traffic::Connect(Target::Named("nope".into()))),
    ];
    let mut o = office(spec);
    o.run_until(t(13, 0));
    let runs = runs(&o, |r| (r.local[11..13].to_string(), r.conn));
    assert_eq!(
        runs,
        [
            ("09".to_string(), 0),
            ("10".to_string(), 0),
            ("10".to_string(), 1),
            ("11".to_string(), 1)
        ]
    );
    assert_eq!(o.log.rejected, [4]);
    assert_clean(&mut o);
}

#[test]
fn a_greylisting_mx_and_one_that_answers_4xx_for_hours() {
    let sched = "\n[[schedule]]\nevery = \"30m\"\nfrom = \"08:00\"\nto = \"12:00\"\n";
    let mut spec = dialup(sched);
    spec.upstream = UpstreamPolicy::Greylist(20 * 60);
    spec.traffic = vec![
        (t(7, 0), Traffic::Outgoing { priority: false }),
        (t(7, 1), Traffic::Outgoing { priority: false }),
    ];
    let mut o = office(spec);
    o.run_until(t(8, 10));
    assert_eq!(o.counts().0, 2, "greylisted at 08:00");
    o.run_until(t(8, 40));
    assert_eq!(
        o.counts().0,
        0,
        "accepted at 08:30, 20 minutes after the first try"
    );
    assert_clean(&mut o);

    let mut spec = dialup(sched);
    spec.upstream = UpstreamPolicy::TempFailUntil(t(10, 45));
    spec.traffic = vec![(t(7, 0), Traffic::Outgoing { priority: false })];
    let mut o = office(spec);
    o.run_until(t(10, 40));
    assert_eq!(o.counts().0, 1, "4xx all morning");
    assert_eq!(o.log.outmail_runs.len(), 6);
    o.run_until(t(11, 10));
    assert_eq!(o.counts().0, 0, "sent at 11:00");
    assert_clean(&mut o);
}

#[test]
fn a_link_that_drops_mid_run_is_not_hung_up_and_nothing_is_lost() {
    let mut spec = dialup("");
    spec.in_mails = vec![("isp-box".into(), vec![])];
    spec.pop3_secs = (60, 60);
    spec.links[0].drop_per_hour = 60.0;
    for _ in 0..5 {
        spec.traffic.push((t(8, 0), Traffic::AtPop3));
    }
    spec.traffic
        .push((t(9, 0), Traffic::Connect(Target::Primary)));
    spec.traffic
        .push((t(10, 0), Traffic::Connect(Target::Primary)));
    spec.traffic
        .push((t(11, 0), Traffic::Connect(Target::Primary)));
    let mut o = office(spec);
    o.run_until(t(12, 0));
    assert!(o.trace.lines().iter().any(|l| l.contains("LinkLost")));
    assert_clean(&mut o);
}
