//! The blocking runtime (`mailroom-lite`): one thread per connection.
//!
//! The main thread waits in `poll(2)` on every listening socket and the stop signal;
//! each accepted connection gets a thread with a small stack that drives a [`Conn`]
//! with blocking reads whose timeout is the machine's next deadline.

use crate::app::Shared;
use crate::client_socket::{wait_input, write_out, Woke};
use crate::clock;
use crate::conn::{Conn, ConnError, Step, READ_CHUNK};
use crate::listen::{Kind, Listeners, StopSignal};
use crate::service::{self, Handler, Session};
use mailroom_core::Machine;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Stack of a connection thread: the session, rustls and argon2 keep their large
/// buffers on the heap, so a small stack keeps many idle connections cheap.
pub const CONN_STACK: usize = 256 * 1024;

/// How long sessions may run on after a stop request before the process leaves them.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Longest time a write may block on a peer that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Serve until `stop` fires, then give running sessions `grace` to finish.
/// Sessions still running after that are abandoned: whatever they had not yet
/// acknowledged was never made visible, so nothing is lost or half-written.
pub fn run(
    shared: Arc<Shared>,
    listeners: Listeners,
    stop: StopSignal,
    grace: Duration,
) -> io::Result<()> {
    for (kind, l) in &listeners.sockets {
        l.set_nonblocking(true)?;
        tracing::info!("listening on {} ({})", l.local_addr()?, kind.key());
    }
    let active = Arc::new(Active::default());
    let mut fds: Vec<libc::pollfd> = listeners
        .sockets
        .iter()
        .map(|(_, l)| l.as_raw_fd())
        .chain(std::iter::once(stop.stream().as_raw_fd()))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let stop_index = fds.len() - 1;
    loop {
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[stop_index].revents != 0 {
            break;
        }
        for (i, (kind, listener)) in listeners.sockets.iter().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            loop {
                match listener.accept() {
                    Ok((stream, _)) => spawn_session(&shared, &active, *kind, stream),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // Out of descriptors or memory: back off instead of spinning.
                        tracing::error!("accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                        break;
                    }
                }
            }
        }
    }
    drop(listeners);
    let n = active.count();
    if n > 0 {
        tracing::info!(
            "stopping: waiting up to {}s for {n} sessions",
            grace.as_secs()
        );
        let left = active.wait_idle(grace);
        if left > 0 {
            tracing::warn!("stopping with {left} sessions still open; they are abandoned");
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

/// Counts running sessions so shutdown can wait for them.
#[derive(Default)]
struct Active {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Active {
    fn count(&self) -> usize {
        *self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(self: &Arc<Self>) -> ActiveGuard {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        ActiveGuard(self.clone())
    }

    /// Wait until no session runs or `limit` passed; returns how many still run.
    fn wait_idle(&self, limit: Duration) -> usize {
        let guard = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .idle
            .wait_timeout_while(guard, limit, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

struct ActiveGuard(Arc<Active>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.0.idle.notify_all();
        }
    }
}

fn spawn_session(shared: &Arc<Shared>, active: &Arc<Active>, kind: Kind, stream: TcpStream) {
    let shared = shared.clone();
    let guard = active.enter();
    let spawned = std::thread::Builder::new()
        .name(kind.key().into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let _guard = guard;
            session(&shared, kind, stream);
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start a session thread: {e}");
    }
}

/// Drive one connection to its end. Every failure ends only this session.
pub fn session(shared: &Arc<Shared>, kind: Kind, mut stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    // Accepted sockets must block: the read timeout is the machine's clock.
    if stream.set_nonblocking(false).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let start = clock::now();
    let (session, id) = match service::open(shared, kind, peer.ip(), start) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(peer = %peer, "cannot start a {} session: {e}", kind.key());
            return;
        }
    };
    tracing::debug!(session = %id, peer = %peer, service = kind.key(), "connected");
    let mut buf = vec![0u8; READ_CHUNK];
    let result = match session {
        Session::Smtp(mut c, h) => {
            // The scheduler keeps a dial-up online while the ISP delivers (§6.3.3).
            crate::connection::inbound(true);
            let r = finish(drive(h, &mut c, &mut stream, &mut buf), &mut c, &mut stream);
            crate::connection::inbound(false);
            r
        }
        Session::Pop3(mut c, h) => {
            finish(drive(h, &mut c, &mut stream, &mut buf), &mut c, &mut stream)
        }
        Session::Pass(mut c, h) => {
            finish(drive(h, &mut c, &mut stream, &mut buf), &mut c, &mut stream)
        }
    };
    if let Err(e) = &result {
        tracing::info!(session = %id, peer = %peer, "session ended: {e}");
    }
    let _ = stream.shutdown(Shutdown::Both);
    tracing::debug!(session = %id, "closed");
}

/// After a failed session, send what is left (a TLS alert explaining the failure).
fn finish<M: Machine>(
    result: Result<(), SessionEnd>,
    conn: &mut Conn<M>,
    stream: &mut TcpStream,
) -> Result<(), SessionEnd> {
    if result.is_err() {
        let _ = stream.write_all(conn.outgoing());
    }
    result
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

/// Run a connection until it ends; `handler` (dropped at the end: a POP3 mailbox
/// lock goes with it) answers the machine's events.
fn drive<H: Handler>(
    mut handler: H,
    conn: &mut Conn<H::Machine>,
    stream: &mut TcpStream,
    buf: &mut [u8],
) -> Result<(), SessionEnd> {
    let mut eof_sent = false;
    loop {
        match conn.poll()? {
            Step::Event(event) => {
                // Output first, unless the event is quick and little is pending: a
                // streaming machine asks for more only after handing out its last
                // chunk, so memory stays bounded by FLUSH_AT plus one chunk.
                if !handler.quick(&event) || conn.outgoing().len() >= service::FLUSH_AT {
                    write_out(stream, conn)?;
                }
                let cmd = handler.answer(event);
                conn.answer(clock::now(), cmd);
            }
            Step::Close => {
                write_out(stream, conn)?;
                return Ok(());
            }
            Step::Wait(deadline) => {
                write_out(stream, conn)?;
                if eof_sent {
                    // The machine keeps waiting after the end of input: nothing more
                    // can arrive, so end the session ourselves.
                    return Err(SessionEnd::Gone);
                }
                match wait_input(stream, buf, deadline)? {
                    Woke::Data(n) => conn.receive(clock::now(), &buf[..n])?,
                    Woke::Eof => {
                        eof_sent = true;
                        conn.eof(clock::now());
                    }
                    Woke::Tick => conn.tick(clock::now()),
                    Woke::Again => {}
                }
            }
        }
    }
}

/// `mailroom-lite serve`: run the blocking server on the data directory until
/// SIGTERM or SIGINT.
pub fn serve(dir: &crate::datadir::DataDir) -> Result<(), Box<dyn std::error::Error>> {
    let p = crate::startup::prepare(dir)?;
    let outbound = crate::outbound::start_for_server(
        &p.shared,
        Arc::new(crate::outbound::blocking::ThreadTransport),
    );
    run(p.shared, p.listeners, p.stop, DEFAULT_GRACE)?;
    drop(outbound);
    drop(p.reloader);
    Ok(())
}
