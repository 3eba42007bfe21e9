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
