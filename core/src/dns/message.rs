//! DNS queries and answers as bytes, through hickory-proto's message codec.
//!
//! Only what SMTP Direct needs: MX, A and AAAA questions, and answers reduced to the
//! records for the name asked (following a CNAME chain inside the answer). Answers
//! are untrusted: one that does not echo the question is refused as a mismatch, so a
//! stray or spoofed packet cannot answer another query.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Which records a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    Mx,
    A,
    Aaaa,
    /// SPF, DKIM key and DMARC policy records (docs/MAILAUTH.md).
    Txt,
}

impl RecordKind {
    fn record_type(self) -> RecordType {
        match self {
            RecordKind::Mx => RecordType::MX,
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Txt => RecordType::TXT,
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordKind::Mx => "MX",
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Txt => "TXT",
        })
    }
}

/// One record of an answer, for the name asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    Mx {
        preference: u16,
        exchange: String,
    },
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// One TXT record, its character-strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    Txt(Vec<u8>),
}

/// The server's verdict on the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    /// The name does not exist.
    NxDomain,
    /// SERVFAIL, REFUSED and the rest: this server could not answer.
    Failure(u16),
}

/// A decoded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    /// TC: the answer did not fit; ask again over TCP.
    pub truncated: bool,
    /// Records of the kind asked, for the name asked or the end of its CNAME chain.
    pub records: Vec<Rdata>,
    /// The CNAME chain ends in a name the answer has no records for: ask it next.
    pub cname: Option<String>,
    /// Seconds the answer may be kept: the smallest TTL of the records used, or the
    /// negative-caching time from the SOA (RFC 2308) for an empty answer.
    pub ttl: u32,
}

/// Why bytes could not be made into a query or an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("{0:?} is not a domain name")]
    BadName(String),
    #[error("cannot encode the query: {0}")]
    Encode(String),
    #[error("malformed DNS answer: {0}")]
    Malformed(String),
    /// Not an answer to this query (other id, other question, not a response).
    #[error("the answer does not match the query")]
    Mismatch,
}

/// Negative answers without an SOA are kept this long.
const DEFAULT_NEGATIVE_TTL: u32 = 300;
/// Longest CNAME chain followed inside one answer.
const MAX_CNAMES: usize = 8;

fn name_of(name: &str) -> Result<Name, DnsError> {
    let mut n = Name::from_ascii(name).map_err(|_| DnsError::BadName(name.to_string()))?;
    // Always absolute: no search list is applied to mail domains.
    n.set_fqdn(true);
    Ok(n)
}

/// A recursive query for `name`'s `kind` records with this id.
pub fn encode_query(id: u16, name: &str, kind: RecordKind) -> Result<Vec<u8>, DnsError> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name_of(name)?, kind.record_type()));
    m.to_vec().map_err(|e| DnsError::Encode(e.to_string()))
}

