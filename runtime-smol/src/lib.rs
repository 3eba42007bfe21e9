//! The production daemon: the core machines driven by smol tasks.
#![allow(clippy::disallowed_methods)] // a runtime owns the clock and the sockets
