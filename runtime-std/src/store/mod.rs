//! The durable store: a Maildir per account with its folders and their indexes
//! (docs/STORE.md), and the outbound spool.
//!
//! Every write follows the same path — new file in a `tmp` directory, fsync, rename
//! into place, fsync of the directory — and completes before [`Store::deliver`]
//! returns, so the SMTP 250 that follows it is never a lie (invariant 5). Directory
//! fsyncs go through a [`Committer`], which lets sessions finishing together share one.

mod change;
mod commit;
mod feed;
mod flush;
pub mod folder;
pub mod folders;
pub mod index;
mod journal;
mod load;

pub(crate) mod maildir;
mod scan;
pub mod session;
pub mod spool;
mod unique;
mod upgrade;
mod wal;

pub use change::{Change, FlagEdit};
pub use commit::{CommitStats, Committer};
pub use folder::{Folder, FolderError, NewFile, PopLock};
pub use folders::{FolderInfo, Folders, FoldersError};
pub use session::{Session, Watch};
pub use wal::WalStats;

use crate::platform::datadir::DataDir;
use mailroom_core::smtp::{Delivery, DeliveryError, Recipient, Route};
use std::io;
use std::path::PathBuf;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare {path}: {source}")]
pub struct OpenError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

pub struct Store {
    dir: DataDir,
    committer: Committer,
    /// The folder states every session of this process shares.
    folders: Folders,
    /// Told the queue id of every new spool entry (the outbound queue's wake-up).
    queued: std::sync::OnceLock<QueuedHook>,
    /// The ingest journal, once the daemon has taken it (docs/STORE.md).
    wal: std::sync::OnceLock<std::sync::Arc<wal::Wal>>,
}

/// Called with the id of each new spool entry, after it is durable.
pub type QueuedHook = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

impl Store {
    /// Create the mail and spool directories if needed.
    pub fn open(dir: &DataDir) -> Result<Store, OpenError> {
        let fail = |path: PathBuf| move |source| OpenError { path, source };
        maildir::create_dir_synced(&dir.mail_dir()).map_err(fail(dir.mail_dir()))?;
        spool::prepare(dir).map_err(fail(dir.spool_dir()))?;
        Ok(Store {
            dir: dir.clone(),
            committer: Committer::new(),
            folders: Folders::new(),
            queued: std::sync::OnceLock::new(),
            wal: std::sync::OnceLock::new(),
        })
    }

    /// Directory fsyncs requested and performed since the store was opened.
    pub fn commit_stats(&self) -> CommitStats {
        self.committer.stats()
    }

    /// Deliver local mail through the ingest journal from now on: replay what a crash
    /// left, then start the thread that retires segments. Only the daemon does this;
    /// other processes opening the store deliver directly.
    ///
    /// `MAILROOM_BENCH_DIRECT_INGEST=1` keeps the direct path (fsync per message), so
    /// scripts/bench-ingest.sh can measure both in one run.
    pub fn start_ingest_journal(&self) -> Result<(), OpenError> {
        if std::env::var_os("MAILROOM_BENCH_DIRECT_INGEST").is_some_and(|v| v == "1") {
            tracing::info!("ingest journal off (MAILROOM_BENCH_DIRECT_INGEST=1)");
            return Ok(());
        }
        let dir = self.dir.ingest_journal_dir();
        let fail = |source| OpenError {
            path: dir.clone(),
            source,
        };
        let wal = wal::Wal::open(&dir, &self.dir.mail_dir()).map_err(fail)?;
        wal.spawn_retirer().map_err(fail)?;
        let _ = self.wal.set(wal);
        Ok(())
    }

