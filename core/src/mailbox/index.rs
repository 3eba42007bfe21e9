//! A folder's index: the authority for UIDs, flags, keywords, MODSEQ and held
//! messages (docs/STORE.md "The index"), and its snapshot text, version 2.

use super::flags::Flags;
use super::journal::Record;
use super::ModSeq;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const HEADER: &str = "mailroom-index 2";
/// Keyword ids are `u16`; IMAP clients use a handful, so this bounds a hostile APPEND.
pub const MAX_KEYWORDS: usize = 1000;

/// One message as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub modseq: ModSeq,
    /// Octets RETR and FETCH send (CRLF line ends, no stuffing).
    pub size: u64,
    /// IMAP's INTERNALDATE, Unix seconds.
    pub internal_date: u64,
    pub flags: Flags,
    /// Ids into the folder's keyword table, ascending, no repeats.
    pub keywords: Vec<u16>,
    /// Hidden from clients (POP-2 held mail).
    pub held: bool,
    /// The Maildir base name (file name before `:2,`), also the POP3 UIDL.
    pub base: String,
}

/// `uid modseq size date flags keywords held base`: a message line of the snapshot,
/// and the body of the journal's `+` line.
impl std::fmt::Display for MessageMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} {} {}",
            self.uid,
            self.modseq,
            self.size,
            self.internal_date,
            self.flags,
            keyword_list(&self.keywords),
            if self.held { "H" } else { "-" },
            self.base
        )
    }
}

/// RFC 6154 special uses a folder may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
}

impl SpecialUse {
    const ALL: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    pub const fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// From an attribute, case-insensitively.
    pub fn from_attribute(s: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|u| u.attribute().eq_ignore_ascii_case(s))
    }

    /// The folders a new account gets, with their uses.
    pub const DEFAULT_FOLDERS: [(&'static str, SpecialUse); 4] = [
        ("Sent", SpecialUse::Sent),
        ("Drafts", SpecialUse::Drafts),
        ("Trash", SpecialUse::Trash),
        ("Junk", SpecialUse::Junk),
    ];
}

/// A folder's whole state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderIndex {
    pub uidvalidity: u32,
    /// The UID the next message gets.
    pub next_uid: u32,
    /// The MODSEQ of the last change; at least 1 (CONDSTORE forbids 0).
    pub highest_modseq: ModSeq,
    /// The lowest UID still `\Recent` for the next session that selects the folder.
    pub first_recent: u32,
    pub special_use: Option<SpecialUse>,
    /// The keyword table: a keyword's id is its position.
    pub keywords: Vec<String>,
    pub messages: BTreeMap<u32, MessageMeta>,
}

