//! The production daemon: the core machines driven by smol tasks.
//!
//! One task per connection on a single-threaded executor; argon2 and fsync run on
//! smol's blocking pool so a slow disk or password check never stalls other sessions.
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
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

pub mod outbound;
mod socket;

/// Serve until `stop` fires, then give running sessions `grace` to finish. Sessions
/// still running after that are dropped: nothing they had not acknowledged was ever
/// made visible.
pub fn run(
    shared: Arc<Shared>,
    listeners: Listeners,
    stop: StopSignal,
    grace: Duration,
) -> io::Result<()> {
    let ex = Rc::new(LocalExecutor::new());
    smol::block_on(ex.run(serve_until_stopped(
        ex.clone(),
        shared,
        listeners,
        stop,
        grace,
    )))
}

async fn serve_until_stopped(
    ex: Rc<LocalExecutor<'static>>,
    shared: Arc<Shared>,
    listeners: Listeners,
    stop: StopSignal,
    grace: Duration,
) -> io::Result<()> {
    let stop = Async::new(stop.into_stream())?;
    let active = Rc::new(Cell::new(0usize));
    let mut accepting = Vec::new();
    for (kind, listener) in listeners.sockets {
        tracing::info!("listening on {} ({})", listener.local_addr()?, kind.key());
        let listener = Async::new(listener)?;
        accepting.push(ex.spawn(accept_loop(
            ex.clone(),
            listener,
            kind,
            shared.clone(),
            active.clone(),
        )));
    }
    stop.readable().await?;
    // Dropping the tasks closes the listeners: no new connections from here on.
    drop(accepting);
    if active.get() > 0 {
        startup::log_stopping(active.get(), grace);
        let end = StdInstant::now() + grace;
        while active.get() > 0 && StdInstant::now() < end {
            Timer::after(Duration::from_millis(50)).await;
        }
    }
    startup::log_stopped(&shared, active.get());
    Ok(())
}

async fn accept_loop(
    ex: Rc<LocalExecutor<'static>>,
    listener: Async<TcpListener>,
    kind: Kind,
    shared: Arc<Shared>,
    active: Rc<Cell<usize>>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match sessions::admit(&shared, kind, peer) {
                Ok(admitted) => {
                    let guard = ActiveGuard::enter(&active);
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

/// Counts a running session; dropped with its task, even when the task is cancelled.
struct ActiveGuard(Rc<Cell<usize>>);

impl ActiveGuard {
    fn enter(active: &Rc<Cell<usize>>) -> Self {
        active.set(active.get() + 1);
        ActiveGuard(active.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
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
