//! `[ids]` and `[limits]`: the IDS/IPS block list and the connection limits of every
//! service (issue 16, docs/DEFENSE.md). The evaluators are `crate::ids` and
//! `crate::connlimit`.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address or a CIDR range, written `"192.0.2.7"`, `"10.0.0.0/8"` or `"2001:db8::/32"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl Cidr {
    /// Whether `ip` lies in the range; an IPv4 address seen as `::ffff:a.b.c.d` by a
    /// dual-stack socket is compared as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let t = s.trim();
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Cidr(IpNet::from(ip)));
        }
        t.parse::<IpNet>()
            .map(|n| Cidr(n.trunc()))
            .map_err(|_| format!("{s:?} is not an address or a range like 10.0.0.0/8"))
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[ids]`: addresses that keep making client errors are refused at connect for a
/// while (seed 002's IDS/IPS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ids {
    pub enabled: bool,
    /// Client errors within `window` that put an address on the block list.
    pub block_after: u32,
    /// How long an address stays on the block list.
    pub block_minutes: u32,
    /// Errors further apart than this do not add up.
    pub window_minutes: u32,
    /// Never blocked, whatever they do (and not looked up in DNS blocklists).
    pub never_block: Vec<Cidr>,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            enabled: true,
            block_after: 10,
            block_minutes: 60,
            window_minutes: 60,
            // Loopback only (fail2ban's `ignoreip` default): the server's own tools
            // and tests. An office adds its LAN (docs/DEFENSE.md).
            never_block: vec![
                Cidr(IpNet::V4(Ipv4Net::new_assert(
                    Ipv4Addr::new(127, 0, 0, 0),
                    8,
                ))),
                Cidr(IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128))),
            ],
        }
    }
}

impl Ids {
    /// Whether `ip` is on the never-block list.
    pub fn never_blocked(&self, ip: IpAddr) -> bool {
        self.never_block.iter().any(|c| c.contains(ip))
    }
}

/// Connection caps of one service. 0 = no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimit {
    /// Connections at once to the service, from everyone.
    pub max_connections: u32,
    /// Connections at once to the service from one client address.
    pub max_per_client: u32,
}

impl Default for ConnLimit {
    fn default() -> Self {
        ConnLimit {
            max_connections: 100,
            max_per_client: 10,
        }
    }
}

/// `[limits]`: the caps every service gets, and per-service overrides keyed by the
/// `[services]` key (`[limits.smtp]`, `[limits.pop3]`, `[limits.imap]` …).
// No `deny_unknown_fields`: serde cannot combine it with `flatten`; validation names
// a table that is no service instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub max_connections: u32,
    pub max_per_client: u32,
    #[serde(flatten)]
    pub services: BTreeMap<String, ServiceLimit>,
}

/// `[limits.KEY]`: one service's caps; a key left out is the section's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceLimit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_client: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        let d = ConnLimit::default();
        Limits {
            max_connections: d.max_connections,
            max_per_client: d.max_per_client,
            services: BTreeMap::new(),
        }
    }
}

impl Limits {
    /// The caps of the service listening under `[services].key`.
    pub fn of(&self, key: &str) -> ConnLimit {
        let own = self.services.get(key).copied().unwrap_or_default();
        ConnLimit {
            max_connections: own.max_connections.unwrap_or(self.max_connections),
            max_per_client: own.max_per_client.unwrap_or(self.max_per_client),
        }
    }
}
