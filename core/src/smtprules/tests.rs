use super::*;

const MESSAGE: &[u8] = b"From: Offers <win@inboxexpress.com>\r\n\
To: sales@domain.com\r\n\
Subject: Make $$$ fast\r\n\
X-Mailer: Eudora Pro 4.0\r\n\
\r\n\
body\r\n";

/// Monday 10:00 local.
const MONDAY_10: LocalClock = LocalClock {
    weekday: 2,
    minutes: 600,
};

fn rules(text: &str) -> SmtpRules {
    match SmtpRules::parse(text) {
        Ok(r) => r,
        Err(e) => panic!("{text:?} did not parse: {e:?}"),
    }
}

fn errors(text: &str) -> Vec<RuleError> {
    match SmtpRules::parse(text) {
        Ok(r) => panic!("{text:?} parsed: {r:?}"),
        Err(e) => e,
    }
}

struct Env {
    from: &'static str,
    rcpts: Vec<String>,
    size: Option<u64>,
    size_at_mail: bool,
    message: &'static [u8],
    clock: LocalClock,
}

impl Env {
    fn new(from: &'static str, rcpts: &[&str]) -> Env {
        Env {
            from,
            rcpts: rcpts.iter().map(|s| s.to_string()).collect(),
            size: None,
            size_at_mail: false,
            message: MESSAGE,
            clock: MONDAY_10,
        }
    }

    fn input(&self) -> RuleInput<'_> {
        RuleInput {
            mail_from: self.from,
            recipients: &self.rcpts,
            rcpt_count: self.rcpts.len(),
            size: self.size,
            size_known_at_mail: self.size_at_mail,
            message: self.message,
            clock: self.clock,
        }
    }

    /// Name of the rule that fires at `stage`, "" for none.
    fn fired(&self, text: &str, stage: Stage) -> String {
        rules(text)
            .decide(stage, &self.input())
            .map(|f| f.rule)
            .unwrap_or_default()
    }
}

// §8.2.5.1, word for word.
const EXAMPLE_1: &str = "1*Reject non-local mail\n!MailFrom: *@local.com\n";

// §8.2.5.2, word for word: the name is wrapped onto a second line in the manual.
const EXAMPLE_2: &str = "2>bill<Redirect mail for sales@domain.com to Bill\non Monday\nRcptTo:sales@domain.com\nDayNow:1\n";

// §8.2.5.3, word for word, with the blank lines of the manual's box.
const EXAMPLE_3: &str =
    "\n3+*Reject Spam\nFrom:*inbox@inboxexpress.com*\nSubject:*$$$*\nSubject:*sex*\n\n";

#[test]
fn example_reject_non_local_mail() {
    let r = rules(EXAMPLE_1);
    let rule = &r.rules()[0];
    assert_eq!(rule.stage, Stage::Mail);
    assert!(rule.explicit_stage);
    assert_eq!(rule.action, Action::Reject);
    assert_eq!(rule.name, "Reject non-local mail");
    let outsider = Env::new("bob@elsewhere.org", &[]);
    let fired = r.decide(Stage::Mail, &outsider.input()).unwrap();
    assert_eq!(fired.refusal(), REJECTED);
    assert_eq!((fired.line, fired.stage), (1, Stage::Mail));
    // Whole-value wildcard match, any case.
    assert_eq!(
        Env::new("Fred@LOCAL.com", &[]).fired(EXAMPLE_1, Stage::Mail),
        ""
    );
    assert_eq!(
        Env::new("fred@local.com.evil.org", &[]).fired(EXAMPLE_1, Stage::Mail),
        "Reject non-local mail"
    );
    // Never at another stage.
    assert_eq!(outsider.fired(EXAMPLE_1, Stage::Rcpt), "");
    assert_eq!(outsider.fired(EXAMPLE_1, Stage::Data), "");
}

