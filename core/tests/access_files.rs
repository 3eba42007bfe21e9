//! Access restriction files (§11.9.1): the manual's examples and the modern additions.

use std::net::IpAddr;

use mailroom_core::access::{AccessList, AccessVerdict};

fn list(text: &str) -> AccessList {
    match AccessList::parse(text) {
        Ok((l, w)) => {
            assert!(w.is_empty(), "unexpected warnings {w:?}");
            l
        }
        Err(e) => panic!("parse failed: {e:?}"),
    }
}

/// `message` says `part` (shown whole when it does not).
#[track_caller]
fn assert_mentions(message: &str, part: &str) {
    assert!(message.contains(part), "{message}");
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn allowed(l: &AccessList, addr: &str, user: Option<&str>) -> bool {
    l.check(ip(addr), user).allowed
}

#[test]
fn empty_file_and_comments_only_allow_everyone() {
    for text in ["", "# nothing here\n\n   \n#192.168.1.1\n"] {
        let l = list(text);
        assert!(l.is_empty());
        assert_eq!(
            l.check(ip("203.0.113.9"), None),
            AccessVerdict {
                allowed: true,
                noauth: false
            }
        );
        assert!(allowed(&l, "2001:db8::1", Some("fred")));
    }
}

#[test]
fn manual_deny_range_then_implicit_deny() {
    // §11.9.1: "!192.168.17.0 255.255.255.0" prohibits 192.168.17.0–255.
    let l = list("!192.168.17.0 255.255.255.0\n192.168.0.0 255.255.0.0\n");
    let table = [
        ("192.168.17.0", false),
        ("192.168.17.255", false),
        ("192.168.16.255", true),
        ("192.168.18.1", true),
        ("10.0.0.1", false), // after the last line: implicit deny
    ];
    for (addr, want) in table {
        assert_eq!(allowed(&l, addr, None), want, "{addr}");
    }
}

#[test]
fn first_matching_line_wins() {
    let l = list("192.168.1.5\n!192.168.1.0/24\n");
    assert!(allowed(&l, "192.168.1.5", None));
    assert!(!allowed(&l, "192.168.1.6", None));
    let l = list("!192.168.1.0/24\n192.168.1.5\n");
    assert!(!allowed(&l, "192.168.1.5", None));
}

#[test]
fn single_address_matches_only_itself() {
    let l = list("127.0.0.1\n");
    assert!(allowed(&l, "127.0.0.1", None));
    assert!(!allowed(&l, "127.0.0.2", None));
}

#[test]
fn allow_all_line_allows_everyone_including_ipv6() {
    let l = list("!10.0.0.0/8\n0.0.0.0 0.0.0.0\n");
    assert!(!allowed(&l, "10.1.2.3", None));
    assert!(allowed(&l, "203.0.113.1", None));
    assert!(allowed(&l, "2001:db8::1", None));
}

#[test]
fn manual_misprint_is_allow_all_with_a_warning() {
    let (l, w) =
        AccessList::parse("!192.168.17.0 255.255.255.0\n!0.0.0.0 0.0.0.0\n").expect("parses");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].line, 2);
    assert!(w[0].message.contains("allow everyone"), "{}", w[0].message);
    assert!(!allowed(&l, "192.168.17.3", None));
    assert!(allowed(&l, "8.8.8.8", None));
    // Written as CIDR it is no misprint: deny everyone.
    let (l, w) = AccessList::parse("127.0.0.1\n!0.0.0.0/0\n").expect("parses");
    assert!(w.is_empty());
    assert!(!allowed(&l, "8.8.8.8", None));
}

#[test]
fn cidr_ranges() {
    let l = list("10.20.0.0/16\n172.16.0.0/12\n");
    assert!(allowed(&l, "10.20.255.1", None));
    assert!(!allowed(&l, "10.21.0.1", None));
    assert!(allowed(&l, "172.31.255.255", None));
    assert!(!allowed(&l, "172.32.0.0", None));
}

