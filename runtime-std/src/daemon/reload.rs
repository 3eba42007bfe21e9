//! Configuration reload: poll the data directory's fingerprint and swap the snapshot.
//!
//! Polling once a second keeps accounts added with `mailroom user add` within the
//! promised two seconds without a notification mechanism per platform.

use crate::services::app::Shared;
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

/// Watch with `fingerprint` every `interval`; when it differs from `seen` (taken
/// before the running snapshot was loaded, so no change slips through in between),
/// `load` a new snapshot and install it, or keep the old one and log each problem.
pub fn spawn<F, L, P>(
    shared: Arc<Shared>,
    interval: Duration,
    mut seen: u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use mailroom_core::accounts::{Account, Accounts};
    use mailroom_core::config::parse_config;
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    fn snapshot(users: &[&str]) -> Snapshot {
        let config = parse_config(
            "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
        )
        .unwrap();
        Snapshot {
            config,
            accounts: Accounts::new(users.iter().map(|u| Account {
                name: (*u).into(),
                password_hash: String::new(),
                admin: false,
                comment: String::new(),
                max_outgoing_size: 0,
                ..Default::default()
            })),
            access: Default::default(),
        }
    }

    fn shared(tmp: &tempfile::TempDir) -> Arc<Shared> {
        let store = Store::open(&crate::platform::datadir::DataDir::new(tmp.path())).unwrap();
        Arc::new(Shared::new(snapshot(&["a"]), store, None))
    }

    #[test]
    fn a_failed_load_keeps_the_old_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(&tmp);
        let before = shared.snapshot();
        assert!(!reload_once(&shared, &|| Err::<Snapshot, _>(vec![
            "x.toml:3: bad"
        ])));
        assert!(Arc::ptr_eq(&before, &shared.snapshot()));
        assert!(reload_once(&shared, &|| Ok::<_, Vec<String>>(snapshot(&[
            "a", "b"
        ]))));
        assert_eq!(shared.snapshot().accounts.len(), 2);
        // A session that started before keeps its own.
        assert_eq!(before.accounts.len(), 1);
    }

    #[test]
    fn the_thread_reloads_when_the_fingerprint_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(&tmp);
        let print = Arc::new(AtomicU64::new(1));
        let p = print.clone();
        let reloader = spawn(
            shared.clone(),
            Duration::from_millis(5),
            1,
            move || p.load(Ordering::Relaxed),
            || Ok::<_, Vec<String>>(snapshot(&["a", "b", "c"])),
        )
        .unwrap();
        print.store(2, Ordering::Relaxed);
        let give_up = Instant::now() + Duration::from_secs(10);
        while shared.snapshot().accounts.len() != 3 && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(shared.snapshot().accounts.len(), 3);
        drop(reloader);
    }
}
