use super::*;

const HEADER: &[u8] = b"Received: from relay.isp.net by pop.isp.net; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Received: from mx.example.org by relay.isp.net\r\n\tfor <louise@company.com>; Mon, 1 Jan 2024 09:59:00 +0000\r\n\
From: Bob <bob@spammers.net>\r\n\
To: fred@company.com, Members@AOL.com\r\n\
Subject: Make $$$ fast\r\n\
X-Mailer: Eudora Pro 4.0\r\n\
\r\n";

fn input<'a>(header: &'a [u8], recipients: &'a [String]) -> RuleInput<'a> {
    RuleInput {
        header,
        size: 5000,
        recipients,
        inmail_number: 1,
        weekday: 2,
        minutes: 10 * 60,
    }
}

fn rules(text: &str) -> DlRules {
    match DlRules::parse(text) {
        Ok(r) => r,
        Err(e) => panic!("{text:?} did not parse: {e:?}"),
    }
}

/// The name of the rule that fires for `input`, or "" when none does.
fn fired(text: &str, input: &RuleInput<'_>) -> String {
    rules(text)
        .decide(input)
        .map(|f| f.rule)
        .unwrap_or_default()
}

fn action(kind: Kind, target: Target) -> Action {
    Action { kind, target }
}

#[test]
fn every_action_form_parses() {
    let r = |s: &str| s.to_string();
    let table = [
        (
            "*Delete message",
            action(Kind::Delete, Target::Recipient),
            "Delete message",
        ),
        (
            "@Delete Silently",
            action(Kind::DeleteSilently, Target::Recipient),
            "Delete Silently",
        ),
        ("~Ignore", action(Kind::Ignore, Target::Recipient), "Ignore"),
        (
            "<Download important",
            action(Kind::Download, Target::Recipient),
            "Download important",
        ),
        (
            "%Download and delete",
            action(Kind::DownloadDelete, Target::Recipient),
            "Download and delete",
        ),
        (
            "?Ask about big",
            action(Kind::Ask, Target::Recipient),
            "Ask about big",
        ),
        (
            ">fred?Ask fred",
            action(Kind::Ask, Target::Redirect(r("fred"))),
            "Ask fred",
        ),
        (
            ">fred*Delete and tell fred",
            action(Kind::Delete, Target::Redirect(r("fred"))),
            "Delete and tell fred",
        ),
        (
            ">fred<Redirect",
            action(Kind::Download, Target::Redirect(r("fred"))),
            "Redirect",
        ),
        (
            ">fred%Redirect and delete",
            action(Kind::DownloadDelete, Target::Redirect(r("fred"))),
            "Redirect and delete",
        ),
        (
            ">+fred?Copy ask",
            action(Kind::Ask, Target::Copy(r("fred"))),
            "Copy ask",
        ),
        (
            ">+fred*Copy delete",
            action(Kind::Delete, Target::Copy(r("fred"))),
            "Copy delete",
        ),
        (
            ">+fred<Copy",
            action(Kind::Download, Target::Copy(r("fred"))),
            "Copy",
        ),
        (
            ">+fred%Copy download delete",
            action(Kind::DownloadDelete, Target::Copy(r("fred"))),
            "Copy download delete",
        ),
        // An address as the target, and an OR rule with a copy.
        (
            ">spam@example.com<To the spam box",
            action(Kind::Download, Target::Redirect(r("spam@example.com"))),
            "To the spam box",
        ),
        (
            "+>+boss?Copy ask, OR",
            action(Kind::Ask, Target::Copy(r("boss"))),
            "Copy ask, OR",
        ),
    ];
    let none: Vec<String> = Vec::new();
    for (line, want, name) in table {
        let f = rules(line).decide(&input(HEADER, &none));
        let f = f.unwrap_or_else(|| panic!("{line}: a rule with no conditions must fire"));
        assert_eq!(f.action, want, "{line}");
        assert_eq!(f.rule, name, "{line}");
        assert_eq!(f.line, 1, "{line}");
    }
}

