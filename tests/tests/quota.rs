//! Quotas end to end on both binaries (§4.3.3, issue 15): warnings at 80, 100 and
//! 120 % as mails to the user, once per crossing; sending refused above 120 %;
//! incoming mail never refused.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, Smtp};
use mailroom_tests::message::plain;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, DOMAIN};
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};

fn deliver(s: &TestServer, token: &str, size: usize) {
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO remote.test").unwrap().code, 250);
    let r = c
        .send_mail(
            "joe@remote.test",
            &format!("{ALICE}@{DOMAIN}"),
            &plain(token, size),
        )
        .expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", s.log());
    let _ = c.command("QUIT");
}

/// The subjects of the quota warnings in Alice's mailbox, oldest first.
fn warnings(s: &TestServer) -> Vec<String> {
    let mut w: Vec<(std::path::PathBuf, String)> = maildir::visible(&s.maildir(ALICE))
        .into_iter()
        .filter_map(|(p, m)| {
            let text = String::from_utf8_lossy(&m).into_owned();
            let subject = text
                .lines()
                .find(|l| l.starts_with("Subject: Your mailbox is at"))?
                .to_string();
            Some((p, subject))
        })
        .collect();
    w.sort();
    w.into_iter().map(|(_, s)| s).collect()
}

fn warnings_and_the_sending_block(flavor: Flavor) {
    let s = TestServer::setup(flavor);
    s.cli_ok(&["user", "set", ALICE, "--quota", "10000"]);
    let mut s = s;
    s.serve();
    deliver(&s, "q1", 8500);
    assert_eq!(
        warnings(&s),
        vec!["Subject: Your mailbox is at 80% of its quota"],
        "{}\n{:?}",
        s.log(),
        std::fs::read_dir(s.maildir(ALICE).join("new")).map(|r| r.count())
    );
    deliver(&s, "q2", 1000);
    assert_eq!(warnings(&s).len(), 2, "{:?}", warnings(&s));
    assert!(warnings(&s).contains(&"Subject: Your mailbox is at 100% of its quota".to_string()));
    deliver(&s, "q3", 1500);
    assert_eq!(warnings(&s).len(), 3, "{:?}", warnings(&s));
    assert!(warnings(&s).contains(&"Subject: Your mailbox is at 120% of its quota".to_string()));

    // Above 120 %: Alice may not send.
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    let auth = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
    assert_eq!(c.command(&format!("AUTH PLAIN {auth}")).unwrap().code, 235);
    let r = c
        .send_mail(
            &format!("{ALICE}@{DOMAIN}"),
            &format!("bob@{DOMAIN}"),
            &plain("q-out", 500),
        )
        .expect("send");
    assert_eq!(r.code, 554, "{r:?}");
    assert!(r.text.contains("quota"), "{r:?}");
    let _ = c.command("QUIT");
    assert!(maildir::visible(&s.maildir("bob")).is_empty());

    // Mail to her is still delivered, and warns no more (no new crossing).
    deliver(&s, "q4", 500);
    assert_eq!(warnings(&s).len(), 3);
    assert_eq!(maildir::visible(&s.maildir(ALICE)).len(), 7);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["user", "show", ALICE]).stdout).into_owned();
    assert!(shown.contains("quota:            10000 octets"), "{shown}");
}

both_binaries!(warnings_and_the_sending_block);
