//! SMTP rules (SMTPRULES.TXT, §8.2) end to end through both binaries (issue 16):
//! a reject at MAIL, at RCPT and on a header after DATA, a redirect and a copy, each
//! written to DIR/log/SMTPRULES.LOG; the file edited while the server runs; a bad
//! line named by `mailroom check` and by the running server, which keeps its last
//! good rules.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{dot_stuff, Reply, Smtp};
use mailroom_tests::server::{ALICE, BOB};
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::fs;
use std::time::{Duration, Instant};

const RULES: &str = "\
# SMTP rules for the end-to-end test
1*Reject a blocked domain
MailFrom: *@blocked.test

2*No mail for sales
RcptTo: sales@example.com

2>bob<Redirect info to Bob
RcptTo: info@example.com

3>+postmaster<Copy offers to the postmaster
Subject: *offer*

3+*Reject Spam
From:*inbox@inboxexpress.com*
Subject:*$$$*
";

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: <someone@far.test>\r\nTo: <someone@example.com>\r\nSubject: {subject}\r\n\
         Message-Id: <{}@far.test>\r\n\r\nbody of {subject}\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

/// One transaction: the MAIL reply, the RCPT replies and the end-of-DATA reply (when
/// a recipient was accepted).
fn send(
    s: &TestServer,
    from: &str,
    to: &[&str],
    subject: &str,
) -> (Reply, Vec<Reply>, Option<Reply>) {
    let (mut c, greeting) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    let mail = c.command(&format!("MAIL FROM:<{from}>")).unwrap();
    if mail.code != 250 {
        let _ = c.command("QUIT");
        return (mail, Vec::new(), None);
    }
    let rcpts: Vec<Reply> = to
        .iter()
        .map(|t| c.command(&format!("RCPT TO:<{t}>")).unwrap())
        .collect();
    let end = if rcpts.iter().any(|r| r.code == 250) {
        assert_eq!(c.command("DATA").unwrap().code, 354);
        c.send(&dot_stuff(&message(subject))).unwrap();
        Some(c.reply().unwrap())
    } else {
        let _ = c.command("RSET");
        None
    };
    let _ = c.command("QUIT");
    (mail, rcpts, end)
}

fn subjects(s: &TestServer, user: &str) -> Vec<String> {
    let mut v: Vec<String> = maildir::visible(&s.maildir(user))
        .iter()
        .map(|(_, data)| {
            String::from_utf8_lossy(data)
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

fn rules_log(s: &TestServer) -> String {
    fs::read_to_string(s.data.join("log").join("SMTPRULES.LOG")).unwrap_or_default()
}

/// Poll until `f` holds (a running server reloads within about two seconds).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rules_at_every_stage(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    // A bad file stops `serve`, naming the line.
    fs::write(s.data.join("SMTPRULES.TXT"), "*Spam\nSubject *$$$*\n").unwrap();
    let out = s.cli(&["serve"]);
    assert!(!out.status.success(), "serve must refuse");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("SMTPRULES.TXT:2:"), "{err}");
    fs::write(s.data.join("SMTPRULES.TXT"), RULES).unwrap();
    let out = s.cli_ok(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("SMTPRULES.TXT: 5 rules"), "{text}");
    s.serve();

    // Reject at MAIL.
    let (mail, _, _) = send(&s, "x@blocked.test", &["alice@example.com"], "blocked");
    assert_eq!(mail.code, 550, "{mail:?}");
    // Reject at RCPT, the other recipient served.
    let (_, rcpts, end) = send(
        &s,
        "x@far.test",
        &["sales@example.com", "alice@example.com"],
        "hello",
    );
    assert_eq!(rcpts[0].code, 550, "{rcpts:?}");
    assert_eq!(rcpts[1].code, 250, "{rcpts:?}");
    assert_eq!(end.unwrap().code, 250);
    // Redirect at RCPT.
    let (_, rcpts, end) = send(&s, "x@far.test", &["info@example.com"], "for info");
    assert_eq!(rcpts[0].code, 250, "{rcpts:?}");
    assert_eq!(end.unwrap().code, 250);
    // Copy after DATA.
    let (_, _, end) = send(&s, "x@far.test", &["alice@example.com"], "special offer");
    assert_eq!(end.unwrap().code, 250);
    // Reject on a header after DATA.
    let (_, _, end) = send(&s, "x@far.test", &["alice@example.com"], "Make $$$ now");
    let end = end.unwrap();
    assert_eq!(end.code, 550, "{end:?}");

    assert_eq!(subjects(&s, ALICE), ["hello", "special offer"]);
    assert_eq!(subjects(&s, BOB), ["for info"]);
    assert_eq!(subjects(&s, "postmaster"), ["special offer"]);

    let log = rules_log(&s);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 5, "{log}");
    assert!(lines[0].contains("stage=MAIL line=2 rule=\"Reject a blocked domain\" action=\"reject\" reply=\"550 5.7.1\" from=\"x@blocked.test\""), "{log}");
    assert!(
        lines[1].contains("stage=RCPT line=5 rule=\"No mail for sales\""),
        "{log}"
    );
    assert!(lines[2].contains("action=\"redirect to bob\""), "{log}");
    assert!(
        lines[3].contains("stage=DATA line=11") && lines[3].contains("subject=\"special offer\""),
        "{log}"
    );
    assert!(
        lines[4].contains("rule=\"Reject Spam\"") && lines[4].contains("client=127.0.0.1"),
        "{log}"
    );
    assert!(s.log().contains("SMTP rule fired"), "{}", s.log());
}

