//! SMTP: the server session (RFC 5321 + extensions), its codecs and its policy.
//!
//! The types in this file are the contract with the runtimes: a driver creates an
//! [`SmtpServer`] per connection, feeds it bytes, and answers its [`SmtpEvent`]s with
//! [`SmtpCommand`]s.

pub mod client;
pub(crate) mod codec;
mod command;
pub mod etrn_client;
pub mod policy;
pub mod received;
mod reply;
mod server;

pub use reply::Refusal;
pub use server::{SmtpServer, ABSOLUTE_MAX_MESSAGE, MAX_PENDING_INPUT};

use std::net::IpAddr;

/// Facts about the connection that the driver knows and the session cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub peer_ip: IpAddr,
    /// Unique per connection (the driver's counter or random token); used in the
    /// `Received:` id and in logs, suffixed with a per-message sequence.
    pub session_id: String,
    /// The connection is already encrypted (implicit TLS, port 465).
    pub tls_active: bool,
    /// STARTTLS may be offered (the runtime has a certificate).
    pub tls_available: bool,
    /// POP-before-SMTP: this IP logged in to POP3 recently enough (§11.3).
    pub pop_before_smtp: bool,
    /// Local time minus UTC, in seconds, at the start of the session: SMTP rules'
    /// `TimeNow:` and `DayNow:` are local time (§8.2.4.3), and core reads no clock or
    /// zone. 0 = UTC.
    pub local_offset_secs: i32,
}

/// An event the driver must act on. `Debug` leaves the password out, so logging an
/// event never writes a secret.
#[derive(PartialEq, Eq)]
pub enum SmtpEvent {
    /// Verify a password (slow: argon2). Answer with [`SmtpCommand::AuthResult`].
    Authenticate { user: String, password: String },
    /// Verify an RFC 2195 CRAM-MD5 response: `digest` (lower-case hex) must be
    /// HMAC-MD5 of `challenge` keyed with the account's challenge-response secret.
    /// Answer with [`SmtpCommand::AuthResult`].
    AuthenticateCram {
        user: String,
        challenge: String,
        digest: String,
    },
    /// A whole message was received. Make it durable (every local mailbox and the
    /// outbound spool, fsynced), then answer with [`SmtpCommand::DeliveryResult`].
    /// The 250 is sent only after that answer.
    Deliver(Box<Delivery>),
    /// `ETRN` for a domain held here (`[smtp] etrn_domains`): start delivering its
    /// queued mail to its server, then answer with [`SmtpCommand::EtrnResult`].
    Etrn { domain: String },
    /// An SMTP rule fired (§8.2): write it to the SMTP rules log, then answer with
    /// [`SmtpCommand::RuleLogged`]. The reply it caused is already written.
    RuleFired(Box<crate::smtprules::Activation>),
    /// Look the client up in the `[smtp] dnsbl` zones (§11.3), within
    /// `[smtp] dnsbl_timeout`, then answer with [`SmtpCommand::DnsblResult`]. Asked
    /// once per session, at the first MAIL of a client that has not authenticated.
    Dnsbl { ip: std::net::IpAddr },
    /// The whole message of an unauthenticated client is there (`[mailauth]`): run
    /// the SPF, DKIM and DMARC checks (docs/MAILAUTH.md), then answer with
    /// [`SmtpCommand::AuthChecked`]. The SMTP rules and the store come after.
    CheckAuth(Box<AuthRequest>),
}

/// What the mail authentication checks need from the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub id: String,
    pub client_ip: IpAddr,
    pub helo: String,
    /// Reverse path (`None` = `<>`).
    pub mail_from: Option<String>,
    /// The message as received, without this server's `Received:` line.
    pub message: Vec<u8>,
}

/// The checks' outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAnswer {
    /// The `Authentication-Results:` field to add, with its line end.
    pub header: String,
    pub verdict: crate::mailauth::Verdict,
    /// The reply text when the verdict refuses the message.
    pub refusal: String,
}

