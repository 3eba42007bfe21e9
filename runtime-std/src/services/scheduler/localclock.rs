//! The local wall clock for the scheduler: the C library's `localtime_r` reads the
//! time zone database (TZ, /etc/localtime), so DST needs no crate of our own.

use mailroom_core::schedule::clock::SEC;

pub use crate::platform::datetime::offset_at;

/// Unix seconds now.
pub fn unix_now() -> i64 {
    i64::try_from(crate::platform::clock::unix_micros() / 1_000_000).unwrap_or(i64::MAX)
}

/// The local stamp (microseconds since 1970-01-01 00:00 local) at Unix microseconds `us`.
pub fn local_stamp(us: i64) -> i64 {
    us + offset_at(us.div_euclid(SEC)) * SEC
}

/// The next moment (Unix seconds) within `horizon` seconds after `t` at which the
/// offset changes, found by probing hourly and then bisecting to the second.
pub fn next_change(t: i64, horizon: i64) -> Option<i64> {
    let now = offset_at(t);
    let mut lo = t;
    let mut hi = None;
    let mut probe = t;
    while probe < t + horizon {
        probe += 3600;
        if offset_at(probe) != now {
            hi = Some(probe);
            break;
        }
        lo = probe;
    }
    let mut hi = hi?;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid) == now {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}
