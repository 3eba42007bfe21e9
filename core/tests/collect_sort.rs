//! Sorting collected mail (§6.3.2.1 – §6.3.2.4, §16.3.1.1, §21.16.3): each routing
//! option with the manual's examples, the "From " line, MAP-5 per In Mail, mail with
//! no recipients, unknown users, and the duplicate key.

mod router_support;

use mailroom_core::collect::sort::{
    duplicate_key, from_line_len, sort, Sorted, Sorting, NO_RECIPIENTS,
};
use mailroom_core::config::{InMail, Snapshot};
use mailroom_core::router::UnknownHandling;
use router_support::{snap, summary};

fn inmail(keys: &str) -> InMail {
    let text = format!(
        "name = \"isp\"\nconnections = [\"dial\"]\nserver = \"pop.isp.test\"\nuser = \"u\"\n\
         password = \"p\"\n{keys}\n"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("inmail: {e}\n{text}"))
}

/// A snapshot (local domains example.com, example.org) with `inmail` configured.
fn with(config: &str, users: &[(&str, &str)], m: &InMail) -> Snapshot {
    let mut s = snap(config, users);
    s.config.inmails.push(m.clone());
    s
}

const USERS: &[(&str, &str)] = &[
    ("postmaster", "admin = true"),
    ("louise", ""),
    ("tim", ""),
    ("joe", ""),
    ("fred", ""),
    ("bob", ""),
];

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

fn plan_summary(sorted: &Sorted) -> String {
    match &sorted.sorting {
        Sorting::Route(p) => summary(p),
        other => format!("{other:?}"),
    }
}

