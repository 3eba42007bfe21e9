//! `[outbound]`, `[dns]` and `[lan_forward]`: how queued mail leaves (§6.4, §6.4.4,
//! §13.3). The per-connection Out Mail settings are in [`super::OutMail`];
//! docs/OUTBOUND.md explains the whole model.

use super::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// §6.4 "SMTP Direct Global settings": which delay warnings are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningPolicy {
    /// "Don't send delivery warnings (only errors)".
    None,
    /// "Only send one warning per target domain per day".
    OncePerDomainPerDay,
    /// "Always send delivery warnings": one per message, when it first passes
    /// `warn_after`. The manual recommends it for a normal mail server.
    #[default]
    Always,
}

/// `[outbound]`: the queue's retry policy and limits, for every Out Mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    /// "MX Routing Retry": time before a recipient that failed temporarily is tried
    /// again (at the next run of its connection after that).
    pub retry: Span,
    /// A message still not delivered this long after it was queued gets a delay
    /// warning (per `warnings`).
    pub warn_after: Span,
    /// A recipient still not delivered this long after its message was queued is
    /// given up and bounced.
    pub bounce_after: Span,
    pub warnings: WarningPolicy,
    /// "MX Sending Threads": SMTP sessions at once, all Out Mails together.
    pub max_sessions: u32,
    /// Sessions at once to one destination (a relay list, or one recipient domain).
    pub per_destination: u32,
    /// Longest wait for a TCP connection to a relay or MX host.
    pub connect_timeout: Span,
    /// Longest wait for any SMTP reply (RFC 5321 §4.5.3.2 asks for 5 minutes).
    pub timeout: Span,
    /// Longest wait for the reply to the end of the message data (RFC 5321: 10 min).
    pub data_timeout: Span,
    /// The name sent in EHLO/HELO; default: `hostname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo_name: Option<String>,
    /// The port of MX hosts (SMTP Direct). Always 25 on the Internet; other values are
    /// for tests and private networks.
    pub direct_port: u16,
    /// §16.1.2 "Transmission Receipt Header fields": a message with one of these
    /// header fields gets a receipt, sent to the address in the field, once it has
    /// been handed on (the remote server's 250). Empty: no transmission receipts.
    pub transmission_receipt_headers: Vec<String>,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            retry: Span::mins(15),
            warn_after: Span::mins(4 * 60),
            bounce_after: Span::mins(3 * 24 * 60),
            warnings: WarningPolicy::Always,
            max_sessions: 10,
            per_destination: 2,
            connect_timeout: Span::secs(30),
            timeout: Span::mins(5),
            data_timeout: Span::mins(10),
            helo_name: None,
            direct_port: 25,
            transmission_receipt_headers: vec!["Return-Receipt-To".into()],
        }
    }
}

/// `[dns]`: the resolvers used for SMTP Direct (§6.4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    /// `ip` or `ip:port` of the DNS servers; empty = the `nameserver` lines of
    /// /etc/resolv.conf.
    pub servers: Vec<String>,
    /// Longest wait for one answer from one server.
    pub timeout: Span,
    /// Rounds over the server list before a lookup fails temporarily.
    pub attempts: u32,
    /// "DNS Cache Size": entries kept.
    pub cache_size: u32,
    /// "DNS Cache Expiry": an entry is kept for its TTL, but never longer than this.
    pub cache_max_ttl: Span,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            servers: Vec::new(),
            timeout: Span::secs(5),
            attempts: 2,
            cache_size: 1000,
            cache_max_ttl: Span::mins(60),
        }
    }
}

/// `[lan_forward]`: the LAN forwarding queue (§13.3); the rules are in SMTPFWD.DAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanForward {
    /// "LAN Forwarding Retry Frequency".
    pub retry: Span,
    /// "LAN Forwarding time before failure".
    pub fail_after: Span,
    /// "Maximum number of LAN Forwarding threads".
    pub threads: u32,
    /// "LAN Forwarding thread rules": most sessions at once to a target
    /// (`"192.168.1.1:1025" = 5`). Others get `per_target`.
    pub limits: BTreeMap<String, u32>,
    /// Sessions at once to a target without its own limit.
    pub per_target: u32,
}

impl Default for LanForward {
    fn default() -> Self {
        LanForward {
            retry: Span::mins(10),
            fail_after: Span::mins(72 * 60),
            threads: 10,
            limits: BTreeMap::new(),
            per_target: 2,
        }
    }
}

/// Order in which a run sends its messages (§6.4.1 "Send smaller messages first").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendOrder {
    #[default]
    SmallerFirst,
    /// Oldest first.
    Arrival,
}

/// §6.4.2.2 "SMTP Return Address Modifiers" (absent = "Use Default").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ReturnAddress {
    /// "Always set to the address".
    Always(String),
    /// "Set non-local return addresses to": senders outside `local_domains` are
    /// replaced.
    NonLocal(String),
}

/// STARTTLS when sending (OUT-6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutTls {
    /// Use STARTTLS when the server offers it; send in the clear when it does not.
    #[default]
    Opportunistic,
    /// Refuse to send (temporary failure) unless STARTTLS succeeds.
    Required,
    /// Never use STARTTLS.
    Off,
}

/// Whether the server's certificate is checked when STARTTLS is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsVerify {
    /// Relays: verified (the system's CA bundle, or `ca_file`). MX hosts: not verified
    /// (opportunistic TLS, RFC 7435: encryption without authentication is still
    /// better than none, and most MX certificates do not name the MX host).
    #[default]
    Auto,
    Always,
    Never,
}
