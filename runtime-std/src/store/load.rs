//! Loading a folder from disk: its snapshot (created for a new folder, upgraded from
//! version 1, rebuilt if unreadable) and the journal replayed on it, a torn tail cut;
//! and the difference between two states, for sessions, when another process's
//! checkpoint forces a reload.

use super::journal::Journal;
use super::scan;
use super::upgrade;
use crate::platform::datadir::{INDEX_FILE, JOURNAL_FILE};
use crate::platform::durable::{self, Access};
use mailroom_core::mailbox::{replay, FolderIndex, Record};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What loading from disk gives (under the account lock).
pub(super) struct Loaded {
    pub index: FolderIndex,
    pub snapshot: File,
    pub snapshot_len: u64,
    pub journal: Journal,
}

/// A UIDVALIDITY for a folder made now: the time in seconds, but never one this
/// process gave before, so a folder deleted and made again within a second still
/// gets a new one (RFC 3501 §2.3.1.1: its old UIDs must not be taken for the new).
pub fn new_uidvalidity() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static LAST: AtomicU32 = AtomicU32::new(0);
    let now = u32::try_from(crate::platform::clock::unix_secs())
        .unwrap_or(u32::MAX)
        .max(1);
    let prev = LAST
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
            Some(now.max(last.saturating_add(1)))
        })
        .unwrap_or(0);
    now.max(prev.saturating_add(1))
}

/// Load the folder at `root` from its snapshot and journal, creating or upgrading the
/// snapshot first if needed. Call with the account lock held.
pub(super) fn load(root: &Path) -> io::Result<Loaded> {
    let ipath = root.join(INDEX_FILE);
    let mut journal = Journal::open(&root.join(JOURNAL_FILE))?;
    // At most: create or upgrade or rebuild once, then read what was written.
    for _ in 0..3 {
        let mut snapshot = match File::open(&ipath) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A journal without its snapshot says nothing usable.
                start_over(root, &mut journal, FolderIndex::new(new_uidvalidity()))?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        snapshot.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        if text.starts_with(upgrade::V1_HEADER) {
            let files = present_files(root)?;
            match upgrade::from_v1(&text, &files) {
                Ok(ix) => {
                    tracing::info!(folder = %root.display(), "index upgraded to version 2");
                    start_over(root, &mut journal, ix)?;
                }
                Err(e) => {
                    tracing::warn!(folder = %root.display(), "version-1 index unreadable ({e}); rebuilding it with a new UIDVALIDITY");
                    start_over(root, &mut journal, FolderIndex::new(new_uidvalidity()))?;
                }
            }
            continue;
        }
        let mut index = match FolderIndex::parse(&text) {
            Ok(ix) => ix,
            Err(e) => {
                tracing::warn!(folder = %root.display(), "index unreadable ({e}); rebuilding it with a new UIDVALIDITY");
                start_over(root, &mut journal, FolderIndex::new(new_uidvalidity()))?;
                continue;
            }
        };
        let snapshot_len = bytes.len() as u64;
        let len = journal.disk_len()?;
        let lines = journal.read_range(0, len)?;
        let r = replay(&mut index, &lines);
        journal.len = r.good_len as u64;
        journal.lines = lines[..r.good_len].iter().filter(|&&b| b == b'\n').count();
        if let Some(why) = r.stopped {
            tracing::warn!(folder = %root.display(), "{why}; cutting the journal there");
            journal.truncate(r.good_len as u64)?;
        }
        return Ok(Loaded {
            index,
            snapshot,
            snapshot_len,
            journal,
        });
    }
    Err(io::Error::other(
        "the index keeps changing while it is read",
    ))
}

/// Make `index` the folder's snapshot with an empty journal.
fn start_over(root: &Path, journal: &mut Journal, index: FolderIndex) -> io::Result<()> {
    durable::replace(
        &root.join(INDEX_FILE),
        index.to_text().as_bytes(),
        Access::Normal,
    )?;
    journal.truncate(0)?;
    journal.lines = 0;
    Ok(())
}

/// Base name → (file name, modification time) of the messages in `cur/` and `new/`.
fn present_files(root: &Path) -> io::Result<HashMap<String, (String, u64)>> {
    let mut out = HashMap::new();
    for sub in ["cur", "new"] {
        let dir = root.join(sub);
        for name in scan::message_names(&dir)? {
            let date = scan::mtime_secs(&dir.join(&name)).unwrap_or(0);
            out.entry(scan::base_of(&name).to_string())
                .or_insert((name, date));
        }
    }
    Ok(out)
}

/// The changes that take `old` to `new`, for sessions, after another process's
/// checkpoint made replaying its lines impossible.
pub(super) fn diff(old: &FolderIndex, new: &FolderIndex) -> Vec<Record> {
    let modseq = new.highest_modseq;
    let mut out = Vec::new();
    for (uid, m) in &old.messages {
        match new.messages.get(uid) {
            None => out.push(Record::Expunged { uid: *uid, modseq }),
            Some(n) => {
                if n.held != m.held {
                    out.push(Record::Held {
                        uid: *uid,
                        modseq: n.modseq,
                        held: n.held,
                    });
                }
                if n.flags != m.flags || n.keywords != m.keywords {
                    out.push(Record::Flags {
                        uid: *uid,
                        modseq: n.modseq,
                        flags: n.flags,
                        keywords: n.keywords.clone(),
                    });
                }
            }
        }
    }
    for (uid, n) in &new.messages {
        if !old.messages.contains_key(uid) {
            out.push(Record::Added(n.clone()));
        }
    }
    out
}
