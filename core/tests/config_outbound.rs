//! `[outbound]`, `[dns]`, `[lan_forward]` and the Out Mail options: defaults, values
//! and located errors.

use mailroom_core::config::{
    parse_config, OutTls, ReturnAddress, SendOrder, TlsVerify, WarningPolicy,
};
use std::time::Duration;

const BASE: &str = "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n";

#[test]
fn defaults_follow_the_decisions() {
    let c = parse_config(BASE).unwrap();
    assert_eq!(c.outbound.retry.0, Duration::from_secs(15 * 60));
    assert_eq!(c.outbound.warn_after.0, Duration::from_secs(4 * 3600));
    assert_eq!(c.outbound.bounce_after.0, Duration::from_secs(3 * 86_400));
    assert_eq!(c.outbound.warnings, WarningPolicy::Always);
    assert_eq!(c.lan_forward.retry.0, Duration::from_secs(600));
    assert_eq!(c.lan_forward.fail_after.0, Duration::from_secs(72 * 3600));
    assert!(c.dns.servers.is_empty());
}

#[test]
fn full_outbound_configuration() {
    let text = format!(
        "{BASE}
[outbound]
retry = \"10m\"
warnings = \"once_per_domain_per_day\"
max_sessions = 20
per_destination = 5

[dns]
servers = [\"127.0.0.1:5353\", \"192.0.2.53\"]

[lan_forward]
retry = \"5m\"
limits = {{ \"192.168.1.1:1025\" = 5 }}

[[connection]]
name = \"isp\"
link = \"lan\"
[connection.outmail]
method = \"relay\"
relays = [\"127.0.0.1:2526\"]
auth_user = \"office\"
auth_password = \"secret\"
only_waiting = true
order = \"arrival\"
max_recipients = 50
domain_filter = [\"!ibm.com\", \"From: *@example.com\"]
return_address = {{ non_local = \"office@example.com\" }}
tls = \"required\"
tls_verify = \"never\"
"
    );
    let c = parse_config(&text).unwrap();
    assert_eq!(c.outbound.warnings, WarningPolicy::OncePerDomainPerDay);
    assert_eq!(c.dns.servers.len(), 2);
    assert_eq!(c.lan_forward.limits["192.168.1.1:1025"], 5);
    let o = c.connections[0].outmail.as_ref().unwrap();
    assert!(o.only_waiting);
    assert_eq!(o.order, SendOrder::Arrival);
    assert_eq!(o.max_recipients, 50);
    assert_eq!(
        o.return_address,
        Some(ReturnAddress::NonLocal("office@example.com".into()))
    );
    assert_eq!(o.tls, OutTls::Required);
    assert_eq!(o.tls_verify, TlsVerify::Never);
}

#[test]
fn bad_values_are_refused_on_their_lines() {
    let text = format!(
        "{BASE}
[outbound]
warn_after = \"4d\"
max_sessions = 0

[dns]
servers = [\"dns.example\"]

[[connection]]
name = \"isp\"
[connection.outmail]
method = \"direct\"
domain_filter = [\"bob@x.com\"]
return_address = {{ always = \"not an address\" }}
"
    );
    let errs = parse_config(&text).unwrap_err();
    let lines: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.message.as_str())).collect();
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 6 && m.contains("warn_after")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 7 && m.contains("max_sessions")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 10 && m.contains("dns.example")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 16 && m.contains("domain_filter")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 17 && m.contains("return_address")),
        "{lines:?}"
    );
    let unknown = parse_config(&format!("{BASE}[outbound]\nretries = 3\n")).unwrap_err();
    assert!(unknown[0].message.contains("retries"), "{unknown:?}");
}

#[test]
fn pop_before_smtp_needs_a_relay_an_address_and_a_login() {
    let ok = format!(
        "{BASE}
[[connection]]
name = \"isp\"
[connection.outmail]
relays = [\"smtp.isp.example:25\"]
auth_user = \"office\"
auth_password = \"pw\"
pop_before_smtp = \"pop.isp.example:110\"
"
    );
    let c = parse_config(&ok).unwrap();
    let om = c.connections[0].outmail.as_ref().unwrap();
    assert_eq!(om.pop_before_smtp.as_deref(), Some("pop.isp.example:110"));
    assert_eq!(
        c.outbound.transmission_receipt_headers,
        vec!["Return-Receipt-To".to_string()]
    );

    let bad = format!(
        "{BASE}
[[connection]]
name = \"isp\"
[connection.outmail]
method = \"direct\"
pop_before_smtp = \"pop.isp.example\"
pop_user = \"office\"
"
    );
    let errs = parse_config(&bad).unwrap_err();
    let msgs: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.message.as_str())).collect();
    assert!(
        msgs.iter()
            .any(|(l, m)| *l == 10 && m.contains("pop_user and pop_password")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|(l, m)| *l == 9 && m.contains("is for relays")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|(l, m)| *l == 9 && m.contains("host:port")),
        "{msgs:?}"
    );
}
