//! The one clock of both runtimes: every `now` handed to a core machine comes from here.
//!
//! Both readings of [`Instant`] are taken at once (docs/ARCHITECTURE.md "Time"): the
//! monotonic one from [`std::time::Instant`], the wall one from [`SystemTime`]. The
//! monotonic reading starts at the wall reading of the first call, so the two agree
//! until somebody sets the wall clock; from then on timers keep counting on the
//! monotonic line and only written dates follow the wall clock.

use mailroom_core::Instant;
use std::sync::OnceLock;
use std::time::{Instant as StdInstant, SystemTime, UNIX_EPOCH};

/// The process's monotonic epoch and the wall reading taken with it.
static EPOCH: OnceLock<(StdInstant, u64)> = OnceLock::new();

/// µs since the Unix epoch by the wall clock (0 for a clock set before 1970).
pub fn unix_micros() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Seconds since the Unix epoch by the wall clock: for stamps kept on disk.
pub fn unix_secs() -> u64 {
    unix_micros() / 1_000_000
}

/// Now, read twice at once.
pub fn now() -> Instant {
    let &(start, start_wall) = EPOCH.get_or_init(|| (StdInstant::now(), unix_micros()));
    let wall = unix_micros();
    let elapsed = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    Instant::from_readings(start_wall.saturating_add(elapsed), wall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_runs_backwards_and_starts_at_the_wall_clock() {
        let a = now();
        let b = now();
        assert!(b >= a);
        // Within a minute of each other unless the wall clock was set meanwhile.
        let gap = a.mono_micros().abs_diff(a.unix_micros());
        assert!(gap < 60_000_000, "{a:?}");
    }
}
