//! Checks for `[[inmail]]`.

use super::{check_domain_name, Errors, Index, Key};
use crate::config::{Config, InMailRouting, OrderStep, MAX_INMAILS};

pub(super) fn check(e: &mut Errors<'_>, cfg: &Config) {
    if cfg.download_rules.query_delay.0.as_secs() < 3600 {
        e.at(
            &[Key("download_rules"), Key("query_delay")],
            format!(
                "[download_rules] query_delay = {} is too short for anyone to answer; use at least \"1h\" (default \"7d\")",
                cfg.download_rules.query_delay
            ),
        );
    }
    let list = &cfg.inmails;
    if list.len() > MAX_INMAILS {
        e.at(
            &[Key("inmail"), Index(MAX_INMAILS)],
            format!(
                "[[inmail]]: {} In Mails defined; at most {MAX_INMAILS} are allowed",
                list.len()
            ),
        );
    }
    for (i, m) in list.iter().enumerate() {
        let at = |k: &'static str| [Key("inmail"), Index(i), Key(k)];
        let name = m.name.trim();
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == ':') {
            e.at(
                &at("name"),
                "[[inmail]] name is empty or has control characters or ':'",
            );
        }
        if list[..i]
            .iter()
            .any(|o| o.name.trim().eq_ignore_ascii_case(name))
        {
            e.at(
                &at("name"),
                format!("[[inmail]] name {name:?} is used twice"),
            );
        }
        let who = format!("[[inmail]] {name:?}");
        if m.connections.is_empty() {
            e.at(
                &at("connections"),
                format!("{who}: connections is empty; list the [[connection]] names that collect this mailbox"),
            );
        }
        for (j, c) in m.connections.iter().enumerate() {
            if !cfg
                .connections
                .iter()
                .any(|k| k.name.trim().eq_ignore_ascii_case(c.trim()))
            {
                e.at(
                    &[Key("inmail"), Index(i), Key("connections"), Index(j)],
                    format!("{who}: no [[connection]] is named {c:?}"),
                );
            }
        }
        if let Some(why) = server_problem(&m.server) {
            e.at(&at("server"), format!("{who}: server {why}"));
        }
        if m.user.trim().is_empty() {
            e.at(
                &at("user"),
                format!("{who}: user is empty; write the ISP account's user name"),
            );
        }
        for (j, d) in m.accepted_domains.iter().enumerate() {
            let domain = d.rsplit_once('@').map_or(d.as_str(), |(_, dom)| dom);
            if let Err(why) = check_domain_name(domain.trim()) {
                e.at(
                    &[Key("inmail"), Index(i), Key("accepted_domains"), Index(j)],
                    format!("{who}: accepted_domains entry {d:?} {why}; write a domain (example.com) or one address (fred@isp.example)"),
                );
            }
        }
        match m.routing {
            InMailRouting::User if m.deliver_to.as_deref().is_none_or(|s| s.trim().is_empty()) => {
                e.at(
                    &at("routing"),
                    format!("{who}: routing = \"user\" needs deliver_to = \"USER or LIST\""),
                );
            }
            InMailRouting::Lan => {
                match m.lan_server.as_deref() {
                    None => e.at(
                        &at("routing"),
                        format!("{who}: routing = \"lan\" needs lan_server = \"host:port\""),
                    ),
                    Some(s) => {
                        if let Some(why) = server_problem(s) {
                            e.at(&at("lan_server"), format!("{who}: lan_server {why}"));
                        }
                    }
                }
                if m.lan_recipient.as_deref().is_none_or(|s| !s.contains('@')) {
                    e.at(
                        &at("routing"),
                        format!(
                            "{who}: routing = \"lan\" needs lan_recipient = \"user@lan-domain\""
                        ),
                    );
                }
            }
            InMailRouting::Subject if m.subject_marker.matches('*').count() != 1 => {
                e.at(
                    &at("subject_marker"),
                    format!("{who}: subject_marker {:?} must hold exactly one '*' where the user's name goes, e.g. \"{{*}}\"", m.subject_marker),
                );
            }
            _ => {}
        }
        let order = &m.detect.order;
        for step in [OrderStep::Special, OrderStep::Standard, OrderStep::Received] {
            if order.iter().filter(|s| **s == step).count() > 1 {
                e.at(
                    &[Key("inmail"), Index(i), Key("detect"), Key("order")],
                    format!("{who}: detect.order lists {step:?} twice; each of special, standard and received may appear once"),
                );
            }
        }
        if m.routing == InMailRouting::Detected
            && !order.iter().any(|s| {
                matches!(
                    s,
                    OrderStep::Special | OrderStep::Standard | OrderStep::Received
                )
            })
        {
            e.at(
                &[Key("inmail"), Index(i), Key("detect"), Key("order")],
                format!("{who}: detect.order reads no headers; include \"special\", \"standard\" or \"received\""),
            );
        }
        for (j, h) in m.detect.special_headers.iter().enumerate() {
            let field = h.split(':').next().unwrap_or("").trim();
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_graphic()) {
                e.at(
                    &[Key("inmail"), Index(i), Key("detect"), Key("special_headers"), Index(j)],
                    format!("{who}: special header {h:?} has no field name; write e.g. \"X-Envelope-To\" or \"Delivered-To: account-*\""),
                );
            }
        }
    }
}

