//! SMTP rules (SMTPRULES.TXT, §8.2) in the SMTP session: a reject at MAIL, at RCPT
//! and on a header after DATA, the temporary reject of a time-dependent rule,
//! ignore, redirect and copy at each stage, first match wins, and the activation
//! handed to the driver for the log after the reply it caused.

mod smtp_support;

use mailroom_core::smtp::{Route, SmtpEvent};
use mailroom_core::smtprules::{Action, Activation, SmtpRules, Stage};
use smtp_support::*;
use std::sync::Arc;

/// An Internet client (203.0.113.9) of a server with these rules.
fn client(rules: &str) -> Client {
    client_at(rules, 0)
}

fn client_at(rules: &str, local_offset_secs: i32) -> Client {
    let mut snap = (*snapshot_with(config(), vec![])).clone();
    snap.access.smtp_rules = SmtpRules::parse(rules).expect("rules parse");
    let mut i = info("203.0.113.9");
    i.local_offset_secs = local_offset_secs;
    let mut c = Client::new(Arc::new(snap), i);
    c.take();
    c.ehlo();
    c
}

fn activations(c: &Client) -> Vec<&Activation> {
    c.events
        .iter()
        .filter_map(|e| match e {
            SmtpEvent::RuleFired(a) => Some(&**a),
            _ => None,
        })
        .collect()
}

fn recipients(c: &Client) -> Vec<Vec<(String, Route)>> {
    c.deliveries()
        .iter()
        .map(|d| {
            d.envelope
                .recipients
                .iter()
                .map(|r| (r.address.clone(), r.route.clone()))
                .collect()
        })
        .collect()
}

const SPAM: &str =
    "From: Offers <win@inboxexpress.com>\r\nSubject: Make $$$ fast\r\n\r\nbuy\r\n.\r\n";
const HAM: &str = "From: Carol <carol@far.test>\r\nSubject: Lunch\r\n\r\nhi\r\n.\r\n";

/// MAIL, RCPTs and DATA; the replies, one per command and one for the data.
fn transaction(c: &mut Client, from: &str, to: &[&str], message: &str) -> Vec<u16> {
    let mut out = codes(&c.send(format!("MAIL FROM:<{from}>\r\n")));
    if out != [250] {
        return out;
    }
    for t in to {
        out.extend(codes(&c.send(format!("RCPT TO:<{t}>\r\n"))));
    }
    let data = codes(&c.send("DATA\r\n"));
    out.extend(&data);
    if data == [354] {
        out.extend(codes(&c.send(message)));
    }
    out
}

#[test]
fn reject_at_mail_manual_example() {
    // §8.2.5.1 with this server's domain.
    let mut c = client("1*Reject non-local mail\n!MailFrom: *@example.com\n");
    let r = c.send("MAIL FROM:<bob@far.test>\r\n");
    assert_eq!(r, "550 5.7.1 Message rejected by SMTP rules\r\n");
    // The transaction was not opened.
    assert_eq!(codes(&c.send("RCPT TO:<alice@example.com>\r\n")), [503]);
    let a = activations(&c);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].fired.rule, "Reject non-local mail");
    assert_eq!((a[0].fired.line, a[0].fired.stage), (1, Stage::Mail));
    assert_eq!(a[0].reply.as_deref(), Some("550 5.7.1"));
    assert_eq!(a[0].mail_from, "bob@far.test");
    assert_eq!(a[0].client_ip.to_string(), "203.0.113.9");
    // A local sender passes; no activation.
    assert_eq!(
        transaction(&mut c, "Alice@Example.com", &["bob@example.com"], HAM),
        [250, 250, 354, 250]
    );
    assert_eq!(activations(&c).len(), 1);
    assert_eq!(c.deliveries().len(), 1);
}

#[test]
fn reject_at_rcpt_refuses_that_recipient_only() {
    let mut c = client("*No mail for sales\nRcptTo: sales@example.com\n");
    assert_eq!(codes(&c.send("MAIL FROM:<x@far.test>\r\n")), [250]);
    assert_eq!(
        c.send("RCPT TO:<SALES@example.com>\r\n"),
        "550 5.7.1 Message rejected by SMTP rules\r\n"
    );
    assert_eq!(codes(&c.send("RCPT TO:<bob@example.com>\r\n")), [250]);
    assert_eq!(codes(&c.send("DATA\r\n")), [354]);
    assert_eq!(codes(&c.send(HAM)), [250]);
    assert_eq!(
        recipients(&c),
        [vec![(
            "bob@example.com".to_string(),
            Route::Local("bob".into())
        )]]
    );
    let a = activations(&c);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].fired.stage, Stage::Rcpt);
    assert_eq!(a[0].recipients, ["SALES@example.com"]);
}

