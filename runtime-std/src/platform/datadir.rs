//! The data directory: where every file lives. Only this module knows the names of
//! the files and folders in it; the formats inside a Maildir and a spool folder
//! belong to `crate::store`.
//!
//! ```text
//! DIR/mailroom.toml          configuration
//! DIR/users/NAME.toml        one file per account
//! DIR/users/NAME.secret      its challenge-response secret (encrypted)
//! DIR/users/NAME.autoresponder  its simple autoresponder text
//! DIR/access/*ALLOWED.DAT    access restriction files (VPOP3 format, §11.9.1)
//! DIR/DLRULES.DAT            download rules (VPOP3 format)
//! DIR/SMTPRULES.TXT          SMTP rules (VPOP3 format, §8.2.4)
//! DIR/SMTPFWD.DAT            LAN forwarding rules
//! DIR/BOUNCE.MSG             the text of bounces for unknown recipients (§16.4)
//! DIR/WELCOME.MSG            the welcome message new users get (§4.3.2.5)
//! DIR/FINGER.TPL             the Finger Results Template (§11.5.5)
//! DIR/CONNECT.NOW            VPOP3's trigger: run the primary connections
//! DIR/tls/cert.pem, key.pem  certificate (generated for the development setup)
//! DIR/mail/USER/             Maildir per account (new/ cur/ tmp/) = INBOX, with
//!                            mailroom.lock and subscriptions; folders are .NAME/
//!                            (Maildir++); each folder holds mailroom-index,
//!                            mailroom-changes, mailroom-pop.lock (docs/STORE.md);
//!                            USERPLAN.TXT, USERINFO.TXT for finger (§11.5.3)
//! DIR/spool/                 outbound queue (queue/, tmp/, held/, FLUSH, outbound.lock)
//! DIR/state/                 state that must survive restarts (secret.key, askbook,
//!                            connect/, seen/, ids-blocklist, autoresponder/NAME.sent,
//!                            quota/NAME)
//! DIR/state/lists/           mailing lists (docs/LISTS.md): NAME.toml members,
//!                            pending.toml verifications, held/NAME/TOKEN.eml posts
//!                            awaiting a moderator, digest/NAME/*.eml; lists.lock
//! DIR/ls_help.txt, ls_lists.txt  the ListServer's Help and Lists texts (§14.6.4.1)
//! DIR/log/                   logs (mailroom.log, security.log, DLRULES.LOG,
//!                            SMTPRULES.LOG, SUMMARY.LOG; transcripts SMTPSVR.LOG,
//!                            POP3SVR.LOG, IMAPSVR.LOG, SMTPCLT.LOG, POP3CLT.LOG;
//!                            a full log is renamed to .old / .OLD)
//! ```

use std::path::{Path, PathBuf};

/// The access files in `DIR/access/`, in the order of the configuration's
/// `AccessFiles` fields.
pub const ACCESS_FILE_NAMES: [&str; 7] = [
    "SMTPALLOWED.DAT",
    "POP3ALLOWED.DAT",
    "IMAPALLOWED.DAT",
    "MAILHTTPALLOWED.DAT",
    "PASSALLOWED.DAT",
    "FINGERALLOWED.DAT",
    "LDAPALLOWED.DAT",
];

/// A mailbox folder's index snapshot (in INBOX's Maildir root and in each `.NAME/`).
pub const INDEX_FILE: &str = "mailroom-index";
/// A folder's change journal since its snapshot.
pub const JOURNAL_FILE: &str = "mailroom-changes";
/// flock(2)ed by the one POP3 session that has the folder as its maildrop.
pub const POP_LOCK_FILE: &str = "mailroom-pop.lock";
/// In an account's Maildir root: the writer lock, held only to catch up and append.
pub const ACCOUNT_LOCK_FILE: &str = "mailroom.lock";
/// In an account's Maildir root: subscribed folder names, one per line.
pub const SUBSCRIPTIONS_FILE: &str = "subscriptions";
/// In a folder's directory (INBOX's: the account's Maildir root): its access control
/// list (RFC 4314), `identifier rights` per line; none means only the owner.
pub const FOLDER_ACL_FILE: &str = "mailroom-acl";
/// In an account's Maildir root: URLAUTH mailbox access keys (RFC 4467), one
/// `hex-key TAB folder` line per folder; private to the server.
pub const URLAUTH_KEYS_FILE: &str = "mailroom-urlauth-keys";
/// The empty marker Maildir++ (Courier, Dovecot) puts in every folder directory.
pub const MAILDIR_FOLDER_FILE: &str = "maildirfolder";