#[test]
fn errors_name_the_line_and_what_to_write() {
    let text = "# junk filter\n\
                From: before any rule\n\
                \n\
                <Fine rule\n\
                Size: lots\n\
                >fred Redirect without an end\n\
                >?No target\n\
                +\n\
                TimeNow: 8-14\n\
                DayNow: 289\n\
                InMail: 0,3-1\n\
                just some words\n\
                Rept:\n\
                TimeNow: 8:00-8:00\n";
    let errors = match DlRules::parse(text) {
        Ok(_) => panic!("must not parse"),
        Err(e) => e,
    };
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert!(errors[0].message.contains("before any rule"));
    assert!(errors[1].message.contains("Size: 1000000"));
    assert!(errors[2].message.contains(">fred<"));
    assert!(errors[5].message.contains("8:00-14:00"));
    assert!(errors[6].message.contains("23456"));
    assert!(errors[7].message.contains("1,3-7,9"));
    assert_eq!(
        errors[0].to_string(),
        format!("line 2: {}", errors[0].message)
    );
}

#[test]
fn comments_blank_lines_and_indentation() {
    let r = rules("# a comment\n\n   # indented comment\n<One\n   From: bob\n\r\n~Two\n");
    assert_eq!(r.len(), 2);
    let none: Vec<String> = Vec::new();
    assert_eq!(fired("# only comments\n\n", &input(HEADER, &none)), "");
    assert!(rules("").is_empty());
}

#[test]
fn and_rules_need_every_condition_or_rules_one() {
    let none: Vec<String> = Vec::new();
    let i = input(HEADER, &none);
    assert_eq!(fired("*And\nFrom: bob\nSubject: $$$\n", &i), "And");
    assert_eq!(fired("*And\nFrom: bob\nSubject: nothing like it\n", &i), "");
    assert_eq!(fired("+*Or\nFrom: nobody\nSubject: $$$\n", &i), "Or");
    assert_eq!(fired("+*Or\nFrom: nobody\nSubject: nothing\n", &i), "");
}

#[test]
fn first_matching_rule_wins_and_no_conditions_always_fire() {
    let none: Vec<String> = Vec::new();
    let i = input(HEADER, &none);
    let text = "<First\nFrom: nobody\n\n*Second\nFrom: bob\n\n~Third\n";
    assert_eq!(fired(text, &i), "Second");
    assert_eq!(fired("~Everything\n", &i), "Everything");
    // Rule names keep their text; the line is the definition line.
    let f = rules(text).decide(&i);
    assert_eq!(f.map(|f| f.line), Some(4));
}

#[test]
fn header_text_matching() {
    let none: Vec<String> = Vec::new();
    let i = input(HEADER, &none);
    let cases = [
        // Substring, any case.
        ("From: BOB@spammers", true),
        ("From: alice", false),
        // Quoted: the whole value.
        ("Subject: \"Make $$$ fast\"", true),
        ("Subject: \"Make $$$\"", false),
        ("Subject: \"make*fast\"", true),
        // Wildcards inside a substring.
        ("X-Mailer: eud?ra", true),
        ("X-Mailer: Eudora*4.0", true),
        ("X-Mailer: Eudora*5.0", false),
        // Presence.
        ("X-Mailer:", true),
        ("X-Spam-Flag:", false),
        ("!X-Spam-Flag:", true),
        ("!X-Mailer:", false),
        // Negation.
        ("!From: bob", false),
        ("!From: alice", true),
        // Any field, including later occurrences and folded values.
        ("Any: Members@aol", true),
        ("Any: nowhere", false),
        ("Received: for <louise@company.com>", true),
        ("Received: for <fred@company.com>", false),
        // The manual's examples.
        ("To: Members@aol.com", true),
        ("Subject: $$$", true),
    ];
    for (cond, want) in cases {
        let text = format!("*R\n{cond}\n");
        assert_eq!(fired(&text, &i) == "R", want, "{cond}");
    }
}

