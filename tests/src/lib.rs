//! Helpers shared by the end-to-end tests in `tests/tests/`: they build and start the
//! real `mailroom` and `mailroom-lite` binaries on loopback ports in scratch data
//! directories, drive them with real clients (Python smtplib, swaks, a small Rust SMTP
//! client) and read the Maildirs they write.
#![allow(clippy::disallowed_methods)] // tests own clocks, files, sockets and processes

pub mod bins;
pub mod client;
pub mod dns;
pub mod dovecot;
pub mod fetchmail;
pub mod imap;
pub mod maildir;
pub mod message;
pub mod pop3;
pub mod postfix;
pub mod server;
pub mod sink;
pub mod web;

pub use server::{Flavor, TestServer};

/// Poll `ok` until it holds or `limit` has passed; whether it held at the end.
pub fn wait_until(limit: std::time::Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok()
}

/// Declare one test per binary for a function taking a [`Flavor`]:
/// `both_binaries!(name);` makes `name::mailroom` and `name::mailroom_lite`. Attributes
/// before a name go on both tests, e.g. the `ignore` of a test whose tool is missing:
/// `both_binaries!(#[cfg_attr(not(have_swaks), ignore = "swaks is not installed")] name);`
#[macro_export]
macro_rules! both_binaries {
    ($($(#[$attr:meta])* $name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            $(#[$attr])*
            fn mailroom() {
                super::$name($crate::Flavor::Smol)
            }
            #[test]
            $(#[$attr])*
            fn mailroom_lite() {
                super::$name($crate::Flavor::Lite)
            }
        }
    )+};
}

/// The external tools `build.rs` did not find on PATH, space-separated. A test that
/// needs one is compiled with `#[cfg_attr(not(have_<tool>), ignore = ...)]`, so it
/// shows as skipped instead of passing without running.
pub const MISSING_TOOLS: &str = env!("MAILROOM_TESTS_MISSING");

#[cfg(test)]
mod tests {
    /// Under CI every tool must be there, since `.ci/run` installs them: a test that
    /// skips there would hide a broken setup.
    #[test]
    fn ci_has_every_tool() {
        if std::env::var_os("CI").is_some() {
            assert!(
                super::MISSING_TOOLS.is_empty(),
                "CI must run every client test, but these are not installed: {}",
                super::MISSING_TOOLS
            );
        }
    }
}
