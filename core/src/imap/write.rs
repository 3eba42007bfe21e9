//! Writing IMAP data: strings as atoms, quoted strings or literals, flag lists and
//! dates. Responses are written by hand rather than through imap-codec's encoder so
//! each byte on the wire is visible in the tests and nothing is allocated per item.

use crate::mailbox::{Flag, Flags};

/// Write `s` as an IMAP string: quoted when it can be, a literal otherwise
/// (CR, LF, NUL, 8-bit, or very long text).
pub(super) fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() <= 1024
        && s.iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80);
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

pub(super) fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// A mailbox name: modified UTF-7, as an atom-safe quoted string (INBOX bare).
pub(super) fn mailbox(out: &mut Vec<u8>, name: &str) {
    if name.eq_ignore_ascii_case("INBOX") {
        out.extend_from_slice(b"INBOX");
        return;
    }
    string(out, crate::mailbox::encode_mutf7(name).as_bytes());
}

/// `(\Seen \Flagged kw)`, with `\Recent` when the session counts it so.
pub(super) fn flag_list(out: &mut Vec<u8>, flags: Flags, keywords: &[&str], recent: bool) {
    out.push(b'(');
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    for f in Flag::ALL_IMAP_ORDER {
        if flags.contains(f) {
            sep(out);
            out.extend_from_slice(f.imap_name().as_bytes());
        }
    }
    for k in keywords {
        sep(out);
        out.extend_from_slice(k.as_bytes());
    }
    if recent {
        sep(out);
        out.extend_from_slice(b"\\Recent");
    }
    out.push(b')');
}

/// The system flags in the order clients usually see them (Dovecot's).
trait ImapOrder {
    const ALL_IMAP_ORDER: [Flag; 5];
}

impl ImapOrder for Flag {
    const ALL_IMAP_ORDER: [Flag; 5] = [
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `"17-Jul-1996 02:44:25 +0000"` (RFC 3501 date-time), from Unix seconds, in UTC.
pub(super) fn date_time(out: &mut Vec<u8>, secs: u64) {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0).min(11)];
    out.extend_from_slice(
        format!(
            "\"{d:02}-{month}-{y:04} {:02}:{:02}:{:02} +0000\"",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
        .as_bytes(),
    );
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31); H. Hinnant's algorithm.
pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Remove CR and LF from text put in a response line (a name, a reason).
pub(super) fn clean(text: &str) -> String {
    text.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_dates_and_flags() {
        let mut o = Vec::new();
        string(&mut o, b"a \"b\\");
        o.push(b' ');
        string(&mut o, b"x\r\ny");
        assert_eq!(o, b"\"a \\\"b\\\\\" {4}\r\nx\r\ny");
        let mut o = Vec::new();
        date_time(&mut o, 837_571_465);
        assert_eq!(o, b"\"17-Jul-1996 02:44:25 +0000\"");
        assert_eq!(days_from_civil(1996, 7, 17), 837_571_465 / 86_400);
        let mut o = Vec::new();
        flag_list(
            &mut o,
            Flags::NONE.with(Flag::Seen).with(Flag::Answered),
            &["$Junk"],
            true,
        );
        assert_eq!(o, b"(\\Answered \\Seen $Junk \\Recent)");
    }
}
