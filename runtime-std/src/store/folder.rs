//! One folder's state, shared by every session of the process that has it open
//! (docs/STORE.md "Sharing and sessions"): the index loaded from `mailroom-index` and
//! `mailroom-changes`, the journal file, the file name of each message, the changes
//! not yet taken in by every session, and the change feed.
//!
//! Every change goes the same way: lock the state (this process), flock the account's
//! `mailroom.lock` (other processes), catch up with what other processes appended,
//! build the records from the caught-up index, append them, release. So UIDs and
//! MODSEQs stay one sequence whichever process writes, and the flock is never held
//! across a client's command.

use super::change::{build, flag_letters, Change};
use super::feed::Feed;
use super::flush::{Flush, Flusher};
use super::journal::Journal;
use super::load::{diff, load};
use super::maildir;
use super::scan;
use super::unique;
use crate::platform::datadir::{ACCOUNT_LOCK_FILE, INDEX_FILE, JOURNAL_FILE, POP_LOCK_FILE};
use crate::platform::durable::{self, Access};
use crate::platform::lock;
use mailroom_core::mailbox::{replay, valid_base, Flags, FolderIndex, Record, SpecialUse};
use mailroom_core::wire::SizeCounter;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A checkpoint is due when the journal has more lines than this…
const CHECKPOINT_LINES: usize = 1000;
/// …or more bytes than a quarter of the snapshot and than this floor (docs/STORE.md:
/// without it an empty folder's 80-byte snapshot would be rewritten every other line).
const CHECKPOINT_MIN_BYTES: u64 = 8 * 1024;
/// A directory listing taken within this long of the directory's last change may
/// have missed a change made in the same clock tick, so it is not trusted later.
const MTIME_SETTLE: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("the folder was renamed or deleted")]
    Gone,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One message for [`Folder::append_many`].
pub struct NewFile<'a> {
    pub data: &'a [u8],
    pub flags: Flags,
    pub keywords: Vec<String>,
    pub internal_date: u64,
}

pub struct Folder {
    root: PathBuf,
    /// The account's Maildir (INBOX); `root` when this is INBOX.
    account: PathBuf,
    state: Mutex<State>,
    pub(super) feed: Feed,
    /// A POP3 session of this process has the folder as its maildrop.
    pop_taken: AtomicBool,
    /// Renamed or deleted under its sessions.
    gone: AtomicBool,
    /// The account's `mailroom.lock`, flocked around every catch-up and append.
    account_lock: File,
    me: Weak<Folder>,
    flusher: Weak<Flusher>,
}

pub(super) struct State {
    pub(super) index: FolderIndex,
    /// The snapshot this state was loaded from, kept open: while it is, its inode
    /// cannot be reused, so a different inode at the path means another process
    /// wrote a checkpoint.
    snapshot: File,
    snapshot_len: u64,
    journal: Journal,
    /// The file name in `cur/` of each message, as last seen.
    files: HashMap<u32, String>,
    /// `cur/`'s modification time when it was last listed completely.
    cur_listed: Option<SystemTime>,
    /// A write failed half-way: reload everything at the next catch-up.
    stale: bool,
    /// Changes not yet taken by every session; `log[0]` has position `log_start`.
    pub(super) log: VecDeque<Record>,
    pub(super) log_start: u64,
    /// Each session's position in the log.
    pub(super) cursors: HashMap<u64, u64>,
    pub(super) next_session: u64,
}

impl State {
    pub(super) fn log_end(&self) -> u64 {
        self.log_start + self.log.len() as u64
    }

    fn push_log(&mut self, records: impl IntoIterator<Item = Record>) {
        if self.cursors.is_empty() {
            // Nobody will read them: a new session starts at the end.
            let n = records.into_iter().count() as u64;
            self.log_start += n + self.log.len() as u64;
            self.log.clear();
        } else {
            self.log.extend(records);
        }
    }

    /// Drop what every session has taken.
    pub(super) fn trim_log(&mut self) {
        let min = self
            .cursors
            .values()
            .copied()
            .min()
            .unwrap_or(self.log_end());
        while self.log_start < min && self.log.pop_front().is_some() {
            self.log_start += 1;
        }
    }
}

