//! Appending a line to one of the data directory's log files (DLRULES.LOG,
//! SMTPRULES.LOG): the folder is made if needed, and a failure is reported on the
//! main log, never returned, because the event being logged has already happened.

use std::fs;
use std::io::Write;
use std::path::Path;

pub fn append_line(path: &Path, line: &str) {
    let result = path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            f.write_all(format!("{line}\n").as_bytes())
        });
    if let Err(e) = result {
        tracing::error!("cannot write {}: {e}", path.display());
    }
}

/// Where a full log goes: `NAME.LOG` → `NAME.OLD`, `name.log` → `name.old` (§15.3.1:
/// VPOP3.LOG becomes VPOP3.OLD).
pub fn old_path(path: &Path) -> std::path::PathBuf {
    let upper = path
        .extension()
        .is_some_and(|e| e.to_string_lossy().chars().all(|c| c.is_ascii_uppercase()));
    path.with_extension(if upper { "OLD" } else { "old" })
}

/// An append-only log file that is renamed to [`old_path`] (replacing the previous
/// one) when the next write would take it past `max` bytes (0: no limit). Opened on
/// the first write, so a log that is switched on but never used is never made.
pub struct RotatingFile {
    path: std::path::PathBuf,
    max: u64,
    file: Option<fs::File>,
    size: u64,
}

impl RotatingFile {
    pub fn new(path: std::path::PathBuf, max: u64) -> RotatingFile {
        RotatingFile {
            path,
            max,
            file: None,
            size: 0,
        }
    }

    pub fn set_max(&mut self, max: u64) {
        self.max = max;
    }

    /// Append `bytes` whole (a log line is never split over two files).
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = bytes.len() as u64;
        if self.file.is_none() {
            self.open()?;
        }
        if self.max > 0 && self.size > 0 && self.size.saturating_add(len) > self.max {
            self.file = None;
            fs::rename(&self.path, old_path(&self.path))?;
            self.open()?;
        }
        if let Some(f) = &mut self.file {
            f.write_all(bytes)?;
        }
        self.size = self.size.saturating_add(len);
        Ok(())
    }

    fn open(&mut self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = f.metadata()?.len();
        self.file = Some(f);
        Ok(())
    }
}

/// For the main log's `tracing` writer: every event comes as one write.
impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_log_becomes_old_and_a_new_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log").join("SMTPSVR.LOG");
        let mut f = RotatingFile::new(path.clone(), 20);
        f.append(b"0123456789\n").unwrap();
        f.append(b"abcdefgh\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"0123456789\nabcdefgh\n");
        f.append(b"next\n").unwrap();
        let old = dir.path().join("log").join("SMTPSVR.OLD");
        assert_eq!(fs::read(&old).unwrap(), b"0123456789\nabcdefgh\n");
        assert_eq!(fs::read(&path).unwrap(), b"next\n");
        // A restarted writer counts what is already there.
        let mut g = RotatingFile::new(path.clone(), 20);
        g.append(b"0123456789abcdef\n").unwrap();
        assert_eq!(fs::read(&old).unwrap(), b"next\n");
        assert_eq!(
            old_path(Path::new("a/mailroom.log")),
            Path::new("a/mailroom.old")
        );
    }
}