    /// Messages journaled and journal fdatasyncs, if the journal is in use.
    pub fn wal_stats(&self) -> Option<WalStats> {
        self.wal.get().map(|w| w.stats())
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// Be told about every new spool entry (set once, by the outbound queue).
    pub fn set_queued_hook(&self, hook: QueuedHook) -> bool {
        self.queued.set(hook).is_ok()
    }

    /// Take `user`'s INBOX as a POP3 maildrop; see [`index`]. The POP lock is held
    /// until the returned value is dropped.
    pub fn open_mailbox(&self, user: &str) -> Result<index::Mailbox, index::MailboxError> {
        let root = self.account_dir(user)?;
        index::Mailbox::open_in(&self.folders, &root)
    }

    /// The folder states of this process (IMAP, webmail).
    pub fn folders(&self) -> &Folders {
        &self.folders
    }

    /// The Maildir of `user` (INBOX; its folders are inside), refusing unsafe names.
    pub fn account_dir(&self, user: &str) -> io::Result<PathBuf> {
        let user = user.to_ascii_lowercase();
        if !is_mailbox_name(&user) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "mailbox name not allowed",
            ));
        }
        Ok(self.dir.maildir(&user))
    }

    /// Make `delivery` durable in every local mailbox and, for remote recipients, in
    /// the outbound spool. Errors are temporary (the client retries); details go to
    /// the log, not to the client.
    pub fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        let plan = Plan::of(delivery)?;
        let arrival = crate::platform::clock::unix_secs();
        for r in &plan.unknown {
            // Accept-and-bounce mode: the bounce is generated once routing and outbound
            // delivery exist; until then the recipient is only logged.
            tracing::warn!(
                id = %delivery.id,
                recipient = %r.address,
                "unknown local recipient accepted; bounces are not generated yet, message not delivered to it"
            );
        }
        if !plan.local.is_empty() {
            let roots: Vec<PathBuf> = plan
                .local
                .iter()
                .map(|u| {
                    let inbox = self.dir.maildir(u);
                    if delivery.junk {
                        self.junk_folder(&inbox).unwrap_or(inbox)
                    } else {
                        inbox
                    }
                })
                .collect();
            match self.wal.get() {
                Some(wal) => wal.deliver(&roots, &delivery.data),
                None => maildir::deliver(&self.committer, &roots, &delivery.data),
            }
            .map_err(|e| storage_failure(delivery, "mailbox", &e))?;
            for root in &roots {
                // An idling session of this process hears of it at once.
                self.folders.poke(root);
            }
            tracing::info!(id = %delivery.id, users = ?plan.local, size = delivery.data.len(), "delivered");
        }
        if !plan.remote.is_empty() {
            let qid = spool::enqueue(&self.dir, &self.committer, delivery, &plan.remote, arrival)
                .map_err(|e| storage_failure(delivery, "spool", &e))?;
            tracing::info!(id = %delivery.id, queue_id = %qid, recipients = plan.remote.len(), "queued for remote delivery");
            if let Some(hook) = self.queued.get() {
                hook(&qid);
            }
        }
        Ok(())
    }

    /// The Maildir of the account's Junk folder (the one with the `\Junk` SPECIAL-USE),
    /// if it has one.
    fn junk_folder(&self, account: &std::path::Path) -> Option<PathBuf> {
        let folders = self.folders.list(account).ok()?;
        let junk = folders
            .iter()
            .find(|f| f.special_use == Some(mailroom_core::mailbox::SpecialUse::Junk))?;
        Folders::folder_dir(account, &junk.name).ok()
    }

    /// Make `delivery` durable in the outbound spool for its recipients, each forwarded
    /// to the LAN server `server` (`host:port`) rather than where the rules would send
    /// it (an In Mail's `routing = "lan"`). Returns the queue id.
    pub fn queue_for_lan(
        &self,
        delivery: &Delivery,
        server: &str,
    ) -> Result<String, DeliveryError> {
        let recipients: Vec<&Recipient> = delivery.envelope.recipients.iter().collect();
        let arrival = crate::platform::clock::unix_secs();
        let qid = spool::enqueue_via(
            &self.dir,
            &self.committer,
            delivery,
            &recipients,
            Some(server),
            arrival,
        )
        .map_err(|e| storage_failure(delivery, "spool", &e))?;
        tracing::info!(id = %delivery.id, queue_id = %qid, server, "queued for the LAN server");
        if let Some(hook) = self.queued.get() {
            hook(&qid);
        }
        Ok(qid)
    }
}

/// A delivery's recipients sorted by where they go.
struct Plan<'a> {
    /// Distinct local accounts, in recipient order.
    local: Vec<String>,
    remote: Vec<&'a Recipient>,
    unknown: Vec<&'a Recipient>,
}

impl<'a> Plan<'a> {
    fn of(delivery: &'a Delivery) -> Result<Self, DeliveryError> {
        let mut plan = Plan {
            local: Vec::new(),
            remote: Vec::new(),
            unknown: Vec::new(),
        };
        for r in &delivery.envelope.recipients {
            match &r.route {
                Route::Local(user) => {
                    let user = user.to_ascii_lowercase();
                    if !is_mailbox_name(&user) {
                        tracing::error!(id = %delivery.id, user, "refusing to deliver to an unsafe mailbox name");
                        return Err(DeliveryError {
                            temporary: false,
                            text: "mailbox name not allowed".into(),
                        });
                    }
                    if !plan.local.contains(&user) {
                        plan.local.push(user);
                    }
                }
                Route::Remote => plan.remote.push(r),
                Route::Unknown => plan.unknown.push(r),
            }
        }
        Ok(plan)
    }
}

/// Account names are validated when created; this guards the path anyway, since a
/// name becomes a directory.
fn is_mailbox_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn storage_failure(delivery: &Delivery, what: &str, e: &io::Error) -> DeliveryError {
    tracing::error!(id = %delivery.id, error = %e, "cannot store message in {what}");
    DeliveryError {
        temporary: true,
        text: "local storage error, please try again later".into(),
    }
}
