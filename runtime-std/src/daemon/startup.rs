//! What both runtimes do before serving: load the configuration, open the store,
//! bind the listeners, install the signal handlers and start the reloader.

use crate::config::files::{fingerprint, load_snapshot};
use crate::config::problem::Problem;
use crate::daemon::reload::{self, Reloader};
use crate::net::listen::{ListenError, Listeners, StopSignal};
use crate::platform::datadir::DataDir;
use crate::platform::tls::{self, TlsError};
use crate::services::app::Shared;
use crate::store::{OpenError, Store};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// How long sessions may run on after a stop request before the process leaves them.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// After a failed accept (out of descriptors or memory), how long a runtime waits
/// before accepting again, instead of spinning.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A server ready to run: hand `shared`, `listeners` and `stop` to a runtime, and keep
/// `reloader` alive for as long as it runs.
pub struct Prepared {
    pub shared: Arc<Shared>,
    pub listeners: Listeners,
    pub stop: StopSignal,
    pub reloader: Reloader,
    /// The connection scheduler's thread; stops when dropped.
    pub connections: crate::services::scheduler::Handle,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{}", Problems(.0))]
    Config(Vec<Problem>),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Store(#[from] OpenError),
    #[error("{0}")]
    Listen(#[from] ListenError),
    #[error("cannot set up signal handling or the reloader: {0}")]
    Io(#[from] io::Error),
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

pub fn prepare(dir: &DataDir) -> Result<Prepared, StartError> {
    crate::platform::memory::tune();
    let seen = fingerprint(dir);
    let snapshot = load_snapshot(dir).map_err(StartError::Config)?;
    configure_logs(dir, &snapshot.config.logs);
    let tls = tls::server_config(dir, &snapshot.config)?;
    let store = Store::open(dir)?;
    store.start_ingest_journal()?;
    let listeners = Listeners::bind(&snapshot.config, tls.is_some())?;
    let users = snapshot.accounts.len();
    let shared = Arc::new(Shared::new(snapshot, store, tls));
    let (_handle, stop) = StopSignal::on_signals()?;
    let d1 = dir.clone();
    let d2 = dir.clone();
    let s1 = shared.clone();
    let reloader = reload::spawn(
        shared.clone(),
        reload::POLL_INTERVAL,
        seen,
        move || {
            // `mailroom user unlock` requests ride on the reload tick.
            crate::services::unlock_requests::serve(&s1);
            fingerprint(&d1)
        },
        move || load_snapshot(&d2).inspect(|s| configure_logs(&d2, &s.config.logs)),
    )?;
    tracing::info!("serving {} with {users} users", dir.root().display());
    let connections = crate::services::scheduler::spawn(shared.clone(), dir.clone())?;
    crate::services::list_digests::spawn(shared.clone())?;
    crate::services::summary_report::spawn_daily(&shared);
    Ok(Prepared {
        shared,
        listeners,
        stop,
        reloader,
        connections,
    })
}

/// `[logs]` at start and on every reload: the transcripts and SUMMARY.LOG.
fn configure_logs(dir: &DataDir, logs: &mailroom_core::config::Logs) {
    crate::net::transcript::configure(dir, logs);
    crate::services::summary::switch(logs.summary);
}

/// The stop request came with `running` sessions open; they get `grace` to finish.
pub fn log_stopping(running: usize, grace: Duration) {
    tracing::info!(
        "stopping: waiting up to {}s for {running} sessions",
        grace.as_secs()
    );
}

/// The server has stopped, leaving `left` sessions that did not finish in time.
/// Whatever they had not acknowledged was never made visible, so nothing is lost or
/// half-written.
pub fn log_stopped(shared: &Shared, left: usize) {
    if left > 0 {
        tracing::warn!("stopping with {left} sessions still open; they are abandoned");
    }
    let stats = shared.store.commit_stats();
    let wal = shared.store.wal_stats().map_or(String::new(), |w| {
        format!(
            "; ingest journal: {} fdatasyncs for {} messages",
            w.syncs, w.records
        )
    });
    tracing::info!(
        "stopped ({} directory fsyncs for {} requests{wal})",
        stats.fsyncs,
        stats.requests
    );
}
