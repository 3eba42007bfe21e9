//! The change journal: one line per change after the snapshot, each with its own
//! checksum, so a torn or damaged tail is found and cut (docs/STORE.md).

use super::flags::Flags;
use super::index::{
    keyword_list, parse_keyword_list, parse_message, FolderIndex, IndexError, MessageMeta,
};
use super::ModSeq;
use std::fmt::Write as _;

/// One change to a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A message indexed (delivered, appended, copied or moved in).
    Added(MessageMeta),
    /// Flags and keywords replaced.
    Flags {
        uid: u32,
        modseq: ModSeq,
        flags: Flags,
        keywords: Vec<u16>,
    },
    Expunged {
        uid: u32,
        modseq: ModSeq,
    },
    /// Hidden from clients or shown again (POP-2).
    Held {
        uid: u32,
        modseq: ModSeq,
        held: bool,
    },
    /// A keyword added to the folder's table (it has no MODSEQ: no message changed).
    Keyword(String),
    /// `\Recent` handed out (RFC 3501 §2.3.2): the UIDs below `first` were given to
    /// a session, so no later session sees them as recent. No MODSEQ either.
    Recent {
        first: u32,
    },
}

impl Record {
    pub fn modseq(&self) -> Option<ModSeq> {
        match self {
            Record::Added(m) => Some(m.modseq),
            Record::Flags { modseq, .. }
            | Record::Expunged { modseq, .. }
            | Record::Held { modseq, .. } => Some(*modseq),
            Record::Keyword(_) | Record::Recent { .. } => None,
        }
    }

    /// The journal line, newline included.
    pub fn to_line(&self) -> String {
        let mut body = String::with_capacity(96);
        let _ = match self {
            Record::Added(m) => write!(body, "+ {m}"),
            Record::Flags {
                uid,
                modseq,
                flags,
                keywords,
            } => write!(body, "F {uid} {modseq} {flags} {}", keyword_list(keywords)),
            Record::Expunged { uid, modseq } => write!(body, "X {uid} {modseq}"),
            Record::Held { uid, modseq, held } => {
                write!(body, "H {uid} {modseq} {}", if *held { "H" } else { "-" })
            }
            Record::Keyword(name) => write!(body, "K {name}"),
            Record::Recent { first } => write!(body, "R {first}"),
        };
        let crc = crc32fast::hash(body.as_bytes());
        let _ = writeln!(body, " #{crc:08x}");
        body
    }

    /// One line without its newline; `None` when it is damaged or not a record.
    pub fn parse_line(line: &str) -> Option<Record> {
        let (body, crc) = line.rsplit_once(" #")?;
        if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32fast::hash(body.as_bytes())
        {
            return None;
        }
        let (kind, rest) = body.split_once(' ')?;
        let mut f = rest.split(' ');
        let r = match kind {
            "+" => return parse_message(rest).map(Record::Added),
            "F" => Record::Flags {
                uid: f.next()?.parse().ok()?,
                modseq: f.next()?.parse().ok()?,
                flags: f.next()?.parse().ok()?,
                keywords: parse_keyword_list(f.next()?)?,
            },
            "X" => Record::Expunged {
                uid: f.next()?.parse().ok()?,
                modseq: f.next()?.parse().ok()?,
            },
            "H" => Record::Held {
                uid: f.next()?.parse().ok()?,
                modseq: f.next()?.parse().ok()?,
                held: match f.next()? {
                    "H" => true,
                    "-" => false,
                    _ => return None,
                },
            },
            "K" => Record::Keyword(f.next().filter(|k| valid_keyword(k))?.to_string()),
            "R" => Record::Recent {
                first: f.next()?.parse().ok()?,
            },
            _ => return None,
        };
        f.next().is_none().then_some(r)
    }
}

/// An IMAP keyword as an atom (RFC 3501 `flag-keyword`), bounded.
pub fn valid_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 100
        && !k.starts_with('\\')
        && k.bytes().all(|c| {
            c.is_ascii_graphic() && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b']')
        })
}