impl Folder {
    /// Load the folder whose Maildir is `root`, in the account whose Maildir (INBOX)
    /// is `account`. The folder's directories must exist.
    pub(super) fn open(
        root: &Path,
        account: &Path,
        flusher: &Arc<Flusher>,
    ) -> io::Result<Arc<Folder>> {
        let account_lock = lock::open(&account.join(ACCOUNT_LOCK_FILE))?;
        let loaded = {
            let _held = lock::exclusive(&account_lock)?;
            load(root)?
        };
        Ok(Arc::new_cyclic(|me| Folder {
            root: root.to_path_buf(),
            account: account.to_path_buf(),
            state: Mutex::new(State {
                index: loaded.index,
                snapshot: loaded.snapshot,
                snapshot_len: loaded.snapshot_len,
                journal: loaded.journal,
                files: HashMap::new(),
                cur_listed: None,
                stale: false,
                log: VecDeque::new(),
                log_start: 0,
                cursors: HashMap::new(),
                next_session: 0,
            }),
            feed: Feed::default(),
            pop_taken: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            account_lock,
            me: me.clone(),
            flusher: Arc::downgrade(flusher),
        }))
    }

    /// The folder's Maildir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state is finished before the guard drops or it sets
        // `stale`, so a panicking holder leaves nothing half-done to fear.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuse work on a folder renamed or deleted, here or by another process (whose
    /// directory must not be made again by loading or scanning it).
    fn check(&self) -> Result<(), FolderError> {
        if self.root != self.account && !self.root.join("cur").is_dir() {
            self.mark_gone();
        }
        if self.gone.load(Ordering::Acquire) {
            return Err(FolderError::Gone);
        }
        Ok(())
    }

    /// Renamed or deleted: every later operation says so.
    pub(super) fn mark_gone(&self) {
        self.gone.store(true, Ordering::Release);
        self.feed.poke();
    }

    /// Wake idlers: delivery put a file into `new/`.
    pub fn poke(&self) {
        self.feed.poke();
    }

    /// Read the index as it is in this process now (no disk work).
    pub fn read<R>(&self, f: impl FnOnce(&FolderIndex) -> R) -> R {
        f(&self.lock().index)
    }

    pub fn uidvalidity(&self) -> u32 {
        self.lock().index.uidvalidity
    }

    pub fn special_use(&self) -> Option<SpecialUse> {
        self.lock().index.special_use
    }

    /// The sync point's disk work: index new mail (moving it from `new/` to `cur/`),
    /// notice files that vanished, take in what other processes wrote. Returns the
    /// records this call appended itself; every session sees them (and the others')
    /// through [`Session::sync`].
    pub fn sync(&self) -> Result<Vec<Record>, FolderError> {
        self.check()?;
        let mut st = self.lock();
        let _held = lock::exclusive(&self.account_lock)?;
        self.catch_up(&mut st)?;
        let changes = match self.scan(&mut st) {
            Ok(c) => c,
            Err(_) if self.gone.load(Ordering::Acquire) => return Err(FolderError::Gone),
            Err(e) => return Err(e.into()),
        };
        // `+` and `X` lines are what must never be lost: synced now.
        self.commit(&mut st, changes, true)
    }

    /// Apply `changes` (after catching up), durably if `sync`; new messages and
    /// expunges always are, flag and held changes otherwise within a second. Returns
    /// the records written.
    pub fn write(&self, changes: Vec<Change>, sync: bool) -> Result<Vec<Record>, FolderError> {
        self.check()?;
        let mut st = self.lock();
        let _held = lock::exclusive(&self.account_lock)?;
        self.catch_up(&mut st)?;
        self.commit(&mut st, changes, sync)
    }