#[test]
fn size_is_greater_than_and_negated_is_at_most() {
    let none: Vec<String> = Vec::new();
    let mut i = input(HEADER, &none);
    let check = |i: &RuleInput<'_>, cond: &str| fired(&format!("%R\n{cond}\n"), i) == "R";
    i.size = 10_000;
    assert!(!check(&i, "Size: 10000"));
    assert!(check(&i, "!Size: 10000"));
    i.size = 10_001;
    assert!(check(&i, "Size: 10000"));
    assert!(!check(&i, "!Size: 10000"));
}

#[test]
fn rept_matches_a_whole_recipient() {
    let rcpts = vec!["fred".to_string(), "sales@company.com".to_string()];
    let i = input(HEADER, &rcpts);
    let check = |cond: &str| fired(&format!("?R\n{cond}\n"), &i) == "R";
    assert!(check("Rept: fred"));
    assert!(check("Rept: FRED"));
    assert!(check("Rept: \"fred\""));
    assert!(check("Rept: sales"));
    assert!(check("Rept: sales@company.com"));
    assert!(check("Rept: s*"));
    assert!(!check("Rept: fre"));
    assert!(!check("Rept: alfred"));
    assert!(check("!Rept: louise"));
    assert!(!check("!Rept: fred"));
}

#[test]
fn time_now_ranges() {
    let none: Vec<String> = Vec::new();
    let at = |minutes: u16, cond: &str| {
        let mut i = input(HEADER, &none);
        i.minutes = minutes;
        fired(&format!("~R\n{cond}\n"), &i) == "R"
    };
    assert!(at(8 * 60, "TimeNow: 8:00-14:00"));
    assert!(at(13 * 60 + 59, "TimeNow: 8:00-14:00"));
    assert!(!at(14 * 60, "TimeNow: 8:00-14:00"));
    assert!(!at(7 * 60 + 59, "TimeNow: 8:00-14:00"));
    assert!(at(14 * 60, "!TimeNow: 8:00-14:00"));
    // Crossing midnight.
    assert!(at(23 * 60, "TimeNow: 22:00-06:00"));
    assert!(at(0, "TimeNow: 22:00-06:00"));
    assert!(at(5 * 60 + 59, "TimeNow: 22:00-6:00"));
    assert!(!at(6 * 60, "TimeNow: 22:00-6:00"));
    assert!(!at(12 * 60, "TimeNow: 22:00-6:00"));
    assert!(at(23 * 60 + 59, "TimeNow: 12:00-24:00"));
}

#[test]
fn day_now_digits() {
    let none: Vec<String> = Vec::new();
    let on = |weekday: u8, cond: &str| {
        let mut i = input(HEADER, &none);
        i.weekday = weekday;
        fired(&format!("~R\n{cond}\n"), &i) == "R"
    };
    for d in 2..=6 {
        assert!(on(d, "DayNow: 23456"), "day {d}");
    }
    assert!(!on(1, "DayNow: 23456"));
    assert!(!on(7, "DayNow: 23456"));
    assert!(on(1, "DayNow: 1,7"));
    assert!(on(7, "!DayNow: 23456"));
}

#[test]
fn in_mail_numbers_and_ranges() {
    let none: Vec<String> = Vec::new();
    let on = |n: usize| {
        let mut i = input(HEADER, &none);
        i.inmail_number = n;
        fired("~R\nInMail: 1,3-7,9\n", &i) == "R"
    };
    let matching: Vec<usize> = (1..=10).filter(|&n| on(n)).collect();
    assert_eq!(matching, vec![1, 3, 4, 5, 6, 7, 9]);
}

/// §8.1.4.1, as printed (indented conditions included).
const JUNK_FILTER: &str = "+@Silently delete spam\n\
\n\
To: Members@aol.com\n\
 From: @inboxexpress.com\n\
 To: user@aol.com\n\
 From: independent@mcmail.com\n\
 To: Friend@public.com\n\
 To: (Dear Friend)\n\
 Subject: $$$\n\
 From: shopnsave@juno.com\n\
To: anybody@yahoo.com\n\
From: @xxx\n\
To: friend@everywhere.com\n";

