//! Lockout (§4.3.1), the POP-before-SMTP window (§11.3) and access checks at connect,
//! all on a virtual clock.

use mailroom_core::access::AccessList;
use mailroom_core::challenge::{apop_digest, cram_md5_digest};
use mailroom_core::config::AccountPolicy;
use mailroom_core::security::{
    lockout_exempt, password_tag, Failure, Lockout, LoginGate, PopBeforeSmtp, Service, MAX_TRACKED,
};
use mailroom_core::Instant;
use std::net::IpAddr;
use std::time::Duration;

const T0: u64 = 1_767_225_600;

fn at(secs: u64) -> Instant {
    Instant::from_secs(T0 + secs)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn five_failures_lock_for_fifteen_minutes_then_unlock() {
    let policy = AccountPolicy::default();
    assert_eq!((policy.lockout_failures, policy.lockout_minutes), (5, 15));
    let tag = password_tag("$argon2id$hash-a");
    let mut l = Lockout::new();
    for i in 1..=4 {
        assert_eq!(l.gate("alice", at(i), tag), LoginGate::Open);
        assert_eq!(
            l.failure("Alice", at(i), tag, &policy),
            Failure::Counted(i as u32)
        );
    }
    let until = at(5) + Duration::from_secs(15 * 60);
    assert_eq!(
        l.failure("alice", at(5), tag, &policy),
        Failure::LockedNow { until }
    );
    // Locked: even the right password is not checked.
    assert_eq!(l.gate("ALICE", at(6), tag), LoginGate::Locked { until });
    assert_eq!(
        l.gate("alice", at(5 + 899), tag),
        LoginGate::Locked { until }
    );
    // Unlocked once the time is up, with a fresh count.
    assert_eq!(l.gate("alice", at(5 + 900), tag), LoginGate::Open);
    assert_eq!(
        l.failure("alice", at(5 + 901), tag, &policy),
        Failure::Counted(1)
    );
}

#[test]
fn success_resets_and_failures_far_apart_do_not_add_up() {
    let policy = AccountPolicy::default();
    let tag = password_tag("h");
    let mut l = Lockout::new();
    for i in 0..4 {
        l.failure("bob", at(i), tag, &policy);
    }
    l.success("bob");
    assert_eq!(l.failure("bob", at(10), tag, &policy), Failure::Counted(1));
    // Sixteen minutes later the old failure no longer counts.
    assert_eq!(
        l.failure("bob", at(10 + 16 * 60), tag, &policy),
        Failure::Counted(1)
    );
}

#[test]
fn changing_the_password_lifts_the_lock() {
    let policy = AccountPolicy {
        lockout_failures: 2,
        ..AccountPolicy::default()
    };
    let (old, new) = (password_tag("old-hash"), password_tag("new-hash"));
    let mut l = Lockout::new();
    l.failure("carol", at(0), old, &policy);
    assert!(matches!(
        l.failure("carol", at(1), old, &policy),
        Failure::LockedNow { .. }
    ));
    assert!(matches!(
        l.gate("carol", at(2), old),
        LoginGate::Locked { .. }
    ));
    assert_eq!(l.gate("carol", at(2), new), LoginGate::Open);
    assert!(!l.unlock("carol"));
}

#[test]
fn lockout_off_and_bounded_table() {
    let off = AccountPolicy {
        lockout_failures: 0,
        ..AccountPolicy::default()
    };
    let mut l = Lockout::new();
    for i in 0..50 {
        assert_eq!(
            l.failure("dave", at(i), 1, &off),
            Failure::Counted(i as u32 + 1)
        );
    }
    assert_eq!(l.gate("dave", at(60), 1), LoginGate::Open);
    let policy = AccountPolicy::default();
    for i in 0..(MAX_TRACKED + 500) {
        l.failure(&format!("guess{i}"), at(100), 1, &policy);
    }
    assert!(l.tracked() <= MAX_TRACKED);
}

#[test]
fn loopback_exemption_is_for_the_web_admin_only() {
    let policy = AccountPolicy::default();
    let lo = ip("127.0.0.1");
    assert!(lockout_exempt(Service::Http, lo, &policy));
    assert!(lockout_exempt(
        Service::Http,
        ip("::ffff:127.0.0.1"),
        &policy
    ));
    assert!(!lockout_exempt(Service::Http, ip("192.168.1.2"), &policy));
    for s in [Service::Pop3, Service::Smtp, Service::Imap, Service::Pass] {
        assert!(!lockout_exempt(s, lo, &policy), "{s:?}");
    }
    let strict = AccountPolicy {
        lockout_web_from_loopback: true,
        ..policy
    };
    assert!(!lockout_exempt(Service::Http, lo, &strict));
}

#[test]
fn pop_before_smtp_window_opens_at_login_and_closes_after_logoff() {
    let window = Duration::from_secs(5 * 60);
    let mut p = PopBeforeSmtp::new();
    let client = ip("192.168.1.7");
    assert!(!p.allows(client, at(0), window));
    p.login(client, at(0));
    // Open for the whole session, however long.
    assert!(p.allows(client, at(3600), window));
    assert!(p.allows(ip("::ffff:192.168.1.7"), at(3600), window));
    assert!(!p.allows(ip("192.168.1.8"), at(3600), window));
    p.logoff(client, at(4000));
    assert!(p.allows(client, at(4000 + 299), window));
    assert!(!p.allows(client, at(4000 + 300), window));
    // Two sessions: the window runs from the last logoff.
    p.login(client, at(5000));
    p.login(client, at(5001));
    p.logoff(client, at(5002));
    assert!(p.allows(client, at(9000), window));
    p.logoff(client, at(9000));
    assert!(!p.allows(client, at(9300), window));
    // A zero window is the feature turned off.
    p.login(client, at(10_000));
    assert!(!p.allows(client, at(10_000), Duration::ZERO));
}

#[test]
fn access_at_connect_lets_user_restricted_ranges_in() {
    let (list, _) = AccessList::parse(
        "!192.168.1.66\n192.168.1.0 255.255.255.0 fred bob\n!10.0.0.0/8 mallory\n10.0.0.0/8\n",
    )
    .unwrap();
    assert!(!list.may_connect(ip("192.168.1.66")));
    assert!(list.may_connect(ip("192.168.1.5")));
    assert!(list.check(ip("192.168.1.5"), Some("Fred")).allowed);
    assert!(!list.check(ip("192.168.1.5"), Some("alice")).allowed);
    assert!(list.may_connect(ip("10.1.1.1")));
    assert!(!list.check(ip("10.1.1.1"), Some("mallory")).allowed);
    assert!(list.check(ip("10.1.1.1"), Some("alice")).allowed);
    assert!(!list.may_connect(ip("172.16.0.1")));
    assert!(AccessList::default().may_connect(ip("203.0.113.1")));
}

#[test]
fn known_digest_vectors() {
    // RFC 1939 §7 and RFC 2195 §2.
    assert_eq!(
        apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
        "c4c9334bac560ecc979e58001b3e22fb"
    );
    assert_eq!(
        cram_md5_digest(
            "<1896.697170952@postoffice.reston.mci.net>",
            "tanstaaftanstaaf"
        ),
        "b913a602c7eda7a495b4e6e7334d3890"
    );
}
