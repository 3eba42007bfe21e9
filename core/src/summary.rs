//! SUMMARY.LOG lines (LOG-2, manual §21.12): one line per message event, in VPOP3's
//! own format so existing VPOP3 log analysers read Mailroom's file unchanged.
//!
//! ```text
//! 15/12/1999 10:20:01.281 - 6 1218
//! 15/12/1999 10:20:01.343 - 2 1218 autosubscribe
//! ```
//!
//! Local date `DD/MM/YYYY`, local time with milliseconds, ` - `, the type code, a
//! number (the message size, or the seconds online for [`Code::OnlineTime`]) and an
//! optional user name or address. The manual's list prints the codes 1–12 (its
//! numbering was lost when it was converted), but its text says "a number from 0 to
//! 11" and its own example (`6` for a collected message, then `2` for the user who got
//! it) only reads right counted from 0, so the codes here are 0–11.

use crate::schedule::clock::{civil, day_of, DAY};

/// Longest name written; a longer one is cut (names come from the network).
pub const MAX_NAME: usize = 256;

/// The entry type codes of §21.12.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 0: a local message received by the user (incoming SMTP mail too).
    LocalReceived = 0,
    /// 1: a local message sent by the user.
    LocalSent = 1,
    /// 2: an Internet message received by the user (collected by POP3).
    InternetReceived = 2,
    /// 3: an Internet message sent by the user (queued for the Internet).
    InternetSent = 3,
    /// 4: a status, warning or information message from the server, received by the user.
    Automatic = 4,
    /// 5: put into the LAN forward queue from the user.
    LanQueuedFrom = 5,
    /// 6: downloaded by the POP3 collector.
    Collected = 6,
    /// 7: sent by the SMTP sender.
    Sent = 7,
    /// 8: sent by LAN forwarding.
    LanSent = 8,
    /// 9: the online time of a connection; the number is seconds.
    OnlineTime = 9,
    /// 11: put into the LAN forward queue for the address.
    LanQueuedFor = 11,
}

/// One SUMMARY.LOG line (without its line end) for an event at `local_micros`:
/// microseconds since 1970-01-01 00:00 local time, as the scheduler's local stamps.
pub fn line(local_micros: i64, code: Code, number: u64, name: Option<&str>) -> String {
    let day = day_of(local_micros);
    let (y, m, d) = civil(day);
    let in_day = local_micros - day * DAY;
    let ms = in_day / 1000;
    let (hh, mi, ss, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = format!(
        "{d:02}/{m:02}/{y:04} {hh:02}:{mi:02}:{ss:02}.{ms:03} - {} {number}",
        code as u8
    );
    if let Some(n) = name.map(clean_name).filter(|n| !n.is_empty()) {
        out.push(' ');
        out.push_str(&n);
    }
    out
}

/// A name as one field: no line breaks, controls or spaces (an analyser splits on
/// spaces), at most [`MAX_NAME`] characters.
fn clean_name(name: &str) -> String {
    name.trim()
        .chars()
        .take(MAX_NAME)
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::clock::{local_stamp, SEC};

    fn at(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32, ms: i64) -> i64 {
        local_stamp(y, m, d, hh, mm, ss) + ms * 1000
    }

    #[test]
    fn the_manuals_example_lines() {
        let t = at(1999, 12, 15, 10, 20, 1, 281);
        assert_eq!(
            line(t, Code::Collected, 1218, None),
            "15/12/1999 10:20:01.281 - 6 1218"
        );
        let t = at(1999, 12, 15, 10, 20, 1, 343);
        assert_eq!(
            line(t, Code::InternetReceived, 1218, Some("autosubscribe")),
            "15/12/1999 10:20:01.343 - 2 1218 autosubscribe"
        );
    }

    #[test]
    fn every_code_and_its_number() {
        let t = at(2026, 1, 2, 3, 4, 5, 6);
        let table = [
            (Code::LocalReceived, "0"),
            (Code::LocalSent, "1"),
            (Code::InternetReceived, "2"),
            (Code::InternetSent, "3"),
            (Code::Automatic, "4"),
            (Code::LanQueuedFrom, "5"),
            (Code::Collected, "6"),
            (Code::Sent, "7"),
            (Code::LanSent, "8"),
            (Code::OnlineTime, "9"),
            (Code::LanQueuedFor, "11"),
        ];
        for (code, n) in table {
            assert_eq!(
                line(t, code, 42, Some("bob")),
                format!("02/01/2026 03:04:05.006 - {n} 42 bob")
            );
        }
    }

    #[test]
    fn midnight_and_last_millisecond_of_a_day() {
        assert_eq!(
            line(at(2026, 12, 31, 0, 0, 0, 0), Code::Sent, 0, None),
            "31/12/2026 00:00:00.000 - 7 0"
        );
        let last = at(2027, 1, 1, 0, 0, 0, 0) - 1000;
        assert_eq!(
            line(last, Code::Sent, 1, None),
            "31/12/2026 23:59:59.999 - 7 1"
        );
        // Before 1970 local time (a negative stamp) still formats.
        assert_eq!(
            line(-SEC, Code::Sent, 1, None),
            "31/12/1969 23:59:59.000 - 7 1"
        );
    }

    #[test]
    fn a_hostile_name_stays_one_field_on_one_line() {
        let t = at(2026, 1, 2, 3, 4, 5, 6);
        let l = line(t, Code::LocalReceived, 9, Some("a b\r\n07/01/2026 - 4 9 x"));
        assert_eq!(l, "02/01/2026 03:04:05.006 - 0 9 a_b__07/01/2026_-_4_9_x");
        let long = "x".repeat(10_000);
        let l = line(t, Code::LocalReceived, 9, Some(&long));
        assert_eq!(l.len(), "02/01/2026 03:04:05.006 - 0 9 ".len() + MAX_NAME);
        assert_eq!(
            line(t, Code::LocalReceived, 9, Some("  ")),
            "02/01/2026 03:04:05.006 - 0 9"
        );
    }
}
