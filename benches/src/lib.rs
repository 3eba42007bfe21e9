//! Benchmarks live in `benches/benches/` (criterion) and `benches/src/bin/` (load generator).
#![allow(clippy::disallowed_methods)]
