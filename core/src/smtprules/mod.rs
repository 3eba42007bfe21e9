//! SMTP rules (SMTPRULES.TXT, §8.2): accept, reject, ignore, redirect or copy a
//! message while it is received by SMTP, at the stage that knows what the rule asks
//! about: the sender (MAIL), each recipient (RCPT), or the whole message (after DATA).
//!
//! The text format is VPOP3's (§8.2.4), kept verbatim so an existing file works as it
//! is (DECISIONS.md, "Storage"):
//!
//! ```text
//! # comment
//! 1*Reject non-local mail        <- [1|2|3] stage, [+] OR rule, action, name
//! !MailFrom: *@local.com         <- [!] negation, `Field: text` (space optional)
//!
//! 2>bill<Redirect sales to Bill  <- redirect `>user<`, copy `>+user<`
//! RcptTo:sales@domain.com
//! DayNow:1
//! ```
//!
//! Matching compares the *whole* value, case-insensitively, with `*` and `?`
//! wildcards (§8.2.4.3 "Notes", DECISIONS.md "Matching"): `bill` matches only `bill`;
//! write `*bill*` for "contains bill".
//!
//! Choices where the manual is silent (docs/DEFENSE.md repeats them):
//! - Stage: a rule with only `MailFrom:`, `Size:`, `TimeNow:`, `DayNow:` (or no
//!   conditions) runs at MAIL; with `RcptTo:` or `RcptCount:` at each RCPT; with any
//!   header field or `Any:` after DATA. A digit may move a rule later, never earlier
//!   than its fields are known (that is an error with the line number).
//! - MAIL and after-DATA rules decide for the whole message; RCPT rules for the
//!   recipient being given (`RcptTo:` is that recipient, `RcptCount:` counts it).
//!   After DATA `RcptTo:` matches when any recipient does. First match wins at each
//!   stage; once a rule fired for the message (or for every recipient at RCPT), no
//!   later stage runs rules.
//! - `Size:` at MAIL/RCPT is the client's `SIZE=`; a client that declares none
//!   matches neither `Size:` nor `!Size:` there, and a rule placed at MAIL only by its
//!   fields (no digit) then runs after DATA instead, where the size is known.
//! - `Field:` with no text matches when the header field is present (as in download
//!   rules); `MailFrom:` with no text matches the null sender `<>`. Text in double
//!   quotes means the same as without them (the match is whole-value anyway).
//! - `RcptCount:` text is matched against the count as a number written out:
//!   `RcptCount: 1`, or `RcptCount: ??*` for ten or more.

use std::fmt;
use std::net::IpAddr;

use crate::rulefmt::{self, quoted, HeaderFields, LocalClock};
use crate::smtp::Refusal;
use crate::wildcard;

#[cfg(test)]
mod tests;

/// Largest SMTPRULES.TXT accepted, so a mistaken file cannot exhaust memory.
pub const MAX_RULES_FILE: usize = 1024 * 1024;
/// Longest line, in bytes.
pub const MAX_LINE: usize = 4096;
/// Most rules in one file.
pub const MAX_RULES: usize = 10_000;
/// Most conditions in one rule.
pub const MAX_CONDITIONS: usize = 1_000;
/// Header bytes examined by after-DATA rules: enough for any real header, and a bound
/// on the work a hostile one can cause.
pub const MAX_HEADER_EXAMINED: usize = 256 * 1024;

/// The permanent refusal of a Reject rule (§8.2.4.2). The manual gives no text.
pub const REJECTED: Refusal = Refusal::new(550, "5.7.1", "Message rejected by SMTP rules");
/// The refusal of a Reject rule that depends on the time: try again later.
pub const REJECTED_FOR_NOW: Refusal = Refusal::new(
    451,
    "4.7.1",
    "Message not accepted at this time by SMTP rules, try again later",
);

/// When a rule runs (§8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// 1: when the sender is given (`MAIL FROM`).
    Mail = 1,
    /// 2: when each recipient is given (`RCPT TO`).
    Rcpt = 2,
    /// 3: after the whole message (end of `DATA` or the last `BDAT`).
    Data = 3,
}

impl Stage {
    /// The digit of the text format.
    pub fn digit(self) -> u8 {
        self as u8
    }

