//! Download rules (DLRULES.DAT, §8.1): decide from a message's header, size and
//! recipients, before the message is downloaded, whether to download it, leave it on
//! the ISP server, delete it there, ask its recipients, or send it somewhere else.
//!
//! The text format is VPOP3's, kept verbatim so an existing file can be copied in
//! (DECISIONS.md, "Storage"):
//!
//! ```text
//! # comment
//! +?Ask about Spam            <- rule definition: optional `+` (OR rule), action, name
//! From: @inboxexpress.com     <- conditions: optional `!`, `field: text`
//! Size: 1000000
//! ```
//!
//! Choices where the manual is silent (docs/DLRULES.md repeats them):
//! - Leading blanks before a condition are ignored (the manual's own junk-mail example
//!   is indented); a comment may be indented too.
//! - Text matches a header value case-insensitively (ASCII) as a substring; in double
//!   quotes it must match the whole (unfolded, trimmed) value; `*` and `?` work in both.
//!   A field that occurs several times matches if any occurrence does; `!` then means
//!   that none does.
//! - `Rept:` text must match a whole recipient (after mapping): the user name, or the
//!   address, or the local part of an address (quotes are allowed and mean the same).
//! - `TimeNow: 8:00-14:00` includes 8:00 and excludes 14:00; a range whose end is
//!   before its start crosses midnight (`22:00-6:00`).
//! - `Size:`, `TimeNow:`, `DayNow:` and `InMail:` texts that cannot be read are errors
//!   with the line number, never silently ignored.

use std::fmt;

use crate::router::{Outcome, Plan};
use crate::rulefmt::{self, quoted, HeaderFields};
use crate::wildcard;

/// Largest DLRULES.DAT accepted, so a mistaken file cannot exhaust memory.
pub const MAX_RULES_FILE: usize = 1024 * 1024;

/// What happens to a message when a rule fires (§8.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `*`: delete at the ISP at once and tell the intended recipient (or the target).
    Delete,
    /// `@`: delete at the ISP and tell nobody.
    DeleteSilently,
    /// `~`: leave it on the server (leave-on-server days still remove it later).
    Ignore,
    /// `<`: download as normal (also what happens when no rule fires).
    Download,
    /// `%`: download, then delete at the ISP at once whatever leave-on-server says.
    DownloadDelete,
    /// `?`: send the header to the recipients and wait for a reply (the Ask book).
    Ask,
}

impl Kind {
    /// The action character of the text format.
    pub fn symbol(self) -> char {
        match self {
            Kind::Delete => '*',
            Kind::DeleteSilently => '@',
            Kind::Ignore => '~',
            Kind::Download => '<',
            Kind::DownloadDelete => '%',
            Kind::Ask => '?',
        }
    }

    /// Whether the message is downloaded now.
    pub fn downloads(self) -> bool {
        matches!(self, Kind::Download | Kind::DownloadDelete)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Delete => "delete",
            Kind::DeleteSilently => "delete silently",
            Kind::Ignore => "ignore",
            Kind::Download => "download",
            Kind::DownloadDelete => "download and delete",
            Kind::Ask => "ask",
        }
    }
}

/// Who the downloaded message, the deletion notice or the query goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// The intended recipients, as the In Mail's routing finds them.
    Recipient,
    /// `>name…`: this user, list or address instead of the intended recipients.
    Redirect(String),
    /// `>+name…`: this user, list or address as well as the intended recipients.
    Copy(String),
}

/// A rule's action: what happens and to whom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Action {
    pub kind: Kind,
    pub target: Target,
}

impl Action {
    pub const DOWNLOAD: Action = Action {
        kind: Kind::Download,
        target: Target::Recipient,
    };
}

impl fmt::Display for Action {
    /// The log form: `ask`, `redirect to fred, download`, `copy to fred, delete`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Recipient => f.write_str(self.kind.name()),
            Target::Redirect(t) => write!(f, "redirect to {t}, {}", self.kind.name()),
            Target::Copy(t) => write!(f, "copy to {t}, {}", self.kind.name()),
        }
    }
}

/// The rule that decided a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The rule's name, as written after the action.
    pub rule: String,
    /// Its definition line in DLRULES.DAT (1-based); 0 for the automatic rules.
    pub line: usize,
    pub action: Action,
}

