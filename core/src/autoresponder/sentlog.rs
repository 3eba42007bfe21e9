//! The once-per-sender memory (§4.2.3.2): who was answered and when, with the
//! manual's automatic clearing periods. The runtime keeps it as text, one
//! `unix-seconds address` line per sender.

use std::collections::BTreeMap;

use chrono::Datelike;

use crate::accounts::ClearPeriod;
use crate::Instant;

/// Senders remembered at most; past that the longest-ago answered are forgotten
/// (a flood of distinct senders must not grow the file without end).
pub const MAX_SENDERS: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentLog {
    /// Lower-case address → Unix seconds of the last answer.
    sent: BTreeMap<String, u64>,
}

impl SentLog {
    /// Read the stored text; unreadable lines are skipped.
    pub fn parse(text: &str) -> SentLog {
        let mut log = SentLog::default();
        for line in text.lines() {
            let Some((t, a)) = line.trim().split_once(' ') else {
                continue;
            };
            if let Ok(t) = t.parse::<u64>() {
                let a = a.trim();
                if !a.is_empty() && a.len() <= 254 {
                    log.sent.insert(a.to_ascii_lowercase(), t);
                }
            }
        }
        log.bound();
        log
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (a, t) in &self.sent {
            out.push_str(&format!("{t} {a}\n"));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// Whether `address` was answered in the clearing period `now` lies in.
    pub fn answered(&self, address: &str, now: Instant, offset: i32, clear: ClearPeriod) -> bool {
        let Some(&t) = self.sent.get(&address.to_ascii_lowercase()) else {
            return false;
        };
        period(t, offset, clear) == period(now.unix_secs(), offset, clear)
    }

    pub fn record(&mut self, address: &str, now: Instant) {
        self.sent
            .insert(address.to_ascii_lowercase(), now.unix_secs());
        self.bound();
    }

    /// Forget answers from earlier clearing periods (they no longer count).
    pub fn prune(&mut self, now: Instant, offset: i32, clear: ClearPeriod) {
        let p = period(now.unix_secs(), offset, clear);
        self.sent.retain(|_, t| period(*t, offset, clear) == p);
    }

    fn bound(&mut self) {
        while self.sent.len() > MAX_SENDERS {
            let Some(oldest) = self
                .sent
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(a, _)| a.clone())
            else {
                break;
            };
            self.sent.remove(&oldest);
        }
    }
}

/// Which clearing period the local time of `unix` lies in. Weeks start on Monday;
/// fortnights are counted from the Monday of 29 December 1969.
fn period(unix: u64, offset: i32, clear: ClearPeriod) -> i64 {
    let local = i64::try_from(unix).unwrap_or(i64::MAX / 2) + i64::from(offset);
    let day = local.div_euclid(86_400);
    match clear {
        ClearPeriod::Never => 0,
        ClearPeriod::Daily => day,
        // 1970-01-01 was a Thursday: day + 3 counts from a Monday.
        ClearPeriod::Weekly => (day + 3).div_euclid(7),
        ClearPeriod::Fortnightly => (day + 3).div_euclid(14),
        ClearPeriod::Monthly => {
            let d = chrono::DateTime::from_timestamp(local, 0).unwrap_or_default();
            i64::from(d.year()) * 12 + i64::from(d.month0())
        }
    }
}
