//! The blocking runtime end to end over loopback sockets (scenarios in common/).
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

mod common;

use mailroom_std::daemon::threads::run;

common::scenarios!(run);
