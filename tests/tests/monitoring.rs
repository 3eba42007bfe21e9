//! Monitoring copies (LOG-3, §15.1) through both binaries: incoming mail copied for
//! "all" above the size threshold, internal mail copied for "selected" only when a
//! user with the monitor flag is involved, each copy marked in its subject.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::maildir;
use mailroom_tests::message::plain;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD};
use mailroom_tests::{both_binaries, Flavor, TestServer};

fn subjects(s: &TestServer, user: &str) -> Vec<String> {
    maildir::subjects(&s.maildir(user))
}

fn monitoring_copies(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    s.cli_ok(&["user", "add", "monitor", "--password", "monitor-secret-1"]);
    s.cli_ok(&["user", "set", "bob", "--monitor", "yes"]);
    s.add_config("\n[monitoring]\nincoming = \"all\"\ninternal = \"selected\"\nmin_size_kb = 2\n");
    s.serve();

    // From outside to Alice: one above the threshold (copied), one below (not).
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO far.test").unwrap().code, 250);
    for (tag, size) in [("big-in", 5000), ("small-in", 1000)] {
        let r = c
            .send_mail("someone@far.test", "alice@example.com", &plain(tag, size))
            .unwrap();
        assert_eq!(r.code, 250, "{r:?}");
    }
    let _ = c.command("QUIT");

    // Alice, logged in, to Bob (monitored: copied) and to the postmaster (not).
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.login(ALICE, ALICE_PASSWORD).unwrap().code, 235);
    for (tag, to) in [
        ("to-bob", "bob@example.com"),
        ("to-pm", "postmaster@example.com"),
    ] {
        let r = c
            .send_mail("alice@example.com", to, &plain(tag, 5000))
            .unwrap();
        assert_eq!(r.code, 250, "{r:?}");
    }
    let _ = c.command("QUIT");

    assert_eq!(
        subjects(&s, "monitor"),
        vec![
            "Subject: [Monitored incoming] e2e big-in".to_string(),
            "Subject: [Monitored internal] e2e to-bob".to_string(),
        ],
        "{}",
        s.log()
    );
    // The originals are unchanged.
    assert!(subjects(&s, "bob").contains(&"Subject: e2e to-bob".to_string()));
    let shown = s.cli_ok(&["user", "show", "bob"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("monitored:        yes"),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
}

/// With internal mail copied for "all", the copy (itself internal mail to the
/// monitoring mailbox) is not copied again: one copy per message, no loop.
fn a_copy_is_not_copied(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    s.cli_ok(&["user", "add", "monitor", "--password", "monitor-secret-1"]);
    s.add_config("\n[monitoring]\ninternal = \"all\"\n");
    s.serve();
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.login(ALICE, ALICE_PASSWORD).unwrap().code, 235);
    let r = c
        .send_mail("alice@example.com", "bob@example.com", &plain("once", 3000))
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
    assert_eq!(
        subjects(&s, "monitor"),
        vec!["Subject: [Monitored internal] e2e once".to_string()],
        "{}",
        s.log()
    );
}

both_binaries!(monitoring_copies, a_copy_is_not_copied);
