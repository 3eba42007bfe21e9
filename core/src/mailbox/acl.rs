//! Access control lists on folders (RFC 4314): who may do what in a folder another
//! user owns (manual §4.1's shared "Sales" mailbox, §11.8.2). Pure values: the
//! runtime keeps one list per folder in a file and hands it in; the IMAP session and
//! the runtime ask [`Acl::rights_of`].
//!
//! The owner always has every right: an owner who could lock themself out of their
//! own INBOX would need the administrator to get back in, and no office wants that.

use super::{Flag, Flags};
use std::fmt;

/// The prefix under which a user sees folders other users share with them:
/// `shared/alice/Sales` is alice's folder `Sales` (Dovecot's usual shared namespace).
pub const SHARED_PREFIX: &str = "shared/";

/// A set of RFC 4314 §2.1 rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u16);

/// The rights in the order RFC 4314 lists them, and the letter of each.
const LETTERS: [u8; 11] = *b"lrswipkxtea";

/// Which of `LETTERS` a letter is; the obsolete `c` and `d` of RFC 2086 stand for
/// the rights RFC 4314 §2.1.1 maps them to.
fn bits_of(letter: u8) -> Option<u16> {
    let bit = |l: u8| 1u16 << LETTERS.iter().position(|&x| x == l).unwrap_or(0);
    match letter.to_ascii_lowercase() {
        b'c' => Some(bit(b'k') | bit(b'x')),
        b'd' => Some(bit(b'e') | bit(b't') | bit(b'x')),
        l => LETTERS.iter().position(|&x| x == l).map(|i| 1 << i),
    }
}

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const ALL: Rights = Rights((1 << LETTERS.len()) - 1);
    /// `l`: the folder shows in LIST.
    pub const LOOKUP: Rights = Rights(1 << 0);
    /// `r`: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from.
    pub const READ: Rights = Rights(1 << 1);
    /// `s`: keep `\Seen`.
    pub const SEEN: Rights = Rights(1 << 2);
    /// `w`: flags and keywords other than `\Seen` and `\Deleted`.
    pub const WRITE: Rights = Rights(1 << 3);
    /// `i`: APPEND, COPY and MOVE into.
    pub const INSERT: Rights = Rights(1 << 4);
    /// `p`: post (not used: no submission to folders).
    pub const POST: Rights = Rights(1 << 5);
    /// `k`: create folders below.
    pub const CREATE: Rights = Rights(1 << 6);
    /// `x`: delete or rename the folder.
    pub const DELETE_MAILBOX: Rights = Rights(1 << 7);
    /// `t`: set or clear `\Deleted`.
    pub const DELETE_MESSAGES: Rights = Rights(1 << 8);
    /// `e`: EXPUNGE.
    pub const EXPUNGE: Rights = Rights(1 << 9);
    /// `a`: SETACL, DELETEACL, GETACL, LISTRIGHTS.
    pub const ADMINISTER: Rights = Rights(1 << 10);

    /// Parse a rights string; `None` names an unknown right (RFC 4314 §3.1: the
    /// command fails with BAD).
    pub fn parse(text: &str) -> Option<Rights> {
        text.bytes()
            .try_fold(0u16, |acc, l| bits_of(l).map(|b| acc | b))
            .map(Rights)
    }

    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any of `other` is here.
    pub fn any(self, other: Rights) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn with(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    pub fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// A folder selected with none of these is read-only (RFC 4314 §4, SELECT).
    pub fn may_write(self) -> bool {
        self.any(
            Rights::SEEN
                .with(Rights::WRITE)
                .with(Rights::DELETE_MESSAGES)
                .with(Rights::EXPUNGE),
        )
    }

    /// The system flags these rights let a user set or clear (RFC 4314 §4):
    /// `\Seen` with `s`, `\Deleted` with `t`, the others (and keywords) with `w`.
    pub fn changeable(self) -> Flags {
        let mut f = Flags::NONE;
        if self.contains(Rights::SEEN) {
            f = f.with(Flag::Seen);
        }
        if self.contains(Rights::DELETE_MESSAGES) {
            f = f.with(Flag::Deleted);
        }
        if self.contains(Rights::WRITE) {
            f = f.with(Flag::Answered).with(Flag::Flagged).with(Flag::Draft);
        }
        f
    }

    /// The letters, one per right (for GETACL, MYRIGHTS and LISTRIGHTS).
    pub fn letters(self) -> impl Iterator<Item = char> {
        LETTERS
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, &l)| char::from(l))
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.letters().try_for_each(|c| write!(f, "{c}"))
    }
}

/// How SETACL changes an identifier's rights (RFC 4314 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightsChange {
    Replace(Rights),
    Add(Rights),
    Remove(Rights),
}

