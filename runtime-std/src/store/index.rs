//! The POP3 maildrop: INBOX as one POP3 session sees it, on the folder store
//! (docs/STORE.md "Sharing and sessions").
//!
//! Opening takes the folder's POP lock (another POP3 session, in this process or
//! another, gets `InUse`; IMAP and webmail go on), syncs the folder, and lists the
//! messages as they are at that moment (RFC 1939: the maildrop does not change under
//! the session). Held messages (POP-2) are listed but not [`Mailbox::visible`]. At QUIT
//! [`Mailbox::commit`] removes the deleted files and writes their `X` records, synced
//! before it returns, and marks retrieved messages `\Seen` (`F` records), which every
//! other session of the folder sees at its next sync point.
//!
//! The POP3 UIDL of a message is its Maildir base name (the file name before `:`),
//! which survives even a lost index; a name unfit for a UIDL (over 70 characters, or
//! outside `!`..`~`) uses UIDVALIDITY and UID instead.

use super::change::{Change, FlagEdit};
use super::folder::{Folder, FolderError, PopLock};
use super::folders::{Folders, FoldersError};
use crate::platform::durable;
use mailroom_core::mailbox::{Flag, Flags};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::platform::datadir::INDEX_FILE;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("the mailbox is in use by another session")]
    InUse,
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<FolderError> for MailboxError {
    fn from(e: FolderError) -> Self {
        match e {
            FolderError::Io(e) => MailboxError::Io(e),
            other => MailboxError::Io(io::Error::other(other)),
        }
    }
}

impl From<FoldersError> for MailboxError {
    fn from(e: FoldersError) -> Self {
        match e {
            FoldersError::Io(e) => MailboxError::Io(e),
            other => MailboxError::Io(io::Error::other(other)),
        }
    }
}

/// One message as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub uid: u32,
    /// The POP3 UIDL.
    pub uidl: String,
    /// Octets RETR sends (CRLF line ends, no stuffing).
    pub size: u64,
    /// Where the file was when the mailbox was opened (its flags may change the name).
    pub path: PathBuf,
    pub held: bool,
}

/// How long opening a maildrop waits for another POP3 session to let go of it.
pub const POP_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// INBOX opened as one POP3 session's maildrop; the POP lock goes when this is dropped.
pub struct Mailbox {
    pop: PopLock,
    uidvalidity: u32,
    /// Every message, held ones included, by UID, as at open.
    all: Vec<Listed>,
}

impl Mailbox {
    /// Open the Maildir at `root` (creating it if needed) on a store of its own, as a
    /// separate process would. The server uses [`Mailbox::open_in`] with its store.
    pub fn open(root: &Path) -> Result<Mailbox, MailboxError> {
        Mailbox::open_in(&Folders::new(), root)
    }

    /// Take INBOX of the account whose Maildir is `root` as a POP3 maildrop, sharing
    /// the folder state of `folders`. Another POP3 holder gives `InUse`.
    pub fn open_in(folders: &Folders, root: &Path) -> Result<Mailbox, MailboxError> {
        let folder = folders.open(root, "INBOX")?;
        // A client that QUITs and connects again at once (curl does, per command)
        // may find its last session still letting go of the lock: wait a moment.
        let start = std::time::Instant::now();
        let pop = loop {
            if let Some(pop) = folder.try_pop_lock()? {
                break pop;
            }
            if start.elapsed() >= POP_LOCK_WAIT {
                return Err(MailboxError::InUse);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        folder.sync()?;
        let (uidvalidity, metas) = folder.read(|ix| {
            (
                ix.uidvalidity,
                ix.messages
                    .values()
                    .map(|m| (m.uid, m.base.clone(), m.size, m.held))
                    .collect::<Vec<_>>(),
            )
        });
        let all = metas
            .into_iter()
            .map(|(uid, base, size, held)| Listed {
                uid,
                uidl: uidl_for(&base, uidvalidity, uid),
                size,
                path: folder
                    .message_path(uid)
                    .unwrap_or_else(|| root.join("cur").join(&base)),
                held,
            })
            .collect();
        Ok(Mailbox {
            pop,
            uidvalidity,
            all,
        })
    }

    fn folder(&self) -> &Arc<Folder> {
        self.pop.folder()
    }

    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    /// The messages a client may see (held ones left out), by UID.
    pub fn visible(&self) -> impl Iterator<Item = &Listed> {
        self.all.iter().filter(|m| !m.held)
    }

    /// Every message, held ones included, by UID.
    pub fn all(&self) -> &[Listed] {
        &self.all
    }

    /// Open a message for reading, following a rename by another program (a flag
    /// change) since the listing.
    pub fn open_message(&self, m: &Listed) -> io::Result<File> {
        self.folder().open_message(&m.path)
    }

    /// The UPDATE state: remove `delete`, mark `seen` read. The removals are durable
    /// and recorded (`X`, synced) when this returns `Ok`: deleted mail never comes
    /// back. Every deletion is tried; the first error is returned after.
    pub fn commit(&mut self, delete: &[&Listed], seen: &[&Listed]) -> io::Result<()> {
        let mut first_error = None;
        let mut removed = Vec::new();
        for m in delete {
            let result = match fs::remove_file(&m.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let base = m
                        .path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .map(|n| n.split(':').next().unwrap_or(n));
                    match base.map(|b| self.folder().find(b)).transpose() {
                        Ok(Some(Some(p))) => fs::remove_file(p),
                        // Already gone: removed is what was asked.
                        Ok(_) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            match result {
                Ok(()) => removed.push(m.uid),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !removed.is_empty() {
            // The files go first and durably: a crash before the `X` lines leaves
            // files missing, which the next sync records; the other order would
            // bring a removed message back as new mail.
            durable::sync_dir(&self.folder().root().join("cur"))?;
        }
        let seen_uids: Vec<u32> = seen.iter().map(|m| m.uid).collect();
        let changes: Vec<Change> = seen_uids
            .iter()
            .map(|&uid| Change::Flags {
                uid,
                edit: FlagEdit::Add,
                flags: Flags::NONE.with(Flag::Seen),
                keywords: Vec::new(),
            })
            .chain(removed.iter().map(|&uid| Change::Vanished { uid }))
            .collect();
        if !changes.is_empty() {
            let written = self.folder().write(changes, !removed.is_empty());
            written.map_err(|e| match e {
                FolderError::Io(e) => e,
                other => io::Error::other(other),
            })?;
        }
        if !seen_uids.is_empty() {
            // Mail clients reading the Maildir see the read mark at once, as before.
            self.folder().write_back_flags(&seen_uids);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Hide (or show again) the message with `uid` from clients (POP-2 held mail).
    pub fn set_held(&mut self, uid: u32, held: bool) -> io::Result<bool> {
        let Some(m) = self.all.iter_mut().find(|m| m.uid == uid) else {
            return Ok(false);
        };
        m.held = held;
        self.pop
            .folder()
            .write(vec![Change::Held { uid, held }], false)
            .map_err(|e| match e {
                FolderError::Io(e) => e,
                other => io::Error::other(other),
            })?;
        Ok(true)
    }
}

fn uidl_for(base: &str, uidvalidity: u32, uid: u32) -> String {
    if !base.is_empty() && base.len() <= 70 && base.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        base.to_string()
    } else {
        format!("{uidvalidity:08x}{uid:08x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidls() {
        assert_eq!(uidl_for("a,S=1", 7, 9), "a,S=1");
        assert_eq!(uidl_for(&"x".repeat(71), 7, 9), "0000000700000009");
        assert_eq!(uidl_for("has space", 0x10, 0x20), "0000001000000020");
    }
}
