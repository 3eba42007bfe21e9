//! A session's place in a folder's changes (IMAP, webmail): the changes it has not
//! taken yet, for its [`View`], and IDLE's wait on the change feed.

use super::folder::{Folder, FolderError};
use mailroom_core::mailbox::{FolderIndex, Record, View};
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

    /// SELECT: a copy of the index as it is now, with this session's position moved
    /// to now. With `claim_recent` (a read-write SELECT) the folder's `\Recent`
    /// messages become this session's ([`Folder::claim_recent`]); the copy's
    /// `first_recent` says which are.
    pub fn select(&self, claim_recent: bool) -> Result<FolderIndex, FolderError> {
        let mut copy = {
            let mut st = self.folder.lock();
            let end = st.log_end();
            st.cursors.insert(self.id, end);
            st.trim_log();
            st.index.clone()
        };
        // EXAMINE shows them as recent without taking them (RFC 3501 §6.3.2).
        if claim_recent {
            let from = self.folder.claim_recent(copy.next_uid)?;
            copy.first_recent = copy.first_recent.max(from);
        }
        Ok(copy)
    }

    /// Make the arrivals among `records` that no session has taken as `\Recent`
    /// this session's: returns their UIDs.
    pub fn claim_recent(&self, records: &[Record]) -> Result<Vec<u32>, FolderError> {
        let added: Vec<u32> = records
            .iter()
            .filter_map(|r| match r {
                Record::Added(m) => Some(m.uid),
                _ => None,
            })
            .collect();
        let Some(&last) = added.iter().max() else {
            return Ok(Vec::new());
        };
        let from = self.folder.claim_recent(last.saturating_add(1))?;
        Ok(added.into_iter().filter(|&u| u >= from).collect())
    }

    /// The changes this session has not taken, up to and including `through` (the
    /// records a write of this session just made, which sit together in the log);
    /// later changes stay for the next sync, so the session applies everything in
    /// MODSEQ order. Without `through` in the log, every change is taken.
    pub fn take_through(&self, through: &[Record]) -> Vec<Record> {
        let mut st = self.folder.lock();
        let end = st.log_end();
        let from = st.cursors.get(&self.id).copied().unwrap_or(end);
        let skip = usize::try_from(from.saturating_sub(st.log_start)).unwrap_or(usize::MAX);
        let pending: Vec<&Record> = st.log.iter().skip(skip).collect();
        let upto = through
            .first()
            .and_then(|first| pending.iter().position(|r| *r == first))
            .map_or(pending.len(), |p| (p + through.len()).min(pending.len()));
        let out: Vec<Record> = pending[..upto].iter().map(|r| (*r).clone()).collect();
        let to = from.max(st.log_start) + upto as u64;
        st.cursors.insert(self.id, to);
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

    /// Where the folder stands now, to compare with later ([`Session::changed`]).
    pub fn watch(&self) -> Watch {
        Watch {
            generation: self.folder.feed.generation(),
            mark: self.folder.outside_mark(),
        }
    }

    /// Whether the folder changed since `w` was taken: a change pending for this
    /// session, delivery in this process poked the folder, or (with `look_outside`,
    /// which costs three `stat`s) another process changed `new/`, the journal or the
    /// snapshot.
    pub fn changed(&self, w: &Watch, look_outside: bool) -> bool {
        {
            let st = self.folder.lock();
            if st.cursors.get(&self.id).is_some_and(|&c| c < st.log_end()) {
                return true;
            }
        }
        self.folder.feed.generation() != w.generation
            || (look_outside && self.folder.outside_mark() != w.mark)
    }

    /// Wait up to `timeout` for a change (IDLE in a thread of its own): true as soon
    /// as [`Session::changed`] says so; the files are looked at once a second.
    pub fn wait(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let w = self.watch();
        loop {
            if self.changed(&w, true) {
                return true;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return false;
            }
            if self
                .folder
                .feed
                .wait_past(w.generation, left.min(IDLE_POLL))
            {
                return true;
            }
        }
    }
}

/// A folder's state as an idler last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    generation: u64,
    mark: Option<(std::time::SystemTime, u64, u64)>,
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut st = self.folder.lock();
        st.cursors.remove(&self.id);
        st.trim_log();
    }
}