/// Why replay stopped before the end of the journal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("journal line {line} is torn or damaged")]
    Damaged { line: usize },
    #[error("journal line {line}: {source}")]
    Inconsistent { line: usize, source: IndexError },
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Changes applied (lines the snapshot already held are not counted).
    pub applied: usize,
    /// Bytes of the journal that are good; a writer truncates the file to this.
    pub good_len: usize,
    /// Why replay stopped early, if it did.
    pub stopped: Option<JournalError>,
}

/// Apply the journal `text` to `index` (loaded from the snapshot). Lines whose MODSEQ
/// the snapshot already holds (a crash between writing a snapshot and emptying the
/// journal) are skipped; replay stops at the first damaged or inconsistent line, and
/// a last line without its newline counts as torn.
pub fn replay(index: &mut FolderIndex, text: &[u8]) -> Replayed {
    let mut done = Replayed {
        applied: 0,
        good_len: 0,
        stopped: None,
    };
    let mut pos = 0;
    for (i, raw) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let record = raw
            .strip_suffix(b"\n")
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(Record::parse_line);
        let Some(record) = record else {
            done.stopped = Some(JournalError::Damaged { line });
            return done;
        };
        let held_already = match (&record, record.modseq()) {
            (_, Some(m)) => m <= index.highest_modseq,
            (Record::Keyword(k), None) => index.keyword_id(k).is_some(),
            (Record::Recent { first }, None) => *first <= index.first_recent,
            _ => false,
        };
        if !held_already {
            if let Err(source) = index.apply(&record) {
                done.stopped = Some(JournalError::Inconsistent { line, source });
                return done;
            }
            done.applied += 1;
        }
        pos += raw.len();
        done.good_len = pos;
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::Flag;

    fn added(uid: u32, modseq: ModSeq) -> Record {
        Record::Added(MessageMeta {
            uid,
            modseq,
            size: 10,
            internal_date: 1_767_225_600,
            flags: Flags::NONE,
            keywords: vec![],
            held: false,
            base: format!("b{uid}"),
        })
    }

    #[test]
    fn lines_round_trip_and_checksums_catch_damage() {
        let records = [
            added(1, 2),
            Record::Keyword("$Forwarded".into()),
            Record::Flags {
                uid: 1,
                modseq: 3,
                flags: Flags::NONE.with(Flag::Seen),
                keywords: vec![0],
            },
            Record::Held {
                uid: 1,
                modseq: 4,
                held: true,
            },
            Record::Expunged { uid: 1, modseq: 5 },
        ];
        for r in &records {
            let line = r.to_line();
            assert!(line.ends_with('\n'));
            assert_eq!(
                Record::parse_line(line.trim_end_matches('\n')).as_ref(),
                Some(r)
            );
            let damaged = line.replacen(' ', "  ", 1);
            assert_eq!(Record::parse_line(damaged.trim_end_matches('\n')), None);
        }
        assert_eq!(
            Record::Expunged { uid: 1, modseq: 5 }.to_line(),
            format!("X 1 5 #{:08x}\n", crc32fast::hash(b"X 1 5"))
        );
    }

    #[test]
    fn replay_skips_what_the_snapshot_holds_and_stops_at_a_torn_tail() {
        let journal: String = [
            added(1, 2),
            added(2, 3),
            Record::Expunged { uid: 1, modseq: 4 },
        ]
        .iter()
        .map(Record::to_line)
        .collect();
        // A snapshot written after the first change, before the journal was emptied.
        let mut ix = FolderIndex::new(9);
        ix.apply(&added(1, 2)).unwrap();
        let torn = &journal.as_bytes()[..journal.len() - 3];
        let r = replay(&mut ix, torn);
        assert_eq!(r.applied, 1);
        assert_eq!(r.stopped, Some(JournalError::Damaged { line: 3 }));
        assert_eq!(
            &journal.as_bytes()[..r.good_len],
            journal
                .lines()
                .take(2)
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .as_bytes()
        );
        assert_eq!(ix.messages.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    }
}