/// Name of the automatic rule for messages over an In Mail's size limit (§6.3.2).
pub const SIZE_LIMIT_RULE: &str = "Message over the download size limit";
/// Name of the automatic rule for messages whose recipients are all `*REMOTE`.
pub const REMOTE_ONLY_RULE: &str = "All recipients are *REMOTE";

impl Fired {
    /// §6.3.2: a message over the In Mail's "Download message Limit". When mail is
    /// left on the server or download rules are on, the intended recipients are asked
    /// (an automatic Ask rule); otherwise the message just stays on the server.
    /// `None` when there is no limit or the message is within it.
    pub fn size_limit(
        size: u64,
        limit: Option<u64>,
        leave_on_server: bool,
        download_rules: bool,
    ) -> Option<Fired> {
        let limit = limit?;
        if size <= limit {
            return None;
        }
        let kind = if leave_on_server || download_rules {
            Kind::Ask
        } else {
            Kind::Ignore
        };
        Some(Fired {
            rule: SIZE_LIMIT_RULE.into(),
            line: 0,
            action: Action {
                kind,
                target: Target::Recipient,
            },
        })
    }

    /// COL-5: a message whose recipients are all `*REMOTE` (see [`remote_only`]) is
    /// left on the server under download rules, for the office that does collect it.
    pub fn remote_only() -> Fired {
        Fired {
            rule: REMOTE_ONLY_RULE.into(),
            line: 0,
            action: Action {
                kind: Kind::Ignore,
                target: Target::Recipient,
            },
        }
    }
}

/// COL-5 (§5.5, §7.7.1): the header's recipients all map to `*REMOTE`, so downloading
/// the message would only throw it away here, while another office sharing the ISP
/// mailbox still needs it. `plan` is the router's plan for the header's recipients
/// with the In Mail as source (collected mail for `*REMOTE` is discarded there). A
/// plan with no recipients at all is not remote-only: the no-recipient handling
/// (§16.3) applies to it.
pub fn remote_only(plan: &Plan) -> bool {
    let mut any = false;
    for r in plan.envelope_recipients() {
        match &r.outcome {
            // Every part of the reason (a list can join several) must be *REMOTE's.
            Outcome::Discard { reason }
                if reason
                    .split("; ")
                    .all(|r| r == crate::router::REMOTE_IGNORED) =>
            {
                any = true
            }
            _ => return false,
        }
    }
    any && plan.mailboxes.is_empty() && plan.remote.is_empty()
}

/// Everything the collection runner decides from a message's header before
/// downloading it, in this order (the Ask book's verdict comes before all of it: an
/// answered query is downloaded or deleted as answered):
///
/// 1. the automatic size-limit rule (§6.3.2), whether or not download rules are on;
/// 2. with download rules on (`rules` is `Some`): a message for `*REMOTE` recipients
///    only is left on the server (COL-5), then DLRULES.DAT, first match wins.
///
/// `sorted` is [`sort::sort`](super::sort::sort) of the TOP header. `None` = download
/// as normal.
pub fn decide_collected(
    rules: Option<&DlRules>,
    inmail: &crate::config::InMail,
    sorted: &super::sort::Sorted,
    input: &RuleInput<'_>,
) -> Option<Fired> {
    if let Some(f) = Fired::size_limit(
        input.size,
        inmail.size_limit(),
        inmail.leave_on_server_days > 0,
        rules.is_some(),
    ) {
        return Some(f);
    }
    let rules = rules?;
    if let super::sort::Sorting::Route(plan) = &sorted.sorting {
        if remote_only(plan) {
            return Some(Fired::remote_only());
        }
    }
    rules.decide(input)
}

