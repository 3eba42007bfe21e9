//! `[[dkim]]` (signing keys) and `[mailauth]` (checks on incoming SMTP): issue 19,
//! docs/MAILAUTH.md.

use serde::{Deserialize, Serialize};

/// `[[dkim]]`: sign mail from `domain` (and its subdomains) leaving by Out Mail with
/// the key in `key` (a PEM file, relative to the data directory), published at
/// `<selector>._domainkey.<domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    pub domain: String,
    pub selector: String,
    pub key: String,
}

/// What a message whose DMARC check failed gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcAction {
    /// Refused at the end of DATA (550 5.7.1; 451 4.7.5 when DNS could not decide).
    Reject,
    /// Delivered as usual; only the `Authentication-Results:` field says so.
    Mark,
    /// Delivered into each local recipient's Junk folder (the one with the `\Junk`
    /// SPECIAL-USE; INBOX for an account without one), marked as well.
    Junk,
}

/// `[mailauth]`: SPF, DKIM and DMARC checks on unauthenticated incoming SMTP mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailAuth {
    /// Check incoming mail and add `Authentication-Results:`.
    pub enabled: bool,
    /// Clients whose mail is not checked (`ip` or `ip/prefix`): the office's own
    /// machines. Default: loopback and the private (LAN) ranges, since an office PC
    /// sending as its own domain from a LAN address fails SPF, and would fail that
    /// domain's own DMARC policy. (OpenDKIM's default is 127.0.0.1 alone.)
    pub skip: Vec<String>,
    /// For a From domain publishing `p=reject`.
    pub dmarc_reject: DmarcAction,
    /// For a From domain publishing `p=quarantine`.
    pub dmarc_quarantine: DmarcAction,
}

impl Default for MailAuth {
    fn default() -> Self {
        MailAuth {
            enabled: true,
            skip: [
                "127.0.0.0/8",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "169.254.0.0/16",
                "::1",
                "fc00::/7",
                "fe80::/10",
            ]
            .map(String::from)
            .to_vec(),
            dmarc_reject: DmarcAction::Reject,
            dmarc_quarantine: DmarcAction::Mark,
        }
    }
}

impl MailAuth {
    /// Whether mail from `ip` is skipped (unparsable entries are reported by the
    /// configuration checks and match nothing here).
    pub fn skips(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.skip.iter().any(|s| match parse_net(s) {
            Some((net, len)) => crate::mailauth::spf::in_net(ip, net, len),
            None => false,
        })
    }
}

/// `ip` or `ip/prefix`.
pub fn parse_net(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (a, l) = match s.trim().split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s.trim(), None),
    };
    let ip: std::net::IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = l.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

impl DmarcAction {
    pub fn word(self) -> &'static str {
        match self {
            DmarcAction::Reject => "reject",
            DmarcAction::Mark => "mark",
            DmarcAction::Junk => "junk",
        }
    }
}
