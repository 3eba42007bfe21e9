//! Time as a value: the runtimes and the harness pass `now` in; core never asks for it.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::ops::{Add, Sub};
use std::time::Duration;

/// A moment, read twice at once (as Go's `time.Time` does).
///
/// - The **monotonic** reading (µs since an epoch chosen by the driver) never jumps.
///   Equality, ordering, hashing, [`Instant::saturating_since`] and `± Duration` use it
///   only, so deadlines, idle timeouts and retry timers neither fire early nor starve
///   when somebody sets the wall clock.
/// - The **wall** reading (µs since the Unix epoch) is for dates that are written or
///   kept across restarts: `Received:`/`Date:` headers, logs, stamps on disk, schedules
///   in local time. Read it with [`Instant::unix_secs`] / [`Instant::unix_micros`].
///
/// [`Instant::from_secs`] and [`Instant::from_micros`] give both readings the same
/// value; the production clock starts its monotonic reading at the wall reading of
/// process start, so the two agree until the wall clock is set.
#[derive(Clone, Copy, Default)]
pub struct Instant {
    mono: u64,
    wall: u64,
}

impl Instant {
    pub const ZERO: Instant = Instant { mono: 0, wall: 0 };

    /// Both readings `us` µs after the epoch.
    pub const fn from_micros(us: u64) -> Self {
        Instant { mono: us, wall: us }
    }

    /// Both readings `s` seconds after the epoch.
    pub const fn from_secs(s: u64) -> Self {
        Instant::from_micros(s.saturating_mul(1_000_000))
    }

    /// Two readings taken at one moment (the runtimes' clock and the harness).
    pub const fn from_readings(mono_micros: u64, unix_micros: u64) -> Self {
        Instant {
            mono: mono_micros,
            wall: unix_micros,
        }
    }

    /// A wall-clock stamp read back from disk (µs since the Unix epoch), placed on the
    /// monotonic line of `now`: `mono = now.mono + (stamp - now.wall)`, saturating.
    /// A stamp in the past stays in the past by the same amount, so a retry written
    /// "in 15 minutes" before a restart fires 15 minutes after it was written even if
    /// the monotonic epoch changed.
    pub fn from_unix_stamp(unix_micros: u64, now: Instant) -> Self {
        let mono = i128::from(now.mono) + i128::from(unix_micros) - i128::from(now.wall);
        let mono = u64::try_from(mono.max(0)).unwrap_or(u64::MAX);
        Instant {
            mono,
            wall: unix_micros,
        }
    }

    /// [`Instant::from_unix_stamp`] for a stamp in whole seconds.
    pub fn from_unix_secs(secs: u64, now: Instant) -> Self {
        Instant::from_unix_stamp(secs.saturating_mul(1_000_000), now)
    }

    /// The wall reading: µs since the Unix epoch. For dates and stamps, never timers.
    pub const fn unix_micros(self) -> u64 {
        self.wall
    }

    /// The wall reading in whole seconds since the Unix epoch.
    pub const fn unix_secs(self) -> u64 {
        self.wall / 1_000_000
    }

    /// The monotonic reading: µs since the driver's epoch. Only differences of it mean
    /// anything (traces, elapsed time).
    pub const fn mono_micros(self) -> u64 {
        self.mono
    }

    /// The same moment with the wall reading moved by `delta_micros` (the harness's
    /// clock jump; a runtime never needs it).
    pub fn jump_wall(self, delta_micros: i64) -> Self {
        let wall = i128::from(self.wall) + i128::from(delta_micros);
        Instant {
            mono: self.mono,
            wall: u64::try_from(wall.max(0)).unwrap_or(u64::MAX),
        }
    }

    /// Monotonic time elapsed since `earlier`, or zero if `earlier` is in the future.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.mono.saturating_sub(earlier.mono))
    }
}

impl PartialEq for Instant {
    fn eq(&self, other: &Self) -> bool {
        self.mono == other.mono
    }
}

impl Eq for Instant {}

impl PartialOrd for Instant {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Instant {
    fn cmp(&self, other: &Self) -> Ordering {
        self.mono.cmp(&other.mono)
    }
}

impl Hash for Instant {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.mono.hash(state);
    }
}

impl std::fmt::Debug for Instant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.mono == self.wall {
            write!(f, "Instant({})", self.mono)
        } else {
            write!(f, "Instant(mono {}, wall {})", self.mono, self.wall)
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Advances both readings.
impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        let us = micros(d);
        Instant {
            mono: self.mono.saturating_add(us),
            wall: self.wall.saturating_add(us),
        }
    }
}

/// Moves both readings back.
impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        let us = micros(d);
        Instant {
            mono: self.mono.saturating_sub(us),
            wall: self.wall.saturating_sub(us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_secs(10);
        assert_eq!((t + Duration::from_millis(1500)).unix_micros(), 11_500_000);
        assert_eq!((t - Duration::from_secs(20)), Instant::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::from_secs(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(t.saturating_since(Instant::from_secs(12)), Duration::ZERO);
        assert_eq!(
            t.saturating_since(Instant::from_secs(4)),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn comparisons_use_the_monotonic_reading_only() {
        let a = Instant::from_readings(100, 5_000);
        let b = Instant::from_readings(100, 9_000);
        assert_eq!(a, b);
        assert!(Instant::from_readings(101, 0) > b);
        let jumped = a.jump_wall(-3_600_000_000);
        assert_eq!(jumped, a);
        assert_eq!(jumped.unix_micros(), 0);
        assert_eq!(a.jump_wall(1).unix_micros(), 5_001);
    }

    #[test]
    fn stamps_from_disk_are_anchored_to_now() {
        // Monotonic epoch at process start, wall far later.
        let now = Instant::from_readings(1_000_000, 50_000_000);
        let later = Instant::from_unix_stamp(50_000_000 + 900, now);
        assert_eq!(later.saturating_since(now), Duration::from_micros(900));
        assert_eq!(later.unix_micros(), 50_000_900);
        let earlier = Instant::from_unix_secs(49, now);
        assert_eq!(now.saturating_since(earlier), Duration::from_secs(1));
        // Older than the monotonic epoch: saturates at zero, still in the past.
        assert_eq!(Instant::from_unix_secs(1, now).mono_micros(), 0);
    }
}
