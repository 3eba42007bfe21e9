//! Moderated posts (§14.6.3.2–§14.6.3.4): the approval request, the moderator's
//! answer, and the 14-day expiry of held posts.

use super::post::{list_address, PostCtx, PostDecision};
use super::{body_text, header, notice_mail, qualify, Notice};
use crate::config::{List, Moderation};
use crate::time::Instant;

/// A held post not approved within this many days is dropped (§14.6.3.3).
pub const EXPIRY_DAYS: u64 = 14;
/// Subject of a simple moderation request (§14.6.3.3).
pub const SIMPLE_SUBJECT: &str = "Mailing List Moderation Message Approval";
/// Subject of a flexible moderation request (§14.6.3.4).
pub const FLEXIBLE_SUBJECT: &str = "Message post to moderated list";
/// The line that separates the request's text from the post (§14.6.3.4).
pub const SEPARATOR: &str = "-----";

/// What a moderator's mail to the list means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeratorReply {
    /// An answer to a simple request: approve, or `REJECT` at the subject's start.
    Simple { token: String, reject: bool },
    /// A reply to a flexible request: this is the post to distribute.
    Flexible { post: Vec<u8> },
}

/// A held post's token: the time it arrived (`YYYYMMDDhhmmss`, UTC) and four digits
/// that make it unique, as in the manual's `200311200027510000`.
pub fn token(now: Instant, seq: u32) -> String {
    let secs = i64::try_from(now.unix_secs()).unwrap_or(0);
    let stamp = chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y%m%d%H%M%S").to_string())
        .unwrap_or_else(|| "19700101000000".into());
    format!("{stamp}{:04}", seq % 10_000)
}

/// Whether `token` is a well-formed token (safe as a file name).
pub fn valid_token(token: &str) -> bool {
    token.len() == 18 && token.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the post held under `token` has waited more than 14 days at `now`.
pub fn expired(token: &str, now: Instant) -> bool {
    let Some(stamp) = token.get(..14) else {
        return true;
    };
    match chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S") {
        Ok(t) => {
            let held = u64::try_from(t.and_utc().timestamp()).unwrap_or(0);
            now.unix_secs().saturating_sub(held) > EXPIRY_DAYS * 86_400
        }
        Err(_) => true,
    }
}

/// The moderator's mail as an answer to a request of `list`, if it is one.
pub fn moderator_reply(list: &List, data: &[u8]) -> Option<ModeratorReply> {
    let subject = header(data, "Subject")?;
    if let Some(name) = mod_tag(&subject) {
        if name.eq_ignore_ascii_case(&list.name) {
            return Some(ModeratorReply::Flexible {
                post: flexible_post(&body_text(data)),
            });
        }
    }
    let open = format!("({} - ", list.name.to_ascii_lowercase());
    let lower = subject.to_ascii_lowercase();
    let at = lower.find(&open)? + open.len();
    let rest = &subject[at..];
    let token: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if !valid_token(&token) || !rest[token.len()..].starts_with(')') {
        return None;
    }
    let reject = subject
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("REJECT");
    Some(ModeratorReply::Simple { token, reject })
}

/// The list name in `{Mod:name}` or `{Mod: name}`.
fn mod_tag(subject: &str) -> Option<String> {
    let lower = subject.to_ascii_lowercase();
    let at = lower.find("{mod:")? + 5;
    let rest = &subject[at..];
    let end = rest.find('}')?;
    let name = rest[..end].trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Strip a reply's quoting (`>`, `> `, repeated) from one line.
fn unquote(line: &str) -> &str {
    let mut l = line;
    loop {
        let t = l.trim_start_matches(' ');
        match t.strip_prefix('>') {
            Some(r) => l = r.strip_prefix(' ').unwrap_or(r),
            None => return l,
        }
    }
}

/// The post in a flexible moderator's reply: everything after the `-----` line, with
/// the reply's quote prefixes removed (§14.6.3.4). Without that line the whole body
/// is taken.
pub fn flexible_post(body: &str) -> Vec<u8> {
    let lines: Vec<&str> = body.lines().map(unquote).collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == SEPARATOR)
        .map_or(0, |p| p + 1);
    let rest = &lines[start..];
    let first = rest
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(rest.len());
    let mut out = Vec::new();
    for l in &rest[first..] {
        out.extend_from_slice(l.trim_end_matches('\r').as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Hold a post for the moderators: one request to each (§14.6.3.3, §14.6.3.4).
pub fn hold(ctx: &PostCtx<'_>, author: &str, data: &[u8]) -> PostDecision {
    let list = ctx.list;
    let seq = ctx
        .id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let token = token(ctx.now, seq);
    let from = list_address(ctx.config, list);
    let to: Vec<String> = list
        .moderators
        .iter()
        .map(|m| qualify(ctx.config, m))
        .collect();
    let original = String::from_utf8_lossy(&data[..data.len().min(super::MAX_SCAN)]).into_owned();
    let (subject, text, keep) = match list.options.moderation {
        Moderation::Simple => (
            format!("{SIMPLE_SUBJECT} ({} - {token})", list.name),
            format!(
                "The following message has been sent to the mailing list \"{}\"\n\
                 To approve the message for distribution to the list reply to this \
                 message as it is. To reject the message, either do nothing or add \
                 'REJECT' to the start of the subject line when you reply. You must \
                 reply within {EXPIRY_DAYS} days to approve this message.\n\n{original}",
                list.name
            ),
            true,
        ),
        Moderation::Flexible => (
            format!("{FLEXIBLE_SUBJECT} {{Mod:{}}}", list.name),
            format!(
                "Mailing List: {}\nMessage Originator: {author}\nOriginal Subject: {}\n\n\
                 {SEPARATOR}\n{original}",
                list.name,
                header(data, "Subject").unwrap_or_default()
            ),
            false,
        ),
    };
    let mails = if to.is_empty() {
        Vec::new()
    } else {
        vec![notice_mail(
            ctx.config,
            &Notice {
                from: &from,
                to: &to,
                subject: &subject,
                text: &text,
                id: &format!("{}.moderate", ctx.id),
                auto: "auto-generated",
                in_reply_to: None,
            },
            ctx.now,
        )]
    };
    PostDecision::Hold {
        token,
        post: keep.then(|| data.to_vec()),
        mails,
    }
}
