//! Autoresponders end to end on both binaries (issue 15): a vacation reply reaching a
//! remote sender through the relay (Postfix's smtp-sink), once per sender, and the
//! RFC 3834 cases that are never answered.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::server::{ALICE, BOB};
use mailroom_tests::sink::Sink;
use mailroom_tests::{both_binaries, maildir, wait_until, Flavor, TestServer};
use std::fs;
use std::time::Duration;

const DOMAIN: &str = "sender.test";
const WAIT: Duration = Duration::from_secs(60);

const VACATION: &str =
    "<Keep>\n<OnlyOnce>\nAlice is away until Monday.\nYour message was about: {OrigSubject}\n";

/// A server for sender.test whose Out Mail goes to `sink`.
fn server(flavor: Flavor, sink: &Sink) -> TestServer {
    let s = TestServer::setup(flavor);
    s.edit_config(|doc| {
        doc.insert("default_domain".into(), DOMAIN.into());
        doc.insert(
            "local_domains".into(),
            toml::Value::Array(vec![DOMAIN.into()]),
        );
        let mut t = toml::Table::new();
        t.insert("method".into(), "relay".into());
        t.insert(
            "relays".into(),
            toml::Value::Array(vec![sink.addr.to_string().into()]),
        );
        TestServer::set_lan_connection(doc, t);
    });
    s
}

fn set_autoresponder(s: &TestServer, user: &str, text: &str, once: bool) {
    let file = s.data.join(format!("{user}-ar.txt"));
    fs::write(&file, text).unwrap();
    s.cli_ok(&[
        "user",
        "set",
        user,
        "--autoresponder",
        file.to_str().unwrap(),
        "--autoresponder-once",
        if once { "yes" } else { "no" },
    ]);
}

/// `from` (the envelope sender; "" = `<>`) sends `message` to `to`, unauthenticated.
fn send(s: &TestServer, from: &str, to: &str, message: &str) {
    let (mut c, greeting) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO remote.test").unwrap().code, 250);
    let r = c.send_mail(from, to, message.as_bytes()).expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", s.log());
    let _ = c.command("QUIT");
}

fn mail(from: &str, subject: &str, extra: &str, id: &str) -> String {
    format!(
        "From: {from}\r\nTo: someone@{DOMAIN}\r\nSubject: {subject}\r\nMessage-ID: <{id}@remote.test>\r\n{extra}\r\nHello.\r\n"
    )
}

fn queued(s: &TestServer) -> usize {
    fs::read_dir(s.data.join("spool").join("queue"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
                .count()
        })
        .unwrap_or(0)
}

/// Every reply is queued before the SMTP 250 of the message it answers, so once the
/// queue is empty the sink holds every reply there will be.
fn sent_replies(s: &TestServer, sink: &Sink) -> Vec<String> {
    assert!(
        wait_until(WAIT, || queued(s) == 0),
        "still queued\n{}",
        s.log()
    );
    sink.messages()
}

fn vacation_reply_reaches_the_remote_sender_once(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = server(flavor, &sink);
    set_autoresponder(&s, ALICE, VACATION, true);
    s.serve();
    let to = format!("{ALICE}@{DOMAIN}");
    send(
        &s,
        "joe@example.com",
        &to,
        &mail("Joe <joe@example.com>", "Budget", "", "m1"),
    );
    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "no reply reached the relay\n{}", s.log());
    let r = &got[0];
    assert!(r.contains("X-Mail-Args: <>"), "{r}");
    assert!(r.contains("X-Rcpt-Args: <joe@example.com>"), "{r}");
    assert!(r.contains("Auto-Submitted: auto-replied"), "{r}");
    assert!(r.contains("In-Reply-To: <m1@remote.test>"), "{r}");
    assert!(r.contains("References: <m1@remote.test>"), "{r}");
    assert!(r.contains("Subject: Auto: Budget"), "{r}");
    assert!(r.contains(&format!("From: alice@{DOMAIN}")), "{r}");
    assert!(r.contains("Alice is away until Monday."), "{r}");
    assert!(r.contains("Your message was about: Budget"), "{r}");

    // Once per sender: Joe again gets nothing; Ann gets her one reply.
    send(
        &s,
        "joe@example.com",
        &to,
        &mail("joe@example.com", "Again", "", "m2"),
    );
    send(
        &s,
        "ann@example.org",
        &to,
        &mail("ann@example.org", "Hi", "", "m3"),
    );
    let all = sent_replies(&s, &sink);
    assert_eq!(all.len(), 2, "{all:#?}\n{}", s.log());
    assert!(all
        .iter()
        .any(|m| m.contains("X-Rcpt-Args: <ann@example.org>")));
    // <Keep>: every message is in Alice's mailbox.
    assert_eq!(maildir::visible(&s.maildir(ALICE)).len(), 3);
    assert!(s.data.join("state/autoresponder/alice.sent").exists());
    let shown = String::from_utf8_lossy(&s.cli_ok(&["user", "show", ALICE]).stdout).into_owned();
    assert!(
        shown.contains("autoresponder:    on, once per sender: yes, keep: yes"),
        "{shown}"
    );
}

