//! LAN forwarding rules, SMTPFWD.DAT (§13.3), kept verbatim so a VPOP3 file can be
//! used as it is:
//!
//! ```text
//! [(conditions)] <address to match> <server>[:port] [<rewritten address>]
//! ```
//!
//! - the address may use `*` and `?`; `~@domain` matches an address of `domain` only
//!   when no other rule matches (and, on the routing side, no local user does);
//! - a `*@…` rewrite puts the original local part where the `*` is;
//! - conditions limit when a rule applies: `pop3` (collected mail), `smtp` (mail that
//!   arrived by SMTP or was sent locally), In Mail numbers (`1-5`, `3`) or names;
//! - the first matching rule wins; `#` and `;` start comment lines.

use crate::router::Source;
use crate::wildcard;

/// When a rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Pop3,
    Smtp,
    /// In Mail numbers `from..=to` (1-based, in file order).
    InMailRange(u32, u32),
    InMailName(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanRule {
    /// 1-based line in the file, for messages.
    pub line: usize,
    /// Empty: always.
    pub conditions: Vec<Condition>,
    /// The address pattern (`~@domain` kept as written).
    pub pattern: String,
    /// `host:port` (port 25 added when missing).
    pub server: String,
    pub rewrite: Option<String>,
}

impl LanRule {
    fn is_unknown_rule(&self) -> bool {
        self.pattern.starts_with("~@")
    }

    fn applies(&self, source: &Source, in_mail_number: Option<u32>) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        self.conditions.iter().any(|c| match (c, source) {
            (Condition::Pop3, Source::Pop3(_)) => true,
            (Condition::Smtp, Source::Smtp | Source::Local) => true,
            (Condition::InMailRange(a, b), Source::Pop3(_)) => {
                in_mail_number.is_some_and(|n| (*a..=*b).contains(&n))
            }
            (Condition::InMailName(n), Source::Pop3(name)) => n.eq_ignore_ascii_case(name),
            _ => false,
        })
    }
}

/// Where a recipient is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanTarget {
    pub server: String,
    /// The address to give that server.
    pub address: String,
}

/// A problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub line: usize,
    pub message: String,
}

/// Parse SMTPFWD.DAT; every bad line is reported.
pub fn parse_rules(text: &str) -> Result<Vec<LanRule>, Vec<RuleError>> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        match parse_line(t, line) {
            Ok(r) => rules.push(r),
            Err(message) => errors.push(RuleError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn parse_line(t: &str, line: usize) -> Result<LanRule, String> {
    let mut rest = t;
    let mut conditions = Vec::new();
    if let Some(after) = rest.strip_prefix('(') {
        let end = after
            .find(')')
            .ok_or("a condition list starts with '(' but has no ')'")?;
        for c in after[..end].split(',') {
            conditions.push(parse_condition(c.trim())?);
        }
        rest = after[end + 1..].trim_start();
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (pattern, server, rewrite) = match words.as_slice() {
        [p, s] => (*p, *s, None),
        [p, s, r] => (*p, *s, Some(*r)),
        _ => return Err("write `[(conditions)] address server[:port] [rewritten address]`".into()),
    };
    if !pattern.contains('@') {
        return Err(format!("{pattern:?} is not an address (no '@')"));
    }
    if let Some(r) = rewrite {
        if !r.contains('@') {
            return Err(format!("the rewritten address {r:?} has no '@'"));
        }
        if r.starts_with("*@") && !pattern.starts_with("*@") {
            return Err(format!(
                "the rewrite {r:?} keeps the local part, so the address must start with \"*@\""
            ));
        }
    }
    Ok(LanRule {
        line,
        conditions,
        pattern: pattern.to_string(),
        server: with_port(server)?,
        rewrite: rewrite.map(str::to_string),
    })
}

fn parse_condition(c: &str) -> Result<Condition, String> {
    if c.eq_ignore_ascii_case("pop3") {
        return Ok(Condition::Pop3);
    }
    if c.eq_ignore_ascii_case("smtp") {
        return Ok(Condition::Smtp);
    }
    let num = |s: &str| s.trim().parse::<u32>().ok().filter(|n| *n >= 1);
    if let Some((a, b)) = c.split_once('-') {
        if let (Some(a), Some(b)) = (num(a), num(b)) {
            if a <= b {
                return Ok(Condition::InMailRange(a, b));
            }
        }
    }
    if let Some(n) = num(c) {
        return Ok(Condition::InMailRange(n, n));
    }
    if c.is_empty() {
        return Err("an empty condition".into());
    }
    Ok(Condition::InMailName(c.to_string()))
}

fn with_port(server: &str) -> Result<String, String> {
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h, Some(p)),
        _ => (server, None),
    };
    if host.is_empty() {
        return Err(format!("{server:?} has no host"));
    }
    match port {
        None => Ok(format!("{server}:25")),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(server.to_string()),
            _ => Err(format!("{server:?}: {p:?} is not a port number")),
        },
    }
}