#[test]
fn example_redirect_sales_on_mondays() {
    // The manual's box wraps the name: the second line is reported, with what to do.
    let e = errors(EXAMPLE_2);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, 2);
    assert!(
        e[0].message
            .contains("name must stay on its definition line"),
        "{}",
        e[0].message
    );
    // As a file holds it, on one line.
    let joined = EXAMPLE_2.replacen("Bill\non Monday", "Bill on Monday", 1);
    let r = rules(&joined);
    let rule = &r.rules()[0];
    assert_eq!(rule.stage, Stage::Rcpt);
    assert_eq!(rule.action, Action::Redirect("bill".into()));
    assert_eq!(
        rule.name,
        "Redirect mail for sales@domain.com to Bill on Monday"
    );
    assert!(rule.time_dependent());
    // DayNow: 1 is Sunday, as the manual's own list says (DECISIONS.md).
    let mut sunday = Env::new("x@y.org", &["sales@domain.com"]);
    sunday.clock.weekday = 1;
    let fired = r.decide(Stage::Rcpt, &sunday.input()).unwrap();
    assert_eq!(fired.action, Action::Redirect("bill".into()));
    assert!(!fired.temporary, "only a Reject is temporary");
    assert_eq!(
        Env::new("x@y.org", &["sales@domain.com"]).fired(&joined, Stage::Rcpt),
        ""
    );
    let mut other = Env::new("x@y.org", &["bob@domain.com"]);
    other.clock.weekday = 1;
    assert_eq!(other.fired(&joined, Stage::Rcpt), "");
}

#[test]
fn example_reject_spam() {
    let r = rules(EXAMPLE_3);
    let rule = &r.rules()[0];
    assert_eq!((rule.line, rule.stage, rule.any_of), (2, Stage::Data, true));
    let spam = Env::new("x@y.org", &["a@b.c"]);
    assert_eq!(spam.fired(EXAMPLE_3, Stage::Data), "Reject Spam");
    let mut clean = Env::new("x@y.org", &["a@b.c"]);
    clean.message = b"From: friend@example.org\r\nSubject: Lunch\r\n\r\nhi\r\n";
    assert_eq!(clean.fired(EXAMPLE_3, Stage::Data), "");
    let mut sex = Env::new("x@y.org", &["a@b.c"]);
    sex.message = b"From: a@b.c\r\nSubject: SEX now\r\n\r\n";
    assert_eq!(sex.fired(EXAMPLE_3, Stage::Data), "Reject Spam");
    // Header rules never run before the message is there.
    assert_eq!(spam.fired(EXAMPLE_3, Stage::Mail), "");
}

#[test]
fn format_examples_of_8_2_4_2() {
    let r = rules("*This is a Reject Rule\n>recipient<This is a Redirect rule\n");
    assert_eq!(r.rules()[0].action, Action::Reject);
    assert_eq!(r.rules()[0].name, "This is a Reject Rule");
    assert_eq!(r.rules()[1].action, Action::Redirect("recipient".into()));
    assert_eq!(r.rules()[1].name, "This is a Redirect rule");
}

