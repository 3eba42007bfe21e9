//! Writing a file so that a crash leaves the old content or the new, never a mix:
//! write a temporary file, fsync it, rename it over the target, fsync the directory.
//! Every file Mailroom replaces goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Who may read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The usual mode for a new file (0666 less the umask).
    Normal,
    /// Only the server's user (0600): keys, secrets, password hashes.
    Private,
}

/// Replace `path` with `data` durably: when this returns `Ok`, the new content
/// survives a crash. The temporary file is a dot-file next to `path` (readers skip
/// dot-files) and is removed on failure.
pub fn replace(path: &Path, data: &[u8], access: Access) -> io::Result<()> {
    let dir = parent(path);
    let tmp = dir.join(temp_name(path));
    write_and_rename(&tmp, path, data, access)?;
    sync_dir(dir)
}

/// Write `data` to `tmp`, fsync it and rename it to `path`. The rename is durable only
/// once the caller fsyncs `path`'s directory ([`sync_dir`]), which lets a caller
/// that replaces many files sync the directory once.
pub fn write_and_rename(tmp: &Path, path: &Path, data: &[u8], access: Access) -> io::Result<()> {
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        if access == Access::Private {
            opts.mode(0o600);
        }
        let mut f = opts.open(tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// fsync a directory, so that renames, creations and removals in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory of `path` (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    PathBuf::from(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        replace(&path, b"one", Access::Normal).unwrap();
        replace(&path, b"two", Access::Private).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/dir/f");
        assert!(replace(&missing, b"x", Access::Normal).is_err());
    }
}
