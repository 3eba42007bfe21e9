//! The daily summary report (LOG-2, §15.2.1) through both binaries: mail received and
//! sent by local users is counted from SUMMARY.LOG into the report, which arrives in
//! the main administrator's mailbox (`mailroom summary-report` sends it at once; the
//! daemon does the same after local midnight).
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::maildir;
use mailroom_tests::message::plain;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;

fn daily_report(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    s.serve();

    // From outside to Alice; then Alice, logged in, to Bob.
    let incoming = plain("report-in", 2000);
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO far.test").unwrap().code, 250);
    let r = c
        .send_mail("someone@far.test", "alice@example.com", &incoming)
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.login(ALICE, ALICE_PASSWORD).unwrap().code, 235);
    let out = plain("report-out", 3000);
    let r = c
        .send_mail("alice@example.com", "bob@example.com", &out)
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");

    let run = s.cli(&["summary-report"]);
    assert!(
        run.status.success(),
        "summary-report failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "sent to postmaster@example.com\n"
    );
    let reports: Vec<String> = maildir::visible(&s.maildir("postmaster"))
        .into_iter()
        .map(|(_, m)| String::from_utf8_lossy(&m).into_owned())
        .filter(|m| m.contains("Subject: Daily summary for "))
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    assert!(report.contains("Local Messages\r\n"), "{report}");
    assert!(report.contains("Internet Messages\r\n"), "{report}");
    // Each of Alice and Bob received one message; the sizes are the stored ones
    // (with the Received: line), so only the count is checked here.
    for user in ["alice", "bob"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(user))
            .unwrap_or_else(|| panic!("no row for {user}:\n{report}"));
        let cells: Vec<&str> = row.split(')').collect();
        assert!(cells[1].ends_with("(  1"), "{user}: {row}\n{report}");
    }
    assert!(report.contains("POP3 Client"), "{report}");
    assert!(report.contains("SMTP Client"), "{report}");
    // SUMMARY.LOG was read, not consumed: keep_summaries is off.
    let summary = fs::read_to_string(s.data.join("log").join("SUMMARY.LOG")).unwrap();
    assert!(summary.lines().any(|l| l.contains(" - 0 ")), "{summary}");
}

both_binaries!(daily_report);
