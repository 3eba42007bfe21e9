//! Checks for `[[connection]]`, `[[schedule]]` and `[connect]`.

use super::{check_domain_name, Errors, Index, Key};
use crate::config::{Config, LinkKind, OutMethod, MAX_CONNECTIONS};
use std::time::Duration;

pub(super) fn check(e: &mut Errors<'_>, cfg: &Config) {
    connections(e, cfg);
    schedules(e, cfg);
    options(e, cfg);
}

/// `host:port` with a non-empty host and a numeric port.
fn host_port_problem(v: &str) -> Option<String> {
    let Some((host, port)) = v.rsplit_once(':') else {
        return Some(format!(
            "{v:?} has no port; write \"host:port\", e.g. \"smtp.isp.example:25\""
        ));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Some(format!("{v:?} has no host"));
    }
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Some(format!("{v:?}: {port:?} is not a port number (1-65535)"));
    }
    None
}

fn connections(e: &mut Errors<'_>, cfg: &Config) {
    let list = &cfg.connections;
    if list.len() > MAX_CONNECTIONS {
        e.at(
            &[Key("connection"), Index(MAX_CONNECTIONS)],
            format!(
                "[[connection]]: {} connections defined; at most {MAX_CONNECTIONS} are allowed",
                list.len()
            ),
        );
    }
    for (i, c) in list.iter().enumerate() {
        let at = |k: &'static str| [Key("connection"), Index(i), Key(k)];
        let name = c.name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            e.at(
                &at("name"),
                "[[connection]] name is empty or has control characters",
            );
        }
        if list[..i]
            .iter()
            .any(|o| o.name.trim().eq_ignore_ascii_case(name))
        {
            e.at(
                &at("name"),
                format!("[[connection]] name {name:?} is used twice"),
            );
        }
        let who = format!("[[connection]] {name:?}");
        match c.link {
            LinkKind::Lan => {
                for (k, v) in [("up", &c.up), ("down", &c.down), ("check", &c.check)] {
                    if v.is_some() {
                        e.at(
                            &at(k),
                            format!("{who}: `{k}` is only for link = \"command\" (this link is \"lan\")"),
                        );
                    }
                }
                if c.autoconnect {
                    e.at(
                        &at("autoconnect"),
                        format!("{who}: autoconnect needs link = \"command\""),
                    );
                }
            }
            LinkKind::Command => {
                for (k, v) in [("up", &c.up), ("down", &c.down)] {
                    if v.as_deref().is_none_or(|s| s.trim().is_empty()) {
                        e.at(
                            &at("link"),
                            format!("{who}: link = \"command\" needs `{k}`, the shell command that brings the link {k}"),
                        );
                    }
                }
                if c.check.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    e.at(
                        &at("check"),
                        format!("{who}: `check` is empty; remove it or give a command"),
                    );
                }
            }
        }
        for (j, alt) in c.alternatives.iter().enumerate() {
            let path = [Key("connection"), Index(i), Key("alternatives"), Index(j)];
            match list.iter().find(|o| o.name.trim().eq_ignore_ascii_case(alt.trim())) {
                None => e.at(&path, format!("{who}: alternative {alt:?} is not a [[connection]] name")),
                Some(o) if o.name.trim().eq_ignore_ascii_case(name) => {
                    e.at(&path, format!("{who}: a connection cannot be its own alternative"))
                }
                Some(o) if o.check.is_none() => e.at(
                    &path,
                    format!("{who}: alternative {alt:?} has no `check` command, so it cannot be seen to be up"),
                ),
                Some(_) => {}
            }
        }
        if c.autoconnect
            && c.link == LinkKind::Command
            && c.check.is_none()
            && c.alternatives.is_empty()
        {
            e.at(
                &at("autoconnect"),
                format!(
                    "{who}: autoconnect needs a `check` command (or alternatives) to see the link"
                ),
            );
        }
        let mins: [(&'static str, Duration, u64); 3] = [
            ("dial_timeout", c.dial_timeout.0, 1),
            ("autoconnect_every", c.autoconnect_every.0, 10),
            ("max_online", c.max_online.0, 10),
        ];
        for (k, v, min) in mins {
            if v < Duration::from_secs(min) {
                e.at(
                    &at(k),
                    format!("{who}: {k} is too short; the least is {min}s"),
                );
            }
        }
        if c.dial_retries > 100 {
            e.at(
                &at("dial_retries"),
                format!("{who}: dial_retries = {} is more than 100", c.dial_retries),
            );
        }
        if let Some(o) = &c.outmail {
            if o.method == OutMethod::Relay && o.relays.is_empty() {
                e.at(
                    &[Key("connection"), Index(i), Key("outmail"), Key("method")],
                    format!("{who}: [connection.outmail] method = \"relay\" needs `relays`"),
                );
            }
            for (j, r) in o.relays.iter().enumerate() {
                if let Some(p) = host_port_problem(r) {
                    e.at(
                        &[
                            Key("connection"),
                            Index(i),
                            Key("outmail"),
                            Key("relays"),
                            Index(j),
                        ],
                        format!("{who}: relay {p}"),
                    );
                }
            }
            if o.auth_user.is_some() != o.auth_password.is_some() {
                e.at(
                    &[Key("connection"), Index(i), Key("outmail")],
                    format!("{who}: [connection.outmail] auth_user and auth_password go together"),
                );
            }
        }
        if let Some(s) = &c.smtp_in {
            for (j, d) in s.etrn.iter().enumerate() {
                if let Err(why) = check_domain_name(d.trim_start_matches(['@', '#'])) {
                    e.at(
                        &[
                            Key("connection"),
                            Index(i),
                            Key("smtp_in"),
                            Key("etrn"),
                            Index(j),
                        ],
                        format!("{who}: ETRN domain {d:?} {why}"),
                    );
                }
            }
            let path = [
                Key("connection"),
                Index(i),
                Key("smtp_in"),
                Key("etrn_host"),
            ];
            match &s.etrn_host {
                Some(h) => {
                    if let Some(p) = host_port_problem(h) {
                        e.at(&path, format!("{who}: etrn_host {p}"));
                    }
                }
                None => {
                    let relay = c.outmail.as_ref().is_some_and(|o| !o.relays.is_empty());
                    if !s.etrn.is_empty() && !relay {
                        e.at(
                            &[Key("connection"), Index(i), Key("smtp_in"), Key("etrn")],
                            format!("{who}: ETRN goes to etrn_host or the first Out Mail relay; set one of them"),
                        );
                    }
                }
            }
        }
    }
}