/// `host` or `host:port`.
fn server_problem(v: &str) -> Option<String> {
    let v = v.trim();
    let (host, port) = match v.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (h, Some(p)),
        _ => (v, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Some(format!("{v:?} has no host; write \"pop.isp.example:110\""));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Some(format!("{v:?}: {p:?} is not a port number (1-65535)"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_config, InMailRouting, OrderStep, ReadMode};

    use super::super::{test_problems, TEST_BASE};

    /// The required keys and the connection the In Mails use.
    const CONN: &str = "[[connection]]\nname = \"isp\"\n";

    fn problems(extra: &str) -> Vec<String> {
        test_problems(&format!("{TEST_BASE}{CONN}{extra}"))
    }

    #[test]
    fn the_interface_example_parses_with_the_manuals_defaults() {
        let text = format!(
            "{TEST_BASE}{CONN}{}",
            r#"
[[inmail]]
name = "isp-box"
connections = ["isp"]
server = "127.0.0.1:2110"
user = "office"
password = "secret"
accepted_domains = ["example.com"]
leave_on_server_days = 0
remove_duplicates = true
"#
        );
        let cfg = parse_config(&text).unwrap_or_else(|e| panic!("{e:?}"));
        let m = &cfg.inmails[0];
        assert_eq!(m.routing, InMailRouting::Detected);
        assert_eq!(m.detect.special_read, ReadMode::Forwards);
        assert_eq!(m.detect.received_read, ReadMode::Reversed);
        assert!(m.detect.ignore_received_without_at && m.detect.strip_from_line);
        assert_eq!(
            m.detect.order,
            [
                OrderStep::Special,
                OrderStep::StopIfFound,
                OrderStep::Standard,
                OrderStep::StopIfFound,
                OrderStep::Received
            ]
        );
        assert_eq!(m.size_limit(), None);
        assert_eq!(m.subject_marker, "{*}");
    }

    #[test]
    fn mistakes_are_reported_on_their_lines() {
        let p = problems(
            r#"
[[inmail]]
name = "a"
connections = ["dsl"]
server = "pop.isp.example:0"
user = ""
password = "x"
routing = "user"
[inmail.detect]
order = ["special", "special", "stop"]
"#,
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("9:") && l.contains("no [[connection]] is named \"dsl\"")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("10:") && l.contains("not a port number")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("11:") && l.contains("user is empty")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("13:") && l.contains("deliver_to")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|l| l.starts_with("15:") && l.contains("twice")),
            "{p:?}"
        );
        let p = problems("[[inmail]]\nname = \"a\"\nconnections = [\"isp\"]\nserver = \"h\"\nuser = \"u\"\npassword = \"p\"\nrouting = \"subject\"\nsubject_marker = \"{x}\"\nbogus = 1\n");
        assert!(p.iter().any(|l| l.contains("bogus")), "{p:?}");
        let p = problems("[download_rules]\nquery_delay = \"10m\"\n");
        assert!(
            p.iter()
                .any(|l| l.starts_with("7:") && l.contains("too short")),
            "{p:?}"
        );
        let cfg = parse_config(&format!(
            "{TEST_BASE}{CONN}[download_rules]\nquery_delay = \"2d\"\n"
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(cfg.download_rules.query_delay.0.as_secs(), 2 * 86_400);
    }
}
