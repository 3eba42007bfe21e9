//! Connection limits (`[limits]`, docs/DEFENSE.md): connections at once per service
//! and per client address within a service, so a flood from one address cannot
//! starve the office. One [`ConnCounts`] serves every listener of both runtimes; the
//! runtime asks [`ConnCounts::admit`] after each accept and calls
//! [`ConnCounts::release`] when the session ends.

use crate::config::ConnLimit;
use std::collections::HashMap;
use std::net::IpAddr;

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The service has `max_connections` already.
    Service,
    /// This address has `max_per_client` already.
    Client,
}

#[derive(Debug, Default, Clone)]
struct Service {
    total: u32,
    per_client: HashMap<IpAddr, u32>,
}

/// Open connections by service key (`smtp`, `pop3`, …) and client address.
#[derive(Debug, Default, Clone)]
pub struct ConnCounts {
    services: HashMap<String, Service>,
}

impl ConnCounts {
    pub fn new() -> ConnCounts {
        ConnCounts::default()
    }

    /// Count a new connection from `ip` to `service` if `limit` allows it (0 = no
    /// cap). Every `Ok` must be matched by one [`ConnCounts::release`].
    pub fn admit(&mut self, service: &str, ip: IpAddr, limit: ConnLimit) -> Result<(), Busy> {
        let ip = ip.to_canonical();
        let s = match self.services.get_mut(service) {
            Some(s) => s,
            None => self.services.entry(service.to_string()).or_default(),
        };
        if limit.max_connections != 0 && s.total >= limit.max_connections {
            return Err(Busy::Service);
        }
        let mine = s.per_client.get(&ip).copied().unwrap_or(0);
        if limit.max_per_client != 0 && mine >= limit.max_per_client {
            return Err(Busy::Client);
        }
        s.total += 1;
        s.per_client.insert(ip, mine + 1);
        Ok(())
    }

    /// A connection [`ConnCounts::admit`] counted has ended.
    pub fn release(&mut self, service: &str, ip: IpAddr) {
        let ip = ip.to_canonical();
        let Some(s) = self.services.get_mut(service) else {
            return;
        };
        if let Some(n) = s.per_client.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.per_client.remove(&ip);
            }
            s.total = s.total.saturating_sub(1);
        }
    }

    /// Connections open to `service` (from `ip`, if given).
    pub fn open(&self, service: &str, ip: Option<IpAddr>) -> u32 {
        let Some(s) = self.services.get(service) else {
            return 0;
        };
        match ip {
            Some(ip) => s.per_client.get(&ip.to_canonical()).copied().unwrap_or(0),
            None => s.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const LIMIT: ConnLimit = ConnLimit {
        max_connections: 3,
        max_per_client: 2,
    };

    #[test]
    fn caps_per_client_and_per_service() {
        let mut c = ConnCounts::new();
        assert_eq!(c.admit("smtp", ip("192.0.2.1"), LIMIT), Ok(()));
        assert_eq!(c.admit("smtp", ip("::ffff:192.0.2.1"), LIMIT), Ok(()));
        // The same client as IPv4 or mapped IPv6: its third is refused.
        assert_eq!(c.admit("smtp", ip("192.0.2.1"), LIMIT), Err(Busy::Client));
        // Another client is served, other services are counted apart.
        assert_eq!(c.admit("smtp", ip("192.0.2.2"), LIMIT), Ok(()));
        assert_eq!(c.admit("pop3", ip("192.0.2.1"), LIMIT), Ok(()));
        // The service is full now.
        assert_eq!(c.admit("smtp", ip("192.0.2.3"), LIMIT), Err(Busy::Service));
        c.release("smtp", ip("192.0.2.1"));
        assert_eq!(c.open("smtp", None), 2);
        assert_eq!(c.admit("smtp", ip("192.0.2.3"), LIMIT), Ok(()));
        assert_eq!(c.open("smtp", Some(ip("192.0.2.1"))), 1);
    }

    #[test]
    fn zero_means_no_cap_and_stray_releases_change_nothing() {
        let mut c = ConnCounts::new();
        let none = ConnLimit {
            max_connections: 0,
            max_per_client: 0,
        };
        for _ in 0..1000 {
            assert_eq!(c.admit("smtp", ip("192.0.2.1"), none), Ok(()));
        }
        c.release("pass", ip("192.0.2.1"));
        c.release("smtp", ip("192.0.2.9"));
        assert_eq!(c.open("smtp", None), 1000);
        for _ in 0..1000 {
            c.release("smtp", ip("192.0.2.1"));
        }
        assert_eq!(c.open("smtp", None), 0);
        assert!(c.services["smtp"].per_client.is_empty());
    }
}
