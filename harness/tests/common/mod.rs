//! Shared pieces of the scenario tests.
#![allow(dead_code)]

use mailroom_core::config::{parse_config, Config};
use mailroom_core::Instant;
use mailroom_harness::localtime::utc;
use mailroom_harness::office::{Office, OfficeSpec, RunRecord};

/// Monday 2026-03-23 00:00 UTC.
pub fn monday() -> Instant {
    utc(2026, 3, 23, 0, 0)
}

pub const BASE: &str = r#"
hostname = "mail.office.example"
default_domain = "office.example"
local_domains = ["office.example"]
[services]
smtp = []
pop3 = []
imap = []
http = []
"#;

pub const DIALUP: &str = r#"
[[connection]]
name = "isp"
link = "command"
up = "pon isp"
down = "poff isp"
[connection.outmail]
method = "relay"
relays = ["relay.isp.example:25"]
"#;

/// Parse `BASE` + `extra` (the config parser and validator run on every scenario).
pub fn config(extra: &str) -> Config {
    let text = format!("{BASE}{extra}");
    match parse_config(&text) {
        Ok(c) => c,
        Err(e) => panic!("config does not parse: {e:?}\n{text}"),
    }
}

pub fn office(spec: OfficeSpec) -> Office {
    Office::new(spec)
}

/// Fail with the seed and the violations, if any.
pub fn assert_clean(o: &mut Office) {
    o.final_checks();
    assert!(
        o.violations.is_empty(),
        "seed {}: invariant violations:\n{}",
        o.spec.seed,
        o.violations.join("\n")
    );
}

pub fn secs(s: u64) -> std::time::Duration {
    std::time::Duration::from_secs(s)
}

/// One value from each connection run of the office, in order.
pub fn runs<T>(o: &Office, f: impl Fn(&RunRecord) -> T) -> Vec<T> {
    o.log.runs.iter().map(f).collect()
}

/// Seconds from `from` to each dial of the office, in order.
pub fn dial_secs(o: &Office, from: Instant) -> Vec<u64> {
    o.log
        .dials
        .iter()
        .map(|d| d.0.saturating_since(from).as_secs())
        .collect()
}

/// The dial-up connection `isp` with `keys` added to its own table, then `extra`.
pub fn dialup_config(keys: &str, extra: &str) -> Config {
    let text = DIALUP.replace(
        "[connection.outmail]",
        &format!("{keys}\n[connection.outmail]"),
    );
    config(&format!("{text}{extra}"))
}
