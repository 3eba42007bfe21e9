//! The production daemon: the core machines driven by smol tasks.
//!
//! One task per connection on a single-threaded executor; argon2 and fsync run on
//! smol's blocking pool so a slow disk or password check never stalls other sessions.
//! The connection logic itself (TLS, STARTTLS, end of stream) is
//! [`mailroom_std::conn::Conn`], shared with the blocking runtime.
#![allow(clippy::disallowed_methods)] // a runtime owns the clock and the sockets

use async_io::{Async, Timer};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use futures_lite::FutureExt;
use mailroom_core::Machine;
use mailroom_std::app::Shared;
use mailroom_std::clock;
use mailroom_std::conn::{self, Conn, ConnError, Step, READ_CHUNK};
use mailroom_std::listen::{Kind, Listeners, StopSignal};
use mailroom_std::service::{self, Handler, Session};
use smol::LocalExecutor;
use std::cell::Cell;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

pub mod outbound;

/// How long sessions may run on after a stop request before they are abandoned.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Longest time a write may wait on a peer that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);

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
    let n = active.get();
    if n > 0 {
        tracing::info!(
            "stopping: waiting up to {}s for {n} sessions",
            grace.as_secs()
        );
        let end = StdInstant::now() + grace;
        while active.get() > 0 && StdInstant::now() < end {
            Timer::after(Duration::from_millis(50)).await;
        }
        if active.get() > 0 {
            tracing::warn!(
                "stopping with {} sessions still open; they are abandoned",
                active.get()
            );
        }
    }
    let stats = shared.store.commit_stats();
    tracing::info!(
        "stopped ({} directory fsyncs for {} requests)",
        stats.fsyncs,
        stats.requests
    );
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
            Ok((stream, _)) => {
                let guard = ActiveGuard::enter(&active);
                let shared = shared.clone();
                ex.spawn(async move {
                    let _guard = guard;
                    session(shared, kind, stream).await;
                })
                .detach();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                tracing::error!("accept failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
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

async fn session(shared: Arc<Shared>, kind: Kind, mut stream: Async<TcpStream>) {
    let Ok(peer) = stream.get_ref().peer_addr() else {
        return;
    };
    let _ = stream.get_ref().set_nodelay(true);
    let start = clock::now();
    let (session, id) = match service::open(&shared, kind, peer.ip(), start) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(peer = %peer, "cannot start a {} session: {e}", kind.key());
            return;
        }
    };
    tracing::debug!(session = %id, peer = %peer, service = kind.key(), "connected");
    let result = match session {
        Session::Smtp(c, h) => {
            // The scheduler keeps a dial-up online while the ISP delivers (§6.3.3).
            mailroom_std::connection::inbound(true);
            let r = run_session(h, c, &mut stream).await;
            mailroom_std::connection::inbound(false);
            r
        }
        Session::Pop3(c, h) => run_session(h, c, &mut stream).await,
        Session::Pass(c, h) => run_session(h, c, &mut stream).await,
    };
    if let Err(e) = result {
        tracing::info!(session = %id, peer = %peer, "session ended: {e}");
    }
    let _ = stream.get_ref().shutdown(Shutdown::Both);
    tracing::debug!(session = %id, "closed");
}

#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("{0}")]
    Conn(#[from] ConnError),
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    #[error("peer gone")]
    Gone,
}

enum Woke {
    Read(io::Result<usize>),
    Deadline,
}

/// Drive one connection; after a failure, send what is left (a TLS alert).
async fn run_session<H>(
    handler: H,
    mut conn: Conn<H::Machine>,
    stream: &mut Async<TcpStream>,
) -> Result<(), SessionEnd>
where
    H: Handler,
    <H::Machine as Machine>::Event: Send + 'static,
    <H::Machine as Machine>::Command: Send + 'static,
{
    let mut buf = vec![0u8; READ_CHUNK];
    let result = drive(handler, &mut conn, stream, &mut buf).await;
    if result.is_err() {
        let _ = write_out(stream, &mut conn).await;
    }
    result
}

