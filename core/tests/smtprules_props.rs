//! Properties of SMTP rules (SMTPRULES.TXT, §8.2): the parser and the evaluator never
//! panic on any file, message or envelope; every rule runs no earlier than its fields
//! are known and exactly at its digit when it has one; a rule without a digit runs at
//! the earliest stage its fields allow; and an SMTP session with any rule file and
//! any message never panics and answers every command.

mod smtp_support;

use mailroom_core::rulefmt::LocalClock;
use mailroom_core::smtprules::{RuleInput, SmtpRules, Stage};
use proptest::prelude::*;
use smtp_support::*;
use std::sync::Arc;

/// Fragments a rule file is built from: every definition form, every field, good
/// and bad texts, and noise.
const LINE_PIECES: &[&str] = &[
    "1",
    "2",
    "3",
    "4",
    "+",
    "!",
    "<",
    "*",
    "~",
    ">",
    ">+",
    "bill",
    "<",
    "?",
    "%",
    "@",
    "#",
    " ",
    "name",
    "MailFrom:",
    "RcptTo:",
    "RcptCount:",
    "Size:",
    "Any:",
    "TimeNow:",
    "DayNow:",
    "Subject:",
    "From:",
    "X-Spam:",
    "Rept:",
    "InMail:",
    " *@local.com",
    " 8:00-14:00",
    " 22:00-6:00",
    " 23456",
    " 1000",
    " ??*",
    " \"quoted\"",
    "*bill*",
    ":",
    "\u{e9}",
    "\t",
    "\r",
];

const MESSAGE_PIECES: &[&str] = &[
    "From: a@b.test\r\n",
    "Subject: Make $$$\r\n",
    "Subject: sex\r\n",
    " folded\r\n",
    "X-Spam: yes\r\n",
    "\r\n",
    "body\r\n",
    ": no name\r\n",
    "\u{0}\u{ff}",
    "\n",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(LINE_PIECES), 0..8).prop_map(|v| v.concat()),
        "[ -~]{0,40}",
        any::<String>(),
    ]
}

/// A well-formed rule: most of these parse, so the evaluator gets exercised.
fn rule() -> impl Strategy<Value = String> {
    let definition = (
        prop::sample::select(&["", "1", "2", "3"][..]),
        prop::sample::select(&["", "+"][..]),
        prop::sample::select(&["<", "*", "~", ">bill<", ">+bill@x.test<"][..]),
        "[ -~]{0,10}",
    )
        .prop_map(|(d, p, a, n)| format!("{d}{p}{a}{n}"));
    let condition = (
        prop::sample::select(&["", "!"][..]),
        prop::sample::select(
            &[
                "MailFrom:",
                "MailFrom: *@*",
                "MailFrom:a@b.test",
                "RcptTo: *",
                "RcptTo: alice@*",
                "RcptCount: 1",
                "RcptCount: ?*",
                "Size: 40",
                "Size: 0",
                "Any: *$$$*",
                "Any:",
                "TimeNow: 8:00-14:00",
                "TimeNow: 22:00-6:00",
                "DayNow: 23456",
                "DayNow: 1",
                "Subject: *$$$*",
                "Subject:",
                "From: *@b.test",
                "X-Spam:",
                "X-Spam: yes",
            ][..],
        ),
    )
        .prop_map(|(n, c)| format!("{n}{c}"));
    (definition, prop::collection::vec(condition, 0..4))
        .prop_map(|(d, c)| format!("{d}\n{}", c.join("\n")))
}

