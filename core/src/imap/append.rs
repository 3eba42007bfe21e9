//! APPEND forms imap-codec does not parse: MULTIAPPEND (RFC 3502, several messages
//! in one command, stored all or none) and CATENATE (RFC 4469, a message put
//! together from literal `TEXT` parts and `URL`s of messages this user may read).
//!
//! The whole command (its literals included) is taken apart here; URL parts are
//! fetched one at a time through [`ImapEvent::UrlMessage`], and the finished messages
//! go to the runtime in one [`ImapEvent::AppendMany`], which stores all or none.

use super::cursor::{Cursor, SYNTAX};
use super::imapurl::{self, MessageUrl};
use super::{store, ImapEvent, NewMessage};
use crate::mailbox::decode_mutf7;
use imap_codec::imap_types::flag::Flag as WireFlag;

/// Most messages in one MULTIAPPEND, and parts in one CATENATE.
const MAX_MESSAGES: usize = 1000;
const MAX_PARTS: usize = 100;

/// One message's source: literal text or a URL to copy from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Text(Vec<u8>),
    Url(String),
}

/// One message of the command, before its URLs are fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Draft {
    pub flags: crate::mailbox::Flags,
    pub keywords: Vec<String>,
    pub date: Option<i64>,
    pub pieces: Vec<Piece>,
    /// Literal8 (`~{n}`) text: binary parts are stored as base64 (RFC 3516 §4.3).
    pub binary: bool,
}

/// A parsed MULTIAPPEND/CATENATE command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Parsed {
    pub tag: String,
    pub folder: String,
    pub drafts: Vec<Draft>,
}

/// Why the command is refused; the tag when one could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refused {
    pub tag: Option<String>,
    pub text: &'static str,
}

/// `msg` (a whole command, literals included) taken apart if it is an APPEND;
/// `None` if it is some other command.
pub(super) fn parse(msg: &[u8]) -> Option<Result<Parsed, Refused>> {
    let mut c = Cursor::new(msg);
    let tag = c.atom()?;
    let tag = String::from_utf8_lossy(tag).into_owned();
    if !c.eat(b' ') || !c.atom()?.eq_ignore_ascii_case(b"APPEND") {
        return None;
    }
    Some(
        parse_rest(&mut c)
            .map_err(|text| Refused {
                tag: Some(tag.clone()),
                text,
            })
            .map(|(folder, drafts)| Parsed {
                tag,
                folder,
                drafts,
            }),
    )
}

fn parse_rest(c: &mut Cursor<'_>) -> Result<(String, Vec<Draft>), &'static str> {
    c.expect(b' ')?;
    let name = c.astring().ok_or(SYNTAX)?;
    let name = String::from_utf8(name).map_err(|_| "[CANNOT] Invalid mailbox name")?;
    let folder = if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        decode_mutf7(&name).map_err(|_| "[CANNOT] Invalid mailbox name")?
    };
    let mut drafts = Vec::new();
    while c.eat(b' ') {
        if drafts.len() >= MAX_MESSAGES {
            return Err("[LIMIT] Too many messages in one APPEND");
        }
        drafts.push(draft(c)?);
    }
    if drafts.is_empty() || !c.at_end() {
        return Err(SYNTAX);
    }
    Ok((folder, drafts))
}

