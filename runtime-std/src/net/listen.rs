//! Listening sockets and the stop signal, shared by both runtimes.

use mailroom_core::config::Config;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::net::UnixStream;

/// Which service a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[services].smtp`: plain, STARTTLS when a certificate is configured.
    Smtp,
    /// `[services].smtps`: implicit TLS.
    Smtps,
    /// `[services].pop3`: plain, STLS when a certificate is configured.
    Pop3,
    /// `[services].pop3s`: implicit TLS (port 995).
    Pop3s,
    /// `[services].pass`: the password-change service (§11.7).
    Pass,
    /// `[services].imap`: plain, STARTTLS when a certificate is configured.
    Imap,
    /// `[services].imaps`: implicit TLS (port 993).
    Imaps,
    /// `[services].http`: the web admin and webmail.
    Http,
    /// `[services].https`: the same over implicit TLS.
    Https,
    /// `[services].finger`: the finger server (§11.5).
    Finger,
    /// `[services].ldap`: the LDAP address book (§11.4).
    Ldap,
    /// `[services].monitor`: the status monitor (SVC-5).
    Monitor,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::Smtp => "smtp",
            Kind::Smtps => "smtps",
            Kind::Pop3 => "pop3",
            Kind::Pop3s => "pop3s",
            Kind::Pass => "pass",
            Kind::Imap => "imap",
            Kind::Imaps => "imaps",
            Kind::Http => "http",
            Kind::Https => "https",
            Kind::Finger => "finger",
            Kind::Ldap => "ldap",
            Kind::Monitor => "monitor",
        }
    }
}

/// The bound listening sockets of a server.
#[derive(Debug, Default)]
pub struct Listeners {
    pub sockets: Vec<(Kind, TcpListener)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {address} ([services].{key}): {source}")]
    Bind {
        key: &'static str,
        address: String,
        source: io::Error,
    },
    #[error(
        "[services].smtps is set but [tls] has no cert and key: implicit TLS needs a certificate"
    )]
    SmtpsWithoutTls,
    #[error(
        "[services].pop3s is set but [tls] has no cert and key: implicit TLS needs a certificate"
    )]
    Pop3sWithoutTls,
    #[error(
        "[services].imaps is set but [tls] has no cert and key: implicit TLS needs a certificate"
    )]
    ImapsWithoutTls,
    #[error(
        "[services].https is set but [tls] has no cert and key: implicit TLS needs a certificate"
    )]
    HttpsWithoutTls,
}

impl Listeners {
    /// Bind every address of the services this version serves.
    pub fn bind(config: &Config, tls_available: bool) -> Result<Listeners, ListenError> {
        let s = &config.services;
        if !s.smtps.is_empty() && !tls_available {
            return Err(ListenError::SmtpsWithoutTls);
        }
        if !s.pop3s.is_empty() && !tls_available {
            return Err(ListenError::Pop3sWithoutTls);
        }
        if !s.imaps.is_empty() && !tls_available {
            return Err(ListenError::ImapsWithoutTls);
        }
        if !s.https.is_empty() && !tls_available {
            return Err(ListenError::HttpsWithoutTls);
        }
        let mut out = Listeners::default();
        for (kind, list) in [
            (Kind::Smtp, &s.smtp),
            (Kind::Smtps, &s.smtps),
            (Kind::Pop3, &s.pop3),
            (Kind::Pop3s, &s.pop3s),
            (Kind::Pass, &s.pass),
            (Kind::Imap, &s.imap),
            (Kind::Imaps, &s.imaps),
            (Kind::Http, &s.http),
            (Kind::Https, &s.https),
            (Kind::Finger, &s.finger),
            (Kind::Ldap, &s.ldap),
            (Kind::Monitor, &s.monitor),
        ] {
            for address in list {
                let fail = |source| ListenError::Bind {
                    key: kind.key(),
                    address: address.clone(),
                    source,
                };
                let addrs: Vec<SocketAddr> = address.to_socket_addrs().map_err(fail)?.collect();
                let first = addrs.first().ok_or_else(|| {
                    fail(io::Error::new(io::ErrorKind::InvalidInput, "no address"))
                })?;
                let socket = TcpListener::bind(first).map_err(fail)?;
                out.sockets.push((kind, socket));
            }
        }
        Ok(out)
    }

    pub fn add(&mut self, kind: Kind, socket: TcpListener) {
        self.sockets.push((kind, socket));
    }
}

/// The receiving end of a stop request: readable once a stop was requested (by a
/// signal or a [`StopHandle`]) and stays readable, so every watcher sees it.
pub struct StopSignal {
    pub(crate) rx: UnixStream,
}

/// Requests a stop; cloneable through [`StopHandle::try_clone`].
pub struct StopHandle {
    tx: UnixStream,
}

impl StopHandle {
    pub fn stop(&self) {
        // Non-blocking: a full pipe already holds a stop request.
        let _ = (&self.tx).write(&[1]);
    }

    pub fn try_clone(&self) -> io::Result<StopHandle> {
        Ok(StopHandle {
            tx: self.tx.try_clone()?,
        })
    }
}

impl StopSignal {
    /// A fresh signal and the handle that fires it.
    pub fn new() -> io::Result<(StopHandle, StopSignal)> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        Ok((StopHandle { tx }, StopSignal { rx }))
    }

    /// A fresh signal that SIGTERM and SIGINT fire.
    pub fn on_signals() -> io::Result<(StopHandle, StopSignal)> {
        let (handle, signal) = Self::new()?;
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::low_level::pipe::register(sig, handle.tx.try_clone()?)?;
        }
        Ok((handle, signal))
    }

    /// The readable end, for a runtime's own readiness mechanism.
    pub fn into_stream(self) -> UnixStream {
        self.rx
    }

    pub fn stream(&self) -> &UnixStream {
        &self.rx
    }
}
