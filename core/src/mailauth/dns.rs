//! The DNS answers a check has been given so far. The checks are pure functions of
//! these answers: when one needs a record not yet here, it stops with [`Need`], the
//! runtime fetches it and the check runs again from the start (cheap: the crypto and
//! body hashing are done once, outside this loop). Every check's lookups are bounded,
//! so the number of rounds is too.

use crate::dns::{Rdata, RecordKind};
use std::collections::HashMap;

/// What the runtime found for one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Records(Vec<Rdata>),
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists without records of the kind.
    NoData,
    /// No usable answer: timeout, SERVFAIL, unreachable servers. Always a temporary
    /// error in the results, never a pass.
    Failed(String),
}

/// A record the check needs before it can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub name: String,
    pub kind: RecordKind,
}

#[derive(Debug, Clone, Default)]
pub struct Answers {
    map: HashMap<(String, RecordKind), Reply>,
}

pub fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Answers {
    pub fn get(&self, name: &str, kind: RecordKind) -> Result<&Reply, Need> {
        let name = normal(name);
        match self.map.get(&(name.clone(), kind)) {
            Some(r) => Ok(r),
            None => Err(Need { name, kind }),
        }
    }

    pub fn put(&mut self, name: &str, kind: RecordKind, reply: Reply) {
        self.map.insert((normal(name), kind), reply);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// TXT records' texts.
pub fn txts(records: &[Rdata]) -> Vec<Vec<u8>> {
    records
        .iter()
        .filter_map(|r| match r {
            Rdata::Txt(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}
