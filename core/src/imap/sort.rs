//! SORT (RFC 5256 §3) and SORT=DISPLAY (RFC 5957): what of a message's header the
//! sort keys (imap-codec's, which parses the command) need ([`Headers`], read once
//! per message), and [`sort`], a pure function over the matched messages. The run of
//! the command (the search, asking for message bytes) is `sortcmd.rs`.
//!
//! Strings compare with i;ascii-casemap (RFC 4790: ASCII letters folded to upper
//! case, other octets as they are), so the keys are kept folded already.
//! Messages equal on every key keep sequence order (RFC 5256 §3).

use super::basesubject::base_subject;
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use mail_parser::{Addr, Address, HeaderName, MessageParser};
use std::cmp::Ordering;

/// Longest text kept for one key; the rest of a longer one never decides an order
/// in practice, and a hostile header must not grow the session's cache.
const MAX_KEY: usize = 512;
/// References kept per message (the last ones: the last names the parent).
const MAX_REFERENCES: usize = 64;

/// Whether a key needs the message's header (ARRIVAL and SIZE are in the index).
pub(super) fn needs_header(key: &SortKey) -> bool {
    !matches!(key, SortKey::Arrival | SortKey::Size)
}

/// What SORT and THREAD need from a message's header, folded for comparison where
/// only comparison is done with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Headers {
    /// The Date field, Unix seconds (UTC); `None` if missing or unreadable.
    pub(super) sent: Option<i64>,
    /// addr-mailbox of the first From, To and Cc address (RFC 5256), folded.
    pub(super) from: String,
    pub(super) to: String,
    pub(super) cc: String,
    /// RFC 5957 display names (or addr-spec), decoded and folded.
    pub(super) display_from: String,
    pub(super) display_to: String,
    /// The base subject, folded, and whether the subject said reply or forward.
    pub(super) subject: String,
    pub(super) reply: bool,
    /// The Message-ID, normalised; `None` if missing or invalid.
    pub(super) message_id: Option<String>,
    /// References (or, without valid ones, the first valid In-Reply-To id),
    /// normalised, oldest first.
    pub(super) references: Vec<String>,
}

impl Headers {
    /// Read what is needed from a message (its header is enough).
    pub(super) fn parse(raw: &[u8]) -> Headers {
        let header = &raw[..super::fetch::header_end(raw)];
        let Some(m) = MessageParser::new().parse_headers(header) else {
            return Headers::default();
        };
        let (from, display_from) = first_address(m.from());
        let (to, display_to) = first_address(m.to());
        let (cc, _) = first_address(m.cc());
        let (subject, reply) = base_subject(m.subject().unwrap_or(""));
        let ids = |name: HeaderName<'static>| msg_ids(m.header_raw(name).unwrap_or(""));
        let mut references = ids(HeaderName::References);
        if references.is_empty() {
            references = ids(HeaderName::InReplyTo);
            references.truncate(1);
        }
        let skip = references.len().saturating_sub(MAX_REFERENCES);
        references.drain(..skip);
        Headers {
            sent: m.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp()),
            from,
            to,
            cc,
            display_from,
            display_to,
            subject: fold(&subject),
            reply,
            message_id: ids(HeaderName::MessageId).into_iter().next(),
            references,
        }
    }

    /// Roughly the heap octets this takes (for the session's cache bound).
    pub(super) fn weight(&self) -> usize {
        let strings = [
            &self.from,
            &self.to,
            &self.cc,
            &self.display_from,
            &self.display_to,
            &self.subject,
        ];
        160 + strings.iter().map(|s| s.len()).sum::<usize>()
            + self.message_id.as_ref().map_or(0, String::len)
            + self.references.iter().map(|r| r.len() + 24).sum::<usize>()
    }
}

/// i;ascii-casemap, bounded.
fn fold(s: &str) -> String {
    let mut end = s.len().min(MAX_KEY);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_ascii_uppercase()
}

