//! Connections in the daemon: the scheduler's driver, command links, hooks, the
//! `connect` control files and ETRN (docs/SCHEDULE.md).

pub mod commands;
pub mod control;
pub mod driver;
pub mod etrn;
pub mod localclock;
pub mod online;
pub mod watch;

pub use driver::{inbound, notify, spawn, Handle};
