//! "Route according to detected recipient" (§6.3.2.2): who a collected message is for,
//! read from its header.
//!
//! The header is read in the order of `detect.order` (§6.3.2.2.1): the special header
//! fields, the standard ones (To, Cc, Apparently-To, Resent-To, Resent-Cc) and the
//! `for` clauses of the Received: fields, with "stop if any recipients found" and
//! "stop" markers between them. Only addresses the In Mail's Accepted Domains take
//! (§6.3.6) are recipients; every other address is somebody else's.

use std::collections::HashSet;

use crate::config::{InMail, OrderStep, ReadMode};
use crate::router::headers::{address_spans, fields, header_end, unfold, Field};
use crate::wildcard;

/// Most recipients taken from one header; the rest are named in the trace only. A
/// header listing more local people than this is not an office's mail.
pub const MAX_DETECTED: usize = 1000;

/// Most trace lines kept for one message.
const MAX_TRACE: usize = 200;

/// What the header says the message is for, and how that was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    /// Accepted addresses in the order found, each once (ASCII case ignored).
    pub recipients: Vec<String>,
    pub trace: Vec<String>,
    /// `recipients` in lower case, to keep each once without a quadratic search.
    seen: HashSet<String>,
}

impl Detection {
    fn note(&mut self, line: impl Into<String>) {
        if self.trace.len() < MAX_TRACE {
            self.trace.push(line.into());
        }
    }

    fn add(&mut self, address: &str) {
        if self.recipients.len() >= MAX_DETECTED {
            self.note(format!(
                "{address}: more than {MAX_DETECTED} recipients, not taken"
            ));
            return;
        }
        if self.seen.insert(address.to_ascii_lowercase()) {
            self.recipients.push(address.to_string());
        }
    }
}

/// Whether the In Mail's Accepted Domains take `local@domain`: a domain entry
/// (`example.com`) takes every address there, an address entry (`fred@isp.example`,
/// `*.mysite@mycompany.com`) just the addresses it matches. `*` and `?` are wildcards
/// in both; case is ignored.
pub fn accepts(inmail: &InMail, local: &str, domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    inmail.accepted_domains.iter().any(|entry| {
        let entry = entry.trim();
        match entry.rsplit_once('@') {
            Some(("", d)) => wildcard::matches(d.trim_end_matches('.'), domain),
            Some((l, d)) => {
                wildcard::matches(l, local) && wildcard::matches(d.trim_end_matches('.'), domain)
            }
            None => !entry.is_empty() && wildcard::matches(entry.trim_end_matches('.'), domain),
        }
    })
}

/// [`accepts`] for a whole address; `false` for anything without an `@`.
pub fn accepts_address(inmail: &InMail, address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && accepts(inmail, l, d))
}

/// The accepted recipients of the message whose header is `header` (the whole message
/// may be given; reading stops at the first empty line).
pub fn detect(inmail: &InMail, header: &[u8]) -> Detection {
    let end = header_end(header);
    let all = fields(header, end);
    let mut d = Detection::default();
    let opts = &inmail.detect;
    if inmail.accepted_domains.is_empty() {
        d.note("accepted_domains is empty: no address can be recognised as ours (§6.3.6)");
    }
    for step in &opts.order {
        match step {
            OrderStep::Special => special(inmail, header, &all, &mut d),
            OrderStep::Standard => standard(inmail, header, &all, &mut d),
            OrderStep::Received => received(inmail, header, &all, &mut d),
            OrderStep::StopIfFound => {
                if !d.recipients.is_empty() {
                    d.note("stop: recipients found");
                    break;
                }
            }
            OrderStep::Stop => {
                d.note("stop");
                break;
            }
        }
    }
    if d.recipients.is_empty() {
        d.note("no recipients found");
    }
    d
}

/// The standard recipient fields, Resent- ones unless told to ignore them.
pub fn is_standard(name: &[u8], ignore_resent: bool) -> bool {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    is("To")
        || is("Cc")
        || is("Apparently-To")
        || (!ignore_resent && (is("Resent-To") || is("Resent-Cc")))
}

