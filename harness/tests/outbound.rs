//! Outbound delivery scenarios in virtual time: the real queue and SMTP client against
//! scripted relays, MX hosts and DNS (harness/src/outbound). Each scenario also keeps
//! every invariant of the sweep (checked after every event).

use mailroom_core::Instant;
use mailroom_harness::outbound::dns_peer::DnsFault;
use mailroom_harness::outbound::random::{config, Policy, RELAYS};
use mailroom_harness::outbound::smtp_peer::HostSpec;
use mailroom_harness::outbound::{OutMail, OutSpec, OutWorld};
use std::time::Duration;

const T0: Instant = Instant::from_secs(1_767_225_600);
const MIN: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;
const BOB: &str = "bob@far0.example";

fn at(secs: u64) -> Instant {
    T0 + Duration::from_secs(secs)
}

/// One mail to `to` at T0, sent by `policy`, the relays and far0.example's one MX host
/// as `hosts` says (by default they take everything).
fn world(policy: Policy, to: &str, hosts: &dyn Fn(&mut HostSpec)) -> OutSpec {
    let mut spec = OutSpec::new(config(&policy), T0);
    spec.run_every = policy.run_every.map(|m| Duration::from_secs(m * MIN));
    for name in RELAYS.iter().chain(&["mx1.far0.example"]) {
        let mut h = HostSpec::accepting(name);
        hosts(&mut h);
        spec.hosts.push(h);
    }
    spec.dns
        .mx
        .insert("far0.example".into(), vec![(10, "mx1.far0.example".into())]);
    spec.mails.push((
        T0,
        OutMail {
            recipients: vec![to.to_string()],
        },
    ));
    spec
}

fn run(spec: OutSpec, secs: u64) -> OutWorld {
    let mut w = OutWorld::new(spec);
    w.run_until(at(secs));
    w.final_checks();
    assert!(
        w.violations.is_empty(),
        "{}\n{}",
        w.violations.join("\n"),
        w.trace.lines().join("\n")
    );
    w
}

fn secs_after_t0(t: Instant) -> u64 {
    t.saturating_since(T0).as_secs()
}

#[test]
fn greylisting_delays_then_delivers() {
    let spec = world(Policy::relay(), BOB, &|h| {
        h.greylist = Some(Duration::from_secs(10 * MIN))
    });
    let w = run(spec, DAY);
    let f = w.rcpt(1, BOB).expect("queued");
    assert_eq!(f.attempts, 1, "one 450, then accepted at the retry");
    let acked = secs_after_t0(f.acked.expect("delivered"));
    assert!(
        (15 * MIN..16 * MIN).contains(&acked),
        "delivered at +{acked}s"
    );
    assert_eq!(f.stored.len(), 1);
    assert_eq!(f.stored[0].1, RELAYS[0]);
    assert!(f.bounced.is_none());
    assert!(w
        .mail(1)
        .is_some_and(|m| m.warnings.is_empty() && m.removed.is_some()));
}

#[test]
fn four_xx_for_five_hours_warns_once_then_delivers() {
    let spec = world(Policy::relay(), BOB, &|h| h.temp_until = Some(at(5 * HOUR)));
    let w = run(spec, 2 * DAY);
    let m = w.mail(1).expect("queued");
    assert_eq!(m.warnings.len(), 1, "one delay warning");
    let warned = secs_after_t0(m.warnings[0]);
    assert!(
        (4 * HOUR..4 * HOUR + MIN).contains(&warned),
        "warned at +{warned}s"
    );
    let f = &m.rcpts[BOB];
    let acked = secs_after_t0(f.acked.expect("delivered"));
    assert!(
        (5 * HOUR..5 * HOUR + 16 * MIN).contains(&acked),
        "delivered at +{acked}s"
    );
    assert!(f.attempts >= 19, "{} retries", f.attempts);
    assert!(f.bounced.is_none());
}

