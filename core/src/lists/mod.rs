//! Mailing lists (§14.6): posting, moderation and the ListServer as pure functions.
//!
//! Each entry point takes a message, the list settings, the members ([`Roster`]) and
//! the time, and returns the mails to send ([`OutMail`]) and the state to keep; the
//! runtime persists rosters, held posts and pending subscriptions and hands the mails
//! to routing. docs/LISTS.md describes the behaviour and where each piece of state
//! lives.
//!
//! Loop safety: every mail written here either carries the list's `X-BeenThere:`
//! (list copies) or `Auto-Submitted:` (notices, replies), and nothing here answers or
//! distributes a mail that carries either, a `List-Id:`, a `Precedence` of
//! bulk/list/junk, or the null sender. So no sequence of mails can make a list or the
//! ListServer answer itself or another list (`core/tests/lists_props.rs`).

pub mod digest;
pub mod listserver;
pub mod moderation;
pub mod post;

use serde::{Deserialize, Serialize};

use crate::address::{domain_eq, Mailbox};
use crate::config::{Config, List, ListKind};
use crate::router::headers::{address_spans, fields, header_end, unfold};
use crate::time::Instant;

/// The ListServer's local part (§14.6.4).
pub const LISTSERVER: &str = "listserver";
/// `LIST_owner` reaches the moderators (§14.6.3).
pub const OWNER_SUFFIX: &str = "_owner";
/// `LIST_Digest` is the digest list (§14.6.1.2.1).
pub const DIGEST_SUFFIX: &str = "_Digest";
/// The router's discard reason for addresses the list server takes before routing.
pub const FOR_LIST_SERVER: &str = "taken by the list server";
/// Members kept per list; a ListServer subscription beyond it is refused.
pub const MAX_MEMBERS: usize = 100_000;
/// Bytes of a message body read for commands or a flexible moderator's reply.
pub const MAX_SCAN: usize = 256 * 1024;

/// One member: a local user's name or an address, with its NoMail setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub address: String,
    /// "NoMail": nothing is sent to this member.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nomail: bool,
    /// NoMail ends at the start of this day (`YYYY-MM-DD`, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomail_until: Option<String>,
}

impl Member {
    pub fn new(address: &str) -> Member {
        Member {
            address: address.to_string(),
            nomail: false,
            nomail_until: None,
        }
    }

    /// Whether list mail goes to this member at `now`.
    pub fn receives(&self, now: Instant) -> bool {
        if !self.nomail {
            return true;
        }
        match &self.nomail_until {
            Some(day) => day.as_str() <= today(now).as_str(),
            None => false,
        }
    }
}

/// The members of one list as the runtime keeps them (DATA/state/lists/NAME.toml);
/// seeded from the configuration's `members` the first time the list changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    #[serde(default, rename = "member")]
    pub members: Vec<Member>,
}

impl Roster {
    /// The configured members of `list`.
    pub fn from_config(list: &List) -> Roster {
        Roster {
            members: list.members.iter().map(|m| Member::new(m)).collect(),
        }
    }

    /// The member `address` stands for, if any.
    pub fn find(&self, config: &Config, address: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| same_person(config, &m.address, address))
    }

    pub fn contains(&self, config: &Config, address: &str) -> bool {
        self.find(config, address).is_some()
    }
}

/// A mail to send: envelope and the whole message (CRLF line ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMail {
    /// Envelope sender; `None` = `<>`.
    pub from: Option<String>,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

/// The mailing list called `name` (any case), if there is one.
pub fn mailing_list<'a>(config: &'a Config, name: &str) -> Option<&'a List> {
    config
        .lists
        .iter()
        .find(|l| l.kind == ListKind::Mailing && l.name.eq_ignore_ascii_case(name))
}

/// What a local part means to the list server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special<'a> {
    Post(&'a List),
    Owner(&'a List),
    Digest(&'a List),
    ListServer,
}

/// The list-server meaning of `address`, when it is in a local domain.
pub fn special<'a>(config: &'a Config, address: &str) -> Option<Special<'a>> {
    let m = Mailbox::parse(address).ok()?;
    if !config
        .local_domains
        .iter()
        .any(|d| domain_eq(d, m.domain()))
    {
        return None;
    }
    special_name(config, &m.local_part_unquoted())
}

