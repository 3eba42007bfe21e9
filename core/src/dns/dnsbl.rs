//! DNS blocklists (§11.3, SMTP-11): the name to ask for a client in a zone, and what
//! an answer means. The runtime sends the questions through its resolver and cache.

use super::{Cached, Rdata};
use std::fmt::Write as _;
use std::net::IpAddr;

/// The name listing `ip` in `zone`: the address reversed (IPv4 octets, IPv6 nibbles,
/// as in-addr.arpa and ip6.arpa) in front of the zone. `192.0.2.7` in
/// `zen.example` is `7.2.0.192.zen.example`.
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    let mut name = String::with_capacity(80 + zone.len());
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            for octet in v4.octets().iter().rev() {
                let _ = write!(name, "{octet}.");
            }
        }
        IpAddr::V6(v6) => {
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
            }
        }
    }
    name.push_str(zone);
    name
}

/// Whether a cached A lookup of [`query_name`] lists the client. Lists answer with
/// addresses in 127.0.0.0/8; `127.255.255.0/24` are Spamhaus's error codes (query
/// refused, rate limited) and anything outside 127/8 is a wildcarding resolver, not a
/// listing, so neither refuses mail.
pub fn listed(answer: &Cached) -> bool {
    let Cached::Records(records) = answer else {
        return false;
    };
    records.iter().any(|r| match r {
        Rdata::A(a) => {
            let o = a.octets();
            o[0] == 127 && !(o[1] == 255 && o[2] == 255)
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn reversed_names() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(query_name(v4, "zen.example."), "7.2.0.192.zen.example");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(query_name(mapped, "zen.example"), "7.2.0.192.zen.example");
        // RFC 5782 §2.4's example.
        let v6: IpAddr = "2001:db8:1:2:3:4:567:89ab".parse().unwrap();
        assert_eq!(
            query_name(v6, "ugly.example.com"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"
        );
    }

    #[test]
    fn what_counts_as_listed() {
        let a = |s: &str| Cached::Records(vec![Rdata::A(s.parse::<Ipv4Addr>().unwrap())]);
        assert!(listed(&a("127.0.0.2")));
        assert!(listed(&a("127.0.0.10")));
        assert!(!listed(&a("127.255.255.254")));
        assert!(!listed(&a("192.0.2.1")));
        assert!(!listed(&Cached::NxDomain));
        assert!(!listed(&Cached::NoData));
    }
}
