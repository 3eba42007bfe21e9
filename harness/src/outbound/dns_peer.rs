//! A scripted DNS server for SMTP Direct: it reads the query bytes core's codec wrote
//! ([`mailroom_core::dns::encode_query`]) and answers with bytes core decodes, MX and
//! A records from a small zone, or SERVFAIL, NXDOMAIN, or no answer at all, per
//! domain and for a while.

use crate::rng::Rng;
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use mailroom_core::Instant;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// What the server does with questions about one domain (and its hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsFault {
    /// SERVFAIL until then.
    ServFail(Instant),
    /// No answer until then (the query times out).
    Silent(Instant),
    /// The domain does not exist.
    NxDomain,
}

/// The zone the server knows and the faults it shows.
#[derive(Debug, Clone, Default)]
pub struct DnsPeer {
    /// Domain → (preference, host) records.
    pub mx: BTreeMap<String, Vec<(u16, String)>>,
    /// Host → address.
    pub a: BTreeMap<String, Ipv4Addr>,
    pub faults: BTreeMap<String, DnsFault>,
    /// Chance that any one query goes unanswered (a lost packet).
    pub loss: f64,
    /// Queries answered and left unanswered.
    pub answered: u64,
    pub unanswered: u64,
}

const TTL: u32 = 300;

impl DnsPeer {
    /// The fault that applies to `name` at `now`: its own, or its domain's (a host is
    /// `mx1.far.example`, its domain `far.example`).
    fn fault(&self, now: Instant, name: &str) -> Option<DnsFault> {
        let mut n = name;
        loop {
            match self.faults.get(n) {
                Some(DnsFault::ServFail(t)) | Some(DnsFault::Silent(t)) if now >= *t => {}
                Some(f) => return Some(*f),
                None => {}
            }
            n = n.split_once('.')?.1;
        }
    }

    /// The answer to `query` (the bytes of one DNS message), or `None`: no answer.
    pub fn answer(&mut self, now: Instant, query: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
        let q = Message::from_vec(query).ok()?;
        let question = q.queries.first()?.clone();
        let name = question
            .name()
            .to_lowercase()
            .to_ascii()
            .trim_end_matches('.')
            .to_string();
        let fault = self.fault(now, &name);
        if matches!(fault, Some(DnsFault::Silent(_))) || rng.chance(self.loss) {
            self.unanswered += 1;
            return None;
        }
        self.answered += 1;
        let mut m = Message::response(q.metadata.id, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.metadata.recursion_available = true;
        m.add_query(Query::query(question.name().clone(), question.query_type()));
        let owner = question.name().clone();
        match fault {
            Some(DnsFault::ServFail(_)) => m.metadata.response_code = ResponseCode::ServFail,
            Some(DnsFault::NxDomain) => {
                m.metadata.response_code = ResponseCode::NXDomain;
                self.soa(&mut m, &name);
            }
            _ => match question.query_type() {
                RecordType::MX => match self.mx.get(&name) {
                    Some(hosts) => {
                        for (pref, host) in hosts {
                            let exchange = Name::from_ascii(format!("{host}.")).ok()?;
                            m.answers.push(Record::from_rdata(
                                owner.clone(),
                                TTL,
                                RData::MX(MX::new(*pref, exchange)),
                            ));
                        }
                    }
                    None if self.a.contains_key(&name) => self.soa(&mut m, &name),
                    None => {
                        m.metadata.response_code = ResponseCode::NXDomain;
                        self.soa(&mut m, &name);
                    }
                },
                RecordType::A => match self.a.get(&name) {
                    Some(ip) => {
                        m.answers
                            .push(Record::from_rdata(owner, TTL, RData::A(A::from(*ip))))
                    }
                    None => self.soa(&mut m, &name),
                },
                // No IPv6 in the simulated world: an empty answer.
                _ => self.soa(&mut m, &name),
            },
        }
        m.to_vec().ok()
    }

    /// The SOA of a negative answer (its minimum is the negative-caching time).
    fn soa(&self, m: &mut Message, name: &str) {
        let zone = name.split_once('.').map_or(name, |(_, z)| z);
        let Ok(zone) = Name::from_ascii(format!("{zone}.")) else {
            return;
        };
        let soa = SOA::new(zone.clone(), zone.clone(), 1, 3600, 600, 86_400, 60);
        m.authorities
            .push(Record::from_rdata(zone, 600, RData::SOA(soa)));
    }
}