fn rfc3834_cases_are_never_answered(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = server(flavor, &sink);
    // Not once-per-sender: only the built-in rules keep it quiet.
    set_autoresponder(&s, BOB, "Bob is out.\n", false);
    s.serve();
    let to = format!("{BOB}@{DOMAIN}");
    let from = "joe@example.com";
    send(
        &s,
        from,
        &to,
        &mail(from, "a", "Auto-Submitted: auto-replied\r\n", "s1"),
    );
    send(
        &s,
        from,
        &to,
        &mail(from, "b", "Precedence: bulk\r\n", "s2"),
    );
    send(
        &s,
        from,
        &to,
        &mail(from, "c", "List-Id: <staff.example.com>\r\n", "s3"),
    );
    send(&s, "", &to, &mail(from, "d", "", "s4"));
    send(
        &s,
        "MAILER-DAEMON@example.com",
        &to,
        &mail(from, "e", "", "s5"),
    );
    send(&s, from, &to, &mail(from, "f", "", "s6"));
    let all = sent_replies(&s, &sink);
    assert_eq!(all.len(), 1, "{all:#?}\n{}", s.log());
    assert!(all[0].contains("Subject: Auto: f"), "{}", all[0]);
    // Everything was delivered all the same.
    assert!(wait_until(WAIT, || maildir::visible(&s.maildir(BOB)).len() == 6));
}

fn two_local_autoresponders_do_not_loop(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = server(flavor, &sink);
    set_autoresponder(&s, ALICE, "Alice is out.\n", false);
    set_autoresponder(&s, BOB, "Bob is out.\n", false);
    s.serve();
    let alice = format!("{ALICE}@{DOMAIN}");
    let bob = format!("{BOB}@{DOMAIN}");
    // Alice writes to Bob (envelope and From Alice): Bob's autoresponder answers her,
    // hers stays quiet (Auto-Submitted, <>), so each mailbox holds one message.
    send(&s, &alice, &bob, &mail(&alice, "lunch", "", "l1"));
    assert!(wait_until(WAIT, || maildir::visible(&s.maildir(ALICE))
        .len()
        == 1));
    assert_eq!(maildir::visible(&s.maildir(BOB)).len(), 1);
    let (_, reply) = &maildir::visible(&s.maildir(ALICE))[0];
    let reply = String::from_utf8_lossy(reply);
    assert!(reply.contains("Bob is out."), "{reply}");
    assert!(sent_replies(&s, &sink).is_empty());
}

/// The external autoresponder (§4.2.3.2.2): the message on stdin, the environment
/// variables, stdout the reply, stderr the control lines; killed past the limit.
/// (`REPLY-TO` is read from the shell's initial environment: sh itself drops a
/// variable whose name is not a shell name.)
fn external_autoresponder(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = server(flavor, &sink);
    s.add_config("[autoresponder]\nexternal_timeout_secs = 2\n");
    let script = s.data.join("respond.sh");
    fs::write(
        &script,
        "body=$(cat)\n\
         case \"$body\" in *sleep-please*) sleep 30; exit 0;; esac\n\
         echo \"To: bob@sender.test\" >&2\n\
         echo \"Keep: 0\" >&2\n\
         printf 'From: alice@sender.test\\nTo: bob@sender.test\\nSubject: ext %s\\n\\nmailbox=%s originator=%s reply-to=%s control=%s\\n' \
           \"$SUBJECT\" \"$MAILBOX\" \"$ORIGINATOR\" \"$(tr '\\0' '\\n' < /proc/$$/environ | sed -n 's/^REPLY-TO=//p')\" \"$(test -f \"$1\" && echo yes)\"\n",
    )
    .unwrap();
    s.cli_ok(&[
        "user",
        "set",
        ALICE,
        "--autoresponder-command",
        &format!("/bin/sh {}", script.display()),
    ]);
    let file = s.data.join("on.txt");
    fs::write(&file, "unused\n").unwrap();
    s.cli_ok(&[
        "user",
        "set",
        ALICE,
        "--autoresponder",
        file.to_str().unwrap(),
    ]);
    s.serve();
    let to = format!("{ALICE}@{DOMAIN}");
    send(
        &s,
        "joe@example.com",
        &to,
        &mail(
            "Joe <joe@example.com>",
            "Order",
            "Reply-To: desk@example.com\r\n",
            "x1",
        ),
    );
    assert!(
        wait_until(WAIT, || maildir::visible(&s.maildir(BOB)).len() == 1),
        "{}",
        s.log()
    );
    let (_, reply) = &maildir::visible(&s.maildir(BOB))[0];
    let reply = String::from_utf8_lossy(reply);
    assert!(reply.contains("Subject: ext Order"), "{reply}");
    assert!(reply.contains("Auto-Submitted: auto-replied"), "{reply}");
    assert!(
        reply.contains(
            "mailbox=alice originator=joe@example.com reply-to=desk@example.com control=yes"
        ),
        "{reply}"
    );
    // Keep: 0 — the message did not stay with Alice.
    assert!(maildir::visible(&s.maildir(ALICE)).is_empty());

    // A program past the limit is killed; the message is kept, nothing is sent.
    send(
        &s,
        "joe@example.com",
        &to,
        &mail("joe@example.com", "slow", "", "x2").replace("Hello.", "sleep-please"),
    );
    assert_eq!(maildir::visible(&s.maildir(ALICE)).len(), 1, "{}", s.log());
    assert_eq!(maildir::visible(&s.maildir(BOB)).len(), 1);
    assert!(s.log().contains("killed after 2 s"), "{}", s.log());
}

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    vacation_reply_reaches_the_remote_sender_once,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    rfc3834_cases_are_never_answered,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    two_local_autoresponders_do_not_loop,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    external_autoresponder,
);
