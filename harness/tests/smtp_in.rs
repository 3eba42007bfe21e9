//! Incoming SMTP over a dial-up: waiting for the ISP to connect in, staying online
//! while it delivers, and ETRN both ways (our client, the relay's real SMTP server
//! holding our domain's mail).

mod common;

use common::*;
use mailroom_core::schedule::Target;
use mailroom_harness::localtime::utc;
use mailroom_harness::office::{OfficeSpec, PushMode, Traffic};
use mailroom_harness::wire::Faults;

fn t(h: u32, m: u32) -> mailroom_core::Instant {
    utc(2026, 3, 23, h, m)
}

fn smtp_in(extra_in: &str) -> OfficeSpec {
    let text = format!("{DIALUP}\n[connection.smtp_in]\nwait = \"60s\"\n{extra_in}");
    let mut spec = OfficeSpec::new(config(&text), monday());
    // A slow line: every chunk takes 1 to 2 s, so the ISP's session lasts a while.
    spec.faults = Faults {
        latency: (1_000_000, 2_000_000),
        split: true,
        reset: 0.0,
        refuse: 0.0,
    };
    for _ in 0..3 {
        spec.traffic.push((t(8, 0), Traffic::AtRelay));
    }
    spec.traffic
        .push((t(9, 0), Traffic::Connect(Target::Primary)));
    spec
}

#[test]
fn the_isp_connects_in_after_40s_of_a_60s_wait() {
    let mut spec = smtp_in("");
    spec.push = PushMode::ConnectIn(40);
    let mut o = office(spec);
    o.run_until(t(10, 0));
    let online = o.log.online[0].1;
    assert_eq!(online, t(9, 0) + secs(5));
    assert_eq!(o.log.inbound.len(), 1);
    let (opened, closed) = o.log.inbound[0];
    assert_eq!(opened, online + secs(40));
    let closed = closed.expect("the ISP's session ended");
    // The session outlasted the 60 s wait, and the line stayed up until it ended.
    assert!(
        closed > online + secs(60),
        "session ended at +{}s",
        closed.saturating_since(online).as_secs()
    );
    assert_eq!(o.log.hangups, [(closed, 0)]);
    assert_eq!(o.counts(), (0, 0, 0, 3));
    assert_clean(&mut o);
}

#[test]
fn without_the_isp_the_line_is_held_for_the_wait_only() {
    let mut spec = smtp_in("");
    spec.push = PushMode::Never;
    let mut o = office(spec);
    o.run_until(t(10, 0));
    let online = o.log.online[0].1;
    assert_eq!(o.log.hangups, [(online + secs(60), 0)]);
    assert_eq!(o.counts().1, 3, "the mail is still at the ISP");
    assert_clean(&mut o);
}

#[test]
fn etrn_makes_the_relay_deliver_held_mail() {
    let mut spec = smtp_in("etrn = [\"office.example\"]\n");
    spec.faults = Faults::CLEAN;
    spec.push = PushMode::OnEtrn(10);
    let mut o = office(spec);
    o.run_until(t(10, 0));
    // Our ETRN client against the relay's real SMTP session, which holds our domain:
    // 253 with the number of messages waiting.
    assert_eq!(o.log.etrn.len(), 1);
    assert_eq!(o.log.etrn[0].2, Ok(vec![253]));
    let online = o.log.online[0].1;
    let (opened, closed) = o.log.inbound[0];
    assert!(opened > online && opened < online + secs(15));
    assert!(closed.is_some());
    assert_eq!(o.counts(), (0, 0, 0, 3));
    // Everything done before the wait ran out: the wait ends with the ISP's session.
    assert_eq!(o.log.hangups[0].0, closed.unwrap_or(online));
    assert_clean(&mut o);
}

#[test]
fn etrn_for_a_domain_the_relay_does_not_hold_is_refused_and_the_run_goes_on() {
    let mut spec = smtp_in("etrn = [\"other.example\"]\netrn_host = \"head-office.example:25\"\n");
    spec.faults = Faults::CLEAN;
    spec.push = PushMode::OnEtrn(10);
    let mut o = office(spec);
    o.run_until(t(10, 0));
    assert_eq!(o.log.etrn[0].2, Ok(vec![459]));
    assert!(o.log.inbound.is_empty());
    assert_eq!(o.log.runs.len(), 1);
    assert!(o.log.runs[0].ended.is_some());
    assert_clean(&mut o);
}

#[test]
fn resets_on_the_line_lose_nothing() {
    let mut spec = smtp_in("");
    spec.push = PushMode::ConnectIn(5);
    spec.faults = Faults {
        latency: (10_000, 300_000),
        split: true,
        reset: 0.05,
        refuse: 0.1,
    };
    for h in 10..20 {
        spec.traffic
            .push((t(h, 0), Traffic::Connect(Target::Primary)));
        spec.traffic.push((t(h, 1), Traffic::AtRelay));
    }
    let mut o = office(spec);
    o.run_until(t(23, 0));
    assert_clean(&mut o);
}
