//! The smol runtime end to end over loopback sockets (scenarios in common/).
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

#[path = "../../runtime-std/tests/common/mod.rs"]
mod common;

use mailroom_smol::run;

common::scenarios!(run);
