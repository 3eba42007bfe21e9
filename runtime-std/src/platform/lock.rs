//! flock(2) locks on files: the account's writer lock (waited for, held briefly) and
//! a folder's POP3 lock (tried, held for a session). flock locks belong to an open
//! file description, so two opens in one process exclude each other as two processes
//! do, and the kernel drops a lock when its holder dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Open (creating) the lock file at `path`.
pub fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// The exclusive lock on `file`, waiting for it; released when the guard drops.
pub struct Held<'a>(&'a File);

pub fn exclusive(file: &File) -> io::Result<Held<'_>> {
    loop {
        // SAFETY: flock on a descriptor `file` owns for the guard's lifetime.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(Held(file));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: as above; unlocking a lock we hold cannot fail in a way we could act on.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Lock `path` without waiting: `Ok(None)` when another holder has it. The lock lives
/// as long as the returned file.
pub fn try_exclusive(path: &Path) -> io::Result<Option<File>> {
    let f = open(path)?;
    // SAFETY: flock on a descriptor we own; the lock lives as long as `f`.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(Some(f));
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(e)
    }
}
