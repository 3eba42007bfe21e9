//! The daily summary report (LOG-2, manual §15.2.1): a day's SUMMARY.LOG lines
//! counted per user into the tables of the manual's example, as a mail for the main
//! administrator.
//!
//! Sections: local mail (code 1 sent, code 0 received, code 4 information messages
//! received), Internet mail (code 3 sent, code 2 received), optionally the mailboxes
//! holding messages older than a day, and the POP3 collector (code 6) and SMTP
//! sender (code 7) totals. Each cell is the total size and, in parentheses, the
//! number of messages. Only names that are accounts are counted (note 1 of the
//! manual); users are listed in the order they first appear in the day's log.

use crate::schedule::clock::{civil, day_of, days_from_civil, DAY};
use crate::summary::MAX_NAME;
use crate::Instant;

/// Users listed at most; a day with more shows the first ones and says so.
pub const MAX_USERS: usize = 10_000;

/// One SUMMARY.LOG line, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Days since 1970-01-01 of the line's local date.
    pub day: i64,
    pub code: u8,
    pub number: u64,
    pub name: Option<String>,
}

/// Read a line written by [`crate::summary::line`]; `None` for anything else.
pub fn parse_line(line: &str) -> Option<Entry> {
    let mut f = line.split(' ');
    let date = f.next()?;
    let _time = f.next()?;
    if f.next()? != "-" {
        return None;
    }
    let code = f.next()?.parse().ok()?;
    let number = f.next()?.parse().ok()?;
    let name = f.next().map(|n| n.chars().take(MAX_NAME).collect());
    let mut d = date.split('/');
    let (dd, mm, yy) = (d.next()?, d.next()?, d.next()?);
    let (dd, mm, yy): (u32, u32, i64) = (dd.parse().ok()?, mm.parse().ok()?, yy.parse().ok()?);
    if !(1..=31).contains(&dd) || !(1..=12).contains(&mm) {
        return None;
    }
    Some(Entry {
        day: days_from_civil(yy, mm, dd),
        code,
        number,
        name,
    })
}

/// A size total and a message count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub size: u64,
    pub count: u64,
}

impl Tally {
    fn add(&mut self, size: u64) {
        self.size = self.size.saturating_add(size);
        self.count = self.count.saturating_add(1);
    }

    fn sum<'a>(all: impl Iterator<Item = &'a Tally>) -> Tally {
        all.fold(Tally::default(), |a, t| Tally {
            size: a.size.saturating_add(t.size),
            count: a.count.saturating_add(t.count),
        })
    }
}

/// One user's line of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserTally {
    pub name: String,
    pub local_sent: Tally,
    pub local_received: Tally,
    pub info: Tally,
    pub internet_sent: Tally,
    pub internet_received: Tally,
}

/// A mailbox with messages older than a day (the optional third section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idle {
    pub name: String,
    pub messages: u64,
    /// Local time of the oldest message, microseconds since 1970 local.
    pub oldest_local: i64,
}

/// A day's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub day: i64,
    pub users: Vec<UserTally>,
    pub pop3_client: Tally,
    pub smtp_client: Tally,
    /// Users left out past [`MAX_USERS`].
    pub more_users: usize,
}

/// Count the lines of `day` (days since 1970, local); `account_of` gives the
/// account a name stands for (a login, or an address at a local domain), if any.
pub fn tally<'a>(
    day: i64,
    lines: impl IntoIterator<Item = &'a str>,
    account_of: impl Fn(&str) -> Option<String>,
) -> Report {
    let mut r = Report {
        day,
        ..Report::default()
    };
    for e in lines.into_iter().filter_map(parse_line) {
        if e.day != day {
            continue;
        }
        match e.code {
            6 => r.pop3_client.add(e.number),
            7 => r.smtp_client.add(e.number),
            0..=4 => {
                let Some(name) = e.name.as_deref().and_then(&account_of) else {
                    continue;
                };
                let i = match r.users.iter().position(|u| u.name == name) {
                    Some(i) => i,
                    None if r.users.len() >= MAX_USERS => {
                        r.more_users += 1;
                        continue;
                    }
                    None => {
                        r.users.push(UserTally {
                            name,
                            ..UserTally::default()
                        });
                        r.users.len() - 1
                    }
                };
                let u = &mut r.users[i];
                let t = match e.code {
                    0 => &mut u.local_received,
                    1 => &mut u.local_sent,
                    2 => &mut u.internet_received,
                    3 => &mut u.internet_sent,
                    _ => &mut u.info,
                };
                t.add(e.number);
            }
            _ => {}
        }
    }
    r
}

/// `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2,112(  1)`, right-aligned in its column.
fn cell(t: Tally) -> String {
    format!("{:>16}", format!("{}({:>3})", thousands(t.size), t.count))
}

const NAME_WIDTH: usize = 16;

fn name_cell(name: &str) -> String {
    format!("{name:<NAME_WIDTH$}")
}