/// The intended recipients after mapping and assistants, for `Rept:` and for the
/// people an Ask or Delete rule tells: the local mailboxes of the header's routing
/// plan, then its outbound addresses.
pub fn rule_recipients(sorted: &super::sort::Sorted) -> Vec<String> {
    match &sorted.sorting {
        super::sort::Sorting::Route(plan) => plan
            .mailboxes
            .iter()
            .chain(plan.remote.iter())
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// A Redirect (`>name<`, `>name%`) or Copy (`>+name<`, `>+name%`) rule applied to a
/// downloaded message: the target (a user, list or group name, or an address) gets it
/// instead of, or as well as, the recipients `sorted` found. `message` is what was
/// sorted. A copy of mail for a LAN server (`routing = "lan"`) is not made (the trace
/// says so); a copy of mail nobody was found for goes to the target alone.
pub fn retarget(
    snap: &crate::config::Snapshot,
    inmail: &crate::config::InMail,
    message: &[u8],
    mut sorted: super::sort::Sorted,
    target: &Target,
) -> super::sort::Sorted {
    use super::sort::Sorting;
    use crate::router::{self, HeaderView, Request, Source};
    let (name, copy) = match target {
        Target::Recipient => return sorted,
        Target::Redirect(t) => (t.trim(), false),
        Target::Copy(t) => (t.trim(), true),
    };
    let data = &message[sorted.strip.min(message.len())..];
    let headers = HeaderView::parse(data);
    let source = Source::Pop3(inmail.name.clone());
    let address = [name.to_string()];
    let by_address = name.contains('@');
    let req = Request {
        sender: sorted.sender.as_deref(),
        recipients: if by_address { &address } else { &[] },
        source: &source,
        headers: &headers,
        size: Some(data.len() as u64),
    };
    let extra = if by_address {
        router::route(snap, &req)
    } else {
        router::route_to_name(snap, &req, name)
    };
    // A cheap placeholder while the old sorting is taken apart.
    let placeholder = Sorting::Lan {
        server: String::new(),
        recipient: String::new(),
    };
    let old = std::mem::replace(&mut sorted.sorting, placeholder);
    sorted.sorting = match (copy, old) {
        (false, _) => {
            sorted
                .trace
                .push(format!("download rule: redirected to {name}"));
            Sorting::Route(extra)
        }
        (true, Sorting::Route(plan)) => {
            sorted
                .trace
                .push(format!("download rule: copied to {name}"));
            Sorting::Route(merge(plan, extra))
        }
        (true, lan @ Sorting::Lan { .. }) => {
            sorted.trace.push(format!(
                "download rule: no copy to {name} of mail for a LAN server"
            ));
            lan
        }
        (true, Sorting::Unrouted { .. }) => {
            sorted.trace.push(format!(
                "download rule: copied to {name}, the only recipient found"
            ));
            Sorting::Route(extra)
        }
    };
    sorted
}

/// Two plans for one message as one: each mailbox and address once.
fn merge(mut a: Plan, b: Plan) -> Plan {
    a.recipients.extend(b.recipients);
    for m in b.mailboxes {
        if !a.mailboxes.contains(&m) {
            a.mailboxes.push(m);
        }
    }
    for r in b.remote {
        if !a.remote.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
            a.remote.push(r);
        }
    }
    a.notices.extend(b.notices);
    a.bounces.extend(b.bounces);
    a.discards.extend(b.discards);
    a
}

/// One DLRULES.LOG line (§8.1.3) for a rule that fired on a message:
///
/// ```text
/// 2026-11-23T21:20:00+00:00 inmail="isp" rule="Ask about big" action="ask" from="bob@x.org" subject="Big file" size=2000000
/// ```
///
/// `time` is the runtime's timestamp (ISO 8601 with offset, DECISIONS.md). Values are
/// quoted with `"` and `\` escaped and control characters as spaces, so one message
/// is always one line and the fields can be read back unambiguously.
pub fn log_line(time: &str, inmail: &str, fired: &Fired, header: &[u8], size: u64) -> String {
    let h = HeaderFields::new(header);
    let from = h.values("From").next().unwrap_or("");
    let subject = h.values("Subject").next().unwrap_or("");
    format!(
        "{time} inmail={} rule={} action={} from={} subject={} size={size}",
        quoted(inmail),
        quoted(&fired.rule),
        quoted(&fired.action.to_string()),
        quoted(from),
        quoted(subject)
    )
}

/// A line of DLRULES.DAT that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RuleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// What a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The message header (from TOP n 0), with or without the blank line after it.
    pub header: &'a [u8],
    /// The size the ISP reports (LIST), in octets.
    pub size: u64,
    /// The intended recipients after mapping and assistants: user names or addresses.
    pub recipients: &'a [String],
    /// 1-based position of the In Mail in `config.inmails`.
    pub inmail_number: usize,
    /// Local day of the week, 1 = Sunday … 7 = Saturday (§8.1.2.2.3).
    pub weekday: u8,
    /// Local time of day in minutes since midnight.
    pub minutes: u16,
}

