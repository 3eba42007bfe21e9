//! SMTP message content: pipelining, dot-stuffing, SMTP smuggling, line and size
//! bounds, BDAT, over-long command lines.

mod smtp_support;

use mailroom_core::config::BareNewlines;
use smtp_support::*;

fn client_with_policy(policy: BareNewlines) -> Client {
    let mut cfg = config();
    cfg.smtp.bare_newlines = policy;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    c
}

#[test]
fn pipelined_transaction_in_one_write() {
    let mut c = Client::lan();
    c.take();
    let r = c.send(
        "EHLO pc\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n\
         RCPT TO:<admin@example.com>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    );
    assert_eq!(codes(&r), [250, 250, 250, 250, 354, 250, 221]);
    assert!(c.closed);
    let d = c.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].envelope.recipients.len(), 2);
    assert_eq!(
        body_after_received(&d[0].data),
        b"Subject: p\r\n\r\nbody\r\n"
    );
}

#[test]
fn dots_and_998_octet_line_round_trip_exactly() {
    let mut c = Client::lan();
    c.ehlo();
    let long = "L".repeat(998);
    let message = format!(
        "Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n{long}\r\n.{}\r\nend\r\n",
        "M".repeat(997)
    );
    // Dot-stuff as a client would.
    let mut stuffed = String::new();
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            stuffed.push('.');
        }
        stuffed.push_str(line);
    }
    let r = c.send(format!(
        "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n{stuffed}.\r\n"
    ));
    assert_eq!(codes(&r), [250, 250, 354, 250]);
    assert_eq!(
        body_after_received(&c.deliveries()[0].data),
        message.as_bytes()
    );
}

#[test]
fn empty_message_and_no_final_newline_cases() {
    let mut c = Client::lan();
    c.ehlo();
    let r = c.send("MAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n.\r\n");
    assert_eq!(codes(&r), [250, 250, 354, 250]);
    assert_eq!(body_after_received(&c.deliveries()[0].data), b"");
}

/// Each smuggling payload tries to end DATA early and start a second transaction.
const SMUGGLE: [&str; 3] = [
    "Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nforged\r\n.\r\n",
    "Subject: a\r\n\r\nx\r\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nforged\r\n.\r\n",
    "Subject: a\r\n\r\nx\n.\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nforged\r\n.\r\n",
];

#[test]
fn smuggling_rejected_as_one_message() {
    for payload in SMUGGLE {
        let mut c = client_with_policy(BareNewlines::Reject);
        let r = c.send(format!(
            "MAIL FROM:<x@y.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n{payload}NOOP\r\n"
        ));
        assert_eq!(
            r,
            "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
             550 5.6.0 Message refused: bare CR or LF in message (lines must end with CRLF)\r\n\
             250 2.0.0 OK\r\n",
            "{payload:?}"
        );
        assert!(c.events.is_empty());
    }
}

#[test]
fn smuggling_normalized_is_still_one_message() {
    for payload in SMUGGLE {
        let mut c = client_with_policy(BareNewlines::Normalize);
        let r = c.send(format!(
            "MAIL FROM:<x@y.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n{payload}"
        ));
        assert_eq!(codes(&r), [250, 250, 354, 250], "{payload:?}");
        let d = c.deliveries();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].envelope.mail_from.as_deref(), Some("x@y.example"));
        assert_eq!(d[0].envelope.recipients.len(), 1);
        let body = body_after_received(&d[0].data);
        // The would-be commands are message text, every line ending in CRLF.
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("MAIL FROM:<evil@example.com>\r\n"),
            "{text:?}"
        );
        assert!(!text.replace("\r\n", "").contains(['\r', '\n']), "{text:?}");
    }
}

#[test]
fn long_data_line_refused_after_end() {
    let mut cfg = config();
    cfg.smtp.max_data_line = 1000;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    assert_eq!(c.send("k".repeat(1000) + "\r\n"), "");
    assert_eq!(c.send("k".repeat(5000)), "");
    assert_eq!(
        c.send("\r\n.\r\n"),
        "500 5.5.6 Message refused: line too long\r\n"
    );
    assert!(c.events.is_empty());
    assert_eq!(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

#[test]
fn overlong_command_line() {
    let mut cfg = config();
    cfg.smtp.max_command_line = 600;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    // Reported as soon as it is known, the rest of the line skipped as it streams in.
    assert_eq!(
        c.send("NOOP ".to_string() + &"a".repeat(700)),
        "500 5.5.6 Line too long\r\n"
    );
    assert_eq!(c.send("b".repeat(100_000)), "");
    assert_eq!(c.send("c\r\nNOOP\r\n"), "250 2.0.0 OK\r\n");
    // Exactly at the bound (CRLF included) is fine; one more is not.
    let ok = format!("NOOP {}\r\n", "d".repeat(600 - 7));
    assert_eq!(ok.len(), 600);
    assert_eq!(c.send(&ok), "250 2.0.0 OK\r\n");
    let bad = format!("NOOP {}\r\nNOOP\r\n", "d".repeat(600 - 6));
    assert_eq!(c.send(&bad), "500 5.5.6 Line too long\r\n250 2.0.0 OK\r\n");
}

#[test]
fn bdat_chunks() {
    let mut c = Client::lan();
    c.ehlo();
    let r = c.send("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 14\r\nSubject: b\r\n\r\nBDAT 9 LAST\r\n.x\r\n.\r\nyz");
    assert_eq!(
        r,
        "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.0.0 14 octets received\r\n\
         250 2.0.0 Ok: queued as s1.1\r\n"
    );
    let d = c.deliveries();
    // No dot-unstuffing; a missing final CRLF is added.
    assert_eq!(
        body_after_received(&d[0].data),
        b"Subject: b\r\n\r\n.x\r\n.\r\nyz\r\n"
    );
    // BDAT 0 LAST ends a message; DATA is refused after BDAT.
    let r = c.send("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 6\r\nhi\r\n\r\nDATA\r\nBDAT 0 LAST\r\n");
    assert_eq!(codes(&r), [250, 250, 250, 503, 250]);
    assert_eq!(body_after_received(&c.deliveries()[1].data), b"hi\r\n\r\n");
}

#[test]
fn bdat_errors_still_consume_the_chunk() {
    let mut c = Client::lan();
    c.ehlo();
    // No transaction: the chunk's bytes must not run as commands.
    let r = c.send("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(r, "503 5.5.1 Need MAIL command first\r\n250 2.0.0 OK\r\n");
    assert!(!c.closed);
    assert_eq!(
        c.send("BDAT x\r\n"),
        "501 5.5.4 Syntax: BDAT size [LAST]\r\n"
    );
    // Too big: refused at the chunk, transaction over, later chunk refused and eaten.
    let mut cfg = config();
    cfg.smtp.max_message_size = 10;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    c.ehlo();
    let r = c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 12\r\n0123456789\r\nBDAT 6 LAST\r\nQUIT\r\n");
    assert_eq!(
        r,
        "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n\
         552 5.3.4 Message size exceeds fixed maximum message size\r\n\
         503 5.5.1 Need MAIL command first\r\n"
    );
    assert!(c.events.is_empty() && !c.closed);
}

#[test]
fn bdat_bare_newlines_follow_policy() {
    let mut c = client_with_policy(BareNewlines::Reject);
    let r =
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 4 LAST\r\na\nb\n");
    assert_eq!(codes(&r), [250, 250, 550]);
    let mut c = client_with_policy(BareNewlines::Normalize);
    c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\nBDAT 4 LAST\r\na\nb\n");
    assert_eq!(body_after_received(&c.deliveries()[0].data), b"a\r\nb\r\n");
}