fn rules_edited_while_running_and_a_bad_line(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let file = s.data.join("SMTPRULES.TXT");
    // No file: no rules.
    s.serve();
    let (mail, _, _) = send(&s, "x@far.test", &["alice@example.com"], "before");
    assert_eq!(mail.code, 250);

    // A new file counts without a restart.
    fs::write(&file, "1*Nothing from far.test\nMailFrom: *@far.test\n").unwrap();
    eventually("the new rules", || {
        send(&s, "x@far.test", &["alice@example.com"], "probe")
            .0
            .code
            == 550
    });

    // A redirect to nobody: check names the rule's line.
    let typo = "1*Nothing from far.test\nMailFrom: *@far.test\n>bil<To Bill\nRcptTo: bill@*\n";
    fs::write(&file, typo).unwrap();
    let out = s.cli(&["check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let want = format!(
        "{}:3: rule \"To Bill\" sends to bil: there is no user, list or group named bil",
        file.display()
    );
    assert!(text.contains(&want), "{text}\nwant {want}");

    // A bad line: check names the file and line; the server keeps the good rules.
    let bad = "1*Nothing from far.test\nMailFrom: *@far.test\n1*Spam\nSubject: *$$$*\n";
    fs::write(&file, bad).unwrap();
    let out = s.cli(&["check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let want = format!("{}:4: `Subject:` is known only at stage 3", file.display());
    assert!(text.contains(&want), "{text}\nwant {want}");
    assert!(text.contains("mark it 3 or leave the digit out"), "{text}");
    eventually("the refused reload in the log", || {
        s.log().contains(&format!("{}:4:", file.display()))
    });
    assert_eq!(
        send(&s, "x@far.test", &["alice@example.com"], "still")
            .0
            .code,
        550
    );

    // Corrected: the new version applies.
    fs::write(&file, "3*Spam\nSubject: *$$$*\n").unwrap();
    eventually("the corrected rules", || {
        send(&s, "x@far.test", &["alice@example.com"], "after")
            .0
            .code
            == 250
    });
    let (_, _, end) = send(&s, "x@far.test", &["alice@example.com"], "Make $$$");
    assert_eq!(end.unwrap().code, 550);
    s.cli_ok(&["check"]);
    // Removed: no rules.
    fs::remove_file(&file).unwrap();
    eventually("no rules", || {
        send(&s, "x@far.test", &["alice@example.com"], "$$$ again")
            .2
            .is_some_and(|r| r.code == 250)
    });
}

both_binaries!(
    rules_at_every_stage,
    rules_edited_while_running_and_a_bad_line
);
