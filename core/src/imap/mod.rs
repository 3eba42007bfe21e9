//! IMAP4rev1 (RFC 3501): the server session as a pure machine (issue 12, first part;
//! docs/IMAP.md says what is there and what is not).
//!
//! The types in this file are the contract with the runtimes: a driver creates an
//! [`ImapServer`] per connection, feeds it bytes, and answers its [`ImapEvent`]s with
//! [`ImapCommand`]s. Mailbox data crosses in [`crate::mailbox`]'s types: a SELECT is
//! answered with the folder's [`FolderIndex`], later changes with journal
//! [`Record`]s, which the session applies to its own copy and feeds to its [`View`]
//! (sequence numbers, RFC 2180 expunge deferral).
//!
//! Modules: `frame.rs` (bytes → whole commands with literals, through imap-codec's
//! `Fragmentizer`, bounded), `write.rs` (quoted strings, flag lists, dates),
//! `listext.rs` (LIST's SPECIAL-USE options), `pattern.rs` (LIST wildcards, for the
//! runtime), `server.rs` (states and commands), `envelope.rs` (FETCH ENVELOPE, through
//! mail-parser), `select.rs` (the selected state: the folder
//! copy, its view, sync points), `fetch.rs`, `search.rs`, `store.rs`; SORT and THREAD
//! (RFC 5256, 5957): `sortcmd.rs` (the commands and their run), `sort.rs` (keys and
//! order), `thread.rs` (ORDEREDSUBJECT, REFERENCES), `basesubject.rs`; `esearch.rs`
//! (SEARCH RETURN options and the `* ESEARCH` answer, RFC 4731/5267), `context.rs`
//! (CONTEXT=SEARCH updates, CANCELUPDATE), `qresync.rs` (RFC 7162's VANISHED),
//! `notify.rs` (NOTIFY, RFC 5465); `acl.rs` (RFC 4314's commands).
//!
//! [`View`]: crate::mailbox::View

mod acl;
mod append;
mod basesubject;
mod binary;
mod context;
mod cursor;
mod envelope;
mod esearch;
mod fetch;
mod frame;
mod imapurl;
mod listext;
mod notify;
mod pattern;
mod qresync;
mod search;
mod select;
mod server;
mod sort;
mod sortcmd;
mod store;
mod thread;
mod urlauth;
mod write;

pub use acl::{AclOp, AclRequest};
pub use pattern::list_matches;
pub use server::{ImapServer, MAX_PENDING_INPUT};

use crate::auth::{debug_login, AuthOutcome};
use crate::mailbox::{FolderIndex, Record, Rights, SpecialUse};

pub use crate::auth::ClientInfo as ImapInfo;

