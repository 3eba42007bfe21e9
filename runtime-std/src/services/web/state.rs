//! What the web pages keep between requests: the login session table, one per data
//! directory (tests run several servers in one process).

use mailroom_core::http::session::SessionTable;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub struct WebState {
    sessions: Mutex<SessionTable>,
}

impl WebState {
    pub fn sessions(&self) -> MutexGuard<'_, SessionTable> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

static STATES: Mutex<Option<HashMap<PathBuf, Arc<WebState>>>> = Mutex::new(None);

/// The web state of the server on data directory `root`.
pub fn for_data_dir(root: &Path, idle: Duration, max: usize) -> Arc<WebState> {
    let mut all = STATES.lock().unwrap_or_else(|p| p.into_inner());
    let state = all
        .get_or_insert_with(HashMap::new)
        .entry(root.to_path_buf())
        .or_insert_with(|| {
            Arc::new(WebState {
                sessions: Mutex::new(SessionTable::new(idle, max)),
            })
        })
        .clone();
    state.sessions().set_idle(idle);
    state
}
