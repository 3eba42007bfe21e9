//! Schedules as slot generators: when does a `[[schedule]]` fire, in local wall time.

use super::clock::{day_of, weekday, DAY, SEC};
use crate::config::Schedule;

/// The times of day a rule fires, in seconds after local midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Times {
    /// Sorted, without duplicates.
    At(Vec<i64>),
    Every {
        every: i64,
        from: i64,
        to: i64,
    },
}

/// One schedule, resolved: days, times and connection numbers (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub label: String,
    /// Bit 0 = Monday.
    days: u8,
    times: Times,
    pub connections: Vec<usize>,
}

impl Rule {
    /// Resolve a `[[schedule]]`; `resolve` maps a connection name to its index, and
    /// `primary` lists the indexes used when the schedule names none. `None` for an
    /// entry without usable times (validation reports those).
    pub fn new(
        index: usize,
        s: &Schedule,
        resolve: impl Fn(&str) -> Option<usize>,
        primary: &[usize],
    ) -> Option<Rule> {
        let days = if s.days.is_empty() {
            127
        } else {
            s.days.iter().fold(0, |m, d| m | d.mask())
        };
        let times = if !s.at.is_empty() {
            let mut v: Vec<i64> = s.at.iter().map(|t| i64::from(t.minutes()) * 60).collect();
            v.sort_unstable();
            v.dedup();
            Times::At(v)
        } else {
            let every = i64::try_from(s.every?.0.as_secs()).ok()?.max(60);
            let from = i64::from(s.from?.minutes()) * 60;
            let to = i64::from(s.to?.minutes()) * 60;
            if from > to {
                return None;
            }
            Times::Every { every, from, to }
        };
        let connections = if s.connections.is_empty() {
            primary.to_vec()
        } else {
            s.connections.iter().filter_map(|n| resolve(n)).collect()
        };
        Some(Rule {
            label: s
                .name
                .clone()
                .unwrap_or_else(|| format!("schedule {}", index + 1)),
            days,
            times,
            connections,
        })
    }

    fn runs_on(&self, day: i64) -> bool {
        self.days & (1 << weekday(day)) != 0
    }

    /// The first slot of `day` at or after `secs` seconds into it.
    fn first_in_day_from(&self, secs: i64) -> Option<i64> {
        match &self.times {
            Times::At(v) => v.iter().copied().find(|&t| t >= secs),
            Times::Every { every, from, to } => {
                let t = if secs <= *from {
                    *from
                } else {
                    from + (secs - from + every - 1) / every * every
                };
                (t <= *to).then_some(t)
            }
        }
    }

    /// The first slot strictly after the local stamp `after`, as a local stamp.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let day0 = day_of(after);
        // Seconds into the first day at which a slot would be "after": slots are on
        // whole seconds, so the next whole second after `after`.
        let into = (after - day0 * DAY).div_euclid(SEC) + 1;
        // A week covers every weekday; one more day for a slot later than `after`'s
        // time of day on the same weekday.
        for k in 0..=7 {
            let day = day0 + k;
            if !self.runs_on(day) {
                continue;
            }
            let from = if k == 0 { into } else { 0 };
            if let Some(t) = self.first_in_day_from(from) {
                return Some(day * DAY + t * SEC);
            }
        }
        None
    }

    /// Whether a slot lies in `(after, upto]`.
    pub fn fires_in(&self, after: i64, upto: i64) -> bool {
        self.next_after(after).is_some_and(|s| s <= upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Day, Span, TimeOfDay};
    use crate::schedule::clock::local_stamp;

    fn rule(s: Schedule) -> Rule {
        Rule::new(0, &s, |_| Some(0), &[0]).unwrap()
    }

    #[test]
    fn fixed_times_on_weekdays() {
        let r = rule(Schedule {
            days: vec![Day::Weekdays],
            at: vec![TimeOfDay(9 * 60), TimeOfDay(13 * 60)],
            ..Default::default()
        });
        // Friday 2026-11-27 14:00 → Monday 09:00.
        let fri = local_stamp(2026, 11, 27, 14, 0, 0);
        assert_eq!(r.next_after(fri), Some(local_stamp(2026, 11, 30, 9, 0, 0)));
        let mon9 = local_stamp(2026, 11, 30, 9, 0, 0);
        assert_eq!(r.next_after(mon9 - 1), Some(mon9));
        assert_eq!(
            r.next_after(mon9),
            Some(local_stamp(2026, 11, 30, 13, 0, 0))
        );
        assert!(r.fires_in(mon9 - 1, mon9));
        assert!(!r.fires_in(mon9, mon9 + 3600 * SEC));
    }

    #[test]
    fn interval_inside_a_window() {
        let r = rule(Schedule {
            every: Some(Span::mins(30)),
            from: Some(TimeOfDay(8 * 60)),
            to: Some(TimeOfDay(9 * 60 + 15)),
            ..Default::default()
        });
        let d = |h, m| local_stamp(2026, 11, 24, h, m, 0);
        assert_eq!(r.next_after(d(0, 0)), Some(d(8, 0)));
        assert_eq!(r.next_after(d(8, 0)), Some(d(8, 30)));
        assert_eq!(r.next_after(d(8, 31)), Some(d(9, 0)));
        assert_eq!(
            r.next_after(d(9, 0)),
            Some(local_stamp(2026, 11, 25, 8, 0, 0))
        );
    }
}
