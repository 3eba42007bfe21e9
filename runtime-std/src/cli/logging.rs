//! The main log (LOG-1, docs/LOGS.md): `tracing` to stderr, and for `serve` to
//! `DIR/log/mailroom.log` too, rotated to `mailroom.old` at `[logs] main_max_kb`.
//! Stamps are ISO 8601 local time with the offset; colour codes only go to a
//! terminal, never to a file or a pipe.

use std::io::{self, IsTerminal};
use std::sync::Mutex;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

use crate::platform::datadir::DataDir;
use crate::platform::datetime::iso8601_local_ms;
use crate::platform::logfile::RotatingFile;

/// `2026-12-07T23:05:05.123+01:00` on every line.
struct LocalIso;

impl FormatTime for LocalIso {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&iso8601_local_ms(crate::platform::clock::unix_micros()))
    }
}

/// `[logs]` as the configuration file says, before the server has loaded it (the
/// log must be open first to report a bad file); the defaults if it does not parse.
fn logs_settings(dd: &DataDir) -> mailroom_core::config::Logs {
    std::fs::read_to_string(dd.config_file())
        .ok()
        .and_then(|t| mailroom_core::config::parse_config(&t).ok())
        .map(|c| c.logs)
        .unwrap_or_default()
}

/// The main log file, or `None` when `[logs] main = false`.
pub fn main_log(dd: &DataDir) -> Option<RotatingFile> {
    let cfg = logs_settings(dd);
    cfg.main
        .then(|| RotatingFile::new(dd.log_file(), cfg.main_max_kb.saturating_mul(1024)))
}

pub fn init(level: Option<&str>, serving: bool, file: Option<RotatingFile>) {
    let filter = |default: &str| match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|e| {
            eprintln!("warning: --log-level {l:?}: {e}; using {default:?}");
            EnvFilter::new(default)
        }),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    // The server narrates what it does; one-shot commands print their result and only
    // log when something is wrong.
    let default = if serving { "info" } else { "warn" };
    let stderr = tracing_subscriber::fmt::layer()
        .with_timer(LocalIso)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(io::stderr)
        .with_filter(filter(default));
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_timer(LocalIso)
            .with_ansi(false)
            .with_writer(Mutex::new(f))
            .with_filter(filter(default))
    });
    // A second initialisation (tests calling `run` twice) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
}