fn file() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(line(), 0..20).prop_map(|v| v.join("\n")),
        prop::collection::vec(rule(), 0..6).prop_map(|v| v.join("\n")),
    ]
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(MESSAGE_PIECES), 0..12)
            .prop_map(|v| v.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Field names the text format knows, and the earliest stage of each (§8.2.2).
fn field_stage(field: &str) -> Stage {
    match field.to_ascii_lowercase().as_str() {
        "mailfrom" | "size" | "timenow" | "daynow" => Stage::Mail,
        "rcptto" | "rcptcount" => Stage::Rcpt,
        _ => Stage::Data,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_and_decide_never_panic(
        text in file(),
        msg in message(),
        from in "[a-z@.*]{0,12}",
        rcpts in prop::collection::vec("[a-z@.]{0,12}", 0..4),
        size in prop::option::of(any::<u64>()),
        at_mail in any::<bool>(),
        weekday in 0u8..9,
        minutes in 0u16..1500,
    ) {
        let Ok(rules) = SmtpRules::parse(&text) else { return Ok(()) };
        let input = RuleInput {
            mail_from: &from,
            recipients: &rcpts,
            rcpt_count: rcpts.len(),
            size,
            size_known_at_mail: at_mail,
            message: &msg,
            clock: LocalClock { weekday, minutes },
        };
        for stage in [Stage::Mail, Stage::Rcpt, Stage::Data] {
            if let Some(f) = rules.decide(stage, &input) {
                prop_assert_eq!(f.stage, stage);
                let rule = rules.rules().iter().find(|r| r.line == f.line).unwrap();
                prop_assert!(rule.needs() <= stage);
            }
        }
    }

    #[test]
    fn a_rules_stage_matches_its_fields(
        digit in prop::option::of(1u8..=3),
        fields in prop::collection::vec(
            prop::sample::select(&["MailFrom", "Size", "TimeNow", "DayNow", "RcptTo",
                                   "RcptCount", "Any", "Subject", "X-Spam"][..]),
            0..5),
    ) {
        let text_for = |f: &str| match f {
            "Size" => "1000",
            "TimeNow" => "8:00-14:00",
            "DayNow" => "23456",
            "RcptCount" => "1",
            _ => "*x*",
        };
        let mut text = format!("{}*rule\n", digit.map_or(String::new(), |d| d.to_string()));
        for f in &fields {
            text.push_str(&format!("{f}: {}\n", text_for(f)));
        }
        let needs = fields.iter().map(|f| field_stage(f)).max().unwrap_or(Stage::Mail);
        match (SmtpRules::parse(&text), digit) {
            (Ok(rules), None) => {
                prop_assert_eq!(rules.rules()[0].stage, needs);
                prop_assert!(!rules.rules()[0].explicit_stage);
            }
            (Ok(rules), Some(d)) => {
                prop_assert_eq!(rules.rules()[0].stage.digit(), d);
                prop_assert!(d >= needs.digit());
            }
            (Err(e), Some(d)) => {
                prop_assert!(d < needs.digit(), "{e:?}");
                prop_assert!(e.iter().all(|e| e.line > 1), "{e:?}");
            }
            (Err(e), None) => prop_assert!(false, "{e:?}"),
        }
    }

    #[test]
    fn a_session_with_any_rules_never_panics(
        text in file(),
        msg in message(),
        from in "[a-z]{1,6}@(example\\.com|far\\.test)",
    ) {
        let Ok(rules) = SmtpRules::parse(&text) else { return Ok(()) };
        let mut snap = (*snapshot_with(config(), vec![])).clone();
        snap.access.smtp_rules = rules;
        let mut c = Client::new(Arc::new(snap), info("203.0.113.9"));
        c.take();
        c.ehlo();
        let mut replies = codes(&c.send(format!("MAIL FROM:<{from}>\r\n")));
        replies.extend(codes(&c.send("RCPT TO:<alice@example.com>\r\n")));
        replies.extend(codes(&c.send("RCPT TO:<bob@example.com>\r\n")));
        let data = codes(&c.send("DATA\r\n"));
        replies.extend(&data);
        if data == [354] {
            let mut body = msg.clone();
            body.extend_from_slice(b"\r\n.\r\n");
            replies.extend(codes(&c.send(body)));
        }
        replies.extend(codes(&c.send("QUIT\r\n")));
        prop_assert!(c.closed);
        prop_assert_eq!(replies.last(), Some(&221));
    }
}