fn value_str(data: &[u8], f: &Field) -> String {
    unfold(&String::from_utf8_lossy(f.value(data)))
}

fn name_str(data: &[u8], f: &Field) -> String {
    String::from_utf8_lossy(f.name(data)).into_owned()
}

/// Every address in `text`, as written.
fn addresses(text: &str) -> Vec<&str> {
    address_spans(text.as_bytes())
        .into_iter()
        .map(|(s, e)| &text[s..e])
        .collect()
}

/// Keep the accepted addresses of `found` (noting the others).
fn recognised(inmail: &InMail, d: &mut Detection, label: &str, found: Vec<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for a in found {
        if accepts_address(inmail, a) {
            out.push(a.to_string());
        } else {
            d.note(format!("{label}: {a} is not for an accepted domain"));
        }
    }
    out
}

/// Recognised addresses in header order, each once, with the field they came from.
#[derive(Default)]
struct Found {
    list: Vec<(String, String)>,
    seen: HashSet<String>,
}

impl Found {
    fn push(&mut self, label: &str, address: String) {
        if self.list.len() < MAX_DETECTED && self.seen.insert(address.to_ascii_lowercase()) {
            self.list.push((label.to_string(), address));
        }
    }
}

/// Apply a read mode to recognised addresses found in header order.
fn read(mode: ReadMode, found: Found, d: &mut Detection, what: &str) {
    let found = found.list;
    let chosen: Vec<(String, String)> = match mode {
        ReadMode::Forwards => found.into_iter().take(1).collect(),
        ReadMode::Reversed => found.into_iter().last().into_iter().collect(),
        ReadMode::All => found,
    };
    let how = match mode {
        ReadMode::Forwards => "forwards: the first",
        ReadMode::Reversed => "reversed: the last",
        ReadMode::All => "all",
    };
    if chosen.is_empty() {
        d.note(format!("{what}: no recognised address"));
    }
    for (label, a) in chosen {
        d.note(format!("{what} ({how}): {label}: {a}"));
        d.add(&a);
    }
}

/// One entry of `detect.special_headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Special<'a> {
    /// `X-Envelope-To`: every such field.
    Plain(&'a str),
    /// `Delivered-To:1`: only the Nth such field (1 = first, -1 = last).
    Position(&'a str, i64),
    /// `Delivered-To: account-*`: the part of the value where the `*` is.
    Pattern(&'a str, &'a str, &'a str),
}

impl<'a> Special<'a> {
    fn parse(entry: &'a str) -> Option<Special<'a>> {
        let (name, rest) = match entry.split_once(':') {
            Some((n, r)) => (n.trim(), r.trim()),
            None => (entry.trim(), ""),
        };
        if name.is_empty() {
            return None;
        }
        if rest.is_empty() {
            return Some(Special::Plain(name));
        }
        if let Ok(n) = rest.parse::<i64>() {
            if n != 0 {
                return Some(Special::Position(name, n));
            }
        }
        let (prefix, suffix) = rest.split_once('*').unwrap_or((rest, ""));
        Some(Special::Pattern(name, prefix, suffix))
    }

    fn name(&self) -> &'a str {
        match self {
            Special::Plain(n) | Special::Position(n, _) | Special::Pattern(n, _, _) => n,
        }
    }
}

/// The part of `value` a `prefix*suffix` pattern marks (prefix and suffix compared
/// ignoring ASCII case); `None` if the value does not have the prefix.
fn extract<'v>(value: &'v str, prefix: &str, suffix: &str) -> Option<&'v str> {
    let lower = value.to_ascii_lowercase();
    let start = if prefix.is_empty() {
        0
    } else {
        lower.find(&prefix.to_ascii_lowercase())? + prefix.len()
    };
    let rest = &value[start..];
    if suffix.is_empty() {
        return Some(rest);
    }
    let end = rest
        .to_ascii_lowercase()
        .find(&suffix.to_ascii_lowercase())?;
    Some(&rest[..end])
}

