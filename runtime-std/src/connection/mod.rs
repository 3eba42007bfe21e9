//! Connections in the daemon: the scheduler's driver, command links, hooks, the
//! `connect` control files and ETRN (docs/SCHEDULE.md).

pub mod etrn;