/// Why a snapshot or a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("line {line}: {what}")]
    Snapshot { line: usize, what: &'static str },
    #[error("change does not follow the index: {0}")]
    Inconsistent(&'static str),
}

impl FolderIndex {
    /// A new, empty folder.
    pub fn new(uidvalidity: u32) -> FolderIndex {
        FolderIndex {
            uidvalidity,
            next_uid: 1,
            highest_modseq: 1,
            first_recent: 1,
            special_use: None,
            keywords: Vec::new(),
            messages: BTreeMap::new(),
        }
    }

    /// The MODSEQ a writer gives its next change.
    pub fn next_modseq(&self) -> ModSeq {
        self.highest_modseq + 1
    }

    /// The id of `keyword` (IMAP keywords compare case-insensitively).
    pub fn keyword_id(&self, keyword: &str) -> Option<u16> {
        self.keywords
            .iter()
            .position(|k| k.eq_ignore_ascii_case(keyword))
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Messages a client may see (held ones left out), by UID.
    pub fn visible(&self) -> impl Iterator<Item = &MessageMeta> {
        self.messages.values().filter(|m| !m.held)
    }

    /// Apply one change. A change that does not follow from this state (a MODSEQ not
    /// above the highest, a UID below `next_uid` for a new message, an unknown UID) is
    /// refused and leaves the index as it was.
    pub fn apply(&mut self, r: &Record) -> Result<(), IndexError> {
        use IndexError::Inconsistent;
        if let Some(m) = r.modseq() {
            if m <= self.highest_modseq {
                return Err(Inconsistent("MODSEQ does not grow"));
            }
        }
        match r {
            Record::Added(meta) => {
                if meta.uid < self.next_uid {
                    return Err(Inconsistent("UID already used"));
                }
                if meta
                    .keywords
                    .iter()
                    .any(|&k| usize::from(k) >= self.keywords.len())
                {
                    return Err(Inconsistent("unknown keyword id"));
                }
                self.next_uid = meta.uid.saturating_add(1);
                self.messages.insert(meta.uid, meta.clone());
            }
            Record::Flags {
                uid,
                modseq,
                flags,
                keywords,
            } => {
                if keywords
                    .iter()
                    .any(|&k| usize::from(k) >= self.keywords.len())
                {
                    return Err(Inconsistent("unknown keyword id"));
                }
                let m = self
                    .messages
                    .get_mut(uid)
                    .ok_or(Inconsistent("no such UID"))?;
                m.flags = *flags;
                m.keywords.clone_from(keywords);
                m.modseq = *modseq;
            }
            Record::Expunged { uid, .. } => {
                self.messages
                    .remove(uid)
                    .ok_or(Inconsistent("no such UID"))?;
            }
            Record::Held { uid, modseq, held } => {
                let m = self
                    .messages
                    .get_mut(uid)
                    .ok_or(Inconsistent("no such UID"))?;
                m.held = *held;
                m.modseq = *modseq;
            }
            Record::Recent { first } => {
                self.first_recent = self.first_recent.max(*first);
            }
            Record::Keyword(name) => {
                if self.keyword_id(name).is_none() {
                    if self.keywords.len() >= MAX_KEYWORDS {
                        return Err(Inconsistent("keyword table full"));
                    }
                    self.keywords.push(name.clone());
                }
            }
        }
        if let Some(m) = r.modseq() {
            self.highest_modseq = m;
        }
        Ok(())
    }

    /// The snapshot text (docs/STORE.md).
    pub fn to_text(&self) -> String {
        let mut t = String::with_capacity(64 + self.messages.len() * 64);
        let _ = writeln!(t, "{HEADER}");
        let _ = writeln!(t, "uidvalidity {}", self.uidvalidity);
        let _ = writeln!(t, "nextuid {}", self.next_uid);
        let _ = writeln!(t, "highestmodseq {}", self.highest_modseq);
        let _ = writeln!(t, "firstrecent {}", self.first_recent);
        if let Some(u) = self.special_use {
            let _ = writeln!(t, "specialuse {}", u.attribute());
        }
        if !self.keywords.is_empty() {
            let _ = writeln!(t, "keywords {}", self.keywords.join(" "));
        }
        for m in self.messages.values() {
            let _ = writeln!(t, "{m}");
        }
        t
    }

    /// Read a snapshot written by [`FolderIndex::to_text`].
    pub fn parse(text: &str) -> Result<FolderIndex, IndexError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let bad = |line, what| IndexError::Snapshot { line, what };
        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(bad(1, "not a version 2 mailroom index")),
        }
        let mut ix = FolderIndex::new(0);
        let mut have = (false, false, false);
        for (n, line) in lines {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "uidvalidity" => {
                    ix.uidvalidity = rest.parse().map_err(|_| bad(n, "bad uidvalidity"))?;
                    have.0 = true;
                }
                "nextuid" => {
                    ix.next_uid = rest.parse().map_err(|_| bad(n, "bad nextuid"))?;
                    have.1 = true;
                }
                "highestmodseq" => {
                    ix.highest_modseq = rest.parse().map_err(|_| bad(n, "bad highestmodseq"))?;
                    have.2 = true;
                }
                "firstrecent" => {
                    ix.first_recent = rest.parse().map_err(|_| bad(n, "bad firstrecent"))?;
                }
                "specialuse" => {
                    ix.special_use =
                        Some(SpecialUse::from_attribute(rest).ok_or(bad(n, "bad specialuse"))?);
                }
                "keywords" => {
                    ix.keywords = rest.split(' ').map(str::to_string).collect();
                    if ix.keywords.len() > MAX_KEYWORDS {
                        return Err(bad(n, "too many keywords"));
                    }
                }
                _ => {
                    let m = parse_message(line).ok_or(bad(n, "bad message line"))?;
                    if m.uid >= ix.next_uid
                        || m.modseq > ix.highest_modseq
                        || m.keywords
                            .iter()
                            .any(|&k| usize::from(k) >= ix.keywords.len())
                        || ix.messages.contains_key(&m.uid)
                    {
                        return Err(bad(n, "message line does not fit the header"));
                    }
                    ix.messages.insert(m.uid, m);
                }
            }
        }
        if !(have.0 && have.1 && have.2) || ix.highest_modseq == 0 {
            return Err(bad(1, "header incomplete"));
        }
        Ok(ix)
    }
}

