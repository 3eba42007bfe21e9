//! POP3 collection end to end (COL-1): the running server, asked with `mailroom connect
//! --wait`, collects a multidrop mailbox from a real Dovecot POP3 server on loopback,
//! sorts every message to the right local Maildirs, and deletes it at the ISP, or
//! leaves it there with `leave_on_server_days` without delivering it twice, through
//! both binaries.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::dovecot::{self, Dovecot, Prepared, ISP_PASSWORD, ISP_USER};
use mailroom_tests::maildir;
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;

fn configure(s: &TestServer, d: &Dovecot, leave_days: u32) {
    let path = s.config_file();
    let mut text = fs::read_to_string(&path).expect("config");
    text.push_str(&format!(
        r#"
[[connection]]
name = "isp"
link = "lan"

[[inmail]]
name = "isp-box"
connections = ["isp"]
server = "{}"
user = "{ISP_USER}"
password = "{ISP_PASSWORD}"
tls = "none"
accepted_domains = ["example.com"]
leave_on_server_days = {leave_days}

[inmail.detect]
special_headers = ["X-Envelope-To"]
"#,
        d.addr
    ));
    fs::write(&path, text).expect("config");
    s.cli_ok(&["check"]);
}

/// The Message-Ids in a user's Maildir.
fn ids(s: &TestServer, user: &str) -> Vec<String> {
    let mut v: Vec<String> = maildir::visible(&s.maildir(user))
        .iter()
        .filter_map(|(_, data)| dovecot::message_id(data))
        .collect();
    v.sort();
    v
}

fn expected(prepared: &[Prepared], user: &str) -> Vec<String> {
    let mut v: Vec<String> = prepared
        .iter()
        .filter(|p| p.for_users.contains(&user))
        .map(|p| p.message_id.clone())
        .collect();
    v.sort();
    v
}

fn connect(s: &TestServer, d: &Dovecot) -> String {
    let out = s.cli(&["connect", "isp", "--wait"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "connect --wait failed:\n{text}\n{}\n--- server log ---\n{}\n--- dovecot log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log(),
        d.log()
    );
    text
}

fn collects_the_multidrop_mailbox_and_deletes_it(flavor: Flavor) {
    let prepared = dovecot::multidrop();
    let files: Vec<_> = prepared.iter().map(|p| p.file()).collect();
    let Some(d) = Dovecot::start_with(&files) else {
        return;
    };
    let mut s = TestServer::setup(flavor);
    configure(&s, &d, 0);
    s.serve();
    let text = connect(&s, &d);
    let n = prepared.len();
    assert!(
        text.contains(&format!("In Mail isp-box: done, {n} messages")),
        "{text}"
    );
    for user in ["alice", "bob"] {
        assert_eq!(
            ids(&s, user),
            expected(&prepared, user),
            "{user}'s mailbox\n{}",
            s.log()
        );
    }
    // Stored as sent: the leading From line gone, dot-stuffing undone.
    for (_, data) in maildir::visible(&s.maildir("bob")) {
        assert!(!data.starts_with(b"From "), "From line kept");
        let text = String::from_utf8_lossy(&data);
        assert!(
            text.contains("\r\n.a line that starts with a dot\r\n"),
            "{text}"
        );
    }
    assert!(
        d.message_ids().is_empty(),
        "left at the ISP: {:?}",
        d.message_ids()
    );

    // Nothing new: a second run delivers nothing.
    let text = connect(&s, &d);
    assert!(text.contains("In Mail isp-box: done, 0 messages"), "{text}");
    assert_eq!(ids(&s, "alice"), expected(&prepared, "alice"));
}

fn leaves_mail_on_the_server_without_delivering_it_twice(flavor: Flavor) {
    let prepared = dovecot::multidrop();
    let files: Vec<_> = prepared.iter().map(|p| p.file()).collect();
    let Some(d) = Dovecot::start_with(&files) else {
        return;
    };
    let mut s = TestServer::setup(flavor);
    configure(&s, &d, 7);
    s.serve();
    connect(&s, &d);
    assert_eq!(d.message_ids().len(), prepared.len(), "deleted at the ISP");
    assert_eq!(ids(&s, "bob"), expected(&prepared, "bob"));

    // A new message arrives; the second run takes only that one.
    let extra = b"From: x@partner.example\nTo: alice@example.com\nSubject: later\nMessage-Id: <later@isp.example>\n\nlater\n";
    d.put("later", extra);
    let text = connect(&s, &d);
    assert!(text.contains("In Mail isp-box: done, 1 messages"), "{text}");
    let mut want = expected(&prepared, "alice");
    want.push("<later@isp.example>".into());
    want.sort();
    assert_eq!(ids(&s, "alice"), want, "{}", s.log());
    assert_eq!(ids(&s, "bob"), expected(&prepared, "bob"));
    assert_eq!(d.message_ids().len(), prepared.len() + 1);
}

fn a_refused_login_is_reported_to_the_main_administrator(flavor: Flavor) {
    let Some(d) = Dovecot::start_with(&[dovecot::multidrop()[0].file()]) else {
        return;
    };
    let mut s = TestServer::setup(flavor);
    configure(&s, &d, 0);
    let path = s.config_file();
    let text = fs::read_to_string(&path).expect("config");
    fs::write(&path, text.replace(ISP_PASSWORD, "wrong-password")).expect("config");
    s.serve();
    let out = s.cli(&["connect", "isp", "--wait"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("In Mail isp-box: failed"), "{text}");
    assert_eq!(d.message_ids().len(), 1, "the ISP mailbox is untouched");
    let mails: Vec<String> = maildir::visible(&s.maildir("postmaster"))
        .iter()
        .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
        .collect();
    let mail = mails
        .iter()
        .find(|m| m.contains("Subject: Mailroom - POP3 Client Problem"))
        .unwrap_or_else(|| panic!("no error mail: {mails:?}\n{}", s.log()));
    assert!(mail.contains("PASS ********"), "{mail}");
    assert!(!mail.contains("wrong-password"), "{mail}");
}

both_binaries!(
    collects_the_multidrop_mailbox_and_deletes_it,
    leaves_mail_on_the_server_without_delivering_it_twice,
    a_refused_login_is_reported_to_the_main_administrator
);