/// Decode `bytes` as the answer to query `id` for `name`/`kind`.
pub fn decode_answer(
    bytes: &[u8],
    id: u16,
    name: &str,
    kind: RecordKind,
) -> Result<Answer, DnsError> {
    let m = Message::from_vec(bytes).map_err(|e| DnsError::Malformed(e.to_string()))?;
    let asked = name_of(name)?;
    let question_matches = m.queries.len() == 1
        && m.queries[0].query_type() == kind.record_type()
        && m.queries[0].name().to_lowercase() == asked.to_lowercase();
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response || !question_matches
    {
        return Err(DnsError::Mismatch);
    }
    let rcode = match m.metadata.response_code {
        ResponseCode::NoError => Rcode::NoError,
        ResponseCode::NXDomain => Rcode::NxDomain,
        other => Rcode::Failure(u16::from(other)),
    };
    let mut answer = Answer {
        rcode,
        truncated: m.metadata.truncation,
        records: Vec::new(),
        cname: None,
        ttl: u32::MAX,
    };
    if m.metadata.truncation {
        answer.ttl = 0;
        return Ok(answer);
    }
    // Follow the CNAME chain from the name asked.
    let mut current = asked.to_lowercase();
    let mut followed = 0;
    loop {
        let next = m.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name.to_lowercase() == current => {
                Some((c.0.to_lowercase(), r.ttl))
            }
            _ => None,
        });
        match next {
            Some((target, ttl)) if followed < MAX_CNAMES => {
                answer.ttl = answer.ttl.min(ttl);
                current = target;
                followed += 1;
            }
            _ => break,
        }
    }
    for r in &m.answers {
        if r.name.to_lowercase() != current {
            continue;
        }
        let data = match (kind, &r.data) {
            (RecordKind::Mx, RData::MX(mx)) => Rdata::Mx {
                preference: mx.preference,
                exchange: mx
                    .exchange
                    .to_lowercase()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_string(),
            },
            (RecordKind::A, RData::A(a)) => Rdata::A(a.0),
            (RecordKind::Aaaa, RData::AAAA(a)) => Rdata::Aaaa(a.0),
            (RecordKind::Txt, RData::TXT(t)) => Rdata::Txt(t.txt_data.concat()),
            _ => continue,
        };
        answer.ttl = answer.ttl.min(r.ttl);
        answer.records.push(data);
    }
    if answer.records.is_empty() {
        if followed > 0 && rcode == Rcode::NoError {
            answer.cname = Some(current.to_ascii().trim_end_matches('.').to_string());
        }
        // RFC 2308 §5: a negative answer lives for the SOA's minimum (capped by its TTL).
        let soa = m.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.minimum.min(r.ttl)),
            _ => None,
        });
        answer.ttl = answer.ttl.min(soa.unwrap_or(DEFAULT_NEGATIVE_TTL));
    }
    if answer.ttl == u32::MAX {
        answer.ttl = DEFAULT_NEGATIVE_TTL;
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME, MX, SOA};
    use hickory_proto::rr::Record;

    fn response(id: u16, name: &str, kind: RecordType) -> Message {
        let mut m = Message::response(id, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        m
    }

    #[test]
    fn query_round_trips() {
        let q = encode_query(0x1234, "Example.COM", RecordKind::Mx).unwrap();
        let m = Message::from_vec(&q).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].query_type(), RecordType::MX);
        assert!(encode_query(1, "bad name with spaces..", RecordKind::A).is_err());
    }

    #[test]
    fn mx_answer_with_ttl_and_mismatch() {
        let mut m = response(7, "example.com.", RecordType::MX);
        let n = Name::from_ascii("example.com.").unwrap();
        m.answers.push(Record::from_rdata(
            n.clone(),
            600,
            RData::MX(MX::new(20, Name::from_ascii("MX2.example.com.").unwrap())),
        ));
        m.answers.push(Record::from_rdata(
            n,
            300,
            RData::MX(MX::new(10, Name::from_ascii("mx1.example.com.").unwrap())),
        ));
        let bytes = m.to_vec().unwrap();
        let a = decode_answer(&bytes, 7, "EXAMPLE.com", RecordKind::Mx).unwrap();
        assert_eq!(a.rcode, Rcode::NoError);
        assert_eq!(a.ttl, 300);
        assert_eq!(
            a.records,
            vec![
                Rdata::Mx {
                    preference: 20,
                    exchange: "mx2.example.com".into()
                },
                Rdata::Mx {
                    preference: 10,
                    exchange: "mx1.example.com".into()
                },
            ]
        );
        assert_eq!(
            decode_answer(&bytes, 8, "example.com", RecordKind::Mx),
            Err(DnsError::Mismatch)
        );
        assert_eq!(
            decode_answer(&bytes, 7, "other.com", RecordKind::Mx),
            Err(DnsError::Mismatch)
        );
        assert_eq!(
            decode_answer(&bytes, 7, "example.com", RecordKind::A),
            Err(DnsError::Mismatch)
        );
        assert!(matches!(
            decode_answer(&bytes[..10], 7, "example.com", RecordKind::Mx),
            Err(DnsError::Malformed(_))
        ));
    }

    #[test]
    fn cname_chain_and_negative_ttl() {
        let mut m = response(1, "www.example.com.", RecordType::A);
        let www = Name::from_ascii("www.example.com.").unwrap();
        let host = Name::from_ascii("host.example.com.").unwrap();
        m.answers.push(Record::from_rdata(
            www,
            100,
            RData::CNAME(CNAME(host.clone())),
        ));
        m.answers
            .push(Record::from_rdata(host, 50, RData::A(A::new(192, 0, 2, 1))));
        let a = decode_answer(&m.to_vec().unwrap(), 1, "www.example.com", RecordKind::A).unwrap();
        assert_eq!(a.records, vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))]);
        assert_eq!(a.ttl, 50);

        let mut m = response(2, "none.example.", RecordType::MX);
        m.metadata.response_code = ResponseCode::NXDomain;
        let zone = Name::from_ascii("example.").unwrap();
        let soa = SOA::new(zone.clone(), zone.clone(), 1, 2, 3, 4, 60);
        m.authorities
            .push(Record::from_rdata(zone, 3600, RData::SOA(soa)));
        let a = decode_answer(&m.to_vec().unwrap(), 2, "none.example", RecordKind::Mx).unwrap();
        assert_eq!(a.rcode, Rcode::NxDomain);
        assert_eq!(a.ttl, 60);
        assert!(a.records.is_empty());
    }

    #[test]
    fn truncated_answers_are_flagged() {
        let mut m = response(3, "big.example.", RecordType::MX);
        m.metadata.truncation = true;
        let a = decode_answer(&m.to_vec().unwrap(), 3, "big.example", RecordKind::Mx).unwrap();
        assert!(a.truncated);
    }
}
