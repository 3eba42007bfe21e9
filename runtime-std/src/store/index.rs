//! The mailbox index: stable UIDs for the messages of one Maildir, kept beside it.
//!
//! ```text
//! DIR/mail/USER/mailroom-index    the index (text, below)
//! DIR/mail/USER/mailroom.lock     flock(2)ed by the session that has the mailbox open
//! ```
//!
//! Delivery never touches the index: it only adds files to `new/`, as any Maildir
//! deliverer does. A reader opening the mailbox (under the lock) moves new files to
//! `cur/` (the Maildir reader's duty), gives each message it has not seen before the
//! next UID, in name order, and forgets messages whose files are gone. UIDs are never
//! reused while the index lives; if it is lost, UIDVALIDITY changes (IMAP's signal to
//! resynchronise). Flags stay where Maildir keeps them, in the file name, so mutt or
//! Dovecot reading the same directory agree with us; what Maildir has no place for
//! (held messages, POP-2) lives in the index.
//!
//! The POP3 UIDL of a message is its Maildir base name (the file name before `:`),
//! which survives even a lost index; a name unfit for a UIDL (over 70 characters, or
//! outside `!`..`~`) uses UIDVALIDITY and UID instead.
//!
//! Index format, version 1 (one message per line, by UID; attributes `-` or `H`):
//!
//! ```text
//! mailroom-index 1
//! uidvalidity 1767225600
//! nextuid 4
//! 1 4096 - 1767225600.M1P2Q3.host,S=4096
//! 3 120 H 1767225601.M5P2Q4.host,S=118
//! ```

