//! Quotas at run time (§4.3.3): a mailbox's size, the level it last crossed (kept in
//! `DataDir::quota_state`), the warning mails, and the sending block.

use std::fs;
use std::path::Path;
use std::sync::Mutex;

use mailroom_core::config::Snapshot;
use mailroom_core::dsn::MailHead;
use mailroom_core::quota;
use mailroom_core::servermail::ServerMail;
use mailroom_core::smtp::{Delivery, DeliveryError};

use super::{sent_or_logged, SendFn};
use crate::platform::clock::now;
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::store::Store;

/// One reader-writer of the level files at a time in this process.
static LEVEL_LOCK: Mutex<()> = Mutex::new(());

/// The octets of every message file in a user's Maildir (INBOX and its folders).
pub fn mailbox_size(dd: &DataDir, user: &str) -> u64 {
    let root = dd.maildir(user);
    let mut total = files_in(&root.join("new")) + files_in(&root.join("cur"));
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir() {
                total += files_in(&e.path().join("new")) + files_in(&e.path().join("cur"));
            }
        }
    }
    total
}

fn files_in(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// After a message was stored for `user`: warn once for each level newly crossed.
pub fn after_delivery(store: &Store, snap: &Snapshot, user: &str, send: SendFn) {
    let Some(account) = snap.accounts.get(user) else {
        return;
    };
    if account.quota == 0 {
        return;
    }
    let dd = store.data_dir();
    let used = mailbox_size(dd, user);
    let now_level = quota::level(used, account.quota);
    // Released before the warning is sent: its own delivery comes back here.
    let g = LEVEL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let path = dd.quota_state(user);
    let before: u8 = fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if before != now_level {
        let saved = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| {
                durable::replace(&path, now_level.to_string().as_bytes(), Access::Normal)
            });
        if let Err(e) = saved {
            tracing::error!(user, "cannot save the quota level: {e}");
        }
    }
    drop(g);
    let Some(level) = quota::crossing(before, now_level) else {
        return;
    };
    let to = format!("{user}@{}", snap.config.default_domain);
    let now = now();
    let id = format!(
        "{}.{}.quota{level}.{user}",
        now.unix_micros(),
        std::process::id()
    );
    let data = quota::warning(
        MailHead::new(&snap.config, &to, now, &id),
        level,
        used,
        account.quota,
    );
    tracing::info!(user, level, used, quota = account.quota, "quota warning");
    let mail = ServerMail {
        sender: None,
        to: vec![to.clone()],
        data,
    };
    sent_or_logged("quota warning", &id, send(store, snap, &mail));
}

/// SMTP submission by a user whose mailbox is above 120 % of its quota is refused
/// (§4.3.3.1); mail *to* them never is.
pub fn refuse_submission(
    store: &Store,
    snap: &Snapshot,
    delivery: &Delivery,
) -> Option<DeliveryError> {
    // Submission is mail from a logged-in user (whose source is `Local`); mail the
    // server writes and mail from outside have no login.
    let user = delivery.envelope.auth_user.as_deref()?;
    let account = snap.accounts.get(&user.to_ascii_lowercase())?;
    if account.quota == 0 {
        return None;
    }
    let used = mailbox_size(store.data_dir(), &account.name);
    if quota::may_send(used, account.quota) {
        return None;
    }
    tracing::info!(id = %delivery.id, user, used, quota = account.quota, "sending refused: mailbox over quota");
    Some(DeliveryError {
        temporary: false,
        text: format!(
            "Your mailbox is over {}% of its quota; delete some messages before sending",
            quota::BLOCK_SENDING_ABOVE
        ),
    })
}