/// DKIM keys (issue 19).
const DKIM_DIR: &str = "dkim";

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("mailroom.toml")
    }

    pub fn users_dir(&self) -> PathBuf {
        self.root.join("users")
    }

    pub fn access_dir(&self) -> PathBuf {
        self.root.join("access")
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.root.join("mail")
    }

    /// The Maildir of one account (name already validated and lower-cased).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.mail_dir().join(user)
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The seen-UID books of the In Mails (POP3 collection), one book and one
    /// journal per In Mail.
    pub fn seen_dir(&self) -> PathBuf {
        self.state_dir().join("seen")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// The file of one account (name already validated and lower-cased).
    pub fn account_file(&self, name: &str) -> PathBuf {
        self.users_dir().join(format!("{name}.toml"))
    }

    /// The challenge-response secret of one account.
    pub fn secret_file(&self, name: &str) -> PathBuf {
        self.users_dir().join(format!("{name}.secret"))
    }

    /// The text of one account's simple autoresponder (§4.2.3.2.1 sections and
    /// tags); its switches are in the account file.
    pub fn autoresponder_text(&self, name: &str) -> PathBuf {
        self.users_dir().join(format!("{name}.autoresponder"))
    }

    /// The once-per-sender memory of one account's autoresponder (issue 15).
    pub fn autoresponder_sent(&self, name: &str) -> PathBuf {
        self.state_dir()
            .join("autoresponder")
            .join(format!("{name}.sent"))
    }

    /// The quota warning level one account has crossed (issue 15: 0, 80, 100, 120).
    pub fn quota_state(&self, name: &str) -> PathBuf {
        self.state_dir().join("quota").join(name)
    }

    /// Where `mailroom dkim generate` writes DKIM signing keys.
    pub fn dkim_dir(&self) -> PathBuf {
        self.root.join(DKIM_DIR)
    }

    /// A generated DKIM key, as the `[[dkim]] key` value (relative to the data
    /// directory); `selector` and `domain` already checked to be DNS labels.
    pub fn dkim_key_name(selector: &str, domain: &str) -> String {
        format!("{DKIM_DIR}/{selector}.{domain}.pem")
    }

    /// The key that encrypts the secrets.
    pub fn secret_key_file(&self) -> PathBuf {
        self.state_dir().join("secret.key")
    }

    /// An access restriction file, one of [`ACCESS_FILE_NAMES`].
    pub fn access_file(&self, name: &str) -> PathBuf {
        self.access_dir().join(name)
    }

    /// The download rules (VPOP3's DLRULES.DAT).
    pub fn download_rules_file(&self) -> PathBuf {
        self.root.join("DLRULES.DAT")
    }

    /// Which download rule fired on which message.
    pub fn download_rules_log(&self) -> PathBuf {
        self.log_dir().join("DLRULES.LOG")
    }

    /// The SMTP rules (VPOP3's SMTPRULES.TXT, §8.2.4).
    pub fn smtp_rules_file(&self) -> PathBuf {
        self.root.join("SMTPRULES.TXT")
    }

    /// Which SMTP rule fired on which message (VPOP3's SMTP rules log).
    pub fn smtp_rules_log(&self) -> PathBuf {
        self.log_dir().join("SMTPRULES.LOG")
    }

    /// The pending download queries.
    pub fn ask_book_file(&self) -> PathBuf {
        self.state_dir().join("askbook")
    }

    /// Mailing list state (docs/LISTS.md).
    pub fn lists_dir(&self) -> PathBuf {
        self.state_dir().join("lists")
    }

    /// Held while any mailing list state is read and replaced.
    pub fn lists_lock(&self) -> PathBuf {
        self.lists_dir().join("lists.lock")
    }

    /// The members of a mailing list (or digest list) once the ListServer changed
    /// them; `key` is the lower-case list name.
    pub fn list_roster(&self, key: &str) -> PathBuf {
        self.lists_dir().join(format!("{key}.toml"))
    }

    /// Subscriptions waiting for the subscriber's confirmation.
    pub fn list_pending(&self) -> PathBuf {
        self.lists_dir().join("pending.toml")
    }

    /// Posts held for a moderator (§14.6.3.3), one `TOKEN.eml` each.
    pub fn list_held_dir(&self, key: &str) -> PathBuf {
        self.lists_dir().join("held").join(key)
    }

    /// Posts collected for a list's digest (§14.6.1.2.1).
    pub fn list_digest_dir(&self, key: &str) -> PathBuf {
        self.lists_dir().join("digest").join(key)
    }

    /// The custom ListServer Help text.
    pub fn ls_help(&self) -> PathBuf {
        self.root.join("ls_help.txt")
    }

    /// The custom ListServer Lists text.
    pub fn ls_lists(&self) -> PathBuf {
        self.root.join("ls_lists.txt")
    }

    /// Held while the ask book is read and replaced.
    pub fn ask_book_lock(&self) -> PathBuf {
        self.state_dir().join("askbook.lock")
    }

    /// The IDS/IPS block list (docs/DEFENSE.md), kept by the server and the CLI.
    pub fn ids_block_file(&self) -> PathBuf {
        self.state_dir().join("ids-blocklist")
    }

    /// Held while the block list is read and replaced.
    pub fn ids_block_lock(&self) -> PathBuf {
        self.state_dir().join("ids-blocklist.lock")
    }

    /// The LAN forwarding rules (SMTPFWD.DAT).
    pub fn lan_rules_file(&self) -> PathBuf {
        self.root.join("SMTPFWD.DAT")
    }

    /// The text of bounces for unknown recipients.
    pub fn bounce_template_file(&self) -> PathBuf {
        self.root.join("BOUNCE.MSG")
    }

    /// The welcome message new users get (§4.3.2.5).
    pub fn welcome_message_file(&self) -> PathBuf {
        self.root.join("WELCOME.MSG")
    }

    /// VPOP3's trigger file: run the primary connections now.
    pub fn connect_now_file(&self) -> PathBuf {
        self.root.join("CONNECT.NOW")
    }

    /// Requests to and status from the connection scheduler.
    pub fn connect_state_dir(&self) -> PathBuf {
        self.state_dir().join("connect")
    }

    /// Queued outbound messages.
    pub fn spool_queue_dir(&self) -> PathBuf {
        self.spool_dir().join("queue")
    }

    /// The ingest journal's segments and lock (docs/STORE.md "Fast ingest").
    pub fn ingest_journal_dir(&self) -> PathBuf {
        self.spool_dir().join("wal")
    }

    /// Outbound messages being written.
    /// Queue entries an administrator holds (USR-6): an empty file per queue id.
    pub fn spool_held_dir(&self) -> PathBuf {
        self.spool_dir().join("held")
    }

    pub fn spool_tmp_dir(&self) -> PathBuf {
        self.spool_dir().join("tmp")
    }

    /// Asks a running sender to try the whole queue now (`queue flush`).
    pub fn flush_request_file(&self) -> PathBuf {
        self.spool_dir().join("FLUSH")
    }

    /// Held by the one process that sends the queue.
    pub fn outbound_lock_file(&self) -> PathBuf {
        self.spool_dir().join("outbound.lock")
    }

    /// The server's log.
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("mailroom.log")
    }

    /// Where external programs' In/Out files live while they run (§23.3).
    pub fn extensions_dir(&self) -> PathBuf {
        self.state_dir().join("extensions")
    }

    /// The global address book (§4.3.8): the manual's CSV import/export format.
    pub fn address_book(&self) -> PathBuf {
        self.root.join("ADDRBOOK.CSV")
    }

    /// The Finger Results Template (§11.5.5); the built-in one when missing.
    pub fn finger_template(&self) -> PathBuf {
        self.root.join("FINGER.TPL")
    }

    /// A user's finger plan (§11.5.3), in their mail directory as in VPOP3.
    pub fn finger_plan(&self, user: &str) -> PathBuf {
        self.maildir(user).join("USERPLAN.TXT")
    }

    /// A user's finger information, shown to verbose queries (§11.5.3).
    pub fn finger_info(&self, user: &str) -> PathBuf {
        self.maildir(user).join("USERINFO.TXT")
    }

    /// A protocol transcript by its VPOP3 name (`SMTPSVR`, `POP3CLT`, ...; §15.3.2).
    pub fn transcript_log(&self, name: &str) -> PathBuf {
        self.log_dir().join(format!("{name}.LOG"))
    }

    /// One line per message event in VPOP3's format (LOG-2, §21.12).
    pub fn summary_log(&self) -> PathBuf {
        self.log_dir().join("SUMMARY.LOG")
    }

    /// The security log (logins, lock-outs).
    pub fn security_log(&self) -> PathBuf {
        self.log_dir().join("security.log")
    }

    /// A path from the config, relative to the data directory unless absolute.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }
}
