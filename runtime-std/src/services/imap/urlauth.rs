//! URLAUTH mailbox access keys (RFC 4467), kept per user and folder in the
//! account's `URLAUTH_KEYS_FILE`; core signs and checks URLs with them
//! (core `imap/urlauth.rs`). A key is 32 random bytes made on first GENURLAUTH.

use super::ImapMailbox;
use crate::platform::datadir::{ACCOUNT_LOCK_FILE, URLAUTH_KEYS_FILE};
use crate::platform::durable::{self, Access};
use crate::platform::lock;
use mailroom_core::imap::{MailboxError, UrlKey};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const KEY_LEN: usize = 32;

/// The Maildir root of `user`, if that account exists.
pub(super) fn account_of(mailbox: &ImapMailbox, user: &str) -> Option<PathBuf> {
    let dir = mailbox.shared.store.account_dir(user).ok()?;
    dir.is_dir().then_some(dir)
}

/// folder → key, as stored; a line that does not read is skipped.
fn load(account: &Path) -> BTreeMap<String, Vec<u8>> {
    let text = fs::read_to_string(account.join(URLAUTH_KEYS_FILE)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (hex, folder) = l.split_once('\t')?;
            let key = mailroom_core::imap::unhex(hex)?;
            (key.len() == KEY_LEN).then(|| (folder.to_owned(), key))
        })
        .collect()
}

fn save(account: &Path, keys: &BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    let mut text = String::new();
    for (folder, key) in keys {
        text.push_str(&mailroom_core::imap::hex(key));
        text.push('\t');
        text.push_str(folder);
        text.push('\n');
    }
    durable::replace(
        &account.join(URLAUTH_KEYS_FILE),
        text.as_bytes(),
        Access::Private,
    )
}

/// `owner`'s key for `folder` (made if `create` and missing); `None` when there is
/// none, or no such account or folder.
pub(super) fn key(
    mailbox: &ImapMailbox,
    owner: &str,
    folder: &str,
    create: bool,
) -> Option<UrlKey> {
    let account = account_of(mailbox, owner)?;
    // A key only for a folder that exists.
    mailbox.shared.store.folders().open(&account, folder).ok()?;
    if !create {
        return load(&account).remove(folder).map(UrlKey);
    }
    // Read, add, write under the account's lock: two sessions making keys for two
    // folders at once must not lose one.
    let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE)).ok()?;
    let _held = lock::exclusive(&lock_file).ok()?;
    let mut keys = load(&account);
    if let Some(k) = keys.get(folder) {
        return Some(UrlKey(k.clone()));
    }
    let mut k = vec![0u8; KEY_LEN];
    if let Err(e) = getrandom::getrandom(&mut k) {
        tracing::error!("imap urlauth: no randomness for a key: {e}");
        return None;
    }
    keys.insert(folder.to_owned(), k.clone());
    if let Err(e) = save(&account, &keys) {
        tracing::error!(account = %account.display(), "imap urlauth: keys not saved: {e}");
        return None;
    }
    Some(UrlKey(k))
}

/// RESETKEY: forget the logged-in user's key for `folder`, or all of them.
pub(super) fn reset(mailbox: &ImapMailbox, folder: Option<&str>) -> Result<(), MailboxError> {
    let account = mailbox.account()?;
    let failed = |e: std::io::Error| {
        tracing::error!("imap urlauth: keys not saved: {e}");
        MailboxError::Failed
    };
    if let Some(f) = folder {
        mailbox.open_with(f, mailroom_core::mailbox::Rights::NONE)?;
    }
    let lock_file = lock::open(&account.join(ACCOUNT_LOCK_FILE)).map_err(failed)?;
    let _held = lock::exclusive(&lock_file).map_err(failed)?;
    let mut keys = load(account);
    match folder {
        Some(f) => {
            keys.remove(f);
        }
        None => keys.clear(),
    }
    save(account, &keys).map_err(failed)
}
