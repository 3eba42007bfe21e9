//! One outgoing SMTP connection without the socket: the [`SmtpClient`] machine in the
//! shared [`Conn`] pump, which holds encryption and the STARTTLS switch for both runtimes.

use crate::net::pump::Conn;
use mailroom_core::smtp::client::{ClientSettings, SmtpClient};
use mailroom_core::Instant;
use std::sync::Arc;

pub type ClientConn = Conn<SmtpClient>;

/// A session to `server_name` (a host name or an IP address, used for the TLS
/// certificate check). Without `tls_config` STARTTLS is never used.
pub fn client_conn(
    now: Instant,
    mut settings: ClientSettings,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    server_name: &str,
) -> ClientConn {
    settings.tls_available = tls_config.is_some();
    Conn::client(now, SmtpClient::new(now, settings), tls_config, server_name)
}
