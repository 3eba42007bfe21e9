//! Server-side ETRN (RFC 1985, SMTP-8): mail for a held domain is accepted from anyone
//! and waits until that domain's own server asks for it.

mod smtp_support;

use mailroom_core::smtp::{Route, SmtpCommand, SmtpEvent};
use mailroom_core::Machine;
use smtp_support::*;

fn held_client(ip: &str) -> Client {
    let mut cfg = config();
    cfg.smtp.etrn_domains = vec!["office2.example.net".into()];
    Client::new(snapshot_with(cfg, vec![]), info(ip))
}

#[test]
fn etrn_is_advertised_only_with_held_domains() {
    let mut c = held_client("203.0.113.9");
    c.take();
    assert!(c.ehlo().contains("250-ETRN\r\n"));
    let mut plain = Client::wan();
    plain.take();
    assert!(!plain.ehlo().contains("ETRN"));
}

#[test]
fn held_domain_mail_is_accepted_from_the_internet_and_queued() {
    let mut c = held_client("203.0.113.9");
    c.take();
    c.ehlo();
    assert_eq!(
        c.send("MAIL FROM:<x@far.example>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        c.send("RCPT TO:<karen@Office2.example.NET>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    // Other remote domains are still refused (no open relay).
    assert_eq!(
        codes(&c.send("RCPT TO:<x@elsewhere.example>\r\n")),
        vec![550]
    );
    c.send("DATA\r\n");
    c.send("Subject: hi\r\n\r\nbody\r\n.\r\n");
    let d = c.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].envelope.recipients[0].route, Route::Remote);
}

#[test]
fn etrn_asks_the_driver_and_reports_the_count() {
    let mut c = held_client("198.51.100.4");
    c.take();
    assert_eq!(codes(&c.send("ETRN office2.example.net\r\n")), vec![503]);
    c.ehlo();
    assert_eq!(
        c.send("ETRN other.example\r\n"),
        "459 4.7.1 Node other.example not allowed\r\n"
    );
    assert_eq!(codes(&c.send("ETRN\r\n")), vec![501]);

    c.answers.hold = true;
    assert_eq!(c.send("ETRN @Office2.Example.Net\r\n"), "");
    assert_eq!(
        c.events.last(),
        Some(&SmtpEvent::Etrn {
            domain: "office2.example.net".into()
        })
    );
    let now = c.now;
    c.server.handle_command(now, SmtpCommand::EtrnResult(Ok(3)));
    c.drain();
    assert_eq!(
        c.take(),
        "253 OK, 3 pending messages for node office2.example.net started\r\n"
    );
    c.send("ETRN office2.example.net\r\n");
    c.server.handle_command(now, SmtpCommand::EtrnResult(Ok(0)));
    c.drain();
    assert_eq!(
        c.take(),
        "251 OK, no messages waiting for node office2.example.net\r\n"
    );
    c.send("ETRN office2.example.net\r\n");
    c.server
        .handle_command(now, SmtpCommand::EtrnResult(Err("disk".into())));
    c.drain();
    assert_eq!(
        c.take(),
        "458 Unable to queue messages for node office2.example.net\r\n"
    );

    // Not inside a transaction.
    c.answers.hold = false;
    c.send("MAIL FROM:<a@example.com>\r\n");
    assert_eq!(codes(&c.send("ETRN office2.example.net\r\n")), vec![503]);
}
