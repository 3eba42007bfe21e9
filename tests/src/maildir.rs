//! Reading what the server stored.

use std::fs;
use std::path::{Path, PathBuf};

/// The regular files directly in `dir` (empty if `dir` does not exist), sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// The `Subject:` lines of the messages visible in the Maildir `md`, sorted.
pub fn subjects(md: &Path) -> Vec<String> {
    let mut v: Vec<String> = visible(md)
        .iter()
        .filter_map(|(_, data)| {
            String::from_utf8_lossy(data)
                .lines()
                .find(|l| l.starts_with("Subject: "))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// Every message a reader of the Maildir `md` can see (`new/` and `cur/`), with its
/// contents.
pub fn visible(md: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        for p in files(&md.join(sub)) {
            let data = fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            v.push((p, data));
        }
    }
    v
}