#[test]
fn five_xx_bounces_at_once() {
    let spec = world(Policy::relay(), BOB, &|h| h.reject = true);
    let w = run(spec, DAY);
    let f = w.rcpt(1, BOB).expect("queued");
    let (when, status) = f.bounced.clone().expect("bounced");
    assert!(
        secs_after_t0(when) < MIN,
        "bounced at +{}s",
        secs_after_t0(when)
    );
    assert_eq!(status, "5.1.1");
    assert!(f.stored.is_empty() && f.acked.is_none());
    assert_eq!(f.attempts, 0);
    assert!(w.mail(1).is_some_and(|m| m.warnings.is_empty()));
}

#[test]
fn four_xx_for_four_days_bounces_at_three_days() {
    let spec = world(Policy::relay(), BOB, &|h| h.temp_until = Some(at(4 * DAY)));
    let w = run(spec, 5 * DAY);
    let m = w.mail(1).expect("queued");
    assert_eq!(m.warnings.len(), 1);
    let f = &m.rcpts[BOB];
    let (when, status) = f.bounced.clone().expect("bounced");
    let bounced = secs_after_t0(when);
    assert!(
        (3 * DAY..3 * DAY + MIN).contains(&bounced),
        "bounced at +{bounced}s"
    );
    assert!(status.starts_with("4."), "a delay bounce: {status}");
    assert!(f.acked.is_none() && f.stored.is_empty());
    // Every 15 minutes for three days.
    assert!(f.attempts >= 280, "{} attempts", f.attempts);
}

#[test]
fn first_relay_down_fails_over_to_the_second() {
    let spec = world(Policy::relay(), BOB, &|h| {
        if h.name == RELAYS[0] {
            h.down.push((T0, at(10 * DAY)));
        }
    });
    let w = run(spec, HOUR);
    let f = w.rcpt(1, BOB).expect("queued");
    assert!(f.acked.is_some_and(|t| secs_after_t0(t) < MIN));
    assert_eq!(f.stored.len(), 1);
    assert_eq!(f.stored[0].1, RELAYS[1]);
    assert_eq!(w.stats.failed_over, 1);
    assert!(w
        .trace
        .lines()
        .iter()
        .any(|l| l
            .contains("tried [\"relay1.isp.example\", \"relay2.isp.example\"] established true")));
}

#[test]
fn dns_servfail_retries_and_nxdomain_bounces() {
    let mut spec = world(Policy::direct(), BOB, &|_| {});
    spec.dns
        .faults
        .insert("far0.example".into(), DnsFault::ServFail(at(HOUR)));
    let w = run(spec, DAY);
    let f = w.rcpt(1, BOB).expect("queued");
    assert!(f.attempts >= 4, "{} retries", f.attempts);
    let acked = secs_after_t0(f.acked.expect("delivered once the DNS answers"));
    assert!(
        (HOUR..HOUR + 16 * MIN).contains(&acked),
        "delivered at +{acked}s"
    );
    assert_eq!(f.stored[0].1, "mx1.far0.example");

    let nobody = "alice@nowhere.example";
    let mut spec = world(Policy::direct(), nobody, &|_| {});
    spec.dns
        .faults
        .insert("nowhere.example".into(), DnsFault::NxDomain);
    let w = run(spec, DAY);
    let f = w.rcpt(1, nobody).expect("queued");
    let (when, status) = f.bounced.clone().expect("bounced");
    assert!(secs_after_t0(when) < MIN);
    assert!(status.starts_with("5."), "{status}");
    assert_eq!(f.attempts, 0);
}

#[test]
fn silent_dns_times_out_and_retries() {
    let mut spec = world(Policy::direct(), BOB, &|_| {});
    spec.dns
        .faults
        .insert("far0.example".into(), DnsFault::Silent(at(30 * MIN)));
    let w = run(spec, DAY);
    let f = w.rcpt(1, BOB).expect("queued");
    assert!(f.attempts >= 2);
    assert!(f.acked.is_some());
}

