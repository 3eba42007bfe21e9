//! `[[connection]]`, `[[schedule]]` and `[connect]`: how and when the server goes online
//! (§6.2, §6.5, §6.5.1, §16.1.1, §16.3, §23.1, seed notes on incoming SMTP and ETRN).
//! docs/SCHEDULE.md explains the model; the scheduler that uses these values is
//! [`crate::connect`].

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Most connections a configuration may define (VPOP3 allows 10; `CONNECTION` in the
/// hooks' environment is the number 1..=10).
pub const MAX_CONNECTIONS: usize = 10;

/// A span of time written as `"90s"`, `"5m"`, `"1h30m"`, `"2d"` or a whole number of
/// seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub Duration);

impl Span {
    pub const fn secs(s: u64) -> Span {
        Span(Duration::from_secs(s))
    }

    pub const fn mins(m: u64) -> Span {
        Span(Duration::from_secs(m * 60))
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

/// Longest span accepted anywhere (a year): keeps every sum of spans far from overflow.
const MAX_SPAN_SECS: u64 = 366 * 86_400;

/// Parse `"1h30m"`-style text into seconds.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty; write e.g. \"90s\", \"5m\" or \"1h\"".into());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return check_span(secs, text);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{text:?} is not a time span; use a number with s, m, h or d (e.g. \"90s\", \"1h30m\")"
                ))
            }
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not a time span; a number must come before {c:?}"))?;
        digits.clear();
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !digits.is_empty() {
        return Err(format!(
            "{text:?} is not a time span; add a unit (s, m, h or d) after {digits}"
        ));
    }
    check_span(total, text)
}

fn check_span(secs: u64, text: &str) -> Result<Duration, String> {
    if secs > MAX_SPAN_SECS {
        return Err(format!("{text:?} is longer than the limit of 366 days"));
    }
    Ok(Duration::from_secs(secs))
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            0 => write!(f, "0s"),
            _ if s.is_multiple_of(3600) => write!(f, "{}h", s / 3600),
            _ if s.is_multiple_of(60) => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time span such as \"90s\", \"5m\" or \"1h\", or whole seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                let secs =
                    u64::try_from(v).map_err(|_| E::custom("a time span cannot be negative"))?;
                check_span(secs, &v.to_string())
                    .map(Span)
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                check_span(v, &v.to_string()).map(Span).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                parse_span(v).map(Span).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A time of day, `"HH:MM"` (24-hour), as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(pub u16);

impl TimeOfDay {
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        let bad =
            || format!("{text:?} is not a time of day; write it as \"HH:MM\", e.g. \"09:30\"");
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let num = |s: &str| {
            (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let (h, m) = (num(h).ok_or_else(bad)?, num(m).ok_or_else(bad)?);
        if h > 23 || m > 59 {
            return Err(format!(
                "{text:?} is not a time of day (hours 0-23, minutes 0-59)"
            ));
        }
        Ok(TimeOfDay(h * 60 + m))
    }

    pub fn minutes(self) -> u32 {
        u32::from(self.0)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeOfDay::parse(&s).map_err(de::Error::custom)
    }
}

/// Days a schedule runs on: a day name or a group of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
    /// Monday to Friday.
    Weekdays,
    /// Saturday and Sunday.
    Weekend,
    /// Every day.
    Daily,
}

impl Day {
    /// The days as a bit set, bit 0 = Monday.
    pub fn mask(self) -> u8 {
        match self {
            Day::Mon => 1,
            Day::Tue => 2,
            Day::Wed => 4,
            Day::Thu => 8,
            Day::Fri => 16,
            Day::Sat => 32,
            Day::Sun => 64,
            Day::Weekdays => 31,
            Day::Weekend => 96,
            Day::Daily => 127,
        }
    }
}

/// How a connection reaches the Internet (§6.2; DECISIONS "Time, schedules and links").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Always up (LAN, router, leased line): nothing to dial or hang up.
    #[default]
    Lan,
    /// Brought up and down by shell commands (`up`, `down`, optional `check`).
    Command,
}

/// How a connection's Out Mail sends (§6.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutMethod {
    /// Through the ISP's relay (`relays`).
    #[default]
    Relay,
    /// Straight to each recipient domain's MX.
    Direct,
}

