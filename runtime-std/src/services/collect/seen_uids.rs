//! The seen-UID book of each In Mail on disk:
//!
//! ```text
//! DIR/state/seen/NAME.seen      the book, replaced atomically at the end of each run
//! DIR/state/seen/NAME.journal   one line per message stored since (synced each time)
//! ```
//!
//! `NAME` is the In Mail's name with everything but letters, digits, `-` and `_`
//! written as `%XX`. Reading takes the book and replays the journal over it, so a
//! crash at any point loses no UID that was journaled.

use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use mailroom_core::collect::seen::SeenBook;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

/// The largest book or journal read (a million UIDs of 70 octets fit).
const MAX_FILE: u64 = 128 * 1024 * 1024;

fn file_name(inmail: &str) -> String {
    let mut s = String::new();
    for b in inmail.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

pub fn book_path(dd: &DataDir, inmail: &str) -> PathBuf {
    dd.seen_dir().join(format!("{}.seen", file_name(inmail)))
}

pub fn journal_path(dd: &DataDir, inmail: &str) -> PathBuf {
    dd.seen_dir().join(format!("{}.journal", file_name(inmail)))
}

fn read(path: &PathBuf) -> io::Result<String> {
    match fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE => Err(io::Error::other(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        ))),
        Ok(_) => fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// The book as stored, with the journal replayed. A damaged book is an error: the
/// caller must not collect with it (mail would come twice); the administrator moves
/// the file aside to start afresh.
pub fn load(dd: &DataDir, inmail: &str) -> io::Result<SeenBook> {
    let path = book_path(dd, inmail);
    let mut book = SeenBook::parse(&read(&path)?)
        .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
    let jpath = journal_path(dd, inmail);
    book.apply_journal(&read(&jpath)?)
        .map_err(|e| io::Error::other(format!("{}: {e}", jpath.display())))?;
    Ok(book)
}

/// When the journal was last written, if there is one. A journal outlives only a run
/// that did not finish (a crash, a kill, a storage error): every finished run folds it
/// into the book and removes it.
pub fn journal_left(dd: &DataDir, inmail: &str) -> Option<std::time::SystemTime> {
    fs::metadata(journal_path(dd, inmail))
        .and_then(|m| m.modified())
        .ok()
}

/// Appends seen lines, each synced before [`Journal::append`] returns.
pub struct Journal {
    file: fs::File,
}

impl Journal {
    pub fn open(dd: &DataDir, inmail: &str) -> io::Result<Journal> {
        fs::create_dir_all(dd.seen_dir())?;
        let path = journal_path(dd, inmail);
        let created = !path.exists();
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if created {
            durable::sync_dir(&dd.seen_dir())?;
        }
        Ok(Journal { file })
    }

    pub fn append(&mut self, line: &str) -> io::Result<()> {
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

/// Replace the book (temporary file, fsync, rename, fsync the directory), then empty
/// the journal it now contains.
pub fn save(dd: &DataDir, inmail: &str, book: &SeenBook) -> io::Result<()> {
    let dir = dd.seen_dir();
    fs::create_dir_all(&dir)?;
    let path = book_path(dd, inmail);
    durable::replace(&path, book.to_text().as_bytes(), Access::Normal)?;
    match fs::remove_file(journal_path(dd, inmail)) {
        Ok(()) => durable::sync_dir(&dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::Instant;

    #[test]
    fn book_and_journal_survive_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        let name = "ISP one/x";
        assert!(load(&dd, name).unwrap().is_empty());
        let mut book = SeenBook::new();
        book.insert("a", Instant::from_secs(10));
        save(&dd, name, &book).unwrap();
        let mut j = Journal::open(&dd, name).unwrap();
        j.append(&SeenBook::line("b", Instant::from_secs(20)))
            .unwrap();
        drop(j);
        let back = load(&dd, name).unwrap();
        assert_eq!(
            back.first_seen("a", Instant::from_secs(30)),
            Some(Instant::from_secs(10))
        );
        assert_eq!(
            back.first_seen("b", Instant::from_secs(30)),
            Some(Instant::from_secs(20))
        );
        save(&dd, name, &back).unwrap();
        assert!(!journal_path(&dd, name).exists());
        assert!(book_path(&dd, name).ends_with("ISP%20one%2Fx.seen"));
        assert_eq!(load(&dd, name).unwrap(), back);
        fs::write(book_path(&dd, name), "garbage").unwrap();
        assert!(load(&dd, name).is_err());
    }
}
