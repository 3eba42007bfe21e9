//! VPOP3 access restriction files (`SMTPALLOWED.DAT` and friends, §11.9.1).
//!
//! ```text
//! # comment
//! 192.168.1.0 255.255.255.0 fred bob     allow this range, only for fred and bob
//! 10.0.0.0/8 noauth                      allow; SMTP clients here need no AUTH to relay
//! !192.168.17.5                          deny one address
//! 2001:db8::/32                          IPv6 ranges too
//! 0.0.0.0 0.0.0.0                        allow everyone (also `!0.0.0.0 0.0.0.0`, see below)
//! ```
//!
//! First matching line wins; no lines = everyone allowed; any lines = an implicit deny
//! after the last. A zero-length prefix (`0.0.0.0 0.0.0.0`, `0.0.0.0/0`, `::/0`) matches
//! every address, IPv4 and IPv6: the manual's "allow all IP addresses" line means
//! everyone. The manual writes that line as `!0.0.0.0 0.0.0.0`, which is a misprint
//! (DECISIONS.md): that exact line is read as "allow everyone", with a warning.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::accounts::check_name;

/// One parsed access file. Empty = everyone allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    pub rules: Vec<AccessRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub deny: bool,
    pub network: IpAddr,
    pub prefix_len: u8,
    /// Lower-cased user names this line is restricted to; empty = anyone.
    pub users: Vec<String>,
    /// SMTP only: clients in this range need no authentication to relay.
    pub noauth: bool,
    /// 1-based line in the file, for messages.
    pub line: usize,
}

/// The outcome of checking an address against an [`AccessList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessVerdict {
    pub allowed: bool,
    /// The matching line carried `noauth`.
    pub noauth: bool,
}

/// One access list per service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFiles {
    pub smtp: AccessList,
    pub pop3: AccessList,
    pub imap: AccessList,
    pub http: AccessList,
    pub pass: AccessList,
    /// FINGERALLOWED.DAT and LDAPALLOWED.DAT (§11.4, §11.5): checked at connect.
    pub finger: AccessList,
    pub ldap: AccessList,
    /// The LAN forwarding rules of `SMTPFWD.DAT` (§13.3), read with the access files
    /// because the router consults them too (MAP-7: `~@domain` for unknown local users).
    pub lan_rules: Vec<crate::outbound::LanRule>,
    /// The SMTP rules of `SMTPRULES.TXT` (§8.2), carried here so a reload swaps them
    /// whole with the rest of the snapshot.
    pub smtp_rules: crate::smtprules::SmtpRules,
}

/// A line that cannot be understood; the whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct AccessError {
    pub line: usize,
    pub message: String,
}

/// A line that was understood, but probably not as its author meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct AccessWarning {
    pub line: usize,
    pub message: String,
}

impl AccessList {
    /// Parse an access file's text. Every bad line is reported, not just the first.
    pub fn parse(text: &str) -> Result<(AccessList, Vec<AccessWarning>), Vec<AccessError>> {
        let mut rules = Vec::new();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            match parse_line(raw, line, &mut warnings) {
                Ok(Some(rule)) => rules.push(rule),
                Ok(None) => {}
                Err(message) => errors.push(AccessError { line, message }),
            }
        }
        if errors.is_empty() {
            Ok((AccessList { rules }, warnings))
        } else {
            Err(errors)
        }
    }

    /// Check `ip` (and, where the service knows it, the user) against the list.
    /// First matching line wins; no lines = allowed; any lines = implicit deny after
    /// the last. A line with user names only matches when `user` is one of them.
    pub fn check(&self, ip: IpAddr, user: Option<&str>) -> AccessVerdict {
        if self.rules.is_empty() {
            return AccessVerdict {
                allowed: true,
                noauth: false,
            };
        }
        let ip = unmap(ip);
        for rule in &self.rules {
            if !rule.covers(ip) {
                continue;
            }
            if !rule.users.is_empty() {
                let named =
                    user.is_some_and(|u| rule.users.iter().any(|r| r.eq_ignore_ascii_case(u)));
                if !named {
                    continue;
                }
            }
            return AccessVerdict {
                allowed: !rule.deny,
                noauth: rule.noauth && !rule.deny,
            };
        }
        AccessVerdict {
            allowed: false,
            noauth: false,
        }
    }

    /// Whether a client at `ip` may connect before it has said who it is: some user
    /// could be let in. Lines naming users do not refuse anyone yet; the login check
    /// ([`AccessList::check`] with the user) decides for them.
    pub fn may_connect(&self, ip: IpAddr) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        let ip = unmap(ip);
        for rule in self.rules.iter().filter(|r| r.covers(ip)) {
            match (rule.users.is_empty(), rule.deny) {
                (true, deny) => return !deny,
                (false, false) => return true,
                // Some users are refused here; others may match a later line.
                (false, true) => {}
            }
        }
        false
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