fn special(inmail: &InMail, data: &[u8], all: &[Field], d: &mut Detection) {
    let entries: Vec<Special<'_>> = inmail
        .detect
        .special_headers
        .iter()
        .filter_map(|e| Special::parse(e))
        .collect();
    if entries.is_empty() {
        d.note("special header fields: none configured");
        return;
    }
    // The one field each position entry names, found once.
    let positions: Vec<Option<usize>> = entries
        .iter()
        .map(|e| match e {
            Special::Position(n, pos) => {
                let same: Vec<usize> = all
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.is(data, n))
                    .map(|(j, _)| j)
                    .collect();
                let want = if *pos > 0 {
                    usize::try_from(pos - 1).ok()
                } else {
                    usize::try_from(pos.unsigned_abs())
                        .ok()
                        .and_then(|back| same.len().checked_sub(back))
                };
                want.and_then(|w| same.get(w).copied())
            }
            _ => None,
        })
        .collect();
    let mut found = Found::default();
    for (i, f) in all.iter().enumerate() {
        for (k, e) in entries.iter().enumerate() {
            if !f.is(data, e.name()) {
                continue;
            }
            let label = name_str(data, f);
            let value = value_str(data, f);
            let part = match e {
                Special::Plain(_) => Some(value.as_str()),
                Special::Position(..) => (positions[k] == Some(i)).then_some(value.as_str()),
                Special::Pattern(_, p, s) => extract(&value, p, s),
            };
            let Some(part) = part else { continue };
            for a in recognised(inmail, d, &label, addresses(part)) {
                found.push(&label, a);
            }
        }
    }
    read(
        inmail.detect.special_read,
        found,
        d,
        "special header fields",
    );
}

fn standard(inmail: &InMail, data: &[u8], all: &[Field], d: &mut Detection) {
    let mut any = false;
    for f in all {
        if !is_standard(f.name(data), inmail.detect.ignore_resent) {
            continue;
        }
        let label = name_str(data, f);
        let value = value_str(data, f);
        for a in recognised(inmail, d, &label, addresses(&value)) {
            d.note(format!("standard header fields: {label}: {a}"));
            d.add(&a);
            any = true;
        }
    }
    if !any {
        d.note("standard header fields: no recognised address");
    }
}

/// The words after each `for` in a Received: value (`for <a@b>;` gives `a@b`).
pub fn received_for(value: &str) -> Vec<&str> {
    let words: Vec<&str> = value.split_whitespace().collect();
    let mut out = Vec::new();
    for pair in words.windows(2) {
        if pair[0].eq_ignore_ascii_case("for") {
            let t = pair[1]
                .trim_end_matches([';', ','])
                .trim_start_matches('<')
                .trim_end_matches('>');
            if !t.is_empty() {
                out.push(t);
            }
        }
    }
    out
}

fn received(inmail: &InMail, data: &[u8], all: &[Field], d: &mut Detection) {
    let opts = &inmail.detect;
    let mut found = Found::default();
    for f in all.iter().filter(|f| f.is(data, "Received")) {
        let value = value_str(data, f);
        for token in received_for(&value) {
            let address = if token.contains('@') {
                token.to_string()
            } else if opts.ignore_received_without_at {
                d.note(format!(
                    "Received: for {token}: no '@', ignored (detect.ignore_received_without_at)"
                ));
                continue;
            } else {
                // A bare name is a local name: give it the first accepted domain.
                match inmail
                    .accepted_domains
                    .iter()
                    .map(|e| e.trim())
                    .find(|e| !e.contains(['@', '*', '?']) && !e.is_empty())
                {
                    Some(dom) => format!("{token}@{dom}"),
                    None => {
                        d.note(format!(
                            "Received: for {token}: no '@' and no accepted domain to add"
                        ));
                        continue;
                    }
                }
            };
            if !accepts_address(inmail, &address) {
                d.note(format!(
                    "Received: for {address} is not for an accepted domain"
                ));
                continue;
            }
            found.push("Received: for", address);
        }
    }
    read(opts.received_read, found, d, "Received: fields");
}
