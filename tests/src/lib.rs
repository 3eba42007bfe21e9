//! Helpers shared by the end-to-end tests in `tests/tests/`: they build and start the
//! real `mailroom` and `mailroom-lite` binaries on loopback ports in scratch data
//! directories, drive them with real clients (Python smtplib, swaks, a small Rust SMTP
//! client) and read the Maildirs they write.
#![allow(clippy::disallowed_methods)] // tests own clocks, files, sockets and processes

pub mod bins;
pub mod client;
pub mod dns;
pub mod dovecot;
pub mod maildir;
pub mod message;
pub mod pop3;
pub mod postfix;
pub mod server;
pub mod sink;

pub use server::{Flavor, TestServer};

/// Declare one test per binary for a function taking a [`Flavor`]:
/// `both_binaries!(name);` makes `name::mailroom` and `name::mailroom_lite`.
#[macro_export]
macro_rules! both_binaries {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn mailroom() {
                super::$name($crate::Flavor::Smol)
            }
            #[test]
            fn mailroom_lite() {
                super::$name($crate::Flavor::Lite)
            }
        }
    )+};
}

/// Whether an external client the tests drive (python3, swaks) is installed. Missing on
/// a developer's machine: a note and the caller skips. Missing under CI (`CI` set):
/// a failure, since `.ci/run` installs them and a silent skip would hide a broken setup.
pub fn have_program(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` is not installed, and CI must run every client test"
        );
        eprintln!("note: `{name}` is not installed; skipping this check (.ci/run installs it)");
    }
    found
}
