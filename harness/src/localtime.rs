//! The simulated local clock: UTC plus an offset that scripted changes move (a DST
//! transition, announced in advance like the tz database would; or a third-party
//! program setting the clock, unannounced).
//!
//! Virtual time is the monotonic reading. A DST transition moves only the offset; a
//! clock set by someone moves the wall reading too ([`LocalClock::stamp`]), and the
//! monotonic reading runs on untouched, as on a real machine.

use mailroom_core::schedule::clock::{local_stamp, SEC};
use mailroom_core::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: Instant,
    /// Offset from UTC after the change, in seconds.
    pub offset: i64,
    /// A DST transition the driver knows in advance (passed as `next_change`).
    pub announced: bool,
    /// Seconds the wall clock was set by (0 for a DST transition).
    pub wall_by: i64,
}

#[derive(Debug, Clone)]
pub struct LocalClock {
    initial: i64,
    changes: Vec<Change>,
}

impl LocalClock {
    /// A fixed offset (seconds east of UTC).
    pub fn fixed(offset: i64) -> LocalClock {
        LocalClock {
            initial: offset,
            changes: Vec::new(),
        }
    }

    /// Central European time for 2026: +1h, +2h from 29 March 01:00 UTC, back to +1h
    /// on 25 October 01:00 UTC.
    pub fn central_europe_2026() -> LocalClock {
        let mut c = LocalClock::fixed(3600);
        c.dst(utc(2026, 3, 29, 1, 0), 7200);
        c.dst(utc(2026, 10, 25, 1, 0), 3600);
        c
    }

    /// An announced offset change (DST).
    pub fn dst(&mut self, at: Instant, offset: i64) {
        self.add(Change {
            at,
            offset,
            announced: true,
            wall_by: 0,
        });
    }

    /// Someone sets the clock by `by` seconds at `at` (unannounced): the wall reading
    /// moves, the monotonic one does not.
    pub fn jump(&mut self, at: Instant, by: i64) {
        let offset = self.offset_at(at) + by;
        self.add(Change {
            at,
            offset,
            announced: false,
            wall_by: by,
        });
    }

    /// Seconds the wall clock has been set by, in all, at `now`.
    pub fn wall_shift_at(&self, now: Instant) -> i64 {
        self.changes
            .iter()
            .take_while(|c| c.at <= now)
            .map(|c| c.wall_by)
            .sum()
    }

    /// `now` (virtual time, the monotonic reading) with the wall reading the machines
    /// would read: virtual time plus every clock setting so far.
    pub fn stamp(&self, now: Instant) -> Instant {
        let wall = i128::from(now.mono_micros()) + i128::from(self.wall_shift_at(now)) * 1_000_000;
        Instant::from_readings(
            now.mono_micros(),
            u64::try_from(wall.max(0)).unwrap_or(u64::MAX),
        )
    }

    fn add(&mut self, c: Change) {
        self.changes.push(c);
        self.changes.sort_by_key(|c| c.at);
    }

    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    pub fn offset_at(&self, now: Instant) -> i64 {
        self.changes
            .iter()
            .take_while(|c| c.at <= now)
            .last()
            .map_or(self.initial, |c| c.offset)
    }

    /// The local stamp at `now` (virtual time is Unix microseconds; the offset includes
    /// the wall-clock settings, so this is the stamped wall reading plus the zone).
    pub fn local(&self, now: Instant) -> i64 {
        now.mono_micros() as i64 + self.offset_at(now) * SEC
    }

    /// The next announced change after `now`.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        self.changes
            .iter()
            .find(|c| c.at > now && c.announced)
            .map(|c| c.at)
    }
}

/// A UTC moment as an Instant (Unix microseconds).
pub fn utc(y: i64, m: u32, d: u32, hh: u32, mm: u32) -> Instant {
    Instant::from_micros(local_stamp(y, m, d, hh, mm, 0) as u64)
}

/// The UTC Instant of a local wall time under a fixed offset.
pub fn at_local(y: i64, m: u32, d: u32, hh: u32, mm: u32, offset: i64) -> Instant {
    Instant::from_micros((local_stamp(y, m, d, hh, mm, 0) - offset * SEC) as u64)
}
