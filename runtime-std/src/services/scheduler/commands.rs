//! Shell commands for links and hooks: `sh -c`, with `CONNECTION` (1..=10) and
//! `CONNECTION_NAME` in the environment, a time limit, and a way to cancel.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most of a failing command's output kept for the log.
const MAX_OUTPUT: usize = 2000;

/// Run `cmd` and wait up to `limit`; `Ok` if it exited 0. `cancel` stops it early.
pub fn run(
    cmd: &str,
    number: usize,
    name: &str,
    limit: Duration,
    cancel: Option<&Arc<AtomicBool>>,
) -> Result<(), String> {
    let child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("CONNECTION", number.to_string())
        .env("CONNECTION_NAME", name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child: Child = child.map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.success() {
                    return Ok(());
                }
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let mut buf = Vec::new();
                    let _ = e.read_to_end(&mut buf);
                    buf.truncate(MAX_OUTPUT);
                    err = String::from_utf8_lossy(&buf).trim().to_string();
                }
                return Err(format!(
                    "{cmd:?} failed ({status}){}{err}",
                    if err.is_empty() { "" } else { ": " }
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
        let cancelled = cancel.is_some_and(|c| c.load(Ordering::SeqCst));
        if cancelled || Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(if cancelled {
                format!("{cmd:?} was cancelled")
            } else {
                format!("{cmd:?} did not finish within {}s", limit.as_secs())
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
