//! Local wall time as plain numbers: core cannot read the time zone database, so the
//! driver hands over the local time and the scheduler does calendar arithmetic on it.
//!
//! A *local stamp* is microseconds since 1970-01-01 00:00 **local** time (UTC plus the
//! offset in force). Days and weekdays follow from it without any zone rules.

/// Microseconds in a second and in a day.
pub const SEC: i64 = 1_000_000;
pub const DAY: i64 = 86_400 * SEC;

/// Day number (days since 1970-01-01) of a local stamp.
pub fn day_of(local: i64) -> i64 {
    local.div_euclid(DAY)
}

/// Weekday of a day number, 0 = Monday (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> u8 {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (day + 3).rem_euclid(7) as u8
}

/// `(year, month, day)` of a day number (Howard Hinnant's civil_from_days).
pub fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Day number of a civil date (days_from_civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A local stamp for a civil date and time (seconds precision).
pub fn local_stamp(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> i64 {
    days_from_civil(y, m, d) * DAY + i64::from(hh * 3600 + mm * 60 + ss) * SEC
}

/// `YYYY-MM-DD HH:MM:SS` of a local stamp, for logs and traces.
pub fn format_local(local: i64) -> String {
    let day = day_of(local);
    let (y, m, d) = civil(day);
    let secs = (local - day * DAY) / SEC;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_and_dates() {
        assert_eq!(weekday(0), 3); // Thursday
        let d = days_from_civil(2026, 11, 23);
        assert_eq!(weekday(d), 0); // a Monday
        assert_eq!(civil(d), (2026, 11, 23));
        assert_eq!(civil(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        assert_eq!(weekday(day_of(-1)), 2); // 1969-12-31, a Wednesday
        let s = local_stamp(2026, 3, 29, 2, 30, 5);
        assert_eq!(format_local(s), "2026-03-29 02:30:05");
    }
}
