//! The router end to end through both binaries (issue 4): mail to a mapping, a list
//! with a remote member (queued), a forwarding that keeps no local copy, an assistant,
//! unknown recipients under each §16.3 setting, `mailroom route`, and bad routing
//! configuration refused by `check`, `serve` and a running server's reload.
#![allow(clippy::disallowed_methods)]

use mail_parser::MimeHeaders;
use mailroom_tests::client::{base64, dot_stuff, Reply, Smtp};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB};
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const OUTSIDER: &str = "outsider@remote.test";

fn message(subject: &str, from: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <someone@example.com>\r\nSubject: {subject}\r\n\
         Message-Id: <{}@remote.test>\r\n\r\nbody of {subject}\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

/// One SMTP transaction; `auth` logs in first. Returns the RCPT replies and the reply
/// to the end of DATA (`None` when no recipient was accepted).
fn send(
    server: &TestServer,
    auth: Option<(&str, &str)>,
    from: &str,
    to: &[&str],
    subject: &str,
) -> (Vec<Reply>, Option<Reply>) {
    let (mut c, greeting) = Smtp::connect(server.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    if let Some((user, pw)) = auth {
        let token = base64(format!("\0{user}\0{pw}").as_bytes());
        let r = c.command(&format!("AUTH PLAIN {token}")).unwrap();
        assert_eq!(r.code, 235, "AUTH as {user}: {r:?}");
    }
    assert_eq!(c.command(&format!("MAIL FROM:<{from}>")).unwrap().code, 250);
    let rcpts: Vec<Reply> = to
        .iter()
        .map(|t| c.command(&format!("RCPT TO:<{t}>")).unwrap())
        .collect();
    let end = if rcpts.iter().any(|r| r.code == 250) {
        assert_eq!(c.command("DATA").unwrap().code, 354);
        c.send(&dot_stuff(&message(subject, from))).unwrap();
        Some(c.reply().unwrap())
    } else {
        let _ = c.command("RSET");
        None
    };
    let _ = c.command("QUIT");
    (rcpts, end)
}

fn send_ok(
    server: &TestServer,
    auth: Option<(&str, &str)>,
    from: &str,
    to: &[&str],
    subject: &str,
) {
    let (rcpts, end) = send(server, auth, from, to, subject);
    for (r, t) in rcpts.iter().zip(to) {
        assert_eq!(r.code, 250, "RCPT {t}: {r:?}\n{}", server.log());
    }
    let end = end.expect("data was sent");
    assert_eq!(end.code, 250, "end of DATA: {end:?}\n{}", server.log());
}

/// The subjects of the messages in `user`'s mailbox.
fn subjects(server: &TestServer, user: &str) -> Vec<String> {
    let mut v: Vec<String> = maildir::visible(&server.maildir(user))
        .iter()
        .map(|(_, data)| subject_of(data))
        .collect();
    v.sort();
    v
}

fn subject_of(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Every queued message: (envelope text, message bytes).
fn queued(server: &TestServer) -> Vec<(String, Vec<u8>)> {
    let dir = server.data.join("spool").join("queue");
    let mut out = Vec::new();
    for p in maildir::files(&dir) {
        if p.extension().is_some_and(|e| e == "env") {
            let env = fs::read_to_string(&p).unwrap();
            let eml = fs::read(p.with_extension("eml")).unwrap();
            out.push((env, eml));
        }
    }
    out
}

fn queued_to(server: &TestServer, address: &str) -> Vec<(String, Vec<u8>)> {
    queued(server)
        .into_iter()
        .filter(|(env, _)| env.contains(&format!("address = \"{address}\"")))
        .collect()
}

fn append_config(server: &TestServer, text: &str) {
    let path = server.config_file();
    let mut config = fs::read_to_string(&path).unwrap();
    config.push_str(text);
    fs::write(&path, config).unwrap();
}

/// Set `[table] key = value` in the configuration (comments are not kept).
fn set_key(server: &TestServer, table: &str, key: &str, value: toml::Value) {
    let path = server.config_file();
    let mut doc: toml::Table = fs::read_to_string(&path).unwrap().parse().unwrap();
    let t = doc
        .entry(table)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    t.as_table_mut().unwrap().insert(key.into(), value);
    fs::write(&path, doc.to_string()).unwrap();
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll until `f` holds (a running server reloads within about two seconds).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const ROUTING: &str = "
[[mapping]]
address = \"sales\"
target = \"alice\"

[[list]]
name = \"team\"
members = [\"alice\", \"carol@elsewhere.test\"]
";

fn mapping_list_forwarding_assistant(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    append_config(&s, ROUTING);
    for u in ["md", "pa", "away"] {
        s.cli_ok(&["user", "add", u, "--password", "routing-pw-1"]);
    }
    s.cli_ok(&["user", "set", "md", "--assistant", "pa"]);
    let shown = stdout(&s.cli_ok(&["user", "set", "away", "--forward", "away@home.test"]));
    assert!(
        shown.contains("forward to:       away@home.test (on: no local copy)"),
        "{shown}"
    );
    s.serve();

    // A mapping.
    send_ok(&s, None, OUTSIDER, &["sales@example.com"], "to sales");
    assert_eq!(subjects(&s, ALICE), ["to sales"]);

    // A list with a remote member: the local member's copy and one queued copy.
    send_ok(&s, None, OUTSIDER, &["team@example.com"], "to team");
    assert_eq!(subjects(&s, ALICE), ["to sales", "to team"]);
    let q = queued_to(&s, "carol@elsewhere.test");
    assert_eq!(q.len(), 1, "{:?}", queued(&s));
    assert_eq!(subject_of(&q[0].1), "to team");
    assert!(
        q[0].0.contains(&format!("sender = \"{OUTSIDER}\"")),
        "{}",
        q[0].0
    );
    let list = stdout(&s.cli_ok(&["queue", "list"]));
    assert!(list.contains("to <carol@elsewhere.test>"), "{list}");

    // Forwarding keeps no local copy.
    send_ok(&s, None, OUTSIDER, &["away@example.com"], "to away");
    assert!(subjects(&s, "away").is_empty());
    let q = queued_to(&s, "away@home.test");
    assert_eq!(q.len(), 1, "{:?}", queued(&s));
    assert_eq!(subject_of(&q[0].1), "to away");

    // The assistant gets a copy...
    send_ok(&s, None, OUTSIDER, &["md@example.com"], "to md");
    assert_eq!(subjects(&s, "md"), ["to md"]);
    assert_eq!(subjects(&s, "pa"), ["to md"]);
    // ...but not of what the assistant sends.
    send_ok(
        &s,
        Some(("pa", "routing-pw-1")),
        "pa@example.com",
        &["md@example.com"],
        "from pa",
    );
    assert_eq!(subjects(&s, "md"), ["from pa", "to md"]);
    assert_eq!(subjects(&s, "pa"), ["to md"]);

    // Several recipients reaching one mailbox store one copy.
    send_ok(
        &s,
        None,
        OUTSIDER,
        &["alice@example.com", "sales@example.com", "team@example.com"],
        "three ways",
    );
    assert_eq!(
        subjects(&s, ALICE)
            .iter()
            .filter(|x| *x == "three ways")
            .count(),
        1
    );
    assert_eq!(queued_to(&s, "carol@elsewhere.test").len(), 2);
}

fn unknown_recipients_by_smtp(flavor: Flavor) {
    // Default: refused at RCPT.
    let mut s = TestServer::setup(flavor);
    s.serve();
    let (rcpts, end) = send(&s, None, OUTSIDER, &["ghost@example.com"], "ghost");
    assert_eq!(rcpts[0].code, 550, "{rcpts:?}");
    assert!(end.is_none());
    drop(s);

    // Accept and bounce: one DSN to the sender, queued; a local sender gets it in
    // the mailbox.
    let mut s = TestServer::setup(flavor);
    set_key(
        &s,
        "smtp",
        "reject_unknown_local",
        toml::Value::Boolean(false),
    );
    fs::write(s.data.join("BOUNCE.MSG"), "Sorry, %1 is not known at %2.\n").unwrap();
    s.serve();
    send_ok(
        &s,
        None,
        OUTSIDER,
        &["ghost@example.com", "bob@example.com"],
        "half known",
    );
    assert_eq!(subjects(&s, BOB), ["half known"]);
    let q = queued_to(&s, OUTSIDER);
    assert_eq!(q.len(), 1, "{:?}", queued(&s));
    let (env, dsn) = &q[0];
    assert!(
        !env.contains("sender ="),
        "a bounce has the null sender: {env}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(dsn)
        .expect("the DSN parses");
    let ct = parsed.content_type().expect("a content type");
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("report"));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let text = String::from_utf8_lossy(dsn);
    assert!(
        text.contains("Sorry, ghost@example.com is not known at example.com."),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; ghost@example.com"),
        "{text}"
    );
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(
        text.contains("From: Mail Delivery System <Mailer_Daemon@example.com>"),
        "{text}"
    );
    assert!(
        text.contains("Subject: half known"),
        "the original is attached: {text}"
    );

    send_ok(
        &s,
        Some((ALICE, ALICE_PASSWORD)),
        "alice@example.com",
        &["nobody@example.com"],
        "from alice",
    );
    let got = subjects(&s, ALICE);
    assert_eq!(
        got,
        ["Undelivered Mail Returned to Sender: from alice"],
        "{}",
        s.log()
    );
    drop(s);

    // Treat unknown users as *REMOTE: local users' mail goes out, strangers may not relay.
    let mut s = TestServer::setup(flavor);
    append_config(&s, "\n[unknown_recipients]\naction = \"remote\"\n");
    s.serve();
    let (rcpts, _) = send(&s, None, OUTSIDER, &["karen@example.com"], "stranger");
    assert_eq!(rcpts[0].code, 550, "{rcpts:?}");
    assert!(rcpts[0].text.contains("Relaying denied"), "{rcpts:?}");
    send_ok(
        &s,
        Some((ALICE, ALICE_PASSWORD)),
        "alice@example.com",
        &["karen@example.com"],
        "to the other office",
    );
    assert_eq!(queued_to(&s, "karen@example.com").len(), 1);
}

/// §16.3 for collected mail, through `mailroom deliver --source pop3:isp`.
fn unknown_recipients_in_collected_mail(flavor: Flavor) {
    let s = TestServer::setup(flavor);
    let base = fs::read_to_string(s.config_file()).unwrap();
    let msg = message("collected", OUTSIDER);
    let deliver = |extra: &str| {
        fs::write(s.config_file(), format!("{base}\n{extra}")).unwrap();
        let mut cmd = s.flavor.command();
        cmd.args(["deliver", "--source", "pop3:isp", "--from", OUTSIDER])
            .args(["ghost@example.com", "--data"])
            .arg(&s.data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&msg).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "deliver with {extra:?}: {}{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    let count = |user: &str| maildir::visible(&s.maildir(user)).len();

    // Default: the message itself to the Main Administrator (postmaster).
    let out = deliver("");
    assert!(out.contains("deliver to mailbox postmaster"), "{out}");
    assert_eq!(subjects(&s, "postmaster"), ["collected"]);

    deliver("[unknown_recipients]\naction = \"error_to_admin\"\n");
    assert_eq!(
        subjects(&s, "postmaster"),
        ["Unrecognised recipient: ghost@example.com", "collected"]
    );
    let notice = maildir::visible(&s.maildir("postmaster"))
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| subject_of(d).starts_with("Unrecognised"))
        .unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&notice)
        .unwrap();
    assert_eq!(parsed.content_type().unwrap().subtype(), Some("mixed"));
    assert!(String::from_utf8_lossy(&notice).contains("Content-Type: message/rfc822"));
    assert!(String::from_utf8_lossy(&notice).contains("In Mail \"isp\""));

    deliver("[unknown_recipients]\naction = \"message_to\"\nto = \"bob\"\n");
    assert_eq!(subjects(&s, BOB), ["collected"]);
    deliver("[unknown_recipients]\naction = \"error_to\"\nto = \"bob\"\n");
    assert_eq!(
        subjects(&s, BOB),
        ["Unrecognised recipient: ghost@example.com", "collected"]
    );

    let before = (count("postmaster"), count(BOB), queued(&s).len());
    let out = deliver("[unknown_recipients]\naction = \"remote\"\n");
    assert!(out.contains("discard"), "{out}");
    assert_eq!((count("postmaster"), count(BOB), queued(&s).len()), before);

    assert!(queued_to(&s, OUTSIDER).is_empty());
    deliver("[unknown_recipients]\naction = \"message_to_admin\"\nbounce = true\n");
    assert_eq!(count("postmaster"), before.0 + 1);
    let bounces = queued_to(&s, OUTSIDER);
    assert_eq!(bounces.len(), 1);
    let text = String::from_utf8_lossy(&bounces[0].1);
    assert!(
        text.contains("Recipient: \"ghost@example.com\" is unrecognised."),
        "the default BOUNCE.MSG text: {text}"
    );
    assert!(text.contains("\"postmaster@example.com\""), "{text}");
}

fn route_command_and_bad_configuration(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    append_config(&s, ROUTING);
    let out = stdout(&s.cli_ok(&["route", "team@example.com"]));
    assert!(out.contains("  list team\n"), "{out}");
    assert!(out.contains("queued for carol@elsewhere.test"), "{out}");
    assert!(
        out.contains("Plan: deliver to mailbox alice; queue for carol@elsewhere.test"),
        "{out}"
    );
    let json = stdout(&s.cli_ok(&["route", "ghost", "--source", "pop3:isp", "--json"]));
    assert!(
        json.contains("\"address\": \"ghost@example.com\""),
        "{json}"
    );
    assert!(json.contains("\"outcome\": \"unknown\""), "{json}");
    assert!(json.contains("\"kind\": \"message_to\""), "{json}");
    let out = stdout(&s.cli_ok(&["route", "ghost@example.com"]));
    assert!(out.contains("refused at RCPT: 550 5.1.1"), "{out}");

    // A mapping to a user that does not exist: check names the line, serve refuses.
    let good = fs::read_to_string(s.config_file()).unwrap();
    let bad = good.replace("target = \"alice\"", "target = \"alise\"");
    let line = bad
        .lines()
        .position(|l| l == "[[mapping]]")
        .map(|i| i + 1)
        .unwrap();
    fs::write(s.config_file(), &bad).unwrap();
    let out = s.cli(&["check"]);
    assert!(!out.status.success());
    let text = stdout(&out);
    let want = format!(
        "{}:{line}: [[mapping]] sales -> alise: there is no user, list or group named alise",
        s.config_file().display()
    );
    assert!(text.contains(&want), "{text}\nwant {want}");
    let out = s.cli(&["serve"]);
    assert!(!out.status.success(), "serve must refuse");
    assert!(String::from_utf8_lossy(&out.stderr).contains("alise"));

    // An assistant that is a list is refused by `user set` and by `check`.
    let out = s.cli(&["user", "set", BOB, "--assistant", "team"]);
    assert!(!out.status.success());

    // Running: a bad edit keeps the last good configuration; a good one applies.
    fs::write(s.config_file(), &good).unwrap();
    s.serve();
    fs::write(s.config_file(), &bad).unwrap();
    eventually("the reload to be refused", || s.log().contains("alise"));
    send_ok(&s, None, OUTSIDER, &["sales@example.com"], "still alice");
    assert_eq!(subjects(&s, ALICE), ["still alice"]);
    fs::write(s.config_file(), &good).unwrap();
    let csv = s.data.with_file_name("mappings.csv");
    fs::write(&csv, "\"info@example.com\",\"bob\"\r\n").unwrap();
    s.cli_ok(&["mapping", "import", csv.to_str().unwrap()]);
    let exported = stdout(&s.cli_ok(&["mapping", "export"]));
    assert_eq!(
        exported,
        "\"sales\",\"alice\"\r\n\"info@example.com\",\"bob\"\r\n"
    );
    eventually("the imported mapping", || {
        let (rcpts, _) = send(&s, None, OUTSIDER, &["info@example.com"], "probe");
        rcpts[0].code == 250
    });
    eventually("the probe to arrive", || !subjects(&s, BOB).is_empty());
    assert!(subjects(&s, BOB).iter().all(|x| x == "probe"));
}

fn forwarding_import(flavor: Flavor) {
    let s = TestServer::setup(flavor);
    let file = s.data.with_file_name("forwardings.txt");
    fs::write(
        &file,
        "#Users at office 1\nalice alice@cybercamels.co.uk\nsue sue@cybercamels.co.uk\n\
         #Users at office 2\nphilip cybercamels2@isp.co.uk\nkaren cybercamels2@isp.co.uk\n",
    )
    .unwrap();
    let out = stdout(&s.cli_ok(&[
        "list",
        "import-forwardings",
        file.to_str().unwrap(),
        "--ignore-target",
        "cybercamels.co.uk",
    ]));
    assert!(out.contains("imported 2 forwardings"), "{out}");
    let out = stdout(&s.cli_ok(&["route", "philip@example.com"]));
    assert!(out.contains("queue for cybercamels2@isp.co.uk"), "{out}");
    let out = stdout(&s.cli_ok(&["route", "sue@example.com"]));
    assert!(!out.contains("cybercamels"), "sue was not imported: {out}");
    // Importing again at the other office removes forwardings to its own account.
    let out = stdout(&s.cli_ok(&[
        "list",
        "import-forwardings",
        file.to_str().unwrap(),
        "--ignore-target",
        "cybercamels2@isp.co.uk",
        "--remove-ignored",
    ]));
    assert!(out.contains("removed philip"), "{out}");
    assert!(
        out.contains("skipped alice: a user of that name exists"),
        "{out}"
    );
    let shown = stdout(&s.cli_ok(&["list", "show"]));
    assert!(
        shown.contains("sue (forwarding): sue@cybercamels.co.uk"),
        "{shown}"
    );
    assert!(!shown.contains("philip"), "{shown}");
    assert!(Path::new(&s.config_file()).exists());
    s.cli_ok(&["check"]);
}

/// USR-2 permissions: sending and receiving Internet mail, allowed protocols.
fn permissions(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    s.cli_ok(&[
        "user",
        "set",
        BOB,
        "--send-internet",
        "no",
        "--receive-internet",
        "no",
    ]);
    s.cli_ok(&["user", "set", ALICE, "--protocols", "pop3"]);
    s.serve();
    // Bob may write to colleagues but not to the Internet...
    let (rcpts, _) = send(
        &s,
        Some((BOB, mailroom_tests::server::BOB_PASSWORD)),
        "bob@example.com",
        &["someone@remote.test", "postmaster@example.com"],
        "from bob",
    );
    assert_eq!(rcpts[0].code, 550, "{rcpts:?}");
    assert!(
        rcpts[0].text.contains("may not send Internet mail"),
        "{rcpts:?}"
    );
    assert_eq!(rcpts[1].code, 250, "{rcpts:?}");
    assert_eq!(subjects(&s, "postmaster"), ["from bob"]);
    // ...and mail from outside does not reach him, though a colleague's does.
    let (rcpts, _) = send(&s, None, OUTSIDER, &["bob@example.com"], "to bob");
    assert_eq!(rcpts[0].code, 550, "{rcpts:?}");
    let (rcpts, _) = send(&s, None, OUTSIDER, &["postmaster@example.com"], "probe");
    assert_eq!(rcpts[0].code, 250);
    // Alice may use POP3 only: her right password does not open SMTP.
    let (mut c, _) = Smtp::connect(s.smtp).unwrap();
    c.command("EHLO client.test").unwrap();
    let token = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
    let r = c.command(&format!("AUTH PLAIN {token}")).unwrap();
    assert_eq!(r.code, 535, "{r:?}");
}

both_binaries!(
    permissions,
    mapping_list_forwarding_assistant,
    unknown_recipients_by_smtp,
    unknown_recipients_in_collected_mail,
    route_command_and_bad_configuration,
    forwarding_import,
);