use super::maildir;
use crate::platform::durable::{self, Access};
use mailroom_core::wire::SizeCounter;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const INDEX_FILE: &str = "mailroom-index";
pub const LOCK_FILE: &str = "mailroom.lock";
const HEADER: &str = "mailroom-index 1";
/// Bytes read at a time when sizing a message for the first time.
const SIZE_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("the mailbox is in use by another session")]
    InUse,
    #[error("{0}")]
    Io(#[from] io::Error),
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

/// A mailbox opened and locked by one session; the lock goes when this is dropped.
pub struct Mailbox {
    root: PathBuf,
    _lock: File,
    uidvalidity: u32,
    /// Every message, held ones included, by UID.
    all: Vec<Listed>,
    index: Index,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    uid: u32,
    size: u64,
    held: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Index {
    uidvalidity: u32,
    next_uid: u32,
    by_base: HashMap<String, Entry>,
}

impl Mailbox {
    /// Lock the Maildir at `root` (creating it if needed) and bring its index up to
    /// date. Another holder of the lock, in this process or another, gives `InUse`.
    pub fn open(root: &Path) -> Result<Mailbox, MailboxError> {
        maildir::ensure(root)?;
        let lock = try_lock(&root.join(LOCK_FILE))?;
        let (index, all) = refresh(root)?;
        Ok(Mailbox {
            root: root.to_path_buf(),
            _lock: lock,
            uidvalidity: index.uidvalidity,
            all,
            index,
        })
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
        match File::open(&m.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let path = self.find(&m.path)?.ok_or(e)?;
                File::open(path)
            }
            other => other,
        }
    }

    /// Where the message whose file was at `old` is now, if it still exists.
    fn find(&self, old: &Path) -> io::Result<Option<PathBuf>> {
        let Some(base) = old.file_name().and_then(|n| n.to_str()).map(base_of) else {
            return Ok(None);
        };
        for sub in ["cur", "new"] {
            for entry in fs::read_dir(self.root.join(sub))? {
                let entry = entry?;
                if entry.file_name().to_str().map(base_of) == Some(base) {
                    return Ok(Some(entry.path()));
                }
            }
        }
        Ok(None)
    }

    /// The UPDATE state: remove `delete`, mark `seen` read (the Maildir `S` flag).
    /// Every deletion is tried; the first error is returned after.
    pub fn commit(&mut self, delete: &[&Listed], seen: &[&Listed]) -> io::Result<()> {
        let mut first_error = None;
        for m in delete {
            let result = match fs::remove_file(&m.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match self.find(&m.path) {
                    Ok(Some(p)) => fs::remove_file(p),
                    // Already gone: removed is what was asked.
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
                other => other,
            };
            match result {
                Ok(()) => {
                    if let Some(name) = m.path.file_name().and_then(|n| n.to_str()) {
                        self.index.by_base.remove(base_of(name));
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        for m in seen {
            // Best effort: a flag is not worth failing the session for.
            if let Some(new) = with_flag(&m.path, 'S') {
                let _ = fs::rename(&m.path, new);
            }
        }
        if !delete.is_empty() {
            // Removals must survive a crash, or deleted mail comes back.
            durable::sync_dir(&self.root.join("cur"))?;
            write_index(&self.root, &self.index)?;
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
        let base = m
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .map(base_of)
            .unwrap_or_default()
            .to_string();
        if let Some(e) = self.index.by_base.get_mut(&base) {
            e.held = held;
        }
        write_index(&self.root, &self.index)?;
        Ok(true)
    }
}

/// flock the lock file without waiting.
fn try_lock(path: &Path) -> Result<File, MailboxError> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    // SAFETY: flock on a descriptor we own; the lock lives as long as `f`.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(f);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Err(MailboxError::InUse)
    } else {
        Err(MailboxError::Io(e))
    }
}

/// The Maildir base name: the file name before the `:2,FLAGS` info.
fn base_of(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// `path` with `flag` added to its Maildir info, or `None` if it has it already.
fn with_flag(path: &Path, flag: char) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (base, flags) = match name.split_once(":2,") {
        Some((b, f)) => (b, f),
        None if !name.contains(':') => (name, ""),
        None => return None,
    };
    if flags.contains(flag) {
        return None;
    }
    let mut all: Vec<char> = flags.chars().chain(std::iter::once(flag)).collect();
    all.sort_unstable();
    let flags: String = all.into_iter().collect();
    Some(path.with_file_name(format!("{base}:2,{flags}")))
}

fn uidl_for(base: &str, uidvalidity: u32, uid: u32) -> String {
    if !base.is_empty() && base.len() <= 70 && base.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        base.to_string()
    } else {
        format!("{uidvalidity:08x}{uid:08x}")
    }
}

/// Move new mail to `cur/`, bring the index up to date with the files, save it if it
/// changed, and list every message by UID.
fn refresh(root: &Path) -> io::Result<(Index, Vec<Listed>)> {
    let mut index = read_index(root).unwrap_or_else(|why| {
        if let Some(why) = why {
            tracing::warn!(mailbox = %root.display(), "index unreadable ({why}); rebuilding it with a new UIDVALIDITY");
        }
        Index {
            uidvalidity: now_secs().max(1),
            next_uid: 1,
            by_base: HashMap::new(),
        }
    });
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for sub in ["new", "cur"] {
        let dir = root.join(sub);
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                tracing::warn!(dir = %dir.display(), "skipping a file whose name is not UTF-8");
                continue;
            };
            if name.starts_with('.') || name.contains(['\n', '\r', ' ']) {
                continue;
            }
            let mut path = entry.path();
            if sub == "new" {
                let dest = root.join("cur").join(format!("{name}:2,"));
                match fs::rename(&path, &dest) {
                    Ok(()) => path = dest,
                    // Taken by another reader meanwhile (another program).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            found.push((base_of(&name).to_string(), path));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.dedup_by(|a, b| a.0 == b.0);

    let before = index.by_base.len();
    let present: std::collections::HashSet<&str> = found.iter().map(|(b, _)| b.as_str()).collect();
    index.by_base.retain(|b, _| present.contains(b.as_str()));
    let mut changed = index.by_base.len() != before;
    let mut listed = Vec::with_capacity(found.len());
    for (base, path) in &found {
        let entry = match index.by_base.get(base) {
            Some(e) => e.clone(),
            None => {
                let size = match wire_size(path) {
                    Ok(s) => s,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let e = Entry {
                    uid: index.next_uid,
                    size,
                    held: false,
                };
                index.next_uid = index.next_uid.saturating_add(1);
                index.by_base.insert(base.clone(), e.clone());
                changed = true;
                e
            }
        };
        listed.push(Listed {
            uid: entry.uid,
            uidl: uidl_for(base, index.uidvalidity, entry.uid),
            size: entry.size,
            path: path.clone(),
            held: entry.held,
        });
    }
    listed.sort_by_key(|m| m.uid);
    if changed {
        write_index(root, &index)?;
    }
    Ok((index, listed))
}

/// What RETR will send for the file at `path`, counted once when first seen.
fn wire_size(path: &Path) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut counter = SizeCounter::new();
    let mut buf = vec![0u8; SIZE_CHUNK];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(counter.finish());
        }
        counter.push(&buf[..n]);
    }
}

fn now_secs() -> u32 {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// `Err(None)`: no index yet; `Err(Some(why))`: unreadable.
fn read_index(root: &Path) -> Result<Index, Option<String>> {
    let f = match File::open(root.join(INDEX_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(None),
        Err(e) => return Err(Some(e.to_string())),
    };
    let mut lines = BufReader::new(f).lines();
    let mut next = || -> Result<String, Option<String>> {
        lines
            .next()
            .ok_or_else(|| Some("truncated".to_string()))?
            .map_err(|e| Some(e.to_string()))
    };
    if next()? != HEADER {
        return Err(Some("unknown format".into()));
    }
    let field = |line: String, key: &str| -> Result<u32, Option<String>> {
        line.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Some(format!("bad {key} line")))
    };
    let uidvalidity = field(next()?, "uidvalidity")?;
    let next_uid = field(next()?, "nextuid")?;
    let mut by_base = HashMap::new();
    for line in lines {
        let line = line.map_err(|e| Some(e.to_string()))?;
        let mut parts = line.splitn(4, ' ');
        let (Some(uid), Some(size), Some(attrs), Some(base)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Some(format!("bad line {line:?}")));
        };
        let (Ok(uid), Ok(size)) = (uid.parse::<u32>(), size.parse::<u64>()) else {
            return Err(Some(format!("bad line {line:?}")));
        };
        if uid >= next_uid {
            return Err(Some(format!("UID {uid} is not below nextuid {next_uid}")));
        }
        by_base.insert(
            base.to_string(),
            Entry {
                uid,
                size,
                held: attrs.contains('H'),
            },
        );
    }
    Ok(Index {
        uidvalidity,
        next_uid,
        by_base,
    })
}

/// Replace the index: temporary file, fsync, rename, directory fsync.
fn write_index(root: &Path, index: &Index) -> io::Result<()> {
    let mut entries: Vec<(&String, &Entry)> = index.by_base.iter().collect();
    entries.sort_by_key(|(_, e)| e.uid);
    let mut text = format!(
        "{HEADER}\nuidvalidity {}\nnextuid {}\n",
        index.uidvalidity, index.next_uid
    );
    for (base, e) in entries {
        let attrs = if e.held { "H" } else { "-" };
        text.push_str(&format!("{} {} {attrs} {base}\n", e.uid, e.size));
    }
    durable::replace(&root.join(INDEX_FILE), text.as_bytes(), Access::Normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_names() {
        assert_eq!(base_of("123.M1P2.host:2,S"), "123.M1P2.host");
        assert_eq!(base_of("123.M1P2.host"), "123.M1P2.host");
        let p = Path::new("/m/cur/x:2,RT");
        assert_eq!(with_flag(p, 'S'), Some(PathBuf::from("/m/cur/x:2,RST")));
        assert_eq!(with_flag(Path::new("/m/cur/x:2,S"), 'S'), None);
        assert_eq!(
            with_flag(Path::new("/m/cur/x"), 'S'),
            Some(PathBuf::from("/m/cur/x:2,S"))
        );
        assert_eq!(uidl_for("a,S=1", 7, 9), "a,S=1");
        assert_eq!(uidl_for(&"x".repeat(71), 7, 9), "0000000700000009");
        assert_eq!(uidl_for("has space", 0x10, 0x20), "0000001000000020");
    }
}
