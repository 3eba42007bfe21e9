//! Writing a moment as a date: the logs' ISO 8601 stamps and the CLI's listings.

/// Unix time `secs` as UTC (year, month, day, hour, minute, second).
pub fn utc_fields(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let rem = secs % 86_400;
    let (y, m, d) = mailroom_core::schedule::clock::civil((secs / 86_400) as i64);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// ISO 8601 in UTC with its offset, as the logs write it (DECISIONS.md).
pub fn iso8601(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = utc_fields(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}+00:00")
}

/// Seconds east of UTC in force at Unix time `t`.
pub fn offset_at(t: i64) -> i64 {
    let tt = t as libc::time_t;
    // SAFETY: `tm` is plain data that `localtime_r` fills; both pointers are valid for
    // the call and `localtime_r` keeps neither.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::localtime_r(&tt, &mut tm) };
    if r.is_null() {
        0
    } else {
        tm.tm_gmtoff
    }
}

/// ISO 8601 in local time with its offset and milliseconds, for log lines:
/// `2026-12-07T23:05:05.123+01:00`.
pub fn iso8601_local_ms(unix_micros: u64) -> String {
    let secs = unix_micros / 1_000_000;
    let off = offset_at(i64::try_from(secs).unwrap_or(i64::MAX));
    let local = (secs as i64).saturating_add(off).max(0) as u64;
    let (y, m, d, hh, mm, ss) = utc_fields(local);
    let ms = unix_micros / 1000 % 1000;
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}{sign}{:02}:{:02}",
        off / 3600,
        off % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(1_767_225_600), "2026-01-01T00:00:00+00:00");
    }

    #[test]
    fn local_dates_carry_their_offset() {
        let us = 1_767_225_600_123_456;
        let s = iso8601_local_ms(us);
        let off = offset_at(1_767_225_600);
        let sign = if off < 0 { '-' } else { '+' };
        let want_tail = format!("{sign}{:02}:{:02}", off.abs() / 3600, off.abs() % 3600 / 60);
        assert!(s.ends_with(&want_tail), "{s}");
        assert_eq!(s.len(), "2026-01-01T00:00:00.123+00:00".len(), "{s}");
        if off == 0 {
            assert_eq!(s, "2026-01-01T00:00:00.123+00:00");
        }
    }
}
