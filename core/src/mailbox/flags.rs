//! IMAP system flags, stored as Maildir's flag letters.

use std::fmt;

/// One IMAP system flag. `\Recent` is not here: it is a property of a session's view,
/// not of the message (docs/STORE.md "The index").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    Draft,
    Flagged,
    Answered,
    Seen,
    Deleted,
}

impl Flag {
    /// In Maildir's order (the letters must be sorted in a file name's `:2,` part).
    pub const ALL: [Flag; 5] = [
        Flag::Draft,
        Flag::Flagged,
        Flag::Answered,
        Flag::Seen,
        Flag::Deleted,
    ];

    /// Maildir's letter for the flag.
    pub const fn letter(self) -> char {
        match self {
            Flag::Draft => 'D',
            Flag::Flagged => 'F',
            Flag::Answered => 'R',
            Flag::Seen => 'S',
            Flag::Deleted => 'T',
        }
    }

    /// The IMAP name, backslash included.
    pub const fn imap_name(self) -> &'static str {
        match self {
            Flag::Draft => "\\Draft",
            Flag::Flagged => "\\Flagged",
            Flag::Answered => "\\Answered",
            Flag::Seen => "\\Seen",
            Flag::Deleted => "\\Deleted",
        }
    }

    /// From an IMAP flag name, case-insensitively (RFC 3501 §2.3.2).
    pub fn from_imap(name: &str) -> Option<Flag> {
        Flag::ALL
            .into_iter()
            .find(|f| f.imap_name().eq_ignore_ascii_case(name))
    }

    const fn bit(self) -> u8 {
        match self {
            Flag::Draft => 1,
            Flag::Flagged => 2,
            Flag::Answered => 4,
            Flag::Seen => 8,
            Flag::Deleted => 16,
        }
    }
}

/// A set of system flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    pub const NONE: Flags = Flags(0);

    pub fn contains(self, f: Flag) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn with(self, f: Flag) -> Flags {
        Flags(self.0 | f.bit())
    }

    pub fn without(self, f: Flag) -> Flags {
        Flags(self.0 & !f.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// From the letters of a Maildir file name's info part (`:2,FS`). Letters that
    /// are not system flags (Dovecot's keyword letters `a`..`z`) are left out.
    pub fn from_maildir(letters: &str) -> Flags {
        letters.chars().fold(Flags::NONE, |acc, c| {
            match Flag::ALL.into_iter().find(|f| f.letter() == c) {
                Some(f) => acc.with(f),
                None => acc,
            }
        })
    }

    /// The flags of a Maildir file name (`base:2,FS`); none when it has no info part.
    pub fn from_file_name(name: &str) -> Flags {
        match name.split_once(":2,") {
            Some((_, letters)) => Flags::from_maildir(letters),
            None => Flags::NONE,
        }
    }
}

/// Maildir's letters in Maildir's order; `-` for none (the index's spelling).
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        for flag in self.iter() {
            write!(f, "{}", flag.letter())?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Flags {
    type Err = ();

    /// The index's spelling: `-`, or letters each at most once, in Maildir's order.
    fn from_str(s: &str) -> Result<Flags, ()> {
        if s == "-" {
            return Ok(Flags::NONE);
        }
        let flags = Flags::from_maildir(s);
        if s.is_empty() || flags.to_string() != s {
            return Err(());
        }
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_letters_round_trip_in_order() {
        let f = Flags::NONE
            .with(Flag::Seen)
            .with(Flag::Draft)
            .with(Flag::Deleted);
        assert_eq!(f.to_string(), "DST");
        assert_eq!("DST".parse::<Flags>(), Ok(f));
        assert_eq!("-".parse::<Flags>(), Ok(Flags::NONE));
        // Out of order, repeated or unknown letters are not the index's spelling.
        assert!("SD".parse::<Flags>().is_err());
        assert!("SS".parse::<Flags>().is_err());
        assert!("Sa".parse::<Flags>().is_err());
        assert!("".parse::<Flags>().is_err());
    }

    #[test]
    fn file_names_and_imap_names() {
        assert_eq!(
            Flags::from_file_name("1767225600.M1P2.host,S=10:2,FRSa"),
            Flags::NONE
                .with(Flag::Flagged)
                .with(Flag::Answered)
                .with(Flag::Seen)
        );
        assert_eq!(Flags::from_file_name("1767225600.M1P2.host"), Flags::NONE);
        assert_eq!(Flag::from_imap("\\seen"), Some(Flag::Seen));
        assert_eq!(Flag::from_imap("\\Recent"), None);
        assert_eq!(Flag::Answered.imap_name(), "\\Answered");
    }
}
