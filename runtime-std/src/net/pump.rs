//! One connection without the socket: the part of the driver both runtimes share.
//!
//! [`Pump`] owns the session machine (SMTP, POP3, the password service on the server
//! side; the SMTP client and the POP3 collector on the client side) and, when TLS is
//! on, the rustls connection. The
//! runtime only moves bytes: it hands what it read to [`Pump::receive`], writes what
//! [`Pump::outgoing`] holds, answers [`Step::Event`]s, and sleeps until the deadline
//! of [`Step::Wait`]. Encryption, the STARTTLS switch and the end-of-stream rules live
//! here once, so the blocking and the async runtime cannot drift apart.

use mailroom_core::config::Snapshot;
use mailroom_core::smtp::{SessionInfo, SmtpEvent, SmtpServer};
use mailroom_core::{Input, Instant, Machine, Output};
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bytes read from a socket at a time. Also bounds the plaintext one read can yield.
pub const READ_CHUNK: usize = 16 * 1024;

/// Output a socket loop may hold back while answering quick events, so a run of small
/// pipelined responses leaves in few writes; past it, the loop writes first.
pub const FLUSH_AT: usize = 64 * 1024;

/// What the driver must do next.
#[derive(Debug)]
pub enum Step<E = SmtpEvent> {
    /// Write [`Pump::outgoing`] first (a streaming machine asks for more only once its
    /// output is on its way), then answer with [`Pump::answer`] (may block or be run
    /// on a blocking pool).
    Event(E),
    /// Write [`Pump::outgoing`], then read; at the deadline call [`Pump::tick`]. Never
    /// returned after [`Pump::eof`]: a machine that still waits then ends with
    /// [`PumpError::Gone`].
    Wait(Option<Instant>),
    /// Write [`Pump::outgoing`], then close the socket.
    Close,
}

#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("TLS transport: {0}")]
    TlsIo(#[from] io::Error),
    #[error("TLS requested but no certificate is configured")]
    NoCertificate,
    /// The machine kept waiting after the end of the stream: nothing more can
    /// arrive, so the connection ends here.
    #[error("peer gone")]
    Gone,
}

/// How TLS starts when the session asks for it: as the server with our certificate,
/// or as the client to a named server.
enum TlsSetup {
    Server(Arc<rustls::ServerConfig>),
    Client(Arc<rustls::ClientConfig>, ServerName<'static>),
}

pub struct Pump<M = SmtpServer> {
    machine: M,
    tls_setup: Option<TlsSetup>,
    tls: Option<Box<rustls::Connection>>,
    /// The machine's output, not yet encrypted.
    plain_out: Vec<u8>,
    /// Bytes for the socket.
    wire_out: Vec<u8>,
    /// Decrypted input, fed to the machine in one piece per read.
    plain_in: Vec<u8>,
    /// The peer ended the TLS stream; the machine gets `Eof` once drained.
    peer_closed: bool,
    /// The socket reached its end and the machine was told.
    socket_ended: bool,
    last_now: Instant,
    /// The protocol transcript, when its log is on (LOG-1).
    transcript: Option<Box<super::transcript::Session>>,
}

impl Pump<SmtpServer> {
    /// A new SMTP session. With `info.tls_active` (implicit TLS) the handshake starts
    /// at once and the greeting waits for it.
    pub fn new(
        now: Instant,
        snapshot: Arc<Snapshot>,
        info: SessionInfo,
        tls_config: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Pump, PumpError> {
        let implicit = info.tls_active;
        Pump::with_machine(
            now,
            SmtpServer::new(now, snapshot, info),
            implicit,
            tls_config,
        )
    }
}

impl<M: Machine> Pump<M> {
    /// A connection driving `machine`. With `implicit_tls` the handshake starts at
    /// once and the greeting waits for it.
    pub fn with_machine(
        now: Instant,
        machine: M,
        implicit_tls: bool,
        tls_config: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Pump<M>, PumpError> {
        let mut conn = Pump::build(now, machine, tls_config.map(TlsSetup::Server));
        if implicit_tls {
            conn.start_tls()?;
        }
        Ok(conn)
    }

    /// The client side of a session to `server_name` (a host name or an IP address,
    /// checked against the certificate when the configuration verifies). Without
    /// `tls_config` TLS never starts. For implicit TLS, call [`Pump::start_tls`] before
    /// the first poll.
    pub fn client(
        now: Instant,
        machine: M,
        tls_config: Option<Arc<rustls::ClientConfig>>,
        server_name: &str,
    ) -> Pump<M> {
        // A name rustls cannot use (it came from DNS) only matters when the certificate
        // is checked, and then it fails the check as it should.
        let name = ServerName::try_from(server_name.to_string()).unwrap_or(ServerName::IpAddress(
            std::net::IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED).into(),
        ));
        let setup = tls_config.map(|c| TlsSetup::Client(c, name));
        Pump::build(now, machine, setup)
    }

