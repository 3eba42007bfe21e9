//! The blocking socket loop of the client side: drives a [`Conn`] holding a client
//! machine (the outbound SMTP client, the POP3 collector) over a `TcpStream`, with the
//! machine's deadlines as read timeouts. Used on the sending threads and by collection;
//! its read and write steps also serve the blocking server (`crate::server`).

use crate::clock;
use crate::conn::{self, Conn, ConnError, Step, READ_CHUNK};
use mailroom_core::{Instant, Machine};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("{0}")]
    Conn(#[from] ConnError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Run the session on `stream` until the machine closes it or the transport fails;
/// `on_event` answers each event (output is already written when it runs). The
/// socket is shut down on return.
pub fn drive<M: Machine>(
    mut stream: TcpStream,
    c: &mut Conn<M>,
    write_timeout: Duration,
    mut on_event: impl FnMut(&mut Conn<M>, M::Event),
) -> Result<(), DriveError> {
    stream.set_write_timeout(Some(write_timeout))?;
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; READ_CHUNK];
    let result = (|| loop {
        match c.poll()? {
            Step::Event(ev) => {
                write_out(&mut stream, c)?;
                on_event(c, ev);
            }
            Step::Close => {
                write_out(&mut stream, c)?;
                return Ok(());
            }
            Step::Wait(deadline) => {
                write_out(&mut stream, c)?;
                match wait_input(&mut stream, &mut buf, deadline)? {
                    Woke::Data(n) => c.receive(clock::now(), &buf[..n])?,
                    Woke::Eof => c.eof(clock::now()),
                    Woke::Tick => c.tick(clock::now()),
                    Woke::Again => {}
                }
            }
        }
    })();
    if result.is_err() {
        // A TLS alert explaining the failure, if there is one.
        let _ = stream.write_all(c.outgoing());
    }
    let _ = stream.shutdown(Shutdown::Both);
    result
}

/// What waiting for input brought.
pub(crate) enum Woke {
    /// This many bytes, at the start of the buffer.
    Data(usize),
    /// The end of the stream, or a failed socket.
    Eof,
    /// Nothing by the deadline (or it had passed already).
    Tick,
    /// Interrupted: wait again.
    Again,
}

/// A blocking read into `buf` that gives up at `deadline` (the machine's next tick).
pub(crate) fn wait_input(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> io::Result<Woke> {
    match conn::wait_time(clock::now(), deadline) {
        Some(t) if t.is_zero() => return Ok(Woke::Tick),
        t => stream.set_read_timeout(t)?,
    }
    Ok(match stream.read(buf) {
        Ok(0) => Woke::Eof,
        Ok(n) => Woke::Data(n),
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

/// Write what the connection holds for the socket.
pub(crate) fn write_out<M: Machine>(stream: &mut TcpStream, c: &mut Conn<M>) -> io::Result<()> {
    let out = c.outgoing();
    if !out.is_empty() {
        stream.write_all(out)?;
        out.clear();
    }
    Ok(())
}