/// Run a connection until it ends; `handler` (dropped at the end: a POP3 mailbox
/// lock goes with it) answers the machine's events on the blocking pool.
async fn drive<H>(
    handler: H,
    conn: &mut Conn<H::Machine>,
    stream: &mut Async<TcpStream>,
    buf: &mut [u8],
) -> Result<(), SessionEnd>
where
    H: Handler,
    <H::Machine as Machine>::Event: Send + 'static,
    <H::Machine as Machine>::Command: Send + 'static,
{
    let mut eof_sent = false;
    let mut handler = Some(handler);
    loop {
        match conn.poll()? {
            Step::Event(event) => {
                // Output first, unless the event is quick and little is pending: a
                // streaming machine asks for more only after handing out its last
                // chunk, so memory stays bounded by FLUSH_AT plus one chunk.
                let Some(mut h) = handler.take() else {
                    return Err(SessionEnd::Gone);
                };
                let quick = h.quick(&event);
                if !quick || conn.outgoing().len() >= service::FLUSH_AT {
                    write_out(stream, conn).await?;
                }
                if quick {
                    // A chunk of a message: a thread hop would cost more than the read.
                    let cmd = h.answer(event);
                    handler = Some(h);
                    conn.answer(clock::now(), cmd);
                    continue;
                }
                let (h, cmd) = smol::unblock(move || {
                    let cmd = h.answer(event);
                    (h, cmd)
                })
                .await;
                handler = Some(h);
                conn.answer(clock::now(), cmd);
            }
            Step::Close => {
                write_out(stream, conn).await?;
                return Ok(());
            }
            Step::Wait(deadline) => {
                write_out(stream, conn).await?;
                if eof_sent {
                    // The machine keeps waiting after the end of input: nothing more
                    // can arrive, so end the session ourselves.
                    return Err(SessionEnd::Gone);
                }
                let woke = read_until(stream, buf, deadline).await;
                // `now` comes from the clock, not from which future finished first.
                let now = clock::now();
                match woke {
                    Woke::Deadline => conn.tick(now),
                    Woke::Read(Ok(0)) => {
                        eof_sent = true;
                        conn.eof(now);
                    }
                    Woke::Read(Ok(n)) => conn.receive(now, &buf[..n])?,
                    Woke::Read(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Woke::Read(Err(_)) => {
                        eof_sent = true;
                        conn.eof(now);
                    }
                }
            }
        }
    }
}

/// Read into `buf`, or give up at `deadline` (the machine's next tick).
async fn read_until(
    stream: &mut Async<TcpStream>,
    buf: &mut [u8],
    deadline: Option<mailroom_core::Instant>,
) -> Woke {
    let read = async { Woke::Read(stream.read(buf).await) };
    match conn::wait_time(clock::now(), deadline) {
        Some(t) if t.is_zero() => Woke::Deadline,
        Some(t) => {
            read.or(async {
                Timer::after(t).await;
                Woke::Deadline
            })
            .await
        }
        None => read.await,
    }
}

/// Write what the connection holds for the socket, giving up on a peer that does not
/// read.
async fn write_out<M: Machine>(
    stream: &mut Async<TcpStream>,
    conn: &mut Conn<M>,
) -> io::Result<()> {
    let out = conn.outgoing();
    if out.is_empty() {
        return Ok(());
    }
    let write = async { stream.write_all(out).await };
    write
        .or(async {
            Timer::after(WRITE_TIMEOUT).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer does not read",
            ))
        })
        .await?;
    out.clear();
    Ok(())
}

/// `mailroom serve`: run the smol server on the data directory until SIGTERM or
/// SIGINT.
pub fn serve(dir: &mailroom_std::datadir::DataDir) -> Result<(), Box<dyn std::error::Error>> {
    let p = mailroom_std::startup::prepare(dir)?;
    let outbound = outbound::SmolTransport::start()
        .map_err(|e| tracing::error!("cannot start sending: {e}; queued mail waits"))
        .ok()
        .and_then(|t| mailroom_std::outbound::start_for_server(&p.shared, Arc::new(t)));
    run(p.shared, p.listeners, p.stop, DEFAULT_GRACE)?;
    drop(outbound);
    drop(p.reloader);
    Ok(())
}