/// `14-May-2003 15:35:09`.
pub fn idle_date(local: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = day_of(local);
    let (y, m, d) = civil(day);
    let secs = (local - day * DAY) / 1_000_000;
    let month = MONTHS[(m.clamp(1, 12) - 1) as usize];
    format!(
        "{d:02}-{month}-{y:04} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The report's text (lines end in CRLF): the manual's example layout, in a fixed
/// width font. `idle` is the third section when the option is on.
pub fn render(r: &Report, idle: Option<&[Idle]>) -> String {
    let mut out = Vec::<String>::new();
    let rule = |cols: usize| {
        let mut s = "-".repeat(NAME_WIDTH - 2);
        for _ in 0..cols {
            s.push_str("  ");
            s.push_str(&"-".repeat(14));
        }
        s
    };
    let total_rule = |cols: usize| rule(cols).replace('-', "=");

    out.push("Local Messages".into());
    out.push(String::new());
    out.push(format!(
        "{}{:>16}{:>16}{:>16}",
        name_cell("User Id"),
        "Send",
        "Receive",
        "Info Msgs"
    ));
    out.push(rule(3));
    for u in &r.users {
        out.push(format!(
            "{}{}{}{}",
            name_cell(&u.name),
            cell(u.local_sent),
            cell(u.local_received),
            cell(u.info)
        ));
    }
    out.push(total_rule(3));
    out.push(format!(
        "{}{}{}{}",
        name_cell(""),
        cell(Tally::sum(r.users.iter().map(|u| &u.local_sent))),
        cell(Tally::sum(r.users.iter().map(|u| &u.local_received))),
        cell(Tally::sum(r.users.iter().map(|u| &u.info)))
    ));
    out.push(String::new());

    out.push("Internet Messages".into());
    out.push(format!(
        "{}{:>16}{:>16}",
        name_cell("User Id"),
        "Send",
        "Receive"
    ));
    out.push(rule(2));
    for u in &r.users {
        out.push(format!(
            "{}{}{}",
            name_cell(&u.name),
            cell(u.internet_sent),
            cell(u.internet_received)
        ));
    }
    out.push(total_rule(2));
    out.push(format!(
        "{}{}{}",
        name_cell(""),
        cell(Tally::sum(r.users.iter().map(|u| &u.internet_sent))),
        cell(Tally::sum(r.users.iter().map(|u| &u.internet_received)))
    ));
    if r.more_users > 0 {
        out.push(format!("({} more users not listed)", r.more_users));
    }
    out.push(String::new());

    if let Some(idle) = idle {
        out.push("In Queues with messages older than 1 day".into());
        out.push(format!(
            "{}{:>14}  {}",
            name_cell("Name"),
            "Num Messages",
            "Oldest Message"
        ));
        out.push(total_rule(2));
        for i in idle {
            out.push(format!(
                "{}{:>14}  {}",
                name_cell(&i.name),
                i.messages,
                idle_date(i.oldest_local)
            ));
        }
        out.push(String::new());
    }

    out.push(format!(
        "{}{}",
        name_cell("POP3 Client"),
        cell(r.pop3_client)
    ));
    out.push(format!(
        "{}{}",
        name_cell("SMTP Client"),
        cell(r.smtp_client)
    ));
    let mut text = out.join("\r\n");
    text.push_str("\r\n");
    text
}

/// The report as a mail from the server (`from`, a header value) to `to` (an
/// address), written at `now`.
pub fn message(r: &Report, idle: Option<&[Idle]>, from: &str, to: &str, now: Instant) -> Vec<u8> {
    let (y, m, d) = civil(r.day);
    let mut out = format!("From: {from}\r\nTo: <{to}>\r\nDate: ").into_bytes();
    crate::smtp::received::write_date(&mut out, now);
    out.extend_from_slice(
        format!(
            "\r\nSubject: Daily summary for {d:02}/{m:02}/{y:04}\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Auto-Submitted: auto-generated\r\n\r\n{}",
            render(r, idle)
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::clock::local_stamp;
    use crate::summary::{line, Code};

    fn words(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|w| !w.is_empty() && !w[0].starts_with("--") && !w[0].starts_with("=="))
            .collect()
    }

    /// §15.2.1.1's example, rebuilt from SUMMARY.LOG lines that give its numbers.
    #[test]
    fn the_manuals_example_report() {
        let day = days_from_civil(2003, 5, 21);
        let t = local_stamp(2003, 5, 21, 9, 0, 0);
        let mut lines = Vec::new();
        let mut add = |code: Code, size: u64, name: Option<&str>| {
            lines.push(line(t, code, size, name));
        };
        // Local: paul sent fiona one message of 2,112; fiona sent paul two (5,231).
        add(Code::LocalSent, 2112, Some("paul"));
        add(Code::LocalReceived, 2112, Some("fiona"));
        add(Code::LocalReceived, 3000, Some("paul"));
        add(Code::LocalSent, 3000, Some("fiona"));
        add(Code::LocalReceived, 2231, Some("paul"));
        add(Code::LocalSent, 2231, Some("fiona"));
        // paul's 8 information messages, 16,374 in all.
        for size in [2000, 2000, 2000, 2000, 2000, 2000, 2000, 2374] {
            add(Code::Automatic, size, Some("paul"));
        }
        // Internet: paul sent 15 (23,132) and got 18 (115,097); fiona 1 (1,337) and 9 (16,947).
        for i in 0..15 {
            add(
                Code::InternetSent,
                if i == 0 { 23132 - 14 * 1500 } else { 1500 },
                Some("paul"),
            );
            add(
                Code::Sent,
                if i == 0 { 23132 - 14 * 1500 } else { 1500 },
                None,
            );
        }
        add(Code::InternetSent, 1337, Some("fiona"));
        add(Code::Sent, 1337, None);
        for i in 0..18 {
            let size = if i == 0 { 115_097 - 17 * 6000 } else { 6000 };
            add(Code::Collected, size, None);
            add(Code::InternetReceived, size, Some("paul"));
        }
        for i in 0..9 {
            let size = if i == 0 { 16_947 - 8 * 1800 } else { 1800 };
            add(Code::Collected, size, None);
            add(Code::InternetReceived, size, Some("fiona"));
        }
        // Not counted: a name that is no account, another day, a connection's time.
        add(Code::LocalReceived, 999, Some("stranger@far.test"));
        add(Code::OnlineTime, 600, Some("isp"));
        let other_day = local_stamp(2003, 5, 22, 0, 0, 1);
        lines.push(line(other_day, Code::LocalSent, 777, Some("paul")));
        lines.push("garbage".into());

        let r = tally(day, lines.iter().map(String::as_str), |n| {
            ["paul", "fiona", "monitor", "sonia"]
                .contains(&n)
                .then(|| n.to_string())
        });
        let idle = [
            Idle {
                name: "monitor".into(),
                messages: 25,
                oldest_local: local_stamp(2003, 5, 14, 15, 35, 9),
            },
            Idle {
                name: "sonia".into(),
                messages: 1,
                oldest_local: local_stamp(2003, 5, 20, 18, 31, 3),
            },
        ];
        let text = render(&r, Some(&idle));
        // The manual's example as printed (its column spacing was lost in print, so
        // the words of each line are compared; the rule lines are left out).
        let manual = "Local Messages
User Id Send Receive Info Msgs
paul 2,112( 1) 5,231( 2) 16,374( 8)
fiona 5,231( 2) 2,112( 1) 0( 0)
7,343( 3) 7,343( 3) 16,374( 8)
Internet Messages
User Id Send Receive
paul 23,132( 15) 115,097( 18)
fiona 1,337( 1) 16,947( 9)
24,469( 16) 132,044( 27)
In Queues with messages older than 1 day
Name Num Messages Oldest Message
monitor 25 14-May-2003 15:35:09
sonia 1 20-May-2003 18:31:03
POP3 Client 132,044( 27)
SMTP Client 24,469( 16)";
        let squeeze = |w: Vec<Vec<String>>| -> Vec<String> {
            w.into_iter()
                .map(|l| l.join(" ").replace("( ", "(").replace("(  ", "("))
                .collect()
        };
        assert_eq!(squeeze(words(&text)), squeeze(words(manual)), "{text}");
        assert!(text.ends_with("\r\n") && !text.contains("\n\n"));
    }

    #[test]
    fn columns_line_up() {
        let r = tally(
            0,
            [
                "01/01/1970 00:00:00.000 - 1 1234567 alice",
                "01/01/1970 00:00:00.000 - 0 5 bob",
            ],
            |n| Some(n.to_string()),
        );
        let text = render(&r, None);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("alice") || l.starts_with("bob"))
            .collect();
        assert_eq!(rows[0].len(), rows[1].len());
        assert!(rows[0].contains("1,234,567(  1)"), "{text}");
        assert!(!text.contains("In Queues"));
    }

    #[test]
    fn hostile_lines_are_skipped() {
        for l in [
            "",
            "32/01/2026 00:00:00.000 - 1 5 a",
            "01/13/2026 00:00:00.000 - 1 5 a",
            "01/01/2026 00:00:00.000 + 1 5 a",
            "01/01/2026 00:00:00.000 - x 5 a",
            "01/01/2026 00:00:00.000 - 1 99999999999999999999999 a",
        ] {
            assert_eq!(parse_line(l), None, "{l}");
        }
        let big = "01/01/1970 00:00:00.000 - 1 18446744073709551615 a";
        let r = tally(0, [big, big], |n| Some(n.to_string()));
        assert_eq!(r.users[0].local_sent.size, u64::MAX);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(132_044), "132,044");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