#[test]
fn manual_junk_filter() {
    let none: Vec<String> = Vec::new();
    let spam = b"From: deals@inboxexpress.com\r\nTo: you@company.com\r\nSubject: hi\r\n\r\n";
    let dear = b"From: x@y.z\r\nTo: (Dear Friend)\r\nSubject: hello\r\n\r\n";
    let ham = b"From: boss@customer.com\r\nTo: fred@company.com\r\nSubject: invoice\r\n\r\n";
    let f = rules(JUNK_FILTER).decide(&input(spam, &none));
    assert_eq!(
        f.map(|f| f.action),
        Some(action(Kind::DeleteSilently, Target::Recipient))
    );
    assert_eq!(
        fired(JUNK_FILTER, &input(dear, &none)),
        "Silently delete spam"
    );
    assert_eq!(fired(JUNK_FILTER, &input(ham, &none)), "");
    // The manual's alternative first lines.
    let ask = JUNK_FILTER.replacen("+@Silently delete spam", "+?Ask about Spam", 1);
    let f = rules(&ask).decide(&input(spam, &none));
    assert_eq!(f.map(|f| f.action.kind), Some(Kind::Ask));
    let redirect = JUNK_FILTER.replacen(
        "+@Silently delete spam",
        "+>spambox<Redirect spam into the 'spambox' mailbox",
        1,
    );
    let f = rules(&redirect).decide(&input(spam, &none));
    assert_eq!(
        f.map(|f| f.action),
        Some(action(Kind::Download, Target::Redirect("spambox".into())))
    );
}

#[test]
fn manual_only_one_persons_mail() {
    let text = "+<Download any email for louise@company.com\n\
                To: louise@company.com\n\
                Cc: louise@company.com\n\
                Apparently-To: louise@company.com\n\
                Received: for <louise@company.com>\n\
                \n\
                ~Ignore Everyone else's email\n";
    let none: Vec<String> = Vec::new();
    let cc = b"From: a@b.c\r\nTo: x@company.com\r\nCc: Louise <louise@company.com>\r\n\r\n";
    let other = b"From: a@b.c\r\nTo: fred@company.com\r\n\r\n";
    let f = rules(text).decide(&input(cc, &none));
    assert_eq!(f.map(|f| f.action.kind), Some(Kind::Download));
    // The Received: line of HEADER names louise in a folded `for` clause.
    assert_eq!(
        fired(text, &input(HEADER, &none)),
        "Download any email for louise@company.com"
    );
    let f = rules(text).decide(&input(other, &none));
    assert_eq!(f.map(|f| (f.action.kind, f.line)), Some((Kind::Ignore, 7)));
}

#[test]
fn manual_single_examples() {
    let none: Vec<String> = Vec::new();
    let i = input(HEADER, &none);
    assert_eq!(
        fired("*Delete message\nFrom: bob@spammers.net\n", &i),
        "Delete message"
    );
    assert_eq!(fired("~Ignore\nSubject: viagra\n", &i), "");
    assert_eq!(
        fired(
            "<Download important messages\nFrom: boss@customer.com\n",
            &i
        ),
        ""
    );
    let mut big = input(HEADER, &none);
    big.size = 2_000_000;
    assert_eq!(
        fired(
            ">fred%Redirect big messages and delete from ISP\nsize: 1000000\n",
            &big
        ),
        "Redirect big messages and delete from ISP"
    );
    assert_eq!(fired(">fred%Big\nsize: 1000000\n", &i), "");
}

