use super::*;
use crate::accounts::ClearPeriod;
use crate::config::DateOrder;

const MULTI: &str = "Thank you for your query, an automated response follows:\n\
\n\
[Section:Sales]\n\
\n\
If you want to buy something, send a check to .....\n\
\n\
[Section:VPOP3]\n\
\n\
VPOP3 is the best Email Server for Windows!\n\
\n\
[Default]\n\
\n\
I'm sorry - I don't recognise your message subject. Try\n\
sending another message with the subject line of:\n\
\n\
\"Sales\" or \"VPOP3\"\n\
\n\
[All]\n\
\n\
If you want further help, send an email to helpme@...\n";

const VACATION: &str = "<Keep>\n\
<OnlyOnce>\n\
Michael is currently on vacation until 23rd June 2007.\n\
He will respond to your message as soon as possible\n\
when he returns.\n\
If your message is urgent, then contact his colleague\n\
at helena@yourdomain.com\n\
\n\
If you send another message to Michael, you will not\n\
receive another copy of this automated email.\n";

const PRICES: &str = "Thank you for your price list request.\n\
[Section:electronic]\n\
Our Electronic Goods pricelist follows:\n\
<Include:c:\\prices\\electronic.txt>\n\
[Section:food]\n\
Our Food pricelist follows:\n\
<Include:c:\\prices\\food.txt>\n\
[Default]\n\
To request a specific price list, send another message\n\
to this address but specify either \"Food\" or\n\
\"Electronic\" in your message subject.\n\
[All]\n\
If you want further help, send an email to helpme@...\n";

/// 2007-03-21 (a Wednesday) 10:30:00 UTC.
const WED: u64 = 1_174_473_000;

fn msg(subject: &str) -> Vec<u8> {
    format!(
        "From: Joe Bloggs <joe@example.org>\r\nTo: info@company.com\r\nSubject: {subject}\r\nMessage-ID: <m1@example.org>\r\n\r\nHello\r\n"
    )
    .into_bytes()
}

fn settings() -> AutoresponderSettings {
    AutoresponderSettings {
        enabled: true,
        ..Default::default()
    }
}

fn env(global: &AutoMail, now: u64) -> Env<'_> {
    Env {
        now: Instant::from_secs(now),
        local_offset_secs: 0,
        hostname: "mail.company.com",
        default_domain: "company.com",
        global,
        id: "r1",
    }
}

fn run(text: &str, message: &[u8], s: &AutoresponderSettings, log: &SentLog) -> Answer {
    run_with(&Template::parse(text), &BTreeMap::new(), message, s, log)
}

/// The answer of info@company.com's autoresponder to `message` from joe@example.org.
fn run_with(
    t: &Template,
    files: &BTreeMap<String, Vec<u8>>,
    message: &[u8],
    s: &AutoresponderSettings,
    log: &SentLog,
) -> Answer {
    let g = AutoMail::default();
    let mb = Mailbox {
        name: "info",
        address: "info@company.com",
        settings: s,
    };
    let inc = Incoming {
        message,
        return_path: Some("joe@example.org"),
    };
    answer(&inc, &mb, &env(&g, WED), t, files, log)
}

fn body(a: &Answer) -> String {
    let d = &a.reply.as_ref().expect("a reply").data;
    let s = String::from_utf8_lossy(d).into_owned();
    let i = s.find("\r\n\r\n").unwrap();
    s[i + 4..].replace("\r\n", "\n")
}

fn rendered(text: &str, subject: &str) -> Rendered {
    let t = Template::parse(text);
    template::render(
        &t,
        &template::Facts {
            subject,
            originator: "joe@example.org",
            local: chrono::DateTime::from_timestamp(WED as i64, 0)
                .unwrap()
                .naive_utc(),
            order: DateOrder::Dmy,
        },
        &BTreeMap::new(),
    )
}

