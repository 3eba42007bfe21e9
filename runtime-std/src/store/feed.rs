//! A folder's change feed: a counter bumped at every change (and by delivery after a
//! rename into `new/`), which an idling session waits on, so new mail reaches IDLE at
//! once instead of at the next poll (docs/STORE.md invariant 7).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Feed {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Feed {
    /// Something changed: wake every waiter.
    pub fn poke(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g = g.wrapping_add(1);
        self.changed.notify_all();
    }

    /// The current generation, to wait past.
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until the generation moves past `seen` or `timeout` passes; true if it moved.
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> bool {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let (g, _) = self
            .changed
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(|p| p.into_inner());
        *g != seen
    }
}
