//! The blocking runtime (`mailroom-lite`): one thread per connection.
//!
//! The main thread waits in `poll(2)` on every listening socket and the stop signal;
//! each accepted connection gets a thread with a small stack that drives a [`Pump`]
//! in the blocking socket loop (`crate::net::socket`), with blocking reads whose
//! timeout is the machine's next deadline.

use crate::daemon::sessions::{self, Admitted, Handler, Session};
use crate::daemon::startup;
use crate::net::listen::{Kind, Listeners, StopSignal};
use crate::net::pump::Pump;
use crate::net::socket::{self, Answer, DriveError, WRITE_TIMEOUT};
use crate::services::app::Shared;
use mailroom_core::Machine;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Stack of a connection thread: the session, rustls and argon2 keep their large
/// buffers on the heap, so a small stack keeps many idle connections cheap.
pub const CONN_STACK: usize = 256 * 1024;

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
                    Ok((stream, peer)) => match sessions::admit(&shared, *kind, peer) {
                        Ok(admitted) => spawn_session(&shared, &active, *kind, stream, admitted),
                        Err(turned_away) => turned_away.send(&stream),
                    },
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::error!("accept failed: {e}");
                        std::thread::sleep(startup::ACCEPT_BACKOFF);
                        break;
                    }
                }
            }
        }
    }
    drop(listeners);
    let mut left = active.count();
    if left > 0 {
        startup::log_stopping(left, grace);
        left = active.wait_idle(grace);
    }
    startup::log_stopped(&shared, left);
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

fn spawn_session(
    shared: &Arc<Shared>,
    active: &Arc<Active>,
    kind: Kind,
    stream: TcpStream,
    admitted: Admitted,
) {
    let shared = shared.clone();
    let guard = active.enter();
    let spawned = std::thread::Builder::new()
        .name(kind.key().into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let _guard = guard;
            session(&shared, kind, stream, admitted);
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start a session thread: {e}");
    }
}

/// Drive one connection to its end. Every failure ends only this session. Not inlined
/// into the thread's start: the frames below the socket loop stay small.
#[inline(never)]
pub fn session(shared: &Arc<Shared>, kind: Kind, stream: TcpStream, admitted: Admitted) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    // Accepted sockets must block: the read timeout is the machine's clock.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Some((session, log)) = sessions::accept(shared, kind, peer, admitted) else {
        return;
    };
    log.ended(match session {
        Session::Smtp(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Pop3(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Pass(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Finger(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Ldap(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Monitor(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Imap(mut c, h) => drive(stream, &mut c, Serve(h)),
        Session::Http(mut c, h) => drive(stream, &mut c, Serve(h)),
    });
}

/// A session's handler as the socket loop's answerer; dropped when the session ends
/// (a POP3 mailbox lock goes with it).
struct Serve<H>(H);

impl<H: Handler> Answer<H::Machine> for Serve<H> {
    fn quick(&self, event: &<H::Machine as Machine>::Event) -> bool {
        self.0.quick(event)
    }

    fn answer(&mut self, conn: &mut Pump<H::Machine>, event: <H::Machine as Machine>::Event) {
        if let Some(cmd) = self.0.answer(event) {
            conn.answer(crate::platform::clock::now(), cmd);
        }
    }

    fn watching(&self) -> Option<std::time::Duration> {
        self.0.watching()
    }

    fn look(&mut self, conn: &mut Pump<H::Machine>) {
        if let Some(cmd) = self.0.look() {
            conn.answer(crate::platform::clock::now(), cmd);
        }
    }
}

/// Drive a session to its end; also returns its client errors (for the IDS/IPS).
fn drive<M: Machine>(
    stream: TcpStream,
    conn: &mut Pump<M>,
    mut answerer: impl Answer<M>,
) -> (Result<(), DriveError>, u32) {
    let result = socket::drive(stream, conn, WRITE_TIMEOUT, &mut answerer);
    (result, conn.machine().client_errors())
}

/// `mailroom-lite serve`: run the blocking server on the data directory until
/// SIGTERM or SIGINT.
pub fn serve(dir: &crate::platform::datadir::DataDir) -> Result<(), Box<dyn std::error::Error>> {
    let p = startup::prepare(dir)?;
    let outbound = crate::services::outbound::start_for_server(
        &p.shared,
        Arc::new(crate::services::outbound::blocking::ThreadTransport),
    );
    run(p.shared, p.listeners, p.stop, startup::DEFAULT_GRACE)?;
    drop(outbound);
    drop(p.reloader);
    Ok(())
}