#[test]
fn the_manuals_multi_section_example() {
    let a = run(
        MULTI,
        &msg("Tell me about VPOP3"),
        &settings(),
        &SentLog::default(),
    );
    assert_eq!(
        body(&a),
        "Thank you for your query, an automated response follows:\n\
         \n\
         VPOP3 is the best Email Server for Windows!\n\
         \n\
         If you want further help, send an email to helpme@...\n"
    );
    let a = run(
        MULTI,
        &msg("What about football"),
        &settings(),
        &SentLog::default(),
    );
    assert_eq!(
        body(&a),
        "Thank you for your query, an automated response follows:\n\
         \n\
         I'm sorry - I don't recognise your message subject. Try\n\
         sending another message with the subject line of:\n\
         \n\
         \"Sales\" or \"VPOP3\"\n\
         \n\
         If you want further help, send an email to helpme@...\n"
    );
    // Section matching ignores case; Default is skipped once a section matched.
    let r = rendered(MULTI, "sales please");
    assert!(r.text.contains("send a check"));
    assert!(!r.text.contains("I'm sorry"));
}

#[test]
fn the_manuals_vacation_example() {
    let s = settings();
    let mut log = SentLog::default();
    let a = run(VACATION, &msg("Meeting"), &s, &log);
    assert!(a.keep);
    assert_eq!(a.remember.as_deref(), Some("joe@example.org"));
    assert!(body(&a).starts_with("Michael is currently on vacation until 23rd June 2007.\n"));
    assert!(body(&a).ends_with("receive another copy of this automated email.\n"));
    log.record("joe@example.org", Instant::from_secs(WED - 60));
    let again = run(VACATION, &msg("Meeting"), &s, &log);
    assert_eq!(again.silence, Some(Silence::AlreadyAnswered));
    assert!(again.reply.is_none() && again.keep);
}

#[test]
fn the_manuals_information_example_discards_when_keep_is_off() {
    let text = "Thank you for your request for further information\nabout our products.\n";
    let s = AutoresponderSettings {
        keep: false,
        ..settings()
    };
    let a = run(text, &msg("info"), &s, &SentLog::default());
    assert!(!a.keep);
    assert_eq!(a.remember, None);
    assert!(body(&a).starts_with("Thank you for your request"));
}

#[test]
fn the_manuals_price_list_example_includes_files() {
    let t = Template::parse(PRICES);
    assert_eq!(
        t.files(),
        vec![
            "c:\\prices\\electronic.txt".to_string(),
            "c:\\prices\\food.txt".to_string()
        ]
    );
    let mut files = BTreeMap::new();
    files.insert(
        "c:\\prices\\food.txt".to_string(),
        b"Apples 1.00\nPears 2.00\n".to_vec(),
    );
    let a = run_with(
        &t,
        &files,
        &msg("FOOD prices"),
        &settings(),
        &SentLog::default(),
    );
    assert_eq!(
        body(&a),
        "Thank you for your price list request.\n\nOur Food pricelist follows:\nApples 1.00\nPears 2.00\n\nIf you want further help, send an email to helpme@...\n"
    );
}

#[test]
fn inline_tags_expand() {
    let r = rendered(
        "{Date} {LongDate} {ShortDate} {Date:ddd',' MMM dd yy}\n{Time} {TimeNoSecs} {Time:hh':'mm tt}\n{Originator} / {OrigSubject} / {Subject} / {Section}\n\\{Date} {Unknown}",
        "Hi there",
    );
    assert_eq!(
        r.text,
        "21/03/2007 Wednesday, 21 March 2007 21/03/2007 Wed, Mar 21 07\n\
         10:30:00 10:30 10:30 AM\n\
         joe@example.org / Hi there / Auto: Hi there / All\n\
         {Date} {Unknown}"
    );
    let r = rendered(
        "[Section:hi]\n{Section} {Subject}\n<SubjectPrefix:Re:>",
        "hi",
    );
    assert_eq!(r.text, "hi Re: hi");
}

