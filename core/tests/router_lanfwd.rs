//! MAP-7: the router consults SMTPFWD.DAT (§13.3) for addresses of a local domain that
//! nothing here recognises; known users, mappings and postmaster come first.

mod router_support;

use mailroom_core::outbound::parse_rules;
use mailroom_core::router::lan::forward_target;
use mailroom_core::router::Outcome;
use router_support::{route, snap, source};

const RULES: &str = "\
fred@example.com 192.168.66.102 fred@company.com
(pop3) ~@example.org 192.168.66.103
~@example.com 192.168.66.101:1025 joe@company.com
";

fn office() -> mailroom_core::config::Snapshot {
    let mut s = snap(
        "[[mapping]]\naddress = \"sales\"\ntarget = \"bob\"\n",
        &[("bob", ""), ("postmaster", "admin = true")],
    );
    s.access.lan_rules = parse_rules(RULES).unwrap();
    s
}

fn remote_of(plan: &mailroom_core::router::Plan) -> Vec<String> {
    plan.remote.clone()
}

#[test]
fn unknown_local_users_are_forwarded_to_the_lan_server() {
    let s = office();
    let plan = route(&s, "smtp", Some("x@outside.test"), &["nobody@example.com"]);
    assert_eq!(remote_of(&plan), vec!["nobody@example.com".to_string()]);
    assert!(plan.bounces.is_empty());
    assert!(matches!(
        plan.recipients[0].outcome,
        Outcome::Deliver { .. }
    ));
    assert!(
        plan.explain().contains("SMTPFWD.DAT line 3"),
        "{}",
        plan.explain()
    );
    let t = forward_target(&s, &source("smtp"), "nobody@example.com").unwrap();
    assert_eq!(t.server, "192.168.66.101:1025");
    assert_eq!(t.address, "joe@company.com");
}

#[test]
fn an_explicit_rule_for_a_missing_user_wins_over_the_unknown_rule() {
    let s = office();
    let plan = route(&s, "local", Some("bob@example.com"), &["fred@example.com"]);
    assert_eq!(remote_of(&plan), vec!["fred@example.com".to_string()]);
    let t = forward_target(&s, &source("local"), "fred@example.com").unwrap();
    assert_eq!(
        (t.server.as_str(), t.address.as_str()),
        ("192.168.66.102:25", "fred@company.com")
    );
}

#[test]
fn local_users_mappings_and_postmaster_come_first() {
    let s = office();
    for to in [
        "bob@example.com",
        "sales@example.com",
        "postmaster@example.com",
    ] {
        let plan = route(&s, "smtp", Some("x@outside.test"), &[to]);
        assert!(plan.remote.is_empty(), "{to}: {}", plan.explain());
        assert_eq!(plan.mailboxes.len(), 1, "{to}");
    }
}

#[test]
fn conditions_follow_the_source() {
    let s = office();
    // The example.org rule is for collected mail only: from SMTP it is unknown.
    let plan = route(&s, "smtp", Some("x@outside.test"), &["someone@example.org"]);
    assert!(plan.remote.is_empty());
    assert_eq!(plan.bounces, vec!["someone@example.org".to_string()]);
    let plan = route(
        &s,
        "pop3:isp",
        Some("x@outside.test"),
        &["someone@example.org"],
    );
    assert_eq!(remote_of(&plan), vec!["someone@example.org".to_string()]);
}

#[test]
fn without_rules_unknown_stays_unknown() {
    let s = snap("", &[("bob", "")]);
    let plan = route(&s, "smtp", Some("x@outside.test"), &["nobody@example.com"]);
    assert!(plan.remote.is_empty());
    assert_eq!(plan.bounces, vec!["nobody@example.com".to_string()]);
}
