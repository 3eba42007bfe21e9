//! The changes a writer asks of a folder, and the journal records each becomes
//! against the index as it is when the account lock is held (UIDs, MODSEQs and
//! keyword ids are given only then, so they stay one sequence across processes).

use super::scan;
use mailroom_core::mailbox::{
    valid_keyword, Flags, FolderIndex, MessageMeta, Record, MAX_KEYWORDS,
};

/// How a flag change combines with the message's flags (IMAP STORE's three forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagEdit {
    Set,
    Add,
    Remove,
}

/// A change a writer asks for; the folder gives it its UID and MODSEQ under the lock.
/// Changes to messages that are gone by then are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Flags and keywords (by name; new names join the keyword table).
    Flags {
        uid: u32,
        edit: FlagEdit,
        flags: Flags,
        keywords: Vec<String>,
    },
    /// Remove the message's file and record the expunge.
    Expunge {
        uid: u32,
    },
    /// Record the expunge of a message whose file is already gone (removed by the
    /// caller and its directory synced, or vanished behind the store's back).
    Vanished {
        uid: u32,
    },
    Held {
        uid: u32,
        held: bool,
    },
    /// `\Recent` given out below `first` (a session took those messages as recent).
    Recent {
        first: u32,
    },
    /// A message file already in `cur/` under `name`.
    Add {
        name: String,
        size: u64,
        internal_date: u64,
        flags: Flags,
        keywords: Vec<String>,
        held: bool,
    },
}

pub(super) fn flag_letters(flags: Flags) -> String {
    flags.iter().map(|f| f.letter()).collect()
}

/// The records for one change against `index` (as it is after the earlier ones).
pub(super) fn build(index: &FolderIndex, change: Change) -> Vec<Record> {
    let modseq = index.next_modseq();
    match change {
        Change::Expunge { uid } | Change::Vanished { uid } if index.messages.contains_key(&uid) => {
            vec![Record::Expunged { uid, modseq }]
        }
        Change::Recent { first } if first > index.first_recent => {
            vec![Record::Recent { first }]
        }
        Change::Recent { .. } => Vec::new(),
        Change::Held { uid, held } => match index.messages.get(&uid) {
            Some(m) if m.held != held => vec![Record::Held { uid, modseq, held }],
            _ => Vec::new(),
        },
        Change::Add {
            name,
            size,
            internal_date,
            flags,
            keywords,
            held,
        } => {
            let (mut out, ids) = resolve_keywords(index, &keywords);
            out.push(Record::Added(MessageMeta {
                uid: index.next_uid,
                modseq,
                size,
                internal_date,
                flags,
                keywords: ids,
                held,
                base: scan::base_of(&name).to_string(),
            }));
            out
        }
        Change::Flags {
            uid,
            edit,
            flags,
            keywords,
        } => {
            let Some(m) = index.messages.get(&uid) else {
                return Vec::new();
            };
            let (mut out, ids) = resolve_keywords(index, &keywords);
            let (new_flags, new_keywords) = match edit {
                FlagEdit::Set => (flags, ids),
                FlagEdit::Add => {
                    let f = flags.iter().fold(m.flags, Flags::with);
                    let mut k = m.keywords.clone();
                    k.extend(ids);
                    k.sort_unstable();
                    k.dedup();
                    (f, k)
                }
                FlagEdit::Remove => {
                    let f = flags.iter().fold(m.flags, Flags::without);
                    let k = m
                        .keywords
                        .iter()
                        .copied()
                        .filter(|k| !ids.contains(k))
                        .collect();
                    (f, k)
                }
            };
            if new_flags == m.flags && new_keywords == m.keywords {
                return out;
            }
            out.push(Record::Flags {
                uid,
                modseq,
                flags: new_flags,
                keywords: new_keywords,
            });
            out
        }
        Change::Expunge { .. } | Change::Vanished { .. } => Vec::new(),
    }
}

/// The keyword ids of `names` (ascending), and the `K` records that add the names
/// the folder's table lacks. Names that are not IMAP atoms, or beyond the table's
/// bound, are left out.
fn resolve_keywords(index: &FolderIndex, names: &[String]) -> (Vec<Record>, Vec<u16>) {
    let mut out = Vec::new();
    let mut table = index.keywords.clone();
    let mut ids = Vec::new();
    for k in names {
        let id = match table.iter().position(|t| t.eq_ignore_ascii_case(k)) {
            Some(i) => i,
            None => {
                if !valid_keyword(k) || table.len() >= MAX_KEYWORDS {
                    continue;
                }
                table.push(k.clone());
                out.push(Record::Keyword(k.clone()));
                table.len() - 1
            }
        };
        if let Ok(id) = u16::try_from(id) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    (out, ids)
}
