//! The ingest journal: one durable write per batch of messages, shared by every
//! session (docs/STORE.md "The ingest journal", docs/ARCHITECTURE.md invariant 5).
//!
//! A session delivering to local mailboxes:
//!
//! 1. appends the message and where it goes to the active segment
//!    (`DATA/spool/wal/SEQ.wal`, format in `mailroom_core::wal`);
//! 2. waits for an `fdatasync` of the segment that covers its record — one sync serves
//!    every session that appended before it started (group commit);
//! 3. places the message in the Maildirs as before (`tmp/`, link, rename into `new/`)
//!    but without fsyncs, so readers see it at once;
//! 4. returns, and the SMTP 250 follows: the message is durable in the journal.
//!
//! The retirer thread then makes the placements themselves durable, many at a time:
//! it swaps in a fresh segment, waits until every session that wrote to the old one
//! has placed its message, runs one `syncfs` of the file system holding the mail, and
//! deletes the old segment. At start-up, [`Wal::open`] replays what a crash left:
//! each record's file is kept if it is there and complete, rewritten if its content
//! was lost, placed if its rename was lost — so replay is idempotent and every
//! acknowledged message ends up in each mailbox exactly once.

use super::maildir;
use super::unique;
use mailroom_core::wal::{self, Record, Replay, Stop};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Test knob: the retirer waits this many milliseconds between taking a segment and
/// syncing its placements, so a crash test's kill lands in that window often.
const DELAY_ENV: &str = "MAILROOM_TEST_WAL_RETIRE_DELAY_MS";
/// Test knob: a session waits this many milliseconds between the journal sync and
/// placing its message, so a kill lands between the two often (replay must place it).
const PLACE_DELAY_ENV: &str = "MAILROOM_TEST_WAL_PLACE_DELAY_MS";
/// How often an idle retirer looks for work (it is also woken by appends).
const IDLE: Duration = Duration::from_millis(200);
/// A segment is retired once it holds this much, or `RETIRE_AFTER` after the last
/// round: the background flush then covers many messages, and the window in which a
/// crash makes a replay necessary stays about a second.
const RETIRE_BYTES: u64 = 2 << 20;
const RETIRE_AFTER: Duration = Duration::from_secs(1);
/// Octets of zeros a new segment is created with and flushed. Appends inside them
/// overwrite blocks that already exist, so their `fdatasync` writes data only, with no
/// file-size or extent change for the file system to commit; a frame past the end
/// simply extends the file.
const SEGMENT_BYTES: u64 = 4 << 20;

pub struct Wal {
    dir: PathBuf,
    mail: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
    /// Held (flock) for the life of the process: one journal owner at a time.
    _lock: File,
    records: AtomicU64,
    syncs: AtomicU64,
    place_delay: Option<Duration>,
}

struct State {
    active: Arc<Segment>,
    /// Octets appended since start, over all segments: the group-commit clock.
    appended: u64,
    /// Everything up to here is fdatasynced.
    synced: u64,
    /// An fdatasync (or a segment swap's) is running.
    syncing: bool,
    /// An fdatasync failed. A later one may report success without the lost pages
    /// (Linux clears the error once reported), so nothing more is acknowledged through
    /// this journal until a restart replays it.
    broken: bool,
    /// Records appended to a segment whose message is not placed yet, by segment.
    unplaced: BTreeMap<u64, usize>,
}

struct Segment {
    seq: u64,
    path: PathBuf,
    file: File,
    /// Octets of this segment (for undoing a failed append).
    len: Mutex<u64>,
}

/// Journal statistics for the stop log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStats {
    pub records: u64,
    pub syncs: u64,
}

