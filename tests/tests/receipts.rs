//! Receipts end to end on both binaries (POP-2, §16.1.2, issue 15): a delivery
//! receipt when the recipient first downloads a message asking for one by
//! `Return-Receipt-To`, and the RFC 3464 "delivered" report for `NOTIFY=SUCCESS` on
//! local delivery.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::pop3::Pop3;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB, DOMAIN};
use mailroom_tests::{both_binaries, maildir, wait_until, Flavor, TestServer};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn bob_mail(s: &TestServer) -> String {
    maildir::visible(&s.maildir(BOB))
        .iter()
        .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
        .collect::<Vec<_>>()
        .join("\n----\n")
}

/// Download Alice's message 1 and leave it on the server.
fn download(pop3: std::net::SocketAddr) {
    let mut p = Pop3::connect(pop3).expect("pop3");
    assert!(p.login(ALICE, ALICE_PASSWORD).unwrap().starts_with("+OK"));
    assert!(p.command("RETR 1").unwrap().starts_with("+OK"));
    p.body_into(&mut std::io::sink()).unwrap();
    assert!(p.command("QUIT").unwrap().starts_with("+OK"));
}

fn receipts(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let (pop3, _) = mailroom_tests::pop3::enable(&s, false);
    s.serve();
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO remote.test").unwrap().code, 250);
    let m = format!(
        "From: Bob <bob@{DOMAIN}>\r\nTo: alice@{DOMAIN}\r\nSubject: Contract\r\nReturn-Receipt-To: bob@{DOMAIN}\r\nMessage-ID: <rr1@{DOMAIN}>\r\n\r\nPlease confirm.\r\n"
    );
    assert_eq!(
        c.command(&format!("MAIL FROM:<bob@{DOMAIN}>"))
            .unwrap()
            .code,
        250
    );
    let r = c
        .command(&format!("RCPT TO:<alice@{DOMAIN}> NOTIFY=SUCCESS,FAILURE"))
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send(format!("{m}.\r\n").as_bytes()).unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    let _ = c.command("QUIT");

    // NOTIFY=SUCCESS: the report is stored for Bob with the delivery.
    assert!(
        wait_until(WAIT, || bob_mail(&s).contains("Action: delivered")),
        "{}\n{}",
        bob_mail(&s),
        s.log()
    );
    let report = bob_mail(&s);
    assert!(
        report.contains(&format!("Final-Recipient: rfc822; alice@{DOMAIN}")),
        "{report}"
    );
    assert!(report.contains("Status: 2.0.0"), "{report}");
    assert!(
        !report.contains("Delivery Receipt"),
        "no download yet: {report}"
    );

    // The first download sends the delivery receipt; a second one does not.
    download(pop3);
    assert!(
        wait_until(WAIT, || bob_mail(&s)
            .contains("Subject: Delivery Receipt: Contract")),
        "{}\n{}",
        bob_mail(&s),
        s.log()
    );
    download(pop3);
    assert_eq!(
        maildir::visible(&s.maildir(BOB)).len(),
        2,
        "{}",
        bob_mail(&s)
    );
}

both_binaries!(receipts);
