//! A tiny authoritative DNS server on loopback for SMTP Direct tests, built on
//! hickory-proto's message codec: UDP and TCP on one port, a fixed zone, and names
//! whose UDP answers come back truncated (to make the resolver switch to TCP).

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One record of the zone.
#[derive(Debug, Clone)]
pub enum Rec {
    Mx(u16, &'static str),
    Ip(IpAddr),
    /// A TXT record (split into 255-octet strings as it goes out).
    Txt(String),
}

#[derive(Clone, Default)]
pub struct Zone {
    records: Vec<(String, Rec)>,
    truncate: Vec<String>,
    servfail: Vec<String>,
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    pub fn mx(mut self, name: &str, pref: u16, host: &'static str) -> Zone {
        self.records
            .push((name.to_ascii_lowercase(), Rec::Mx(pref, host)));
        self
    }

    pub fn ip(mut self, name: &str, ip: &str) -> Zone {
        let ip: IpAddr = ip.parse().expect("an IP address");
        self.records.push((name.to_ascii_lowercase(), Rec::Ip(ip)));
        self
    }

    pub fn txt(mut self, name: &str, text: &str) -> Zone {
        self.records
            .push((name.to_ascii_lowercase(), Rec::Txt(text.to_string())));
        self
    }

    /// Every question about `name` gets SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Zone {
        self.servfail.push(name.to_ascii_lowercase());
        self
    }

    /// UDP answers for `name` have TC set and no records.
    pub fn truncated(mut self, name: &str) -> Zone {
        self.truncate.push(name.to_ascii_lowercase());
        self
    }

    fn answer(&self, query: &[u8], udp: bool) -> Option<Vec<u8>> {
        let q = Message::from_vec(query).ok()?;
        let question = q.queries.first()?.clone();
        let name = question
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let qtype = question.query_type();
        let mut m = Message::response(q.metadata.id, OpCode::Query);
        m.metadata.recursion_desired = q.metadata.recursion_desired;
        m.metadata.recursion_available = true;
        m.add_query(question.clone());
        if udp && self.truncate.contains(&name) {
            m.metadata.truncation = true;
            return m.to_vec().ok();
        }
        if self.servfail.contains(&name) {
            m.metadata.response_code = ResponseCode::ServFail;
            return m.to_vec().ok();
        }
        let known = self.records.iter().any(|(n, _)| *n == name);
        if !known {
            m.metadata.response_code = ResponseCode::NXDomain;
            return m.to_vec().ok();
        }
        let owner = question.name().clone();
        for (n, r) in &self.records {
            if *n != name {
                continue;
            }
            let data = match (r, qtype) {
                (Rec::Mx(p, h), RecordType::MX) => {
                    RData::MX(MX::new(*p, Name::from_ascii(format!("{h}.")).ok()?))
                }
                (Rec::Ip(IpAddr::V4(a)), RecordType::A) => RData::A(A(*a)),
                (Rec::Ip(IpAddr::V6(a)), RecordType::AAAA) => RData::AAAA(AAAA(*a)),
                (Rec::Txt(t), RecordType::TXT) => RData::TXT(TXT::new(
                    t.as_bytes()
                        .chunks(255)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect(),
                )),
                _ => continue,
            };
            m.answers.push(Record::from_rdata(owner.clone(), 60, data));
        }
        m.to_vec().ok()
    }
}

/// The running server; stopped on drop.
pub struct TestDns {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Queries answered over UDP and TCP.
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
}

impl TestDns {
    pub fn start(zone: Zone) -> TestDns {
        // UDP and TCP on the same port: try until both binds succeed.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
            let port = udp.local_addr().expect("bound").port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().expect("bound");
        let stop = Arc::new(AtomicBool::new(false));
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        tcp.set_nonblocking(true).expect("nonblocking");
        {
            let (zone, stop, n) = (zone.clone(), stop.clone(), udp_queries.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((len, from)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    if let Some(a) = zone.answer(&buf[..len], true) {
                        n.fetch_add(1, Ordering::Relaxed);
                        let _ = udp.send_to(&a, from);
                    }
                }
            });
        }
        {
            let (stop, n) = (stop.clone(), tcp_queries.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut s, _)) = tcp.accept() else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut len = [0u8; 2];
                    if s.read_exact(&mut len).is_err() {
                        continue;
                    }
                    let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if s.read_exact(&mut q).is_err() {
                        continue;
                    }
                    if let Some(a) = zone.answer(&q, false) {
                        n.fetch_add(1, Ordering::Relaxed);
                        let mut framed = (a.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&a);
                        let _ = s.write_all(&framed);
                    }
                }
            });
        }
        TestDns {
            addr,
            stop,
            udp_queries,
            tcp_queries,
        }
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
