//! The DNS transport for SMTP Direct: core builds the questions and reads the answers
//! ([`mailroom_core::dns`]); this sends them over UDP, and over TCP when an answer
//! comes back truncated, to the `[dns] servers` (default: /etc/resolv.conf), with a
//! random id per query and a bounded wait. The cache is shared by all sessions.

use mailroom_core::config::Dns;
use mailroom_core::dns::{
    decode_answer, encode_query, Answer, Cached, DnsCache, DnsError, LookupStep, MxError, MxHost,
    MxLookup, QueryFailure, Rcode, RecordKind,
};
use mailroom_core::mailauth::Reply;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant as StdInstant};

/// Largest answer read (UDP without EDNS is 512; TCP answers are length-prefixed).
const MAX_ANSWER: usize = 65_535;

pub struct Resolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    cache: Mutex<DnsCache>,
}

impl Resolver {
    pub fn from_config(cfg: &Dns) -> Resolver {
        let mut servers: Vec<SocketAddr> =
            cfg.servers.iter().filter_map(|s| parse_server(s)).collect();
        if servers.is_empty() {
            servers = system_servers();
        }
        Resolver {
            servers,
            timeout: cfg.timeout.0.max(Duration::from_millis(100)),
            attempts: cfg.attempts.max(1),
            cache: Mutex::new(DnsCache::new(cfg.cache_size as usize, cfg.cache_max_ttl.0)),
        }
    }

    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The mail hosts of `domain`, in the order to try them.
    pub fn mx(&self, domain: &str) -> Result<Vec<MxHost>, MxError> {
        let mut lookup = MxLookup::new(domain, true);
        loop {
            let now = crate::platform::clock::now();
            let step = {
                let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                lookup.step(now, &cache)
            };
            match step {
                LookupStep::Done(r) => {
                    return r.map(|mut hosts| {
                        mailroom_core::dns::mx::shuffle_equal(&mut hosts, random_seed());
                        hosts
                    })
                }
                LookupStep::Query { name, kind } => {
                    let answer = self.query(&name, kind);
                    let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                    lookup.answer(crate::platform::clock::now(), &mut cache, answer);
                }
            }
        }
    }

    /// Any record kind for the mail authentication checks (SPF, DKIM keys, DMARC),
    /// through the cache, following CNAMEs. Every failure (no server, timeout,
    /// SERVFAIL, a CNAME loop) is `Reply::Failed`, which the checks turn into
    /// temperror.
    pub fn lookup(&self, name: &str, kind: RecordKind) -> Reply {
        let mut name = name.trim_end_matches('.').to_ascii_lowercase();
        for _ in 0..MAX_CNAME_HOPS {
            let now = crate::platform::clock::now();
            let cached = {
                let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                cache.get(now, &name, kind).cloned()
            };
            if let Some(c) = cached {
                return reply_of(c);
            }
            let answer = match self.query(&name, kind) {
                Ok(a) => a,
                Err(QueryFailure(e)) => return Reply::Failed(e),
            };
            if let Some(next) = answer.cname.filter(|_| answer.records.is_empty()) {
                name = next;
                continue;
            }
            let Some(c) = DnsCache::cacheable(answer.rcode, &answer.records) else {
                return Reply::Failed(format!("{name}: server failure"));
            };
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.put(
                crate::platform::clock::now(),
                &name,
                kind,
                c.clone(),
                answer.ttl,
            );
            return reply_of(c);
        }
        Reply::Failed(format!("{name}: CNAME chain too long"))
    }

    /// Ask the servers in turn, `attempts` rounds, until one answers.
    pub fn query(&self, name: &str, kind: RecordKind) -> Result<Answer, QueryFailure> {
        self.query_until(name, kind, None)
    }

