//! Closing the store-then-journal window after a crash.
//!
//! A collected message is stored (fsynced), then its UID journaled (fsynced). A crash
//! between the two leaves a message that is here but not marked seen, so the next run
//! would download and store it again. A journal left on disk says the previous run did
//! not finish, and its modification time bounds when the message in flight was stored:
//! not before the last journal write. In the first run after such a crash, each new
//! message is compared with what its local mailboxes received since then (same
//! Message-Id, or the same octets); a match was stored before the crash and is not
//! stored again (only its UID is journaled, and DELE follows as usual).
//!
//! Only local mailboxes are searched: a message in flight whose only destinations were
//! the outbound spool (remote recipients, `routing = "lan"`) may still go out twice.

use crate::platform::datadir::DataDir;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Header octets read from each candidate file.
const HEAD: u64 = 64 * 1024;
/// Slack for file-system timestamp granularity.
const SLACK: Duration = Duration::from_secs(2);

/// A file delivered after the crash mark.
struct Candidate {
    path: PathBuf,
    len: u64,
    message_id: Option<String>,
}

pub struct InDoubt {
    since: SystemTime,
    /// Candidate files per local user, read once when first needed.
    seen: HashMap<String, Vec<Candidate>>,
}

impl InDoubt {
    /// `journal_time`: the left journal's modification time.
    pub fn new(journal_time: SystemTime) -> InDoubt {
        InDoubt {
            since: journal_time.checked_sub(SLACK).unwrap_or(journal_time),
            seen: HashMap::new(),
        }
    }

    /// Whether `data` (the message as it would be stored) already sits in one of the
    /// Maildirs of `users`, delivered since the crash mark.
    pub fn already_stored(&mut self, dd: &DataDir, users: &[String], data: &[u8]) -> bool {
        let id = message_id(data);
        for user in users {
            let since = self.since;
            let list = self
                .seen
                .entry(user.clone())
                .or_insert_with(|| candidates(dd, user, since));
            for c in list.iter() {
                if id.is_some() && c.message_id == id {
                    return true;
                }
                if c.len == data.len() as u64 && fs::read(&c.path).is_ok_and(|f| f == data) {
                    return true;
                }
            }
        }
        false
    }
}

fn candidates(dd: &DataDir, user: &str, since: SystemTime) -> Vec<Candidate> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = fs::read_dir(dd.maildir(user).join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() || meta.modified().map_or(true, |t| t < since) {
                continue;
            }
            let path = e.path();
            let mut head = Vec::new();
            if let Ok(f) = fs::File::open(&path) {
                let _ = f.take(HEAD).read_to_end(&mut head);
            }
            out.push(Candidate {
                path,
                len: meta.len(),
                message_id: message_id(&head),
            });
        }
    }
    out
}

/// The Message-Id field's value (unfolded, trimmed), from the header of `data`.
fn message_id(data: &[u8]) -> Option<String> {
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].eq_ignore_ascii_case(b"message-id") {
            continue;
        }
        let mut value = String::from_utf8_lossy(&line[colon + 1..]).into_owned();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                let next = next.strip_suffix(b"\r").unwrap_or(next);
                value.push_str(&String::from_utf8_lossy(next));
                lines.next();
            } else {
                break;
            }
        }
        let v = value.trim().to_string();
        return (!v.is_empty()).then_some(v);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_message_stored_after_the_mark() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        let new = dd.maildir("alice").join("new");
        fs::create_dir_all(&new).unwrap();
        let old = b"Message-Id: <old@x>\r\n\r\nold\r\n";
        fs::write(new.join("1.old"), old).unwrap();
        let mark = SystemTime::now() + Duration::from_secs(10);
        // Everything on disk is older than the mark: nothing matches.
        assert!(!InDoubt::new(mark).already_stored(&dd, &["alice".into()], old));

        let mark = SystemTime::now();
        let m = b"Subject: x\r\nMessage-Id:\r\n <m1@x>\r\n\r\nbody\r\n";
        fs::write(new.join("2.m1"), m).unwrap();
        let no_id = b"Subject: y\r\n\r\nbody\r\n";
        fs::write(new.join("3.noid"), no_id).unwrap();
        let mut d = InDoubt::new(mark);
        let users = ["alice".to_string()];
        assert!(d.already_stored(&dd, &users, b"Message-Id: <m1@x>\r\n\r\nother\r\n"));
        assert!(d.already_stored(&dd, &users, no_id));
        assert!(!d.already_stored(&dd, &users, b"Message-Id: <m2@x>\r\n\r\nb\r\n"));
        assert!(!d.already_stored(&dd, &["bob".into()], m));
    }
}