impl AccessRule {
    /// Whether `ip` (already unmapped) lies in this rule's range.
    fn covers(&self, ip: IpAddr) -> bool {
        if self.prefix_len == 0 {
            return true;
        }
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                masked(ip, self.prefix_len) == self.network
            }
            _ => false,
        }
    }
}

/// A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`; rules are written in IPv4.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn parse_line(
    raw: &str,
    line: usize,
    warnings: &mut Vec<AccessWarning>,
) -> Result<Option<AccessRule>, String> {
    // VPOP3 only knows whole-line comments; a trailing `# ...` is allowed too since no
    // address or user name can contain '#'.
    let text = raw.split('#').next().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (mut deny, rest) = match text.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, text),
    };
    let mut words = rest.split_whitespace().peekable();
    let Some(first) = words.next() else {
        return Err("'!' must be followed by an address or range".into());
    };

    let (network, prefix_len, dotted_mask) = if let Some((addr, len)) = first.split_once('/') {
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{len:?} is not a prefix length (0 to {max})"))?;
        (addr, len, false)
    } else {
        let addr: IpAddr = first.parse().map_err(|_| {
            format!("{first:?} is not an IP address, a range like 192.168.1.0 255.255.255.0, or CIDR like 192.168.1.0/24")
        })?;
        match (addr, words.peek().and_then(|w| w.parse::<Ipv4Addr>().ok())) {
            (IpAddr::V4(_), Some(mask)) => {
                words.next();
                let len = mask_len(mask).ok_or_else(|| {
                    format!("{mask} is not a subnet mask (its 1 bits must come first, like 255.255.255.0)")
                })?;
                (addr, len, true)
            }
            (IpAddr::V4(_), None) => (addr, 32, false),
            (IpAddr::V6(_), _) => (addr, 128, false),
        }
    };

    let network = masked(network, prefix_len);
    if network != first_addr(first) {
        warnings.push(AccessWarning {
            line,
            message: format!(
                "{} has bits set outside the mask; read as {network}/{prefix_len}",
                first_addr(first)
            ),
        });
    }

    if deny && dotted_mask && prefix_len == 0 && network == IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
        deny = false;
        warnings.push(AccessWarning {
            line,
            message: "`!0.0.0.0 0.0.0.0` is read as \"allow everyone\", as the VPOP3 manual \
                      intends; write `0.0.0.0 0.0.0.0` to say so without this warning, or \
                      delete the line to deny everyone not listed above"
                .into(),
        });
    }

    let mut users = Vec::new();
    let mut noauth = false;
    for w in words {
        if w.eq_ignore_ascii_case("noauth") {
            noauth = true;
        } else {
            let name = check_name(w).map_err(|e| format!("user {w:?}: {e}"))?;
            if !users.contains(&name) {
                users.push(name);
            }
        }
    }

    Ok(Some(AccessRule {
        deny,
        network,
        prefix_len,
        users,
        noauth,
        line,
    }))
}

/// The address part of the first word as written (before any `/len`).
fn first_addr(first: &str) -> IpAddr {
    first
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn mask_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    // Contiguous: after the leading ones, nothing but zeros.
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

fn masked(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32u32.saturating_sub(len.into()))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128u32.saturating_sub(len.into()))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_len("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(mask_len("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(mask_len("255.255.255.255".parse().unwrap()), Some(32));
        assert_eq!(mask_len("255.0.255.0".parse().unwrap()), None);
        assert_eq!(mask_len("0.255.255.255".parse().unwrap()), None);
    }
}
