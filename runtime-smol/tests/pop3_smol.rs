//! POP3, the password server and account security on the smol runtime.
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

#[path = "../../runtime-std/tests/pop3_common/mod.rs"]
mod pop3_common;

use mailroom_smol::run;

pop3_common::scenarios!(run);