#[test]
fn automatic_size_limit_rule() {
    assert_eq!(Fired::size_limit(2000, None, true, true), None);
    assert_eq!(Fired::size_limit(2000, Some(2000), true, true), None);
    let ask = Fired::size_limit(2001, Some(2000), true, false);
    assert_eq!(ask.as_ref().map(|f| f.action.kind), Some(Kind::Ask));
    assert_eq!(ask.map(|f| f.rule), Some(SIZE_LIMIT_RULE.to_string()));
    let ask = Fired::size_limit(2001, Some(2000), false, true);
    assert_eq!(ask.map(|f| f.action.kind), Some(Kind::Ask));
    let stay = Fired::size_limit(2001, Some(2000), false, false);
    assert_eq!(stay.map(|f| f.action.kind), Some(Kind::Ignore));
}

#[test]
fn action_log_form() {
    assert_eq!(action(Kind::Ask, Target::Recipient).to_string(), "ask");
    assert_eq!(
        action(Kind::DownloadDelete, Target::Redirect("fred".into())).to_string(),
        "redirect to fred, download and delete"
    );
    assert_eq!(
        action(Kind::Delete, Target::Copy("boss".into())).to_string(),
        "copy to boss, delete"
    );
}

fn plan(outcomes: Vec<Outcome>) -> Plan {
    use crate::router::{Origin, RecipientPlan};
    let mut mailboxes = Vec::new();
    for o in &outcomes {
        if let Outcome::Deliver { mailboxes: m, .. } = o {
            mailboxes.extend(m.iter().cloned());
        }
    }
    Plan {
        recipients: outcomes
            .into_iter()
            .enumerate()
            .map(|(n, outcome)| RecipientPlan {
                address: format!("r{n}@company.com"),
                origin: Origin::Envelope,
                outcome,
                trace: Vec::new(),
                via_remote: false,
            })
            .collect(),
        mailboxes,
        remote: Vec::new(),
        outbound_sender: None,
        notices: Vec::new(),
        bounces: Vec::new(),
        discards: Vec::new(),
    }
}

#[test]
fn remote_only_plans() {
    let remote = || Outcome::Discard {
        reason: "*REMOTE: collected mail for a remote user is ignored".into(),
    };
    let local = || Outcome::Deliver {
        mailboxes: vec!["sue".into()],
        remote: Vec::new(),
    };
    assert!(remote_only(&plan(vec![remote()])));
    assert!(remote_only(&plan(vec![remote(), remote()])));
    assert!(!remote_only(&plan(vec![remote(), local()])));
    assert!(!remote_only(&plan(Vec::new())));
    assert!(!remote_only(&plan(vec![Outcome::Discard {
        reason: "nothing to deliver to".into()
    }])));
    assert_eq!(Fired::remote_only().action.kind, Kind::Ignore);
}

#[test]
fn log_lines() {
    let f = Fired {
        rule: "Ask \"big\" ones".into(),
        line: 3,
        action: action(Kind::Ask, Target::Redirect("fred".into())),
    };
    let header = b"From: Bob <bob@x.org>\r\nSubject: Big\r\n file\\now\r\n\r\n";
    assert_eq!(
        log_line("2026-11-23T21:20:00+00:00", "isp", &f, header, 2_000_000),
        "2026-11-23T21:20:00+00:00 inmail=\"isp\" rule=\"Ask \\\"big\\\" ones\" \
         action=\"redirect to fred, ask\" from=\"Bob <bob@x.org>\" subject=\"Big file\\\\now\" \
         size=2000000"
    );
    let hostile = b"Subject: a\rb\x07c\r\n\r\n";
    let line = log_line("t", "isp", &f, hostile, 1);
    assert!(!line.contains('\r') && !line.contains('\x07'), "{line}");
    assert!(line.contains("from=\"\""));
}

mod collected {
    use super::*;
    use crate::accounts::{Account, Accounts};
    use crate::collect::sort::sort;
    use crate::config::{parse_config, Snapshot};

