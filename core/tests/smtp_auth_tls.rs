//! SMTP AUTH (PLAIN, LOGIN, CRAM-MD5) and STARTTLS, including plaintext injected after STARTTLS.

mod smtp_support;

use mailroom_core::smtp::SmtpEvent;
use mailroom_core::Machine;
use smtp_support::*;

fn auth_event(c: &Client) -> (String, String) {
    match c.events.last() {
        Some(SmtpEvent::Authenticate { user, password }) => (user.clone(), password.clone()),
        other => panic!("expected Authenticate, got {other:?}"),
    }
}

#[test]
fn auth_plain_initial_response() {
    let mut c = Client::lan();
    c.ehlo();
    // base64("\0alice\0secret")
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(auth_event(&c), ("alice".into(), "secret".into()));
    assert_eq!(c.server.auth_user(), Some("alice"));
    // Once is enough; EHLO no longer offers it.
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
        "503 5.5.1 Already authenticated\r\n"
    );
    assert!(!c.ehlo().contains("AUTH"));
}

#[test]
fn auth_plain_with_continuation() {
    let mut c = Client::lan();
    c.ehlo();
    assert_eq!(c.send("AUTH PLAIN\r\n"), "334 \r\n");
    assert_eq!(
        c.send("AGFsaWNlAHNlY3JldA==\r\n"),
        "235 2.7.0 Authentication successful\r\n"
    );
}

