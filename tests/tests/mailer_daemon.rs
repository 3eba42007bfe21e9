//! Mailer_Daemon control messages end to end on both binaries (§17, issue 15): a
//! `Set Forwarding` command changes a user's forwarding; a wrong password changes
//! nothing; `Status` is answered. Mailer_Daemon takes mail from logged-in local users
//! only (the SMTP RCPT rule of the download-query answers, §8.1.1).
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, Smtp};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, DOMAIN};
use mailroom_tests::{both_binaries, maildir, wait_until, Flavor, TestServer};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// `login` (user, password) sends a control message as `from`.
fn send(s: &TestServer, login: (&str, &str), from: &str, subject: &str, body: &str) {
    let (mut c, greeting) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO remote.test").unwrap().code, 250);
    let auth = base64(format!("\0{}\0{}", login.0, login.1).as_bytes());
    assert_eq!(c.command(&format!("AUTH PLAIN {auth}")).unwrap().code, 235);
    let m = format!(
        "From: {from}\r\nTo: Mailer_Daemon@{DOMAIN}\r\nSubject: {subject}\r\nMessage-ID: <c{}@remote.test>\r\n\r\n{body}",
        subject.len()
    );
    let r = c
        .send_mail(from, &format!("Mailer_Daemon@{DOMAIN}"), m.as_bytes())
        .expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", s.log());
    let _ = c.command("QUIT");
}

fn show(s: &TestServer, user: &str) -> String {
    String::from_utf8_lossy(&s.cli_ok(&["user", "show", user]).stdout).into_owned()
}

fn mailbox_text(s: &TestServer, user: &str) -> String {
    maildir::visible(&s.maildir(user))
        .iter()
        .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
        .collect::<Vec<_>>()
        .join("\n----\n")
}

fn set_forwarding_by_mail(flavor: Flavor) {
    let s = TestServer::start(flavor);
    let alice = format!("{ALICE}@{DOMAIN}");
    // A wrong password: refused, answered, nothing changed.
    send(
        &s,
        (ALICE, ALICE_PASSWORD),
        &alice,
        "Set Forwarding",
        "USERNAME alice\r\nPASSWORD not-it\r\nFORWARD TO bob\r\n",
    );
    assert!(
        wait_until(WAIT, || mailbox_text(&s, ALICE)
            .contains("password is wrong")),
        "{}\n{}",
        mailbox_text(&s, ALICE),
        s.log()
    );
    assert!(
        show(&s, ALICE).contains("forward to:       - (off)"),
        "{}",
        show(&s, ALICE)
    );

    send(
        &s,
        (ALICE, ALICE_PASSWORD),
        &alice,
        "Set Forwarding",
        &format!("USERNAME alice\r\nPASSWORD {ALICE_PASSWORD}\r\nFORWARD TO bob\r\n"),
    );
    assert!(
        wait_until(WAIT, || show(&s, ALICE)
            .contains("forward to:       bob (on: no local copy)")),
        "{}\n{}",
        show(&s, ALICE),
        s.log()
    );
    // The answer went to Alice's return path (stored for her, or by now forwarded to Bob).
    let answered = || {
        (mailbox_text(&s, ALICE) + &mailbox_text(&s, "bob"))
            .contains("The forwarding settings were changed.")
    };
    assert!(wait_until(WAIT, answered), "{}", s.log());

    // Status: answered from Mailer_Daemon to anyone (here Bob, a local user).
    send(
        &s,
        (BOB, BOB_PASSWORD),
        &format!("bob@{DOMAIN}"),
        "Status",
        "",
    );
    assert!(
        wait_until(WAIT, || mailbox_text(&s, "bob")
            .contains("messages waiting to be sent")),
        "{}",
        s.log()
    );
    let text = mailbox_text(&s, "bob");
    assert!(
        text.contains(&format!("From: Mailer_Daemon <Mailer_Daemon@{DOMAIN}>")),
        "{text}"
    );
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    // §17.10's connection lines: no connection yet, and the test server's schedule.
    assert!(
        text.contains("There has been no connection to the Internet since the server started"),
        "{text}"
    );
    assert!(
        text.contains("The next connection is currently scheduled for ")
            || text.contains("No connection is scheduled"),
        "{text}"
    );
}

both_binaries!(set_forwarding_by_mail);
