//! Value checks after a `mailroom.toml` has the right shape, each located by line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

use super::parse::line_of;

mod connections;
mod inmail;
mod mailauth;
mod outbound;

pub(super) mod routing;
use super::{Config, ConfigError};

/// Why a name is not a usable domain or host name, or `Ok` if it is.
///
/// Letters, digits and `-` in dot-separated labels of 1–63 characters, not starting or
/// ending with `-`, 253 characters at most. A single label (`localhost`) is allowed: a
/// small office may well run on an internal name.
pub fn check_domain_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return Err(format!("has a label longer than 63 characters ({label})"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "contains {c:?}; only letters, digits, '-' and '.' are allowed"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("has a label starting or ending with '-' ({label})"));
        }
    }
    Ok(())
}

/// One step into the TOML tree.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}
use Seg::{Index, Key};

enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

/// Finds the line of a key or array element in the original text.
struct Locator<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    /// The line of the deepest part of `path` that exists in the text (line 1 if none:
    /// a value that is only a default has no line of its own).
    fn line(&self, path: &[Seg<'_>]) -> usize {
        let Some(doc) = &self.doc else { return 1 };
        let mut node = Node::Item(doc.as_item());
        let mut span: Option<Range<usize>> = None;
        for seg in path {
            let Some((s, next)) = step(&node, *seg) else {
                break;
            };
            if s.is_some() {
                span = s;
            }
            node = next;
        }
        span.map(|s| line_of(self.text, s.start)).unwrap_or(1)
    }
}

fn step<'n>(node: &Node<'n>, seg: Seg<'_>) -> Option<(Option<Range<usize>>, Node<'n>)> {
    match seg {
        Key(k) => {
            let table: &dyn toml_edit::TableLike = match node {
                Node::Item(i) => i.as_table_like()?,
                Node::Value(v) => v.as_inline_table()?,
                Node::Table(t) => *t,
            };
            let (key, item) = table.get_key_value(k)?;
            Some((key.span().or_else(|| item.span()), Node::Item(item)))
        }
        Index(i) => match node {
            Node::Item(Item::ArrayOfTables(a)) => {
                let t = a.get(i)?;
                Some((t.span(), Node::Table(t)))
            }
            Node::Item(item) => {
                let v = item.as_array()?.get(i)?;
                Some((v.span(), Node::Value(v)))
            }
            Node::Value(v) => {
                let v = v.as_array()?.get(i)?;
                Some((v.span(), Node::Value(v)))
            }
            Node::Table(_) => None,
        },
    }
}

struct Errors<'a> {
    loc: Locator<'a>,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn at(&mut self, path: &[Seg<'_>], message: impl Into<String>) {
        let line = self.loc.line(path);
        self.list.push(ConfigError {
            line,
            message: message.into(),
        });
    }
}

/// Every value problem in `cfg`, sorted by line.
pub(crate) fn validate(text: &str, cfg: &Config) -> Vec<ConfigError> {
    let mut e = Errors {
        loc: Locator::new(text),
        list: Vec::new(),
    };

    if let Err(why) = check_domain_name(&cfg.hostname) {
        e.at(&[Key("hostname")], format!("hostname {why}"));
    }
    if let Err(why) = check_domain_name(&cfg.default_domain) {
        e.at(&[Key("default_domain")], format!("default_domain {why}"));
    }
    if cfg.local_domains.is_empty() {
        e.at(
            &[Key("local_domains")],
            "local_domains is empty; list at least the domain whose mail this server keeps",
        );
    }
    for (i, d) in cfg.local_domains.iter().enumerate() {
        if let Err(why) = check_domain_name(d) {
            e.at(
                &[Key("local_domains"), Index(i)],
                format!("local_domains entry {d:?} {why}"),
            );
        }
    }

    services(&mut e, cfg);
    tls(&mut e, cfg);
    smtp(&mut e, cfg);
    defense(&mut e, cfg);
    accounts(&mut e, cfg);
    pop3(&mut e, cfg);
    pass(&mut e, cfg);
    imap(&mut e, cfg);
    connections::check(&mut e, cfg);
    outbound::check(&mut e, cfg);
    routing::check(&mut e, cfg);
    inmail::check(&mut e, cfg);
    mailauth::check(&mut e, cfg);

    e.list.sort_by_key(|x| x.line);
    e.list
}