impl RightsChange {
    /// `+lr`, `-w` or `lrs`; `None` for an unknown right.
    pub fn parse(text: &str) -> Option<RightsChange> {
        Some(match text.as_bytes().first() {
            Some(b'+') => RightsChange::Add(Rights::parse(&text[1..])?),
            Some(b'-') => RightsChange::Remove(Rights::parse(&text[1..])?),
            _ => RightsChange::Replace(Rights::parse(text)?),
        })
    }

    pub fn apply(self, old: Rights) -> Rights {
        match self {
            RightsChange::Replace(r) => r,
            RightsChange::Add(r) => old.with(r),
            RightsChange::Remove(r) => old.without(r),
        }
    }
}

/// Everyone who logged in (RFC 4314 §2: `anyone` includes anonymous users, of whom
/// this server has none, so the two are the same here).
pub const ANYONE: &str = "anyone";
pub const AUTHENTICATED: &str = "authenticated";

/// A folder's access control list: identifier → rights, in the order set. An
/// identifier starting with `-` holds negative rights (RFC 4314 §2), taken away from
/// what the others grant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    entries: Vec<(String, Rights)>,
}

/// At most this many entries per folder: an office has tens of users, and the list
/// is read at every LIST.
pub const MAX_ACL_ENTRIES: usize = 256;

/// Why an ACL could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclError {
    /// The identifier is empty, too long or holds characters the file cannot keep.
    BadIdentifier,
    TooManyEntries,
}

impl Acl {
    pub fn entries(&self) -> &[(String, Rights)] {
        &self.entries
    }

    /// The rights `user` has; `owner` is the folder's owner (who has all of them).
    pub fn rights_of(&self, user: &str, owner: &str) -> Rights {
        if user.eq_ignore_ascii_case(owner) {
            return Rights::ALL;
        }
        let mut granted = Rights::NONE;
        let mut denied = Rights::NONE;
        for (id, rights) in &self.entries {
            let (negative, name) = match id.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, id.as_str()),
            };
            let applies = name.eq_ignore_ascii_case(user)
                || name.eq_ignore_ascii_case(ANYONE)
                || name.eq_ignore_ascii_case(AUTHENTICATED);
            if applies {
                if negative {
                    denied = denied.with(*rights);
                } else {
                    granted = granted.with(*rights);
                }
            }
        }
        granted.without(denied)
    }

    /// The rights set for exactly `identifier`.
    pub fn get(&self, identifier: &str) -> Rights {
        self.entries
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(identifier))
            .map_or(Rights::NONE, |(_, r)| *r)
    }

    /// SETACL: change `identifier`'s rights; an identifier left with none is removed.
    pub fn set(&mut self, identifier: &str, change: RightsChange) -> Result<(), AclError> {
        if !valid_identifier(identifier) {
            return Err(AclError::BadIdentifier);
        }
        let new = change.apply(self.get(identifier));
        match self
            .entries
            .iter()
            .position(|(id, _)| id.eq_ignore_ascii_case(identifier))
        {
            Some(i) if new.is_empty() => {
                self.entries.remove(i);
            }
            Some(i) => self.entries[i].1 = new,
            None if new.is_empty() => {}
            None if self.entries.len() >= MAX_ACL_ENTRIES => return Err(AclError::TooManyEntries),
            None => self.entries.push((identifier.to_ascii_lowercase(), new)),
        }
        Ok(())
    }

    /// DELETEACL: whether there was an entry.
    pub fn remove(&mut self, identifier: &str) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|(id, _)| !id.eq_ignore_ascii_case(identifier));
        self.entries.len() != before
    }

    /// The file form: `identifier rights` per line, `#` comments allowed.
    pub fn to_text(&self) -> String {
        self.entries
            .iter()
            .map(|(id, r)| format!("{id} {r}\n"))
            .collect()
    }

    /// Read the file form; lines that are not `identifier rights` are skipped (the
    /// file is ours, but a hand edit must not lock everyone out of everything).
    pub fn from_text(text: &str) -> Acl {
        let mut acl = Acl::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(id), Some(rights), None) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            if let Some(r) = Rights::parse(rights) {
                let _ = acl.set(id, RightsChange::Replace(r));
            }
        }
        acl
    }
}

/// A user name, `anyone`, `authenticated`, or one of these with `-` before it.
fn valid_identifier(id: &str) -> bool {
    let name = id.strip_prefix('-').unwrap_or(id);
    // A leading `#` would read back as a comment, a second `-` as a different name.
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['#', '-'])
        && name.bytes().all(|b| b.is_ascii_graphic())
}