/// (addr-mailbox, display) of the first address of a list, folded. A group's first
/// "address" is its start marker, whose mailbox is the group name (RFC 3501 §7.4.2,
/// as ENVELOPE shows it and as Dovecot sorts it).
fn first_address(list: Option<&Address<'_>>) -> (String, String) {
    let Some(list) = list else {
        return (String::new(), String::new());
    };
    let first: Option<&Addr<'_>> = match list {
        Address::List(l) => l.first(),
        Address::Group(groups) => match groups.first() {
            Some(g) => match g.name.as_deref() {
                Some(name) => {
                    let name = fold(name.trim());
                    return (name.clone(), name);
                }
                None => g.addresses.first(),
            },
            None => None,
        },
    };
    let Some(a) = first else {
        return (String::new(), String::new());
    };
    let address = a.address.as_deref().unwrap_or("").trim();
    let mailbox = match address.rsplit_once('@') {
        Some((local, _)) => local,
        None => address,
    };
    let display = match a.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n,
        _ => address,
    };
    (fold(mailbox), fold(display))
}

/// The message ids in a Message-ID, References or In-Reply-To field, in order:
/// `<left@right>`, with white space and quoting taken out so that
/// `<"a b"@c>` and `<ab@c>` are the same id (RFC 5256 §3 REFERENCES asks for
/// normalised ids). Text outside angle brackets (comments, phrases) is skipped; an
/// id without `@` is not valid and skipped too.
fn msg_ids(field: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = field;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(['>', '<']) else {
            break;
        };
        if after.as_bytes()[close] == b'<' {
            rest = &after[close..];
            continue;
        }
        let id: String = after[..close]
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '"')
            .take(MAX_KEY)
            .collect();
        if id.contains('@') && !id.starts_with('@') && !id.ends_with('@') {
            out.push(id);
        }
        rest = &after[close + 1..];
    }
    out
}

/// A matched message as SORT and THREAD see it.
#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub(super) seq: u32,
    pub(super) uid: u32,
    pub(super) modseq: u64,
    /// INTERNALDATE, Unix seconds.
    pub(super) arrival: u64,
    pub(super) size: u64,
    pub(super) headers: std::sync::Arc<Headers>,
}

impl Msg {
    /// The sent date (RFC 5256 §2.2): the Date field, else INTERNALDATE.
    pub(super) fn sent(&self) -> i64 {
        self.headers
            .sent
            .unwrap_or_else(|| i64::try_from(self.arrival).unwrap_or(i64::MAX))
    }
}

fn compare(key: &SortKey, a: &Msg, b: &Msg) -> Ordering {
    let (x, y) = (&a.headers, &b.headers);
    match key {
        SortKey::Arrival => a.arrival.cmp(&b.arrival),
        SortKey::Size => a.size.cmp(&b.size),
        SortKey::Date => a.sent().cmp(&b.sent()),
        SortKey::From => x.from.cmp(&y.from),
        SortKey::To => x.to.cmp(&y.to),
        SortKey::Cc => x.cc.cmp(&y.cc),
        SortKey::Subject => x.subject.cmp(&y.subject),
        SortKey::DisplayFrom => x.display_from.cmp(&y.display_from),
        SortKey::DisplayTo => x.display_to.cmp(&y.display_to),
    }
}