/// Where `address` goes, if a rule forwards it. `~@` rules apply only when no other
/// rule matched (the caller checks local users before asking for those:
/// `include_unknown`).
pub fn lan_target(
    rules: &[LanRule],
    address: &str,
    source: &Source,
    in_mail_number: Option<u32>,
    include_unknown: bool,
) -> Option<LanTarget> {
    lan_rule(rules, address, source, in_mail_number, include_unknown).map(|(_, t)| t)
}

/// [`lan_target`] with the rule that matched, for explanations.
pub fn lan_rule<'r>(
    rules: &'r [LanRule],
    address: &str,
    source: &Source,
    in_mail_number: Option<u32>,
    include_unknown: bool,
) -> Option<(&'r LanRule, LanTarget)> {
    let usable = |r: &&LanRule| r.applies(source, in_mail_number);
    let hit = rules
        .iter()
        .filter(usable)
        .find(|r| !r.is_unknown_rule() && wildcard::matches(&r.pattern, address))
        .or_else(|| {
            include_unknown
                .then(|| {
                    let domain = address.rsplit_once('@').map(|(_, d)| d)?;
                    rules.iter().filter(usable).find(|r| {
                        r.is_unknown_rule() && r.pattern[2..].eq_ignore_ascii_case(domain)
                    })
                })
                .flatten()
        })?;
    let target = LanTarget {
        server: hit.server.clone(),
        address: rewrite(hit, address),
    };
    Some((hit, target))
}

fn rewrite(rule: &LanRule, address: &str) -> String {
    match &rule.rewrite {
        None => address.to_string(),
        Some(r) => match r.strip_prefix("*@") {
            Some(domain) => {
                let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
                format!("{local}@{domain}")
            }
            None => r.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANUAL: &str = "\
# from the manual (§13.3)
joe@company.com 192.168.66.101:1025
fred@company.com 192.168.66.102
~@company.com 192.168.66.101:1025 joe@company.com
*@other.com 192.168.66.102 *@othercompany.com
(pop3) pop@domain.com 192.168.1.1
(smtp) pop@domain.com 192.168.1.2
(1-5) bob@domain.com 192.168.1.1
(smtp,1,3) jill@domain.com 192.168.1.1
";

    #[test]
    fn manual_rules_parse_and_match() {
        let rules = parse_rules(MANUAL).unwrap();
        assert_eq!(rules.len(), 8);
        let smtp = Source::Smtp;
        let t = |a: &str, s: &Source, n: Option<u32>| lan_target(&rules, a, s, n, true);
        assert_eq!(
            t("joe@company.com", &smtp, None),
            Some(LanTarget {
                server: "192.168.66.101:1025".into(),
                address: "joe@company.com".into()
            })
        );
        assert_eq!(
            t("fred@company.com", &smtp, None).unwrap().server,
            "192.168.66.102:25"
        );
        // The ~@ rule: only when nothing else matched.
        assert_eq!(
            t("anyone@company.com", &smtp, None).unwrap().address,
            "joe@company.com"
        );
        assert_eq!(
            lan_target(&rules, "anyone@company.com", &smtp, None, false),
            None
        );
        assert_eq!(
            t("fran@other.com", &smtp, None).unwrap().address,
            "fran@othercompany.com"
        );
        let pop = Source::Pop3("isp".into());
        assert_eq!(
            t("pop@domain.com", &pop, Some(1)).unwrap().server,
            "192.168.1.1:25"
        );
        assert_eq!(
            t("pop@domain.com", &smtp, None).unwrap().server,
            "192.168.1.2:25"
        );
        assert!(t("bob@domain.com", &pop, Some(3)).is_some());
        assert!(t("bob@domain.com", &pop, Some(6)).is_none());
        assert!(t("bob@domain.com", &smtp, None).is_none());
        assert!(t("jill@domain.com", &pop, Some(3)).is_some());
        assert!(t("jill@domain.com", &pop, Some(2)).is_none());
        assert!(t("jill@domain.com", &Source::Local, None).is_some());
        assert!(t("nobody@elsewhere.com", &smtp, None).is_none());
    }

    #[test]
    fn first_match_wins() {
        let rules = parse_rules("fred@company.com 192.168.66.101\nf*@company.com 192.168.66.102\n")
            .unwrap();
        let s = Source::Smtp;
        assert_eq!(
            lan_target(&rules, "fred@company.com", &s, None, true)
                .unwrap()
                .server,
            "192.168.66.101:25"
        );
        assert_eq!(
            lan_target(&rules, "fran@company.com", &s, None, true)
                .unwrap()
                .server,
            "192.168.66.102:25"
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_numbers() {
        let errs = parse_rules("ok@x.com 10.0.0.1\nnoat 10.0.0.1\n(pop3 a@b.c 1.2.3.4\na@b.c 1.2.3.4:99999\na@b.c host x y\nfred@x.com h *@y.com\n").unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
    }
}
