//! Directory fsync with group commit.
//!
//! A rename is durable only once its directory has been fsynced. When several sessions
//! finish a message at the same moment they can share one directory fsync: each caller
//! joins the directory's *pending* batch after its rename; one member of that batch
//! runs the fsync once no other fsync of the directory is in flight, and every member
//! gets its result. A batch's fsync always starts after all its members renamed, so it
//! covers every one of them; callers that arrive while it runs form the next batch.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

#[derive(Default)]
pub struct Committer {
    dirs: Mutex<HashMap<PathBuf, DirState>>,
    done: Condvar,
    requests: AtomicU64,
    fsyncs: AtomicU64,
}

/// How much sharing happened: `fsyncs` < `requests` when group commit paid off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    pub requests: u64,
    pub fsyncs: u64,
}

#[derive(Default)]
struct DirState {
    /// Callers waiting for an fsync that has not started yet.
    pending: Option<Arc<Batch>>,
    /// An fsync of this directory is running.
    running: bool,
}

#[derive(Default)]
struct Batch {
    result: OnceLock<Result<(), (io::ErrorKind, String)>>,
}

impl Committer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> CommitStats {
        CommitStats {
            requests: self.requests.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
        }
    }

    /// Make every rename into `dir` that finished before this call durable.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut dirs = self.lock();
        let batch = dirs
            .entry(dir.to_path_buf())
            .or_default()
            .pending
            .get_or_insert_with(Default::default)
            .clone();
        loop {
            if let Some(result) = batch.result.get() {
                return to_io(result);
            }
            // Our batch is either pending here or being run by another caller, so
            // the entry exists until its result is set.
            let state = dirs.get_mut(dir);
            let lead = state.as_ref().is_some_and(|s| {
                !s.running && s.pending.as_ref().is_some_and(|p| Arc::ptr_eq(p, &batch))
            });
            if let (true, Some(state)) = (lead, state) {
                state.pending = None;
                state.running = true;
                drop(dirs);
                self.fsyncs.fetch_add(1, Ordering::Relaxed);
                let result = fsync_dir(dir).map_err(|e| (e.kind(), e.to_string()));
                let _ = batch.result.set(result.clone());
                let mut dirs = self.lock();
                if let Some(state) = dirs.get_mut(dir) {
                    state.running = false;
                    if state.pending.is_none() {
                        // Keep the map as small as the set of busy directories.
                        dirs.remove(dir);
                    }
                }
                self.done.notify_all();
                return to_io(&result);
            }
            dirs = self.done.wait(dirs).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, DirState>> {
        // The map stays consistent even if a holder panicked: every update is one step.
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn to_io(r: &Result<(), (io::ErrorKind, String)>) -> io::Result<()> {
    r.clone().map_err(|(kind, msg)| io::Error::new(kind, msg))
}

pub use crate::platform::durable::sync_dir as fsync_dir;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_callers_all_return_and_state_is_cleared() {
        let tmp = tempfile::tempdir().unwrap();
        let committer = Arc::new(Committer::new());
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let c = committer.clone();
                let p = tmp.path().to_path_buf();
                std::thread::spawn(move || (0..20).all(|_| c.sync_dir(&p).is_ok()))
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap());
        }
        assert!(committer.lock().is_empty());
        let stats = committer.stats();
        assert_eq!(stats.requests, 320);
        assert!(stats.fsyncs >= 1 && stats.fsyncs <= 320);
    }

    #[test]
    fn errors_reach_the_caller() {
        let committer = Committer::new();
        let err = committer
            .sync_dir(Path::new("/nonexistent/mailroom/dir"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(committer.lock().is_empty());
    }
}