/// The host stores the message and drops the connection after its 250 went out: the
/// client read the 250 before the end of input, so the recipient is delivered, once,
/// and the session ends with an error the queue only logs.
#[test]
fn a_drop_after_the_data_reply_delivers_once() {
    let spec = world(Policy::relay(), BOB, &|h| h.drop_after_reply = 1.0);
    let w = run(spec, DAY);
    let f = w.rcpt(1, BOB).expect("queued");
    assert!(f.acked.is_some());
    assert_eq!(f.stored.len(), 1);
    assert_eq!(f.attempts, 0);
    assert_eq!(w.stats.duplicates, 0);
}

/// The host stores the message and drops the connection before its 250 goes out: the
/// client cannot know, reports a temporary failure (4.4.2), and the queue sends again
/// at the retry: the recipient gets the message twice. This is the duplicate RFC 5321
/// §6.1 accepts rather than a loss; it is not silent (the retry is recorded, the sweep
/// counts it), and never happens once a 250 was seen.
#[test]
fn a_drop_before_the_data_reply_is_sent_again_not_lost() {
    let spec = world(Policy::relay(), BOB, &|h| h.drop_before_reply = 1.0);
    let mut w = OutWorld::new(spec);
    w.run_until(at(MIN));
    let relay = w.host(RELAYS[0]).expect("relay");
    relay.borrow_mut().spec.drop_before_reply = 0.0;
    w.run_until(at(DAY));
    w.final_checks();
    assert!(w.violations.is_empty(), "{}", w.violations.join("\n"));
    let f = w.rcpt(1, BOB).expect("queued");
    assert_eq!(f.attempts, 1);
    assert_eq!(f.stored.len(), 2, "stored, then stored again at the retry");
    let acked = secs_after_t0(f.acked.expect("delivered"));
    assert!((15 * MIN..16 * MIN).contains(&acked));
    assert_eq!(w.stats.duplicates, 1);
}

#[test]
fn an_outbound_world_replays_exactly() {
    use mailroom_harness::sweep::run_outbound;
    let seed = (1..100)
        .find(|&s| run_outbound(s, T0, 3, false).stats.retried > 10)
        .expect("a seed with retries");
    let a = run_outbound(seed, T0, 3, true);
    let b = run_outbound(seed, T0, 3, true);
    assert_eq!(a.trace.lines(), b.trace.lines());
    assert_eq!(a.trace.hash(), b.trace.hash());
    assert_eq!(a.stats, b.stats);
    assert_ne!(
        a.trace.hash(),
        run_outbound(seed + 1, T0, 3, false).trace.hash()
    );
}

/// A dial-up Out Mail (no LAN link) sends only when the scheduler runs it: the retry
/// after greylisting waits for the next run, and the warning still comes on time from
/// the queue's own timer.
#[test]
fn a_dial_up_out_mail_retries_at_its_next_run() {
    let policy = Policy {
        run_every: Some(30),
        ..Policy::relay()
    };
    let spec = world(policy, BOB, &|h| {
        h.greylist = Some(Duration::from_secs(10 * MIN))
    });
    let w = run(spec, DAY);
    let f = w.rcpt(1, BOB).expect("queued");
    assert_eq!(f.attempts, 1);
    let acked = secs_after_t0(f.acked.expect("delivered"));
    assert!(
        (30 * MIN..31 * MIN).contains(&acked),
        "delivered at +{acked}s"
    );

    let policy = Policy {
        run_every: Some(6 * 60),
        ..Policy::relay()
    };
    let spec = world(policy, BOB, &|h| h.temp_until = Some(at(5 * HOUR)));
    let w = run(spec, DAY);
    let m = w.mail(1).expect("queued");
    assert_eq!(m.warnings.len(), 1);
    assert!((4 * HOUR..4 * HOUR + MIN).contains(&secs_after_t0(m.warnings[0])));
    let acked = secs_after_t0(m.rcpts[BOB].acked.expect("delivered"));
    assert!(
        (6 * HOUR..6 * HOUR + MIN).contains(&acked),
        "delivered at +{acked}s"
    );
}
