//! NOTIFY (RFC 5465), which imap-codec does not parse: `NOTIFY NONE` and `NOTIFY SET
//! [STATUS] (filter (events)) …`. What is kept: the mailboxes named with `MAILBOXES`
//! or `SUBTREE` (their own names; subfolders are not listed) and which STATUS items
//! their events call for (§5.1: MessageNew → MESSAGES UIDNEXT UIDVALIDITY,
//! MessageExpunge → MESSAGES, FlagChange → UIDVALIDITY HIGHESTMODSEQ). With STATUS
//! each gets a `* STATUS` at once; later changes are found by asking their status
//! again at NOOP and reported as `* STATUS` when an item changed. The selected folder
//! is reported as before (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS).

use super::FolderStatus;
use crate::mailbox::decode_mutf7;
use imap_codec::imap_types::status::StatusDataItemName;

/// Mailboxes one NOTIFY SET may name.
const MAX_MAILBOXES: usize = 64;
/// Longest mailbox name taken.
const MAX_NAME: usize = 1024;

/// One watched mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Watched {
    /// Decoded from modified UTF-7.
    pub(super) folder: String,
    pub(super) items: Vec<StatusDataItemName>,
    /// What was last reported (or seen).
    pub(super) last: Option<FolderStatus>,
}

/// A parsed NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Notify {
    None,
    Set { status: bool, watched: Vec<Watched> },
}

/// `tag NOTIFY …`: `None` if `msg` is not NOTIFY; `Some((tag, Err(why)))` if it is
/// malformed.
pub(super) fn parse(msg: &[u8]) -> Option<(String, Result<Notify, &'static str>)> {
    let mut t = Tokens { s: msg, at: 0 };
    let Some(Tok::Atom(tag)) = t.next() else {
        return None;
    };
    let tag = String::from_utf8_lossy(tag).into_owned();
    match t.next() {
        Some(Tok::Atom(c)) if c.eq_ignore_ascii_case(b"NOTIFY") => {}
        _ => return None,
    }
    Some((tag, parse_args(&mut t)))
}

