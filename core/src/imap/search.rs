//! SEARCH: keys over what the index knows (flags, sizes, internal dates, UIDs,
//! MODSEQ) are evaluated at once; keys on the message text (FROM, TO, CC, BCC,
//! SUBJECT, HEADER, BODY, TEXT, SENTBEFORE/ON/SINCE) need each message's bytes, which
//! the session asks for one message at a time. Text is matched as it stands in the
//! message, case-insensitively for ASCII: encoded words and transfer encodings are
//! not decoded yet.

use super::select::{ranges, Selected};
use super::write::days_from_civil;
use crate::mailbox::{Flag, MessageMeta};
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use std::num::NonZeroU32;

/// A key this version cannot evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unsupported;

/// A message's text, for the keys that need it.
pub(super) struct Text<'a> {
    header: &'a [u8],
    body: &'a [u8],
    whole: &'a [u8],
}

impl<'a> Text<'a> {
    pub(super) fn new(raw: &'a [u8]) -> Text<'a> {
        let cut = super::fetch::header_end(raw);
        Text {
            header: &raw[..cut],
            body: &raw[cut..],
            whole: raw,
        }
    }

    /// Unfolded values of the fields named `name`.
    fn fields(&self, name: &str) -> Vec<Vec<u8>> {
        super::fetch::header_fields(self.header)
            .into_iter()
            .filter_map(|f| {
                let colon = f.iter().position(|&b| b == b':')?;
                let n = std::str::from_utf8(&f[..colon]).ok()?.trim();
                n.eq_ignore_ascii_case(name).then(|| {
                    f[colon + 1..]
                        .iter()
                        .copied()
                        .filter(|&b| b != b'\r' && b != b'\n')
                        .collect()
                })
            })
            .collect()
    }

    /// The values of the address fields named `name`, and each address in them as
    /// `Name <local@domain>` (comments and quoting gone, as Dovecot searches), so
    /// `FROM user@example.org` finds `<user (c)@ (c) example.org>` too.
    fn addresses(&self, name: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for value in self.fields(name) {
            let header = [name.as_bytes(), b":", &value, b"\r\n\r\n"].concat();
            if let Some(m) = mail_parser::MessageParser::new().parse_headers(&header) {
                let parsed = match name {
                    "From" => m.from(),
                    "To" => m.to(),
                    "Cc" => m.cc(),
                    _ => m.bcc(),
                };
                for a in parsed.into_iter().flat_map(|a| a.iter()) {
                    let addr = a.address.as_deref().unwrap_or("");
                    let shown = match a.name.as_deref() {
                        Some(n) => format!("{n} <{addr}>"),
                        None => addr.to_string(),
                    };
                    out.push(shown.into_bytes());
                }
            }
            out.push(value);
        }
        out
    }

    /// The Date field's day, as days since 1970 (its own time zone's date, RFC 3501
    /// §6.4.4).
    fn sent_day(&self) -> Option<i64> {
        let date = self.fields("Date").into_iter().next()?;
        let header = [b"Date:".as_slice(), &date, b"\r\n\r\n"].concat();
        let m = mail_parser::MessageParser::new().parse_headers(&header)?;
        let d = m.date()?;
        Some(days_from_civil(
            i64::from(d.year),
            i64::from(d.month),
            i64::from(d.day),
        ))
    }
}

/// `needle` in `hay`, ASCII case-insensitively.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let hay = hay.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    memchr::memmem::find(&hay, &needle).is_some()
}

/// Deeper nesting than this is refused: a hostile `NOT NOT NOT …` must not
/// exhaust the stack (imap-codec bounds its own recursion too).
const MAX_DEPTH: usize = 64;

#[derive(Debug)]
pub(super) struct Hit {
    pub(super) seq: u32,
    pub(super) uid: u32,
    pub(super) modseq: u64,
}

