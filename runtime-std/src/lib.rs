//! The std platform layer shared by both runtimes: data directory and configuration
//! files, accounts, the Maildir store and outbound spool, TLS, the command line, and
//! the blocking thread-per-connection server used by `mailroom-lite`.
#![allow(clippy::disallowed_methods)] // the platform layer is where I/O and clocks live

pub mod app;
pub mod cli;
pub mod client_socket;
pub mod clock;
pub mod collect;
pub mod config_files;
pub mod conn;
pub mod connection;
pub mod datadir;
pub mod deliver;
pub mod devsetup;
pub mod dlrules;
pub mod listen;
pub mod memory;
pub mod outbound;
pub mod reload;
pub mod routecheck;
pub mod routecli;
pub mod secrets;
pub mod security;
pub mod server;
pub mod service;
pub mod startup;
pub mod store;
pub mod tls;
pub mod users;
