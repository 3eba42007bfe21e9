//! What every service that logs users in shares, whatever its protocol: the outcome
//! of a login, whether a plaintext password may cross this connection, and SASL
//! decoding. Protocol modules import this, never each other.

pub(crate) mod sasl;

use crate::config::PlaintextAuth;
use std::net::IpAddr;

/// Facts about a client connection that the driver knows and a mail-reading session
/// (POP3, IMAP) cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub peer_ip: IpAddr,
    /// Unique per connection; also makes APOP and CRAM-MD5 challenges unique.
    pub session_id: String,
    /// The connection is already encrypted (implicit TLS: ports 995, 993).
    pub tls_active: bool,
    /// STLS / STARTTLS may be offered (the runtime has a certificate).
    pub tls_available: bool,
}

/// The outcome of a login attempt, shared by every service that logs users in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Right; the canonical account name.
    Ok(String),
    /// Wrong name or password (never says which).
    Invalid,
    /// Locked after too many failures (§4.3.1); the password was not checked.
    Locked,
    /// The method cannot be used for this account (e.g. APOP without a stored secret).
    Unavailable,
    /// Right, but the account already holds as many connections as it may (IMAP's
    /// per-user limit); nothing was opened.
    TooManyConnections,
}

/// `Debug` of a login: the user is shown, the password never, so logging an event or
/// a setting cannot write a secret.
pub fn debug_login(f: &mut std::fmt::Formatter<'_>, name: &str, user: &str) -> std::fmt::Result {
    f.debug_struct(name)
        .field("user", &user)
        .field("password", &"<redacted>")
        .finish()
}

/// Loopback, private (RFC 1918), link-local, and IPv6 unique-local addresses.
pub fn is_lan(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

/// May a password be sent in the clear on this connection (`plaintext_auth` of the
/// service's section)? Always once the connection is encrypted.
pub fn plaintext_allowed(policy: PlaintextAuth, peer_ip: IpAddr, tls_active: bool) -> bool {
    tls_active
        || match policy {
            PlaintextAuth::Always => true,
            PlaintextAuth::Lan => is_lan(peer_ip),
            PlaintextAuth::Never => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_addresses() {
        for lan in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(is_lan(lan.parse().unwrap()), "{lan}");
        }
        for wan in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!is_lan(wan.parse().unwrap()), "{wan}");
        }
    }
}