fn services(e: &mut Errors<'_>, cfg: &Config) {
    let s = &cfg.services;
    let lists: [(&str, &Vec<String>); 9] = [
        ("smtp", &s.smtp),
        ("smtps", &s.smtps),
        ("pop3", &s.pop3),
        ("pop3s", &s.pop3s),
        ("imap", &s.imap),
        ("imaps", &s.imaps),
        ("http", &s.http),
        ("https", &s.https),
        ("pass", &s.pass),
    ];
    let mut seen: BTreeMap<SocketAddr, &str> = BTreeMap::new();
    for (name, addrs) in lists {
        for (i, a) in addrs.iter().enumerate() {
            let path = [Key("services"), Key(name), Index(i)];
            match a.parse::<SocketAddr>() {
                Err(_) => e.at(
                    &path,
                    format!(
                        "[services] {name}: {a:?} is not an address with a port; \
                         write e.g. \"127.0.0.1:2525\", \"0.0.0.0:25\" or \"[::1]:2525\""
                    ),
                ),
                // Port 0 asks the system for any free port, so it never collides.
                Ok(sa) if sa.port() != 0 => {
                    if let Some(other) = seen.insert(sa, name) {
                        e.at(
                            &path,
                            format!("[services] {name}: {a} is already used by {other}"),
                        );
                    }
                }
                Ok(_) => {}
            }
        }
    }
    let implicit_tls = [
        ("smtps", &s.smtps),
        ("pop3s", &s.pop3s),
        ("imaps", &s.imaps),
    ];
    if cfg.tls.cert.is_none() || cfg.tls.key.is_none() {
        for (name, addrs) in implicit_tls {
            if !addrs.is_empty() {
                e.at(
                    &[Key("services"), Key(name)],
                    format!(
                        "[services] {name} uses TLS from the first byte, which needs \
                         [tls] cert and key; set them or make {name} an empty list"
                    ),
                );
            }
        }
    }
}

fn tls(e: &mut Errors<'_>, cfg: &Config) {
    match (&cfg.tls.cert, &cfg.tls.key) {
        (Some(_), None) => e.at(
            &[Key("tls"), Key("cert")],
            "[tls] cert is set but key is not; set both or neither",
        ),
        (None, Some(_)) => e.at(
            &[Key("tls"), Key("key")],
            "[tls] key is set but cert is not; set both or neither",
        ),
        _ => {}
    }
    for (k, v) in [("cert", &cfg.tls.cert), ("key", &cfg.tls.key)] {
        if v.as_deref().is_some_and(|p| p.trim().is_empty()) {
            e.at(
                &[Key("tls"), Key(k)],
                format!("[tls] {k} is empty; give a file path or remove the key"),
            );
        }
    }
}

fn smtp(e: &mut Errors<'_>, cfg: &Config) {
    let s = &cfg.smtp;
    // RFC 5321 §4.5.3.1: command lines of 512 octets and text lines of 1000 (998 + CRLF)
    // must be accepted; less breaks ordinary mail. Recipient and time limits are the
    // administrator's choice (the RFC's 100 recipients and 5 minutes are the defaults' floor
    // in spirit, but a test setup may want less).
    let mins: [(&str, u64, u64, &str); 5] = [
        (
            "max_command_line",
            s.max_command_line.into(),
            512,
            "RFC 5321 requires 512",
        ),
        (
            "max_data_line",
            s.max_data_line.into(),
            998,
            "RFC 5321 requires 998",
        ),
        (
            "max_recipients",
            s.max_recipients.into(),
            1,
            "0 would refuse every message",
        ),
        (
            "max_errors",
            s.max_errors.into(),
            1,
            "0 would close at once",
        ),
        (
            "idle_timeout_secs",
            s.idle_timeout_secs.into(),
            1,
            "0 would close every session at once",
        ),
    ];
    at_least(e, "smtp", &mins);
    for (i, zone) in s.dnsbl.iter().enumerate() {
        if let Err(why) = check_domain_name(zone) {
            e.at(
                &[Key("smtp"), Key("dnsbl"), Index(i)],
                format!("[smtp] dnsbl zone {zone:?} {why}"),
            );
        }
    }
    if !s.dnsbl.is_empty() && s.dnsbl_timeout.is_zero() {
        e.at(
            &[Key("smtp"), Key("dnsbl_timeout")],
            "[smtp] dnsbl_timeout must be more than 0: a lookup needs some time",
        );
    }
}

