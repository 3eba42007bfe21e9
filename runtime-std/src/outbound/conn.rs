//! One outgoing SMTP connection without the socket: the [`SmtpClient`] machine and,
//! after STARTTLS, the rustls client connection. The client-side twin of
//! [`crate::conn::Conn`]; both runtimes drive it, so encryption and the STARTTLS
//! switch live here once.

use crate::conn::{decrypt, flush_tls, ConnError, Step};
use mailroom_core::smtp::client::{ClientCommand, ClientEvent, ClientSettings, SmtpClient};
use mailroom_core::{Input, Instant, Machine, Output};
use rustls::pki_types::ServerName;
use std::io::Write;
use std::sync::Arc;

pub struct ClientConn {
    machine: SmtpClient,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    server_name: ServerName<'static>,
    tls: Option<Box<rustls::ClientConnection>>,
    plain_out: Vec<u8>,
    wire_out: Vec<u8>,
    plain_in: Vec<u8>,
    peer_closed: bool,
    last_now: Instant,
}

impl ClientConn {
    /// A session to `server_name` (a host name or an IP address, used for the TLS
    /// certificate check). Without `tls_config` STARTTLS is never used.
    pub fn new(
        now: Instant,
        mut settings: ClientSettings,
        tls_config: Option<Arc<rustls::ClientConfig>>,
        server_name: &str,
    ) -> ClientConn {
        // A name rustls cannot use (it came from DNS) only matters when the certificate
        // is checked, and then it fails the check as it should.
        let name = ServerName::try_from(server_name.to_string()).unwrap_or(ServerName::IpAddress(
            std::net::IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED).into(),
        ));
        settings.tls_available = tls_config.is_some();
        ClientConn {
            machine: SmtpClient::new(now, settings),
            tls_config,
            server_name: name,
            tls: None,
            plain_out: Vec::new(),
            wire_out: Vec::new(),
            plain_in: Vec::new(),
            peer_closed: false,
            last_now: now,
        }
    }

    pub fn tls_active(&self) -> bool {
        self.tls.is_some()
    }

    /// Bytes for the socket; the driver writes them all and clears the vector.
    pub fn outgoing(&mut self) -> &mut Vec<u8> {
        &mut self.wire_out
    }

    /// Bytes read from the socket.
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

    pub fn answer(&mut self, now: Instant, cmd: ClientCommand) {
        self.last_now = now;
        self.machine.handle_command(now, cmd);
    }

    /// Drain the machine until it needs something from the driver.
    pub fn poll(&mut self) -> Result<Step<ClientEvent>, ConnError> {
        loop {
            match self.machine.poll_output(&mut self.plain_out) {
                Output::Event(e) => {
                    self.encode()?;
                    return Ok(Step::Event(e));
                }
                Output::StartTls => {
                    // STARTTLS itself went out in the clear; what follows is encrypted.
                    self.encode()?;
                    let config = self.tls_config.clone().ok_or(ConnError::NoCertificate)?;
                    let mut c = rustls::ClientConnection::new(config, self.server_name.clone())?;
                    flush_tls(&mut c, &mut self.wire_out)?;
                    self.tls = Some(Box::new(c));
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
