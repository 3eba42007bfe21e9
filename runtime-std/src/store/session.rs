//! A session's place in a folder's changes (IMAP, webmail): the changes it has not
//! taken yet, for its [`View`], and IDLE's wait on the change feed.

use super::folder::{Folder, FolderError};
use mailroom_core::mailbox::{Record, View};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often an idle waiter looks at the files for changes made by other processes.
const IDLE_POLL: Duration = Duration::from_secs(1);

impl Folder {
    /// A session: its own position in the changes, for its view.
    pub fn session(self: &Arc<Self>) -> Session {
        let folder = Arc::clone(self);
        let mut st = self.lock();
        let id = st.next_session;
        st.next_session += 1;
        let end = st.log_end();
        st.cursors.insert(id, end);
        drop(st);
        Session { folder, id }
    }
}

/// One session's place in a folder's changes (IMAP, webmail): what it syncs takes it
/// to the end of the changes, which it feeds to its [`View`].
pub struct Session {
    folder: Arc<Folder>,
    id: u64,
}

impl Session {
    pub fn folder(&self) -> &Arc<Folder> {
        &self.folder
    }

    /// A sync point: the disk work of [`Folder::sync`], then every change since this
    /// session's last call, in order, for its view.
    pub fn sync(&self) -> Result<Vec<Record>, FolderError> {
        self.folder.sync()?;
        Ok(self.take())
    }

    /// The changes since the last call already known to this process (no disk work):
    /// for FETCH, STORE and SEARCH, which report flag changes only.
    pub fn take(&self) -> Vec<Record> {
        let mut st = self.folder.lock();
        let end = st.log_end();
        let from = st.cursors.get(&self.id).copied().unwrap_or(end);
        let skip = usize::try_from(from.saturating_sub(st.log_start)).unwrap_or(usize::MAX);
        let out: Vec<Record> = st.log.iter().skip(skip).cloned().collect();
        st.cursors.insert(self.id, end);
        st.trim_log();
        out
    }

    /// A view of the folder as it is now, with this session's position moved to now
    /// (SELECT): later changes are the ones the view has not seen.
    pub fn view(&self) -> View {
        let mut st = self.folder.lock();
        let end = st.log_end();
        st.cursors.insert(self.id, end);
        st.trim_log();
        View::new(&st.index)
    }

    /// Wait up to `timeout` for a change (IDLE): true as soon as one is pending for
    /// this session, delivery in this process poked the folder, or (checked once a
    /// second) another process changed `new/`, the journal or the snapshot.
    pub fn wait(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let generation = self.folder.feed.generation();
        let mark = self.folder.outside_mark();
        loop {
            {
                let st = self.folder.lock();
                if st.cursors.get(&self.id).is_some_and(|&c| c < st.log_end()) {
                    return true;
                }
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return false;
            }
            if self.folder.feed.wait_past(generation, left.min(IDLE_POLL)) {
                return true;
            }
            if self.folder.outside_mark() != mark {
                return true;
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut st = self.folder.lock();
        st.cursors.remove(&self.id);
        st.trim_log();
    }
}
