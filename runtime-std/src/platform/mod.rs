//! What the application needs from the machine: the data directory and its file
//! names, durable file replacement, dates, TLS configuration, memory limits, and the
//! secret store. The runtime's clock belongs here too (`clock.rs`).

pub mod clock;
pub mod datadir;
pub mod datetime;
pub mod durable;
pub mod lock;
pub mod logfile;
pub mod memory;
pub mod secrets;
pub mod tls;
