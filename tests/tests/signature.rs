//! MAP-6's global signature (§4.3.4) through both binaries: set on the web admin's
//! Local Mail page, added to mail a local user sends to the Internet (seen at the
//! relay), with the authenticated users' tags filled in, not to a local copy, and not
//! for an account that opted out.
#![allow(clippy::disallowed_methods)]

use base64::Engine;
use mailroom_tests::client::Smtp;
use mailroom_tests::maildir::visible;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, POSTMASTER_PASSWORD};
use mailroom_tests::sink::Sink;
use mailroom_tests::web::{csrf_in, Browser};
use mailroom_tests::{both_binaries, wait_until, Flavor, TestServer};
use std::time::Duration;

fn relay(addr: &str) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("method".into(), "relay".into());
    t.insert("relays".into(), toml::Value::Array(vec![addr.into()]));
    t
}

/// Alice, authenticated, sends `subject` to a remote and a local recipient.
fn send(s: &TestServer, subject: &str) {
    let (mut c, _) = Smtp::connect(s.smtp).unwrap();
    c.command("EHLO client.test").unwrap();
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0{ALICE_PASSWORD}"));
    assert_eq!(c.command(&format!("AUTH PLAIN {token}")).unwrap().code, 235);
    for (cmd, want) in [
        ("MAIL FROM:<alice@example.com>", 250),
        ("RCPT TO:<someone@remote.example>", 250),
        ("RCPT TO:<bob@example.com>", 250),
        ("DATA", 354),
    ] {
        assert_eq!(c.command(cmd).unwrap().code, want, "{cmd}");
    }
    let msg = format!(
        "From: Alice <alice@example.com>\r\nTo: someone@remote.example, bob@example.com\r\n\
         Subject: {subject}\r\n\r\nHello from Alice.\r\n.\r\n"
    );
    c.send(msg.as_bytes()).unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    let _ = c.command("QUIT");
}

fn global_signature(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    let sink = Sink::start(&[]);
    s.edit_config(|doc| TestServer::set_lan_connection(doc, relay(&sink.addr.to_string())));
    s.set_account_comment(ALICE, "Alice Liddell");
    s.serve();
    let mut b = Browser::new(http);
    assert_eq!(b.login("postmaster", POSTMASTER_PASSWORD).status, 303);
    let page = b.get("/admin/local-mail");
    assert!(page.body.contains("Global signature"), "{}", page.body);
    let token = csrf_in(&page.body).unwrap();
    let r = b.post(
        "/admin/section",
        &[
            ("section", "signature"),
            ("op", "save"),
            ("text", "Example Ltd, registered in England"),
            (
                "auth_text",
                "Sent by [givenName] [sn] <[mail]>\r\nExample Ltd",
            ),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    s.cli_ok(&["check"]);
    assert!(wait_until(Duration::from_secs(30), || s
        .log()
        .contains("outbound settings reloaded")));
    send(&s, "first");
    let got = sink.wait_for(1, Duration::from_secs(60));
    // smtp-sink writes its dumps with bare LF line ends.
    let sent = got
        .iter()
        .find(|m| m.contains("Subject: first"))
        .expect("sent")
        .replace("\r\n", "\n");
    assert!(
        sent.contains(
            "Hello from Alice.\n\nSent by Alice Liddell <alice@example.com>\nExample Ltd"
        ),
        "{sent}"
    );
    // The local copy is as Alice wrote it.
    assert!(wait_until(Duration::from_secs(30), || !visible(
        &s.maildir("bob")
    )
    .is_empty()));
    let local = String::from_utf8_lossy(&visible(&s.maildir("bob"))[0].1).into_owned();
    assert!(local.contains("Hello from Alice."), "{local}");
    assert!(!local.contains("Sent by"), "{local}");
    // An account that opted out gets none.
    let reloads = |s: &TestServer| s.log().matches("configuration reloaded").count();
    let before = reloads(&s);
    s.cli_ok(&["user", "set", ALICE, "--global-signature", "no"]);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["user", "show", ALICE]).stdout).into_owned();
    assert!(shown.contains("global signature: not added"), "{shown}");
    assert!(wait_until(Duration::from_secs(30), || reloads(&s) > before));
    send(&s, "second");
    let got = sink.wait_for(2, Duration::from_secs(60));
    let sent = got
        .iter()
        .find(|m| m.contains("Subject: second"))
        .expect("sent");
    assert!(
        !sent.contains("Sent by") && !sent.contains("Example Ltd"),
        "{sent}"
    );
}

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    global_signature,
);
