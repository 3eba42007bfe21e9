//! Mailroom's behaviour as pure state machines.
//!
//! Nothing in this crate reads a clock, sleeps, touches a file or socket, spawns a
//! thread or draws entropy (see docs/ARCHITECTURE.md, invariant 1). Time arrives as a
//! [`Instant`] argument, bytes arrive as [`Input`], and everything the outside world
//! must do comes back out of `poll_output` as an [`Output`].

pub mod access;
pub mod accounts;
pub mod address;
pub mod addressbook;
pub mod auth;
pub mod autoresponder;
pub mod challenge;
pub mod collect;
pub mod config;
pub mod connlimit;
pub mod directory;
pub mod dns;
pub mod dsn;
pub mod extension;
pub mod finger;
pub mod http;
pub mod ids;
pub mod imap;
pub mod ldap;
pub mod lists;
pub mod machine;
pub mod mailauth;
pub mod mailbox;
pub mod mailerdaemon;
pub mod monitor;
pub mod monitoring;
pub mod outbound;
pub mod pass;
pub mod pop3;
pub mod quota;
pub mod router;
pub mod rulefmt;
pub mod schedule;
pub mod security;
pub mod servermail;
pub mod smtp;
pub mod smtprules;
pub mod summary;
pub mod summary_report;
pub mod time;
pub mod transcript;
pub mod wal;
pub mod wildcard;
pub mod wire;

pub use machine::{Agent, Input, Machine, Next, Output};
pub use time::Instant;