    fn build(now: Instant, machine: M, tls_setup: Option<TlsSetup>) -> Pump<M> {
        Pump {
            machine,
            tls_setup,
            tls: None,
            plain_out: Vec::new(),
            wire_out: Vec::new(),
            plain_in: Vec::new(),
            peer_closed: false,
            socket_ended: false,
            last_now: now,
            transcript: None,
        }
    }

    /// Write this connection's plaintext to a transcript (`None`: its log is off).
    pub fn set_transcript(&mut self, t: Option<super::transcript::Session>) {
        self.transcript = t.map(Box::new);
    }

    /// The session machine, for what it tells at the end (its client errors).
    pub fn machine(&self) -> &M {
        &self.machine
    }

    pub fn tls_active(&self) -> bool {
        self.tls.is_some()
    }

    /// Bytes to write to the socket; the driver writes them all and clears the vector.
    pub fn outgoing(&mut self) -> &mut Vec<u8> {
        &mut self.wire_out
    }

    /// Bytes read from the socket. After an error, write [`Pump::outgoing`] (it may
    /// hold a TLS alert) and close.
    pub fn receive(&mut self, now: Instant, raw: &[u8]) -> Result<(), PumpError> {
        self.last_now = now;
        let Some(tls) = self.tls.as_mut() else {
            if let Some(t) = &mut self.transcript {
                t.from_peer(raw);
            }
            self.machine.handle_input(now, Input::Bytes(raw));
            return Ok(());
        };
        let result = decrypt(tls, raw, &mut self.plain_in, &mut self.peer_closed);
        // Handshake replies, or the alert describing a failure.
        flush_tls(tls, &mut self.wire_out)?;
        result?;
        if !self.plain_in.is_empty() {
            if let Some(t) = &mut self.transcript {
                t.from_peer(&self.plain_in);
            }
            self.machine.handle_input(now, Input::Bytes(&self.plain_in));
            self.plain_in.clear();
        } else if self.peer_closed {
            self.peer_closed = false;
            self.machine.handle_input(now, Input::Eof);
        }
        Ok(())
    }

    /// The socket reached end of stream or failed.
    pub fn eof(&mut self, now: Instant) {
        self.last_now = now;
        self.socket_ended = true;
        self.machine.handle_input(now, Input::Eof);
    }

    /// The deadline of the last [`Step::Wait`] may have passed.
    pub fn tick(&mut self, now: Instant) {
        self.last_now = now;
        self.machine.handle_input(now, Input::Tick);
    }

    pub fn answer(&mut self, now: Instant, cmd: M::Command) {
        self.last_now = now;
        self.machine.handle_command(now, cmd);
    }

    /// Drain the machine until it needs something from the driver.
    pub fn poll(&mut self) -> Result<Step<M::Event>, PumpError> {
        loop {
            match self.machine.poll_output(&mut self.plain_out) {
                Output::Event(e) => {
                    self.encode()?;
                    return Ok(Step::Event(e));
                }
                Output::StartTls => {
                    // The go-ahead (or the client's STARTTLS / STLS) must reach the
                    // peer in the clear; what follows is encrypted.
                    self.encode()?;
                    self.start_tls()?;
                }
                Output::Close => {
                    self.encode()?;
                    if let Some(tls) = self.tls.as_mut() {
                        tls.send_close_notify();
                        flush_tls(tls, &mut self.wire_out)?;
                    }
                    return Ok(Step::Close);
                }
                Output::Wait(deadline) => {
                    self.encode()?;
                    if self.peer_closed {
                        // The TLS close arrived with data: the machine had the data
                        // first, now it learns about the end.
                        self.peer_closed = false;
                        self.machine.handle_input(self.last_now, Input::Eof);
                        continue;
                    }
                    if self.socket_ended {
                        return Err(PumpError::Gone);
                    }
                    return Ok(Step::Wait(deadline));
                }
            }
        }
    }