/// `[connection.outmail]`: the one Out Mail of a connection (§6.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutMail {
    pub method: OutMethod,
    /// `host:port` of the relay servers, tried in order.
    pub relays: Vec<String>,
    /// SMTP AUTH at the relay, when it needs it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<String>,
    /// §6.4.1 "Only send messages waiting at start of connection".
    pub only_waiting: bool,
    /// §6.4.1 "Send smaller messages first" (the default) or oldest first.
    pub order: super::SendOrder,
    /// §6.4.2 "Max Recipients Per message"; 0 = no limit.
    pub max_recipients: u32,
    /// §6.4.2.1 "Domain Filtering": `domain`, `!domain`, `From: addr`, `!From: addr`
    /// (wildcards allowed).
    pub domain_filter: Vec<String>,
    /// §6.4.2.2 "SMTP Return Address Modifiers"; absent = "Use Default".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_address: Option<super::ReturnAddress>,
    /// STARTTLS when sending (OUT-6).
    pub tls: super::OutTls,
    pub tls_verify: super::TlsVerify,
    /// PEM file of the CAs that sign the relay's certificate (relative to the data
    /// directory); default: the system's bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// OUT-2 "POP3 before SMTP": log in to this POP3 server (`host:port`, plain
    /// USER/PASS) before each relay session, for relays that only take mail from an
    /// address that has just collected its mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop_before_smtp: Option<String>,
    /// The POP3 login for `pop_before_smtp`; default: `auth_user` / `auth_password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop_password: Option<String>,
}

/// `[connection.smtp_in]`: the ISP delivers by SMTP over this connection (§6.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpIn {
    /// How long to stay online for the ISP to connect in. If it does, the connection
    /// stays up until its sessions end (and sending finishes).
    pub wait: Span,
    /// Send `ETRN <domain>` for each of these after connecting (empty: no ETRN).
    pub etrn: Vec<String>,
    /// Where to send the ETRN (`host:port`); default: the first Out Mail relay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etrn_host: Option<String>,
}

impl Default for SmtpIn {
    fn default() -> Self {
        SmtpIn {
            wait: Span::secs(60),
            etrn: Vec::new(),
            etrn_host: None,
        }
    }
}

/// One `[[connection]]` (§6.2). Its number (for `CONNECTION` in hook environments) is
/// its position in the file, from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub name: String,
    #[serde(default)]
    pub link: LinkKind,
    /// "Use with main connection schedule": schedules and triggers without a list of
    /// connections run the primary ones.
    #[serde(default = "yes")]
    pub primary: bool,
    /// `command` links: the shell command that brings the link up; it exits 0 once the
    /// link is usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
    /// `command` links: the shell command that takes the link down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    /// `command` links: exits 0 when the link is up (used before dialling, for
    /// AutoConnect, and for the alternatives of other connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Further attempts after a failed dial (§6.2.1 "Retries").
    #[serde(default = "one")]
    pub dial_retries: u32,
    /// Time between dial attempts.
    #[serde(default = "minute")]
    pub retry_interval: Span,
    /// A dial that has not come up in this time is cancelled and counts as failed.
    #[serde(default = "minute")]
    pub dial_timeout: Span,
    /// §6.2.2: other connections whose links, when already up, this connection uses
    /// instead of dialling its own.
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// §6.2.3: notice a link brought up by someone else and connect over it.
    #[serde(default)]
    pub autoconnect: bool,
    /// Only connect once per link session when AutoConnecting.
    #[serde(default = "yes")]
    pub autoconnect_once: bool,
    /// How often to look for the link, and the time between AutoConnect runs.
    #[serde(default = "five_minutes")]
    pub autoconnect_every: Span,
    /// How long a link this server dialled stays up after its last activity.
    #[serde(default)]
    pub idle_hangup: Span,
    /// Longest a single run may keep the link up; then it is ended and hung up.
    #[serde(default = "hour")]
    pub max_online: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outmail: Option<OutMail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_in: Option<SmtpIn>,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn minute() -> Span {
    Span::secs(60)
}
fn five_minutes() -> Span {
    Span::mins(5)
}
fn hour() -> Span {
    Span::mins(60)
}

