//! `mailroom user unlock NAME` (§4.3.1): the lock-out table lives in the running
//! server, so the command leaves a request, an empty file `DIR/state/unlock/NAME`,
//! which the server takes within a second (on its reload tick), lifting the lock as
//! the web admin's Unlock does and writing it to the security log.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use mailroom_core::security::Service;

use crate::platform::datadir::DataDir;
use crate::services::app::Shared;

fn dir(dd: &DataDir) -> PathBuf {
    dd.state_dir().join("unlock")
}

/// Leave the request for `name` (already checked to be an account).
pub fn request(dd: &DataDir, name: &str) -> io::Result<()> {
    let name = name.to_ascii_lowercase();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an account name",
        ));
    }
    fs::create_dir_all(dir(dd))?;
    fs::write(dir(dd).join(name), b"")
}

/// Whether a request for `name` is still waiting.
pub fn pending(dd: &DataDir, name: &str) -> bool {
    dir(dd).join(name.to_ascii_lowercase()).exists()
}

/// Take every waiting request (the server, once a second).
pub fn serve(shared: &Shared) {
    let dd = shared.store.data_dir();
    let Ok(entries) = fs::read_dir(dir(dd)) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let _ = fs::remove_file(&path);
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        // Recorded as the administrator's Unlock from this machine (the CLI).
        let had = shared.security.unlock(
            Service::Http,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &name,
            crate::platform::clock::now(),
        );
        tracing::info!(user = %name, was_locked = had, "unlocked from the command line");
    }
}