    /// The log and documentation name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Mail => "MAIL",
            Stage::Rcpt => "RCPT",
            Stage::Data => "DATA",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a rule does when it fires (§8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `<`: accept as normal (and stop looking at rules).
    Accept,
    /// `*`: refuse; temporarily when the rule depends on the time.
    Reject,
    /// `~`: appear to accept, then throw the message away.
    Ignore,
    /// `>user<`: accept, for this user, list or address instead.
    Redirect(String),
    /// `>+user<`: accept, for this user, list or address as well.
    Copy(String),
}

impl fmt::Display for Action {
    /// The log form: `accept`, `reject`, `ignore`, `redirect to bill`, `copy to bill`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Accept => f.write_str("accept"),
            Action::Reject => f.write_str("reject"),
            Action::Ignore => f.write_str("ignore"),
            Action::Redirect(t) => write!(f, "redirect to {t}"),
            Action::Copy(t) => write!(f, "copy to {t}"),
        }
    }
}

/// A line of SMTPRULES.TXT that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RuleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// A parsed SMTPRULES.TXT. The default is no rules: every message is accepted as
/// the rest of the configuration decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtpRules {
    rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The name after the action (only for the log).
    pub name: String,
    /// The definition line (1-based).
    pub line: usize,
    /// When it runs: the digit if given, else the earliest stage its fields allow.
    pub stage: Stage,
    /// The stage was given by a digit.
    pub explicit_stage: bool,
    /// `+`: fires when any condition holds (else all must).
    pub any_of: bool,
    pub action: Action,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    negated: bool,
    test: Test,
    line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// A header field, by name.
    Header {
        name: String,
        text: Text,
    },
    /// Any header field.
    Any(Text),
    MailFrom(String),
    RcptTo(String),
    /// Pattern for the recipient count written in decimal.
    RcptCount(String),
    /// Larger than this many octets.
    Size(u64),
    /// Minutes since midnight, start included, end excluded.
    TimeNow(u16, u16),
    /// Bit n = day n (1 = Sunday).
    DayNow(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    /// `Field:` with nothing after it: the field is there.
    Present,
    /// The whole value matches this wildcard pattern.
    Whole(String),
}

impl Text {
    fn matches(&self, value: &str) -> bool {
        match self {
            Text::Present => true,
            Text::Whole(p) => wildcard::matches(p, value),
        }
    }
}

impl Test {
    /// The earliest stage that knows what this test asks about (§8.2.2).
    fn stage(&self) -> Stage {
        match self {
            Test::MailFrom(_) | Test::Size(_) | Test::TimeNow(..) | Test::DayNow(_) => Stage::Mail,
            Test::RcptTo(_) | Test::RcptCount(_) => Stage::Rcpt,
            Test::Header { .. } | Test::Any(_) => Stage::Data,
        }
    }

    fn field(&self) -> String {
        match self {
            Test::Header { name, .. } => name.clone(),
            Test::Any(_) => "Any".into(),
            Test::MailFrom(_) => "MailFrom".into(),
            Test::RcptTo(_) => "RcptTo".into(),
            Test::RcptCount(_) => "RcptCount".into(),
            Test::Size(_) => "Size".into(),
            Test::TimeNow(..) => "TimeNow".into(),
            Test::DayNow(_) => "DayNow".into(),
        }
    }
}

impl Rule {
    /// The earliest stage at which every condition can be checked.
    pub fn needs(&self) -> Stage {
        self.conditions
            .iter()
            .map(|c| c.test.stage())
            .max()
            .unwrap_or(Stage::Mail)
    }

    /// A `TimeNow:` or `DayNow:` condition: a Reject is then temporary (§8.2.4.2).
    pub fn time_dependent(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| matches!(c.test, Test::TimeNow(..) | Test::DayNow(_)))
    }

    fn uses_size(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| matches!(c.test, Test::Size(_)))
    }

    /// Whether the rule runs at `stage` for this input (see the module notes on
    /// `Size:`).
    fn runs_at(&self, stage: Stage, input: &RuleInput<'_>) -> bool {
        let moved = !self.explicit_stage && self.stage == Stage::Mail && self.uses_size();
        match stage {
            Stage::Mail if moved && input.size.is_none() => false,
            Stage::Data if moved && !input.size_known_at_mail => true,
            _ => self.stage == stage,
        }
    }

    fn fires(&self, input: &RuleInput<'_>, header: Option<&HeaderFields>) -> bool {
        rulefmt::combine(
            self.any_of,
            self.conditions.iter().map(|c| c.holds(input, header)),
        )
    }
}