fn schedules(e: &mut Errors<'_>, cfg: &Config) {
    for (i, s) in cfg.schedules.iter().enumerate() {
        let at = |k: &'static str| [Key("schedule"), Index(i), Key(k)];
        let fixed = !s.at.is_empty();
        let interval = s.every.is_some() || s.from.is_some() || s.to.is_some();
        if fixed && interval {
            e.at(&at("at"), "[[schedule]]: use either `at` (fixed times) or `every` with `from` and `to`, not both");
        } else if !fixed && !interval {
            e.at(
                &[Key("schedule"), Index(i)],
                "[[schedule]] has no times: give `at = [\"09:00\"]` or `every`, `from` and `to`",
            );
        } else if interval {
            match (s.every, s.from, s.to) {
                (Some(every), Some(from), Some(to)) => {
                    if every.0 < Duration::from_secs(60) {
                        e.at(&at("every"), "[[schedule]] every is shorter than 1 minute");
                    }
                    if from >= to {
                        e.at(
                            &at("to"),
                            format!("[[schedule]] the window {from}..{to} is empty; `to` must be later than `from` (use two schedules across midnight)"),
                        );
                    }
                }
                _ => e.at(
                    &[Key("schedule"), Index(i)],
                    "[[schedule]] an interval schedule needs all of `every`, `from` and `to`",
                ),
            }
        }
        if s.connections.is_empty() && !cfg.connections.iter().any(|c| c.primary) {
            e.at(
                &[Key("schedule"), Index(i)],
                "[[schedule]] runs the primary connections, but no [[connection]] is primary; list `connections`",
            );
        }
        for (j, n) in s.connections.iter().enumerate() {
            if !cfg
                .connections
                .iter()
                .any(|c| c.name.trim().eq_ignore_ascii_case(n.trim()))
            {
                e.at(
                    &[Key("schedule"), Index(i), Key("connections"), Index(j)],
                    format!("[[schedule]] connection {n:?} is not a [[connection]] name"),
                );
            }
        }
    }
}