#[test]
fn ipv6_ranges_and_single_addresses() {
    let l = list("2001:db8:1::/48\n::1\n!2001:db8::/32\n");
    assert!(allowed(&l, "2001:db8:1:ffff::7", None));
    assert!(allowed(&l, "::1", None));
    assert!(!allowed(&l, "2001:db8:2::1", None));
    assert!(!allowed(&l, "::2", None));
    // An IPv6 rule never matches an IPv4 client.
    assert!(!allowed(&l, "127.0.0.1", None));
}

#[test]
fn ipv4_mapped_peers_match_ipv4_rules() {
    let l = list("192.168.1.0 255.255.255.0\n");
    assert!(allowed(&l, "::ffff:192.168.1.20", None));
    assert!(!allowed(&l, "::ffff:192.168.2.20", None));
}

#[test]
fn user_names_restrict_the_line() {
    // §11.9.1: "only Fred, Bob and Sarah can access VPOP3 from 192.168.1.0–255".
    let l = list("192.168.1.0 255.255.255.0 fred bob Sarah\n");
    assert_eq!(l.rules[0].users, vec!["fred", "bob", "sarah"]);
    assert!(allowed(&l, "192.168.1.7", Some("fred")));
    assert!(allowed(&l, "192.168.1.7", Some("SARAH")));
    assert!(!allowed(&l, "192.168.1.7", Some("alice")));
    // Without a user the line does not match; nothing else does either.
    assert!(!allowed(&l, "192.168.1.7", None));
    assert!(!allowed(&l, "10.0.0.1", Some("fred")));
}

#[test]
fn user_line_falls_through_to_later_lines() {
    let l = list("192.168.1.0/24 boss\n!192.168.1.0/24\n0.0.0.0 0.0.0.0\n");
    assert!(allowed(&l, "192.168.1.9", Some("boss")));
    assert!(!allowed(&l, "192.168.1.9", Some("intern")));
    assert!(!allowed(&l, "192.168.1.9", None));
    assert!(allowed(&l, "10.0.0.1", None));
}

#[test]
fn noauth_is_reported_and_case_insensitive() {
    // §11.9.1's SMTP example: the LAN needs no AUTH, everyone else may still connect.
    let l = list("192.168.1.0 255.255.255.0 NoAuth\n0.0.0.0 0.0.0.0\n");
    assert_eq!(
        l.check(ip("192.168.1.4"), None),
        AccessVerdict {
            allowed: true,
            noauth: true
        }
    );
    assert_eq!(
        l.check(ip("203.0.113.4"), None),
        AccessVerdict {
            allowed: true,
            noauth: false
        }
    );
}

#[test]
fn trailing_comments_and_space_after_bang() {
    let l = list("! 10.0.0.0/8   # the office next door\n0.0.0.0/0\n");
    assert!(l.rules[0].deny);
    assert!(!allowed(&l, "10.9.9.9", None));
}

#[test]
fn host_bits_outside_the_mask_give_a_warning() {
    let (l, w) = AccessList::parse("192.168.1.77 255.255.255.0\n").expect("parses");
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("192.168.1.0/24"), "{}", w[0].message);
    assert!(allowed(&l, "192.168.1.1", None));
}

#[test]
fn bad_lines_are_all_reported_with_their_lines() {
    let text = "# ok\n192.168.1.0 255.0.255.0\nfoo\n10.0.0.0/33\n10.0.0.0/8 fred@example.com\n!\n";
    let e = AccessList::parse(text).expect_err("bad file");
    assert_eq!(
        e.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6],
        "{e:?}"
    );
    assert_mentions(&e[0].message, "not a subnet mask");
    assert_mentions(&e[1].message, "\"foo\" is not an IP address");
    assert_mentions(&e[2].message, "prefix length");
    assert_mentions(&e[3].message, "fred@example.com");
}

#[test]
fn rule_lines_are_recorded() {
    let l = list("# header\n\n10.0.0.0/8\n");
    assert_eq!(l.rules[0].line, 3);
    assert_eq!(l.len(), 1);
}
