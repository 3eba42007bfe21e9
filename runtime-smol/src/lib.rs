//! The production daemon: the core machines driven by smol tasks.
//!
//! One task per connection on single-threaded executors, one per core; argon2 and
//! fsync run on smol's blocking pool so a slow disk or password check never stalls other sessions.
//! The connection logic itself (TLS, STARTTLS, end of stream) is
//! [`mailroom_std::net::pump::Pump`], shared with the blocking runtime; this runtime's
//! one socket loop (`socket.rs`) drives the server sessions and the sending sessions
//! (`outbound.rs`) alike.
#![allow(clippy::disallowed_methods)] // a runtime owns the clock and the sockets

use async_io::{Async, Timer};
use mailroom_core::Machine;
use mailroom_std::daemon::sessions::{self, Admitted, Handler, Session};
use mailroom_std::daemon::startup;
use mailroom_std::net::listen::{Kind, Listeners, StopSignal};
use mailroom_std::net::pump::Pump;
use mailroom_std::net::socket::{DriveError, WRITE_TIMEOUT};
use mailroom_std::services::app::Shared;
use smol::LocalExecutor;
use socket::Answer;
use std::cell::Cell;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

pub mod outbound;
mod socket;

/// Serve until `stop` fires, then give running sessions `grace` to finish. Sessions
/// still running after that are dropped: nothing they had not acknowledged was ever
/// made visible.
///
/// One single-threaded executor per core, each accepting on every listener (the
/// kernel hands each connection to one of them) and running its sessions to the end:
/// a session never moves between threads, so its state needs no locks, and every
/// core serves.
pub fn run(
    shared: Arc<Shared>,
    listeners: Listeners,
    stop: StopSignal,
    grace: Duration,
) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let active = Arc::new(AtomicUsize::new(0));
    // Closed (the sender dropped) when the daemon stops: every executor sees it.
    let (stopping, stopped) = smol::channel::bounded::<()>(1);
    let deadline = Arc::new(std::sync::OnceLock::new());
    let mut workers = Vec::with_capacity(cores);
    for n in 0..cores {
        let sockets = listeners
            .sockets
            .iter()
            .map(|(kind, l)| Ok((*kind, l.try_clone()?)))
            .collect::<io::Result<Vec<_>>>()?;
        let (shared, active, stopped, deadline) = (
            shared.clone(),
            active.clone(),
            stopped.clone(),
            deadline.clone(),
        );
        workers.push(
            std::thread::Builder::new()
                .name(format!("mailroom-{n}"))
                .spawn(move || executor(sockets, shared, active, stopped, deadline))?,
        );
    }
    for (kind, listener) in &listeners.sockets {
        tracing::info!("listening on {} ({})", listener.local_addr()?, kind.key());
    }
    // The executors hold their own copies: once they drop theirs at stop, the
    // sockets close and nobody can connect any more.
    drop(listeners);
    tracing::debug!(executors = cores, "serving");
    let stop = Async::new(stop.into_stream())?;
    smol::block_on(stop.readable())?;
    let running = active.load(Ordering::SeqCst);
    if running > 0 {
        startup::log_stopping(running, grace);
    }
    let _ = deadline.set(StdInstant::now() + grace);
    drop(stopping);
    for w in workers {
        if let Ok(Err(e)) = w.join() {
            tracing::error!("executor: {e}");
        }
    }
    startup::log_stopped(&shared, active.load(Ordering::SeqCst));
    Ok(())
}

/// One executor thread: accept and serve until the daemon stops, then wait for its
/// sessions until the deadline.
fn executor(
    sockets: Vec<(Kind, TcpListener)>,
    shared: Arc<Shared>,
    active: Arc<AtomicUsize>,
    stopped: smol::channel::Receiver<()>,
    deadline: Arc<std::sync::OnceLock<StdInstant>>,
) -> io::Result<()> {
    let ex = Rc::new(LocalExecutor::new());
    smol::block_on(ex.run(async {
        let mine = Rc::new(Cell::new(0usize));
        let mut accepting = Vec::new();
        for (kind, listener) in sockets {
            let listener = Async::new(listener)?;
            accepting.push(ex.spawn(accept_loop(
                ex.clone(),
                listener,
                kind,
                shared.clone(),
                Counted {
                    mine: mine.clone(),
                    all: active.clone(),
                },
            )));
        }
        // Err once the sender is dropped: the daemon stops.
        let _ = stopped.recv().await;
        // Cancelled and waited for, so their futures (each holding the listener and
        // a handle on this executor) are gone before the executor is: the listeners
        // close now, and nothing keeps the executor alive past its thread.
        for task in accepting {
            task.cancel().await;
        }
        let end = deadline.get().copied().unwrap_or_else(StdInstant::now);
        while mine.get() > 0 && StdInstant::now() < end {
            Timer::after(Duration::from_millis(50)).await;
        }
        Ok(())
    }))
}

