//! Building routing snapshots from TOML text, as an administrator would write them,
//! and asking the router about one message.

#![allow(dead_code)]

use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_core::router::{self, check_routing, HeaderView, Outcome, Plan, Request, Source};

pub const BASE: &str = "hostname = \"mail.example.com\"\n\
default_domain = \"example.com\"\n\
local_domains = [\"example.com\", \"example.org\"]\n";

/// A snapshot from `BASE` (unless `config` sets its own first keys) plus `config`, and
/// accounts given as `("name", "extra toml keys")`. Panics on any configuration
/// problem, so a table entry cannot test a configuration `check` would refuse.
pub fn snap(config: &str, users: &[(&str, &str)]) -> Snapshot {
    let snap = snap_unchecked(config, users);
    let problems = check_routing(&snap);
    assert!(problems.is_empty(), "routing problems: {problems:#?}");
    snap
}

pub fn snap_unchecked(config: &str, users: &[(&str, &str)]) -> Snapshot {
    let text = if config.contains("local_domains") {
        config.to_string()
    } else {
        format!("{BASE}{config}")
    };
    let config = parse_config(&text).unwrap_or_else(|e| panic!("config: {e:?}\n{text}"));
    let accounts = users.iter().map(|(name, extra)| account(name, extra));
    Snapshot {
        config,
        accounts: Accounts::new(accounts),
        access: Default::default(),
    }
}

pub fn account(name: &str, extra: &str) -> Account {
    let text = format!("name = \"{name}\"\npassword_hash = \"x\"\n{extra}\n");
    toml::from_str(&text).unwrap_or_else(|e| panic!("account {name}: {e}\n{text}"))
}

pub fn source(s: &str) -> Source {
    s.parse().unwrap()
}

/// Route one message.
pub fn route(snap: &Snapshot, src: &str, from: Option<&str>, to: &[&str]) -> Plan {
    route_sized(snap, src, from, to, None, "")
}

pub fn route_sized(
    snap: &Snapshot,
    src: &str,
    from: Option<&str>,
    to: &[&str],
    size: Option<u64>,
    header: &str,
) -> Plan {
    let recipients: Vec<String> = to.iter().map(|s| s.to_string()).collect();
    let source = source(src);
    let headers = HeaderView::parse(header.as_bytes());
    router::route(
        snap,
        &Request {
            sender: from,
            recipients: &recipients,
            source: &source,
            headers: &headers,
            size,
        },
    )
}

/// The plan in one comparable line: `mbox=[..] remote=[..] bounce=[..] notice=[..]
/// discard=[..]`, each sorted.
pub fn summary(plan: &Plan) -> String {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.join(",")
    };
    format!(
        "mbox=[{}] remote=[{}] bounce=[{}] notice=[{}] discard=[{}]",
        sorted(plan.mailboxes.clone()),
        sorted(plan.remote.clone()),
        sorted(plan.bounces.clone()),
        sorted(
            plan.notices
                .iter()
                .map(|n| format!("{}:{}", n.to, n.recipients.join("+")))
                .collect()
        ),
        sorted(plan.discards.iter().map(|d| d.recipient.clone()).collect()),
    )
}

pub fn outcome_of<'a>(plan: &'a Plan, address: &str) -> &'a Outcome {
    &plan
        .recipients
        .iter()
        .find(|r| r.address.eq_ignore_ascii_case(address))
        .unwrap_or_else(|| panic!("{address} is not in the plan"))
        .outcome
}
