//! One outgoing SMTP connection without the socket: the [`SmtpClient`] machine in the
//! shared [`Pump`], which holds encryption and the STARTTLS switch for both runtimes.

use crate::net::pump::Pump;
use crate::net::transcript::Kind;
use mailroom_core::smtp::client::{ClientSettings, SmtpClient};
use mailroom_core::Instant;
use std::sync::Arc;

pub type ClientPump = Pump<SmtpClient>;

/// A session to `server_name` (a host name or an IP address, used for the TLS
/// certificate check). Without `tls_config` STARTTLS is never used.
pub fn client_pump(
    now: Instant,
    mut settings: ClientSettings,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    server_name: &str,
) -> ClientPump {
    settings.tls_available = tls_config.is_some();
    let mut p = Pump::client(now, SmtpClient::new(now, settings), tls_config, server_name);
    let id = crate::net::pump::new_session_id(now);
    p.set_transcript(crate::net::transcript::open(Kind::SmtpClient, &id));
    p
}