async fn accept_loop(
    ex: Rc<LocalExecutor<'static>>,
    listener: Async<TcpListener>,
    kind: Kind,
    shared: Arc<Shared>,
    counted: Counted,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match sessions::admit(&shared, kind, peer) {
                Ok(admitted) => {
                    let guard = counted.enter();
                    let shared = shared.clone();
                    ex.spawn(async move {
                        let _guard = guard;
                        session(shared, kind, stream, admitted).await;
                    })
                    .detach();
                }
                Err(turned_away) => turned_away.send(stream.get_ref()),
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::error!("accept failed: {e}");
                Timer::after(startup::ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Running sessions: this executor's and the daemon's.
#[derive(Clone)]
struct Counted {
    mine: Rc<Cell<usize>>,
    all: Arc<AtomicUsize>,
}

impl Counted {
    fn enter(&self) -> ActiveGuard {
        self.mine.set(self.mine.get() + 1);
        self.all.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(self.clone())
    }
}

/// Counts a running session; dropped with its task, even when the task is cancelled.
struct ActiveGuard(Counted);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.mine.set(self.0.mine.get().saturating_sub(1));
        self.0.all.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn session(shared: Arc<Shared>, kind: Kind, stream: Async<TcpStream>, admitted: Admitted) {
    let Ok(peer) = stream.get_ref().peer_addr() else {
        return;
    };
    let Some((session, log)) = sessions::accept(&shared, kind, peer, admitted) else {
        return;
    };
    log.ended(match session {
        Session::Smtp(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Pop3(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Pass(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Finger(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Ldap(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Monitor(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Imap(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
        Session::Http(mut c, h) => drive(stream, &mut c, Serve(Some(h))).await,
    });
}

/// Drive a session to its end; also returns its client errors (for the IDS/IPS).
async fn drive<M: Machine>(
    stream: Async<TcpStream>,
    conn: &mut Pump<M>,
    mut answerer: impl Answer<M>,
) -> (Result<(), DriveError>, u32) {
    let result = socket::drive(stream, conn, WRITE_TIMEOUT, &mut answerer).await;
    (result, conn.machine().client_errors())
}

/// A session's handler as the socket loop's answerer, answering on the blocking pool
/// (argon2, fsync) unless the event is quick. Dropped when the session ends (a POP3
/// mailbox lock goes with it).
struct Serve<H>(Option<H>);

impl<H> Answer<H::Machine> for Serve<H>
where
    H: Handler,
    <H::Machine as Machine>::Event: Send + 'static,
    <H::Machine as Machine>::Command: Send + 'static,
{
    fn quick(&self, event: &<H::Machine as Machine>::Event) -> bool {
        self.0.as_ref().is_some_and(|h| h.quick(event))
    }

    async fn answer(&mut self, conn: &mut Pump<H::Machine>, event: <H::Machine as Machine>::Event) {
        // Only an answer cancelled halfway leaves no handler, and that ends the task.
        let Some(mut h) = self.0.take() else {
            return;
        };
        let (h, cmd) = if h.quick(&event) {
            // A chunk of a message: a thread hop would cost more than the read.
            let cmd = h.answer(event);
            (h, cmd)
        } else {
            smol::unblock(move || {
                let cmd = h.answer(event);
                (h, cmd)
            })
            .await
        };
        self.0 = Some(h);
        if let Some(cmd) = cmd {
            conn.answer(mailroom_std::platform::clock::now(), cmd);
        }
    }

    fn watching(&self) -> Option<Duration> {
        self.0.as_ref().and_then(|h| h.watching())
    }

    fn look(&mut self, conn: &mut Pump<H::Machine>) {
        if let Some(cmd) = self.0.as_mut().and_then(|h| h.look()) {
            conn.answer(mailroom_std::platform::clock::now(), cmd);
        }
    }
}

/// `mailroom serve`: run the smol server on the data directory until SIGTERM or
/// SIGINT.
pub fn serve(
    dir: &mailroom_std::platform::datadir::DataDir,
) -> Result<(), Box<dyn std::error::Error>> {
    let p = startup::prepare(dir)?;
    let outbound = outbound::SmolTransport::start()
        .map_err(|e| tracing::error!("cannot start sending: {e}; queued mail waits"))
        .ok()
        .and_then(|t| mailroom_std::services::outbound::start_for_server(&p.shared, Arc::new(t)));
    run(p.shared, p.listeners, p.stop, startup::DEFAULT_GRACE)?;
    drop(outbound);
    drop(p.reloader);
    Ok(())
}