#[test]
fn reject_on_a_header_after_data() {
    // §8.2.5.3, word for word.
    let rules = "\n3+*Reject Spam\nFrom:*inbox@inboxexpress.com*\nSubject:*$$$*\nSubject:*sex*\n\n";
    let mut c = client(rules);
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 550]
    );
    assert!(c.deliveries().is_empty());
    let a = activations(&c);
    assert_eq!(a[0].fired.stage, Stage::Data);
    assert_eq!(a[0].subject.as_deref(), Some("Make $$$ fast"));
    assert_eq!(a[0].recipients, ["alice@example.com"]);
    // The session goes on; clean mail is stored.
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], HAM),
        [250, 250, 354, 250]
    );
    assert_eq!(c.deliveries().len(), 1);
}

#[test]
fn a_time_dependent_reject_is_temporary() {
    // T0 is 2026-01-01 00:00 UTC, a Thursday (DayNow 5).
    let rules = "*Not at night\nTimeNow: 22:00-6:00\n";
    let mut c = client(rules);
    assert_eq!(
        c.send("MAIL FROM:<x@far.test>\r\n"),
        "451 4.7.1 Message not accepted at this time by SMTP rules, try again later\r\n"
    );
    // Eight hours east it is 08:00 local time.
    let mut c = client_at(rules, 8 * 3600);
    assert_eq!(codes(&c.send("MAIL FROM:<x@far.test>\r\n")), [250]);
    let mut c = client("3*Not on Thursdays\nDayNow: 5\nSubject: *$$$*\n");
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 451]
    );
}

#[test]
fn redirect_at_rcpt_replaces_the_recipient() {
    // §8.2.5.2 (name on one line), any day.
    let mut c = client("2>bob<Redirect mail for sales to Bob\nRcptTo:sales@example.com\n");
    assert_eq!(
        transaction(
            &mut c,
            "x@far.test",
            &["sales@example.com", "alice@example.com"],
            HAM
        ),
        [250, 250, 250, 354, 250]
    );
    assert_eq!(
        recipients(&c),
        [vec![
            ("bob@example.com".to_string(), Route::Local("bob".into())),
            (
                "alice@example.com".to_string(),
                Route::Local("alice".into())
            ),
        ]]
    );
    let a = activations(&c);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].fired.action, Action::Redirect("bob".into()));
    assert_eq!(a[0].recipients, ["sales@example.com"]);
}

#[test]
fn copy_after_data_adds_the_target() {
    let mut c = client("3>+admin<Copy offers to admin\nSubject: *$$$*\n");
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 250]
    );
    assert_eq!(
        recipients(&c),
        [vec![
            (
                "alice@example.com".to_string(),
                Route::Local("alice".into())
            ),
            (
                "admin@example.com".to_string(),
                Route::Local("admin".into())
            ),
        ]]
    );
    // The activation is logged before the message is stored.
    let kinds: Vec<&str> = c
        .events
        .iter()
        .map(|e| match e {
            SmtpEvent::RuleFired(_) => "rule",
            SmtpEvent::Deliver(_) => "deliver",
            SmtpEvent::CheckAuth(_) => "check",
            _ => "other",
        })
        .collect();
    // The mail authentication checks come first, so the rules can see their results.
    assert_eq!(kinds, ["check", "rule", "deliver"]);
}

#[test]
fn redirect_after_data_and_at_mail() {
    let mut c = client("3>admin<Offers to admin\nSubject: *$$$*\n");
    transaction(
        &mut c,
        "x@far.test",
        &["alice@example.com", "bob@example.com"],
        SPAM,
    );
    assert_eq!(
        recipients(&c),
        [vec![(
            "admin@example.com".to_string(),
            Route::Local("admin".into())
        )]]
    );
    let mut c = client(">bob<Everything from far.test to Bob\nMailFrom: *@far.test\n");
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], HAM),
        [250, 250, 354, 250]
    );
    assert_eq!(
        recipients(&c),
        [vec![(
            "bob@example.com".to_string(),
            Route::Local("bob".into())
        )]]
    );
    // Copy at MAIL: the target and every recipient.
    let mut c = client(">+admin<Copy far.test\nMailFrom: *@far.test\n");
    transaction(&mut c, "x@far.test", &["alice@example.com"], HAM);
    let got: Vec<String> = recipients(&c)[0].iter().map(|r| r.0.clone()).collect();
    assert_eq!(got, ["admin@example.com", "alice@example.com"]);
}

