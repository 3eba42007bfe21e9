//! POP3 collection end to end (COL-1): the running server, asked with `mailroom connect
//! --wait`, collects a multidrop mailbox from a real Dovecot POP3 server on loopback,
//! sorts every message to the right local Maildirs, and deletes it at the ISP, or
//! leaves it there with `leave_on_server_days` without delivering it twice, through
//! both binaries.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::dovecot::{self, Dovecot, Prepared, ISP_PASSWORD};
use mailroom_tests::maildir;
use mailroom_tests::server::{free_port, ALICE, ALICE_PASSWORD, BOB};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn configure(s: &TestServer, d: &Dovecot, leave_days: u32) {
    s.add_config(&format!(
        "{}\n[inmail.detect]\nspecial_headers = [\"X-Envelope-To\"]\n",
        d.isp_config(true, leave_days)
    ));
}

/// Dovecot holding `files`, and an office server, not serving yet, set up to collect
/// from it.
fn office_collecting(
    flavor: Flavor,
    files: &[(String, Vec<u8>)],
    leave_days: u32,
) -> (Dovecot, TestServer) {
    let d = Dovecot::start_with(files);
    let s = TestServer::setup(flavor);
    configure(&s, &d, leave_days);
    (d, s)
}

fn files_of(prepared: &[Prepared]) -> Vec<(String, Vec<u8>)> {
    prepared.iter().map(|p| p.file()).collect()
}

/// The run's report says it collected `n` messages.
fn assert_done(text: &str, n: usize) {
    assert!(
        text.contains(&format!("In Mail isp-box: done, {n} messages")),
        "{text}"
    );
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
    let (d, mut s) = office_collecting(flavor, &files_of(&prepared), 0);
    s.serve();
    assert_done(&connect(&s, &d), prepared.len());
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
    let (d, mut s) = office_collecting(flavor, &files_of(&prepared), 7);
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
    let (d, mut s) = office_collecting(flavor, &[dovecot::multidrop()[0].file()], 0);
    s.edit_config_text(|text| text.replace(ISP_PASSWORD, "wrong-password"));
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

/// Point `[services] pop3` and `pop3s` of `s` at free loopback ports.
fn serve_pop3(s: &TestServer) -> (SocketAddr, SocketAddr) {
    let pop3 = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let pop3s = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let path = s.config_file();
    let text = fs::read_to_string(&path).expect("config");
    let mut doc: toml::Table = text.parse().expect("TOML");
    let services = doc
        .get_mut("services")
        .and_then(|v| v.as_table_mut())
        .expect("[services]");
    services.insert(
        "pop3".into(),
        toml::Value::Array(vec![pop3.to_string().into()]),
    );
    services.insert(
        "pop3s".into(),
        toml::Value::Array(vec![pop3s.to_string().into()]),
    );
    fs::write(&path, doc.to_string()).expect("config");
    (pop3, pop3s)
}

fn send(isp: &TestServer, subject: &str) {
    let (mut c, _) = Smtp::connect(isp.smtp).expect("SMTP to the ISP");
    c.command("EHLO test.example").expect("EHLO");
    let msg = format!(
        "From: far@partner.example\r\nTo: bob@example.com\r\nSubject: {subject}\r\nMessage-Id: <{subject}@isp.example>\r\n\r\nhello\r\n"
    );
    let r = c
        .send_mail("far@partner.example", "alice@example.com", msg.as_bytes())
        .expect("sending");
    assert_eq!(r.code, 250, "{r:?}");
}

fn collects_over_stls_and_implicit_tls(flavor: Flavor) {
    // Another Mailroom plays the ISP: alice's mailbox there is the office's POP3 box.
    let mut isp = TestServer::setup(flavor);
    let (pop3, pop3s) = serve_pop3(&isp);
    isp.serve();
    let mut office = TestServer::setup(flavor);
    let mut text = String::new();
    for (conn, server, tls) in [("a", pop3, "starttls"), ("b", pop3s, "implicit")] {
        text.push_str(&format!(
            "\n[[connection]]\nname = \"{conn}\"\nlink = \"lan\"\nprimary = false\n\n\
             [[inmail]]\nname = \"box-{conn}\"\nconnections = [\"{conn}\"]\nserver = \"{server}\"\n\
             user = \"{ALICE}\"\npassword = \"{ALICE_PASSWORD}\"\ntls = \"{tls}\"\ntls_verify = false\n\
             accepted_domains = [\"example.com\"]\n"
        ));
    }
    office.add_config(&text);
    office.serve();

    for (conn, subject) in [("a", "over-stls"), ("b", "over-995")] {
        send(&isp, subject);
        eventually(|| maildir::visible(&isp.maildir(ALICE)).len() == 1);
        let out = office.cli(&["connect", conn, "--wait"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&format!("In Mail box-{conn}: done, 1 messages")),
            "{text}\n--- office ---\n{}\n--- isp ---\n{}",
            office.log(),
            isp.log()
        );
        assert!(
            ids(&office, BOB).contains(&format!("<{subject}@isp.example>")),
            "{}",
            office.log()
        );
        eventually(|| maildir::visible(&isp.maildir(ALICE)).is_empty());
    }
    let log = plain(&office.log());
    let done: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("collection done"))
        .collect();
    assert_eq!(done.len(), 2, "{log}");
    assert!(done.iter().all(|l| l.contains("tls=true")), "{log}");
}

