//! List digests (§14.6.1.2.1): `LIST_Digest` gets every N days, at midnight (UTC) or
//! the next time the runtime looks, one MIME digest (RFC 2046 §5.1.5) of the posts
//! since the last one, sorted by subject and then by time.

use super::post::{digest_name, list_address};
use super::{at_domain, header, qualify, return_address, token_chars, OutMail, Roster, Writer};
use crate::config::{Config, List};
use crate::time::Instant;

const DAY: u64 = 86_400;

/// One collected post: when it was distributed (Unix seconds) and the list's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    pub at: u64,
    pub data: Vec<u8>,
}

/// Whether a digest is due at `now` when the last went out at `last` (Unix seconds):
/// `every` whole days (UTC dates) later.
pub fn due(last: u64, now: Instant, every: u32) -> bool {
    now.unix_secs() / DAY >= last / DAY + u64::from(every.max(1))
}

/// Whether a post already sent in a digest at `at` is past keeping at `now`.
pub fn expired(at: u64, now: Instant, keep_days: u32) -> bool {
    now.unix_secs().saturating_sub(at) > u64::from(keep_days.max(1)) * DAY
}

/// The subject a post sorts under: without `Re:`/`Fwd:` prefixes, any case.
fn sort_subject(data: &[u8]) -> String {
    let mut s = header(data, "Subject").unwrap_or_default();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fwd:", "fw:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start().to_string(),
            None => return s.to_lowercase(),
        }
    }
}

/// The digest of `posts` for the members of `list`'s digest list, if there is
/// anything to send and anyone to send it to.
pub fn build(
    config: &Config,
    list: &List,
    roster: &Roster,
    mut posts: Vec<Collected>,
    now: Instant,
    id: &str,
) -> Option<OutMail> {
    let to: Vec<String> = roster
        .members
        .iter()
        .filter(|m| m.receives(now))
        .map(|m| qualify(config, &m.address))
        .collect();
    if posts.is_empty() || to.is_empty() {
        return None;
    }
    posts.sort_by_cached_key(|p| (sort_subject(&p.data), p.at));
    let name = digest_name(list);
    let addr = at_domain(config, &name);
    let boundary = format!("=_mailroom_digest_{}", token_chars(id));
    let mut w = Writer::new();
    w.date(now);
    w.field("From", &list_address(config, list));
    w.field("To", &addr);
    w.field(
        "Subject",
        &format!(
            "{name}, {} ({} message{})",
            super::today(now),
            posts.len(),
            if posts.len() == 1 { "" } else { "s" }
        ),
    );
    w.field(
        "Message-ID",
        &format!("<{}@{}>", token_chars(id), config.hostname),
    );
    w.field(
        "List-Id",
        &format!(
            "{name} <{}.{}>",
            name.to_ascii_lowercase(),
            config.default_domain.to_ascii_lowercase()
        ),
    );
    w.field(
        "List-Unsubscribe",
        &format!(
            "<mailto:{}?subject=unsubscribe%20{name}>",
            at_domain(config, super::LISTSERVER)
        ),
    );
    w.field("Precedence", "list");
    w.field("X-BeenThere", &addr);
    w.field("MIME-Version", "1.0");
    w.field(
        "Content-Type",
        &format!("multipart/digest; boundary=\"{boundary}\""),
    );
    let mut m = w.m;
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").as_bytes(),
    );
    m.extend_from_slice(format!("{name}: {} messages\r\n\r\n", posts.len()).as_bytes());
    for p in &posts {
        let subject = header(&p.data, "Subject").unwrap_or_default();
        let from = header(&p.data, "From").unwrap_or_default();
        m.extend_from_slice(format!("  {subject} ({from})\r\n").as_bytes());
    }
    for p in &posts {
        // In a multipart/digest each part is message/rfc822 by default.
        m.extend_from_slice(format!("\r\n--{boundary}\r\n\r\n").as_bytes());
        m.extend_from_slice(&p.data);
        if !p.data.ends_with(b"\n") {
            m.extend_from_slice(b"\r\n");
        }
    }
    m.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(OutMail {
        from: Some(return_address(config, list)),
        to,
        data: m,
    })
}
