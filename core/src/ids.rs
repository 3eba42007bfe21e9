//! The IDS/IPS block list (seed 002, docs/DEFENSE.md): client errors per address,
//! counted over a window; past `[ids] block_after` the address is blocked for
//! `block_minutes`; a blocked address is refused at connect; `never_block` always
//! wins. Time is passed in; the runtime keeps one [`Ids`] for the server, persists
//! its block list ([`Ids::to_text`], [`Ids::from_text`]) and lets the CLI edit it.

use crate::config::Ids as Policy;
use crate::Instant;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

/// Addresses with a score kept at most; past this the oldest run is forgotten, so a
/// scan from many addresses cannot grow the table without bound.
pub const MAX_SCORED: usize = 10_000;
/// Block list entries kept at most; past this the entry that ends first goes.
pub const MAX_BLOCKED: usize = 100_000;
/// Longest block the CLI may set (a year): keeps every sum far from overflow.
pub const MAX_BLOCK: Duration = Duration::from_secs(366 * 86_400);

/// Why a block list entry exists, as the file and `ids list` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub until: Instant,
    pub reason: String,
}

/// What to do with a new connection from an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Serve it (not blocked, or the IDS is off).
    Open,
    /// On the never-block list: served whatever it did.
    Exempt,
    /// Refuse it at connect.
    Blocked { until: Instant },
}

#[derive(Debug, Clone, Copy)]
struct Score {
    errors: u32,
    /// Start of the window the errors are counted in.
    since: Instant,
}

/// Scores and the block list. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    scores: HashMap<IpAddr, Score>,
    blocks: BTreeMap<IpAddr, Block>,
}

fn minutes(m: u32) -> Duration {
    Duration::from_secs(u64::from(m) * 60)
}

/// `::ffff:a.b.c.d` and `a.b.c.d` are one client.
fn key(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl Ids {
    pub fn new() -> Ids {
        Ids::default()
    }

    /// May a client at `ip` connect at `now`?
    pub fn gate(&mut self, ip: IpAddr, now: Instant, policy: &Policy) -> Gate {
        let ip = key(ip);
        if policy.never_blocked(ip) {
            return Gate::Exempt;
        }
        if !policy.enabled {
            return Gate::Open;
        }
        match self.blocks.get(&ip) {
            Some(b) if now < b.until => Gate::Blocked { until: b.until },
            Some(_) => {
                self.blocks.remove(&ip);
                Gate::Open
            }
            None => Gate::Open,
        }
    }

    /// Add `errors` client errors made by `ip` at `now`. Returns the new block when
    /// this puts the address on the block list.
    pub fn record(
        &mut self,
        ip: IpAddr,
        errors: u32,
        now: Instant,
        policy: &Policy,
    ) -> Option<Block> {
        let ip = key(ip);
        if errors == 0 || !policy.enabled || policy.never_blocked(ip) {
            return None;
        }
        if !self.scores.contains_key(&ip) && self.scores.len() >= MAX_SCORED {
            self.forget_oldest_score();
        }
        let window = minutes(policy.window_minutes);
        let score = self.scores.entry(ip).or_insert(Score {
            errors: 0,
            since: now,
        });
        if now.saturating_since(score.since) >= window {
            *score = Score {
                errors: 0,
                since: now,
            };
        }
        score.errors = score.errors.saturating_add(errors);
        if score.errors < policy.block_after.max(1) {
            return None;
        }
        let total = score.errors;
        self.scores.remove(&ip);
        let block = Block {
            until: now + minutes(policy.block_minutes),
            reason: format!("{total} client errors"),
        };
        self.insert(ip, block.clone(), now);
        Some(block)
    }

    /// The errors counted for `ip` in its current window.
    pub fn score(&self, ip: IpAddr) -> u32 {
        self.scores.get(&key(ip)).map_or(0, |s| s.errors)
    }

    /// Put `ip` on the block list until `until` (the CLI's `ids block`).
    pub fn block(&mut self, ip: IpAddr, until: Instant, reason: &str, now: Instant) {
        let ip = key(ip);
        self.scores.remove(&ip);
        let block = Block {
            until,
            reason: clean(reason),
        };
        self.insert(ip, block, now);
    }

    /// Take `ip` off the block list and forget its score; whether it was blocked.
    pub fn unblock(&mut self, ip: IpAddr) -> bool {
        let ip = key(ip);
        self.scores.remove(&ip);
        self.blocks.remove(&ip).is_some()
    }

    /// The entries still in force at `now`, by address.
    pub fn blocked(&self, now: Instant) -> impl Iterator<Item = (IpAddr, &Block)> {
        self.blocks
            .iter()
            .filter(move |(_, b)| now < b.until)
            .map(|(ip, b)| (*ip, b))
    }

    /// Replace the block list with `other`'s (a file read back); scores stay.
    pub fn replace_blocks(&mut self, other: Ids) {
        self.blocks = other.blocks;
    }

    fn insert(&mut self, ip: IpAddr, block: Block, now: Instant) {
        if !self.blocks.contains_key(&ip) && self.blocks.len() >= MAX_BLOCKED {
            self.blocks.retain(|_, b| now < b.until);
            if self.blocks.len() >= MAX_BLOCKED {
                if let Some(first) = self
                    .blocks
                    .iter()
                    .min_by_key(|(_, b)| b.until)
                    .map(|(ip, _)| *ip)
                {
                    self.blocks.remove(&first);
                }
            }
        }
        self.blocks.insert(ip, block);
    }

    fn forget_oldest_score(&mut self) {
        if let Some(oldest) = self
            .scores
            .iter()
            .min_by_key(|(_, s)| s.since)
            .map(|(ip, _)| *ip)
        {
            self.scores.remove(&oldest);
        }
    }

    /// The block list as its file: a comment, then `ADDRESS UNTIL REASON` per line,
    /// UNTIL in Unix seconds (wall time, so the file means the same after a restart).
    /// Entries that ended by `now` are left out.
    pub fn to_text(&self, now: Instant) -> String {
        let mut out = String::from(
            "# Mailroom IDS/IPS block list: address, blocked until (Unix seconds), why.\n\
             # Edit with `mailroom ids block|unblock`; the server re-reads it when it changes.\n",
        );
        for (ip, b) in self.blocked(now) {
            out.push_str(&format!("{ip} {} {}\n", b.until.unix_secs(), b.reason));
        }
        out
    }

    /// Read a block list file written by [`Ids::to_text`]. Lines that do not parse are
    /// skipped and their numbers returned: a damaged line must not unblock everyone
    /// else or stop the server.
    pub fn from_text(text: &str, now: Instant) -> (Ids, Vec<usize>) {
        let mut ids = Ids::new();
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let mut words = t.splitn(3, char::is_whitespace);
            let ip = words.next().and_then(|w| w.parse::<IpAddr>().ok());
            let until = words.next().and_then(|w| w.trim().parse::<u64>().ok());
            let (Some(ip), Some(until)) = (ip, until) else {
                bad.push(i + 1);
                continue;
            };
            let until = Instant::from_unix_secs(until, now);
            if now < until {
                let reason = clean(words.next().unwrap_or("").trim());
                ids.insert(key(ip), Block { until, reason }, now);
            }
        }
        (ids, bad)
    }
}

/// A reason stays on its line and within bounds.
fn clean(reason: &str) -> String {
    reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests;
