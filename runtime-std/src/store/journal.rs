//! A folder's change journal file (`mailroom-changes`): the lines of
//! `mailroom_core::mailbox::Record`, appended under the account's writer lock and read
//! back by every process that has the folder open (docs/STORE.md "The change journal").

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

pub struct Journal {
    /// Opened for appending: every write lands at the end whoever wrote last.
    file: File,
    /// Bytes of the file this process has applied (or written).
    pub len: u64,
    /// Lines since the snapshot, for the checkpoint rule.
    pub lines: usize,
    /// Lines written and not yet fdatasynced (flag changes may wait a second).
    pub unsynced: bool,
}

impl Journal {
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        Ok(Journal {
            file,
            len: 0,
            lines: 0,
            unsynced: false,
        })
    }

    /// The file's length now (other processes may have appended).
    pub fn disk_len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// The bytes from `from` to `to`.
    pub fn read_range(&self, from: u64, to: u64) -> io::Result<Vec<u8>> {
        let n = usize::try_from(to.saturating_sub(from))
            .map_err(|_| io::Error::other("journal too large"))?;
        let mut buf = vec![0u8; n];
        let mut done = 0;
        while done < n {
            match self.file.read_at(&mut buf[done..], from + done as u64) {
                Ok(0) => break,
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// Cut the file at `len` (a torn tail, or everything at a checkpoint), durably:
    /// a later append must not follow garbage.
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.len = len;
        self.unsynced = false;
        Ok(())
    }

    /// Append `text` (whole lines) and fdatasync it if `sync`, or if earlier lines
    /// still wait for their sync (one sync then covers them all).
    pub fn append(&mut self, text: &str, lines: usize, sync: bool) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let before = self.disk_len()?;
        if let Err(e) = self.file.write_all(text.as_bytes()) {
            // Leave no partial line for the next writer to stop at.
            let _ = self.file.set_len(before);
            return Err(e);
        }
        self.len = before + text.len() as u64;
        self.lines += lines;
        self.unsynced = true;
        if sync {
            self.sync()?;
        }
        Ok(())
    }

    /// fdatasync lines written earlier, if any.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}