/// `[ids]` and `[limits]` (docs/DEFENSE.md).
fn defense(e: &mut Errors<'_>, cfg: &Config) {
    let ids = &cfg.ids;
    if ids.enabled {
        let mins: [(&str, u64, u64, &str); 3] = [
            (
                "block_after",
                ids.block_after.into(),
                1,
                "0 would block every client at its first connection",
            ),
            (
                "block_minutes",
                ids.block_minutes.into(),
                1,
                "a block must last some time; set enabled = false to block nobody",
            ),
            (
                "window_minutes",
                ids.window_minutes.into(),
                1,
                "errors must be counted over some time",
            ),
        ];
        at_least(e, "ids", &mins);
    }
    const SERVICES: [&str; 9] = [
        "smtp", "smtps", "pop3", "pop3s", "imap", "imaps", "http", "https", "pass",
    ];
    for key in cfg.limits.services.keys() {
        if !SERVICES.contains(&key.as_str()) {
            e.at(
                &[Key("limits"), Key(key)],
                format!(
                    "[limits.{key}]: {key:?} is no service; expected one of {}, or the keys max_connections and max_per_client",
                    SERVICES.join(", ")
                ),
            );
        }
    }
}

fn accounts(e: &mut Errors<'_>, cfg: &Config) {
    let a = &cfg.accounts;
    if !(1..=16).contains(&a.min_password_length) {
        e.at(
            &[Key("accounts"), Key("min_password_length")],
            format!(
                "[accounts] min_password_length = {} is out of range; use 1 to 16",
                a.min_password_length
            ),
        );
    }
    if a.lockout_failures > 0 && a.lockout_minutes == 0 {
        e.at(
            &[Key("accounts"), Key("lockout_minutes")],
            "[accounts] lockout_minutes is 0 while lockout_failures is set; \
             use at least 1, or set lockout_failures = 0 to never lock",
        );
    }
}

fn pop3(e: &mut Errors<'_>, cfg: &Config) {
    let p = &cfg.pop3;
    if p.require_apop && !cfg.accounts.challenge_response {
        e.at(
            &[Key("pop3"), Key("require_apop")],
            "[pop3] require_apop needs [accounts] challenge_response = true (APOP checks \
             a reusable secret the server keeps only then)",
        );
    }
    let idle = (60, "RFC 1939 asks for 600");
    let line = (255, "RFC 2449 requires 255");
    let (i, l, n) = (p.idle_timeout_secs, p.max_command_line, p.max_errors);
    line_service(e, "pop3", (i, idle), (l, line), n);
}

fn pass(e: &mut Errors<'_>, cfg: &Config) {
    let p = &cfg.pass;
    let idle = (1, "0 would close every session at once");
    let line = (64, "shorter lines would cut ordinary passwords");
    let (i, l, n) = (p.idle_timeout_secs, p.max_command_line, p.max_errors);
    line_service(e, "pass", (i, idle), (l, line), n);
}

fn imap(e: &mut Errors<'_>, cfg: &Config) {
    let p = &cfg.imap;
    if p.require_cram_md5 && !cfg.accounts.challenge_response {
        e.at(
            &[Key("imap"), Key("require_cram_md5")],
            "[imap] require_cram_md5 needs [accounts] challenge_response = true (CRAM-MD5 \
             checks a reusable secret the server keeps only then)",
        );
    }
    let idle = (1800, "RFC 3501 §5.4 asks for at least 30 minutes");
    // RFC 7162 §4 suggests 8192; a shorter limit cuts ordinary UID sets.
    let line = (1000, "RFC 2683 §3.2.1.5 suggests 8000");
    let (i, l, n) = (p.idle_timeout_secs, p.max_command_line, p.max_errors);
    line_service(e, "imap", (i, idle), (l, line), n);
    at_least(
        e,
        "imap",
        &[(
            "max_literal",
            p.max_literal.into(),
            1024,
            "smaller would refuse ordinary messages",
        )],
    );
}

