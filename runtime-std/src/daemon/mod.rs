//! A running server: startup, which session serves each listener, configuration
//! reload, and the blocking thread-per-connection server (`mailroom-lite`).

pub mod reload;
pub mod sessions;
pub mod startup;
pub mod threads;