fn parse_args(t: &mut Tokens<'_>) -> Result<Notify, &'static str> {
    let bad = "Invalid NOTIFY arguments";
    match t.next() {
        Some(Tok::Atom(w)) if w.eq_ignore_ascii_case(b"NONE") => {
            return if t.next().is_none() {
                Ok(Notify::None)
            } else {
                Err(bad)
            };
        }
        Some(Tok::Atom(w)) if w.eq_ignore_ascii_case(b"SET") => {}
        _ => return Err(bad),
    }
    let mut status = false;
    let mut watched: Vec<Watched> = Vec::new();
    let mut tok = t.next();
    if matches!(tok, Some(Tok::Atom(w)) if w.eq_ignore_ascii_case(b"STATUS")) {
        status = true;
        tok = t.next();
    }
    let mut groups = 0;
    while let Some(first) = tok {
        if first != Tok::Open {
            return Err(bad);
        }
        groups += 1;
        // Filter.
        let names = match t.next() {
            Some(Tok::Atom(f))
                if f.eq_ignore_ascii_case(b"MAILBOXES") || f.eq_ignore_ascii_case(b"SUBTREE") =>
            {
                mailboxes(t)?
            }
            Some(Tok::Atom(f))
                if [
                    &b"SELECTED"[..],
                    b"SELECTED-DELAYED",
                    b"INBOXES",
                    b"PERSONAL",
                    b"SUBSCRIBED",
                ]
                .iter()
                .any(|k| f.eq_ignore_ascii_case(k)) =>
            {
                Vec::new()
            }
            _ => return Err(bad),
        };
        let items = events(t)?;
        if t.next() != Some(Tok::Close) {
            return Err(bad);
        }
        for folder in names {
            if watched.len() >= MAX_MAILBOXES {
                return Err("Too many mailboxes");
            }
            match watched.iter_mut().find(|w| w.folder == folder) {
                Some(w) => merge(&mut w.items, &items),
                None => watched.push(Watched {
                    folder,
                    items: items.clone(),
                    last: None,
                }),
            }
        }
        tok = t.next();
    }
    if groups == 0 {
        return Err(bad);
    }
    Ok(Notify::Set { status, watched })
}

fn merge(into: &mut Vec<StatusDataItemName>, items: &[StatusDataItemName]) {
    for i in items {
        if !into.contains(i) {
            into.push(i.clone());
        }
    }
}

/// One mailbox or a parenthesised list, decoded from modified UTF-7.
fn mailboxes(t: &mut Tokens<'_>) -> Result<Vec<String>, &'static str> {
    let bad = "Invalid mailbox in NOTIFY";
    let name = |b: &[u8]| -> Result<String, &'static str> {
        if b.len() > MAX_NAME {
            return Err(bad);
        }
        let s = std::str::from_utf8(b).map_err(|_| bad)?;
        if s.eq_ignore_ascii_case("INBOX") {
            return Ok("INBOX".to_owned());
        }
        decode_mutf7(s).map_err(|_| bad)
    };
    match t.next() {
        Some(Tok::Atom(b)) => Ok(vec![name(b)?]),
        Some(Tok::Str(b)) => Ok(vec![name(&b)?]),
        Some(Tok::Open) => {
            let mut out = Vec::new();
            loop {
                match t.next() {
                    Some(Tok::Close) if !out.is_empty() => return Ok(out),
                    Some(Tok::Atom(b)) if out.len() < MAX_MAILBOXES => out.push(name(b)?),
                    Some(Tok::Str(b)) if out.len() < MAX_MAILBOXES => out.push(name(&b)?),
                    _ => return Err(bad),
                }
            }
        }
        _ => Err(bad),
    }
}

/// `NONE` or `(event …)`: the STATUS items the events call for.
fn events(t: &mut Tokens<'_>) -> Result<Vec<StatusDataItemName>, &'static str> {
    let bad = "Invalid NOTIFY events";
    match t.next() {
        Some(Tok::Atom(w)) if w.eq_ignore_ascii_case(b"NONE") => return Ok(Vec::new()),
        Some(Tok::Open) => {}
        _ => return Err(bad),
    }
    let mut items = Vec::new();
    loop {
        match t.next() {
            Some(Tok::Close) => return Ok(items),
            Some(Tok::Atom(e)) => {
                let e = e.to_ascii_lowercase();
                match e.as_slice() {
                    b"messagenew" => merge(
                        &mut items,
                        &[
                            StatusDataItemName::Messages,
                            StatusDataItemName::UidNext,
                            StatusDataItemName::UidValidity,
                        ],
                    ),
                    b"messageexpunge" => merge(&mut items, &[StatusDataItemName::Messages]),
                    b"flagchange" => merge(
                        &mut items,
                        &[
                            StatusDataItemName::UidValidity,
                            StatusDataItemName::HighestModSeq,
                        ],
                    ),
                    // Mailbox and user events: nothing this server reports about
                    // other mailboxes' contents.
                    b"annotationchange"
                    | b"mailboxname"
                    | b"subscriptionchange"
                    | b"mailboxmetadatachange"
                    | b"servermetadatachange" => {}
                    _ => return Err(bad),
                }
                // MessageNew's optional fetch attributes are for the selected folder,
                // which gets its usual reports.
                if e == b"messagenew" && t.peek() == Some(Tok::Open) {
                    let mut depth = 0usize;
                    loop {
                        match t.next() {
                            Some(Tok::Open) => depth += 1,
                            Some(Tok::Close) => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => {}
                            None => return Err(bad),
                        }
                    }
                }
            }
            _ => return Err(bad),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Open,
    Close,
    Atom(&'a [u8]),
    /// A quoted string (unescaped) or a literal.
    Str(Vec<u8>),
}

/// The words of one command message: atoms, quoted strings, literals (their
/// octets follow `{n}` CRLF in the message), parentheses.
struct Tokens<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Tokens<'a> {
    fn peek(&mut self) -> Option<Tok<'a>> {
        let at = self.at;
        let t = self.next();
        self.at = at;
        t
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let s = self.s;
        while self.at < s.len() && matches!(s[self.at], b' ' | b'\r' | b'\n') {
            self.at += 1;
        }
        let c = *s.get(self.at)?;
        match c {
            b'(' => {
                self.at += 1;
                Some(Tok::Open)
            }
            b')' => {
                self.at += 1;
                Some(Tok::Close)
            }
            b'"' => {
                let mut out = Vec::new();
                let mut i = self.at + 1;
                while i < s.len() {
                    match s[i] {
                        b'\\' if i + 1 < s.len() => {
                            out.push(s[i + 1]);
                            i += 2;
                        }
                        b'"' => {
                            self.at = i + 1;
                            return Some(Tok::Str(out));
                        }
                        b => {
                            out.push(b);
                            i += 1;
                        }
                    }
                }
                self.at = s.len();
                None
            }
            b'{' => {
                // The framer checked the announced size against the bytes present.
                let close = s[self.at..].iter().position(|&b| b == b'}')? + self.at;
                let digits = std::str::from_utf8(&s[self.at + 1..close]).ok()?;
                let n: usize = digits.trim_end_matches('+').parse().ok()?;
                let start = close + 1;
                let start = start + usize::from(s.get(start) == Some(&b'\r'));
                let start = start + usize::from(s.get(start) == Some(&b'\n'));
                let end = start.checked_add(n).filter(|&e| e <= s.len())?;
                self.at = end;
                Some(Tok::Str(s[start..end].to_vec()))
            }
            _ => {
                let start = self.at;
                while self.at < s.len() && !matches!(s[self.at], b' ' | b'(' | b')' | b'\r' | b'\n')
                {
                    self.at += 1;
                }
                Some(Tok::Atom(&s[start..self.at]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5465_forms() {
        let (tag, r) = parse(
            b"a NOTIFY SET STATUS (selected (MessageNew (uid flags) MessageExpunge)) (mailboxes (\"box 2\" INBOX) (MessageNew MessageExpunge))\r\n",
        )
        .unwrap();
        assert_eq!(tag, "a");
        let Ok(Notify::Set { status, watched }) = r else {
            panic!("{r:?}")
        };
        assert!(status);
        assert_eq!(
            watched
                .iter()
                .map(|w| w.folder.as_str())
                .collect::<Vec<_>>(),
            ["box 2", "INBOX"]
        );
        assert_eq!(
            watched[0].items,
            [
                StatusDataItemName::Messages,
                StatusDataItemName::UidNext,
                StatusDataItemName::UidValidity
            ]
        );
        assert_eq!(parse(b"b notify none\r\n").unwrap().1, Ok(Notify::None));
        let (_, r) = parse(b"c NOTIFY SET (mailboxes {3}\r\nabc (FlagChange))\r\n").unwrap();
        assert!(
            matches!(r, Ok(Notify::Set { status: false, ref watched }) if watched[0].folder == "abc")
        );
        for bad in [
            &b"d NOTIFY\r\n"[..],
            b"d NOTIFY SET\r\n",
            b"d NOTIFY SET (mailboxes x (Bogus))\r\n",
            b"d NOTIFY SET (mailboxes x (MessageNew)\r\n",
            b"d NOTIFY SET (elsewhere (MessageNew))\r\n",
            b"d NOTIFY SET (mailboxes {99}\r\nx (MessageNew))\r\n",
        ] {
            assert!(matches!(parse(bad), Some((_, Err(_)))), "{bad:?}");
        }
        assert!(parse(b"e NOOP\r\n").is_none());
    }

    #[test]
    fn hostile_input_is_refused_without_panic() {
        let many = (0..65)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let long = "x".repeat(MAX_NAME + 1);
        for bad in [
            "a NOTIFY SET (mailboxes x (MessageNew ((((((((\r\n".to_string(),
            "a NOTIFY SET (mailboxes \"unterminated (MessageNew))\r\n".to_string(),
            "a NOTIFY SET (mailboxes {18446744073709551615}\r\nx (MessageNew))\r\n".to_string(),
            format!("a NOTIFY SET (mailboxes ({many}) (MessageNew))\r\n"),
            format!("a NOTIFY SET (mailboxes {long} (MessageNew))\r\n"),
            "a NOTIFY SET (mailboxes &Jjo (MessageNew))\r\n".to_string(),
        ] {
            assert!(matches!(parse(bad.as_bytes()), Some((_, Err(_)))), "{bad}");
        }
    }
}