    /// IMAP STORE: apply flag `changes`, leaving alone (and returning) the messages
    /// whose MODSEQ is above `unchanged_since` (RFC 7162 §3.1.3), decided under the
    /// lock so no other writer slips in between. Returns the records written.
    pub fn store(
        &self,
        mut changes: Vec<Change>,
        unchanged_since: Option<u64>,
    ) -> Result<(Vec<Record>, Vec<u32>), FolderError> {
        self.check()?;
        let mut st = self.lock();
        let _held = lock::exclusive(&self.account_lock)?;
        self.catch_up(&mut st)?;
        let mut modified = Vec::new();
        if let Some(limit) = unchanged_since {
            changes.retain(|c| match c {
                Change::Flags { uid, .. } => match st.index.messages.get(uid) {
                    Some(m) if m.modseq > limit => {
                        modified.push(*uid);
                        false
                    }
                    _ => true,
                },
                _ => true,
            });
        }
        let records = self.commit(&mut st, changes, false)?;
        Ok((records, modified))
    }

    /// Give `\Recent` for the messages below `upto` to one session, under the locks,
    /// so that across sessions and processes each message is recent in one only
    /// (RFC 3501 §2.3.2). Returns the folder's `first_recent` before: the session's
    /// recent UIDs are those from it up to `upto`.
    pub fn claim_recent(&self, upto: u32) -> Result<u32, FolderError> {
        self.check()?;
        let mut st = self.lock();
        let _held = lock::exclusive(&self.account_lock)?;
        self.catch_up(&mut st)?;
        let from = st.index.first_recent;
        if upto > from {
            self.commit(&mut st, vec![Change::Recent { first: upto }], false)?;
        }
        Ok(from)
    }

    /// Store a new message in the folder (IMAP APPEND, a sent copy, COPY's target):
    /// durable, indexed and synced when this returns its UID (RFC 4315 APPENDUID).
    /// The file's modification time is set to `internal_date`, where Maildir readers
    /// look for it.
    pub fn append(
        &self,
        data: &[u8],
        flags: Flags,
        keywords: Vec<String>,
        internal_date: u64,
    ) -> Result<u32, FolderError> {
        let uids = self.append_many(vec![NewFile {
            data,
            flags,
            keywords,
            internal_date,
        }])?;
        uids.first()
            .copied()
            .ok_or_else(|| FolderError::Io(io::Error::other("the new message was not indexed")))
    }

    /// Store several messages all or none (IMAP MULTIAPPEND, RFC 3502): every file
    /// is written and synced in tmp/ first, then all are moved into cur/ and indexed
    /// in one commit under the locks; a failure before the commit removes them all.
    /// Returns the new UIDs in order.
    pub fn append_many(&self, files: Vec<NewFile<'_>>) -> Result<Vec<u32>, FolderError> {
        self.check()?;
        let mut written: Vec<(PathBuf, String)> = Vec::with_capacity(files.len());
        let mut adds = Vec::with_capacity(files.len());
        let undo = |written: &[(PathBuf, String)], cur: Option<&Path>| {
            for (tmp, name) in written {
                let _ = fs::remove_file(tmp);
                if let Some(cur) = cur {
                    let _ = fs::remove_file(cur.join(name));
                }
            }
        };
        // The slow part (writing and syncing the data) before any lock.
        for f in files {
            let name = unique::maildir_name(f.data.len());
            let tmp = self.root.join("tmp").join(&name);
            let stamp = UNIX_EPOCH + Duration::from_secs(f.internal_date);
            let placed = maildir::write_synced(&tmp, f.data).and_then(|()| {
                File::options()
                    .write(true)
                    .open(&tmp)
                    .and_then(|file| file.set_modified(stamp))
            });
            let file_name = format!("{name}:2,{}", flag_letters(f.flags));
            written.push((tmp, file_name.clone()));
            if let Err(e) = placed {
                undo(&written, None);
                return Err(e.into());
            }
            let mut size = SizeCounter::new();
            size.push(f.data);
            adds.push(Change::Add {
                name: file_name,
                size: size.finish(),
                internal_date: f.internal_date,
                flags: f.flags,
                keywords: f.keywords,
                held: false,
            });
        }
        let mut st = self.lock();
        let held = lock::exclusive(&self.account_lock);
        let caught = held.map_err(FolderError::from).and_then(|h| {
            self.catch_up(&mut st)?;
            Ok(h)
        });
        let _held = match caught {
            Ok(h) => h,
            Err(e) => {
                undo(&written, None);
                return Err(e);
            }
        };
        // Into cur/ under the lock: no scan can index a file before its `+` line.
        let cur = self.root.join("cur");
        let mut moved = Ok(());
        for (tmp, name) in &written {
            moved = fs::rename(tmp, cur.join(name));
            if moved.is_err() {
                break;
            }
        }
        if let Err(e) = moved.and_then(|()| durable::sync_dir(&cur)) {
            undo(&written, Some(&cur));
            return Err(e.into());
        }
        let records = match self.commit(&mut st, adds, true) {
            Ok(r) => r,
            Err(e) => {
                undo(&written, Some(&cur));
                return Err(e);
            }
        };
        Ok(records
            .iter()
            .filter_map(|r| match r {
                Record::Added(m) => Some(m.uid),
                _ => None,
            })
            .collect())
    }

