//! The `Received:` trace line this server adds (RFC 5321 §4.4, RFC 3848 protocol
//! keywords) and RFC 5322 dates, computed from an [`Instant`] taken as Unix time.

use crate::Instant;
use std::io::Write;
use std::net::IpAddr;

/// Fold before a clause that would take the line past this many octets.
const FOLD_AT: usize = 78;

/// What goes into one `Received:` line.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    pub helo: &'a str,
    /// The client's address; `None` when "hide IP addresses" is on.
    pub ip: Option<IpAddr>,
    pub host: &'a str,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA` or `ESMTPSA`.
    pub protocol: &'static str,
    pub id: &'a str,
    /// The recipient, when there is exactly one.
    pub rcpt: Option<&'a str>,
    pub date: Instant,
}

/// The RFC 3848 keyword for a session.
pub(crate) fn protocol(esmtp: bool, tls: bool, auth: bool) -> &'static str {
    match (esmtp, tls, auth) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    }
}

/// Append the `Received:` line, CRLF-terminated and folded (CRLF + tab) between
/// clauses so lines stay within 78 octets unless a single clause is longer.
pub fn write_received(out: &mut Vec<u8>, t: &Trace<'_>) {
    let mut line_start = out.len();
    out.extend_from_slice(b"Received:");
    let mut clause = |out: &mut Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
        let sep = out.len();
        out.push(b' ');
        f(out);
        if out.len() - line_start > FOLD_AT && sep - line_start > "Received:".len() {
            out.splice(sep..sep + 1, *b"\r\n\t");
            line_start = sep + 2;
        }
    };
    clause(out, &|o| {
        let _ = write!(o, "from {}", t.helo);
        match t.ip {
            Some(IpAddr::V4(ip)) => {
                let _ = write!(o, " ([{ip}])");
            }
            Some(IpAddr::V6(ip)) => {
                let _ = write!(o, " ([IPv6:{ip}])");
            }
            None => {}
        }
    });
    clause(out, &|o| {
        let _ = write!(o, "by {} (mailroom)", t.host);
    });
    clause(out, &|o| {
        let _ = write!(o, "with {}", t.protocol);
    });
    clause(out, &|o| {
        let _ = write!(o, "id {}", t.id);
        if t.rcpt.is_none() {
            o.push(b';');
        }
    });
    if let Some(rcpt) = t.rcpt {
        clause(out, &|o| {
            let _ = write!(o, "for <{rcpt}>;");
        });
    }
    clause(out, &|o| write_date(o, t.date));
    out.extend_from_slice(b"\r\n");
}

/// RFC 5322 date-time in UTC: `Thu, 1 Jan 1970 00:00:00 +0000`.
pub(crate) fn write_date(out: &mut Vec<u8>, when: Instant) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = when.unix_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Whole days since 1970 fit an i64 many times over.
    let (y, m, d) = crate::schedule::clock::civil(days as i64);
    let _ = write!(
        out,
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(secs: u64) -> String {
        let mut v = Vec::new();
        write_date(&mut v, Instant::from_secs(secs));
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(date(1_767_225_600), "Thu, 1 Jan 2026 00:00:00 +0000");
        assert_eq!(date(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 +0000");
        assert_eq!(date(4_102_444_800), "Fri, 1 Jan 2100 00:00:00 +0000");
        // The largest Instant still gives a date, not a panic.
        let mut v = Vec::new();
        write_date(&mut v, Instant::from_micros(u64::MAX));
        assert!(v.ends_with(b"+0000"));
    }

    #[test]
    fn received_short_and_folded() {
        let mut out = Vec::new();
        let t = Trace {
            helo: "client.example",
            ip: Some("192.0.2.7".parse().unwrap()),
            host: "mail.example.com",
            protocol: protocol(true, true, true),
            id: "s1.1",
            rcpt: Some("bob@example.com"),
            date: Instant::from_secs(0),
        };
        write_received(&mut out, &t);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Received: from client.example ([192.0.2.7]) by mail.example.com (mailroom)\r\n\
             \twith ESMTPSA id s1.1 for <bob@example.com>; Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        let mut out = Vec::new();
        write_received(
            &mut out,
            &Trace {
                ip: None,
                rcpt: None,
                helo: "h",
                host: "m",
                protocol: "SMTP",
                ..t
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: from h by m (mailroom) with SMTP id s1.1;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        let mut out = Vec::new();
        write_received(
            &mut out,
            &Trace {
                ip: Some("2001:db8::1".parse().unwrap()),
                ..t
            },
        );
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("([IPv6:2001:db8::1])"));
    }
}
