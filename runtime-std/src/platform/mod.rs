//! What the application needs from the machine: the data directory and its file
//! names, TLS configuration, memory limits, and the secret store.

pub mod datadir;
pub mod datetime;
pub mod durable;
pub mod memory;
pub mod secrets;
pub mod tls;
