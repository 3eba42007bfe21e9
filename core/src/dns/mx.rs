//! Where mail for a domain goes (RFC 5321 §5.1, §6.4.4): its MX hosts in preference
//! order, each with its addresses; without MX records the domain itself (the
//! "implicit MX", the manual's "A record" fallback); a null MX (RFC 7505) refuses
//! mail.
//!
//! [`MxLookup`] is a small step machine: it says which query it needs next, the
//! runtime asks a DNS server and hands the answer back. Answers go through the
//! [`DnsCache`], so a second lookup for the same domain costs no query.

use super::cache::{Cached, DnsCache};
use super::message::{Answer, Rcode, Rdata, RecordKind};
use crate::Instant;
use std::net::IpAddr;

/// MX hosts looked at for one domain; more are ignored.
pub const MAX_MX_HOSTS: usize = 10;
/// CNAMEs followed across queries for one name.
const MAX_CNAME_QUERIES: usize = 4;

/// One host to try, with its addresses in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    pub name: String,
    pub preference: u16,
    pub addrs: Vec<IpAddr>,
}

/// Why a domain has no usable mail host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MxError {
    /// NXDOMAIN for the domain: the address can never work.
    #[error("the domain {0} does not exist")]
    NoSuchDomain(String),
    /// RFC 7505: the domain says it takes no mail.
    #[error("the domain {0} accepts no mail (null MX)")]
    NullMx(String),
    /// No MX and no address records.
    #[error("the domain {0} has no mail server (no MX and no address records)")]
    NoMailHost(String),
    /// The lookups failed for now (timeouts, SERVFAIL, MX hosts without addresses).
    #[error("{0}")]
    Temporary(String),
}

impl MxError {
    pub fn is_permanent(&self) -> bool {
        !matches!(self, MxError::Temporary(_))
    }

    /// RFC 3463 status for a DSN.
    pub fn status(&self) -> &'static str {
        match self {
            MxError::NoSuchDomain(_) | MxError::NoMailHost(_) => "5.1.2",
            MxError::NullMx(_) => "5.1.10",
            MxError::Temporary(_) => "4.4.3",
        }
    }
}

/// What the lookup needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupStep {
    /// Ask a DNS server, then call [`MxLookup::answer`].
    Query {
        name: String,
        kind: RecordKind,
    },
    Done(Result<Vec<MxHost>, MxError>),
}

/// Why the runtime got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure(pub String);

#[derive(Debug, Clone)]
enum Stage {
    Mx,
    /// Addresses of host `index` of `hosts`, this kind next.
    Addr {
        index: usize,
        kind: RecordKind,
    },
    Done,
}

#[derive(Debug, Clone)]
pub struct MxLookup {
    domain: String,
    ipv6: bool,
    stage: Stage,
    /// The name asked for the current stage (changes when a CNAME is followed).
    asking: String,
    cnames: usize,
    /// No MX records: the domain is its own host.
    implicit: bool,
    hosts: Vec<MxHost>,
    temporary: Option<String>,
    nxdomain: bool,
    null_mx: bool,
}