/// An event the driver must act on. Folder names are decoded from modified UTF-7
/// (`INBOX` always spelled so); `/` is the hierarchy separator. `Debug` leaves
/// passwords out.
#[derive(PartialEq, Eq)]
pub enum ImapEvent {
    /// LOGIN or AUTHENTICATE PLAIN: answer [`ImapCommand::AuthResult`].
    Authenticate { user: String, password: String },
    /// AUTHENTICATE CRAM-MD5 (RFC 2195): `digest` should be the keyed MD5 of
    /// `challenge` with the user's secret. Answer [`ImapCommand::AuthResult`].
    AuthenticateCram {
        user: String,
        challenge: String,
        digest: String,
    },
    /// LIST or LSUB (`subscribed`): the folders matching `pattern` under `reference`
    /// (RFC 3501 §6.3.8 `*` and `%`; [`list_matches`] decides). Answer
    /// [`ImapCommand::Listed`].
    List {
        reference: String,
        pattern: String,
        subscribed: bool,
    },
    /// STATUS, and NOTIFY's look at a watched mailbox: answer [`ImapCommand::Status`].
    Status { folder: String },
    /// SELECT (`read_only` false) or EXAMINE: answer [`ImapCommand::Selected`] with
    /// the folder's index. For SELECT the runtime then moves the folder's
    /// `first_recent` to `next_uid` (the session keeps the value it was given).
    /// The change feed of this session starts at the index given.
    Select { folder: String, read_only: bool },
    /// The selected folder is left (CLOSE, UNSELECT, another SELECT, LOGOUT, the end of
    /// the connection); no answer. Its change feed may be dropped.
    Deselect,
    /// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE: answer [`ImapCommand::Done`].
    Folder(FolderOp),
    /// A sync point (RFC 3501 §7: before every command in the selected state): the
    /// changes to the selected folder since the last ones handed over. Answer
    /// [`ImapCommand::Changes`].
    Sync,
    /// STORE: replace the flags of these messages (the session computed them). With
    /// `unchanged_since` (CONDSTORE), a message whose MODSEQ is higher is left alone
    /// and listed as modified. Answer [`ImapCommand::Stored`].
    Store {
        updates: Vec<FlagUpdate>,
        unchanged_since: Option<u64>,
    },
    /// EXPUNGE, UID EXPUNGE, CLOSE: remove these messages (all `\Deleted`). Answer
    /// [`ImapCommand::Expunged`].
    Expunge { uids: Vec<u32> },
    /// COPY or MOVE (`remove` true) of these messages to `to`. Answer
    /// [`ImapCommand::Copied`].
    Copy {
        uids: Vec<u32>,
        to: String,
        remove: bool,
    },
    /// APPEND: store `message` in `to`. Answer [`ImapCommand::Appended`].
    Append {
        to: String,
        flags: crate::mailbox::Flags,
        keywords: Vec<String>,
        /// Unix seconds; `None` = now.
        internal_date: Option<i64>,
        message: Vec<u8>,
    },
    /// The bytes of message `uid` of the selected folder, as FETCH sends them (CRLF
    /// line ends), for FETCH, text SEARCH keys and CONTEXT=SEARCH updates. Answer
    /// [`ImapCommand::Message`].
    Message { uid: u32 },
    /// IDLE started: send [`ImapCommand::Wake`] once when the selected folder changes
    /// (no answer is owed; a `Wake` after IDLE ended is ignored).
    Idle,
    /// An ACL command (RFC 4314) on `folder`: answer [`ImapCommand::Acl`]. The runtime
    /// checks the `a` right (any right for MYRIGHTS).
    Acl(AclRequest),
    /// MULTIAPPEND/CATENATE (`append.rs`): store all these messages in `to`, or
    /// none. Answer [`ImapCommand::AppendedMany`].
    AppendMany {
        to: String,
        messages: Vec<NewMessage>,
    },
    /// A CATENATE URL part: message `uid` of this user's `folder` (wire form), if
    /// that folder's UIDVALIDITY is `uid_validity` when given. Answer
    /// [`ImapCommand::Message`] (`None`: nothing this user may read there).
    UrlMessage {
        /// Whose folder (URLFETCH of a checked URLAUTH URL, `urlauth.rs`); `None` =
        /// the logged-in user's.
        owner: Option<String>,
        folder: String,
        uid_validity: Option<u32>,
        uid: u32,
    },
    /// URLAUTH (`urlauth.rs`): `owner`'s mailbox access key for `folder`, made
    /// (random) if `create` and there is none. Answer [`ImapCommand::UrlAuthKey`]
    /// (`None`: no key, or no such user or folder).
    UrlAuthKey {
        owner: String,
        folder: String,
        create: bool,
    },
    /// RESETKEY: forget the logged-in user's access key for `folder` (all keys if
    /// `None`). Answer [`ImapCommand::Done`].
    ResetKey { folder: Option<String> },
}

/// A mailbox access key (URLAUTH); its bytes never appear in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlKey(pub Vec<u8>);

impl std::fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlKey(..)")
    }
}

