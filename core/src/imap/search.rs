//! SEARCH: keys over what the index knows (flags, sizes, internal dates, UIDs,
//! MODSEQ) are evaluated at once; keys on the message text (FROM, TO, CC, BCC,
//! SUBJECT, HEADER, BODY, TEXT, SENTBEFORE/ON/SINCE) need each message's bytes, which
//! the session asks for one message at a time. Text matches case-insensitively
//! (Unicode case folding for a non-ASCII key) either as it stands in the message or
//! decoded, as Dovecot searches: header fields with their RFC 2047 encoded words
//! undone, and the text parts (text/*, nested messages' too) with their transfer
//! encoding and charset undone, so `SUBJECT Müller` finds `=?ISO-8859-1?Q?M=FCller?=`
//! and `BODY café` a quoted-printable body.

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
    /// The decoded text parts, worked out on the first key that needs them.
    decoded_parts: std::cell::OnceCell<Vec<String>>,
}

/// Nested messages deeper than this are not searched for decoded text.
const MAX_TEXT_DEPTH: usize = 8;

impl<'a> Text<'a> {
    pub(super) fn new(raw: &'a [u8]) -> Text<'a> {
        let cut = super::fetch::header_end(raw);
        Text {
            header: &raw[..cut],
            body: &raw[cut..],
            whole: raw,
            decoded_parts: std::cell::OnceCell::new(),
        }
    }

    /// The text parts, transfer encoding and charset undone.
    fn decoded_parts(&self) -> &[String] {
        fn walk(m: &mail_parser::Message<'_>, depth: usize, out: &mut Vec<String>) {
            for p in &m.parts {
                match &p.body {
                    mail_parser::PartType::Text(t) | mail_parser::PartType::Html(t) => {
                        out.push(t.to_string());
                    }
                    mail_parser::PartType::Message(inner) if depth < MAX_TEXT_DEPTH => {
                        walk(inner, depth + 1, out);
                    }
                    _ => {}
                }
            }
        }
        self.decoded_parts.get_or_init(|| {
            let mut out = Vec::new();
            if let Some(m) = mail_parser::MessageParser::new().parse(self.whole) {
                walk(&m, 0, &mut out);
            }
            out
        })
    }

    /// Whether `what` is in the body, as it stands or decoded.
    fn body_contains(&self, what: &[u8]) -> bool {
        contains(self.body, what)
            || self
                .decoded_parts()
                .iter()
                .any(|t| contains(t.as_bytes(), what))
    }

    /// Whether `what` is in the header, as it stands or with encoded words decoded.
    fn header_contains(&self, what: &[u8]) -> bool {
        contains(self.header, what)
            || super::fetch::header_fields(self.header).iter().any(|f| {
                let value = f
                    .iter()
                    .position(|&b| b == b':')
                    .map_or(&f[..], |i| &f[i + 1..]);
                decode_words(value).is_some_and(|d| contains(d.as_bytes(), what))
            })
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

/// A field value with its RFC 2047 encoded words decoded; `None` when it has none.
fn decode_words(value: &[u8]) -> Option<String> {
    memchr::memmem::find(value, b"=?")?;
    // Comments is unstructured text (RFC 5322 §3.6.5), which mail-parser decodes;
    // it leaves fields it does not know as they stand.
    let header = [b"Comments:".as_slice(), value, b"\r\n\r\n"].concat();
    let m = mail_parser::MessageParser::new().parse_headers(&header)?;
    m.header(mail_parser::HeaderName::Comments)?
        .as_text()
        .map(str::to_owned)
}

/// `needle` in `hay`, case-insensitively: ASCII case for an ASCII needle (the hay
/// may hold anything), Unicode lower case for a UTF-8 one.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let hay = hay.to_ascii_lowercase();
        let needle = needle.to_ascii_lowercase();
        return memchr::memmem::find(&hay, &needle).is_some();
    }
    let hay = String::from_utf8_lossy(hay).to_lowercase();
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    hay.contains(&needle)
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
    let field = |name: &str, what: &[u8]| {
        t.fields(name).iter().any(|v| {
            contains(v, what) || decode_words(v).is_some_and(|d| contains(d.as_bytes(), what))
        })
    };
    let address = |name: &str, what: &[u8]| t.addresses(name).iter().any(|v| contains(v, what));
    match k {
        SearchKey::From(s) => address("From", s.as_ref()),
        SearchKey::To(s) => address("To", s.as_ref()),
        SearchKey::Cc(s) => address("Cc", s.as_ref()),
        SearchKey::Bcc(s) => address("Bcc", s.as_ref()),
        SearchKey::Subject(s) => field("Subject", s.as_ref()),
        SearchKey::Header(name, s) => field(&String::from_utf8_lossy(name.as_ref()), s.as_ref()),
        SearchKey::Body(s) => t.body_contains(s.as_ref()),
        SearchKey::Text(s) => t.header_contains(s.as_ref()) || t.body_contains(s.as_ref()),
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

    #[test]
    fn decoded_headers_and_bodies() {
        let raw = "Subject: =?ISO-8859-1?Q?Gr=FC=DFe_von_M=FCller?=\r\n\
            X-Note: =?UTF-8?B?w6l0w6k=?=\r\n\
            Content-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 au lait\r\n\
            --b\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nU2VjcmV0IHBsYW4=\r\n\
            --b--\r\n";
        let t = Text::new(raw.as_bytes());
        let key = |k: SearchKey<'static>| text_key(&t, &k);
        let s = |v: &str| -> imap_codec::imap_types::core::AString<'static> {
            v.to_owned().try_into().unwrap()
        };
        assert!(key(SearchKey::Subject(s("müller"))));
        assert!(key(SearchKey::Subject(s("GRÜßE"))));
        assert!(key(SearchKey::Subject(s("Gr=FC"))), "as it stands too");
        assert!(key(SearchKey::Header(s("X-Note"), s("ÉTÉ"))));
        assert!(key(SearchKey::Body(s("café"))));
        assert!(key(SearchKey::Body(s("secret plan"))));
        assert!(
            !key(SearchKey::Body(s("müller"))),
            "the body is not the header"
        );
        assert!(key(SearchKey::Text(s("müller"))));
        assert!(key(SearchKey::Text(s("CAFÉ AU"))));
        assert!(!key(SearchKey::Text(s("nowhere"))));
    }
}