    fn snap() -> Snapshot {
        let config = parse_config(
            "hostname = \"h.example.com\"\ndefault_domain = \"company.com\"\n\
             local_domains = [\"company.com\"]\n\
             [[mapping]]\naddress = \"karen\"\ntarget = \"*REMOTE\"\n\
             [[connection]]\nname = \"isp\"\n\
             [[inmail]]\nname = \"isp\"\nconnections = [\"isp\"]\nserver = \"pop.isp.net\"\n\
             user = \"u\"\npassword = \"p\"\naccepted_domains = [\"company.com\"]\n\
             size_limit_kb = 100\ndownload_rules = true\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        Snapshot {
            config,
            accounts: Accounts::new(["sue", "spambox", "boss"].map(|n| Account {
                name: n.into(),
                ..Default::default()
            })),
            access: Default::default(),
        }
    }

    fn run(rules: Option<&str>, header: &[u8], size: u64) -> Option<Fired> {
        let snap = snap();
        let inmail = &snap.config.inmails[0];
        let sorted = sort(&snap, inmail, header);
        let rcpts = rule_recipients(&sorted);
        let parsed = rules.map(super::rules);
        let mut i = input(header, &rcpts);
        i.size = size;
        decide_collected(parsed.as_ref(), inmail, &sorted, &i)
    }

    const FOR_KAREN: &[u8] = b"From: a@b.c\r\nTo: karen@company.com\r\nSubject: s\r\n\r\n";
    const FOR_SUE: &[u8] =
        b"From: a@b.c\r\nTo: sue@company.com, karen@company.com\r\nSubject: s\r\n\r\n";

    #[test]
    fn remote_only_mail_stays_under_download_rules() {
        let f = run(Some("<Download all\n"), FOR_KAREN, 10);
        assert_eq!(f.map(|f| f.rule), Some(REMOTE_ONLY_RULE.to_string()));
        // Also for sue: the rules decide.
        let f = run(Some("<Download all\n"), FOR_SUE, 10);
        assert_eq!(f.map(|f| f.rule), Some("Download all".to_string()));
        // Without download rules the router discards it after download as before.
        assert_eq!(run(None, FOR_KAREN, 10), None);
    }

    #[test]
    fn size_limit_comes_first_and_rept_sees_mapped_names() {
        let f = run(Some("<Download all\n"), FOR_SUE, 200 * 1024);
        assert_eq!(
            f.map(|f| (f.rule, f.action.kind)),
            Some((SIZE_LIMIT_RULE.to_string(), Kind::Ask))
        );
        let f = run(Some("?Ask sue\nRept: sue\n"), FOR_SUE, 10);
        assert_eq!(f.map(|f| f.rule), Some("Ask sue".to_string()));
        let f = run(Some("?Ask karen\nRept: karen\n"), FOR_SUE, 10);
        assert_eq!(f, None, "karen is *REMOTE, not a recipient here");
    }

    fn mailboxes(sorted: &crate::collect::sort::Sorted) -> Vec<String> {
        match &sorted.sorting {
            crate::collect::sort::Sorting::Route(p) => p.mailboxes.clone(),
            other => panic!("not routed: {other:?}"),
        }
    }

    #[test]
    fn redirect_and_copy_change_who_gets_it() {
        let snap = snap();
        let inmail = &snap.config.inmails[0];
        let sorted = || sort(&snap, inmail, FOR_SUE);
        assert_eq!(mailboxes(&sorted()), vec!["sue"]);
        let r = retarget(
            &snap,
            inmail,
            FOR_SUE,
            sorted(),
            &Target::Redirect("spambox".into()),
        );
        assert_eq!(mailboxes(&r), vec!["spambox"]);
        let c = retarget(
            &snap,
            inmail,
            FOR_SUE,
            sorted(),
            &Target::Copy("boss".into()),
        );
        assert_eq!(mailboxes(&c), vec!["sue", "boss"]);
        let c = retarget(
            &snap,
            inmail,
            FOR_SUE,
            sorted(),
            &Target::Copy("SUE@company.com".into()),
        );
        assert_eq!(mailboxes(&c), vec!["sue"], "each mailbox once");
        let same = retarget(&snap, inmail, FOR_SUE, sorted(), &Target::Recipient);
        assert_eq!(same, sorted());
    }
}