impl MxLookup {
    /// Look up `domain`; with `ipv6`, AAAA records are asked too (tried after the
    /// IPv4 addresses of the same host).
    pub fn new(domain: &str, ipv6: bool) -> MxLookup {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        MxLookup {
            asking: domain.clone(),
            domain,
            ipv6,
            stage: Stage::Mx,
            cnames: 0,
            implicit: false,
            hosts: Vec::new(),
            temporary: None,
            nxdomain: false,
            null_mx: false,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The next query, or the result. Cached answers are used without asking.
    pub fn step(&mut self, now: Instant, cache: &DnsCache) -> LookupStep {
        loop {
            let kind = match &self.stage {
                Stage::Done => return LookupStep::Done(self.result()),
                Stage::Mx => RecordKind::Mx,
                Stage::Addr { kind, .. } => *kind,
            };
            match cache.get(now, &self.asking, kind).cloned() {
                Some(c) => self.apply(kind, c),
                None => {
                    return LookupStep::Query {
                        name: self.asking.clone(),
                        kind,
                    }
                }
            }
        }
    }

    /// The answer to the last [`LookupStep::Query`] (or why there was none).
    pub fn answer(
        &mut self,
        now: Instant,
        cache: &mut DnsCache,
        result: Result<Answer, QueryFailure>,
    ) {
        let kind = match &self.stage {
            Stage::Done => return,
            Stage::Mx => RecordKind::Mx,
            Stage::Addr { kind, .. } => *kind,
        };
        let answer = match result {
            Ok(a) => a,
            Err(QueryFailure(why)) => {
                self.temporary = Some(format!(
                    "DNS lookup of {} {kind} failed: {why}",
                    self.asking
                ));
                self.fail_stage(kind);
                return;
            }
        };
        if let Some(target) = answer.cname.clone() {
            if self.cnames < MAX_CNAME_QUERIES && answer.records.is_empty() {
                self.cnames += 1;
                self.asking = target;
                return;
            }
        }
        match DnsCache::cacheable(answer.rcode, &answer.records) {
            Some(c) => {
                cache.put(now, &self.asking, kind, c.clone(), answer.ttl);
                self.apply(kind, c);
            }
            None => {
                let code = match answer.rcode {
                    Rcode::Failure(c) => c,
                    _ => 0,
                };
                self.temporary = Some(format!(
                    "DNS server failure (rcode {code}) for {} {kind}",
                    self.asking
                ));
                self.fail_stage(kind);
            }
        }
    }

    /// A stage that got no usable answer: an MX failure ends the lookup; an address
    /// failure skips that part of the host.
    fn fail_stage(&mut self, kind: RecordKind) {
        if kind == RecordKind::Mx {
            self.stage = Stage::Done;
            self.hosts.clear();
        } else {
            self.next_addr_stage();
        }
    }

    fn apply(&mut self, kind: RecordKind, c: Cached) {
        match kind {
            RecordKind::Mx => self.apply_mx(c),
            RecordKind::A | RecordKind::Aaaa => {
                if let (Stage::Addr { index, .. }, Cached::Records(recs)) = (&self.stage, &c) {
                    let index = *index;
                    for r in recs {
                        let ip = match r {
                            Rdata::A(a) => IpAddr::V4(*a),
                            Rdata::Aaaa(a) => IpAddr::V6(*a),
                            Rdata::Mx { .. } | Rdata::Txt(_) => continue,
                        };
                        if !self.hosts[index].addrs.contains(&ip) {
                            self.hosts[index].addrs.push(ip);
                        }
                    }
                }
                self.next_addr_stage();
            }
            // Never asked by an MX lookup.
            RecordKind::Txt => {}
        }
    }

    fn apply_mx(&mut self, c: Cached) {
        match c {
            Cached::NxDomain => {
                self.stage = Stage::Done;
                self.hosts.clear();
                self.nxdomain = true;
            }
            Cached::NoData => {
                self.implicit = true;
                self.hosts = vec![MxHost {
                    name: self.domain.clone(),
                    preference: 0,
                    addrs: Vec::new(),
                }];
                self.start_addrs();
            }
            Cached::Records(recs) => {
                let mut mx: Vec<(u16, String)> = recs
                    .into_iter()
                    .filter_map(|r| match r {
                        Rdata::Mx {
                            preference,
                            exchange,
                        } => Some((preference, exchange)),
                        _ => None,
                    })
                    .collect();
                if mx.len() == 1 && mx[0].1.is_empty() {
                    self.null_mx = true;
                    self.stage = Stage::Done;
                    return;
                }
                // Lowest preference first; equal ones in the server's order here (the
                // runtime spreads them with `shuffle_equal`).
                mx.sort_by_key(|(p, _)| *p);
                mx.retain(|(_, h)| !h.is_empty());
                mx.dedup_by(|a, b| a.1 == b.1);
                mx.truncate(MAX_MX_HOSTS);
                self.hosts = mx
                    .into_iter()
                    .map(|(preference, name)| MxHost {
                        addrs: name
                            .parse::<IpAddr>()
                            .map(|ip| vec![ip])
                            .unwrap_or_default(),
                        name,
                        preference,
                    })
                    .collect();
                self.start_addrs();
            }
        }
    }

    fn start_addrs(&mut self) {
        self.stage = Stage::Addr {
            index: 0,
            kind: RecordKind::A,
        };
        self.skip_literal_hosts();
    }

    /// Hosts written as IP addresses need no lookup.
    fn skip_literal_hosts(&mut self) {
        while let Stage::Addr { index, kind } = self.stage {
            if index >= self.hosts.len() {
                self.stage = Stage::Done;
                return;
            }
            if kind == RecordKind::A && self.hosts[index].name.parse::<IpAddr>().is_ok() {
                self.stage = Stage::Addr {
                    index: index + 1,
                    kind: RecordKind::A,
                };
                continue;
            }
            self.asking = self.hosts[index].name.clone();
            self.cnames = 0;
            return;
        }
    }

    fn next_addr_stage(&mut self) {
        if let Stage::Addr { index, kind } = self.stage {
            self.stage = if kind == RecordKind::A && self.ipv6 {
                Stage::Addr {
                    index,
                    kind: RecordKind::Aaaa,
                }
            } else {
                Stage::Addr {
                    index: index + 1,
                    kind: RecordKind::A,
                }
            };
            if let Stage::Addr { index: i, .. } = self.stage {
                if i < self.hosts.len() {
                    self.asking = self.hosts[i].name.clone();
                    self.cnames = 0;
                }
            }
            self.skip_literal_hosts();
        }
    }

    fn result(&self) -> Result<Vec<MxHost>, MxError> {
        if self.nxdomain {
            return Err(MxError::NoSuchDomain(self.domain.clone()));
        }
        if self.null_mx {
            return Err(MxError::NullMx(self.domain.clone()));
        }
        let usable: Vec<MxHost> = self
            .hosts
            .iter()
            .filter(|h| !h.addrs.is_empty())
            .cloned()
            .collect();
        if !usable.is_empty() {
            return Ok(usable);
        }
        match &self.temporary {
            Some(why) => Err(MxError::Temporary(why.clone())),
            None if self.implicit => Err(MxError::NoMailHost(self.domain.clone())),
            None => Err(MxError::Temporary(format!(
                "no address for any mail server of {}",
                self.domain
            ))),
        }
    }
}

/// Spread the load over MX hosts of equal preference (RFC 5321 §5.1: "randomized"):
/// reorder each run of equal preference by `seed`, keeping the preference order. The
/// runtime draws the seed; the same seed gives the same order, so this stays pure.
pub fn shuffle_equal(hosts: &mut [MxHost], seed: u64) {
    // splitmix64: enough for spreading load, not for secrets.
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut start = 0;
    while start < hosts.len() {
        let p = hosts[start].preference;
        let end = hosts[start..]
            .iter()
            .position(|h| h.preference != p)
            .map_or(hosts.len(), |n| start + n);
        // Fisher-Yates over hosts[start..end].
        for i in (start + 1..end).rev() {
            let span = (i - start + 1) as u64;
            let j = start + (next() % span) as usize;
            hosts.swap(i, j);
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    const T: Instant = Instant::from_secs(1_000_000);
    type Lookup = Result<Vec<MxHost>, MxError>;

    fn ok(records: Vec<Rdata>) -> Result<Answer, QueryFailure> {
        Ok(Answer {
            rcode: Rcode::NoError,
            truncated: false,
            records,
            cname: None,
            ttl: 300,
        })
    }

    fn rcode(r: Rcode) -> Result<Answer, QueryFailure> {
        Ok(Answer {
            rcode: r,
            truncated: false,
            records: vec![],
            cname: None,
            ttl: 300,
        })
    }

    fn mx(p: u16, h: &str) -> Rdata {
        Rdata::Mx {
            preference: p,
            exchange: h.into(),
        }
    }

    /// Run a lookup answering from `zone` (name, kind) -> answer; returns the queries.
    fn run(
        l: &mut MxLookup,
        cache: &mut DnsCache,
        zone: &dyn Fn(&str, RecordKind) -> Result<Answer, QueryFailure>,
    ) -> (Lookup, Vec<(String, RecordKind)>) {
        let mut asked = Vec::new();
        loop {
            match l.step(T, cache) {
                LookupStep::Done(r) => return (r, asked),
                LookupStep::Query { name, kind } => {
                    asked.push((name.clone(), kind));
                    let a = zone(&name, kind);
                    l.answer(T, cache, a);
                }
            }
        }
    }

    #[test]
    fn mx_hosts_in_preference_order_with_addresses() {
        let zone = |n: &str, k: RecordKind| match (n, k) {
            ("example.org", RecordKind::Mx) => {
                ok(vec![mx(20, "b.example.org"), mx(10, "a.example.org")])
            }
            ("a.example.org", RecordKind::A) => ok(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))]),
            ("a.example.org", RecordKind::Aaaa) => ok(vec![Rdata::Aaaa(Ipv6Addr::LOCALHOST)]),
            ("b.example.org", RecordKind::A) => ok(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 2))]),
            _ => ok(vec![]),
        };
        let mut cache = DnsCache::new(100, Duration::from_secs(3600));
        let (r, asked) = run(&mut MxLookup::new("Example.ORG.", true), &mut cache, &zone);
        let hosts = r.unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].name, "a.example.org");
        assert_eq!(
            hosts[0].addrs,
            vec![
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!(
            hosts[1].addrs,
            vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))]
        );
        assert_eq!(asked.len(), 5);
        // The second lookup comes from the cache.
        let (r2, asked2) = run(&mut MxLookup::new("example.org", true), &mut cache, &zone);
        assert_eq!(r2.unwrap(), hosts);
        assert!(asked2.is_empty(), "{asked2:?}");
    }

    #[test]
    fn implicit_mx_null_mx_and_nxdomain() {
        let mut cache = DnsCache::new(100, Duration::from_secs(3600));
        let zone = |n: &str, k: RecordKind| match (n, k) {
            ("plain.example", RecordKind::A) => ok(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 9))]),
            ("nomail.example", RecordKind::Mx) => ok(vec![mx(0, "")]),
            ("gone.example", _) => rcode(Rcode::NxDomain),
            ("broken.example", _) => rcode(Rcode::Failure(2)),
            ("dead.example", RecordKind::Mx) => Err(QueryFailure("timed out".into())),
            ("noaddr.example", RecordKind::Mx) => ok(vec![mx(10, "ghost.noaddr.example")]),
            _ => ok(vec![]),
        };
        let (r, _) = run(
            &mut MxLookup::new("plain.example", false),
            &mut cache,
            &zone,
        );
        assert_eq!(
            r.unwrap()[0].addrs,
            vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))]
        );
        let (r, _) = run(
            &mut MxLookup::new("nomail.example", false),
            &mut cache,
            &zone,
        );
        assert_eq!(r, Err(MxError::NullMx("nomail.example".into())));
        let (r, _) = run(&mut MxLookup::new("gone.example", false), &mut cache, &zone);
        assert!(matches!(r, Err(MxError::NoSuchDomain(_))));
        assert!(r.unwrap_err().is_permanent());
        let (r, _) = run(
            &mut MxLookup::new("broken.example", false),
            &mut cache,
            &zone,
        );
        assert!(matches!(r, Err(MxError::Temporary(_))));
        let (r, _) = run(&mut MxLookup::new("dead.example", false), &mut cache, &zone);
        assert!(matches!(r, Err(MxError::Temporary(ref t)) if t.contains("timed out")));
        let (r, _) = run(
            &mut MxLookup::new("noaddr.example", false),
            &mut cache,
            &zone,
        );
        assert!(matches!(r, Err(MxError::Temporary(_))));
        let (r, _) = run(
            &mut MxLookup::new("empty.example", false),
            &mut cache,
            &zone,
        );
        assert_eq!(r, Err(MxError::NoMailHost("empty.example".into())));
    }

    #[test]
    fn cname_targets_are_asked_next() {
        let zone = |n: &str, k: RecordKind| match (n, k) {
            ("alias.example", RecordKind::Mx) => ok(vec![mx(5, "mail.alias.example")]),
            ("mail.alias.example", RecordKind::A) => Ok(Answer {
                rcode: Rcode::NoError,
                truncated: false,
                records: vec![],
                cname: Some("real.example".into()),
                ttl: 60,
            }),
            ("real.example", RecordKind::A) => ok(vec![Rdata::A(Ipv4Addr::new(198, 51, 100, 1))]),
            _ => ok(vec![]),
        };
        let mut cache = DnsCache::new(100, Duration::from_secs(3600));
        let (r, asked) = run(
            &mut MxLookup::new("alias.example", false),
            &mut cache,
            &zone,
        );
        assert_eq!(
            r.unwrap()[0].addrs,
            vec![IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))]
        );
        assert!(asked.contains(&("real.example".to_string(), RecordKind::A)));
    }

    #[test]
    fn equal_preferences_are_shuffled_by_the_seed_and_only_among_themselves() {
        let host = |n: &str, p: u16| MxHost {
            name: n.into(),
            preference: p,
            addrs: Vec::new(),
        };
        let base = vec![
            host("a", 10),
            host("b", 10),
            host("c", 10),
            host("d", 10),
            host("z", 20),
        ];
        let mut firsts = std::collections::BTreeSet::new();
        for seed in 0..64u64 {
            let mut h = base.clone();
            shuffle_equal(&mut h, seed);
            assert_eq!(h[4].name, "z", "a worse preference never moves up");
            let mut names: Vec<&str> = h[..4].iter().map(|x| x.name.as_str()).collect();
            firsts.insert(names[0].to_string());
            names.sort_unstable();
            assert_eq!(names, ["a", "b", "c", "d"]);
            let mut again = base.clone();
            shuffle_equal(&mut again, seed);
            assert_eq!(again, h, "same seed, same order");
        }
        assert_eq!(firsts.len(), 4, "every host comes first for some seed");
    }
}