/// The least a bound may be, and why.
type Least = (u64, &'static str);

/// The three bounds every line-based service section has.
fn line_service(
    e: &mut Errors<'_>,
    section: &'static str,
    (idle, idle_least): (u32, Least),
    (line, line_least): (u32, Least),
    errors: u32,
) {
    let mins = [
        ("idle_timeout_secs", idle.into(), idle_least.0, idle_least.1),
        ("max_command_line", line.into(), line_least.0, line_least.1),
        ("max_errors", errors.into(), 1, "0 would close at once"),
    ];
    at_least(e, section, &mins);
}

/// Refuse each `(key, value, least, why)` whose value is below its least.
fn at_least(e: &mut Errors<'_>, section: &'static str, mins: &[(&'static str, u64, u64, &str)]) {
    for &(key, value, min, why) in mins {
        if value < min {
            e.at(
                &[Key(section), Key(key)],
                format!("[{section}] {key} = {value} is too small; the least is {min} ({why})"),
            );
        }
    }
}

/// The three required keys, for tests that add a section after them.
#[cfg(test)]
const TEST_BASE: &str =
    "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n";

/// Every problem `parse_config` finds in `text`, as `"line: message"`.
#[cfg(test)]
fn test_problems(text: &str) -> Vec<String> {
    match super::parse_config(text) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert!(check_domain_name("example.com").is_ok());
        assert!(check_domain_name("localhost").is_ok());
        assert!(check_domain_name("a-b.c0.example").is_ok());
        assert!(check_domain_name("").is_err());
        assert!(check_domain_name("exa mple.com").is_err());
        assert!(check_domain_name("example..com").is_err());
        assert!(check_domain_name("example.com.").is_err());
        assert!(check_domain_name("-x.com").is_err());
        assert!(check_domain_name("x-.com").is_err());
        assert!(check_domain_name("user@example.com").is_err());
        assert!(check_domain_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn imap_bounds_have_defaults_and_a_least() {
        let config = super::super::parse_config(TEST_BASE).unwrap();
        let i = &config.imap;
        assert_eq!(
            (
                i.idle_timeout_secs,
                i.max_command_line,
                i.max_literal,
                i.max_errors
            ),
            (1800, 65_536, 52_428_800, 20)
        );
        let text = format!(
            "{TEST_BASE}[imap]\nidle_timeout_secs = 60\nmax_literal = 10\nmax_errors = 0\n"
        );
        assert_eq!(
            super::test_problems(&text),
            [
                "5: [imap] idle_timeout_secs = 60 is too small; the least is 1800 (RFC 3501 \
                 §5.4 asks for at least 30 minutes)",
                "6: [imap] max_literal = 10 is too small; the least is 1024 (smaller would \
                 refuse ordinary messages)",
                "7: [imap] max_errors = 0 is too small; the least is 1 (0 would close at once)",
            ]
        );
    }

    #[test]
    fn password_service_bounds_have_defaults_and_a_least() {
        let config = super::super::parse_config(TEST_BASE).unwrap();
        assert_eq!(
            (
                config.pass.idle_timeout_secs,
                config.pass.max_command_line,
                config.pass.max_errors
            ),
            (300, 512, 10)
        );
        let text = format!("{TEST_BASE}[pass]\nmax_command_line = 16\nmax_errors = 0\n");
        assert_eq!(
            super::test_problems(&text),
            [
                "5: [pass] max_command_line = 16 is too small; the least is 64 (shorter lines \
                 would cut ordinary passwords)",
                "6: [pass] max_errors = 0 is too small; the least is 1 (0 would close at once)",
            ]
        );
    }

    #[test]
    fn locator_finds_keys_and_array_elements() {
        let text = "hostname = \"h\"\n\n[services]\nsmtp = [\n  \"a\",\n  \"b\",\n]\n";
        let loc = Locator::new(text);
        assert_eq!(loc.line(&[Key("hostname")]), 1);
        assert_eq!(loc.line(&[Key("services")]), 3);
        assert_eq!(loc.line(&[Key("services"), Key("smtp")]), 4);
        assert_eq!(loc.line(&[Key("services"), Key("smtp"), Index(1)]), 6);
        // Missing leaves fall back to the deepest part present.
        assert_eq!(loc.line(&[Key("services"), Key("pop3")]), 3);
        assert_eq!(loc.line(&[Key("smtp"), Key("dsn")]), 1);
    }
}
