//! POP3: the server session (RFC 1939, CAPA and response codes from RFC 2449, SASL
//! PLAIN from RFC 5034, STLS from RFC 2595) and the client session that collects from
//! ISPs. Line framing, byte-stuffing and the session scaffolding are [`crate::wire`]'s.
//!
//! The types in this file are the contract with the runtimes: a driver creates a
//! [`Pop3Server`] per connection, feeds it bytes, and answers its [`Pop3Event`]s with
//! [`Pop3Command`]s. The mailbox itself (lock, listing, message files, deletions)
//! stays on the driver's side; the session only knows message numbers, sizes and UIDs.

pub mod client;
mod command;
mod server;

pub use server::{Pop3Server, MAX_PENDING_INPUT};

use crate::auth::{debug_login, AuthOutcome};

pub use crate::auth::ClientInfo as Pop3Info;

/// One message of the maildrop as the session lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// The UIDL: 1 to 70 characters in 0x21..=0x7E, stable across sessions.
    pub uid: String,
    /// Octets as sent by RETR (CRLF line ends), without byte-stuffing.
    pub size: u64,
}

/// An event the driver must act on. `Debug` leaves passwords out.
#[derive(PartialEq, Eq)]
pub enum Pop3Event {
    /// USER/PASS or AUTH PLAIN: check a password (and the lockout). Answer with
    /// [`Pop3Command::AuthResult`].
    Authenticate { user: String, password: String },
    /// APOP: check `digest` against MD5(`timestamp` + the account's secret). Answer
    /// with [`Pop3Command::AuthResult`].
    Apop {
        user: String,
        timestamp: String,
        digest: String,
    },
    /// The user is in: lock and list the mailbox (held messages left out). Answer
    /// with [`Pop3Command::Opened`]. The lock lasts until the connection ends.
    Open { user: String },
    /// Start sending message `index` (0-based, in the order of the listing): answer
    /// with its first [`Pop3Command::Chunk`], or [`Pop3Command::Missing`].
    Retrieve { index: usize },
    /// The previous chunk has been handed out (and flushed by the driver before it
    /// answers): answer with the next [`Pop3Command::Chunk`].
    NextChunk,
    /// QUIT in the TRANSACTION state (the UPDATE state): remove the messages in
    /// `delete`, and mark those in `seen` (retrieved, not deleted) as read. Answer
    /// with [`Pop3Command::Committed`].
    Commit {
        delete: Vec<usize>,
        seen: Vec<usize>,
    },
}

impl std::fmt::Debug for Pop3Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pop3Event::Authenticate { user, .. } => debug_login(f, "Authenticate", user),
            Pop3Event::Apop {
                user, timestamp, ..
            } => f
                .debug_struct("Apop")
                .field("user", user)
                .field("timestamp", timestamp)
                .finish_non_exhaustive(),
            Pop3Event::Open { user } => f.debug_struct("Open").field("user", user).finish(),
            Pop3Event::Retrieve { index } => {
                f.debug_struct("Retrieve").field("index", index).finish()
            }
            Pop3Event::NextChunk => f.write_str("NextChunk"),
            Pop3Event::Commit { delete, seen } => f
                .debug_struct("Commit")
                .field("delete", delete)
                .field("seen", seen)
                .finish(),
        }
    }
}

/// Why a mailbox could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Another session holds the lock (`[IN-USE]`, RFC 2449).
    InUse,
    /// A storage error (`[SYS/TEMP]`); details are in the server's log.
    Failed,
}

/// The driver's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop3Command {
    AuthResult(AuthOutcome),
    Opened(Result<Vec<MessageEntry>, OpenError>),
    /// Message bytes as stored (any line ends); `last` marks the end of the message.
    Chunk {
        data: Vec<u8>,
        last: bool,
    },
    /// The message cannot be read any more (removed by another program).
    Missing,
    /// Whether every deletion was applied.
    Committed(bool),
}