/// Lower-case hex of `bytes` (URLAUTH tokens and stored keys).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `hex` undone; `None` for an odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One message of an [`ImapEvent::AppendMany`].
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub flags: crate::mailbox::Flags,
    pub keywords: Vec<String>,
    /// Unix seconds; `None` = now.
    pub internal_date: Option<i64>,
    pub message: Vec<u8>,
}

impl std::fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("flags", &self.flags)
            .field("keywords", &self.keywords)
            .field("internal_date", &self.internal_date)
            .field("octets", &self.message.len())
            .finish()
    }
}

impl std::fmt::Debug for ImapEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImapEvent::Authenticate { user, .. } => debug_login(f, "Authenticate", user),
            ImapEvent::AuthenticateCram { user, .. } => debug_login(f, "AuthenticateCram", user),
            ImapEvent::List {
                reference,
                pattern,
                subscribed,
            } => f
                .debug_struct("List")
                .field("reference", reference)
                .field("pattern", pattern)
                .field("subscribed", subscribed)
                .finish(),
            ImapEvent::Status { folder } => {
                f.debug_struct("Status").field("folder", folder).finish()
            }
            ImapEvent::Select { folder, read_only } => f
                .debug_struct("Select")
                .field("folder", folder)
                .field("read_only", read_only)
                .finish(),
            ImapEvent::Deselect => f.write_str("Deselect"),
            ImapEvent::Folder(op) => f.debug_tuple("Folder").field(op).finish(),
            ImapEvent::Sync => f.write_str("Sync"),
            ImapEvent::Store {
                updates,
                unchanged_since,
            } => f
                .debug_struct("Store")
                .field("updates", updates)
                .field("unchanged_since", unchanged_since)
                .finish(),
            ImapEvent::Expunge { uids } => f.debug_struct("Expunge").field("uids", uids).finish(),
            ImapEvent::Copy { uids, to, remove } => f
                .debug_struct("Copy")
                .field("uids", uids)
                .field("to", to)
                .field("remove", remove)
                .finish(),
            ImapEvent::Append {
                to,
                flags,
                keywords,
                internal_date,
                message,
            } => f
                .debug_struct("Append")
                .field("to", to)
                .field("flags", flags)
                .field("keywords", keywords)
                .field("internal_date", internal_date)
                .field("octets", &message.len())
                .finish(),
            ImapEvent::Message { uid } => f.debug_struct("Message").field("uid", uid).finish(),
            ImapEvent::Idle => f.write_str("Idle"),
            ImapEvent::Acl(r) => f.debug_tuple("Acl").field(r).finish(),
            ImapEvent::AppendMany { to, messages } => f
                .debug_struct("AppendMany")
                .field("to", to)
                .field("messages", messages)
                .finish(),
            ImapEvent::UrlAuthKey {
                owner,
                folder,
                create,
            } => f
                .debug_struct("UrlAuthKey")
                .field("owner", owner)
                .field("folder", folder)
                .field("create", create)
                .finish(),
            ImapEvent::ResetKey { folder } => {
                f.debug_struct("ResetKey").field("folder", folder).finish()
            }
            ImapEvent::UrlMessage {
                owner,
                folder,
                uid_validity,
                uid,
            } => f
                .debug_struct("UrlMessage")
                .field("owner", owner)
                .field("folder", folder)
                .field("uid_validity", uid_validity)
                .field("uid", uid)
                .finish(),
        }
    }
}

/// A change to the folder list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderOp {
    Create(String),
    Delete(String),
    Rename { from: String, to: String },
    Subscribe(String),
    Unsubscribe(String),
}

/// New flags and keywords for one message. Keywords are names, as the client spelt
/// them; the store gives new ones ids (a `Record::Keyword` before the
/// `Record::Flags` that uses it, both in the answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUpdate {
    pub uid: u32,
    pub flags: crate::mailbox::Flags,
    /// The message's whole keyword set after the change.
    pub keywords: Vec<String>,
}