/// The list-server meaning of a local part.
pub fn special_name<'a>(config: &'a Config, local: &str) -> Option<Special<'a>> {
    if config.lists.iter().all(|l| l.kind != ListKind::Mailing) {
        return None;
    }
    if let Some(l) = mailing_list(config, local) {
        return Some(Special::Post(l));
    }
    if local.eq_ignore_ascii_case(LISTSERVER) {
        return Some(Special::ListServer);
    }
    let lower = local.to_ascii_lowercase();
    if let Some(name) = lower.strip_suffix(&OWNER_SUFFIX.to_ascii_lowercase()) {
        return mailing_list(config, name).map(Special::Owner);
    }
    if let Some(name) = lower.strip_suffix(&DIGEST_SUFFIX.to_ascii_lowercase()) {
        return mailing_list(config, name)
            .filter(|l| l.options.digest)
            .map(Special::Digest);
    }
    None
}

/// `name@default_domain`.
pub fn at_domain(config: &Config, name: &str) -> String {
    format!("{name}@{}", config.default_domain)
}

/// The address a member or moderator entry is mailed at: a name is a local user.
pub fn qualify(config: &Config, entry: &str) -> String {
    if entry.contains('@') {
        entry.trim().to_string()
    } else {
        at_domain(config, entry.trim())
    }
}

/// Whether a member entry (a local name or an address) and an address are the same
/// person: names match their local part at any local domain; addresses match without
/// regard to case.
pub fn same_person(config: &Config, entry: &str, address: &str) -> bool {
    let entry = entry.trim();
    let Ok(a) = Mailbox::parse(address.trim()) else {
        return entry.eq_ignore_ascii_case(address.trim());
    };
    match Mailbox::parse(entry) {
        Ok(e) => {
            e.local_part_unquoted()
                .eq_ignore_ascii_case(&a.local_part_unquoted())
                && domain_eq(e.domain(), a.domain())
        }
        Err(_) => {
            entry.eq_ignore_ascii_case(&a.local_part_unquoted())
                && config
                    .local_domains
                    .iter()
                    .any(|d| domain_eq(d, a.domain()))
        }
    }
}

pub fn is_moderator(config: &Config, list: &List, address: &str) -> bool {
    list.moderators
        .iter()
        .any(|m| same_person(config, m, address))
}

/// The return address (where bounces go): `LIST_owner@<default_domain>` unless set.
pub fn return_address(config: &Config, list: &List) -> String {
    match &list.options.return_address {
        Some(a) if !a.trim().is_empty() => a.trim().to_string(),
        _ => at_domain(config, &format!("{}{OWNER_SUFFIX}", list.name)),
    }
}

/// The value of the first header field `name`, unfolded.
pub fn header(data: &[u8], name: &str) -> Option<String> {
    let end = header_end(data);
    fields(data, end)
        .into_iter()
        .find(|f| f.is(data, name))
        .map(|f| {
            unfold(&String::from_utf8_lossy(f.value(data)))
                .trim()
                .to_string()
        })
}

/// The first address in `From:`.
pub fn from_address(data: &[u8]) -> Option<String> {
    let end = header_end(data);
    let f = fields(data, end).into_iter().find(|f| f.is(data, "From"))?;
    let value = f.value(data);
    let (s, e) = *address_spans(value).first()?;
    Some(String::from_utf8_lossy(&value[s..e]).into_owned())
}

/// Mail that no list or ListServer may answer or distribute (RFC 3834 §2, and the
/// marks this module puts on its own mail).
pub fn automatic(data: &[u8], envelope_sender: Option<&str>) -> Option<&'static str> {
    if envelope_sender.is_none_or(|s| s.trim().is_empty()) {
        return Some("the envelope sender is <>");
    }
    if header(data, "Auto-Submitted").is_some_and(|v| !v.to_ascii_lowercase().starts_with("no")) {
        return Some("Auto-Submitted");
    }
    if header(data, "Precedence").is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        ["bulk", "list", "junk"].iter().any(|p| v.starts_with(p))
    }) {
        return Some("Precedence: bulk/list/junk");
    }
    None
}