/// The owner and folder a name under [`SHARED_PREFIX`] means: `shared/alice/Sales` →
/// (`alice`, `Sales`), `shared/alice/INBOX` → (`alice`, `INBOX`). `None` for a name
/// outside the shared namespace or one that names only a level (`shared/alice`).
pub fn split_shared(name: &str) -> Option<(&str, &str)> {
    let rest = strip_shared(name)?;
    let (owner, folder) = rest.split_once('/')?;
    (!owner.is_empty() && !folder.is_empty()).then_some((owner, folder))
}

/// `name` without the shared prefix, if it is in the shared namespace (`shared`
/// itself gives `Some("")`).
pub fn strip_shared(name: &str) -> Option<&str> {
    if name.eq_ignore_ascii_case("shared") {
        return Some("");
    }
    let head = name.get(..SHARED_PREFIX.len())?;
    head.eq_ignore_ascii_case(SHARED_PREFIX)
        .then(|| &name[SHARED_PREFIX.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_parse_and_print() {
        assert_eq!(Rights::parse("lrswipkxtea"), Some(Rights::ALL));
        assert_eq!(
            Rights::parse("rl").map(|r| r.to_string()),
            Some("lr".into())
        );
        // RFC 4314 §2.1.1: c = k x, d = e t x.
        assert_eq!(Rights::parse("c").map(|r| r.to_string()), Some("kx".into()));
        assert_eq!(
            Rights::parse("d").map(|r| r.to_string()),
            Some("xte".into())
        );
        assert_eq!(Rights::parse("lz"), None);
        assert_eq!(Rights::parse(""), Some(Rights::NONE));
    }

    #[test]
    fn changes() {
        let lr = Rights::parse("lr").unwrap_or_default();
        assert_eq!(
            RightsChange::parse("+w").map(|c| c.apply(lr).to_string()),
            Some("lrw".into())
        );
        assert_eq!(
            RightsChange::parse("-r").map(|c| c.apply(lr).to_string()),
            Some("l".into())
        );
        assert_eq!(
            RightsChange::parse("s").map(|c| c.apply(lr).to_string()),
            Some("s".into())
        );
        assert_eq!(RightsChange::parse("+q"), None);
    }

    #[test]
    fn effective_rights() {
        let mut acl = Acl::default();
        assert_eq!(acl.rights_of("alice", "alice"), Rights::ALL);
        assert_eq!(acl.rights_of("bob", "alice"), Rights::NONE);
        acl.set(
            "anyone",
            RightsChange::Replace(Rights::parse("lr").unwrap_or_default()),
        )
        .unwrap_or(());
        acl.set(
            "Bob",
            RightsChange::Replace(Rights::parse("swi").unwrap_or_default()),
        )
        .unwrap_or(());
        assert_eq!(acl.rights_of("bob", "alice").to_string(), "lrswi");
        assert_eq!(acl.rights_of("carol", "alice").to_string(), "lr");
        acl.set("-carol", RightsChange::Replace(Rights::READ))
            .unwrap_or(());
        assert_eq!(acl.rights_of("carol", "alice").to_string(), "l");
        // The owner keeps everything whatever the list says.
        acl.set("-alice", RightsChange::Replace(Rights::ALL))
            .unwrap_or(());
        assert_eq!(acl.rights_of("ALICE", "alice"), Rights::ALL);
        // An identifier left with nothing goes.
        acl.set("bob", RightsChange::Remove(Rights::ALL))
            .unwrap_or(());
        assert_eq!(acl.get("bob"), Rights::NONE);
        assert!(acl.entries().iter().all(|(id, _)| id != "bob"));
    }

    #[test]
    fn file_round_trip() {
        let mut acl = Acl::default();
        acl.set(
            "bob",
            RightsChange::Replace(Rights::parse("lrs").unwrap_or_default()),
        )
        .unwrap_or(());
        acl.set("-anyone", RightsChange::Replace(Rights::WRITE))
            .unwrap_or(());
        let text = acl.to_text();
        assert_eq!(text, "bob lrs\n-anyone w\n");
        assert_eq!(
            Acl::from_text(&format!("# kept\n{text}junk line here\n")),
            acl
        );
        assert_eq!(
            acl.set("", RightsChange::Replace(Rights::ALL)),
            Err(AclError::BadIdentifier)
        );
        assert_eq!(
            acl.set("a b", RightsChange::Replace(Rights::ALL)),
            Err(AclError::BadIdentifier)
        );
    }

    #[test]
    fn shared_names() {
        assert_eq!(split_shared("shared/alice/Sales"), Some(("alice", "Sales")));
        assert_eq!(split_shared("Shared/alice/a/b"), Some(("alice", "a/b")));
        assert_eq!(split_shared("shared/alice"), None);
        assert_eq!(split_shared("sharedx/alice/a"), None);
        assert_eq!(split_shared("Sales"), None);
        assert_eq!(strip_shared("shared"), Some(""));
        assert_eq!(strip_shared("shared/bob"), Some("bob"));
    }
}