/// A parsed DLRULES.DAT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DlRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    name: String,
    line: usize,
    any_of: bool,
    action: Action,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    negated: bool,
    test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// A header field (by name) whose value matches.
    Field {
        name: String,
        text: Text,
    },
    /// Any header field's value matches.
    Any(Text),
    Size(u64),
    Rept(String),
    /// Minutes since midnight, start inclusive, end exclusive.
    TimeNow(u16, u16),
    /// Bit n set = day n (1 = Sunday).
    DayNow(u8),
    /// Inclusive ranges of In Mail numbers.
    InMail(Vec<(usize, usize)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    /// Presence only (`field:` with nothing after it).
    Present,
    /// Matches anywhere in the value (pattern already wrapped in `*…*`).
    Substring(String),
    /// Matches the whole value.
    Exact(String),
}

impl Text {
    fn parse(text: &str) -> Text {
        if text.is_empty() {
            Text::Present
        } else if let Some(inner) = unquote(text) {
            Text::Exact(inner.to_string())
        } else {
            Text::Substring(format!("*{text}*"))
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Text::Present => true,
            Text::Substring(p) | Text::Exact(p) => wildcard::matches(p, value),
        }
    }
}

fn unquote(text: &str) -> Option<&str> {
    text.strip_prefix('"')?.strip_suffix('"')
}

