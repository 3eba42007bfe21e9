//! Shared pieces of the benchmarks: test messages and an in-memory SMTP session.
//!
//! Criterion benches live in `benches/benches/`, the loopback load generator in
//! `benches/src/bin/smtp-load.rs`, and the end-to-end ingest comparison with Postfix in
//! `scripts/bench-ingest.sh`. None of them run as part of `cargo test`.
#![allow(clippy::disallowed_methods)]

pub mod cli;
pub mod message;
pub mod retrieval;
pub mod session;