/// Check the keys: whether they need the message text, or a key is unsupported.
pub(super) fn plan(keys: &[SearchKey<'_>]) -> Result<bool, Unsupported> {
    let mut text = false;
    for k in keys {
        text |= check(k, 0)?;
    }
    Ok(text)
}

/// The candidates, in sequence order: (seq, uid) of the messages the client sees
/// whose data is still there (one another session expunged is left out, RFC 2180
/// §4.1.3).
pub(super) fn candidates(sel: &Selected) -> Vec<(u32, u32)> {
    sel.view
        .uids()
        .iter()
        .enumerate()
        .filter(|(_, &uid)| sel.meta(uid).is_some())
        .map(|(i, &uid)| (u32::try_from(i + 1).unwrap_or(u32::MAX), uid))
        .collect()
}

/// Whether message (`seq`, `uid`) matches every key; `text` when [`plan`] said so.
pub(super) fn matches(
    sel: &Selected,
    keys: &[SearchKey<'_>],
    seq: u32,
    uid: u32,
    text: Option<&Text<'_>>,
) -> Option<Hit> {
    matches_in(sel, keys, seq, uid, text, None)
}

/// [`matches`] with the outcomes of the text keys given (from [`text_leaves`] on this
/// message) instead of the text: how a CONTEXT=SEARCH update looks at a message again
/// without its bytes (messages do not change; only their flags do).
pub(super) fn matches_with(
    sel: &Selected,
    keys: &[SearchKey<'_>],
    seq: u32,
    uid: u32,
    leaves: &[bool],
) -> Option<Hit> {
    matches_in(sel, keys, seq, uid, None, Some(leaves))
}

fn matches_in(
    sel: &Selected,
    keys: &[SearchKey<'_>],
    seq: u32,
    uid: u32,
    text: Option<&Text<'_>>,
    leaves: Option<&[bool]>,
) -> Option<Hit> {
    let m = sel.meta(uid)?;
    let uids = sel.view.uids();
    let n = u32::try_from(uids.len()).unwrap_or(u32::MAX);
    let ctx = Ctx {
        sel,
        largest_seq: NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
        largest_uid: NonZeroU32::new(uids.last().copied().unwrap_or(1)).unwrap_or(NonZeroU32::MIN),
        text,
        leaves,
        next_leaf: std::cell::Cell::new(0),
    };
    let all = match leaves {
        // Every key looked at, so the leaves are met in `text_leaves`' order.
        Some(_) => keys
            .iter()
            .fold(true, |acc, k| ctx.matches(k, seq, m) & acc),
        None => keys.iter().all(|k| ctx.matches(k, seq, m)),
    };
    all.then_some(Hit {
        seq,
        uid,
        modseq: m.modseq,
    })
}

/// The outcome of each key on the message text, in pre-order (the order
/// [`matches_with`] meets them).
pub(super) fn text_leaves(keys: &[SearchKey<'_>], text: &Text<'_>) -> Vec<bool> {
    fn walk(k: &SearchKey<'_>, t: &Text<'_>, out: &mut Vec<bool>) {
        match k {
            SearchKey::And(ks) => ks.as_ref().iter().for_each(|k| walk(k, t, out)),
            SearchKey::Not(k) => walk(k, t, out),
            SearchKey::Or(a, b) => {
                walk(a, t, out);
                walk(b, t, out);
            }
            k if is_text_key(k) => out.push(text_key(t, k)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    keys.iter().for_each(|k| walk(k, text, &mut out));
    out
}

fn is_text_key(k: &SearchKey<'_>) -> bool {
    matches!(
        k,
        SearchKey::Bcc(_)
            | SearchKey::Body(_)
            | SearchKey::Cc(_)
            | SearchKey::From(_)
            | SearchKey::Header(..)
            | SearchKey::SentBefore(_)
            | SearchKey::SentOn(_)
            | SearchKey::SentSince(_)
            | SearchKey::Subject(_)
            | SearchKey::Text(_)
            | SearchKey::To(_)
    )
}

fn check(k: &SearchKey<'_>, depth: usize) -> Result<bool, Unsupported> {
    if depth > MAX_DEPTH {
        return Err(Unsupported);
    }
    Ok(match k {
        SearchKey::And(ks) => {
            let mut t = false;
            for k in ks.as_ref() {
                t |= check(k, depth + 1)?;
            }
            t
        }
        SearchKey::Not(k) => check(k, depth + 1)?,
        SearchKey::Or(a, b) => check(a, depth + 1)? | check(b, depth + 1)?,
        SearchKey::SequenceSet(_)
        | SearchKey::Uid(_)
        | SearchKey::All
        | SearchKey::Answered
        | SearchKey::Unanswered
        | SearchKey::Deleted
        | SearchKey::Undeleted
        | SearchKey::Draft
        | SearchKey::Undraft
        | SearchKey::Flagged
        | SearchKey::Unflagged
        | SearchKey::Seen
        | SearchKey::Unseen
        | SearchKey::Recent
        | SearchKey::Old
        | SearchKey::New
        | SearchKey::Keyword(_)
        | SearchKey::Unkeyword(_)
        | SearchKey::Larger(_)
        | SearchKey::Smaller(_)
        | SearchKey::Before(_)
        | SearchKey::On(_)
        | SearchKey::Since(_)
        // Per-flag MODSEQs are not kept: a flag's entry is matched by the message's
        // MODSEQ, the highest of its entries (RFC 7162 §3.1.5 allows it).
        | SearchKey::ModSequence { .. } => false,
        k if is_text_key(k) => true,
        // OLDER/YOUNGER.
        _ => return Err(Unsupported),
    })
}

struct Ctx<'s> {
    sel: &'s Selected,
    largest_seq: NonZeroU32,
    largest_uid: NonZeroU32,
    text: Option<&'s Text<'s>>,
    /// Outcomes of the text keys, taken in order, instead of `text`.
    leaves: Option<&'s [bool]>,
    next_leaf: std::cell::Cell<usize>,
}

/// Days since 1970 of a search date.
fn day(d: &NaiveDate) -> i64 {
    use chrono::Datelike;
    let d = d.as_ref();
    days_from_civil(
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    )
}

/// Unix seconds of the start of the day (UTC; internal dates are kept in UTC).
fn day_start(d: &NaiveDate) -> u64 {
    u64::try_from(day(d).max(0)).unwrap_or(0) * 86_400
}

fn in_set(
    v: u32,
    set: &imap_codec::imap_types::sequence::SequenceSet,
    largest: NonZeroU32,
) -> bool {
    ranges(set, largest).iter().any(|&(a, b)| a <= v && v <= b)
}

/// One key on the message text.
fn text_key(t: &Text<'_>, k: &SearchKey<'_>) -> bool {
    let field = |name: &str, what: &[u8]| t.fields(name).iter().any(|v| contains(v, what));
    let address = |name: &str, what: &[u8]| t.addresses(name).iter().any(|v| contains(v, what));
    match k {
        SearchKey::From(s) => address("From", s.as_ref()),
        SearchKey::To(s) => address("To", s.as_ref()),
        SearchKey::Cc(s) => address("Cc", s.as_ref()),
        SearchKey::Bcc(s) => address("Bcc", s.as_ref()),
        SearchKey::Subject(s) => field("Subject", s.as_ref()),
        SearchKey::Header(name, s) => field(&String::from_utf8_lossy(name.as_ref()), s.as_ref()),
        SearchKey::Body(s) => contains(t.body, s.as_ref()),
        SearchKey::Text(s) => contains(t.whole, s.as_ref()),
        SearchKey::SentBefore(d) => t.sent_day().is_some_and(|x| x < day(d)),
        SearchKey::SentOn(d) => t.sent_day().is_some_and(|x| x == day(d)),
        SearchKey::SentSince(d) => t.sent_day().is_some_and(|x| x >= day(d)),
        // Refused by `plan` before any message is looked at.
        _ => false,
    }
}

impl Ctx<'_> {
    /// The keys on the message text; false without the text (never asked for then).
    fn text_matches(&self, k: &SearchKey<'_>) -> bool {
        if let Some(leaves) = self.leaves {
            let i = self.next_leaf.get();
            self.next_leaf.set(i + 1);
            return leaves.get(i).copied().unwrap_or(false);
        }
        self.text.is_some_and(|t| text_key(t, k))
    }

    fn matches(&self, k: &SearchKey<'_>, seq: u32, m: &MessageMeta) -> bool {
        let flag = |f| m.flags.contains(f);
        let keyword = |name: &str| {
            self.sel
                .index
                .keyword_id(name)
                .is_some_and(|id| m.keywords.contains(&id))
        };
        let recent = self.sel.recent(m.uid);
        match k {
            SearchKey::And(ks) if self.leaves.is_some() => ks
                .as_ref()
                .iter()
                .fold(true, |acc, k| self.matches(k, seq, m) & acc),
            SearchKey::And(ks) => ks.as_ref().iter().all(|k| self.matches(k, seq, m)),
            SearchKey::SequenceSet(s) => in_set(seq, s, self.largest_seq),
            SearchKey::Uid(s) => in_set(m.uid, s, self.largest_uid),
            SearchKey::All => true,
            SearchKey::Answered => flag(Flag::Answered),
            SearchKey::Unanswered => !flag(Flag::Answered),
            SearchKey::Deleted => flag(Flag::Deleted),
            SearchKey::Undeleted => !flag(Flag::Deleted),
            SearchKey::Draft => flag(Flag::Draft),
            SearchKey::Undraft => !flag(Flag::Draft),
            SearchKey::Flagged => flag(Flag::Flagged),
            SearchKey::Unflagged => !flag(Flag::Flagged),
            SearchKey::Seen => flag(Flag::Seen),
            SearchKey::Unseen => !flag(Flag::Seen),
            SearchKey::Recent => recent,
            SearchKey::Old => !recent,
            SearchKey::New => recent && !flag(Flag::Seen),
            SearchKey::Keyword(a) => keyword(a.as_ref()),
            SearchKey::Unkeyword(a) => !keyword(a.as_ref()),
            SearchKey::Larger(n) => m.size > u64::from(*n),
            SearchKey::Smaller(n) => m.size < u64::from(*n),
            SearchKey::Before(d) => m.internal_date < day_start(d),
            SearchKey::On(d) => {
                let s = day_start(d);
                (s..s + 86_400).contains(&m.internal_date)
            }
            SearchKey::Since(d) => m.internal_date >= day_start(d),
            SearchKey::Not(k) => !self.matches(k, seq, m),
            SearchKey::Or(a, b) if self.leaves.is_some() => {
                self.matches(a, seq, m) | self.matches(b, seq, m)
            }
            SearchKey::Or(a, b) => self.matches(a, seq, m) || self.matches(b, seq, m),
            SearchKey::ModSequence { modseq, .. } => m.modseq >= *modseq,
            _ => self.text_matches(k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_and_sent_dates() {
        let t = Text::new(
            b"Date: Wed, 17 Jul 1996 23:23:25 -0700\r\nSubject: a\r\n long one\r\n\r\nBody\r\n",
        );
        // The date in its own zone, not UTC (which would be the 18th).
        assert_eq!(t.sent_day(), Some(days_from_civil(1996, 7, 17)));
        assert_eq!(t.fields("subject"), vec![b" a long one".to_vec()]);
        assert!(contains(t.body, b"BODY"));
        assert!(!contains(t.header, b"body"));
    }
}
