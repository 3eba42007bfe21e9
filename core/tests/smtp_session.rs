//! SMTP session: greeting, EHLO, command sequencing, recipient and relay policy,
//! limits, timeouts. Each test checks the exact replies a client sees.

mod smtp_support;

use mailroom_core::config::{AntiRelay, PlaintextAuth};
use mailroom_core::smtp::{Route, SmtpEvent};
use mailroom_core::{Input, Instant, Machine};
use smtp_support::*;
use std::time::Duration;

#[test]
fn greeting_and_ehlo_advertisement() {
    let mut c = Client::lan();
    assert_eq!(c.take(), "220 mail.example.com ESMTP Mailroom\r\n");
    let r = c.send("EHLO client.example.net\r\n");
    assert_eq!(
        r,
        "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n\
         250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
    );
    assert_eq!(
        c.send("HELO client.example.net\r\n"),
        "250 mail.example.com\r\n"
    );
}

#[test]
fn ehlo_options_follow_config_and_connection() {
    // Internet client, plaintext, AUTH only on the LAN by default: no AUTH; STARTTLS
    // offered because a certificate exists; no DSN; no size limit.
    let mut cfg = config();
    cfg.smtp.dsn = false;
    cfg.smtp.max_message_size = 0;
    let mut i = info("203.0.113.9");
    i.tls_available = true;
    let mut c = Client::new(snapshot_with(cfg.clone(), vec![]), i.clone());
    let r = c.send("EHLO x\r\n");
    assert!(r.contains("250-SIZE\r\n"), "{r}");
    assert!(r.contains("250-STARTTLS\r\n"), "{r}");
    assert!(!r.contains("DSN"), "{r}");
    assert!(!r.contains("AUTH"), "{r}");
    // Implicit TLS: AUTH yes, STARTTLS no.
    i.tls_active = true;
    let mut c = Client::new(snapshot_with(cfg.clone(), vec![]), i.clone());
    let r = c.send("EHLO x\r\n");
    assert!(
        r.contains("250-AUTH PLAIN LOGIN\r\n") && !r.contains("STARTTLS"),
        "{r}"
    );
    // plaintext_auth = always: AUTH even from the Internet without TLS.
    cfg.smtp.plaintext_auth = PlaintextAuth::Always;
    let mut c = Client::new(snapshot_with(cfg.clone(), vec![]), info("203.0.113.9"));
    assert!(c.send("EHLO x\r\n").contains("AUTH PLAIN LOGIN"));
    // never: not even on the LAN.
    cfg.smtp.plaintext_auth = PlaintextAuth::Never;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("127.0.0.1"));
    assert!(!c.send("EHLO x\r\n").contains("AUTH"));
    assert_eq!(codes(&c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")), [503]);
}

#[test]
fn simple_transaction_delivers_local_mail() {
    let mut c = Client::wan();
    c.ehlo();
    assert_eq!(
        c.send("MAIL FROM:<someone@elsewhere.example>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        c.send("RCPT TO:<Bob@EXAMPLE.com>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    assert_eq!(
        c.send("DATA\r\n"),
        "354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    assert_eq!(
        c.send("Subject: hi\r\n\r\nHello\r\n.\r\n"),
        "250 2.0.0 Ok: queued as s1.1\r\n"
    );
    let d = c.deliveries();
    assert_eq!(d.len(), 1);
    let d = d[0];
    assert_eq!(d.id, "s1.1");
    assert_eq!(
        d.envelope.mail_from.as_deref(),
        Some("someone@elsewhere.example")
    );
    assert_eq!(d.envelope.recipients.len(), 1);
    assert_eq!(d.envelope.recipients[0].address, "Bob@EXAMPLE.com");
    assert_eq!(d.envelope.recipients[0].route, Route::Local("bob".into()));
    assert_eq!(d.envelope.helo, "client.example.net");
    assert_eq!(d.envelope.client_ip.to_string(), "203.0.113.9");
    assert_eq!(d.envelope.auth_user, None);
    assert!(!d.envelope.eight_bit);
    let text = String::from_utf8(d.data.clone()).unwrap();
    assert_eq!(
        text,
        "Received: from client.example.net ([203.0.113.9])\r\n\
         \tby mail.example.com (mailroom) with ESMTP id s1.1 for <Bob@EXAMPLE.com>;\r\n\
         \tThu, 1 Jan 2026 00:00:00 +0000\r\n\
         Subject: hi\r\n\r\nHello\r\n"
    );
    assert_eq!(
        c.send("QUIT\r\n"),
        "221 2.0.0 mail.example.com closing connection\r\n"
    );
    assert!(c.closed);
}

#[test]
fn second_message_gets_next_id_and_received_varies() {
    let mut cfg = config();
    cfg.smtp.hide_ip_addresses = true;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.send("HELO pc1\r\n");
    c.send("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
    c.send("one\r\n.\r\n");
    c.send("MAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\ntwo\r\n.\r\n");
    let d = c.deliveries();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].id, "s1.1");
    assert_eq!(d[1].id, "s1.2");
    let first = String::from_utf8(d[0].data.clone()).unwrap();
    // HELO → "SMTP"; two recipients → no "for"; hidden IP.
    assert!(
        first.starts_with(
            "Received: from pc1 by mail.example.com (mailroom) with SMTP id s1.1;\r\n\t"
        ),
        "{first}"
    );
    assert!(!first.contains("192.168"));
    assert_eq!(d[1].envelope.mail_from, None);
}

#[test]
fn out_of_sequence_is_503() {
    let mut c = Client::lan();
    c.take();
    assert_eq!(
        c.send("MAIL FROM:<a@example.com>\r\n"),
        "503 5.5.1 Send EHLO or HELO first\r\n"
    );
    c.ehlo();
    assert_eq!(
        c.send("RCPT TO:<bob@example.com>\r\n"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert_eq!(c.send("DATA\r\n"), "503 5.5.1 Need MAIL command first\r\n");
    assert_eq!(codes(&c.send("MAIL FROM:<a@example.com>\r\n")), [250]);
    assert_eq!(
        c.send("MAIL FROM:<a@example.com>\r\n"),
        "503 5.5.1 Nested MAIL command\r\n"
    );
    assert_eq!(c.send("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
    assert_eq!(c.send("RSET\r\n"), "250 2.0.0 OK\r\n");
    assert_eq!(
        c.send("RCPT TO:<bob@example.com>\r\n"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert!(!c.closed);
}

#[test]
fn syntax_and_unknown_commands() {
    let mut c = Client::lan();
    c.take();
    assert_eq!(c.send("FOO bar\r\n"), "500 5.5.2 Command unrecognized\r\n");
    assert_eq!(c.send("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
    c.ehlo();
    assert_eq!(
        c.send("MAIL FROM:alice@example.com\r\n"),
        "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
    );
    assert_eq!(
        c.send("MAIL FROM:<alice@@example.com>\r\n"),
        "501 5.1.7 Bad sender address syntax\r\n"
    );
    assert_eq!(
        c.send("MAIL FROM:<a@example.com> FROB=1\r\n"),
        "555 5.5.4 Unsupported MAIL parameter\r\n"
    );
    assert_eq!(
        c.send("MAIL FROM:<a@example.com>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        c.send("RCPT TO:<bob@example.com> FROB\r\n"),
        "555 5.5.4 Unsupported RCPT parameter\r\n"
    );
    assert_eq!(
        c.send("RCPT TO:<bob example.com>\r\n"),
        "501 5.1.3 Bad recipient address syntax\r\n"
    );
    assert_eq!(c.send("DATA now\r\n"), "501 5.5.4 Syntax: DATA\r\n");
    assert_eq!(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
    assert_eq!(
        c.send("VRFY bob\r\n"),
        "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    );
    assert!(c.send("HELP\r\n").starts_with("214 2.0.0 "));
    assert_eq!(codes(&c.send("AUTH CRAM-MD5\r\n")), [503]); // inside a transaction
    c.send("RSET\r\n");
    assert_eq!(
        c.send("AUTH CRAM-MD5\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    assert_eq!(c.send("bad\0nul\r\n"), "500 5.5.2 Command unrecognized\r\n");
    assert_eq!(
        c.send("MAIL FROM:<a\x01b@example.com>\r\n"),
        "501 5.5.2 Control characters in command\r\n"
    );
}

#[test]
fn too_many_errors_closes_with_421() {
    let mut cfg = config();
    cfg.smtp.max_errors = 3;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.take();
    assert_eq!(
        c.send("X\r\nY\r\n"),
        "500 5.5.2 Command unrecognized\r\n500 5.5.2 Command unrecognized\r\n"
    );
    assert!(!c.closed);
    assert_eq!(
        c.send("Z\r\nNOOP\r\n"),
        "500 5.5.2 Command unrecognized\r\n421 4.7.0 mail.example.com Too many errors, closing connection\r\n"
    );
    assert!(c.closed);
    assert_eq!(c.send("NOOP\r\n"), "");
}

#[test]
fn unknown_local_recipient_is_550_or_accepted_for_bounce() {
    let mut c = Client::wan();
    c.ehlo();
    c.send("MAIL FROM:<x@elsewhere.example>\r\n");
    assert_eq!(
        c.send("RCPT TO:<nobody@example.com>\r\n"),
        "550 5.1.1 Recipient not recognised\r\n"
    );
    assert_eq!(
        c.send("RCPT TO:<nobody@example.ORG>\r\n"),
        "550 5.1.1 Recipient not recognised\r\n"
    );
    let mut cfg = config();
    cfg.smtp.reject_unknown_local = false;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("203.0.113.9"));
    c.ehlo();
    c.send("MAIL FROM:<x@elsewhere.example>\r\n");
    assert_eq!(
        c.send("RCPT TO:<nobody@example.com>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    c.send("DATA\r\nhi\r\n.\r\n");
    assert_eq!(
        c.deliveries()[0].envelope.recipients[0].route,
        Route::Unknown
    );
}

#[test]
fn postmaster_without_domain_is_accepted() {
    let mut c = Client::wan();
    c.ehlo();
    c.send("MAIL FROM:<x@elsewhere.example>\r\n");
    assert_eq!(
        c.send("RCPT TO:<Postmaster>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    assert_eq!(
        c.send("RCPT TO:<postmaster@example.org>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    c.send("DATA\r\nhi\r\n.\r\n");
    let d = c.deliveries();
    let rcpts = &d[0].envelope.recipients;
    assert_eq!(rcpts[0].address, "postmaster@example.com");
    // No postmaster account: the administrator gets it.
    assert_eq!(rcpts[0].route, Route::Local("admin".into()));
    assert_eq!(rcpts[1].route, Route::Local("admin".into()));
}

#[test]
fn relay_refused_without_auth_and_allowed_after() {
    let mut c = Client::lan();
    c.ehlo();
    c.send("MAIL FROM:<alice@example.com>\r\n");
    assert_eq!(
        c.send("RCPT TO:<friend@elsewhere.example>\r\n"),
        "550 5.7.1 Relaying denied: authentication required\r\n"
    );
    // Local recipients are still fine.
    assert_eq!(codes(&c.send("RCPT TO:<bob@example.com>\r\n")), [250]);
    c.send("RSET\r\n");
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
        "235 2.7.0 Authentication successful\r\n"
    );
    c.send("MAIL FROM:<alice@example.com>\r\n");
    assert_eq!(
        c.send("RCPT TO:<friend@elsewhere.example>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    c.send("DATA\r\nhi\r\n.\r\n");
    let d = c.deliveries();
    assert_eq!(d[0].envelope.recipients[0].route, Route::Remote);
    assert_eq!(d[0].envelope.auth_user.as_deref(), Some("alice"));
    assert!(String::from_utf8_lossy(&d[0].data).contains("with ESMTPA id"));
}

#[test]
fn relay_by_access_rules() {
    // 192.168.1.0/24 may relay without auth; 10.0.0.0/8 only with auth; all else denied.
    let rules = vec![
        rule("192.168.1.0", 24, false, true),
        rule("10.0.0.0", 8, false, false),
    ];
    let snap = snapshot_with(config(), rules);
    let try_relay = |ip: &str, auth: bool| {
        let mut c = Client::new(snap.clone(), info(ip));
        c.ehlo();
        if auth {
            assert_eq!(codes(&c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")), [235]);
        }
        c.send("MAIL FROM:<alice@example.com>\r\n");
        c.send("RCPT TO:<friend@elsewhere.example>\r\nRCPT TO:<bob@example.com>\r\n")
    };
    assert_eq!(
        try_relay("192.168.1.77", false),
        "250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n"
    );
    assert_eq!(
        try_relay("10.1.1.1", false),
        "550 5.7.1 Relaying denied: authentication required\r\n250 2.1.5 Recipient OK\r\n"
    );
    assert_eq!(codes(&try_relay("10.1.1.1", true)), [250, 250]);
    // Outside every range: no relaying even after AUTH, local delivery still works.
    assert_eq!(
        try_relay("172.16.5.5", true),
        "550 5.7.1 Relaying denied: your address may not send to other domains\r\n250 2.1.5 Recipient OK\r\n"
    );
}

#[test]
fn relay_without_require_auth_and_pop_before_smtp() {
    let mut cfg = config();
    cfg.smtp.require_auth = false;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("203.0.113.9"));
    c.ehlo();
    c.send("MAIL FROM:<x@y.example>\r\n");
    assert_eq!(codes(&c.send("RCPT TO:<z@w.example>\r\n")), [250]);

    let mut i = info("203.0.113.9");
    i.pop_before_smtp = true;
    let mut c = Client::new(snapshot_with(config(), vec![]), i);
    c.ehlo();
    c.send("MAIL FROM:<x@y.example>\r\n");
    assert_eq!(codes(&c.send("RCPT TO:<z@w.example>\r\n")), [250]);
}

#[test]
fn lan_and_from_address_methods() {
    let mut cfg = config();
    cfg.smtp.anti_relay = AntiRelay::Lan;
    cfg.smtp.require_auth = false;
    let snap = snapshot_with(cfg.clone(), vec![]);
    let mut c = Client::new(snap.clone(), info("192.168.7.7"));
    c.ehlo();
    c.send("MAIL FROM:<x@y.example>\r\n");
    assert_eq!(codes(&c.send("RCPT TO:<z@w.example>\r\n")), [250]);
    let mut c = Client::new(snap, info("203.0.113.9"));
    c.ehlo();
    c.send("MAIL FROM:<x@y.example>\r\n");
    assert_eq!(
        c.send("RCPT TO:<z@w.example>\r\n"),
        "550 5.7.1 Relaying denied: your address may not send to other domains\r\n"
    );

    cfg.smtp.anti_relay = AntiRelay::FromAddress;
    let snap = snapshot_with(cfg, vec![]);
    let mut c = Client::new(snap, info("203.0.113.9"));
    c.ehlo();
    c.send("MAIL FROM:<x@y.example>\r\n");
    assert_eq!(
        c.send("RCPT TO:<z@w.example>\r\n"),
        "550 5.7.1 Relaying denied: sender is not a local user\r\n"
    );
    c.send("RSET\r\nMAIL FROM:<ALICE@example.org>\r\n");
    assert_eq!(codes(&c.send("RCPT TO:<z@w.example>\r\n")), [250]);
}

#[test]
fn percent_addresses_refused() {
    let mut c = Client::lan();
    c.ehlo();
    c.send("MAIL FROM:<a@example.com>\r\n");
    assert_eq!(
        c.send("RCPT TO:<bob%elsewhere.example@example.com>\r\n"),
        "550 5.7.1 Addresses containing '%' are not accepted\r\n"
    );
    let mut cfg = config();
    cfg.smtp.refuse_percent = false;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    c.send("MAIL FROM:<a@example.com>\r\n");
    // Allowed by the option, then refused as an unknown local user.
    assert_eq!(
        codes(&c.send("RCPT TO:<bob%elsewhere.example@example.com>\r\n")),
        [550]
    );
    let r = c.send("RCPT TO:<bob%elsewhere.example@example.com>\r\n");
    assert!(r.contains("5.1.1"), "{r}");
}

#[test]
fn refuse_helo_disconnects() {
    let mut cfg = config();
    cfg.smtp.refuse_helo = ".Mail.Demon.net".into();
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("203.0.113.9"));
    c.take();
    assert_eq!(
        c.send("EHLO relay3 (really relay3.mail.demon.NET)\r\nMAIL FROM:<a@b.example>\r\n"),
        "554 5.7.1 mail.example.com Connection refused\r\n"
    );
    assert!(c.closed);
}

#[test]
fn size_limit_at_mail_and_after_data() {
    let mut cfg = config();
    cfg.smtp.max_message_size = 1000;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    assert!(c.ehlo().contains("250-SIZE 1000\r\n"));
    assert_eq!(
        c.send("MAIL FROM:<a@example.com> SIZE=1001\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        codes(&c.send("MAIL FROM:<a@example.com> SIZE=1000\r\n")),
        [250]
    );
    c.send("RSET\r\n");
    // Without SIZE=: read to the end, then refuse; the session goes on.
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    let big = "x".repeat(78) + "\r\n";
    let r = c.send(big.repeat(20) + ".\r\n");
    assert_eq!(
        r,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert!(c.deliveries().is_empty());
    // A message of exactly the limit is fine.
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    let r = c.send("y".repeat(998) + "\r\n.\r\n");
    assert_eq!(codes(&r), [250]);
}

#[test]
fn per_user_limit_applies_after_auth() {
    let mut c = Client::lan();
    c.answers
        .users
        .push(("small".into(), "pw".into(), "small".into()));
    c.ehlo();
    // base64("\0small\0pw")
    assert_eq!(codes(&c.send("AUTH PLAIN AHNtYWxsAHB3\r\n")), [235]);
    assert!(c.ehlo().contains("250-SIZE 100\r\n"));
    assert_eq!(
        codes(&c.send("MAIL FROM:<small@example.com> SIZE=101\r\n")),
        [552]
    );
    c.send("MAIL FROM:<small@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    assert_eq!(codes(&c.send("z".repeat(200) + "\r\n.\r\n")), [552]);
}

#[test]
fn max_recipients_gives_452() {
    let mut cfg = config();
    cfg.smtp.max_recipients = 2;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    c.send("MAIL FROM:<a@example.com>\r\n");
    let r = c.send("RCPT TO:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<admin@example.com>\r\n");
    assert_eq!(codes(&r), [250, 250, 452]);
    assert!(r.ends_with("452 4.5.3 Too many recipients\r\n"));
}

#[test]
fn dsn_parameters_captured_and_refused_when_off() {
    let mut c = Client::lan();
    c.ehlo();
    let r = c.send(
        "MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ+2B1 BODY=8BITMIME\r\n\
         RCPT TO:<bob@example.com> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob@example.com\r\n\
         DATA\r\nhi\r\n.\r\n",
    );
    assert_eq!(codes(&r), [250, 250, 354, 250]);
    let d = c.deliveries();
    let e = &d[0].envelope;
    assert_eq!(e.dsn_ret.as_deref(), Some("HDRS"));
    assert_eq!(e.dsn_envid.as_deref(), Some("QQ+2B1"));
    assert!(e.eight_bit);
    assert_eq!(e.recipients[0].dsn_notify.as_deref(), Some("SUCCESS,DELAY"));
    assert_eq!(
        e.recipients[0].dsn_orcpt.as_deref(),
        Some("rfc822;bob@example.com")
    );

    let mut cfg = config();
    cfg.smtp.dsn = false;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    assert_eq!(
        codes(&c.send("MAIL FROM:<alice@example.com> RET=FULL\r\n")),
        [555]
    );
    c.send("MAIL FROM:<alice@example.com>\r\n");
    assert_eq!(
        codes(&c.send("RCPT TO:<bob@example.com> NOTIFY=NEVER\r\n")),
        [555]
    );
}

#[test]
fn smtputf8_addresses() {
    let mut c = Client::lan();
    c.ehlo();
    assert_eq!(codes(&c.send("MAIL FROM:<jöran@example.com>\r\n")), [553]);
    assert_eq!(
        codes(&c.send("MAIL FROM:<jöran@example.com> SMTPUTF8\r\n")),
        [250]
    );
    assert_eq!(
        codes(&c.send("RCPT TO:<bob@example.com>\r\nDATA\r\nhi\r\n.\r\n")),
        [250, 354, 250]
    );
    assert!(c.deliveries()[0].envelope.eight_bit);
    c.send("MAIL FROM:<a@example.com>\r\n");
    assert_eq!(codes(&c.send("RCPT TO:<jöran@example.com>\r\n")), [553]);
}

#[test]
fn delivery_failure_replies() {
    use mailroom_core::smtp::DeliveryError;
    let mut c = Client::lan();
    c.ehlo();
    c.answers.delivery = Err(DeliveryError {
        temporary: true,
        text: "Disk full".into(),
    });
    let r = c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhi\r\n.\r\n");
    assert!(r.ends_with("451 4.3.0 Disk full\r\n"), "{r}");
    c.answers.delivery = Err(DeliveryError {
        temporary: false,
        text: "Mailbox\r\n250 forged".into(),
    });
    let r = c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhi\r\n.\r\n");
    assert!(r.ends_with("554 5.3.0 Mailbox  250 forged\r\n"), "{r}");
    // The transaction is over either way.
    assert_eq!(codes(&c.send("RCPT TO:<bob@example.com>\r\n")), [503]);
}

#[test]
fn idle_timeout_via_tick() {
    let mut c = Client::lan();
    c.take();
    let deadline = Instant::from_secs(T0 + 300);
    assert_eq!(c.wait, Some(deadline));
    c.now = Instant::from_secs(T0 + 100);
    c.send("NOOP\r\n");
    assert_eq!(c.wait, Some(Instant::from_secs(T0 + 400)));
    // An early tick does nothing.
    c.now = Instant::from_secs(T0 + 399);
    c.feed(Input::Tick);
    assert_eq!(c.take(), "");
    assert!(!c.closed);
    c.now = Instant::from_secs(T0 + 400) + Duration::from_micros(1);
    c.feed(Input::Tick);
    assert_eq!(
        c.take(),
        "421 4.4.2 mail.example.com Idle timeout, closing connection\r\n"
    );
    assert!(c.closed);
}

#[test]
fn eof_mid_message_never_delivers() {
    let mut c = Client::lan();
    c.ehlo();
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n");
    c.feed(Input::Eof);
    assert!(c.closed);
    assert!(c.deliveries().is_empty());
    // Same with BDAT: the LAST chunk never came.
    let mut c = Client::lan();
    c.ehlo();
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 4\r\nabc\r\n");
    c.feed(Input::Eof);
    assert!(c.closed && c.deliveries().is_empty());
}

#[test]
fn events_hold_further_input_in_order() {
    let mut c = Client::lan();
    c.ehlo();
    c.answers.hold = true;
    let r = c.send(
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\n",
    );
    assert_eq!(codes(&r), [250, 250, 354]);
    assert_eq!(c.events.len(), 1);
    assert_eq!(c.wait, None, "no idle timeout while the driver works");
    // More pipelined input while waiting is kept, not executed.
    assert_eq!(c.send("RSET\r\n"), "");
    c.server.handle_command(
        c.now,
        mailroom_core::smtp::SmtpCommand::DeliveryResult(Ok(())),
    );
    c.drain();
    assert_eq!(
        c.take(),
        "250 2.0.0 Ok: queued as s1.1\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n"
    );
}

#[test]
fn pending_input_overflow_closes() {
    let mut c = Client::lan();
    c.ehlo();
    c.answers.hold = true;
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhi\r\n.\r\n");
    let noops = "NOOP\r\n".repeat(20_000);
    let r = c.send(&noops);
    assert_eq!(
        r,
        "421 4.7.0 mail.example.com Too much pipelined input, closing connection\r\n"
    );
    assert!(c.closed);
    // A late answer to the event is harmless.
    c.server.handle_command(
        c.now,
        mailroom_core::smtp::SmtpCommand::DeliveryResult(Ok(())),
    );
    c.drain();
    assert_eq!(c.take(), "");
    assert!(matches!(c.events[0], SmtpEvent::Deliver(_)));
}
