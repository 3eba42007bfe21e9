//! The DNS cache (§6.4 "DNS Cache Size", "DNS Cache Expiry"): answers kept for their
//! TTL, never longer than the configured expiry, at most a configured number of
//! entries. Time is passed in; nothing here reads a clock.

use super::message::{Rcode, Rdata, RecordKind};
use crate::Instant;
use std::collections::HashMap;
use std::time::Duration;

/// What a cached lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    Records(Vec<Rdata>),
    /// The name does not exist.
    NxDomain,
    /// The name exists without records of the kind.
    NoData,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Cached,
    expires: Instant,
}

#[derive(Debug, Clone)]
pub struct DnsCache {
    entries: HashMap<(String, RecordKind), Entry>,
    capacity: usize,
    max_ttl: Duration,
}

impl DnsCache {
    pub fn new(capacity: usize, max_ttl: Duration) -> DnsCache {
        DnsCache {
            entries: HashMap::new(),
            capacity,
            max_ttl,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The answer for `name`/`kind` if one is kept and still fresh at `now`.
    pub fn get(&self, now: Instant, name: &str, kind: RecordKind) -> Option<&Cached> {
        let e = self.entries.get(&(name.to_ascii_lowercase(), kind))?;
        (now < e.expires).then_some(&e.value)
    }

    /// Keep an answer for `ttl` seconds (capped by the configured expiry). A zero TTL
    /// or capacity keeps nothing; answers that say the server failed are never kept.
    pub fn put(&mut self, now: Instant, name: &str, kind: RecordKind, value: Cached, ttl: u32) {
        let keep = Duration::from_secs(u64::from(ttl)).min(self.max_ttl);
        if keep.is_zero() || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, e| now < e.expires);
        }
        if self.entries.len() >= self.capacity {
            // Still full: drop the entry closest to expiry.
            if let Some(k) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(
            (name.to_ascii_lowercase(), kind),
            Entry {
                value,
                expires: now + keep,
            },
        );
    }

    /// Turn an answer into what is cached, or `None` for a server failure.
    pub fn cacheable(rcode: Rcode, records: &[Rdata]) -> Option<Cached> {
        match rcode {
            Rcode::NxDomain => Some(Cached::NxDomain),
            Rcode::NoError if records.is_empty() => Some(Cached::NoData),
            Rcode::NoError => Some(Cached::Records(records.to_vec())),
            Rcode::Failure(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn entries_expire_with_ttl_and_cap() {
        let t0 = Instant::from_secs(1000);
        let mut c = DnsCache::new(10, Duration::from_secs(3600));
        let rec = Cached::Records(vec![Rdata::A(Ipv4Addr::LOCALHOST)]);
        c.put(t0, "Host.Example", RecordKind::A, rec.clone(), 60);
        assert_eq!(
            c.get(t0 + Duration::from_secs(59), "host.example", RecordKind::A),
            Some(&rec)
        );
        assert_eq!(
            c.get(t0 + Duration::from_secs(60), "host.example", RecordKind::A),
            None
        );
        assert_eq!(c.get(t0, "host.example", RecordKind::Aaaa), None);
        // A huge TTL is capped by the configured expiry.
        c.put(t0, "long.example", RecordKind::A, rec.clone(), 1_000_000);
        assert!(c
            .get(
                t0 + Duration::from_secs(3599),
                "long.example",
                RecordKind::A
            )
            .is_some());
        assert!(c
            .get(
                t0 + Duration::from_secs(3600),
                "long.example",
                RecordKind::A
            )
            .is_none());
        c.put(t0, "zero.example", RecordKind::A, rec, 0);
        assert!(c.get(t0, "zero.example", RecordKind::A).is_none());
    }

    #[test]
    fn capacity_is_respected() {
        let t0 = Instant::from_secs(1000);
        let mut c = DnsCache::new(3, Duration::from_secs(3600));
        for (i, ttl) in [100u32, 50, 200, 300].iter().enumerate() {
            c.put(
                t0,
                &format!("h{i}.example"),
                RecordKind::A,
                Cached::NoData,
                *ttl,
            );
        }
        assert_eq!(c.len(), 3);
        // The one closest to expiry (h1, 50 s) made room.
        assert!(c.get(t0, "h1.example", RecordKind::A).is_none());
        assert!(c.get(t0, "h3.example", RecordKind::A).is_some());
        assert_eq!(DnsCache::cacheable(Rcode::Failure(2), &[]), None);
    }
}