/// One folder as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The decoded name, `/` between levels.
    pub name: String,
    pub special_use: Option<SpecialUse>,
    /// `\Noselect`: a level that holds folders but no messages.
    pub no_select: bool,
    /// `\HasChildren` / `\HasNoChildren`.
    pub has_children: bool,
}

/// STATUS's numbers for one folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    pub messages: u32,
    pub recent: u32,
    pub unseen: u32,
    pub uid_next: u32,
    pub uid_validity: u32,
    pub highest_modseq: u64,
}

/// Why a mailbox operation was refused; each has its RFC 5530 response code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxError {
    /// `[NONEXISTENT]`
    NoSuchFolder,
    /// `[ALREADYEXISTS]`
    AlreadyExists,
    /// `[CANNOT]`: e.g. deleting INBOX, a name the store cannot hold.
    Cannot(String),
    /// `[OVERQUOTA]`
    OverQuota,
    /// `[SERVERBUG]`-free wording of a storage failure (details in the server log).
    Failed,
    /// `[NOPERM]`: the folder's access control list does not allow it (RFC 4314).
    NoPermission,
}

/// The answer to an ACL command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclAnswer {
    /// GETACL: every identifier with its rights, the owner first.
    List(Vec<(String, Rights)>),
    /// MYRIGHTS.
    Mine(Rights),
    /// LISTRIGHTS: the rights the identifier always has (the owner: all of them).
    Required(Rights),
    /// SETACL, DELETEACL.
    Done,
}

/// The result of STORE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreOutcome {
    /// Other sessions' changes since the last sync, in journal order (reported, but no
    /// EXPUNGE during STORE).
    pub before: Vec<Record>,
    /// This STORE's own changes, in order: `Record::Keyword` for new keywords, then
    /// `Record::Flags`.
    pub applied: Vec<Record>,
    /// UIDs left alone because their MODSEQ was above `unchanged_since`.
    pub modified: Vec<u32>,
}

/// The result of COPY or MOVE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyOutcome {
    /// The target folder's UIDVALIDITY and the new UIDs, in the order of `uids`
    /// (UIDPLUS COPYUID).
    pub uid_validity: u32,
    pub new_uids: Vec<u32>,
    /// For MOVE: every change to the selected folder up to and including the
    /// removals, in journal order.
    pub changes: Vec<Record>,
}

/// The driver's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapCommand {
    AuthResult(AuthOutcome),
    Listed(Result<Vec<ListEntry>, MailboxError>),
    Status(Result<FolderStatus, MailboxError>),
    /// The folder's index and the user's rights in it (all of them in the user's own
    /// folders): without `s`, `w`, `t` and `e` a SELECT is read-only.
    Selected(Result<(Box<FolderIndex>, Rights), MailboxError>),
    Done(Result<(), MailboxError>),
    /// Changes since the last ones handed over, in journal order (records the session
    /// already has, by MODSEQ, are skipped, so overlap is harmless), and the new
    /// messages that are `\Recent` in this session: the store gives each arrival to
    /// one read-write session only (RFC 3501 §2.3.2).
    Changes {
        records: Vec<Record>,
        recent: Vec<u32>,
    },
    Stored(Result<StoreOutcome, MailboxError>),
    /// Every change up to and including the removals, in journal order.
    Expunged(Result<Vec<Record>, MailboxError>),
    Copied(Result<CopyOutcome, MailboxError>),
    /// The target's UIDVALIDITY and the new message's UID (UIDPLUS APPENDUID).
    Appended(Result<(u32, u32), MailboxError>),
    /// Answer to `AppendMany`: UIDVALIDITY and the new UIDs in order.
    AppendedMany(Result<(u32, Vec<u32>), MailboxError>),
    /// Answer to `UrlAuthKey`. Not shown by `Debug`.
    UrlAuthKey(Option<UrlKey>),
    /// The message's bytes, or `None` if it is gone.
    Message(Option<Vec<u8>>),
    /// The selected folder changed while the session idles.
    Wake,
    Acl(Result<AclAnswer, MailboxError>),
}
