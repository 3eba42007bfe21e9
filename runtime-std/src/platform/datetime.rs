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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(1_767_225_600), "2026-01-01T00:00:00+00:00");
    }
}