/// `-` or comma-separated ids.
pub(super) fn keyword_list(ids: &[u16]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    ids.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

pub(super) fn parse_keyword_list(s: &str) -> Option<Vec<u16>> {
    if s == "-" {
        return Some(Vec::new());
    }
    let ids: Vec<u16> = s
        .split(',')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    // Ascending without repeats: one spelling per set.
    ids.windows(2).all(|w| w[0] < w[1]).then_some(ids)
}

/// `uid modseq size date flags keywords held base`.
pub(super) fn parse_message(line: &str) -> Option<MessageMeta> {
    let mut f = line.split(' ');
    let m = MessageMeta {
        uid: f.next()?.parse().ok().filter(|&u| u != 0)?,
        modseq: f.next()?.parse().ok().filter(|&m| m != 0)?,
        size: f.next()?.parse().ok()?,
        internal_date: f.next()?.parse().ok()?,
        flags: f.next()?.parse().ok()?,
        keywords: parse_keyword_list(f.next()?)?,
        held: match f.next()? {
            "H" => true,
            "-" => false,
            _ => return None,
        },
        base: f.next().filter(|b| valid_base(b))?.to_string(),
    };
    f.next().is_none().then_some(m)
}

/// A Maildir base name as the index can hold it: printable, no space, no `:` or `/`.
pub fn valid_base(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 255
        && b.bytes()
            .all(|c| c.is_ascii_graphic() && c != b':' && c != b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::Flag;

    fn meta(uid: u32, modseq: ModSeq) -> MessageMeta {
        MessageMeta {
            uid,
            modseq,
            size: 4096,
            internal_date: 1_767_225_600,
            flags: Flags::NONE.with(Flag::Seen),
            keywords: vec![],
            held: false,
            base: format!("1767225600.M{uid}P2.host,S=4096"),
        }
    }

    #[test]
    fn snapshot_round_trips() {
        let mut ix = FolderIndex::new(1_767_225_600);
        ix.special_use = Some(SpecialUse::Sent);
        ix.apply(&Record::Keyword("$Forwarded".into())).unwrap();
        ix.apply(&Record::Added(meta(1, 2))).unwrap();
        let mut m = meta(3, 3);
        m.keywords = vec![0];
        m.held = true;
        ix.apply(&Record::Added(m)).unwrap();
        let text = ix.to_text();
        assert!(text.starts_with("mailroom-index 2\nuidvalidity 1767225600\nnextuid 4\n"));
        assert!(text.contains("\n3 3 4096 1767225600 S 0 H 1767225600.M3P2.host,S=4096\n"));
        assert_eq!(FolderIndex::parse(&text), Ok(ix));
    }

    #[test]
    fn snapshot_refuses_what_does_not_fit() {
        let ok = "mailroom-index 2\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n";
        assert!(FolderIndex::parse(ok).is_ok());
        for bad in [
            "mailroom-index 1\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n",
            "mailroom-index 2\nuidvalidity 7\nnextuid 3\n",
            // UID at or above nextuid; MODSEQ above highest; unknown keyword id.
            "mailroom-index 2\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n3 1 1 1 - - - b\n",
            "mailroom-index 2\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n1 6 1 1 - - - b\n",
            "mailroom-index 2\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n1 1 1 1 - 0 - b\n",
            "mailroom-index 2\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n1 1 1 1 SD - - b\n",
            "mailroom-index 2\nuidvalidity 7\nnextuid 3\nhighestmodseq 5\n1 1 1 1 - - - a:b\n",
        ] {
            assert!(FolderIndex::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_must_follow() {
        let mut ix = FolderIndex::new(1);
        ix.apply(&Record::Added(meta(5, 2))).unwrap();
        let before = ix.clone();
        assert!(ix.apply(&Record::Added(meta(4, 3))).is_err(), "UID reused");
        assert!(
            ix.apply(&Record::Added(meta(6, 2))).is_err(),
            "MODSEQ repeated"
        );
        assert!(ix.apply(&Record::Expunged { uid: 9, modseq: 3 }).is_err());
        assert_eq!(ix, before);
        ix.apply(&Record::Expunged { uid: 5, modseq: 3 }).unwrap();
        assert!(ix.messages.is_empty());
        assert_eq!((ix.next_uid, ix.highest_modseq), (6, 3));
    }
}
