//! The lazy half of journal durability: flag, held and keyword lines are written at
//! once but fdatasynced within a second (docs/STORE.md "Durability"), by one thread per
//! store that syncs whatever was marked since its last round.

use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

/// Something holding unsynced writes.
pub trait Flush: Send + Sync {
    fn flush(&self);
}

pub struct Flusher {
    marked: Mutex<Vec<Weak<dyn Flush>>>,
    started: Once,
}

impl Flusher {
    pub fn new() -> Arc<Flusher> {
        Arc::new(Flusher {
            marked: Mutex::new(Vec::new()),
            started: Once::new(),
        })
    }

    /// Have `what` flushed within a second.
    pub fn mark(self: &Arc<Self>, what: Weak<dyn Flush>) {
        self.marked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what);
        self.started.call_once(|| {
            let me = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("journal-flush".into())
                .spawn(move || run(&me));
            if let Err(e) = spawned {
                // Flag lines are then synced with the next synced line or at close.
                tracing::error!("cannot start the journal flusher: {e}");
            }
        });
    }

    fn take(&self) -> Vec<Weak<dyn Flush>> {
        std::mem::take(&mut *self.marked.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Until the store is gone: every second, sync what was marked.
fn run(flusher: &Weak<Flusher>) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let Some(f) = flusher.upgrade() else {
            return;
        };
        for w in f.take() {
            if let Some(what) = w.upgrade() {
                what.flush();
            }
        }
    }
}