/// The messages in SORT order: their UIDs (`uid`) or sequence numbers. Ties on
/// every criterion keep sequence order.
pub(super) fn sort(criteria: &[SortCriterion], msgs: &[Msg], uid: bool) -> Vec<u32> {
    let mut order: Vec<&Msg> = msgs.iter().collect();
    order.sort_by(|a, b| {
        criteria
            .iter()
            .map(|c| {
                let o = compare(&c.key, a, b);
                if c.reverse {
                    o.reverse()
                } else {
                    o
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then(a.seq.cmp(&b.seq))
    });
    order
        .into_iter()
        .map(|m| if uid { m.uid } else { m.seq })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::Arc;

    pub(crate) fn msg(seq: u32, arrival: u64, raw: &str) -> Msg {
        let raw = raw.replace('\n', "\r\n");
        Msg {
            seq,
            uid: seq + 100,
            modseq: 1,
            arrival,
            size: raw.len() as u64,
            headers: Arc::new(Headers::parse(raw.as_bytes())),
        }
    }

    /// Sort by criteria as a client writes them, parsed by imap-codec.
    fn by(keys: &str, msgs: &[Msg]) -> Vec<u32> {
        use imap_codec::decode::Decoder as _;
        use imap_codec::imap_types::command::CommandBody;
        let line = format!("a SORT ({keys}) UTF-8 ALL\r\n");
        let (_, cmd) = imap_codec::CommandCodec::new()
            .decode(line.as_bytes())
            .expect("SORT");
        let CommandBody::Sort { sort_criteria, .. } = cmd.body else {
            panic!("not SORT")
        };
        sort(sort_criteria.as_ref(), msgs, false)
    }

    #[test]
    fn header_fields() {
        let h = Headers::parse(
            b"From: \"Foo Bar\" <foo@example.org>\r\nTo: group: a@b, c@d;\r\n\
              Cc: x@y (comment)\r\nDate: Fri, 22 Feb 2008 01:00:00 +0200\r\n\
              Subject: Re: =?utf-8?q?hello?=\r\nMessage-ID: <\"a b\"@c>\r\n\
              References: <x@y> junk <bad> <z@w>\r\nIn-Reply-To: <q@r>\r\n\r\nbody\r\n",
        );
        assert_eq!(h.from, "FOO");
        assert_eq!(h.display_from, "FOO BAR");
        assert_eq!(h.to, "GROUP");
        assert_eq!(h.display_to, "GROUP");
        assert_eq!(h.cc, "X");
        assert_eq!(h.sent, Some(1_203_634_800));
        assert_eq!((h.subject.as_str(), h.reply), ("HELLO", true));
        assert_eq!(h.message_id.as_deref(), Some("ab@c"));
        assert_eq!(h.references, ["x@y", "z@w"]);
        let h = Headers::parse(b"In-Reply-To: <q@r> <s@t>\r\nDate: nonsense\r\n\r\n");
        assert_eq!(h.references, ["q@r"]);
        assert_eq!(h.sent, None);
        assert_eq!(Headers::parse(b""), Headers::default());
    }

    /// imaptest's sort-addresses, sort-arrival, sort-date and sort-size mailboxes.
    #[test]
    fn imaptest_sorts() {
        let m = [
            msg(1, 0, "From: user2@domain2.org\nTo: foo bar <user2@domain2.org>\nCc: user2@domain2.org (foo bar)\n\n1\n"),
            msg(2, 1, "From: user2@domain1.org\nTo: user2@domain1.org\nCc: user2: blah@domain1.org;\n\n2\n"),
            msg(3, 2, "From: user1@domain1.org\nTo: user1@domain1.org\nCc: user1@domain1.org\n\n3\n"),
        ];
        for k in ["from", "to", "cc"] {
            assert_eq!(by(k, &m), [3, 1, 2], "{k}");
            assert_eq!(by(&format!("reverse {k}"), &m), [1, 2, 3], "{k}");
            assert_eq!(by(&format!("{k} reverse arrival"), &m), [3, 2, 1], "{k}");
        }
        let m = [
            msg(1, 0, "\n1\n"),
            msg(2, 7200, "\n2\n"),
            msg(3, 3600, "\n33\n"),
            msg(4, 7200, "\n44\n"),
            msg(5, 7200, "\n5555\n"),
        ];
        assert_eq!(by("arrival", &m), [1, 3, 2, 4, 5]);
        assert_eq!(by("reverse arrival", &m), [2, 4, 5, 3, 1]);
        assert_eq!(by("arrival reverse size", &m), [1, 3, 5, 4, 2]);
        // Internal dates are 23:00, 22:00, … +0200 on the 22nd, in UTC seconds.
        let day = 1_203_638_400 - 86_400; // 2008-02-21T00:00Z
        let m = [
            msg(
                1,
                day + 21 * 3600,
                "Date: Fri, 22 Feb 2008 00:00:00 +0200\n\n1\n",
            ),
            msg(
                2,
                day + 20 * 3600,
                "Date: Fri, 22 Feb 2008 02:00:00 +0200\n\n2\n",
            ),
            msg(
                3,
                day + 19 * 3600,
                "Date: Fri, 22 Feb 2008 01:00:00 +0200\n\n33\n",
            ),
            msg(
                4,
                day + 18 * 3600,
                "Date: Fri, 22 Feb 2008 02:00:00 +0200\n\n44\n",
            ),
            msg(5, day + 23 * 3600 + 1823, "Subject: foo\n\n55555\n"),
            msg(
                6,
                day + 16 * 3600,
                "Date: Fri, 22 Feb 2008 02:00:00 +0200\n\n6666\n",
            ),
            msg(
                7,
                day + 23 * 3600,
                "Subject: foo bar foo bar foo bar fooo\n\n777\n",
            ),
        ];
        assert_eq!(by("date", &m), [1, 3, 7, 5, 2, 4, 6]);
        assert_eq!(by("reverse date", &m), [2, 4, 6, 5, 3, 7, 1]);
        assert_eq!(by("date reverse size", &m), [1, 7, 3, 5, 6, 4, 2]);
        let bodies = ["1", "22", "333", "4\n4", "555", "66", "7777", "8"];
        let m: Vec<Msg> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let d = "Date: Sat, 24 Mar 2007 23:00:00 +0200";
                msg(i as u32 + 1, i as u64, &format!("{d}\n\n{b}\n"))
            })
            .collect();
        assert_eq!(by("size", &m), [1, 8, 2, 6, 3, 5, 4, 7]);
        assert_eq!(by("reverse size", &m), [4, 7, 3, 5, 2, 6, 1, 8]);
        assert_eq!(by("size reverse arrival", &m), [8, 1, 6, 2, 5, 3, 7, 4]);
    }

    /// imaptest's sort-subject, sort-display-from and sort-display-to mailboxes.
    #[test]
    fn imaptest_subject_and_display() {
        let m = subjects();
        assert_eq!(
            by("subject", &m),
            [9, 10, 1, 14, 3, 5, 11, 6, 15, 2, 7, 12, 13, 8, 4]
        );
        assert_eq!(
            by("reverse subject", &m),
            [4, 8, 2, 7, 12, 13, 15, 6, 3, 5, 11, 14, 1, 9, 10]
        );
        assert_eq!(
            by("subject reverse size", &m),
            [10, 9, 1, 14, 11, 5, 3, 6, 15, 13, 12, 7, 2, 8, 4]
        );
        let names = [
            "foo bar <a@b.c>",
            "b@c.d",
            "d",
            "=?iso-8859-1?q?foo_aar?= <e@f.g>",
            "=?iso-8859-1?q?foo_car?= <f@g.h>",
            "a: xx@xx.org, yy@yy.org;",
            "z: aa@aa.org, bb@bb.org;",
            "empty:;",
        ];
        let one_each = |field: &str, values: &[&str]| -> Vec<Msg> {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| msg(i as u32 + 1, 0, &format!("{field}: {v}\n\n{i}\n")))
                .collect()
        };
        let from = one_each("From", &names[..5]);
        assert_eq!(by("displayfrom", &from), [2, 3, 4, 1, 5]);
        assert_eq!(by("reverse displayfrom", &from), [5, 1, 4, 3, 2]);
        let to = one_each("To", &names);
        assert_eq!(by("displayto", &to), [6, 2, 3, 8, 4, 1, 5, 7]);
        assert_eq!(by("reverse displayto", &to), [7, 5, 1, 4, 8, 3, 2, 6]);
    }

    /// The messages of imaptest's sort-subject.mbox (and thread-orderedsubject.mbox).
    pub(crate) fn subjects() -> Vec<Msg> {
        SUBJECTS
            .iter()
            .enumerate()
            .map(|(i, (s, body))| {
                let field = s.map(|s| format!("Subject: {s}\n")).unwrap_or_default();
                msg(i as u32 + 1, 0, &format!("{field}\n{body}\n"))
            })
            .collect()
    }

    /// Subject and body of each.
    const SUBJECTS: [(Option<&str>, &str); 15] = [
        (Some("a"), "1"),
        (Some("C"), "2"),
        (Some("b"), "3"),
        (Some("_"), "4"),
        (Some("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)"), "55"),
        (Some("b (a)"), "66"),
        (Some("Re: [FWD: c]"), "77"),
        (Some("[xyz]"), "88"),
        (None, "9"),
        (Some("=?iso-8859-1?q?_?="), "10"),
        (Some("Re: =?utf-8?q?b?="), "11\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (Some("=?iso-8859-1?q?RE:_C?="), "12\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (Some("=?us-ascii?b?UmU6IGM=?="), "13\n\nThe subject is 'Re: c'.\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (Some("Ad: Re: Ad: Re: Ad: x"), "14"),
        (Some("re: [fwd: [fwd: re: [fwd: babylon]]]"), "15"),
    ];
}