impl Connection {
    /// A connection with every optional setting at its default.
    pub fn new(name: &str, link: LinkKind) -> Connection {
        Connection {
            name: name.into(),
            link,
            primary: true,
            up: None,
            down: None,
            check: None,
            dial_retries: 1,
            retry_interval: minute(),
            dial_timeout: minute(),
            alternatives: Vec::new(),
            autoconnect: false,
            autoconnect_once: true,
            autoconnect_every: five_minutes(),
            idle_hangup: Span::default(),
            max_online: hour(),
            outmail: None,
            smtp_in: None,
        }
    }
}

/// One `[[schedule]]`: on these days, either at fixed times or every interval inside
/// a window, run these connections (DECISIONS "Time, schedules and links").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// A label for logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Empty: every day.
    pub days: Vec<Day>,
    /// Fixed times of day.
    pub at: Vec<TimeOfDay>,
    /// Interval inside the window `from`..=`to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<Span>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<TimeOfDay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<TimeOfDay>,
    /// Empty: the primary connections.
    pub connections: Vec<String>,
}

/// §6.5.1 "If a third party program changes the time…".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockChange {
    /// VPOP3's default: carry on with the next scheduled time after the new time;
    /// times jumped over are skipped.
    #[default]
    Next,
    /// The option: when the clock jumps forward over scheduled times, connect once now.
    Check,
}

/// `[connect]`: settings for all connections and schedules (the §6.5.1 modifiers,
/// §16.1.1 priority messages, §16.3 dial notices, §23.1 hooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectOptions {
    /// Outgoing mail queued while a connection is online is sent at once (send cycle
    /// only, no collection).
    pub send_while_online: bool,
    /// A scheduled time is skipped if the connection ran within this span; 0 = off.
    pub skip_if_connected_within: Span,
    /// Connect when this many different users have checked their mail since the last
    /// connection; 0 = off.
    pub users_checked: u32,
    /// … at the latest this long after the last of them checked.
    pub users_checked_within: Span,
    pub clock_change: ClockChange,
    /// Run after a connection comes up, with `CONNECTION` (1..=10) and
    /// `CONNECTION_NAME` in the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_connect: Option<String>,
    /// Run before a connection goes down, with the same environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_disconnect: Option<String>,
    /// A hook still running after this is stopped.
    pub hook_timeout: Span,
    /// Tell the main administrator after this many dials in a row failed; 0 = never.
    pub failed_dials_notice: u32,
    /// §16.1.1: `Field: value` pairs; a message with a field containing the value is
    /// urgent.
    pub priority_headers: Vec<String>,
    /// Connect at once (primary connections) when an urgent message is queued.
    pub priority_connect: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            send_while_online: true,
            skip_if_connected_within: Span::default(),
            users_checked: 0,
            users_checked_within: Span::mins(10),
            clock_change: ClockChange::Next,
            post_connect: None,
            pre_disconnect: None,
            hook_timeout: Span::mins(5),
            failed_dials_notice: 4,
            priority_headers: vec![
                "X-Priority: 1".into(),
                "X-MSMail-Priority: High".into(),
                "Importance: high".into(),
            ],
            priority_connect: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_units_and_plain_seconds() {
        assert_eq!(parse_span("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_span("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_span("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_span("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_span("45"), Ok(Duration::from_secs(45)));
        assert!(parse_span("").is_err());
        assert!(parse_span("5x").is_err());
        assert!(parse_span("m").is_err());
        assert!(parse_span("10").is_ok());
        assert!(parse_span("1h5").is_err());
        assert!(parse_span("400d").is_err());
        assert_eq!(Span::secs(5400).to_string(), "90m");
        assert_eq!(Span::secs(7200).to_string(), "2h");
        assert_eq!(Span::secs(61).to_string(), "61s");
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("09:30"), Ok(TimeOfDay(570)));
        assert_eq!(TimeOfDay::parse("0:00"), Ok(TimeOfDay(0)));
        assert_eq!(TimeOfDay::parse("23:59"), Ok(TimeOfDay(1439)));
        assert!(TimeOfDay::parse("24:00").is_err());
        assert!(TimeOfDay::parse("9").is_err());
        assert!(TimeOfDay::parse("09:60").is_err());
        assert!(TimeOfDay::parse("9:3a").is_err());
        assert_eq!(TimeOfDay(570).to_string(), "09:30");
    }

    #[test]
    fn day_groups() {
        assert_eq!(
            Day::Weekdays.mask() | Day::Weekend.mask(),
            Day::Daily.mask()
        );
        assert_eq!(Day::Mon.mask() | Day::Fri.mask(), 17);
    }
}