impl Condition {
    fn holds(&self, input: &RuleInput<'_>, header: Option<&HeaderFields>) -> bool {
        let found = match &self.test {
            Test::Header { name, text } => {
                header.is_some_and(|h| h.values(name).any(|v| text.matches(v)))
            }
            Test::Any(text) => header.is_some_and(|h| h.all().any(|v| text.matches(v))),
            Test::MailFrom(p) => wildcard::matches(p, input.mail_from),
            Test::RcptTo(p) => input.recipients.iter().any(|r| wildcard::matches(p, r)),
            Test::RcptCount(p) => wildcard::matches(p, &input.rcpt_count.to_string()),
            // An unknown size (no SIZE= yet) matches neither Size: nor !Size:.
            Test::Size(n) => match input.size {
                Some(s) => s > *n,
                None => return false,
            },
            Test::TimeNow(from, to) => rulefmt::time_in_range(*from, *to, input.clock.minutes),
            Test::DayNow(days) => rulefmt::day_in(*days, input.clock.weekday),
        };
        found != self.negated
    }
}

/// What the rules are checked against: the envelope so far, the message once it is
/// all there, and the local time.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The envelope sender without `<>`; empty for the null sender.
    pub mail_from: &'a str,
    /// At RCPT the recipient being given; after DATA every accepted recipient.
    pub recipients: &'a [String],
    /// Recipients so far (at RCPT including the one being given).
    pub rcpt_count: usize,
    /// At MAIL and RCPT the client's `SIZE=` if it gave one; after DATA the size of
    /// the message as received.
    pub size: Option<u64>,
    /// The client gave `SIZE=` with MAIL (so a rule moved for want of it ran there).
    pub size_known_at_mail: bool,
    /// The message (header and body) after DATA; empty before.
    pub message: &'a [u8],
    /// Local time now.
    pub clock: LocalClock,
}

/// The rule that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub rule: String,
    /// Its definition line in SMTPRULES.TXT.
    pub line: usize,
    /// The stage it fired at.
    pub stage: Stage,
    pub action: Action,
    /// A Reject that depends on the time: refused with a 4xx, not a 5xx.
    pub temporary: bool,
}

impl Fired {
    /// The reply for a Reject rule (§8.2.4.2): temporary when the rule depends on the
    /// time, so the sender tries again later.
    pub fn refusal(&self) -> Refusal {
        if self.temporary {
            REJECTED_FOR_NOW
        } else {
            REJECTED
        }
    }
}