impl Wal {
    /// Take the journal in `dir`, replay what a crash left into the Maildirs under
    /// `mail`, and start a fresh segment. Fails with `WouldBlock` if another process
    /// owns the journal.
    pub fn open(dir: &Path, mail: &Path) -> io::Result<Arc<Wal>> {
        maildir::create_dir_synced(dir)?;
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("lock"))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let old = segments(dir)?;
        let next = old.last().map_or(1, |(seq, _)| seq + 1);
        let boot_file = dir.join("boot");
        let boot = boot_id();
        let stop = match (&boot, fs::read_to_string(&boot_file)) {
            (Some(now), Ok(then)) if *now == then => Stop::Process,
            _ => Stop::System,
        };
        if !old.is_empty() {
            let (mut records, mut placed) = (0, 0);
            for (_, path) in &old {
                let (r, p) = replay_segment(path, mail, stop)?;
                records += r;
                placed += p;
            }
            syncfs(mail)?;
            for (_, path) in &old {
                fs::remove_file(path)?;
            }
            super::commit::fsync_dir(dir)?;
            tracing::info!(
                segments = old.len(),
                records,
                placed,
                ?stop,
                "ingest journal replayed after an unclean stop"
            );
        }
        // The segments written from now on belong to this boot.
        match &boot {
            Some(id) => crate::platform::durable::replace(
                &boot_file,
                id.as_bytes(),
                crate::platform::durable::Access::Private,
            )?,
            None => match fs::remove_file(&boot_file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        let active = Segment::create(dir, next)?;
        Ok(Arc::new(Wal {
            dir: dir.to_path_buf(),
            mail: mail.to_path_buf(),
            state: Mutex::new(State {
                active: Arc::new(active),
                appended: 0,
                synced: 0,
                syncing: false,
                broken: false,
                unplaced: BTreeMap::new(),
            }),
            changed: Condvar::new(),
            _lock: lock,
            records: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            place_delay: env_millis(PLACE_DELAY_ENV),
        }))
    }

    pub fn stats(&self) -> WalStats {
        WalStats {
            records: self.records.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
        }
    }

    /// Start the thread that makes placements durable and retires segments.
    pub fn spawn_retirer(self: &Arc<Self>) -> io::Result<()> {
        let wal = self.clone();
        let delay = env_millis(DELAY_ENV);
        std::thread::Builder::new()
            .name("wal-retire".into())
            .spawn(move || loop {
                if let Err(e) = wal.retire_once(delay) {
                    // The segment stays; the next round (or a replay) retries.
                    tracing::error!(error = %e, "cannot retire an ingest journal segment");
                    std::thread::sleep(IDLE);
                }
            })
            .map(|_| ())
    }

    /// Deliver `data` into every Maildir in `roots` (at least one): durable in the
    /// journal when this returns `Ok`, visible in the Maildirs at once.
    pub fn deliver(&self, roots: &[PathBuf], data: &[u8]) -> io::Result<()> {
        if roots.is_empty() {
            return Ok(());
        }
        for root in roots {
            maildir::ensure(root)?;
        }
        let name = unique::maildir_name(data.len());
        let rel = roots
            .iter()
            .map(|r| relative(&self.mail, r))
            .collect::<io::Result<Vec<_>>>()?;
        let frame = wal::encode(&Record {
            name: name.clone(),
            roots: rel,
            data: data.to_vec(),
        })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;

        let (segment, end) = self.append(&frame)?;
        let result = self.wait_synced(end).and_then(|()| {
            if let Some(d) = self.place_delay {
                std::thread::sleep(d);
            }
            maildir::place(None, roots, &name, data)
        });
        let mut st = self.lock();
        if let Some(n) = st.unplaced.get_mut(&segment) {
            *n = n.saturating_sub(1);
        }
        drop(st);
        self.changed.notify_all();
        // On an error the client is told to retry. The record may still be replayed
        // after a crash; a message stored but not acknowledged is allowed (the client
        // may deliver it twice), a message acknowledged but lost is not.
        result
    }

    fn append(&self, frame: &[u8]) -> io::Result<(u64, u64)> {
        let mut st = self.lock();
        if st.broken {
            return Err(broken());
        }
        let seg = st.active.clone();
        let mut len = seg.len.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = seg.file.write_all_at(frame, *len) {
            // The next frame is written at the same place; zero what this one left so
            // no stale bytes follow a shorter frame. Not acknowledged either way.
            let _ = seg.file.write_all_at(&vec![0; frame.len()], *len);
            return Err(e);
        }
        *len += frame.len() as u64;
        drop(len);
        st.appended += frame.len() as u64;
        *st.unplaced.entry(seg.seq).or_default() += 1;
        self.records.fetch_add(1, Ordering::Relaxed);
        let end = st.appended;
        drop(st);
        self.changed.notify_all();
        Ok((seg.seq, end))
    }

    /// Group commit: return once everything appended up to `end` is fdatasynced.
    fn wait_synced(&self, end: u64) -> io::Result<()> {
        let mut st = self.lock();
        loop {
            if st.broken {
                return Err(broken());
            }
            if st.synced >= end {
                return Ok(());
            }
            if !st.syncing {
                // Lead a sync covering everything appended so far. Appends hold the
                // lock, so `target` octets are all in the active segment or in older
                // ones, which a swap synced before giving them up.
                st.syncing = true;
                let target = st.appended;
                let seg = st.active.clone();
                drop(st);
                let result;
                (st, result) = self.sync_segment(&seg, target);
                result?;
                continue;
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// fdatasync `seg`, whose appends up to the clock value `upto` are all written;
    /// the caller set `syncing` and released the lock. Returns the lock again.
    fn sync_segment(&self, seg: &Segment, upto: u64) -> (MutexGuard<'_, State>, io::Result<()>) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let result = seg.file.sync_data();
        let mut st = self.lock();
        st.syncing = false;
        match &result {
            Ok(()) => st.synced = st.synced.max(upto),
            Err(e) => {
                tracing::error!(error = %e, "ingest journal fdatasync failed; refusing mail until a restart");
                st.broken = true;
            }
        }
        self.changed.notify_all();
        (st, result)
    }

    /// One round of the retirer: swap segments, wait for placements, sync, delete.
    fn retire_once(&self, delay: Option<Duration>) -> io::Result<()> {
        // Wait for work. A broken journal is left as it is for the replay at restart.
        {
            let mut st = self.lock();
            let start = Instant::now();
            loop {
                let len = *st.active.len.lock().unwrap_or_else(|p| p.into_inner());
                let due = len >= RETIRE_BYTES || (len > 0 && start.elapsed() >= RETIRE_AFTER);
                if !st.broken && due {
                    break;
                }
                st = self
                    .changed
                    .wait_timeout(st, IDLE)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        let next_seq = self.lock().active.seq + 1;
        // Created and made durable before any session can write to it.
        let fresh = Arc::new(Segment::create(&self.dir, next_seq)?);

        let mut st = self.lock();
        while st.syncing {
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        let old = std::mem::replace(&mut st.active, fresh);
        let old_end = st.appended;
        st.syncing = true;
        drop(st);
        // Sessions waiting on old records are released by this sync; new ones sync
        // the fresh segment.
        let (mut st, synced) = self.sync_segment(&old, old_end);
        synced?;
        while st.unplaced.get(&old.seq).is_some_and(|&n| n > 0) {
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.unplaced.remove(&old.seq);
        drop(st);

        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        // Every message of the old segment is placed; one syncfs makes the files and
        // the directory entries durable, after which the segment is no longer needed.
        // Its deletion need not be durable: a segment that comes back replays as Keep.
        syncfs(&self.mail)?;
        fs::remove_file(&old.path)?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state is one step, so it stays consistent after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Segment {
    fn create(dir: &Path, seq: u64) -> io::Result<Segment> {
        let path = dir.join(format!("{seq:016}.wal"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let zeros = vec![0u8; 64 << 10];
        let mut at = 0;
        while at < SEGMENT_BYTES {
            file.write_all_at(&zeros, at)?;
            at += zeros.len() as u64;
        }
        file.sync_all()?;
        // The segment's directory entry must be durable before an fdatasync of its
        // content can stand for a message.
        super::commit::fsync_dir(dir)?;
        Ok(Segment {
            seq,
            path,
            file,
            len: Mutex::new(0),
        })
    }
}

/// This boot of the system (Linux), to tell a process crash from a system crash.
fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn broken() -> io::Error {
    io::Error::other("the ingest journal could not be synced; restart to replay it")
}

fn env_millis(key: &str) -> Option<Duration> {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((seq, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// `root` relative to `mail`, as the journal stores it.
fn relative(mail: &Path, root: &Path) -> io::Result<String> {
    root.strip_prefix(mail)
        .ok()
        .and_then(|r| r.to_str())
        .filter(|r| wal::is_safe_root(r))
        .map(str::to_owned)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a mailbox under the mail directory",
                    root.display()
                ),
            )
        })
}

/// Replay one segment into the Maildirs; returns its records and the files written.
fn replay_segment(path: &Path, mail: &Path, stop: Stop) -> io::Result<(usize, usize)> {
    let bytes = fs::read(path)?;
    let segment = wal::decode(&bytes);
    // A preallocated segment ends in zeros; anything else after the intact frames is
    // a torn or damaged frame.
    if bytes[segment.valid_len..].iter().any(|&b| b != 0) {
        tracing::warn!(
            segment = %path.display(),
            kept = segment.valid_len,
            dropped = bytes.len() - segment.valid_len,
            "ingest journal: torn tail ignored (never acknowledged)"
        );
    }
    let mut cur_names: HashMap<PathBuf, HashMap<String, PathBuf>> = HashMap::new();
    let mut written = 0;
    for record in &segment.records {
        for rel in &record.roots {
            let root = mail.join(rel);
            maildir::ensure(&root)?;
            let cur = match cur_names.entry(root.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(cur_index(&root)?),
            };
            let in_new = root.join("new").join(&record.name);
            let existing = if in_new.exists() {
                Some(in_new.clone())
            } else {
                cur.get(&record.name).cloned()
            };
            let found = match &existing {
                Some(p) => Some(fs::read(p)?),
                None => None,
            };
            match wal::replay(found.as_deref(), &record.data, stop) {
                Replay::Keep => {}
                Replay::Rewrite | Replay::Place => {
                    let dest = existing.unwrap_or(in_new);
                    maildir::copy_into(&root, &record.name, &record.data, &dest, false)?;
                    written += 1;
                }
            }
        }
    }
    Ok((segment.records.len(), written))
}

/// The files of `root/cur` by their base name (before the `:2,` info a reader adds).
fn cur_index(root: &Path) -> io::Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    for entry in fs::read_dir(root.join("cur"))? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str() {
            let base = name.split(':').next().unwrap_or(name);
            out.insert(base.to_owned(), entry.path());
        }
    }
    Ok(out)
}

/// Flush everything of the file system holding `path`: the placed files, their
/// directory entries, in one call.
fn syncfs(path: &Path) -> io::Result<()> {
    let dir = File::open(path)?;
    // SAFETY: syncfs on a descriptor we own; no memory is involved.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let mail = tmp.path().join("mail");
        fs::create_dir_all(&mail).unwrap();
        let dir = tmp.path().join("ingest");
        (tmp, dir, mail)
    }

    fn visible(root: &Path) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in fs::read_dir(root.join(sub)).unwrap() {
                out.push(fs::read(e.unwrap().path()).unwrap());
            }
        }
        out.sort();
        out
    }

    fn bob_maildir(mail: &Path) -> PathBuf {
        let bob = mail.join("bob");
        maildir::ensure(&bob).unwrap();
        bob
    }

    fn seqs(dir: &Path) -> Vec<u64> {
        segments(dir).unwrap().iter().map(|s| s.0).collect()
    }

    /// A record for bob's INBOX.
    fn rec(name: &str, data: &str) -> Record {
        Record {
            name: name.into(),
            roots: vec!["bob".into()],
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn delivered_messages_are_visible_and_the_segment_retires() {
        let (_tmp, dir, mail) = setup();
        let wal = Wal::open(&dir, &mail).unwrap();
        wal.spawn_retirer().unwrap();
        let bob = mail.join("bob");
        let carol = mail.join("carol");
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (wal, bob, carol) = (wal.clone(), bob.clone(), carol.clone());
                std::thread::spawn(move || {
                    wal.deliver(&[bob, carol], format!("message {i}").as_bytes())
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(visible(&bob).len(), 8);
        assert_eq!(visible(&carol).len(), 8);
        assert!(wal.stats().syncs <= 8);
        // The retirer deletes every segment but the active one.
        for _ in 0..500 {
            if segments(&dir).unwrap().len() == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(segments(&dir).unwrap().len(), 1);
    }

    /// After a process crash (same boot) a missing file was expunged by a reader or
    /// never acknowledged: replay must not bring it back.
    #[test]
    fn replay_after_a_process_crash_brings_nothing_back() {
        let (_tmp, dir, mail) = setup();
        fs::create_dir_all(&dir).unwrap();
        let Some(boot) = boot_id() else {
            eprintln!("SKIPPED: no /proc/sys/kernel/random/boot_id");
            return;
        };
        fs::write(dir.join("boot"), &boot).unwrap();
        let bob = bob_maildir(&mail);
        let mut seg = Vec::new();
        seg.extend(wal::encode(&rec("1.a", "still there")).unwrap());
        seg.extend(wal::encode(&rec("2.b", "expunged by a reader")).unwrap());
        fs::write(dir.join(format!("{:016}.wal", 3)), &seg).unwrap();
        fs::write(bob.join("cur/1.a:2,S"), "still there").unwrap();
        let _wal = Wal::open(&dir, &mail).unwrap();
        assert_eq!(visible(&bob), vec![b"still there".to_vec()]);
        assert_eq!(seqs(&dir), vec![4]);
    }

    #[test]
    fn a_second_owner_is_refused() {
        let (_tmp, dir, mail) = setup();
        let _wal = Wal::open(&dir, &mail).unwrap();
        assert!(Wal::open(&dir, &mail).is_err());
    }

    /// What a crash can leave: a record whose file is complete (in new/, or moved to
    /// cur/ by a reader), one whose file lost its content, one whose rename was lost,
    /// and a torn record that was never acknowledged.
    #[test]
    fn replay_places_each_acknowledged_message_exactly_once() {
        let (_tmp, dir, mail) = setup();
        fs::create_dir_all(&dir).unwrap();
        let bob = bob_maildir(&mail);
        let mut seg = Vec::new();
        for r in [
            rec("1.a", "complete in new"),
            rec("2.b", "complete in cur"),
            rec("3.c", "content lost"),
            rec("4.d", "rename lost"),
        ] {
            seg.extend(wal::encode(&r).unwrap());
        }
        let torn = wal::encode(&rec("5.e", "never acknowledged")).unwrap();
        seg.extend(&torn[..torn.len() - 3]);
        fs::write(dir.join(format!("{:016}.wal", 7)), &seg).unwrap();
        fs::write(bob.join("new/1.a"), "complete in new").unwrap();
        fs::write(bob.join("cur/2.b:2,S"), "complete in cur").unwrap();
        fs::write(bob.join("new/3.c"), "").unwrap();

        let wal = Wal::open(&dir, &mail).unwrap();
        let mut want: Vec<Vec<u8>> = [
            "complete in new",
            "complete in cur",
            "content lost",
            "rename lost",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        want.sort();
        assert_eq!(visible(&bob), want);
        assert_eq!(
            fs::read(bob.join("cur/2.b:2,S")).unwrap(),
            b"complete in cur"
        );
        // The old segment is gone; the fresh one follows it.
        assert_eq!(seqs(&dir), vec![8]);
        drop(wal);
        // A second start finds nothing to do.
        let _wal = Wal::open(&dir, &mail).unwrap();
        assert_eq!(visible(&bob), want);
    }
}
