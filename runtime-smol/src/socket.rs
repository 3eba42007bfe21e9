//! The smol socket loop: drives a [`Pump`] over an `Async<TcpStream>`, with the
//! machine's deadlines as timers. Every session of the daemon runs in it: the
//! server's (SMTP-in, POP3, the password service) and the sending sessions. It is the
//! async twin of `mailroom_std::net::socket`; the rules both follow (TLS, end of
//! stream) live in [`Pump`].

use async_io::{Async, Timer};
use futures_lite::io::AsyncWriteExt;
use futures_lite::FutureExt;
use mailroom_core::{Instant, Machine};
use mailroom_std::net::pump::{self, Pump, Step, FLUSH_AT, READ_CHUNK};
use mailroom_std::net::socket::DriveError;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// How the loop answers the machine's events: a server session's handler, or a
/// sending session's pump and orders.
pub(crate) trait Answer<M: Machine> {
    /// Whether `event` is answered in a moment (a chunk of a message from the page
    /// cache): the loop may then answer it before writing what is pending.
    fn quick(&self, _event: &M::Event) -> bool {
        false
    }

    /// Answer `event`, giving `conn` what it needs (usually one command).
    async fn answer(&mut self, conn: &mut Pump<M>, event: M::Event);

    /// While waiting for the peer, look for news every this long ([`Answer::look`]).
    fn watching(&self) -> Option<Duration> {
        None
    }

    /// Give `conn` news from elsewhere (IMAP IDLE: the folder changed), if any.
    fn look(&mut self, _conn: &mut Pump<M>) {}
}

/// Run the session on `stream` until the machine closes it or the transport fails;
/// `answerer` answers each event. After a failure what is left for the peer (a TLS
/// alert) is sent; the socket is shut down on return.
pub(crate) async fn drive<M: Machine>(
    mut stream: Async<TcpStream>,
    c: &mut Pump<M>,
    write_timeout: Duration,
    answerer: &mut impl Answer<M>,
) -> Result<(), DriveError> {
    let _ = stream.get_ref().set_nodelay(true);
    let result = async {
        loop {
            match c.poll()? {
                Step::Event(ev) => {
                    // Output first, unless the event is quick and little is pending: a
                    // streaming machine asks for more only after handing out its last
                    // chunk, so memory stays bounded by FLUSH_AT plus one chunk.
                    if !answerer.quick(&ev) || c.outgoing().len() >= FLUSH_AT {
                        write_out(&mut stream, c, write_timeout).await?;
                    }
                    answerer.answer(c, ev).await;
                }
                Step::Close => {
                    write_out(&mut stream, c, write_timeout).await?;
                    return Ok(());
                }
                Step::Wait(deadline) => {
                    write_out(&mut stream, c, write_timeout).await?;
                    let now = mailroom_std::platform::clock::now();
                    // Input already there is taken at once; the reactor only when
                    // there is none (a busy connection never waits on it).
                    if read_now(&stream, c, now)? {
                        continue;
                    }
                    let until = pump::wake_at(now, deadline, answerer.watching());
                    let woke = wait_readable(&stream, until).await;
                    // `now` comes from the clock, not from which future finished first.
                    let now = mailroom_std::platform::clock::now();
                    match woke {
                        Woke::Deadline => {
                            c.tick(now);
                            answerer.look(c);
                        }
                        Woke::Readable => {}
                        Woke::Failed => c.eof(now),
                    }
                }
            }
        }
    }
    .await;
    if result.is_err() {
        let _ = write_out(&mut stream, c, write_timeout).await;
    }
    let _ = stream.get_ref().shutdown(Shutdown::Both);
    result
}

enum Woke {
    Readable,
    Deadline,
    /// The socket cannot be waited on any more.
    Failed,
}

thread_local! {
    /// The one read buffer of this executor thread. A connection waits for its socket
    /// to be readable without a buffer and reads into this one only when data is
    /// there, so an idle connection holds no read buffer (docs/PERFORMANCE.md §10).
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; READ_CHUNK]);
}

/// Wait until the socket is readable, or give up at `deadline` (the machine's next
/// tick).
async fn wait_readable(stream: &Async<TcpStream>, deadline: Option<Instant>) -> Woke {
    let ready = async {
        match stream.readable().await {
            Ok(()) => Woke::Readable,
            Err(_) => Woke::Failed,
        }
    };
    match pump::wait_time(mailroom_std::platform::clock::now(), deadline) {
        Some(t) if t.is_zero() => Woke::Deadline,
        Some(t) => {
            ready
                .or(async {
                    Timer::after(t).await;
                    Woke::Deadline
                })
                .await
        }
        None => ready.await,
    }
}

/// Read what the socket holds, if anything, into the thread's buffer and hand it to
/// the connection (no await in between, so the buffer is never held across one).
/// False when there was nothing to read yet.
fn read_now<M: Machine>(
    stream: &Async<TcpStream>,
    c: &mut Pump<M>,
    now: Instant,
) -> Result<bool, DriveError> {
    READ_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        match std::io::Read::read(&mut stream.get_ref(), &mut buf[..]) {
            Ok(0) => c.eof(now),
            Ok(n) => c.receive(now, &buf[..n])?,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(false)
            }
            Err(_) => c.eof(now),
        }
        Ok(true)
    })
}

/// Write what the connection holds for the socket, giving up on a peer that does not
/// read within `timeout`.
async fn write_out<M: Machine>(
    stream: &mut Async<TcpStream>,
    conn: &mut Pump<M>,
    timeout: Duration,
) -> io::Result<()> {
    let out = conn.outgoing();
    if out.is_empty() {
        return Ok(());
    }
    let write = async { stream.write_all(out).await };
    write
        .or(async {
            Timer::after(timeout).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer does not read",
            ))
        })
        .await?;
    out.clear();
    Ok(())
}