    /// One question through the cache shared by every lookup of this resolver: a
    /// fresh kept answer, else the servers in turn until one answers or `deadline`
    /// passes (each wait also bounded by `[dns] timeout`). For DNS blocklists, whose
    /// client is waiting.
    pub fn cached_until(
        &self,
        name: &str,
        kind: RecordKind,
        deadline: StdInstant,
    ) -> Result<Cached, QueryFailure> {
        let kept = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .get(crate::platform::clock::now(), name, kind)
                .cloned()
        };
        if let Some(kept) = kept {
            return Ok(kept);
        }
        let answer = self.query_until(name, kind, Some(deadline))?;
        let value = DnsCache::cacheable(answer.rcode, &answer.records)
            .ok_or_else(|| QueryFailure("the server failed".into()))?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.put(
            crate::platform::clock::now(),
            name,
            kind,
            value.clone(),
            answer.ttl,
        );
        Ok(value)
    }

    fn query_until(
        &self,
        name: &str,
        kind: RecordKind,
        deadline: Option<StdInstant>,
    ) -> Result<Answer, QueryFailure> {
        if self.servers.is_empty() {
            return Err(QueryFailure(
                "no DNS server configured ([dns] servers, /etc/resolv.conf)".into(),
            ));
        }
        let mut last = String::from("no answer");
        for _ in 0..self.attempts {
            for server in &self.servers {
                let timeout = match deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(StdInstant::now());
                        if left.is_zero() {
                            return Err(QueryFailure(format!("no answer in time ({last})")));
                        }
                        left.min(self.timeout)
                    }
                    None => self.timeout,
                };
                match self.ask(*server, name, kind, timeout) {
                    Ok(a) if matches!(a.rcode, Rcode::Failure(_)) => {
                        last = format!("{server} answered with a server failure");
                    }
                    Ok(a) => return Ok(a),
                    Err(e) => last = format!("{server}: {e}"),
                }
            }
        }
        Err(QueryFailure(last))
    }

    fn ask(
        &self,
        server: SocketAddr,
        name: &str,
        kind: RecordKind,
        timeout: Duration,
    ) -> io::Result<Answer> {
        let id = random_id();
        let start = StdInstant::now();
        let mut q = Query {
            server,
            bytes: encode_query(id, name, kind).map_err(invalid)?,
            id,
            name,
            kind,
            timeout,
        };
        let answer = udp_exchange(&q)?;
        if !answer.truncated {
            return Ok(answer);
        }
        // The TCP retry shares the wait: `timeout` bounds the whole question.
        q.timeout = timeout.saturating_sub(start.elapsed());
        if q.timeout.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        tcp_exchange(&q)
    }
}

/// CNAMEs followed across answers by [`Resolver::lookup`].
const MAX_CNAME_HOPS: usize = 8;

fn reply_of(c: Cached) -> Reply {
    match c {
        Cached::Records(r) => Reply::Records(r),
        Cached::NxDomain => Reply::NxDomain,
        Cached::NoData => Reply::NoData,
    }
}

fn invalid(e: DnsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// One question to one server, sent over UDP and, when the answer is cut, again over
/// TCP.
struct Query<'a> {
    server: SocketAddr,
    bytes: Vec<u8>,
    id: u16,
    name: &'a str,
    kind: RecordKind,
    timeout: Duration,
}

fn udp_exchange(q: &Query<'_>) -> io::Result<Answer> {
    let Query {
        server,
        ref bytes,
        id,
        name,
        kind,
        timeout,
    } = *q;
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(server)?;
    sock.send(bytes)?;
    let end = StdInstant::now() + timeout;
    let mut buf = vec![0u8; MAX_ANSWER];
    loop {
        let left = end.saturating_duration_since(StdInstant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        sock.set_read_timeout(Some(left))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
            }
            Err(e) => return Err(e),
        };
        match decode_answer(&buf[..n], id, name, kind) {
            Ok(a) => return Ok(a),
            // Not ours (late, or forged): keep waiting for the real one.
            Err(DnsError::Mismatch) => continue,
            Err(e) => return Err(invalid(e)),
        }
    }
}

fn tcp_exchange(q: &Query<'_>) -> io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&q.server, q.timeout)?;
    s.set_read_timeout(Some(q.timeout))?;
    s.set_write_timeout(Some(q.timeout))?;
    let len = u16::try_from(q.bytes.len()).map_err(|_| io::Error::other("query too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&q.bytes);
    s.write_all(&framed)?;
    let mut lenbuf = [0u8; 2];
    s.read_exact(&mut lenbuf)?;
    let n = usize::from(u16::from_be_bytes(lenbuf));
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)?;
    decode_answer(&buf, q.id, q.name, q.kind).map_err(invalid)
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    if getrandom::getrandom(&mut b).is_err() {
        // No entropy source: fall back to the clock's low bits (still varies per query).
        let t = crate::platform::clock::now().unix_micros();
        return (t ^ (t >> 16)) as u16;
    }
    u16::from_be_bytes(b)
}

/// A seed for spreading load over equal MX hosts.
fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        return crate::platform::clock::now().unix_micros();
    }
    u64::from_be_bytes(b)
}

fn parse_server(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    s.parse().ok()
}

/// The `nameserver` lines of /etc/resolv.conf.
pub fn system_servers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    resolv_conf_servers(&text)
}

pub fn resolv_conf_servers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        // A link-local IPv6 server carries a zone (`%eth0`) std cannot parse: skipped.
        .filter_map(parse_server)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let t = "# comment\nsearch example.com\nnameserver 10.0.0.53\nnameserver ::1\nnameserver fe80::1%eth0\noptions ndots:1\n";
        assert_eq!(
            resolv_conf_servers(t),
            vec![
                "10.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn no_server_is_a_temporary_failure() {
        let r = Resolver {
            servers: vec![],
            timeout: Duration::from_millis(100),
            attempts: 1,
            cache: Mutex::new(DnsCache::new(10, Duration::from_secs(60))),
        };
        assert!(matches!(r.mx("example.com"), Err(MxError::Temporary(_))));
    }
}