fn options(e: &mut Errors<'_>, cfg: &Config) {
    let o = &cfg.connect;
    for (j, h) in o.priority_headers.iter().enumerate() {
        let ok = h.split_once(':').is_some_and(|(f, v)| {
            !f.trim().is_empty()
                && !v.trim().is_empty()
                && f.trim().bytes().all(|b| b.is_ascii_graphic())
        });
        if !ok {
            e.at(
                &[Key("connect"), Key("priority_headers"), Index(j)],
                format!("[connect] priority_headers entry {h:?} is not \"Field: value\""),
            );
        }
    }
    if o.hook_timeout.0 < Duration::from_secs(1) {
        e.at(
            &[Key("connect"), Key("hook_timeout")],
            "[connect] hook_timeout is shorter than 1s",
        );
    }
    for (k, v) in [
        ("post_connect", &o.post_connect),
        ("pre_disconnect", &o.pre_disconnect),
    ] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            e.at(
                &[Key("connect"), Key(k)],
                format!("[connect] {k} is empty; remove it or give a command"),
            );
        }
    }
}

#[cfg(test)]
mod tests {

    use super::super::{test_problems, TEST_BASE as BASE};

    fn problems(extra: &str) -> Vec<String> {
        test_problems(&format!("{BASE}{extra}"))
    }

    /// The start of a dial-up connection "isp" (its table header on the second line).
    const ISP_DIALUP: &str =
        "\n[[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"pon isp\"\n";

    #[test]
    fn a_full_dialup_setup_is_accepted() {
        let ok = ISP_DIALUP.to_string()
            + r#"down = "poff isp"
check = "true"
autoconnect = true
idle_hangup = "2m"
[connection.outmail]
relays = ["smtp.isp.example:25"]
[connection.smtp_in]
etrn = ["example.com"]

[[schedule]]
days = ["weekdays", "sat"]
every = "30m"
from = "08:00"
to = "18:00"

[connect]
users_checked = 2
clock_change = "check"
post_connect = "/bin/true"
"#;
        assert_eq!(problems(&ok), Vec::<String>::new());
    }

    #[test]
    fn mistakes_are_reported_on_their_lines() {
        let bad = ISP_DIALUP.to_string()
            + r#"alternatives = ["nowhere"]
autoconnect = true
[connection.smtp_in]
etrn = ["example.com"]

[[connection]]
name = "ISP"
link = "lan"
down = "x"

[[schedule]]
at = ["09:00"]
every = "1h"

[[schedule]]
every = "30s"
from = "10:00"
to = "09:00"
connections = ["dsl"]
"#;
        let p = problems(&bad).join("\n");
        for want in [
            "9: [[connection]] \"isp\": alternative \"nowhere\" is not a [[connection]] name",
            "needs `down`",
            "ETRN goes to etrn_host or the first Out Mail relay",
            "15: [[connection]] name \"ISP\" is used twice",
            "17: [[connection]] \"ISP\": `down` is only for link = \"command\"",
            "not both",
            "every is shorter than 1 minute",
            "the window 10:00..09:00 is empty",
            "connection \"dsl\" is not a [[connection]] name",
        ] {
            assert!(p.contains(want), "missing {want:?} in:\n{p}");
        }
    }

    #[test]
    fn bad_spans_and_times_name_the_key() {
        let p = problems("[[schedule]]\nat = [\"25:00\"]\n").join("\n");
        assert!(p.contains("not a time of day"), "{p}");
        let p =
            problems("[[connection]]\nname = \"a\"\nretry_interval = \"5 minutes\"\n").join("\n");
        assert!(
            p.contains("retry_interval") && p.contains("not a time span"),
            "{p}"
        );
        let p = problems("[connect]\npriority_headers = [\"no colon\"]\n").join("\n");
        assert!(p.contains("not \"Field: value\""), "{p}");
    }
}