/// Whether `address` is one of the list server's own addresses (a list, its owner or
/// digest address, the ListServer) or Mailer_Daemon.
pub fn is_server_address(config: &Config, address: &str) -> bool {
    let Ok(m) = Mailbox::parse(address.trim()) else {
        return false;
    };
    if !config
        .local_domains
        .iter()
        .any(|d| domain_eq(d, m.domain()))
    {
        return false;
    }
    let local = m.local_part_unquoted();
    local.eq_ignore_ascii_case("mailer_daemon") || special_name(config, &local).is_some()
}

/// `YYYY-MM-DD` (UTC) of `now`.
pub fn today(now: Instant) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(now.unix_secs()).unwrap_or(0), 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A header block and body as one message, CRLF line ends.
pub(crate) struct Writer {
    pub m: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { m: Vec::new() }
    }

    /// `Field: value`, with line breaks in the value removed.
    pub fn field(&mut self, name: &str, value: &str) {
        self.m.extend_from_slice(name.as_bytes());
        self.m.extend_from_slice(b": ");
        self.m
            .extend_from_slice(value.replace(['\r', '\n'], " ").as_bytes());
        self.m.extend_from_slice(b"\r\n");
    }

    pub fn date(&mut self, now: Instant) {
        self.m.extend_from_slice(b"Date: ");
        crate::smtp::received::write_date(&mut self.m, now);
        self.m.extend_from_slice(b"\r\n");
    }

    /// The end of the header and a text body.
    pub fn text(mut self, text: &str) -> Vec<u8> {
        self.field("MIME-Version", "1.0");
        self.field("Content-Type", "text/plain; charset=utf-8");
        self.field("Content-Transfer-Encoding", "8bit");
        self.m.extend_from_slice(b"\r\n");
        for l in text.lines() {
            // A lone "." would end the message for a client that does not dot-stuff.
            self.m
                .extend_from_slice(if l == "." { " ." } else { l }.as_bytes());
            self.m.extend_from_slice(b"\r\n");
        }
        self.m
    }
}

/// A plain-text notice or reply the list server writes.
pub struct Notice<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    /// Unique per mail: the Message-ID's left side.
    pub id: &'a str,
    /// `auto-replied` answers a person's mail; `auto-generated` is anything else.
    pub auto: &'a str,
    pub in_reply_to: Option<&'a str>,
}

/// The whole notice as a message.
pub fn notice(config: &Config, n: &Notice<'_>, now: Instant) -> Vec<u8> {
    let mut w = Writer::new();
    w.date(now);
    w.field("From", n.from);
    w.field("To", &n.to.join(", "));
    w.field("Subject", n.subject);
    w.field(
        "Message-ID",
        &format!("<{}@{}>", token_chars(n.id), config.hostname),
    );
    if let Some(r) = n.in_reply_to {
        w.field("In-Reply-To", r);
        w.field("References", r);
    }
    w.field("Auto-Submitted", n.auto);
    w.text(n.text)
}

/// The notice as a mail from the null sender (so it never bounces) to its recipients.
pub fn notice_mail(config: &Config, n: &Notice<'_>, now: Instant) -> OutMail {
    OutMail {
        from: None,
        to: n.to.to_vec(),
        data: notice(config, n, now),
    }
}

/// `s` with only characters safe in a Message-ID's left side.
pub(crate) fn token_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The body of a message (after the blank line), as text, at most [`MAX_SCAN`] bytes.
pub fn body_text(data: &[u8]) -> String {
    let end = header_end(data);
    let body = &data[end.min(data.len())..];
    String::from_utf8_lossy(&body[..body.len().min(MAX_SCAN)]).into_owned()
}

#[cfg(test)]
mod tests;
