//! DNS for SMTP Direct (§6.4.3, §6.4.4): MX, A and AAAA questions and answers, a
//! TTL-respecting cache and the MX resolution steps. Sending and receiving the
//! packets (UDP, TCP when an answer is truncated) is the runtime's job.

pub mod cache;
pub mod dnsbl;
pub mod message;
pub mod mx;

pub use cache::{Cached, DnsCache};
pub use message::{decode_answer, encode_query, Answer, DnsError, Rcode, Rdata, RecordKind};
pub use mx::{LookupStep, MxError, MxHost, MxLookup, QueryFailure};