    /// Write a snapshot now and empty the journal (normally done when the journal is
    /// long; exposed for tools and tests).
    pub fn checkpoint(&self) -> Result<(), FolderError> {
        self.check()?;
        let mut st = self.lock();
        let _held = lock::exclusive(&self.account_lock)?;
        self.catch_up(&mut st)?;
        self.checkpoint_locked(&mut st)?;
        Ok(())
    }

    /// Rename the files of `uids` so their names carry the index's flags, for mutt and
    /// Dovecot reading the same directory. Best effort: the index is the authority.
    pub fn write_back_flags(&self, uids: &[u32]) {
        let mut st = self.lock();
        // Under the account lock: another process's scan must not list `cur/` in
        // the middle of a rename and take the message for vanished.
        match lock::exclusive(&self.account_lock) {
            Ok(_held) => self.write_back(&mut st, Some(uids)),
            Err(e) => tracing::warn!(folder = %self.root.display(), "cannot lock to rename: {e}"),
        }
    }

    /// Where the file of `uid` was last seen.
    pub fn message_path(&self, uid: u32) -> Option<PathBuf> {
        let st = self.lock();
        let m = st.index.messages.get(&uid)?;
        let name = st
            .files
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| format!("{}:2,{}", m.base, flag_letters(m.flags)));
        Some(self.root.join("cur").join(name))
    }

    /// Open a message for reading, following a rename by another program since its
    /// file was last seen.
    pub fn open_message(&self, path: &Path) -> io::Result<File> {
        match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let found = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(scan::base_of)
                    .map(|base| self.find(base))
                    .transpose()?
                    .flatten();
                File::open(found.ok_or(e)?)
            }
            other => other,
        }
    }

    /// The current path of the message with base name `base`, searching the folder.
    pub fn find(&self, base: &str) -> io::Result<Option<PathBuf>> {
        for sub in ["cur", "new"] {
            let dir = self.root.join(sub);
            for name in scan::message_names(&dir)? {
                if scan::base_of(&name) == base {
                    return Ok(Some(dir.join(name)));
                }
            }
        }
        Ok(None)
    }

    /// Take the folder as a POP3 maildrop: `None` when another POP3 session, here or
    /// in another process, has it (RFC 1939's exclusive maildrop; IMAP is not stopped).
    pub fn try_pop_lock(self: &Arc<Self>) -> io::Result<Option<PopLock>> {
        let me = Arc::clone(self);
        if self.pop_taken.swap(true, Ordering::AcqRel) {
            return Ok(None);
        }
        match lock::try_exclusive(&self.root.join(POP_LOCK_FILE)) {
            Ok(Some(file)) => Ok(Some(PopLock {
                folder: me,
                _file: file,
            })),
            other => {
                self.pop_taken.store(false, Ordering::Release);
                other.map(|_| None)
            }
        }
    }

    /// A mark of what other processes may change (new mail, journal, snapshot), for
    /// an idler's once-a-second look.
    pub(super) fn outside_mark(&self) -> Option<(SystemTime, u64, u64)> {
        let new = scan::dir_mtime(&self.root.join("new")).ok()?;
        let journal = fs::metadata(self.root.join(JOURNAL_FILE)).ok()?;
        let index = fs::metadata(self.root.join(INDEX_FILE)).ok()?;
        Some((new, journal.len(), index.ino()))
    }

    /// Take in what other processes wrote since this state was loaded or last caught
    /// up. Call with the account lock held.
    fn catch_up(&self, st: &mut State) -> io::Result<()> {
        let ours = st.snapshot.metadata()?;
        let same_snapshot = fs::metadata(self.root.join(INDEX_FILE))
            .is_ok_and(|m| m.ino() == ours.ino() && m.dev() == ours.dev());
        let len = st.journal.disk_len()?;
        if !same_snapshot || st.stale || len < st.journal.len {
            return self.reload(st);
        }
        if len == st.journal.len {
            return Ok(());
        }
        let bytes = st.journal.read_range(st.journal.len, len)?;
        let mut pos = 0usize;
        let mut taken = Vec::new();
        let mut cut = false;
        for raw in bytes.split_inclusive(|&b| b == b'\n') {
            let r = replay(&mut st.index, raw);
            if let Some(why) = r.stopped {
                // Under the lock nobody is appending: this is a writer that died
                // mid-line, or damage. Cut it so the next line follows good ones.
                tracing::warn!(folder = %self.root.display(), "{why}; cutting the journal there");
                let at = st.journal.len + pos as u64;
                st.journal.truncate(at)?;
                cut = true;
                break;
            }
            if r.applied > 0 {
                if let Some(rec) = raw
                    .strip_suffix(b"\n")
                    .and_then(|l| std::str::from_utf8(l).ok())
                    .and_then(Record::parse_line)
                {
                    taken.push(rec);
                }
            }
            pos += raw.len();
            st.journal.lines += 1;
        }
        if !cut {
            st.journal.len += pos as u64;
        }
        if !taken.is_empty() {
            st.push_log(taken);
            self.feed.poke();
        }
        Ok(())
    }

    /// Load again from disk, telling sessions the difference.
    fn reload(&self, st: &mut State) -> io::Result<()> {
        let loaded = load(&self.root)?;
        let changes = diff(&st.index, &loaded.index);
        st.index = loaded.index;
        st.snapshot = loaded.snapshot;
        st.snapshot_len = loaded.snapshot_len;
        st.journal = loaded.journal;
        st.stale = false;
        st.cur_listed = None;
        let index = &st.index;
        st.files.retain(|uid, _| index.messages.contains_key(uid));
        if !changes.is_empty() {
            st.push_log(changes);
            self.feed.poke();
        }
        Ok(())
    }

    /// Move `new/` to `cur/` and compare `cur/` with the index: files to index, files
    /// gone. Call with the account lock held, after catching up.
    fn scan(&self, st: &mut State) -> io::Result<Vec<Change>> {
        let cur = self.root.join("cur");
        let new = self.root.join("new");
        if !cur.is_dir() || !new.is_dir() {
            if self.root != self.account {
                // Deleted or renamed by another process: not to be made again here.
                self.mark_gone();
                return Err(io::Error::new(io::ErrorKind::NotFound, "folder gone"));
            }
            maildir::ensure(&self.root)?;
        }
        let mut moved = false;
        for name in scan::message_names(&new)? {
            // Maildir's reader moves what it has seen; `:2,` marks the info as
            // version 2 with no flags yet.
            let dest = if name.contains(':') {
                name.clone()
            } else {
                format!("{name}:2,")
            };
            match fs::rename(new.join(&name), cur.join(&dest)) {
                Ok(()) => moved = true,
                // Taken by another reader meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let before = scan::dir_mtime(&cur)?;
        if !moved && st.cur_listed == Some(before) {
            return Ok(Vec::new());
        }
        let mut names = scan::message_names(&cur)?;
        let after = scan::dir_mtime(&cur)?;
        let settled = SystemTime::now()
            .duration_since(after)
            .is_ok_and(|age| age >= MTIME_SETTLE);
        st.cur_listed = (before == after && settled).then_some(after);
        names.sort();
        let mut present: HashMap<String, String> = HashMap::with_capacity(names.len());
        for name in names {
            present
                .entry(scan::base_of(&name).to_string())
                .or_insert(name);
        }
        let mut changes = Vec::new();
        let mut known: HashSet<&str> = HashSet::with_capacity(st.index.messages.len());
        let mut missing = Vec::new();
        for m in st.index.messages.values() {
            known.insert(&m.base);
            match present.get(&m.base) {
                Some(name) => {
                    st.files.insert(m.uid, name.clone());
                }
                None => missing.push((m.uid, m.base.clone())),
            }
        }
        if !missing.is_empty() {
            // A file another program renamed while the directory was read can be
            // missing from the listing: only what a second look misses is gone.
            let mut again: HashSet<String> = HashSet::new();
            for dir in [&cur, &new] {
                for name in scan::message_names(dir)? {
                    again.insert(scan::base_of(&name).to_string());
                }
            }
            for (uid, base) in missing {
                if !again.contains(&base) {
                    changes.push(Change::Vanished { uid });
                }
            }
        }
        let mut fresh: Vec<(&String, &String)> = present
            .iter()
            .filter(|(base, _)| !known.contains(base.as_str()))
            .collect();
        // Arrival order for Maildir names (`<secs>.M<usec>P<pid>Q<n>`), whose
        // numbers are not zero-padded: M99999 came before M100000.
        fresh.sort_by(|a, b| scan::natural_cmp(a.0, b.0).then_with(|| a.0.cmp(b.0)));
        for (base, name) in fresh {
            if !valid_base(base) {
                tracing::warn!(folder = %self.root.display(), file = %name, "skipping a message whose name the index cannot hold");
                continue;
            }
            let path = cur.join(name);
            let (size, date) =
                match scan::wire_size(&path).and_then(|s| Ok((s, scan::mtime_secs(&path)?))) {
                    Ok(x) => x,
                    // Removed by another program meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
            changes.push(Change::Add {
                name: name.clone(),
                size,
                internal_date: date,
                // Mail dropped with flags by another tool keeps them; read once.
                flags: Flags::from_file_name(name),
                keywords: Vec::new(),
                held: false,
            });
        }
        Ok(changes)
    }

    /// Turn `changes` into records against the caught-up index, append them, and
    /// tell sessions. Call with the account lock held.
    fn commit(
        &self,
        st: &mut State,
        changes: Vec<Change>,
        sync: bool,
    ) -> Result<Vec<Record>, FolderError> {
        let changes = self.remove_files(st, changes)?;
        let mut records = Vec::new();
        for c in changes {
            let name = match &c {
                Change::Add { name, .. } => Some(name.clone()),
                _ => None,
            };
            for r in build(&st.index, c) {
                // Built from this index, so it applies; one that does not is dropped.
                if st.index.apply(&r).is_ok() {
                    if let (Record::Added(m), Some(name)) = (&r, &name) {
                        st.files.insert(m.uid, name.clone());
                    }
                    records.push(r);
                }
            }
        }
        if records.is_empty() {
            if sync {
                st.journal.sync()?;
            }
            return Ok(records);
        }
        // A message or an expunge is never left unsynced, whatever the caller asked.
        let sync = sync
            || records
                .iter()
                .any(|r| matches!(r, Record::Added(_) | Record::Expunged { .. }));
        let text: String = records.iter().map(Record::to_line).collect();
        if let Err(e) = st.journal.append(&text, records.len(), sync) {
            // The index is ahead of the file: start again from the file.
            st.stale = true;
            return Err(e.into());
        }
        if st.journal.unsynced {
            if let (Some(f), Some(me)) = (self.flusher.upgrade(), self.me.upgrade()) {
                let me: Arc<dyn Flush> = me;
                f.mark(Arc::downgrade(&me));
            }
        }
        st.push_log(records.clone());
        self.feed.poke();
        if checkpoint_due(st) {
            if let Err(e) = self.checkpoint_locked(st) {
                // The journal still holds everything; a later write tries again.
                tracing::warn!(folder = %self.root.display(), "checkpoint failed: {e}");
            }
        }
        Ok(records)
    }

    /// Remove the files of the messages `changes` expunge, durably, before their `X`
    /// lines are written: a crash between the two leaves a vanished file, which the
    /// next sync records; the other order would bring the message back as new mail.
    /// An expunge whose file cannot be removed is dropped (and logged).
    fn remove_files(&self, st: &mut State, changes: Vec<Change>) -> io::Result<Vec<Change>> {
        let cur = self.root.join("cur");
        let mut removed_any = false;
        let mut kept = Vec::with_capacity(changes.len());
        for c in changes {
            let Change::Expunge { uid } = c else {
                kept.push(c);
                continue;
            };
            let Some(m) = st.index.messages.get(&uid) else {
                continue;
            };
            let name = st
                .files
                .get(&uid)
                .cloned()
                .unwrap_or_else(|| format!("{}:2,{}", m.base, flag_letters(m.flags)));
            let result = match fs::remove_file(cur.join(&name)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match self.find(&m.base) {
                    Ok(Some(path)) => fs::remove_file(path),
                    // Already gone: removed is what was asked.
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
                other => other,
            };
            match result {
                Ok(()) => {
                    removed_any = true;
                    st.files.remove(&uid);
                    kept.push(c);
                }
                Err(e) => {
                    tracing::warn!(folder = %self.root.display(), uid, "cannot remove an expunged message: {e}");
                }
            }
        }
        if removed_any {
            durable::sync_dir(&cur)?;
        }
        Ok(kept)
    }

    fn checkpoint_locked(&self, st: &mut State) -> io::Result<()> {
        self.write_back(st, None);
        let text = st.index.to_text();
        let path = self.root.join(INDEX_FILE);
        durable::replace(&path, text.as_bytes(), Access::Normal)?;
        st.snapshot = File::open(&path)?;
        st.snapshot_len = text.len() as u64;
        // The snapshot's highestmodseq covers every line: a crash before this
        // truncation replays nothing twice.
        st.journal.truncate(0)?;
        st.journal.lines = 0;
        Ok(())
    }

    fn write_back(&self, st: &mut State, only: Option<&[u32]>) {
        let cur = self.root.join("cur");
        let uids: Vec<u32> = match only {
            Some(u) => u.to_vec(),
            None => st.files.keys().copied().collect(),
        };
        for uid in uids {
            let (Some(m), Some(name)) = (st.index.messages.get(&uid), st.files.get(&uid)) else {
                continue;
            };
            let Some(renamed) = scan::name_with_flags(name, m.flags) else {
                continue;
            };
            if fs::rename(cur.join(name), cur.join(&renamed)).is_ok() {
                st.files.insert(uid, renamed);
            }
        }
    }
}

impl Flush for Folder {
    fn flush(&self) {
        if let Err(e) = self.lock().journal.sync() {
            tracing::error!(folder = %self.root.display(), "cannot sync the journal: {e}");
        }
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        // Lines waiting for the flusher are synced before the state goes.
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = st.journal.sync() {
            tracing::error!(folder = %self.root.display(), "cannot sync the journal: {e}");
        }
    }
}

fn checkpoint_due(st: &State) -> bool {
    st.journal.lines > CHECKPOINT_LINES
        || (st.journal.len > CHECKPOINT_MIN_BYTES && st.journal.len > st.snapshot_len / 4)
}

/// A folder held as one POP3 session's maildrop; released when dropped.
pub struct PopLock {
    folder: Arc<Folder>,
    _file: File,
}

impl PopLock {
    pub fn folder(&self) -> &Arc<Folder> {
        &self.folder
    }
}

impl Drop for PopLock {
    fn drop(&mut self) {
        self.folder.pop_taken.store(false, Ordering::Release);
    }
}