impl AuthAnswer {
    /// No checks made: nothing added, delivered as usual (drivers without DNS: the
    /// simulation, benchmarks).
    pub fn unchecked() -> AuthAnswer {
        AuthAnswer {
            header: String::new(),
            verdict: crate::mailauth::Verdict::Deliver,
            refusal: String::new(),
        }
    }
}

impl std::fmt::Debug for SmtpEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmtpEvent::Authenticate { user, .. } => {
                crate::auth::debug_login(f, "Authenticate", user)
            }
            SmtpEvent::AuthenticateCram { user, .. } => f
                .debug_struct("AuthenticateCram")
                .field("user", user)
                .finish_non_exhaustive(),
            SmtpEvent::Deliver(d) => f.debug_tuple("Deliver").field(d).finish(),
            SmtpEvent::Etrn { domain } => f.debug_struct("Etrn").field("domain", domain).finish(),
            SmtpEvent::RuleFired(a) => f.debug_tuple("RuleFired").field(a).finish(),
            SmtpEvent::Dnsbl { ip } => f.debug_struct("Dnsbl").field("ip", ip).finish(),
            SmtpEvent::CheckAuth(r) => f
                .debug_struct("CheckAuth")
                .field("id", &r.id)
                .field("client_ip", &r.client_ip)
                .field("mail_from", &r.mail_from)
                .finish_non_exhaustive(),
        }
    }
}

/// The driver's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpCommand {
    /// `Some(canonical account name)` if the password was right.
    AuthResult(Option<String>),
    DeliveryResult(Result<(), DeliveryError>),
    /// How many held messages delivery was started for, or why it could not start.
    EtrnResult(Result<usize, String>),
    /// The answer to [`SmtpEvent::RuleFired`] (logged, or the failure logged elsewhere).
    RuleLogged,
    /// The answer to [`SmtpEvent::Dnsbl`]: the zone that lists the client, or `None`
    /// (not listed, or no answer in time: blocklists fail open).
    DnsblResult(Option<String>),
    /// The answer to [`SmtpEvent::CheckAuth`].
    AuthChecked(Box<AuthAnswer>),
}

/// Why a message could not be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// 4xx (try again later) rather than 5xx.
    pub temporary: bool,
    pub text: String,
}

/// A message ready for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `<session_id>.<n>`: the id in the `Received:` line, and the spool/log id.
    pub id: String,
    pub envelope: Envelope,
    /// The message as submitted (dot-unstuffed, CRLF line ends), preceded by the one
    /// `Received:` line this server added.
    pub data: Vec<u8>,
    /// File it into the local recipients' Junk folders, not INBOX (a failed DMARC
    /// policy with `[mailauth] dmarc_* = "junk"`).
    pub junk: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Reverse path as given (`None` = the null sender `<>`).
    pub mail_from: Option<String>,
    pub recipients: Vec<Recipient>,
    pub helo: String,
    pub client_ip: IpAddr,
    /// The account that authenticated, if any.
    pub auth_user: Option<String>,
    /// `BODY=8BITMIME` or `SMTPUTF8` was given.
    pub eight_bit: bool,
    /// DSN (RFC 3461) `RET=` and `ENVID=` from MAIL FROM, as given.
    pub dsn_ret: Option<String>,
    pub dsn_envid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Forward path as given.
    pub address: String,
    pub route: Route,
    /// DSN (RFC 3461) `NOTIFY=` and `ORCPT=` from RCPT TO, as given.
    pub dsn_notify: Option<String>,
    pub dsn_orcpt: Option<String>,
}

/// Where a recipient accepted at RCPT goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Into this local account's mailbox.
    Local(String),
    /// Out through the queue (relay or direct).
    Remote,
    /// Accepted although unknown (reject_unknown_local = false): the driver queues a
    /// bounce to the sender instead of a delivery.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::SmtpEvent;

    #[test]
    fn debug_output_hides_the_password() {
        let ev = SmtpEvent::Authenticate {
            user: "alice".into(),
            password: "s3cret-pw".into(),
        };
        let shown = format!("{ev:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
    }
}
