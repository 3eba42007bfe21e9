use super::*;
use crate::config::Cidr;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn policy(block_after: u32, never: &[&str]) -> Policy {
    Policy {
        enabled: true,
        block_after,
        block_minutes: 60,
        window_minutes: 10,
        never_block: never.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

const T0: Instant = Instant::from_secs(1_800_000_000);

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

#[test]
fn errors_within_the_window_block_for_block_minutes() {
    let p = policy(5, &[]);
    let mut ids = Ids::new();
    let a = ip("203.0.113.9");
    assert_eq!(ids.record(a, 3, T0, &p), None);
    assert_eq!(ids.gate(a, T0, &p), Gate::Open);
    assert_eq!(ids.score(a), 3);
    let b = ids
        .record(a, 2, T0 + mins(9), &p)
        .expect("the fifth error blocks");
    assert_eq!(b.until, T0 + mins(9) + mins(60));
    assert_eq!(b.reason, "5 client errors");
    assert_eq!(
        ids.gate(a, T0 + mins(10), &p),
        Gate::Blocked { until: b.until }
    );
    // Another address is served meanwhile.
    assert_eq!(ids.gate(ip("203.0.113.10"), T0 + mins(10), &p), Gate::Open);
    // The block ends on time and the score starts again from nothing.
    assert_eq!(ids.gate(a, b.until, &p), Gate::Open);
    assert_eq!(ids.score(a), 0);
    assert_eq!(ids.blocked(b.until).count(), 0);
}

#[test]
fn errors_further_apart_than_the_window_do_not_add_up() {
    let p = policy(3, &[]);
    let mut ids = Ids::new();
    let a = ip("198.51.100.1");
    assert_eq!(ids.record(a, 2, T0, &p), None);
    assert_eq!(ids.record(a, 1, T0 + mins(10), &p), None);
    assert_eq!(ids.score(a), 1);
    assert!(ids.record(a, 2, T0 + mins(12), &p).is_some());
}

#[test]
fn never_block_wins_and_a_disabled_ids_blocks_nobody() {
    let p = policy(1, &["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]);
    let mut ids = Ids::new();
    for exempt in ["10.1.2.3", "::ffff:10.9.9.9", "2001:db8::1", "192.0.2.7"] {
        assert_eq!(ids.record(ip(exempt), 100, T0, &p), None, "{exempt}");
        assert_eq!(ids.gate(ip(exempt), T0, &p), Gate::Exempt, "{exempt}");
    }
    // Blocked by hand, then put on the never-block list: the list wins.
    ids.block(ip("192.0.2.8"), T0 + mins(5), "by hand", T0);
    assert!(matches!(
        ids.gate(ip("192.0.2.8"), T0, &p),
        Gate::Blocked { .. }
    ));
    let p2 = policy(1, &["192.0.2.0/24"]);
    assert_eq!(ids.gate(ip("192.0.2.8"), T0, &p2), Gate::Exempt);
    let off = Policy {
        enabled: false,
        ..policy(1, &[])
    };
    assert_eq!(ids.record(ip("192.0.2.9"), 100, T0, &off), None);
    assert_eq!(ids.gate(ip("192.0.2.8"), T0, &off), Gate::Open);
}

#[test]
fn the_defaults_never_block_loopback() {
    let p = Policy::default();
    assert!(p.enabled);
    assert_eq!(
        (p.block_after, p.block_minutes, p.window_minutes),
        (10, 60, 60)
    );
    let mut ids = Ids::new();
    for lo in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
        assert_eq!(ids.record(ip(lo), 1000, T0, &p), None);
        assert_eq!(ids.gate(ip(lo), T0, &p), Gate::Exempt);
    }
    assert_eq!(ids.gate(ip("192.168.1.5"), T0, &p), Gate::Open);
}

#[test]
fn mapped_and_plain_ipv4_are_one_client() {
    let p = policy(2, &[]);
    let mut ids = Ids::new();
    assert_eq!(ids.record(ip("::ffff:192.0.2.1"), 1, T0, &p), None);
    assert!(ids.record(ip("192.0.2.1"), 1, T0, &p).is_some());
    assert!(matches!(
        ids.gate(ip("::ffff:192.0.2.1"), T0, &p),
        Gate::Blocked { .. }
    ));
    assert!(ids.unblock(ip("::ffff:192.0.2.1")));
    assert!(!ids.unblock(ip("192.0.2.1")));
    assert_eq!(ids.gate(ip("192.0.2.1"), T0, &p), Gate::Open);
}

#[test]
fn the_file_round_trips_and_survives_damage() {
    let p = policy(1, &[]);
    let mut ids = Ids::new();
    ids.record(ip("192.0.2.1"), 1, T0, &p);
    ids.block(ip("2001:db8::5"), T0 + mins(5), "probing\nPOP3", T0);
    ids.block(ip("192.0.2.2"), T0, "already over", T0);
    let text = ids.to_text(T0);
    assert!(text.contains(&format!(
        "192.0.2.1 {} 1 client errors\n",
        T0.unix_secs() + 3600
    )));
    assert!(text.contains("2001:db8::5 "));
    assert!(text.contains(" probing POP3\n"), "{text}");
    assert!(!text.contains("192.0.2.2"), "{text}");
    // Read back after a restart: the monotonic clock restarted, the wall did not.
    let later = Instant::from_readings(5_000_000, T0.unix_micros() + 60_000_000);
    let damaged = format!("{text}not-an-address 12\n192.0.2.3\n\n");
    let (back, bad) = Ids::from_text(&damaged, later);
    assert_eq!(bad.len(), 2);
    let mut back = back;
    match back.gate(ip("192.0.2.1"), later, &p) {
        Gate::Blocked { until } => {
            assert_eq!(until.saturating_since(later), Duration::from_secs(3540))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(back.blocked(later).count(), 2);
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    ]
}

/// The range check done bit by bit, as a reference for `Cidr::contains`.
fn reference_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    let bits = |a: IpAddr| -> (u128, u8) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let ip = ip.to_canonical();
    let ((n, width), (a, width2)) = (bits(net), bits(ip));
    if width != width2 {
        return false;
    }
    (0..len).all(|i| {
        let bit = width - 1 - i;
        (n >> bit) & 1 == (a >> bit) & 1
    })
}

proptest! {
    #[test]
    fn cidr_matching_agrees_with_the_bitwise_reference(net in any_ip(), len in 0u8..=128, probe in any_ip(), flip in 0u8..128) {
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = len % (max + 1);
        let cidr: Cidr = format!("{net}/{len}").parse().unwrap();
        prop_assert_eq!(cidr.contains(probe), reference_contains(net, len, probe));
        // An address inside the range with one bit past the prefix changed is inside.
        if len < max {
            let bit = flip % (max - len);
            let inside = match net {
                IpAddr::V4(v) => IpAddr::V4(Ipv4Addr::from(u32::from(v) ^ (1 << bit))),
                IpAddr::V6(v) => IpAddr::V6(Ipv6Addr::from(u128::from(v) ^ (1 << bit))),
            };
            prop_assert!(cidr.contains(inside));
        }
    }

    #[test]
    fn the_block_list_file_never_panics(text in ".{0,400}") {
        let (ids, _) = Ids::from_text(&text, T0);
        let again = ids.to_text(T0);
        let (back, bad) = Ids::from_text(&again, T0);
        prop_assert!(bad.is_empty());
        prop_assert_eq!(back.blocked(T0).count(), ids.blocked(T0).count());
    }

    #[test]
    fn an_address_is_blocked_exactly_when_its_window_reaches_block_after(
        steps in proptest::collection::vec((0u32..4, 0u64..400), 1..40),
        block_after in 1u32..12,
    ) {
        let p = policy(block_after, &[]);
        let mut ids = Ids::new();
        let a = ip("203.0.113.77");
        let mut now = T0;
        let (mut errors, mut since) = (0u32, T0);
        for (n, gap) in steps {
            now = now + Duration::from_secs(gap);
            if let Gate::Blocked { .. } = ids.gate(a, now, &p) {
                continue;
            }
            if n == 0 {
                prop_assert_eq!(ids.record(a, 0, now, &p), None);
                continue;
            }
            if errors == 0 || now.saturating_since(since) >= mins(10) {
                errors = 0;
                since = now;
            }
            errors += n;
            let blocked = ids.record(a, n, now, &p).is_some();
            prop_assert_eq!(blocked, errors >= block_after);
            if blocked {
                errors = 0;
            }
        }
    }
}