#[test]
fn ignore_accepts_and_stores_nothing() {
    let mut c = client("~Black hole\nMailFrom: *@spam.test\n");
    assert_eq!(
        transaction(&mut c, "x@spam.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 250]
    );
    assert!(c.deliveries().is_empty());
    assert_eq!(activations(&c).len(), 1);
    // Ignored at RCPT: DATA is still taken, the other recipient still gets it.
    let mut c = client("~Drop mail for nobody\nRcptTo: nobody@*\n");
    assert_eq!(
        transaction(&mut c, "x@far.test", &["nobody@example.com"], HAM),
        [250, 250, 354, 250]
    );
    assert!(c.deliveries().is_empty());
    transaction(
        &mut c,
        "x@far.test",
        &["nobody@example.com", "bob@example.com"],
        HAM,
    );
    assert_eq!(recipients(&c).len(), 1);
    // After DATA.
    let mut c = client("3~Drop offers\nSubject: *$$$*\n");
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 250]
    );
    assert!(c.deliveries().is_empty());
}

#[test]
fn first_match_wins_and_ends_rule_processing() {
    let rules = "<The boss always\nMailFrom: boss@far.test\n3*Reject offers\nSubject: *$$$*\n";
    let mut c = client(rules);
    assert_eq!(
        transaction(&mut c, "boss@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 250]
    );
    assert_eq!(
        transaction(&mut c, "other@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 550]
    );
    let names: Vec<&str> = activations(&c)
        .iter()
        .map(|a| a.fired.rule.as_str())
        .collect();
    assert_eq!(names, ["The boss always", "Reject offers"]);
    // Accept at RCPT settles that recipient; with every recipient settled the
    // after-DATA rules do not run.
    let rules =
        "<Postmaster gets everything\nRcptTo: postmaster@*\n3*Reject offers\nSubject: *$$$*\n";
    let mut c = client(rules);
    assert_eq!(
        transaction(&mut c, "x@far.test", &["postmaster@example.com"], SPAM),
        [250, 250, 354, 250]
    );
    // Accept does not bypass the normal checks.
    let mut c = client("<Anything\n");
    assert_eq!(codes(&c.send("MAIL FROM:<x@far.test>\r\n")), [250]);
    assert_eq!(codes(&c.send("RCPT TO:<ghost@example.com>\r\n")), [550]);
    assert_eq!(codes(&c.send("RCPT TO:<someone@far.test>\r\n")), [550]);
}

#[test]
fn size_without_size_param_is_checked_after_data() {
    let rules = "*Too big\nSize: 40\n";
    let mut c = client(rules);
    assert_eq!(codes(&c.send("MAIL FROM:<x@far.test> SIZE=100\r\n")), [550]);
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], SPAM),
        [250, 250, 354, 550]
    );
    assert_eq!(
        transaction(&mut c, "x@far.test", &["alice@example.com"], "\r\n.\r\n"),
        [250, 250, 354, 250]
    );
}

#[test]
fn pipelined_commands_are_answered_in_order_around_the_log() {
    let mut c = client("*No sales\nRcptTo: sales@example.com\n");
    let r = c.send(
        "MAIL FROM:<x@far.test>\r\nRCPT TO:<sales@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    assert_eq!(codes(&r), [250, 550, 250, 354]);
    assert_eq!(codes(&c.send(HAM)), [250]);
}

#[test]
fn check_names_redirect_and_copy_targets_that_do_not_exist() {
    use mailroom_core::router::{check_routing, Place};
    let mut snap = (*snapshot_with(config(), vec![])).clone();
    snap.access.smtp_rules = SmtpRules::parse(
        ">bil<Typo\n>+bob<Copy to Bob\n>x@far.test<Out\n\n>+ghost@example.com<Nobody\n",
    )
    .unwrap();
    let problems: Vec<(Place, String)> = check_routing(&snap)
        .into_iter()
        .map(|p| (p.place, p.message))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, Place::SmtpRules { line: 1 });
    assert_eq!(
        problems[0].1,
        "rule \"Typo\" sends to bil: there is no user, list or group named bil"
    );
    assert_eq!(problems[1].0, Place::SmtpRules { line: 5 });
}
