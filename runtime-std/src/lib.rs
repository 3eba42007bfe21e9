//! Mailroom's application on the standard library, shared by both runtimes.
//!
//! The folders go from the bottom layer up; a module imports only from its own layer
//! or the ones below (runtime-std/tests/layering.rs checks it):
//! - [`platform`]: the data directory (the owner of every file name), TLS, memory,
//!   secrets.
//! - [`store`]: Maildir mailboxes, their index, group commit, the outbound spool.
//! - [`config`]: configuration and account files, routing checks, the lock-out table
//!   and security log.
//! - [`net`]: one connection without the socket (the pump), the blocking socket loop,
//!   listening sockets.
//! - [`services`]: what the server does: delivery, download rules, the outbound
//!   sender, the collector, the connection scheduler's driver.
//! - [`daemon`]: a running server: startup, the session table, configuration reload,
//!   and the blocking thread-per-connection server of `mailroom-lite`.
//! - [`cli`]: the command line of both binaries.
#![allow(clippy::disallowed_methods)] // the platform layer is where I/O and clocks live

pub mod cli;
pub mod config;
pub mod daemon;
pub mod net;
pub mod platform;
pub mod services;
pub mod store;