impl SmtpRules {
    /// Read SMTPRULES.TXT. Every bad line is reported, not just the first.
    pub fn parse(text: &str) -> Result<SmtpRules, Vec<RuleError>> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut errors = Vec::new();
        let mut orphan_reported = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.len() > MAX_LINE {
                errors.push(RuleError {
                    line,
                    message: format!(
                        "the line is longer than {MAX_LINE} bytes; split the rule's \
                         conditions over several lines"
                    ),
                });
                continue;
            }
            let s = raw.trim();
            if s.is_empty() || s.starts_with('#') {
                continue;
            }
            // `@`, `%` and `?` start download-rule definitions: reported as such.
            if s.starts_with(['+', '<', '*', '~', '>', '@', '%', '?'])
                || s.starts_with(|c: char| c.is_ascii_digit())
            {
                if rules.len() == MAX_RULES {
                    errors.push(RuleError {
                        line,
                        message: format!("more than {MAX_RULES} rules; merge some rules"),
                    });
                    break;
                }
                match parse_definition(s, line) {
                    Ok(rule) => rules.push(rule),
                    Err(message) => errors.push(RuleError { line, message }),
                }
                continue;
            }
            let condition = match parse_condition(s, line) {
                Ok(c) => c,
                Err(message) => {
                    errors.push(RuleError { line, message });
                    continue;
                }
            };
            match rules.last_mut() {
                Some(rule) if rule.conditions.len() >= MAX_CONDITIONS => {
                    errors.push(RuleError {
                        line,
                        message: format!(
                            "more than {MAX_CONDITIONS} conditions in one rule; split it \
                             into several rules"
                        ),
                    });
                }
                Some(rule) => rule.conditions.push(condition),
                None if orphan_reported => {}
                None => {
                    orphan_reported = true;
                    errors.push(RuleError {
                        line,
                        message: "a condition before any rule definition line; start the \
                                  rule with its action and name, e.g. `*Reject spam`"
                            .into(),
                    })
                }
            }
        }
        for rule in &mut rules {
            if !rule.explicit_stage {
                rule.stage = rule.needs();
                continue;
            }
            for c in &rule.conditions {
                let needs = c.test.stage();
                if needs > rule.stage {
                    errors.push(RuleError {
                        line: c.line,
                        message: format!(
                            "`{}:` is known only at stage {} ({}), but the rule on line \
                             {} is marked {} ({}); mark it {} or leave the digit out",
                            c.test.field(),
                            needs.digit(),
                            needs,
                            rule.line,
                            rule.stage.digit(),
                            rule.stage,
                            needs.digit()
                        ),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(SmtpRules { rules })
        } else {
            errors.sort_by_key(|e| e.line);
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The rules in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether any rule runs at `stage` (so the session can skip building the input).
    pub fn any_at(&self, stage: Stage) -> bool {
        self.rules.iter().any(|r| {
            r.stage == stage
                || (stage == Stage::Data
                    && !r.explicit_stage
                    && r.stage == Stage::Mail
                    && r.uses_size())
        })
    }

    /// The first rule, in file order, that runs at `stage` and fires (§8.2.4.1).
    /// `None`: no rule fired; the message goes on as the configuration decides.
    pub fn decide(&self, stage: Stage, input: &RuleInput<'_>) -> Option<Fired> {
        let header = (stage == Stage::Data).then(|| {
            let end = input.message.len().min(MAX_HEADER_EXAMINED);
            HeaderFields::new(&input.message[..end])
        });
        self.rules
            .iter()
            .filter(|r| r.runs_at(stage, input))
            .find(|r| r.fires(input, header.as_ref()))
            .map(|r| Fired {
                rule: r.name.clone(),
                line: r.line,
                stage,
                action: r.action.clone(),
                temporary: r.action == Action::Reject && r.time_dependent(),
            })
    }
}

const ACTION_HELP: &str = "a rule starts with an optional stage digit 1, 2 or 3, an \
     optional + (OR rule), then the action: < (accept), * (reject), ~ (ignore), \
     >user< (redirect) or >+user< (copy), then the rule's name, e.g. `1*Reject non-local mail`";

fn parse_definition(s: &str, line: usize) -> Result<Rule, String> {
    let mut rest = s;
    let mut stage = None;
    if let Some(c) = rest.chars().next().filter(char::is_ascii_digit) {
        stage = Some(match c {
            '1' => Stage::Mail,
            '2' => Stage::Rcpt,
            '3' => Stage::Data,
            _ => {
                return Err(format!(
                    "`{c}` is not a stage; the stage digit is 1 (MAIL), 2 (RCPT) or 3 \
                     (after DATA), or leave it out"
                ))
            }
        });
        rest = &rest[1..];
    }
    let any_of = match rest.strip_prefix('+') {
        Some(r) => {
            rest = r;
            true
        }
        None => false,
    };
    let mut chars = rest.chars();
    let action = match chars.next() {
        Some('<') => Action::Accept,
        Some('*') => Action::Reject,
        Some('~') => Action::Ignore,
        Some('>') => {
            let (action, name) = parse_redirect(chars.as_str())?;
            return Ok(rule(name, line, stage, any_of, action));
        }
        Some(c @ '1'..='9') if any_of => {
            return Err(format!(
                "write the stage digit before the +, e.g. `{c}+*Reject spam`"
            ))
        }
        Some(c @ ('@' | '%' | '?')) => {
            return Err(format!(
                "`{c}` is a download-rule action; SMTP rules can only accept, reject, \
                 ignore, redirect or copy; {ACTION_HELP}"
            ))
        }
        Some(c) => return Err(format!("`{c}` is not a rule action; {ACTION_HELP}")),
        None => return Err(format!("the rule has no action; {ACTION_HELP}")),
    };
    Ok(rule(chars.as_str(), line, stage, any_of, action))
}

fn rule(name: &str, line: usize, stage: Option<Stage>, any_of: bool, action: Action) -> Rule {
    Rule {
        name: name.trim().to_string(),
        line,
        stage: stage.unwrap_or(Stage::Mail),
        explicit_stage: stage.is_some(),
        any_of,
        action,
        conditions: Vec::new(),
    }
}

/// After `>`: `[+]target<` then the name.
fn parse_redirect(s: &str) -> Result<(Action, &str), String> {
    let (copy, s) = match s.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let Some(end) = s.find('<') else {
        let hint = if s.contains(['?', '%', '*']) {
            " (SMTP rules have no ask, delete or download-and-delete forms)"
        } else {
            ""
        };
        return Err(format!(
            "a redirect or copy rule needs its user ended by <, e.g. `>bill<Redirect \
             to Bill` or `>+bill<Copy to Bill`{hint}"
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
    if target.contains(char::is_whitespace) {
        return Err(format!(
            "`{target}` is not one user, list or address; write one name between > and <"
        ));
    }
    let action = if copy {
        Action::Copy(target.to_string())
    } else {
        Action::Redirect(target.to_string())
    };
    Ok((action, &s[end + 1..]))
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

fn parse_condition(s: &str, line: usize) -> Result<Condition, String> {
    let (negated, rest) = match s.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, s),
    };
    let Some((name, text)) = rest.split_once(':') else {
        return Err(format!(
            "`{s}` is neither a rule definition nor a condition; a condition is \
             `Field: text` (e.g. `MailFrom: *@local.com`), a rule starts with its \
             action; a rule's name must stay on its definition line"
        ));
    };
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b > 32 && b < 127) {
        return Err(format!(
            "`{name}` is not a field name; write `Field: text`, e.g. `Subject: *offer*`"
        ));
    }
    let text = unquote(text.trim());
    let test = match name.to_ascii_lowercase().as_str() {
        "mailfrom" => Test::MailFrom(text.to_string()),
        "rcptto" => {
            if text.is_empty() {
                return Err(
                    "RcptTo: needs an address or pattern, e.g. `RcptTo: sales@domain.com`".into(),
                );
            }
            Test::RcptTo(text.to_string())
        }
        "rcptcount" => {
            if text.is_empty()
                || !text
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '?')
            {
                return Err(format!(
                    "RcptCount: needs a number of recipients, e.g. `RcptCount: 1`, or a \
                     pattern such as `RcptCount: ??*` for ten or more; found `{text}`"
                ));
            }
            Test::RcptCount(text.to_string())
        }
        "size" => Test::Size(text.parse().map_err(|_| {
            format!("Size: needs a number of bytes, e.g. `Size: 1000000` (found `{text}`)")
        })?),
        "any" => Test::Any(header_text(text)),
        "timenow" => {
            let (from, to) = rulefmt::parse_time_range(text)?;
            Test::TimeNow(from, to)
        }
        "daynow" => Test::DayNow(rulefmt::parse_days(text)?),
        "rept" => {
            return Err(
                "`Rept:` is a download-rule field; in SMTP rules write `RcptTo:` \
                        with the recipient's address"
                    .into(),
            )
        }
        "inmail" => {
            return Err("`InMail:` is a download-rule field; SMTP rules have no In Mail".into())
        }
        _ => Test::Header {
            name: name.to_string(),
            text: header_text(text),
        },
    };
    Ok(Condition {
        negated,
        test,
        line,
    })
}

fn header_text(text: &str) -> Text {
    if text.is_empty() {
        Text::Present
    } else {
        Text::Whole(text.to_string())
    }
}

/// One activation, for the SMTP rules log (`DIR/log/SMTPRULES.LOG`) and the main
/// log: which rule fired at which stage for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub fired: Fired,
    /// The SMTP session id (the message id's prefix).
    pub session: String,
    pub client_ip: IpAddr,
    /// The account that authenticated, if any.
    pub auth_user: Option<String>,
    /// The envelope sender (empty for `<>`).
    pub mail_from: String,
    /// At RCPT the recipient given; after DATA every recipient.
    pub recipients: Vec<String>,
    /// The message's `Subject:` (after DATA).
    pub subject: Option<String>,
    pub size: Option<u64>,
    /// The reply the client got because of the rule (e.g. `550 5.7.1`), if the rule
    /// changed it.
    pub reply: Option<String>,
}

impl Activation {
    /// One log line:
    ///
    /// ```text
    /// 2026-11-23T21:20:00+01:00 session="s1" client=203.0.113.9 stage=MAIL line=1 rule="Reject non-local mail" action="reject" reply="550 5.7.1" from="bob@x.org" to="" subject="" size=-
    /// ```
    ///
    /// `time` is the runtime's ISO 8601 stamp. Values are quoted as in DLRULES.LOG.
    pub fn log_line(&self, time: &str) -> String {
        format!(
            "{time} session={} client={} user={} stage={} line={} rule={} action={} \
             reply={} from={} to={} subject={} size={}",
            quoted(&self.session),
            self.client_ip,
            quoted(self.auth_user.as_deref().unwrap_or("")),
            self.fired.stage,
            self.fired.line,
            quoted(&self.fired.rule),
            quoted(&self.fired.action.to_string()),
            quoted(self.reply.as_deref().unwrap_or("")),
            quoted(&self.mail_from),
            quoted(&self.recipients.join(", ")),
            quoted(self.subject.as_deref().unwrap_or("")),
            self.size.map_or("-".to_string(), |s| s.to_string()),
        )
    }
}

/// The `Subject:` of `message`, for the log.
pub fn subject_of(message: &[u8]) -> Option<String> {
    let end = message.len().min(MAX_HEADER_EXAMINED);
    HeaderFields::new(&message[..end])
        .values("Subject")
        .next()
        .map(str::to_string)
}
