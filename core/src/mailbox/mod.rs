//! The mailbox model shared by POP3, IMAP, webmail and the harness (docs/STORE.md).
//!
//! Pure values and rules, no files: message flags and keywords, a folder's index
//! (snapshot text, version 2), the change journal's line codec and its replay, folder
//! names (modified UTF-7 and the Maildir++ directory mapping), folder access control
//! lists (RFC 4314, `acl.rs`), and a session's view of
//! a folder (sequence numbers and which changes it may report at which command). The
//! runtime's store keeps the files and the locks and feeds these types.

mod acl;
mod flags;
mod index;
mod journal;
mod names;
mod view;

pub use acl::{
    split_shared, strip_shared, Acl, AclError, Rights, RightsChange, ANYONE, AUTHENTICATED,
    MAX_ACL_ENTRIES, SHARED_PREFIX,
};
pub use flags::{Flag, Flags};
pub use index::{valid_base, FolderIndex, IndexError, MessageMeta, SpecialUse, MAX_KEYWORDS};
pub use journal::{replay, valid_keyword, JournalError, Record, Replayed};
pub use names::{decode_mutf7, dir_for_folder, encode_mutf7, folder_for_dir, NameError};
pub use view::{Report, View};

/// A per-folder modification sequence number (RFC 7162); the first change is 1.
pub type ModSeq = u64;