/// `[flag-list SP] [date-time SP] (literal / literal8 / "CATENATE" SP "(" … ")")`.
fn draft(c: &mut Cursor<'_>) -> Result<Draft, &'static str> {
    let mut flags = crate::mailbox::Flags::NONE;
    let mut keywords = Vec::new();
    if c.peek() == Some(b'(') {
        c.at += 1;
        let mut wire = Vec::new();
        while c.peek() != Some(b')') {
            if !wire.is_empty() {
                c.expect(b' ')?;
            }
            let f = c.flag().ok_or(SYNTAX)?;
            let f = std::str::from_utf8(f).map_err(|_| SYNTAX)?;
            wire.push(WireFlag::try_from(f).map_err(|_| "Invalid flags")?);
        }
        c.at += 1;
        c.expect(b' ')?;
        (flags, keywords) = store::parse_flags(&wire).map_err(|_| "Invalid flags")?;
    }
    let mut date = None;
    if c.peek() == Some(b'"') {
        let d = c.quoted().ok_or(SYNTAX)?;
        let d = std::str::from_utf8(&d).map_err(|_| "Invalid date")?;
        let parsed = chrono::DateTime::parse_from_str(d.trim_start(), "%d-%b-%Y %H:%M:%S %z")
            .map_err(|_| "Invalid date")?;
        date = Some(parsed.timestamp());
        c.expect(b' ')?;
    }
    let mut pieces = Vec::new();
    let mut binary = false;
    if c.peek_word(b"CATENATE") {
        c.at += b"CATENATE".len();
        c.expect(b' ')?;
        c.expect(b'(')?;
        loop {
            if pieces.len() >= MAX_PARTS {
                return Err("[LIMIT] Too many CATENATE parts");
            }
            if c.peek_word(b"TEXT ") {
                c.at += 5;
                let (data, eight) = c.literal().ok_or(SYNTAX)?;
                binary |= eight;
                pieces.push(Piece::Text(data.to_vec()));
            } else if c.peek_word(b"URL ") {
                c.at += 4;
                let url = c.astring().ok_or(SYNTAX)?;
                let url = String::from_utf8(url).map_err(|_| "[BADURL] Invalid URL")?;
                pieces.push(Piece::Url(url));
            } else {
                return Err(SYNTAX);
            }
            if c.eat(b')') {
                break;
            }
            c.expect(b' ')?;
        }
    } else {
        let (data, eight) = c.literal().ok_or(SYNTAX)?;
        binary = eight;
        pieces.push(Piece::Text(data.to_vec()));
    }
    Ok(Draft {
        flags,
        keywords,
        date,
        pieces,
        binary,
    })
}

/// A MULTIAPPEND/CATENATE under way: URL parts fetched one by one, then the lot
/// stored in one event.
#[derive(Debug)]
pub(super) struct Job {
    pub tag: String,
    folder: String,
    drafts: Vec<Draft>,
    /// The target folder was found to exist (checked before any URL is fetched, so
    /// a missing target is `[TRYCREATE]` whatever the URLs say, as Dovecot answers).
    checked: bool,
    /// The URL being fetched: (draft, piece).
    fetching: Option<(usize, usize, MessageUrl)>,
    /// Most octets one finished message may have (`[imap] max_literal`).
    max_size: u64,
    /// The logged-in user: absolute URLs must name them.
    me: String,
}

/// What the session does next for a [`Job`].
#[derive(Debug)]
pub(super) enum Step {
    /// Ask this event, keep the job pending.
    Ask(ImapEvent),
    /// All messages are complete: store them with this event.
    Store(ImapEvent),
    /// End the command `NO` with this text.
    Fail(String),
}

impl Job {
    pub(super) fn new(p: Parsed, max_size: u64, me: String) -> Job {
        Job {
            me,
            tag: p.tag,
            folder: p.folder,
            drafts: p.drafts,
            checked: false,
            fetching: None,
            max_size,
        }
    }

    pub(super) fn next(&mut self) -> Step {
        let url = self.drafts.iter().enumerate().find_map(|(d, draft)| {
            draft.pieces.iter().enumerate().find_map(|(i, p)| match p {
                Piece::Url(u) => Some((d, i, u.clone())),
                Piece::Text(_) => None,
            })
        });
        let Some((d, i, url)) = url else {
            return self.finish();
        };
        if !self.checked {
            return Step::Ask(ImapEvent::Status {
                folder: self.folder.clone(),
            });
        }
        // Only this user's own messages: a URL naming another user is refused
        // rather than read from this user's folders.
        let Some(parsed) = imapurl::parse(&url).filter(|p| {
            p.user
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(&self.me))
        }) else {
            return Step::Fail(format!("[BADURL {url}] Invalid IMAP URL"));
        };
        let event = ImapEvent::UrlMessage {
            owner: None,
            folder: parsed.folder.clone(),
            uid_validity: parsed.uid_validity,
            uid: parsed.uid,
        };
        self.fetching = Some((d, i, parsed));
        Step::Ask(event)
    }

    /// The target folder exists.
    pub(super) fn target_exists(&mut self) {
        self.checked = true;
    }

    /// The message a URL named (`None`: no such message for this user); `Err` is
    /// the text of the NO that ends the command.
    pub(super) fn fetched(&mut self, msg: Option<Vec<u8>>) -> Result<(), String> {
        let internal = || "Internal error".to_owned();
        let (d, i, url) = self.fetching.take().ok_or_else(internal)?;
        let piece = self
            .drafts
            .get_mut(d)
            .and_then(|x| x.pieces.get_mut(i))
            .ok_or_else(internal)?;
        let Some(data) = msg.and_then(|m| imapurl::extract(&m, &url)) else {
            let text = match piece {
                Piece::Url(t) => t.clone(),
                Piece::Text(_) => String::new(),
            };
            return Err(format!("[BADURL {text}] No such message or part"));
        };
        *piece = Piece::Text(data);
        // URL parts could grow the command far past what its literals may hold.
        let total: u64 = self
            .drafts
            .iter()
            .flat_map(|d| &d.pieces)
            .map(|p| match p {
                Piece::Text(t) => t.len() as u64,
                Piece::Url(_) => 0,
            })
            .sum();
        if total > self.max_size {
            return Err("[TOOBIG] Message too large".into());
        }
        Ok(())
    }

    fn finish(&mut self) -> Step {
        let mut messages = Vec::with_capacity(self.drafts.len());
        for d in std::mem::take(&mut self.drafts) {
            let mut message = Vec::new();
            for p in d.pieces {
                if let Piece::Text(t) = p {
                    message.extend_from_slice(&t);
                }
            }
            if message.len() as u64 > self.max_size {
                return Step::Fail("[TOOBIG] Message too large".into());
            }
            if d.binary {
                message = super::binary::encode_binary_parts(message);
            }
            messages.push(NewMessage {
                flags: d.flags,
                keywords: d.keywords,
                internal_date: d.date,
                message,
            });
        }
        Step::Store(ImapEvent::AppendMany {
            to: std::mem::take(&mut self.folder),
            messages,
        })
    }
}

