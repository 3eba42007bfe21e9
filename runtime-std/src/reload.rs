//! Configuration reload: poll the data directory's fingerprint and swap the snapshot.
//!
//! Polling once a second keeps accounts added with `mailroom user add` within the
//! promised two seconds without a notification mechanism per platform.

use crate::app::Shared;
use mailroom_core::config::Snapshot;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Stops the reloader thread when dropped.
pub struct Reloader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Watch with `fingerprint` every `interval`; when it changes, `load` a new snapshot
/// and install it, or keep the old one and log each problem.
pub fn spawn<F, L, P>(
    shared: Arc<Shared>,
    interval: Duration,
    fingerprint: F,
    load: L,
) -> std::io::Result<Reloader>
where
    F: Fn() -> u64 + Send + 'static,
    L: Fn() -> Result<Snapshot, Vec<P>> + Send + 'static,
    P: Display,
{
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("reload".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut seen = fingerprint();
            while !stop2.load(Ordering::Relaxed) {
                std::thread::park_timeout(interval);
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let now = fingerprint();
                if now == seen {
                    continue;
                }
                seen = now;
                reload_once(&shared, &load);
            }
        })?;
    Ok(Reloader {
        stop,
        thread: Some(thread),
    })
}

/// Load and install a snapshot once; `true` if it was installed.
pub fn reload_once<L, P>(shared: &Shared, load: &L) -> bool
where
    L: Fn() -> Result<Snapshot, Vec<P>>,
    P: Display,
{
    match load() {
        Ok(snapshot) => {
            let users = snapshot.accounts.len();
            shared.replace_snapshot(Arc::new(snapshot));
            tracing::info!("configuration reloaded: {users} users");
            true
        }
        Err(problems) => {
            for p in &problems {
                tracing::error!("configuration not reloaded: {p}");
            }
            false
        }
    }
}