    /// Start the TLS handshake now: when the session asks, or before the first byte
    /// for implicit TLS.
    pub fn start_tls(&mut self) -> Result<(), PumpError> {
        let mut tls: rustls::Connection = match &self.tls_setup {
            None => return Err(PumpError::NoCertificate),
            Some(TlsSetup::Server(config)) => rustls::ServerConnection::new(config.clone())?.into(),
            Some(TlsSetup::Client(config, name)) => {
                rustls::ClientConnection::new(config.clone(), name.clone())?.into()
            }
        };
        // The client speaks first (its hello); a new server connection has nothing yet.
        flush_tls(&mut tls, &mut self.wire_out)?;
        self.tls = Some(Box::new(tls));
        Ok(())
    }

    /// Move the machine's output to the wire, through TLS when it is on.
    fn encode(&mut self) -> Result<(), PumpError> {
        if let Some(t) = &mut self.transcript {
            t.to_peer(&self.plain_out);
        }
        match self.tls.as_mut() {
            None => self.wire_out.append(&mut self.plain_out),
            Some(tls) => {
                if !self.plain_out.is_empty() {
                    tls.writer().write_all(&self.plain_out)?;
                    self.plain_out.clear();
                }
                flush_tls(tls, &mut self.wire_out)?;
            }
        }
        Ok(())
    }
}

/// Feed ciphertext from the socket to `tls`, appending the plaintext it yields to
/// `plain` and noting a close_notify in `peer_closed`.
fn decrypt(
    tls: &mut rustls::Connection,
    raw: &[u8],
    plain: &mut Vec<u8>,
    peer_closed: &mut bool,
) -> Result<(), PumpError> {
    let mut rest = raw;
    while !rest.is_empty() {
        tls.read_tls(&mut rest)?;
        let state = tls.process_new_packets()?;
        let mut want = state.plaintext_bytes_to_read();
        while want > 0 {
            let start = plain.len();
            plain.resize(start + want, 0);
            let n = tls.reader().read(&mut plain[start..])?;
            plain.truncate(start + n);
            if n == 0 {
                break;
            }
            want -= n;
        }
        if state.peer_has_closed() {
            *peer_closed = true;
            break;
        }
    }
    Ok(())
}

/// Queue whatever TLS must send (records, handshake replies, alerts) in `out`.
fn flush_tls(tls: &mut rustls::Connection, out: &mut Vec<u8>) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(out)?;
    }
    Ok(())
}

/// The facts a new session needs about its connection.
pub fn session_info(
    now: Instant,
    peer_ip: IpAddr,
    implicit_tls: bool,
    tls_available: bool,
) -> SessionInfo {
    SessionInfo {
        peer_ip,
        session_id: new_session_id(now),
        tls_active: implicit_tls,
        tls_available,
        pop_before_smtp: false,
        local_offset_secs: 0,
    }
}

/// How long to wait for input before ticking: `None` = no deadline, zero = due now.
pub fn wait_time(now: Instant, deadline: Option<Instant>) -> Option<Duration> {
    let left = deadline?.saturating_since(now);
    if left.is_zero() {
        return Some(Duration::ZERO);
    }
    // Socket APIs read a zero timeout as "forever"; round tiny waits up.
    Some(left.max(Duration::from_millis(1)))
}

/// When a socket loop stops waiting for input: at the machine's deadline, or sooner
/// while its answerer watches for news every `watching` (IMAP IDLE).
pub fn wake_at(
    now: Instant,
    deadline: Option<Instant>,
    watching: Option<Duration>,
) -> Option<Instant> {
    match watching {
        None => deadline,
        Some(every) => Some(deadline.map_or(now + every, |d| d.min(now + every))),
    }
}

/// A session id unique across connections and restarts: the start time in
/// microseconds and a per-process counter, base 36, upper case, no separators (the
/// SMTP session appends `.N` per message).
pub fn new_session_id(now: Instant) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) % (36u64.pow(4));
    let mut id = base36(now.unix_micros());
    let suffix = base36(n);
    for _ in suffix.len()..4 {
        id.push('0');
    }
    id.push_str(&suffix);
    id
}

fn base36(mut v: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut buf = Vec::new();
    loop {
        buf.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    buf.reverse();
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn session_ids_are_distinct_and_safe() {
        let t = Instant::from_secs(1_700_000_000);
        let ids: HashSet<String> = (0..1000).map(|_| new_session_id(t)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|i| i.bytes().all(|b| b.is_ascii_alphanumeric())));
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "Z");
        assert_eq!(base36(36), "10");
    }
}
