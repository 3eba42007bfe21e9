//! Maildir delivery: `tmp/` → fsync → rename or link into `new/` → fsync of `new/`.
//!
//! A file appears in `new/` only by an atomic rename or link of a complete, fsynced
//! file, so a reader never sees a partial message, and a message is durable once the
//! directory fsync returns.

use super::commit::{fsync_dir, Committer};
use super::unique;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A Maildir's three subdirectories.
pub const SUBDIRS: [&str; 3] = ["tmp", "new", "cur"];

/// Create `root` (a Maildir) with its subdirectories if they are missing, fsyncing
/// each parent that gained an entry so the mailbox itself survives a crash.
pub fn ensure(root: &Path) -> io::Result<()> {
    if SUBDIRS.iter().all(|s| root.join(s).is_dir()) {
        return Ok(());
    }
    create_dir_synced(root)?;
    for sub in SUBDIRS {
        create_dir_synced(&root.join(sub))?;
    }
    Ok(())
}

/// `create_dir` that tolerates a concurrent creator and creates missing parents,
/// fsyncing the parent of every directory it made.
pub fn create_dir_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            create_dir_synced(parent)?;
        }
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fsync_dir(parent),
        _ => Ok(()),
    }
}

/// Write `data` to a new file at `path` and fsync it. The file must not exist.
pub fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    write_new(path, data, true)
}

/// Write `data` to a new file at `path`, fsynced if `sync`. The file must not exist;
/// on error it is removed.
fn write_new(path: &Path, data: &[u8], sync: bool) -> io::Result<()> {
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Deliver `data` into every Maildir in `roots` (at least one), durably.
///
/// The message is written once and hard-linked into the other mailboxes (copied where
/// the file system refuses links). On error nothing is left visible: links already
/// made are removed, and the caller reports a temporary failure.
pub fn deliver(committer: &Committer, roots: &[PathBuf], data: &[u8]) -> io::Result<()> {
    for root in roots {
        ensure(root)?;
    }
    place(
        Some(committer),
        roots,
        &unique::maildir_name(data.len()),
        data,
    )
}

/// Put `data` as `name` into `new/` of every Maildir in `roots` (each already made):
/// written in `tmp/` of the first, linked (or copied) into the others, renamed into
/// place. With a `committer` every file and directory is fsynced before this returns;
/// without one nothing is (the ingest journal holds the message until its retirer's
/// sync). On error nothing stays visible.
pub fn place(
    committer: Option<&Committer>,
    roots: &[PathBuf],
    name: &str,
    data: &[u8],
) -> io::Result<()> {
    let Some((first, rest)) = roots.split_first() else {
        return Ok(());
    };
    let sync = committer.is_some();
    let tmp = first.join("tmp").join(name);
    write_new(&tmp, data, sync)?;

    let mut placed: Vec<PathBuf> = Vec::with_capacity(roots.len());
    let result = (|| {
        for root in rest {
            let dest = root.join("new").join(name);
            if fs::hard_link(&tmp, &dest).is_err() {
                copy_into(root, name, data, &dest, sync)?;
            }
            placed.push(dest);
        }
        let dest = first.join("new").join(name);
        fs::rename(&tmp, &dest)?;
        placed.push(dest);
        if let Some(committer) = committer {
            for root in roots {
                committer.sync_dir(&root.join("new"))?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        // Undo what readers could see: the client is told to retry, so leaving the
        // message in some mailboxes would deliver it twice there.
        for p in &placed {
            let _ = fs::remove_file(p);
        }
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Write `data` through `root/tmp/name` to `dest` (the fallback when a hard link is
/// impossible: another file system, no link support; and the replay's way of putting
/// a file back). Fsynced if `sync`.
pub fn copy_into(root: &Path, name: &str, data: &[u8], dest: &Path, sync: bool) -> io::Result<()> {
    let tmp = root.join("tmp").join(name);
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, data, sync)?;
    let result = fs::rename(&tmp, dest);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
