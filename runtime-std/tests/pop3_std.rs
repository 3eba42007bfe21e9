//! POP3, the password server and account security on the blocking runtime.
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

mod pop3_common;

use mailroom_std::daemon::threads::run;

pop3_common::scenarios!(run);
