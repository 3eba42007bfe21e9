//! The autoresponder's date and time pictures (§4.2.3.2.1.2): Windows' `GetDateFormat`
//! / `GetTimeFormat` letters, rendered in English (the runtime passes the local time;
//! core knows no locale).

use chrono::{Datelike, NaiveDateTime, Timelike};

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The three-letter day names `<Valid:>` accepts, Monday first.
pub fn day_abbrev(i: usize) -> &'static str {
    &DAYS[i % 7][..3]
}

/// `t` rendered with `picture`: runs of `d M y h H m s t` are fields, text in single
/// quotes (`''` = one quote) and anything else is copied.
pub fn format(picture: &str, t: &NaiveDateTime) -> String {
    let chars: Vec<char> = picture.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let h12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let pm = t.hour() >= 12;
        let field = match (c, n) {
            ('d', 1) => t.day().to_string(),
            ('d', 2) => format!("{:02}", t.day()),
            ('d', 3) => DAYS[t.weekday().num_days_from_monday() as usize][..3].to_string(),
            ('d', _) => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
            ('M', 1) => t.month().to_string(),
            ('M', 2) => format!("{:02}", t.month()),
            ('M', 3) => MONTHS[t.month0() as usize][..3].to_string(),
            ('M', _) => MONTHS[t.month0() as usize].to_string(),
            ('y', 1) => (t.year().rem_euclid(100)).to_string(),
            ('y', 2) => format!("{:02}", t.year().rem_euclid(100)),
            ('y', _) => format!("{:04}", t.year()),
            ('h', 1) => h12.to_string(),
            ('h', _) => format!("{h12:02}"),
            ('H', 1) => t.hour().to_string(),
            ('H', _) => format!("{:02}", t.hour()),
            ('m', 1) => t.minute().to_string(),
            ('m', _) => format!("{:02}", t.minute()),
            ('s', 1) => t.second().to_string(),
            ('s', _) => format!("{:02}", t.second()),
            ('t', 1) => if pm { "P" } else { "A" }.to_string(),
            ('t', _) => if pm { "PM" } else { "AM" }.to_string(),
            _ => std::iter::repeat_n(c, n).collect(),
        };
        out.push_str(&field);
        i += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn the_manuals_pictures() {
        // The manual prints `ddd', ' MMM dd yy` → "Wed, Aug 31 94"; its typesetting put
        // a space inside the quotes. Windows' own example reads `ddd',' MMM dd yy`.
        let t = at("1994-08-31 23:29:40");
        assert_eq!(format("ddd',' MMM dd yy", &t), "Wed, Aug 31 94");
        assert_eq!(format("hh':'mm':'ss tt", &t), "11:29:40 PM");
        assert_eq!(format("dddd d MMMM yyyy", &t), "Wednesday 31 August 1994");
        assert_eq!(format("H:m:s t", &at("2007-03-05 09:05:07")), "9:5:7 A");
        assert_eq!(
            format("d/M/y 'o''clock'", &at("2007-03-05 09:05:07")),
            "5/3/7 o'clock"
        );
    }
}
