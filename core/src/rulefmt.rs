//! Pieces shared by VPOP3's two rule languages, download rules (DLRULES.DAT, §8.1)
//! and SMTP rules (SMTPRULES.TXT, §8.2): the `TimeNow:` and `DayNow:` texts, the local
//! clock they are checked against, a message header read once as (name, value)
//! pairs, and the quoting of values in the rule logs. Written once so the two files
//! read the same texts the same way.

use crate::router::headers::{fields, header_end, unfold};

/// Local wall-clock time as the rules see it: passed in, never read (core reads no
/// clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalClock {
    /// Day of the week, 1 = Sunday … 7 = Saturday (§8.1.2.2.3, DECISIONS.md).
    pub weekday: u8,
    /// Minutes since local midnight.
    pub minutes: u16,
}

impl LocalClock {
    /// The local clock at `local_secs`: seconds since 1970-01-01T00:00 *local* time
    /// (Unix time plus the UTC offset in force).
    pub fn at(local_secs: i64) -> LocalClock {
        let days = local_secs.div_euclid(86_400);
        // 1970-01-01 was a Thursday (5).
        let weekday = (days + 4).rem_euclid(7) as u8 + 1;
        let minutes = (local_secs.rem_euclid(86_400) / 60) as u16;
        LocalClock { weekday, minutes }
    }
}

/// `TimeNow: 8:00-14:00` → minutes since midnight (start, end). The start is included
/// and the end excluded; an end before the start crosses midnight (`22:00-6:00`).
pub fn parse_time_range(text: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!(
            "TimeNow: needs a time range such as `8:00-14:00` (24-hour clock; \
             `22:00-6:00` crosses midnight), found `{text}`"
        )
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let from = parse_clock(a.trim()).ok_or_else(bad)?;
    let to = parse_clock(b.trim()).ok_or_else(bad)?;
    if from == to {
        return Err(format!(
            "TimeNow: `{text}` is an empty range; to match all day leave the condition out"
        ));
    }
    Ok((from, to))
}

/// Whether `minutes` lies in the range [`parse_time_range`] read.
pub fn time_in_range(from: u16, to: u16, minutes: u16) -> bool {
    if from <= to {
        from <= minutes && minutes < to
    } else {
        minutes >= from || minutes < to
    }
}

fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    // 24:00 is allowed as the end of the day.
    if (h < 24 && m < 60) || (h == 24 && m == 0) {
        Some(h * 60 + m)
    } else {
        None
    }
}

/// `DayNow: 23456` → a bit set: bit n = day n (1 = Sunday … 7 = Saturday). Spaces and
/// commas between the digits are allowed.
pub fn parse_days(text: &str) -> Result<u8, String> {
    let mut days = 0u8;
    for c in text.chars() {
        match c {
            '1'..='7' => days |= 1 << (c as u8 - b'0'),
            ' ' | ',' => {}
            _ => {
                return Err(format!(
                    "DayNow: needs day numbers 1 (Sunday) to 7 (Saturday), e.g. \
                     `DayNow: 23456` for weekdays; found `{text}`"
                ))
            }
        }
    }
    if days == 0 {
        return Err("DayNow: needs at least one day number, e.g. `DayNow: 23456`".into());
    }
    Ok(days)
}

/// Whether `weekday` (1 = Sunday) is in the set [`parse_days`] read.
pub fn day_in(days: u8, weekday: u8) -> bool {
    (1..=7).contains(&weekday) && days & (1 << weekday) != 0
}

/// A message header's fields as (name, unfolded and trimmed value), read once per
/// message.
pub struct HeaderFields {
    fields: Vec<(String, String)>,
}

impl HeaderFields {
    /// Read the header of `message` (everything up to the blank line, or all of it).
    pub fn new(message: &[u8]) -> HeaderFields {
        let end = header_end(message);
        let fields = fields(message, end)
            .into_iter()
            .map(|f| {
                let name = String::from_utf8_lossy(f.name(message)).into_owned();
                let value = unfold(&String::from_utf8_lossy(f.value(message)))
                    .trim()
                    .to_string();
                (name, value)
            })
            .collect();
        HeaderFields { fields }
    }

    /// The values of every field called `name` (any case), in header order.
    pub fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field's value.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(_, v)| v.as_str())
    }
}

/// Longest value written to a rule log.
const MAX_LOGGED: usize = 500;

/// `s` as a log value: in `"`, with `"` and `\` escaped and control characters as
/// spaces, cut at 500 characters, so one activation is always one line and its
/// fields can be read back unambiguously.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_LOGGED) + 2);
    out.push('"');
    for c in s.chars().take(MAX_LOGGED) {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a rule with these condition results fires: any one of them (a `+` rule) or
/// all of them; a rule with no conditions always fires. Both rule languages (download
/// rules and SMTP rules) combine their conditions this way.
pub fn combine(any_of: bool, mut results: impl Iterator<Item = bool>) -> bool {
    if any_of {
        // `any` of nothing is false, but a rule without conditions fires.
        match results.next() {
            None => true,
            Some(first) => first || results.any(|b| b),
        }
    } else {
        results.all(|b| b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_ranges() {
        // 1970-01-01 00:00 was a Thursday (5); 2026-01-04 is a Sunday.
        assert_eq!(
            LocalClock::at(0),
            LocalClock {
                weekday: 5,
                minutes: 0
            }
        );
        assert_eq!(LocalClock::at(1_767_484_800).weekday, 1);
        assert_eq!(LocalClock::at(-60).weekday, 4);
        assert_eq!(parse_time_range("8:00-14:00"), Ok((480, 840)));
        assert!(time_in_range(480, 840, 480));
        assert!(!time_in_range(480, 840, 840));
        assert!(time_in_range(1320, 360, 30));
        assert!(parse_time_range("8-14").is_err());
        assert!(parse_time_range("8:00-8:00").is_err());
        assert_eq!(parse_days("23456"), Ok(0b0111_1100));
        assert!(day_in(0b0111_1100, 2) && !day_in(0b0111_1100, 1) && !day_in(0xff, 0));
        assert!(parse_days("8").is_err() && parse_days("").is_err());
        assert_eq!(quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c d\"");
    }
}
