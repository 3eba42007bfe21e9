//! How `mailroom connect` and a `CONNECT.NOW` file reach the running server.
//!
//! ```text
//! DIR/CONNECT.NOW                    VPOP3's trigger: run the primary connections
//!                                    (or the target named inside); removed when seen
//! DIR/state/connect/requests/ID.req  one request from `mailroom connect`: the target
//! DIR/state/connect/status/ID        the server's progress lines for it, ending in
//!                                    `done` (all runs ended) or `rejected: why`
//! ```
//!
//! The server looks once a second. Files, not a socket: they work the same for both
//! runtimes, survive a restart of either side, and need no permissions beyond the
//! data directory's.

use crate::platform::datadir::DataDir;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn connect_now_file(dir: &DataDir) -> PathBuf {
    dir.connect_now_file()
}

fn base(dir: &DataDir) -> PathBuf {
    dir.connect_state_dir()
}

pub fn requests_dir(dir: &DataDir) -> PathBuf {
    base(dir).join("requests")
}

pub fn status_dir(dir: &DataDir) -> PathBuf {
    base(dir).join("status")
}

/// Request ids are file names: letters, digits, `-`, `.`; nothing else is read.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Requests waiting: `(id, target)`; each file is removed as it is taken.
pub fn take_requests(dir: &DataDir) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(requests_dir(dir)) else {
        return out;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names.into_iter().take(100) {
        let Some(id) = name.strip_suffix(".req") else {
            continue;
        };
        if !valid_id(id) {
            continue;
        }
        let path = requests_dir(dir).join(&name);
        let target = fs::read_to_string(&path).unwrap_or_default();
        if fs::remove_file(&path).is_ok() {
            out.push((id.to_string(), target.trim().chars().take(200).collect()));
        }
    }
    out
}

/// The `CONNECT.NOW` target, if the file exists (it is removed).
pub fn take_connect_now(dir: &DataDir) -> Option<String> {
    let path = connect_now_file(dir);
    let text = fs::read_to_string(&path).ok()?;
    fs::remove_file(&path).ok()?;
    Some(text.trim().chars().take(200).collect())
}

/// Append a progress line for request `id`.
pub fn status(dir: &DataDir, id: &str, line: &str) {
    let path = status_dir(dir).join(id);
    let r = fs::create_dir_all(status_dir(dir)).and_then(|()| {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        writeln!(f, "{line}")
    });
    if let Err(e) = r {
        tracing::warn!("cannot write {}: {e}", path.display());
    }
}

/// Leave a request to connect `target` for the server (the CLI's `connect`, the web
/// admin's Connect Now); returns its id, the name of its status file.
pub fn leave_request(dir: &DataDir, target: &str) -> io::Result<String> {
    fs::create_dir_all(requests_dir(dir))?;
    fs::create_dir_all(status_dir(dir))?;
    let id = format!(
        "{}-{}",
        std::process::id(),
        crate::platform::clock::unix_micros()
    );
    let tmp = requests_dir(dir).join(format!("{id}.tmp"));
    fs::write(&tmp, format!("{target}\n"))?;
    fs::rename(&tmp, requests_dir(dir).join(format!("{id}.req")))?;
    Ok(id)
}

/// The progress lines of request `id` so far (empty when unknown or not yet begun).
pub fn progress(dir: &DataDir, id: &str) -> Vec<String> {
    if !valid_id(id) {
        return Vec::new();
    }
    fs::read_to_string(status_dir(dir).join(id))
        .map(|t| t.lines().take(200).map(str::to_string).collect())
        .unwrap_or_default()
}

/// How long the CLI waits for a server to pick a request up.
const PICKUP: Duration = Duration::from_secs(5);
/// How long `--wait` follows a run at most.
const MAX_WAIT: Duration = Duration::from_secs(4 * 3600);

/// `mailroom connect`: leave a request for the server; with `wait`, print its progress
/// until it ends. `Ok(true)`: every run ended well.
pub fn request(dir: &DataDir, target: &str, wait: bool) -> io::Result<bool> {
    let id = leave_request(dir, target)?;
    let req = requests_dir(dir).join(format!("{id}.req"));
    let started = Instant::now();
    while req.exists() {
        if started.elapsed() > PICKUP {
            let _ = fs::remove_file(&req);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the server did not pick the request up; is `mailroom serve` running on this data directory?",
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !wait {
        println!("Asked the server to connect ({target}).");
        return Ok(true);
    }
    let status = status_dir(dir).join(&id);
    let mut shown = 0;
    let mut ok = true;
    loop {
        let text = fs::read_to_string(&status).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[shown.min(lines.len())..] {
            println!("{l}");
            if l.starts_with("rejected")
                || l.contains("failed")
                || l.contains("timed out")
                || l.contains("lost")
            {
                ok = false;
            }
        }
        shown = lines.len();
        if lines
            .last()
            .is_some_and(|l| *l == "done" || l.starts_with("rejected"))
        {
            let _ = fs::remove_file(&status);
            return Ok(ok);
        }
        if started.elapsed() > MAX_WAIT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "gave up waiting for the run to end",
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