/// `[APPENDUID v uid-set]` for the UIDs given in order (RFC 4315 §3).
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiappend_two_literals() {
        let p = parse(b"a APPEND INBOX (\\Seen) {3}\r\nabc {2+}\r\nde\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(p.tag, "a");
        assert_eq!(p.folder, "INBOX");
        assert_eq!(p.drafts.len(), 2);
        assert_eq!(p.drafts[0].pieces, vec![Piece::Text(b"abc".to_vec())]);
        assert!(p.drafts[0].flags.contains(crate::mailbox::Flag::Seen));
        assert_eq!(p.drafts[1].pieces, vec![Piece::Text(b"de".to_vec())]);
    }

    #[test]
    fn catenate_parts() {
        let p = parse(
            b"b append Drafts (\\Flagged) \"24-Mar-2007 23:00:00 +0200\" CATENATE (URL \"/INBOX/;uid=1/;section=header\" TEXT {2}\r\nhi) catenate (TEXT ~{1}\r\n\0)\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.folder, "Drafts");
        assert_eq!(p.drafts.len(), 2);
        assert_eq!(p.drafts[0].date, Some(1174770000));
        assert_eq!(
            p.drafts[0].pieces,
            vec![
                Piece::Url("/INBOX/;uid=1/;section=header".into()),
                Piece::Text(b"hi".to_vec())
            ]
        );
        assert!(p.drafts[1].binary);
    }

    #[test]
    fn refusals() {
        assert!(parse(b"c SELECT INBOX\r\n").is_none());
        let r = parse(b"c APPEND INBOX\r\n").unwrap().unwrap_err();
        assert_eq!(r.tag.as_deref(), Some("c"));
        assert!(parse(b"c APPEND INBOX CATENATE ()\r\n").unwrap().is_err());
        assert!(parse(b"c APPEND INBOX {5}\r\nab\r\n").unwrap().is_err());
        assert!(parse(b"c APPEND INBOX {1}\r\n\0\r\n").unwrap().is_err());
        assert!(parse(b"c APPEND INBOX (\\Bogus) {1}\r\nx\r\n")
            .unwrap()
            .is_err());
    }

    proptest::proptest! {
        // Hostile input after a valid start: an answer, never a panic.
        #[test]
        fn any_tail_is_parsed_or_refused(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            for head in [&b"a APPEND INBOX "[..], b"a APPEND INBOX CATENATE (", b"a LIST ", b"a URLFETCH ", b"a GENURLAUTH "] {
                let mut msg = head.to_vec();
                msg.extend_from_slice(&tail);
                let _ = parse(&msg);
                let _ = super::super::listext::extended::parse(&msg);
                let _ = super::super::urlauth::parse(&msg);
                if let Ok(s) = std::str::from_utf8(&tail) {
                    let _ = imapurl::parse(s);
                }
            }
        }
    }

    #[test]
    fn uid_sets() {
        assert_eq!(uid_set(&[4, 5, 6, 9, 11, 12]), "4:6,9,11:12");
        assert_eq!(uid_set(&[7]), "7");
    }
}