/// The log without its colour codes.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "gave up waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn download_rules_delete_leave_and_redirect(flavor: Flavor) {
    let prepared = dovecot::multidrop();
    let (d, mut s) = office_collecting(flavor, &files_of(&prepared), 0);
    s.edit_config_text(|text| {
        text.replace(
            "leave_on_server_days = 0\n",
            "leave_on_server_days = 0\ndownload_rules = true\n",
        )
    });
    fs::write(
        s.data.join("DLRULES.DAT"),
        "@Drop the Cc one\nSubject: multidrop md-cc\n\n~Keep the To one\nSubject: multidrop md-to\n\n>alice<Envelope to alice\nSubject: multidrop md-envelope\n",
    )
    .expect("rules");
    s.serve();
    let text = connect(&s, &d);
    assert!(text.contains("done, 5 messages"), "{text}");
    let id = |name: &str| format!("<{name}@isp.example>");
    let alice = ids(&s, "alice");
    let bob = ids(&s, "bob");
    assert!(!alice.contains(&id("md-to")), "md-to was left: {alice:?}");
    assert!(alice.contains(&id("md-envelope")), "redirected: {alice:?}");
    assert!(!bob.contains(&id("md-envelope")), "{bob:?}");
    assert!(!bob.contains(&id("md-cc")), "deleted unread: {bob:?}");
    assert!(alice.contains(&id("md-received")) && bob.contains(&id("md-fromline")));
    assert_eq!(
        d.message_ids(),
        [id("md-to")],
        "only md-to stays at the ISP"
    );
    let log = fs::read_to_string(s.data.join("log").join("DLRULES.LOG")).unwrap_or_default();
    for rule in ["Drop the Cc one", "Keep the To one", "Envelope to alice"] {
        assert!(log.contains(rule), "{rule} not logged: {log}");
    }
}

fn a_message_over_the_size_limit_stays_and_is_reported_once(flavor: Flavor) {
    let small = dovecot::multidrop()[0].file();
    let big = dovecot::bulk(1, 3000).remove(0);
    let (d, mut s) = office_collecting(flavor, &[small, big], 0);
    s.edit_config_text(|text| {
        text.replace(
            "leave_on_server_days = 0\n",
            "leave_on_server_days = 0\nsize_limit_kb = 1\n",
        )
    });
    s.serve();
    let reports = |s: &TestServer| {
        maildir::visible(&s.maildir("postmaster"))
            .iter()
            .filter(|(_, m)| String::from_utf8_lossy(m).contains("larger than the"))
            .count()
    };
    for run in 0..2 {
        let text = connect(&s, &d);
        let want = if run == 0 {
            "done, 1 messages"
        } else {
            "done, 0 messages"
        };
        assert!(text.contains(want), "run {run}: {text}");
        assert!(text.contains("1 left on the server"), "run {run}: {text}");
        assert_eq!(d.message_ids(), ["<bulk-000000@isp.example>"], "run {run}");
        assert_eq!(reports(&s), 1, "run {run}: reported once\n{}", s.log());
    }
}

/// APOP (§6.3.2 "POP3 Authentication Method") against Dovecot's timestamped greeting:
/// the password never crosses the wire, and Dovecot logs the APOP login.
fn collects_with_apop(flavor: Flavor) {
    let prepared = dovecot::multidrop();
    let (d, mut s) = office_collecting(flavor, &files_of(&prepared), 0);
    s.edit_config_text(|text| {
        text.replacen("tls = \"none\"", "tls = \"none\"\nauth = \"apop\"", 1)
    });
    s.cli_ok(&["check"]);
    s.serve();
    assert_done(&connect(&s, &d), prepared.len());
    assert_eq!(ids(&s, "alice"), expected(&prepared, "alice"));
    let log = d.log();
    assert!(
        log.contains("method=APOP"),
        "Dovecot saw no APOP login:\n{log}"
    );
    assert!(d.message_ids().is_empty(), "left at the ISP");
}

both_binaries!(
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    collects_with_apop,
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    a_message_over_the_size_limit_stays_and_is_reported_once,
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    download_rules_delete_leave_and_redirect,
    collects_over_stls_and_implicit_tls,
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    collects_the_multidrop_mailbox_and_deletes_it,
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    leaves_mail_on_the_server_without_delivering_it_twice,
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    a_refused_login_is_reported_to_the_main_administrator
);
