//! Holding outgoing mail (USR-6, §4.3 "*OUTQUEUE ... hold or delete them"): a held
//! queue entry stays in the spool but is not sent until released. The mark is an
//! empty file `DIR/spool/held/ID`; the outbound engine leaves marked entries out of
//! each scan (so a running server lets go of one within its next scan, as it does of
//! a deleted one) and takes them back when the mark goes.

use std::collections::HashSet;
use std::fs;
use std::io;

use crate::platform::datadir::DataDir;
use crate::store::spool;

/// Hold (or release) queue entry `id`. `Ok(false)`: no such entry.
pub fn set_held(dd: &DataDir, id: &str, held: bool) -> io::Result<bool> {
    if !spool::is_valid_id(id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a queue id",
        ));
    }
    let mark = dd.spool_held_dir().join(id);
    if !held {
        return match fs::remove_file(&mark) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        };
    }
    if spool::read_envelope(dd, id)?.is_none() {
        return Ok(false);
    }
    fs::create_dir_all(dd.spool_held_dir())?;
    fs::write(&mark, b"")?;
    Ok(true)
}

pub fn is_held(dd: &DataDir, id: &str) -> bool {
    spool::is_valid_id(id) && dd.spool_held_dir().join(id).exists()
}

/// The held ids (marks of entries since deleted included: harmless).
pub fn held_ids(dd: &DataDir) -> HashSet<String> {
    fs::read_dir(dd.spool_held_dir())
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| spool::is_valid_id(n))
                .collect()
        })
        .unwrap_or_default()
}