#[test]
fn detected_recipients_are_routed_as_collected_mail() {
    let m = inmail("accepted_domains = [\"bibble-gadgets.com\"]");
    let s = with("", USERS, &m);
    let msg = crlf("Return-Path: <sender@remote.test>\nFrom: Sender <from@remote.test>\nTo: louise@bibble-gadgets.com, other@remote.test\nCc: tim@bibble-gadgets.com\nSubject: hi\n\nbody\n");
    let sorted = sort(&s, &m, &msg);
    assert_eq!(
        sorted.detected,
        vec!["louise@bibble-gadgets.com", "tim@bibble-gadgets.com"]
    );
    assert_eq!(sorted.sender.as_deref(), Some("sender@remote.test"));
    assert_eq!(sorted.strip, 0);
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[louise,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
}

#[test]
fn unknown_local_users_follow_unknown_recipients() {
    let m = inmail("accepted_domains = [\"example.com\"]");
    let msg = crlf("From: a@remote.test\nTo: ghost@example.com, fred@example.com\n\nx\n");
    // Default: the message itself to the Main Administrator.
    let s = with("", USERS, &m);
    assert_eq!(
        plan_summary(&sort(&s, &m, &msg)),
        "mbox=[fred,postmaster] remote=[] bounce=[] notice=[] discard=[]"
    );
    // An error message to bob, and a bounce to the sender (From: when no Return-Path).
    let s = with(
        "[unknown_recipients]\naction = \"error_to\"\nto = \"bob\"\nbounce = true\n",
        USERS,
        &m,
    );
    assert_eq!(
        plan_summary(&sort(&s, &m, &msg)),
        "mbox=[fred] remote=[] bounce=[ghost@example.com] notice=[bob:ghost@example.com] discard=[]"
    );
    // Treat as *REMOTE: collected mail for it is ignored.
    let s = with("[unknown_recipients]\naction = \"remote\"\n", USERS, &m);
    assert_eq!(
        plan_summary(&sort(&s, &m, &msg)),
        "mbox=[fred] remote=[] bounce=[] notice=[] discard=[ghost@example.com]"
    );
}

#[test]
fn accepted_domains_are_routed_though_not_local() {
    // isp.test is not a Local Domain; the In Mail accepts one address there and a
    // mapping names its user.
    let m = inmail("accepted_domains = [\"office@isp.test\", \"other.test\"]");
    let s = with(
        "[[mapping]]\naddress = \"office@isp.test\"\ntarget = \"bob\"\n",
        USERS,
        &m,
    );
    let msg = crlf("To: office@isp.test, tim@other.test, x@isp.test\n\n");
    let sorted = sort(&s, &m, &msg);
    assert_eq!(sorted.detected, vec!["office@isp.test", "tim@other.test"]);
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[bob,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
    // Another In Mail (or SMTP) does not accept other.test: a plain remote address.
    let smtp = router_support::route(&s, "smtp", Some("a@b.test"), &["tim@other.test"]);
    assert_eq!(
        summary(&smtp),
        "mbox=[] remote=[tim@other.test] bounce=[] notice=[] discard=[]"
    );
}

#[test]
fn map5_disable_default_mappings_per_inmail() {
    let keys = "accepted_domains = [\"example.com\", \"example.org\"]\n[detect]\ndisable_default_mappings = true";
    let m = inmail(keys);
    let config = "[[mapping]]\naddress = \"sales@example.org\"\ntarget = \"tim\"\n";
    let s = with(config, USERS, &m);
    let msg = crlf("To: louise@example.com, sales@example.org\n\n");
    let sorted = sort(&s, &m, &msg);
    // louise is a user, but only explicit mappings route this In Mail's mail: she is
    // unknown (message to the Main Administrator).
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[postmaster,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
    let Sorting::Route(plan) = &sorted.sorting else {
        panic!("not routed")
    };
    assert!(plan
        .explain()
        .contains("default user mapping is off for In Mail isp"));
    // The same mail through an In Mail without the option reaches louise.
    let plain = inmail("accepted_domains = [\"example.com\", \"example.org\"]");
    let s = with(config, USERS, &plain);
    assert_eq!(
        plan_summary(&sort(&s, &plain, &msg)),
        "mbox=[louise,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
}

#[test]
fn map5_is_for_that_inmail_only() {
    let m =
        inmail("accepted_domains = [\"example.com\"]\n[detect]\ndisable_default_mappings = true");
    let s = with("", USERS, &m);
    let via = |src: &str| {
        summary(&router_support::route(
            &s,
            src,
            Some("a@b.test"),
            &["louise@example.com"],
        ))
    };
    assert_eq!(
        via("pop3:isp"),
        "mbox=[postmaster] remote=[] bounce=[] notice=[] discard=[]"
    );
    assert_eq!(
        via("pop3:ISP"),
        "mbox=[postmaster] remote=[] bounce=[] notice=[] discard=[]"
    );
    assert_eq!(
        via("pop3:other"),
        "mbox=[louise] remote=[] bounce=[] notice=[] discard=[]"
    );
    assert_eq!(
        via("smtp"),
        "mbox=[louise] remote=[] bounce=[] notice=[] discard=[]"
    );
    // postmaster still reaches the Main Administrator (RFC 5321).
    assert_eq!(
        summary(&router_support::route(
            &s,
            "pop3:isp",
            None,
            &["postmaster@example.com"]
        )),
        "mbox=[postmaster] remote=[] bounce=[] notice=[] discard=[]"
    );
}

#[test]
fn no_recipients_is_an_error_to_the_default_user() {
    let m = inmail("accepted_domains = [\"example.com\"]");
    let msg = crlf("From: a@remote.test\nTo: someone@remote.test\n\n");
    let s = with("", USERS, &m);
    let sorted = sort(&s, &m, &msg);
    assert!(sorted.detected.is_empty());
    assert_eq!(
        sorted.sorting,
        Sorting::Unrouted {
            handling: UnknownHandling::ErrorTo("postmaster".into()),
            reason: NO_RECIPIENTS.into()
        }
    );
    // Empty accepted_domains (§6.3.2's note) gives the same.
    let empty = inmail("");
    let s = with("", USERS, &empty);
    let sorted = sort(&s, &empty, &crlf("To: fred@example.com\n\n"));
    assert!(
        matches!(sorted.sorting, Sorting::Unrouted { ref reason, .. } if reason == NO_RECIPIENTS)
    );
    // The [unknown_recipients] account gets it (always as an error message).
    let s = with(
        "[unknown_recipients]\naction = \"message_to\"\nto = \"bob\"\n",
        USERS,
        &m,
    );
    assert_eq!(
        sort(&s, &m, &msg).sorting,
        Sorting::Unrouted {
            handling: UnknownHandling::ErrorTo("bob".into()),
            reason: NO_RECIPIENTS.into()
        }
    );
    // "Treat as *REMOTE" cannot drop it: the Main Administrator is told.
    let s = with("[unknown_recipients]\naction = \"remote\"\n", USERS, &m);
    assert!(matches!(
        sort(&s, &m, &msg).sorting,
        Sorting::Unrouted { handling: UnknownHandling::ErrorTo(ref a), .. } if a == "postmaster"
    ));
    // Nobody to tell: None (the runtime leaves the mail at the ISP).
    let s = with("", &[("fred", "")], &m);
    assert!(matches!(
        sort(&s, &m, &msg).sorting,
        Sorting::Unrouted {
            handling: UnknownHandling::None,
            ..
        }
    ));
}

#[test]
fn from_line_is_stripped_only_when_not_a_header_field() {
    let m = inmail("accepted_domains = [\"example.com\"]");
    let s = with("", USERS, &m);
    let mbox =
        crlf("From sender@remote.test Tue Jan 13 09:20:03 1998\nTo: fred@example.com\n\nx\n");
    let sorted = sort(&s, &m, &mbox);
    assert_eq!(
        sorted.strip,
        "From sender@remote.test Tue Jan 13 09:20:03 1998\r\n".len()
    );
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]"
    );
    // RFC 5322 fields are never removed, the obsolete `From :` form included.
    assert_eq!(from_line_len(b"From: a@b.test\r\nTo: x\r\n\r\n"), 0);
    assert_eq!(from_line_len(b"From : a@b.test\r\nTo: x\r\n\r\n"), 0);
    assert_eq!(from_line_len(b"From \t: a@b.test\r\n\r\n"), 0);
    assert_eq!(from_line_len(b"Received: x\r\nFrom a b\r\n\r\n"), 0);
    assert_eq!(from_line_len(b"From a@b Mon\n\n"), "From a@b Mon\n".len());
    // Turned off: kept.
    let off = inmail("accepted_domains = [\"example.com\"]\n[detect]\nstrip_from_line = false");
    assert_eq!(sort(&s, &off, &mbox).strip, 0);
}

#[test]
fn routing_user_sends_everything_to_one_user_or_list() {
    let config = "[[list]]\nname = \"office\"\nmembers = [\"louise\", \"tim\"]\n[[mapping]]\naddress = \"office\"\ntarget = \"bob\"\n";
    let m = inmail("routing = \"user\"\ndeliver_to = \"office\"");
    let s = with(config, USERS, &m);
    let sorted = sort(&s, &m, &crlf("To: whoever@anywhere.test\n\n"));
    // The list itself: the mapping of the same name is not consulted.
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[louise,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
    let m = inmail("routing = \"user\"\ndeliver_to = \"nobody\"");
    let s = with(config, USERS, &m);
    assert_eq!(
        plan_summary(&sort(&s, &m, &crlf("To: x@y.test\n\n"))),
        "mbox=[postmaster] remote=[] bounce=[] notice=[] discard=[]"
    );
}

#[test]
fn routing_lan_forwards_to_the_server() {
    let m =
        inmail("routing = \"lan\"\nlan_server = \"10.0.0.5\"\nlan_recipient = \"joe@lan.test\"");
    let s = with("", USERS, &m);
    let sorted = sort(&s, &m, &crlf("From sender@x Mon\nTo: a@b.test\n\n"));
    assert_eq!(
        sorted.sorting,
        Sorting::Lan {
            server: "10.0.0.5:25".into(),
            recipient: "joe@lan.test".into()
        }
    );
    assert!(sorted.strip > 0);
    let m =
        inmail("routing = \"lan\"\nlan_server = \"mx.lan:2525\"\nlan_recipient = \"joe@lan.test\"");
    assert!(matches!(sort(&s, &m, b"To: a@b\r\n\r\n").sorting,
        Sorting::Lan { ref server, .. } if server == "mx.lan:2525"));
}

#[test]
fn routing_single_address_manual_examples() {
    // §6.3.2.3: joe@hotmail.com shared by louise and tim; there is no sarah.
    let m = inmail("routing = \"single_address\"\naccepted_domains = [\"joe@hotmail.com\"]");
    let users: &[(&str, &str)] = &[("postmaster", "admin = true"), ("louise", ""), ("tim", "")];
    let s = with("", users, &m);
    let rows: &[(&str, &str)] = &[
        ("<joe@hotmail.com(louise)>", "louise"),
        ("(tim) <joe@hotmail.com>", "tim"),
        ("(louise) joe@hotmail.com", "louise"),
        ("<joe@hotmail.com> \"tim\"", "tim"),
        ("'louise' <joe@hotmail.com>", "louise"),
        ("tim <joe@hotmail.com>", "tim"),
        ("tim <joe@hotmail.com(sarah)>", "tim"),
        ("\"louise\" <joe@hotmail.com> (tim)", "tim"),
        ("joe@hotmail.com (louise)", "louise"),
    ];
    for (to, want) in rows {
        let sorted = sort(&s, &m, &crlf(&format!("To: {to}\n\n")));
        assert_eq!(
            plan_summary(&sorted),
            format!("mbox=[{want}] remote=[] bounce=[] notice=[] discard=[]"),
            "To: {to}\n{:#?}",
            sorted.trace
        );
    }
    // <joe@hotmail.com> and joe@hotmail.com: joe; with no joe here that is an unknown
    // user, so the Main Administrator gets it for manual processing.
    for to in ["<joe@hotmail.com>", "joe@hotmail.com"] {
        let sorted = sort(&s, &m, &crlf(&format!("To: {to}\n\n")));
        assert_eq!(sorted.detected, vec!["joe@hotmail.com"], "To: {to}");
        assert_eq!(
            plan_summary(&sorted),
            "mbox=[postmaster] remote=[] bounce=[] notice=[] discard=[]",
            "To: {to}"
        );
    }
    // With a joe mailbox, joe gets it.
    let with_joe: &[(&str, &str)] = &[("postmaster", "admin = true"), ("joe", "")];
    let s2 = with("", with_joe, &m);
    assert_eq!(
        plan_summary(&sort(&s2, &m, &crlf("To: <joe@hotmail.com>\n\n"))),
        "mbox=[joe] remote=[] bounce=[] notice=[] discard=[]"
    );
    // Two people in one message, and other addresses ignored.
    let sorted = sort(
        &s,
        &m,
        &crlf("To: tim <joe@hotmail.com>, someone@else.test\nCc: <joe@hotmail.com(louise)>\n\n"),
    );
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[louise,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
    // No accepted address at all: no recipients.
    assert!(matches!(
        sort(&s, &m, &crlf("To: tim <tim@else.test>\n\n")).sorting,
        Sorting::Unrouted { ref reason, .. } if reason == NO_RECIPIENTS
    ));
}

#[test]
fn routing_subject_marker() {
    let users = USERS;
    let m = inmail("routing = \"subject\"");
    let s = with("", users, &m);
    let sorted = sort(&s, &m, &crlf("Subject: Invoice {fred} for March\n\n"));
    assert_eq!(sorted.detected, vec!["fred@example.com"]);
    assert_eq!(
        plan_summary(&sorted),
        "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]"
    );
    let m = inmail("routing = \"subject\"\nsubject_marker = \"(for*)\"");
    assert_eq!(
        plan_summary(&sort(
            &s,
            &m,
            &crlf("Subject: Re: quote (for louise) thanks\n\n")
        )),
        "mbox=[louise] remote=[] bounce=[] notice=[] discard=[]"
    );
    assert_eq!(
        plan_summary(&sort(&s, &m, &crlf("Subject: (FOR tim) and (for bob)\n\n"))),
        "mbox=[bob,tim] remote=[] bounce=[] notice=[] discard=[]"
    );
    // A name that is not a user: unknown-recipient handling names it.
    let m = inmail("routing = \"subject\"");
    let s = with(
        "[unknown_recipients]\naction = \"error_to_admin\"\n",
        users,
        &m,
    );
    assert_eq!(
        plan_summary(&sort(&s, &m, &crlf("Subject: {sarah}\n\n"))),
        "mbox=[] remote=[] bounce=[] notice=[postmaster:sarah@example.com] discard=[]"
    );
    // No marker: §6.3.2.4's "Send Normal Mail to" someone gets the message itself.
    let s = with(
        "[unknown_recipients]\naction = \"message_to\"\nto = \"bob\"\n",
        users,
        &m,
    );
    assert!(matches!(
        sort(&s, &m, &crlf("Subject: no marker here\n\n")).sorting,
        Sorting::Unrouted { handling: UnknownHandling::MessageTo(ref a), .. } if a == "bob"
    ));
    let s = with("", users, &m);
    assert!(matches!(
        sort(&s, &m, &crlf("To: x@y\n\n")).sorting,
        Sorting::Unrouted { handling: UnknownHandling::MessageTo(ref a), .. } if a == "postmaster"
    ));
}

#[test]
fn duplicate_key_compares_the_manual_fields() {
    let a = crlf("From: a@x.test\nDate: Tue, 13 Jan 1998 08:30:44 +0000\nSubject: hi\nMessage-Id: <1@x>\nX-Other: 1\n\nbody one\n");
    let b = crlf("X-Other: 2\nFrom: a@x.test\nDate: Tue, 13 Jan 1998\n 08:30:44 +0000\nSubject: hi\nMessage-Id: <1@x>\n\nbody two\n");
    let r = vec![
        "fred@example.com".to_string(),
        "tim@example.com".to_string(),
    ];
    let ka = duplicate_key(&a, &r).expect("comparable");
    assert_eq!(
        Some(ka.clone()),
        duplicate_key(&b, &r),
        "folding and other fields do not count"
    );
    let mut set = std::collections::HashSet::new();
    assert!(set.insert(ka));
    assert!(!set.insert(duplicate_key(&b, &r).expect("comparable")));
    // Each compared part matters.
    for changed in [
        a.clone().into_iter().map(|c| if c == b'1' { b'2' } else { c }).collect::<Vec<u8>>(),
        crlf("From: a@x.test\nDate: Tue, 13 Jan 1998 08:30:44 +0000\nSubject: hi!\nMessage-Id: <1@x>\n\n"),
        crlf("From: b@x.test\nDate: Tue, 13 Jan 1998 08:30:44 +0000\nSubject: hi\nMessage-Id: <1@x>\n\n"),
        crlf("From: a@x.test\nDate: Wed, 14 Jan 1998 08:30:44 +0000\nSubject: hi\nMessage-Id: <1@x>\n\n"),
    ] {
        assert_ne!(duplicate_key(&changed, &r), duplicate_key(&a, &r));
    }
    assert_ne!(
        duplicate_key(&a, &r[..1]),
        duplicate_key(&a, &r),
        "the recipient list counts"
    );
    // None of the four fields: never a duplicate.
    assert_eq!(duplicate_key(b"X-Only: 1\r\n\r\nbody", &r), None);
    assert_eq!(duplicate_key(b"just text", &[]), None);
    // A leading "From " line is not the From: field.
    assert_eq!(duplicate_key(b"From a@b Mon\r\n\r\nbody", &r), None);
}