#[test]
fn auth_login_both_forms() {
    let mut c = Client::lan();
    c.ehlo();
    assert_eq!(c.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.send("YWxpY2U=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        c.send("c2VjcmV0\r\n"),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(auth_event(&c), ("alice".into(), "secret".into()));

    let mut c = Client::lan();
    c.ehlo();
    assert_eq!(c.send("auth login YWxpY2U=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        c.send("d3Jvbmc=\r\n"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(auth_event(&c), ("alice".into(), "wrong".into()));
    assert_eq!(c.server.auth_user(), None);
}

#[test]
fn bad_auth_replies() {
    let mut c = Client::lan();
    c.ehlo();
    // base64("\0alice\0nope")
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAG5vcGU=\r\n"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(
        c.send("AUTH PLAIN not*base64\r\n"),
        "501 5.5.2 Invalid authentication response\r\n"
    );
    assert_eq!(
        c.send("AUTH LOGIN\r\n*\r\n"),
        "334 VXNlcm5hbWU6\r\n501 5.0.0 Authentication cancelled\r\n"
    );
    // base64("alice\0secret"): only one NUL.
    assert_eq!(
        c.send("AUTH PLAIN YWxpY2UAc2VjcmV0\r\n"),
        "501 5.5.2 Invalid authentication response\r\n"
    );
    // After HELO there is no AUTH.
    c.send("HELO pc\r\n");
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
        "503 5.5.1 Send EHLO first\r\n"
    );
    // No password was checked for the malformed ones.
    assert_eq!(c.events.len(), 1);
}

#[test]
fn auth_needs_tls_from_internet() {
    let mut i = info("203.0.113.9");
    i.tls_available = true;
    let mut c = Client::new(snapshot_with(config(), vec![]), i);
    c.ehlo();
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
        "538 5.7.11 Encryption required: use STARTTLS first\r\n"
    );
    assert!(c.events.is_empty());
}

#[test]
fn overlong_sasl_line_aborts_exchange() {
    let mut c = Client::lan();
    c.ehlo();
    c.send("AUTH PLAIN\r\n");
    let r = c.send("A".repeat(5000) + "\r\nNOOP\r\n");
    assert_eq!(r, "500 5.5.6 Line too long\r\n250 2.0.0 OK\r\n");
    assert!(c.events.is_empty());
}

fn tls_client() -> Client {
    let mut i = info("203.0.113.9");
    i.tls_available = true;
    Client::new(snapshot_with(config(), vec![]), i)
}

#[test]
fn starttls_discards_injected_plaintext_and_resets() {
    let mut c = tls_client();
    c.ehlo();
    let r = c.send("STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.com>\r\n");
    assert_eq!(r, "220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(c.start_tls, 1);
    assert!(!c.closed);
    // After the handshake: fresh session, no transaction, HELO needed again.
    assert_eq!(
        c.send("RCPT TO:<bob@example.com>\r\n"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert_eq!(
        c.send("MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Send EHLO or HELO first\r\n"
    );
    let r = c.ehlo();
    assert!(
        !r.contains("STARTTLS") && r.contains("AUTH PLAIN LOGIN"),
        "{r}"
    );
    assert_eq!(c.send("STARTTLS\r\n"), "503 5.5.1 TLS already active\r\n");
    assert_eq!(codes(&c.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")), [235]);
    c.send("MAIL FROM:<alice@example.com>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\nhi\r\n.\r\n");
    let d = c.deliveries();
    assert!(String::from_utf8_lossy(&d[0].data).contains("with ESMTPSA id"));
}

#[test]
fn starttls_injection_split_across_reads() {
    // The injected command arrives in a later read, before the driver acted on StartTls.
    let mut c = tls_client();
    c.ehlo();
    c.server
        .handle_input(c.now, mailroom_core::Input::Bytes(b"STARTTLS\r\n"));
    c.server
        .handle_input(c.now, mailroom_core::Input::Bytes(b"QUIT\r\n"));
    c.drain();
    assert_eq!(c.take(), "220 2.0.0 Ready to start TLS\r\n");
    assert!(!c.closed);
    assert_eq!(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

#[test]
fn starttls_not_offered() {
    let mut c = Client::lan();
    c.ehlo();
    assert_eq!(
        c.send("STARTTLS\r\n"),
        "502 5.5.1 STARTTLS not available\r\n"
    );
    assert_eq!(c.start_tls, 0);
    let mut c = tls_client();
    assert_eq!(
        c.send("STARTTLS now\r\n").lines().last(),
        Some("501 5.5.4 Syntax: STARTTLS")
    );
}

fn cram_client(enabled: bool) -> Client {
    let mut config = config();
    config.hostname = "postoffice.reston.mci.net".into();
    config.accounts.challenge_response = enabled;
    let mut info = info("192.168.1.10");
    info.session_id = "1896".into();
    // RFC 2195's example starts at 697170952 (the test sets that time before AUTH).
    let start = mailroom_core::Instant::from_secs(697_170_000);
    let mut c = Client::new_at(start, snapshot_with(config, vec![]), info);
    // RFC 2195's example: user tim, secret tanstaaftanstaaf.
    c.answers.users = vec![("tim".into(), "tanstaaftanstaaf".into(), "tim".into())];
    c
}

#[test]
fn cram_md5_with_the_rfc_2195_vector() {
    let mut c = cram_client(true);
    assert!(c.ehlo().contains("AUTH PLAIN LOGIN CRAM-MD5"));
    c.now = mailroom_core::Instant::from_secs(697_170_952);
    // base64("<1896.697170952@postoffice.reston.mci.net>"), as in RFC 2195.
    assert_eq!(
        c.send("AUTH CRAM-MD5\r\n"),
        "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"
    );
    // base64("tim b913a602c7eda7a495b4e6e7334d3890")
    assert_eq!(
        c.send("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        "235 2.7.0 Authentication successful\r\n"
    );
    match c.events.last() {
        Some(SmtpEvent::AuthenticateCram {
            user,
            challenge,
            digest,
        }) => {
            assert_eq!(user, "tim");
            assert_eq!(challenge, "<1896.697170952@postoffice.reston.mci.net>");
            assert_eq!(digest, "b913a602c7eda7a495b4e6e7334d3890");
        }
        other => panic!("expected AuthenticateCram, got {other:?}"),
    }
    assert_eq!(c.server.auth_user(), Some("tim"));
}

#[test]
fn cram_md5_wrong_digest_cancel_and_initial_response() {
    let mut c = cram_client(true);
    c.ehlo();
    assert!(c.send("AUTH CRAM-MD5\r\n").starts_with("334 "));
    // base64("tim 00000000000000000000000000000000")
    assert_eq!(
        c.send("dGltIDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw\r\n"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert!(c.send("AUTH CRAM-MD5\r\n").starts_with("334 "));
    assert_eq!(c.send("*\r\n"), "501 5.0.0 Authentication cancelled\r\n");
    assert!(c.send("AUTH CRAM-MD5\r\n").starts_with("334 "));
    assert_eq!(
        c.send("bm90IGEgcmVzcG9uc2U=\r\n"),
        "501 5.5.2 Invalid authentication response\r\n"
    );
    assert_eq!(
        c.send("AUTH CRAM-MD5 dGlt\r\n"),
        "501 5.5.2 CRAM-MD5 takes no initial response\r\n"
    );
    assert_eq!(c.server.auth_user(), None);
}

#[test]
fn cram_md5_is_not_offered_without_challenge_response_secrets() {
    let mut c = cram_client(false);
    let ehlo = c.ehlo();
    assert!(ehlo.contains("AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    assert!(!ehlo.contains("CRAM-MD5"), "{ehlo}");
    assert_eq!(
        c.send("AUTH CRAM-MD5\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
}
