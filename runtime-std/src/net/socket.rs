//! The blocking socket loop: drives a [`Pump`] over a `TcpStream`, with the machine's
//! deadlines as read timeouts. Every blocking session runs in it: the server's
//! (SMTP-in, POP3, the password service, on `crate::daemon::threads`) and the
//! client's (outbound sending, POP3 collection, ETRN). The smol runtime has the one
//! async twin of this loop; the rules both follow (TLS, end of stream) live in
//! [`Pump`].

use crate::net::pump::{self, Pump, PumpError, Step, FLUSH_AT, READ_CHUNK};
use mailroom_core::{Instant, Machine};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

/// Longest time a write may block on a peer that does not read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("{0}")]
    Pump(#[from] PumpError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// How the loop answers the machine's events: a server session's handler, or a
/// client's closure (any `FnMut(&mut Pump<M>, M::Event)` is one).
pub trait Answer<M: Machine> {
    /// Whether `event` is answered in a moment (a chunk of a message from the page
    /// cache): the loop may then answer it before writing what is pending. Slow events
    /// (passwords, fsync, the network) always see the output written first, so the
    /// peer never waits for a reply that is ready.
    fn quick(&self, _event: &M::Event) -> bool {
        false
    }

    /// Answer `event`, giving `conn` what it needs (usually one command).
    fn answer(&mut self, conn: &mut Pump<M>, event: M::Event);

    /// While waiting for the peer, look for news every this long ([`Answer::look`]).
    fn watching(&self) -> Option<Duration> {
        None
    }

    /// Give `conn` news from elsewhere (IMAP IDLE: the folder changed), if any.
    fn look(&mut self, _conn: &mut Pump<M>) {}
}

impl<M: Machine, F: FnMut(&mut Pump<M>, M::Event)> Answer<M> for F {
    fn answer(&mut self, conn: &mut Pump<M>, event: M::Event) {
        self(conn, event)
    }
}

/// Run the session on `stream` until the machine closes it or the transport fails;
/// `answerer` answers each event. After a failure what is left for the peer (a TLS
/// alert) is sent; the socket is shut down on return.
#[inline(never)]
pub fn drive<M: Machine>(
    mut stream: TcpStream,
    c: &mut Pump<M>,
    write_timeout: Duration,
    answerer: &mut impl Answer<M>,
) -> Result<(), DriveError> {
    stream.set_write_timeout(Some(write_timeout))?;
    let _ = stream.set_nodelay(true);
    let mut quiet_since = crate::platform::clock::now();
    let mut trimmed = false;
    // The loop keeps its own frame small and calls out for the work: its frame stays
    // on the stack while the connection waits, which is most of a session's life.
    let result = (|| loop {
        let Some(deadline) = run_until_wait(&mut stream, c, answerer)? else {
            return Ok(());
        };
        let now = crate::platform::clock::now();
        if !trimmed && now.saturating_since(quiet_since) >= SETTLE {
            // Idle, about to wait again with nothing else to do first: the stack
            // pages the last command touched go back.
            crate::platform::memory::trim_stack();
            trimmed = true;
        }
        let until = pump::wake_at(now, deadline, answerer.watching());
        let cap = (!trimmed).then_some(SETTLE);
        match wait_input(&mut stream, until, cap)? {
            Woke::Data => {
                read_now(&mut stream, c)?;
                quiet_since = crate::platform::clock::now();
                trimmed = false;
            }
            Woke::Eof => c.eof(crate::platform::clock::now()),
            Woke::Tick => on_tick(c, answerer),
            Woke::Again => {}
        }
    })();
    if result.is_err() {
        let _ = stream.write_all(c.outgoing());
    }
    let _ = stream.shutdown(Shutdown::Both);
    result
}

/// Answer the machine's events until it waits for input (`Some(deadline)`, its output
/// written) or closes (`None`, its last output written).
#[inline(never)]
fn run_until_wait<M: Machine>(
    stream: &mut TcpStream,
    c: &mut Pump<M>,
    answerer: &mut impl Answer<M>,
) -> Result<Option<Option<Instant>>, DriveError> {
    loop {
        match c.poll()? {
            Step::Event(ev) => {
                // Output first, unless the event is quick and little is pending: a
                // streaming machine asks for more only after handing out its last
                // chunk, so memory stays bounded by FLUSH_AT plus one chunk.
                if !answerer.quick(&ev) || c.outgoing().len() >= FLUSH_AT {
                    write_out(stream, c)?;
                }
                answerer.answer(c, ev);
            }
            Step::Close => {
                write_out(stream, c)?;
                return Ok(None);
            }
            Step::Wait(deadline) => {
                write_out(stream, c)?;
                return Ok(Some(deadline));
            }
        }
    }
}

#[inline(never)]
fn on_tick<M: Machine>(c: &mut Pump<M>, answerer: &mut impl Answer<M>) {
    c.tick(crate::platform::clock::now());
    answerer.look(c);
}

/// What waiting for input brought.
enum Woke {
    /// Bytes are there to read.
    Data,
    /// The end of the stream, or a failed socket.
    Eof,
    /// Nothing by the deadline (or it had passed already).
    Tick,
    /// Interrupted: wait again.
    Again,
}

/// Read buffers lent to connections for one read at a time: a connection waits for
/// input without one (by peeking a byte), so an idle connection holds no read buffer
/// (docs/PERFORMANCE.md §10). At most this many are kept for reuse.
const SPARE_BUFFERS: usize = 16;

static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn take_buffer() -> Vec<u8> {
    BUFFERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_else(|| vec![0u8; READ_CHUNK])
}

fn give_back(buf: Vec<u8>) {
    let mut spare = BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
    if spare.len() < SPARE_BUFFERS {
        spare.push(buf);
    }
}

/// How long a connection waits for input before it counts as idle and gives back the
/// stack pages its last command touched (`memory::trim_stack`): long enough that a busy
/// client never pays for it.
const SETTLE: Duration = Duration::from_millis(500);

/// Wait for input until `deadline` (the machine's next tick), or for at most `cap`,
/// without reading it: a one-byte peek, so no read buffer is held while the peer is
/// silent.
fn wait_input(
    stream: &mut TcpStream,
    deadline: Option<Instant>,
    cap: Option<Duration>,
) -> io::Result<Woke> {
    let wait = match (
        pump::wait_time(crate::platform::clock::now(), deadline),
        cap,
    ) {
        (Some(t), _) if t.is_zero() => return Ok(Woke::Tick),
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    };
    peek_within(stream, wait)
}

fn peek_within(stream: &mut TcpStream, wait: Option<Duration>) -> io::Result<Woke> {
    stream.set_read_timeout(wait)?;
    Ok(match stream.peek(&mut [0u8; 1]) {
        Ok(0) => Woke::Eof,
        Ok(_) => Woke::Data,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Woke::Tick
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Woke::Again,
        Err(_) => Woke::Eof,
    })
}

/// Read what is waiting (at least a byte is) into a lent buffer and hand it to the
/// connection.
#[inline(never)]
fn read_now<M: Machine>(stream: &mut TcpStream, c: &mut Pump<M>) -> Result<(), PumpError> {
    let mut buf = take_buffer();
    let now = crate::platform::clock::now();
    let result = match stream.read(&mut buf) {
        Ok(0) => {
            c.eof(now);
            Ok(())
        }
        Ok(n) => c.receive(now, &buf[..n]),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(_) => {
            c.eof(now);
            Ok(())
        }
    };
    give_back(buf);
    result
}

/// Write what the connection holds for the socket.
fn write_out<M: Machine>(stream: &mut TcpStream, c: &mut Pump<M>) -> io::Result<()> {
    let out = c.outgoing();
    if !out.is_empty() {
        stream.write_all(out)?;
        out.clear();
    }
    Ok(())
}