#[test]
fn definition_tags() {
    let r = rendered(
        "<From: Sales <sales@company.com>>\n<ReplyTo:desk@company.com>\n<To:From>\n<Subject:Thanks>\n<NoKeep>\n<AppendMsg>\n<AppendHdr>\n<Attach:/srv/a.pdf>\n<Attach:b.txt>\n<OnlyOnce>\n<CopyTo:one@company.com>\n<CopyTo:two@company.com>\ntext\n\\<Keep> is a real line\n\\[All] too",
        "x",
    );
    assert_eq!(r.from.as_deref(), Some("Sales <sales@company.com>"));
    assert_eq!(r.reply_to.as_deref(), Some("desk@company.com"));
    assert_eq!(r.to, Target::From);
    assert_eq!(r.subject, "Thanks");
    assert_eq!(r.keep, Some(false));
    assert!(r.append_msg && r.append_hdr && r.only_once);
    assert_eq!(
        r.attach,
        vec!["/srv/a.pdf".to_string(), "b.txt".to_string()]
    );
    assert_eq!(r.copy_to.as_deref(), Some("two@company.com"));
    assert_eq!(r.text, "text\n<Keep> is a real line\n[All] too");
    let r = rendered(
        "<Subject:A>\n<SubjectPrefix:Fwd:>\n<To:x@y.org>\n<Keep>",
        "orig",
    );
    assert_eq!(r.subject, "Fwd: orig");
    assert_eq!(r.to, Target::Address("x@y.org".into()));
    assert_eq!(r.keep, Some(true));
    let r = rendered("<html><body>Away</body></html>", "x");
    assert!(r.html);
}

#[test]
fn the_reply_is_an_rfc3834_answer_to_the_return_path() {
    let a = run("Away", &msg("Hi"), &settings(), &SentLog::default());
    let reply = a.reply.unwrap();
    assert_eq!(reply.sender, None);
    assert_eq!(reply.to, vec!["joe@example.org".to_string()]);
    let s = String::from_utf8(reply.data).unwrap();
    assert!(s.contains("Auto-Submitted: auto-replied\r\n"));
    assert!(s.contains("In-Reply-To: <m1@example.org>\r\n"));
    assert!(s.contains("References: <m1@example.org>\r\n"));
    assert!(s.contains("From: info@company.com\r\n"));
    assert!(s.contains("To: joe@example.org\r\n"));
    assert!(s.contains("Subject: Auto: Hi\r\n"));
}

#[test]
fn attachments_and_the_original_go_along() {
    let t = Template::parse("<Attach:/srv/terms.txt>\n<AppendMsg>\nSee attached");
    let mut files = BTreeMap::new();
    files.insert("/srv/terms.txt".to_string(), b"terms".to_vec());
    let a = run_with(&t, &files, &msg("x"), &settings(), &SentLog::default());
    let s = String::from_utf8(a.reply.unwrap().data).unwrap();
    assert!(s.contains("filename=\"terms.txt\""));
    assert!(s.contains("dGVybXM=\r\n"));
    assert!(s.contains("Content-Type: message/rfc822\r\n"));
    assert!(s.contains("Message-ID: <m1@example.org>"));
}

#[test]
fn copy_to_sends_the_incoming_message() {
    let a = run(
        "<CopyTo:boss@company.com>\nAway",
        &msg("x"),
        &settings(),
        &SentLog::default(),
    );
    let c = a.copy.unwrap();
    assert_eq!(c.to, vec!["boss@company.com".to_string()]);
    assert_eq!(c.data, msg("x"));
}

#[test]
fn valid_conditions() {
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    let spec = "20/3/07-10/4/07, 9:00-16:00, Mon, Tue, Wed, Thu, Fri";
    // The manual's example: 9 am – 4 pm, Monday to Friday, 20 March – 10 April 2007.
    assert!(template::valid_at(
        spec,
        &at("2007-03-21 10:30"),
        DateOrder::Dmy
    ));
    assert!(!template::valid_at(
        spec,
        &at("2007-03-21 16:30"),
        DateOrder::Dmy
    ));
    assert!(!template::valid_at(
        spec,
        &at("2007-03-24 10:30"),
        DateOrder::Dmy
    )); // Saturday
    assert!(!template::valid_at(
        spec,
        &at("2007-04-11 10:30"),
        DateOrder::Dmy
    ));
    assert!(template::valid_at(
        spec,
        &at("2007-04-10 10:30"),
        DateOrder::Dmy
    ));
    assert!(template::valid_at(
        "3/20/2007",
        &at("2007-03-20 00:00"),
        DateOrder::Mdy
    ));
    assert!(template::valid_at(
        "2007/03/20",
        &at("2007-03-20 00:00"),
        DateOrder::Ymd
    ));
    assert!(!template::valid_at(
        "nonsense",
        &at("2007-03-20 00:00"),
        DateOrder::Dmy
    ));
    // A <Valid> at the top governs the whole text; in a section, only that section.
    let a = run(
        "<Valid:1/1/2020-31/12/2020>\nAway",
        &msg("x"),
        &settings(),
        &SentLog::default(),
    );
    assert_eq!(a.silence, Some(Silence::NotInForce));
    let r = rendered("Hello\n[All]\n<Valid:Sat>\nweekend text", "x");
    assert_eq!(r.text, "Hello");
}