impl DlRules {
    /// Read DLRULES.DAT. Every bad line is reported, not just the first.
    pub fn parse(text: &str) -> Result<DlRules, Vec<RuleError>> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let s = raw.trim();
            if s.is_empty() || s.starts_with('#') {
                continue;
            }
            if s.starts_with(['+', '*', '@', '~', '<', '%', '?', '>']) {
                match parse_definition(s, line) {
                    Ok(rule) => rules.push(rule),
                    Err(message) => errors.push(RuleError { line, message }),
                }
                continue;
            }
            let condition = match parse_condition(s) {
                Ok(c) => c,
                Err(message) => {
                    errors.push(RuleError { line, message });
                    continue;
                }
            };
            match rules.last_mut() {
                Some(rule) => rule.conditions.push(condition),
                None => errors.push(RuleError {
                    line,
                    message: "a condition before any rule definition line; start the \
                              rule with its action and name, e.g. `<Download from the boss`"
                        .into(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(DlRules { rules })
        } else {
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The first rule that fires, in file order (§8.1.2.2.1). `None` = no rule fired:
    /// the message is downloaded as normal.
    pub fn decide(&self, input: &RuleInput<'_>) -> Option<Fired> {
        let header = HeaderFields::new(input.header);
        self.rules
            .iter()
            .find(|r| r.fires(input, &header))
            .map(|r| Fired {
                rule: r.name.clone(),
                line: r.line,
                action: r.action.clone(),
            })
    }
}

impl Rule {
    fn fires(&self, input: &RuleInput<'_>, header: &HeaderFields) -> bool {
        rulefmt::combine(
            self.any_of,
            self.conditions.iter().map(|c| c.holds(input, header)),
        )
    }
}

impl Condition {
    fn holds(&self, input: &RuleInput<'_>, header: &HeaderFields) -> bool {
        let found = match &self.test {
            Test::Field { name, text } => header.values(name).any(|v| text.matches(v)),
            Test::Any(text) => header.all().any(|v| text.matches(v)),
            Test::Size(n) => input.size > *n,
            Test::Rept(pattern) => input.recipients.iter().any(|r| rept_matches(pattern, r)),
            Test::TimeNow(from, to) => rulefmt::time_in_range(*from, *to, input.minutes),
            Test::DayNow(days) => rulefmt::day_in(*days, input.weekday),
            Test::InMail(ranges) => ranges
                .iter()
                .any(|(a, b)| (*a..=*b).contains(&input.inmail_number)),
        };
        found != self.negated
    }
}

fn rept_matches(pattern: &str, recipient: &str) -> bool {
    let r = recipient
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    wildcard::matches(pattern, r)
        || r.rsplit_once('@')
            .is_some_and(|(local, _)| wildcard::matches(pattern, local))
}

const ACTION_HELP: &str = "the action is one of * (delete), @ (delete silently), \
     ~ (ignore), < (download), % (download and delete), ? (ask), or >user< >user? >user* \
     >user% (redirect) and >+user< >+user? >+user* >+user% (copy)";

fn parse_definition(s: &str, line: usize) -> Result<Rule, String> {
    let (any_of, rest) = match s.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let mut chars = rest.chars();
    let Some(c) = chars.next() else {
        return Err(format!("`+` alone is not a rule; {ACTION_HELP}"));
    };
    let (action, name) = match c {
        '>' => parse_redirect(chars.as_str())?,
        other => {
            let kind = kind_of(other)
                .ok_or_else(|| format!("`{other}` is not a rule action; {ACTION_HELP}"))?;
            (
                Action {
                    kind,
                    target: Target::Recipient,
                },
                chars.as_str(),
            )
        }
    };
    Ok(Rule {
        name: name.trim().to_string(),
        line,
        any_of,
        action,
        conditions: Vec::new(),
    })
}

fn kind_of(c: char) -> Option<Kind> {
    Some(match c {
        '*' => Kind::Delete,
        '@' => Kind::DeleteSilently,
        '~' => Kind::Ignore,
        '<' => Kind::Download,
        '%' => Kind::DownloadDelete,
        '?' => Kind::Ask,
        _ => return None,
    })
}

/// After `>`: `[+]target` ended by `<`, `?`, `%` or `*`, then the name.
fn parse_redirect(s: &str) -> Result<(Action, &str), String> {
    let (copy, s) = match s.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let Some(end) = s.find(['<', '?', '%', '*']) else {
        return Err(format!(
            "a redirect or copy rule needs its target ended by <, ?, % or *, \
             e.g. `>fred<Redirect to fred`; {ACTION_HELP}"
        ));
    };
    let target = s[..end].trim();
    if target.is_empty() {
        return Err(
            "a redirect or copy rule needs a user, list or address after `>` \
                    (or `>+`), e.g. `>spambox<Redirect spam`"
                .into(),
        );
    }
    let kind = match &s[end..end + 1] {
        "<" => Kind::Download,
        "?" => Kind::Ask,
        "%" => Kind::DownloadDelete,
        _ => Kind::Delete,
    };
    let target = if copy {
        Target::Copy(target.to_string())
    } else {
        Target::Redirect(target.to_string())
    };
    Ok((Action { kind, target }, &s[end + 1..]))
}

fn parse_condition(s: &str) -> Result<Condition, String> {
    let (negated, rest) = match s.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, s),
    };
    let Some((name, text)) = rest.split_once(':') else {
        return Err(format!(
            "`{s}` is neither a rule definition nor a condition; a condition is \
             `Field: text` (e.g. `From: bob@spammers.net`), a rule starts with its action"
        ));
    };
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b > 32 && b < 127) {
        return Err(format!(
            "`{name}` is not a header field name; write `Field: text`, e.g. `Subject: offer`"
        ));
    }
    let text = text.trim();
    let lower = name.to_ascii_lowercase();
    let test = match lower.as_str() {
        "size" => Test::Size(text.parse().map_err(|_| {
            format!("Size: needs a number of bytes, e.g. `Size: 1000000` (found `{text}`)")
        })?),
        "rept" => {
            if text.is_empty() {
                return Err("Rept: needs a recipient name, e.g. `Rept: fred`".into());
            }
            Test::Rept(unquote(text).unwrap_or(text).to_string())
        }
        "any" => Test::Any(Text::parse(text)),
        "timenow" => parse_time_range(text)?,
        "daynow" => parse_days(text)?,
        "inmail" => parse_inmail(text)?,
        _ => Test::Field {
            name: name.to_string(),
            text: Text::parse(text),
        },
    };
    Ok(Condition { negated, test })
}

fn parse_time_range(text: &str) -> Result<Test, String> {
    let (from, to) = rulefmt::parse_time_range(text)?;
    Ok(Test::TimeNow(from, to))
}

fn parse_days(text: &str) -> Result<Test, String> {
    rulefmt::parse_days(text).map(Test::DayNow)
}

fn parse_inmail(text: &str) -> Result<Test, String> {
    let bad = || {
        format!(
            "InMail: needs In Mail numbers from 1, separated by commas, with ranges, \
             e.g. `InMail: 1,3-7,9`; found `{text}`"
        )
    };
    let num = |s: &str| s.trim().parse::<usize>().ok().filter(|n| *n >= 1);
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let range = match part.split_once('-') {
            Some((a, b)) => (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?),
            None => {
                let n = num(part).ok_or_else(bad)?;
                (n, n)
            }
        };
        if range.0 > range.1 {
            return Err(bad());
        }
        ranges.push(range);
    }
    Ok(Test::InMail(ranges))
}

#[cfg(test)]
mod tests;