#[test]
fn every_definition_form() {
    let r = rules(
        "<Accept\n*Reject\n~Ignore\n>bill<Redirect\n>+bill@x.org<Copy\n\
         1<a\n2*b\n3~c\n1+>list<d\n3+>+bill<e\n+*f\n",
    );
    let got: Vec<(Option<u8>, bool, Action)> = r
        .rules()
        .iter()
        .map(|r| {
            (
                r.explicit_stage.then(|| r.stage.digit()),
                r.any_of,
                r.action.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (None, false, Action::Accept),
            (None, false, Action::Reject),
            (None, false, Action::Ignore),
            (None, false, Action::Redirect("bill".into())),
            (None, false, Action::Copy("bill@x.org".into())),
            (Some(1), false, Action::Accept),
            (Some(2), false, Action::Reject),
            (Some(3), false, Action::Ignore),
            (Some(1), true, Action::Redirect("list".into())),
            (Some(3), true, Action::Copy("bill".into())),
            (None, true, Action::Reject),
        ]
    );
    assert_eq!(r.rules()[9].name, "e");
    assert_eq!(
        Action::Copy("bill".into()).to_string(),
        "copy to bill",
        "the log form"
    );
}

#[test]
fn comments_blank_lines_and_indented_conditions() {
    let r = rules("# SMTP rules\n\n   # indented comment\n*Reject bob\n   MailFrom: bob@x.org\r\n");
    assert_eq!(r.len(), 1);
    assert_eq!(
        Env::new("bob@x.org", &[]).fired("*R\n  MailFrom: bob@x.org", Stage::Mail),
        "R"
    );
    assert!(rules("").is_empty());
    assert!(rules("# nothing\n\n").is_empty());
}

#[test]
fn stages_follow_the_fields() {
    let stage = |text: &str| rules(text).rules()[0].stage;
    assert_eq!(stage("*a\n"), Stage::Mail);
    assert_eq!(
        stage("*a\nMailFrom: x\nSize: 5\nTimeNow: 8:00-9:00\nDayNow: 1"),
        Stage::Mail
    );
    assert_eq!(stage("*a\nMailFrom: x\nRcptTo: y"), Stage::Rcpt);
    assert_eq!(stage("*a\nRcptCount: 3"), Stage::Rcpt);
    assert_eq!(stage("*a\nRcptTo: y\nX-Spam: yes"), Stage::Data);
    assert_eq!(stage("*a\nAny: *viagra*"), Stage::Data);
    // A digit may move a rule later.
    assert_eq!(stage("3*a\nMailFrom: x"), Stage::Data);
    assert_eq!(stage("2*a\nMailFrom: x"), Stage::Rcpt);
    // Never earlier than its fields are known.
    let e = errors("1*a\nSubject: x\n\n2~b\nMailFrom: y\nFrom: z\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].line, 2);
    assert!(e[0].message.contains("mark it 3"), "{}", e[0].message);
    assert_eq!(e[1].line, 6);
    let e = errors("1*a\nRcptTo: x");
    assert!(
        e[0].message.contains("`RcptTo:` is known only at stage 2"),
        "{}",
        e[0].message
    );
}

#[test]
fn every_condition_form() {
    let mut env = Env::new("Bob@Sender.org", &["sales@domain.com", "bill@domain.com"]);
    env.size = Some(5000);
    let m = |text: &str, stage: Stage| env.fired(&format!("*hit\n{text}\n"), stage) == "hit";
    // MailFrom: whole value, wildcards, case.
    assert!(m("MailFrom: bob@sender.org", Stage::Mail));
    assert!(!m("MailFrom: bob", Stage::Mail), "not a substring match");
    assert!(m("MailFrom: *bob*", Stage::Mail));
    assert!(m("MailFrom: ???@*", Stage::Mail));
    assert!(
        m("MailFrom: \"bob@sender.org\"", Stage::Mail),
        "quotes allowed"
    );
    assert!(m("!MailFrom: *@local.com", Stage::Mail));
    assert!(
        !m("! MailFrom: *@sender.org", Stage::Mail),
        "space after ! allowed"
    );
    // Size: larger than.
    assert!(m("Size: 4999", Stage::Mail));
    assert!(!m("Size: 5000", Stage::Mail));
    assert!(m("!Size: 5000", Stage::Mail));
    // RcptTo any recipient; RcptCount as a number.
    assert!(m("RcptTo: bill@*", Stage::Rcpt));
    assert!(!m("!RcptTo: bill@*", Stage::Rcpt));
    assert!(m("RcptCount: 2", Stage::Rcpt));
    assert!(!m("RcptCount: 1", Stage::Rcpt));
    assert!(!m("RcptCount: ??*", Stage::Rcpt));
    // Header fields and Any.
    assert!(m("Subject: Make $$$ fast", Stage::Data));
    assert!(m("subject: make*", Stage::Data), "field names any case");
    assert!(!m("Subject: make", Stage::Data));
    assert!(m("X-Mailer:", Stage::Data), "presence");
    assert!(!m("X-Spam:", Stage::Data));
    assert!(m("!X-Spam:", Stage::Data));
    assert!(m("Any: sales@domain.com", Stage::Data));
    assert!(!m("Any: nothing", Stage::Data));
    // Time and day (Monday 10:00).
    assert!(m("TimeNow: 8:00-14:00", Stage::Mail));
    assert!(m("TimeNow: 9:00-10:01", Stage::Mail));
    assert!(!m("TimeNow: 10:01-9:00", Stage::Mail));
    assert!(!m("TimeNow: 22:00-6:00", Stage::Mail));
    assert!(m("DayNow: 23456", Stage::Mail));
    assert!(!m("DayNow: 17", Stage::Mail));
    assert!(m("!DayNow: 17", Stage::Mail));
}

#[test]
fn and_or_and_no_conditions() {
    let env = Env::new("bob@x.org", &["a@b.c"]);
    assert_eq!(
        env.fired("*and\nMailFrom: bob@x.org\nMailFrom: other", Stage::Mail),
        ""
    );
    assert_eq!(
        env.fired("+*or\nMailFrom: bob@x.org\nMailFrom: other", Stage::Mail),
        "or"
    );
    assert_eq!(env.fired("~always", Stage::Mail), "always");
}

#[test]
fn null_sender() {
    let env = Env::new("", &[]);
    assert_eq!(env.fired("*bounces\nMailFrom:", Stage::Mail), "bounces");
    assert_eq!(env.fired("*bounces\nMailFrom: *", Stage::Mail), "bounces");
    assert_eq!(
        Env::new("a@b", &[]).fired("*bounces\nMailFrom:", Stage::Mail),
        ""
    );
}

#[test]
fn first_match_wins() {
    let text = "<Boss\nMailFrom: boss@x.org\n*Everyone else\n";
    assert_eq!(Env::new("boss@x.org", &[]).fired(text, Stage::Mail), "Boss");
    assert_eq!(
        Env::new("bob@x.org", &[]).fired(text, Stage::Mail),
        "Everyone else"
    );
    let r = rules(text);
    let f = r
        .decide(Stage::Mail, &Env::new("boss@x.org", &[]).input())
        .unwrap();
    assert_eq!((f.line, f.action), (1, Action::Accept));
}

#[test]
fn a_time_dependent_reject_is_temporary() {
    let r = rules("*Not at night\nTimeNow: 8:00-14:00\n*Not on Mondays\nDayNow: 2\n*Never\n");
    let f = r
        .decide(Stage::Mail, &Env::new("a@b", &[]).input())
        .unwrap();
    assert!(f.temporary);
    assert_eq!(f.refusal().code, 451);
    // Negated time conditions count too.
    let r = rules("*Closed\n!TimeNow: 12:00-13:00\n");
    let f = r
        .decide(Stage::Mail, &Env::new("a@b", &[]).input())
        .unwrap();
    assert_eq!(f.refusal(), REJECTED_FOR_NOW);
    let r = rules("*Always\n");
    assert_eq!(
        r.decide(Stage::Mail, &Env::new("a@b", &[]).input())
            .unwrap()
            .refusal(),
        REJECTED
    );
}

#[test]
fn size_unknown_at_mail_moves_the_rule_after_data() {
    let text = "*Too big\nSize: 1000\n";
    let mut env = Env::new("a@b", &["c@d"]);
    // No SIZE=: not at MAIL, but after DATA with the real size.
    assert_eq!(env.fired(text, Stage::Mail), "");
    env.size = Some(2000);
    assert_eq!(env.fired(text, Stage::Data), "Too big");
    // SIZE= given: at MAIL, and not again after DATA.
    env.size_at_mail = true;
    assert_eq!(env.fired(text, Stage::Mail), "Too big");
    assert_eq!(env.fired(text, Stage::Data), "");
    // A digit keeps the rule where it is: an unknown size matches neither way.
    env.size = None;
    env.size_at_mail = false;
    assert_eq!(env.fired("1*Big\nSize: 1000", Stage::Mail), "");
    assert_eq!(env.fired("1*Small\n!Size: 1000", Stage::Mail), "");
    env.size = Some(2000);
    assert_eq!(env.fired("1*Big\nSize: 1000", Stage::Data), "");
    assert!(rules(text).any_at(Stage::Data));
    assert!(!rules("*x\nMailFrom: a").any_at(Stage::Data));
}

#[test]
fn bad_lines_are_reported_with_what_to_write() {
    let text = "Subject: x\n?Ask\n4*Reject\n>bill?Ask bill\n><Nobody\n>a b<Two\n\
                *ok\nSize: big\nDayNow: 9\nTimeNow: 8-9\nRcptCount: many\nno colon here\n\
                Rept: fred\nInMail: 1\n+1*Late digit\n@Delete\n";
    let e = errors(text);
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(
        lines,
        [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        "{e:#?}"
    );
    let msg = |line: usize| e.iter().find(|e| e.line == line).unwrap().message.clone();
    assert!(msg(1).contains("before any rule"), "{}", msg(1));
    assert!(msg(2).contains("download-rule action"), "{}", msg(2));
    assert!(msg(3).contains("1 (MAIL), 2 (RCPT) or 3"), "{}", msg(3));
    assert!(msg(4).contains("no ask"), "{}", msg(4));
    assert!(msg(5).contains("needs a user"), "{}", msg(5));
    assert!(msg(8).contains("Size: 1000000"), "{}", msg(8));
    assert!(msg(13).contains("RcptTo:"), "{}", msg(13));
    assert!(msg(15).contains("`1+*Reject spam`"), "{}", msg(15));
    assert!(msg(16).contains("download-rule action"), "{}", msg(16));
    assert_eq!(e[0].to_string(), format!("line 1: {}", msg(1)));
}

#[test]
fn bounds() {
    let long = format!("*a\nMailFrom: {}\n", "x".repeat(MAX_LINE));
    assert_eq!(errors(&long)[0].line, 2);
    let many = "*r\n".repeat(MAX_RULES + 1);
    let e = errors(&many);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, MAX_RULES + 1);
    let conds = format!("*r\n{}", "MailFrom: a\n".repeat(MAX_CONDITIONS + 1));
    assert_eq!(errors(&conds).len(), 1);
}

#[test]
fn log_line_is_one_quoted_line() {
    let a = Activation {
        fired: Fired {
            rule: "Reject \"spam\"".into(),
            line: 3,
            stage: Stage::Data,
            action: Action::Reject,
            temporary: false,
        },
        session: "s1".into(),
        client_ip: "203.0.113.9".parse().unwrap(),
        auth_user: None,
        mail_from: "bob@x.org".into(),
        recipients: vec!["a@b.c".into(), "d@e.f".into()],
        subject: Some("Hi\r\nthere".into()),
        size: Some(12),
        reply: Some("550 5.7.1".into()),
    };
    assert_eq!(
        a.log_line("2026-01-01T00:00:00+00:00"),
        "2026-01-01T00:00:00+00:00 session=\"s1\" client=203.0.113.9 user=\"\" stage=DATA \
         line=3 rule=\"Reject \\\"spam\\\"\" action=\"reject\" reply=\"550 5.7.1\" \
         from=\"bob@x.org\" to=\"a@b.c, d@e.f\" subject=\"Hi  there\" size=12"
    );
    assert_eq!(subject_of(MESSAGE).as_deref(), Some("Make $$$ fast"));
}