fn suppressed_with(
    message: &[u8],
    return_path: Option<&str>,
    s: &AutoresponderSettings,
    g: &AutoMail,
) -> Option<Silence> {
    let mb = Mailbox {
        name: "info",
        address: "info@company.com",
        settings: s,
    };
    let inc = Incoming {
        message,
        return_path,
    };
    suppressed(&inc, &mb, &env(g, WED))
}

#[test]
fn rfc3834_suppression() {
    let s = settings();
    let g = AutoMail::default();
    let ok = msg("x");
    assert_eq!(suppressed_with(&ok, Some("joe@example.org"), &s, &g), None);
    let auto = b"Auto-Submitted: auto-replied\r\nSubject: x\r\n\r\n";
    assert_eq!(
        suppressed_with(auto, Some("joe@example.org"), &s, &g),
        Some(Silence::AutoSubmitted)
    );
    let no = b"Auto-Submitted: no\r\nSubject: x\r\n\r\n";
    assert_eq!(suppressed_with(no, Some("joe@example.org"), &s, &g), None);
    assert_eq!(
        suppressed_with(&ok, None, &s, &g),
        Some(Silence::NullSender)
    );
    assert_eq!(
        suppressed_with(&ok, Some(""), &s, &g),
        Some(Silence::NullSender)
    );
    for list in [
        &b"List-Id: <x.lists.example.org>\r\n\r\n"[..],
        b"Precedence: bulk\r\n\r\n",
        b"Precedence: JUNK\r\n\r\n",
        b"Precedence: list\r\n\r\n",
        b"List-Unsubscribe: <mailto:x@y>\r\n\r\n",
    ] {
        assert_eq!(
            suppressed_with(list, Some("joe@example.org"), &s, &g),
            Some(Silence::ListMail)
        );
    }
    for robot in [
        "Mailer_Daemon@company.com",
        "MAILER-DAEMON@example.org",
        "owner-staff@example.org",
        "staff-request@example.org",
        "postmaster@example.org",
        "info@company.com",
    ] {
        assert_eq!(
            suppressed_with(&ok, Some(robot), &s, &g),
            Some(Silence::OwnMail),
            "{robot}"
        );
    }
    let ours = b"From: Mailer_Daemon <Mailer_Daemon@company.com>\r\n\r\n";
    assert_eq!(
        suppressed_with(ours, Some("x@example.org"), &s, &g),
        Some(Silence::OwnMail)
    );
}

#[test]
fn filters_triggers_and_address_lists() {
    let g = AutoMail {
        filters: vec!["Subject: no response*".into()],
        deny: vec!["*@spam.example".into()],
        ..Default::default()
    };
    let s = AutoresponderSettings {
        filters: vec!["From: *<*@mydomain.com>*".into()],
        ..settings()
    };
    let m = |from: &str, subject: &str| {
        format!("From: {from}\r\nTo: x@company.com\r\nSubject: {subject}\r\n\r\n").into_bytes()
    };
    assert!(matches!(
        suppressed_with(&m("a@b.org", "No Response needed"), Some("a@b.org"), &s, &g),
        Some(Silence::Filtered(_))
    ));
    assert!(matches!(
        suppressed_with(&m("Ann <ann@mydomain.com>", "hi"), Some("a@b.org"), &s, &g),
        Some(Silence::Filtered(_))
    ));
    assert_eq!(
        suppressed_with(&m("a@b.org", "hi"), Some("x@spam.example"), &s, &g),
        Some(Silence::Denied)
    );
    assert_eq!(
        suppressed_with(&m("a@b.org", "hi"), Some("a@b.org"), &s, &g),
        None
    );
    let allow = AutoMail {
        allow: vec!["*@partner.example".into()],
        ..Default::default()
    };
    assert_eq!(
        suppressed_with(&m("a@b.org", "hi"), Some("a@b.org"), &settings(), &allow),
        Some(Silence::Denied)
    );
    assert_eq!(
        suppressed_with(
            &m("a@b.org", "hi"),
            Some("p@partner.example"),
            &settings(),
            &allow
        ),
        None
    );
    let t = AutoresponderSettings {
        triggers: vec!["To: *myalias@mydomain.com*".into()],
        ..settings()
    };
    assert_eq!(
        suppressed_with(
            &m("a@b.org", "hi"),
            Some("a@b.org"),
            &t,
            &AutoMail::default()
        ),
        Some(Silence::NotTriggered)
    );
    let hit = b"To: Staff <myalias@mydomain.com>\r\n\r\n";
    assert_eq!(
        suppressed_with(hit, Some("a@b.org"), &t, &AutoMail::default()),
        None
    );
}

