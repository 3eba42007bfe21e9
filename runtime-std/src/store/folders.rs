//! An account's folders on disk (docs/STORE.md "Layout on disk"): INBOX is the Maildir
//! at the account's root, every other folder a Maildir++ `.Name` directory beside its
//! `new/ cur/ tmp/`; and the one shared [`Folder`] state per open folder of the
//! process, handed out as `Arc`.
//!
//! Creating, renaming and deleting folders happen under the account's writer lock, so
//! two processes never race on the directory names; each is one rename where it can
//! be, so a crash leaves the old folder or the new, not half of one.

use super::flush::Flusher;
use super::folder::Folder;
use super::load::new_uidvalidity;
use super::maildir;
use super::unique;
use crate::platform::datadir::{
    ACCOUNT_LOCK_FILE, FOLDER_ACL_FILE, INDEX_FILE, MAILDIR_FOLDER_FILE, SUBSCRIPTIONS_FILE,
};
use crate::platform::durable::{self, Access};
use crate::platform::lock;
use mailroom_core::mailbox::{
    decode_mutf7, dir_for_folder, encode_mutf7, folder_for_dir, Acl, FolderIndex, NameError,
    SpecialUse,
};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// The bytes of an index read to find its header (the header comes first and is short).
const HEADER_BYTES: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum FoldersError {
    #[error("{0}")]
    Name(#[from] NameError),
    #[error("no such folder")]
    NotFound,
    #[error("the folder already exists")]
    Exists,
    #[error("INBOX cannot be renamed or deleted")]
    Inbox,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One folder as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// The client's name, `/` between levels (not yet modified UTF-7).
    pub name: String,
    pub special_use: Option<SpecialUse>,
    pub subscribed: bool,
}

/// The folders of every account this process has open.
pub struct Folders {
    open: Mutex<HashMap<PathBuf, Weak<Folder>>>,
    flusher: Arc<Flusher>,
}

impl Default for Folders {
    fn default() -> Self {
        Folders::new()
    }
}

impl Folders {
    pub fn new() -> Folders {
        Folders {
            open: Mutex::new(HashMap::new()),
            flusher: Flusher::new(),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Weak<Folder>>> {
        // One insert or removal at a time: never half-updated.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory of folder `name` in the account whose Maildir is `account`.
    pub fn folder_dir(account: &Path, name: &str) -> Result<PathBuf, FoldersError> {
        let dir = dir_for_folder(name)?;
        Ok(if dir.is_empty() {
            account.to_path_buf()
        } else {
            account.join(dir)
        })
    }

    /// The shared state of folder `name` (INBOX is created if missing; another folder
    /// must exist). Every caller in this process gets the same state.
    pub fn open(&self, account: &Path, name: &str) -> Result<Arc<Folder>, FoldersError> {
        let root = Folders::folder_dir(account, name)?;
        if root == account {
            maildir::ensure(account)?;
        } else if !root.join("cur").is_dir() {
            return Err(FoldersError::NotFound);
        }
        if let Some(f) = self.registry().get(&root).and_then(Weak::upgrade) {
            return Ok(f);
        }
        // Loaded without the registry held, so delivery's `poke` never waits for a
        // big index to load; two sessions loading at once keep the first state.
        let folder = Folder::open(&root, account, &self.flusher)?;
        let mut open = self.registry();
        if let Some(f) = open.get(&root).and_then(Weak::upgrade) {
            return Ok(f);
        }
        open.retain(|_, w| w.strong_count() > 0);
        open.insert(root, Arc::downgrade(&folder));
        Ok(folder)
    }

    /// Wake the idlers of the folder at `root`, if it is open (delivery after its
    /// rename into `new/`).
    pub fn poke(&self, root: &Path) {
        let folder = self.registry().get(root).and_then(Weak::upgrade);
        if let Some(f) = folder {
            f.poke();
        }
    }

    /// INBOX first, then every folder by name.
    pub fn list(&self, account: &Path) -> Result<Vec<FolderInfo>, FoldersError> {
        maildir::ensure(account)?;
        let subscribed = self.subscriptions(account)?;
        let mut out = Vec::new();
        for entry in fs::read_dir(account)? {
            let entry = entry?;
            let Some(dir) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Some(name) = folder_for_dir(&dir) else {
                continue;
            };
            if !entry.path().join("cur").is_dir() {
                continue;
            }
            out.push(FolderInfo {
                subscribed: subscribed.contains(&name),
                special_use: read_special_use(&entry.path()),
                name,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.insert(
            0,
            FolderInfo {
                name: "INBOX".into(),
                special_use: None,
                subscribed: subscribed.iter().any(|s| s.eq_ignore_ascii_case("INBOX")),
            },
        );
        Ok(out)
    }

    /// Create folder `name` with its own UIDVALIDITY and `special_use` (kept in its
    /// index header, so a rename keeps it).
    pub fn create(
        &self,
        account: &Path,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<(), FoldersError> {
        let root = Folders::folder_dir(account, name)?;
        if root == account {
            return Err(FoldersError::Exists);
        }
        maildir::ensure(account)?;
        let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE))?;
        let _held = lock::exclusive(&lock_file)?;
        if root.exists() {
            return Err(FoldersError::Exists);
        }
        // Built whole in INBOX's tmp/ and renamed into place: never half a folder.
        let staging = account
            .join("tmp")
            .join(format!("folder-{}", unique::local_unique()));
        let built = (|| {
            maildir::ensure(&staging)?;
            File::create(staging.join(MAILDIR_FOLDER_FILE))?.sync_all()?;
            let mut index = FolderIndex::new(new_uidvalidity());
            index.special_use = special_use;
            durable::replace(
                &staging.join(INDEX_FILE),
                index.to_text().as_bytes(),
                Access::Normal,
            )?;
            fs::rename(&staging, &root)?;
            durable::sync_dir(account)
        })();
        if built.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        Ok(built?)
    }

    /// Create the folders a new account gets (Sent, Drafts, Trash, Junk) where missing.
    pub fn create_defaults(&self, account: &Path) -> Result<(), FoldersError> {
        for (name, special_use) in SpecialUse::DEFAULT_FOLDERS {
            match self.create(account, name, Some(special_use)) {
                Ok(()) | Err(FoldersError::Exists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Rename folder `from` and the folders below it to `to` (RFC 3501 RENAME). Their
    /// indexes go with them: UIDVALIDITY, UIDs and SPECIAL-USE stay. Sessions that
    /// had them open are told the folder is gone.
    pub fn rename(&self, account: &Path, from: &str, to: &str) -> Result<(), FoldersError> {
        let (src, dst) = (dir_for_folder(from)?, dir_for_folder(to)?);
        if src.is_empty() || dst.is_empty() {
            // RENAME INBOX moves its messages into a new folder: not supported here.
            return Err(FoldersError::Inbox);
        }
        let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE))?;
        let _held = lock::exclusive(&lock_file)?;
        if !account.join(&src).join("cur").is_dir() {
            return Err(FoldersError::NotFound);
        }
        if account.join(&dst).exists() {
            return Err(FoldersError::Exists);
        }
        let mut moves = vec![(src.clone(), dst.clone())];
        for dir in subdirs_below(account, &src)? {
            let target = format!("{dst}{}", &dir[src.len()..]);
            if account.join(&target).exists() {
                return Err(FoldersError::Exists);
            }
            moves.push((dir, target));
        }
        self.forget(account, &src);
        for (a, b) in &moves {
            fs::rename(account.join(a), account.join(b))?;
        }
        durable::sync_dir(account)?;
        Ok(())
    }

    /// Delete folder `name` and its messages (the folders below it stay: Maildir++
    /// keeps each level in its own directory).
    pub fn delete(&self, account: &Path, name: &str) -> Result<(), FoldersError> {
        let dir = dir_for_folder(name)?;
        if dir.is_empty() {
            return Err(FoldersError::Inbox);
        }
        let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE))?;
        let _held = lock::exclusive(&lock_file)?;
        let root = account.join(&dir);
        if !root.join("cur").is_dir() {
            return Err(FoldersError::NotFound);
        }
        self.forget_exact(&root);
        // One rename makes it disappear whole; removing the files follows.
        let trash = account
            .join("tmp")
            .join(format!("deleted-{}", unique::local_unique()));
        fs::rename(&root, &trash)?;
        durable::sync_dir(account)?;
        if let Err(e) = fs::remove_dir_all(&trash) {
            tracing::warn!(dir = %trash.display(), "cannot remove a deleted folder's files: {e}");
        }
        Ok(())
    }

    /// The access control list of folder `name` (RFC 4314; empty: only the owner).
    pub fn acl(&self, account: &Path, name: &str) -> Result<Acl, FoldersError> {
        let root = Folders::folder_dir(account, name)?;
        if !root.join("cur").is_dir() {
            return Err(FoldersError::NotFound);
        }
        match fs::read(root.join(FOLDER_ACL_FILE)) {
            Ok(b) => Ok(Acl::from_text(&String::from_utf8_lossy(&b))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Acl::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The folders of `account` that have an access control list, with it (the
    /// folders others may see: a folder without one is the owner's alone).
    pub fn acls(&self, account: &Path) -> Result<Vec<(String, Acl)>, FoldersError> {
        let mut out = Vec::new();
        let mut read = |name: String, dir: &Path| -> Result<(), FoldersError> {
            match fs::read(dir.join(FOLDER_ACL_FILE)) {
                Ok(b) => out.push((name, Acl::from_text(&String::from_utf8_lossy(&b)))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            Ok(())
        };
        read("INBOX".into(), account)?;
        for entry in fs::read_dir(account)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().and_then(folder_for_dir) else {
                continue;
            };
            read(name, &entry.path())?;
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Change folder `name`'s access control list with `edit`, under the account's
    /// writer lock so two changes at once both count; written whole and durable.
    pub fn edit_acl<E>(
        &self,
        account: &Path,
        name: &str,
        edit: impl FnOnce(&mut Acl) -> Result<(), E>,
    ) -> Result<Result<(), E>, FoldersError> {
        let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE))?;
        let _held = lock::exclusive(&lock_file)?;
        let mut acl = self.acl(account, name)?;
        if let Err(e) = edit(&mut acl) {
            return Ok(Err(e));
        }
        let root = Folders::folder_dir(account, name)?;
        durable::replace(
            &root.join(FOLDER_ACL_FILE),
            acl.to_text().as_bytes(),
            Access::Normal,
        )?;
        Ok(Ok(()))
    }

    /// Subscribed folder names (the client's spelling).
    pub fn subscriptions(&self, account: &Path) -> Result<Vec<String>, FoldersError> {
        let text = match fs::read(account.join(SUBSCRIPTIONS_FILE)) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(text
            .lines()
            .filter(|l| !l.is_empty())
            .filter_map(|l| decode_mutf7(l).ok())
            .collect())
    }

    /// Subscribe to `name` or not (RFC 3501 SUBSCRIBE/UNSUBSCRIBE); the folder need
    /// not exist.
    pub fn set_subscribed(&self, account: &Path, name: &str, on: bool) -> Result<(), FoldersError> {
        dir_for_folder(name)?;
        maildir::ensure(account)?;
        let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE))?;
        let _held = lock::exclusive(&lock_file)?;
        let mut names = self.subscriptions(account)?;
        let had = names.iter().any(|n| n == name);
        if had == on {
            return Ok(());
        }
        if on {
            names.push(name.to_string());
        } else {
            names.retain(|n| n != name);
        }
        // Stored in modified UTF-7, one per line, as Dovecot keeps them.
        let text: String = names
            .iter()
            .map(|n| format!("{}\n", encode_mutf7(n)))
            .collect();
        durable::replace(
            &account.join(SUBSCRIPTIONS_FILE),
            text.as_bytes(),
            Access::Normal,
        )?;
        Ok(())
    }

    /// Mark the open states of `src` and the folders below it gone.
    fn forget(&self, account: &Path, src: &str) {
        let below = format!("{src}.");
        let mut open = self.registry();
        open.retain(|path, w| {
            let hit = path.parent() == Some(account)
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n == src || n.starts_with(&below));
            if hit {
                if let Some(f) = w.upgrade() {
                    f.mark_gone();
                }
            }
            !hit
        });
    }

    fn forget_exact(&self, root: &Path) {
        if let Some(f) = self.registry().remove(root).and_then(|w| w.upgrade()) {
            f.mark_gone();
        }
    }
}

/// The folder directories below `dir` (`.a.b` and deeper for `.a`).
fn subdirs_below(account: &Path, dir: &str) -> io::Result<Vec<String>> {
    let prefix = format!("{dir}.");
    let mut out = Vec::new();
    for entry in fs::read_dir(account)? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str() {
            if name.starts_with(&prefix) && folder_for_dir(name).is_some() {
                out.push(name.to_string());
            }
        }
    }
    Ok(out)
}

/// A folder's SPECIAL-USE from its index header, without loading the folder.
fn read_special_use(root: &Path) -> Option<SpecialUse> {
    let mut head = Vec::new();
    File::open(root.join(INDEX_FILE))
        .ok()?
        .take(HEADER_BYTES)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    text.lines()
        .take_while(|l| !l.starts_with(|c: char| c.is_ascii_digit()))
        .find_map(|l| l.strip_prefix("specialuse "))
        .and_then(SpecialUse::from_attribute)
}
