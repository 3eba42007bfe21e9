//! One POP3 collection connection without the socket: the core [`Collector`] and, with
//! STLS or port 995, the rustls client connection. The POP3 twin of
//! `outbound::conn::ClientConn`; it shares the TLS pump of [`crate::conn`].

use crate::conn::{decrypt, flush_tls, ConnError, Step};
use mailroom_core::collect::run::{Collector, RunCommand, RunEvent};
use mailroom_core::{Input, Instant, Machine, Output};
use rustls::pki_types::ServerName;
use std::io::Write;
use std::sync::Arc;

pub struct Pop3Conn {
    machine: Collector,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    server_name: ServerName<'static>,
    tls: Option<Box<rustls::ClientConnection>>,
    plain_out: Vec<u8>,
    wire_out: Vec<u8>,
    plain_in: Vec<u8>,
    peer_closed: bool,
    last_now: Instant,
}

impl Pop3Conn {
    /// A session to `server_name` (checked against the certificate when the
    /// configuration verifies). With `implicit`, TLS starts before the first byte.
    pub fn new(
        now: Instant,
        machine: Collector,
        tls_config: Option<Arc<rustls::ClientConfig>>,
        server_name: &str,
        implicit: bool,
    ) -> Result<Pop3Conn, ConnError> {
        let name = ServerName::try_from(server_name.to_string()).unwrap_or(ServerName::IpAddress(
            std::net::IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED).into(),
        ));
        let mut c = Pop3Conn {
            machine,
            tls_config,
            server_name: name,
            tls: None,
            plain_out: Vec::new(),
            wire_out: Vec::new(),
            plain_in: Vec::new(),
            peer_closed: false,
            last_now: now,
        };
        if implicit {
            c.start_tls()?;
        }
        Ok(c)
    }

    fn start_tls(&mut self) -> Result<(), ConnError> {
        let config = self.tls_config.clone().ok_or(ConnError::NoCertificate)?;
        let mut c = rustls::ClientConnection::new(config, self.server_name.clone())?;
        flush_tls(&mut c, &mut self.wire_out)?;
        self.tls = Some(Box::new(c));
        Ok(())
    }

    /// Bytes for the socket; the driver writes them all and clears the vector.
    pub fn outgoing(&mut self) -> &mut Vec<u8> {
        &mut self.wire_out
    }

    pub fn receive(&mut self, now: Instant, raw: &[u8]) -> Result<(), ConnError> {
        self.last_now = now;
        let Some(tls) = self.tls.as_mut() else {
            self.machine.handle_input(now, Input::Bytes(raw));
            return Ok(());
        };
        let result = decrypt(&mut **tls, raw, &mut self.plain_in, &mut self.peer_closed);
        flush_tls(&mut **tls, &mut self.wire_out)?;
        result?;
        if !self.plain_in.is_empty() {
            self.machine.handle_input(now, Input::Bytes(&self.plain_in));
            self.plain_in.clear();
        } else if self.peer_closed {
            self.peer_closed = false;
            self.machine.handle_input(now, Input::Eof);
        }
        Ok(())
    }

    pub fn eof(&mut self, now: Instant) {
        self.last_now = now;
        self.machine.handle_input(now, Input::Eof);
    }

    pub fn tick(&mut self, now: Instant) {
        self.last_now = now;
        self.machine.handle_input(now, Input::Tick);
    }

    pub fn answer(&mut self, now: Instant, cmd: RunCommand) {
        self.last_now = now;
        self.machine.handle_command(now, cmd);
    }

    /// Drain the machine until it needs something from the driver.
    pub fn poll(&mut self) -> Result<Step<RunEvent>, ConnError> {
        loop {
            match self.machine.poll_output(&mut self.plain_out) {
                Output::Event(e) => {
                    self.encode()?;
                    return Ok(Step::Event(e));
                }
                Output::StartTls => {
                    // STLS went out in the clear; what follows is encrypted.
                    self.encode()?;
                    self.start_tls()?;
                }
                Output::Close => {
                    self.encode()?;
                    if let Some(tls) = self.tls.as_mut() {
                        tls.send_close_notify();
                        flush_tls(&mut **tls, &mut self.wire_out)?;
                    }
                    return Ok(Step::Close);
                }
                Output::Wait(deadline) => {
                    self.encode()?;
                    if self.peer_closed {
                        self.peer_closed = false;
                        self.machine.handle_input(self.last_now, Input::Eof);
                        continue;
                    }
                    return Ok(Step::Wait(deadline));
                }
            }
        }
    }

    fn encode(&mut self) -> Result<(), ConnError> {
        match self.tls.as_mut() {
            None => self.wire_out.append(&mut self.plain_out),
            Some(tls) => {
                if !self.plain_out.is_empty() {
                    tls.writer().write_all(&self.plain_out)?;
                    self.plain_out.clear();
                }
                flush_tls(&mut **tls, &mut self.wire_out)?;
            }
        }
        Ok(())
    }
}