#[test]
fn once_per_sender_clearing_periods() {
    let day = 86_400;
    let mut log = SentLog::default();
    log.record("Joe@Example.org", Instant::from_secs(WED));
    let answered =
        |now: u64, p: ClearPeriod| log.answered("joe@example.org", Instant::from_secs(now), 0, p);
    assert!(answered(WED + 400 * day, ClearPeriod::Never));
    assert!(answered(WED + 3600, ClearPeriod::Daily));
    assert!(!answered(WED + day, ClearPeriod::Daily));
    // Wednesday → Sunday is the same week; Monday starts a new one.
    assert!(answered(WED + 4 * day, ClearPeriod::Weekly));
    assert!(!answered(WED + 5 * day, ClearPeriod::Weekly));
    assert!(answered(WED + 10 * day, ClearPeriod::Monthly));
    assert!(!answered(WED + 11 * day, ClearPeriod::Monthly)); // 1 April
                                                              // The fortnight of 19 March – 1 April 2007.
    assert!(answered(WED + 11 * day, ClearPeriod::Fortnightly));
    assert!(!answered(WED + 12 * day, ClearPeriod::Fortnightly));
    let text = log.to_text();
    assert_eq!(text, format!("{WED} joe@example.org\n"));
    assert_eq!(SentLog::parse(&text), log);
    assert_eq!(SentLog::parse("garbage\n12 \nx y\n").len(), 0);
    let mut l = log.clone();
    l.prune(Instant::from_secs(WED + day), 0, ClearPeriod::Daily);
    assert!(l.is_empty());
}

#[test]
fn external_control_and_reply() {
    let c = external::parse_control(
        b"To: a@x.org\nTo: b@x.org\nFrom: bot@company.com\nKeep: 1\nKeep: 0\nnoise\n",
    );
    assert_eq!(c.to, vec!["a@x.org".to_string(), "b@x.org".to_string()]);
    assert_eq!(c.from.as_deref(), Some("bot@company.com"));
    assert_eq!(c.keep, Some(false));
    let c = external::parse_control(b"To: None\nTo: a@x.org\n");
    assert!(c.none);
    let s = settings();
    let mb = Mailbox {
        name: "info",
        address: "info@company.com",
        settings: &s,
    };
    let m = b"From: Joe <joe@example.org>\r\nReply-To: desk@example.org\r\nSubject: Q\r\n\r\nx";
    let inc = Incoming {
        message: m,
        return_path: Some("joe@example.org"),
    };
    let env_vars = external::environment(&inc, &mb);
    assert!(env_vars.contains(&("REPLY-TO", "desk@example.org".into())));
    assert!(env_vars.contains(&("ORIGINATOR", "joe@example.org".into())));
    assert!(env_vars.contains(&("MAILBOX", "info".into())));
    assert!(env_vars.contains(&("SUBJECT", "Q".into())));
    let a = external::answer(
        &inc,
        &mb,
        b"To: desk@example.org\nSubject: A\n\nanswer\n",
        b"",
    );
    let r = a.reply.unwrap();
    assert_eq!(r.to, vec!["desk@example.org".to_string()]);
    assert_eq!(r.sender, None);
    assert!(r
        .data
        .starts_with(b"Auto-Submitted: auto-replied\r\nTo: desk@example.org\r\n"));
    assert!(a.keep);
    let a = external::answer(&inc, &mb, b"x", b"To: None\nKeep: 0\n");
    assert!(a.reply.is_none() && !a.keep);
    let a = external::answer(&inc, &mb, b"", b"");
    assert!(a.reply.is_none());
}
