//! What the SMTP session does for the defences of docs/DEFENSE.md: it asks for a DNS
//! blocklist verdict at the first MAIL of an unauthenticated client (SMTP-11) and
//! refuses a listed one with 554 naming the list; it counts client errors for the
//! IDS/IPS (SMTP-10).

mod smtp_support;

use mailroom_core::config::Cidr;
use mailroom_core::smtp::{SmtpCommand, SmtpEvent};
use mailroom_core::Machine;
use smtp_support::*;

fn dnsbl_client(ip: &str, never_block: &[&str]) -> Client {
    let mut cfg = config();
    cfg.smtp.dnsbl = vec!["zen.test".into(), "bl.test".into()];
    cfg.ids.never_block = never_block
        .iter()
        .map(|s| s.parse::<Cidr>().unwrap())
        .collect();
    let mut c = Client::new(snapshot_with(cfg, vec![]), info(ip));
    c.take();
    c.ehlo();
    c
}

fn dnsbl_asks(c: &Client) -> usize {
    c.events
        .iter()
        .filter(|e| matches!(e, SmtpEvent::Dnsbl { .. }))
        .count()
}

#[test]
fn a_listed_client_is_refused_at_mail_naming_the_list() {
    let mut c = dnsbl_client("203.0.113.9", &[]);
    c.answers.hold = true;
    // MAIL waits for the verdict; the RCPT pipelined behind it waits too.
    let r = c.send("MAIL FROM:<a@far.test>\r\nRCPT TO:<alice@example.com>\r\n");
    assert_eq!(r, "");
    assert!(matches!(
        c.events.last(),
        Some(SmtpEvent::Dnsbl { ip }) if ip.to_string() == "203.0.113.9"
    ));
    c.server
        .handle_command(c.now, SmtpCommand::DnsblResult(Some("zen.test".into())));
    c.drain();
    let r = c.take();
    assert_eq!(
        r,
        "554 5.7.1 Service unavailable; client [203.0.113.9] blocked using zen.test\r\n\
         503 5.5.1 Need MAIL command first\r\n"
    );
    // Asked once: the next MAIL is refused without a second question.
    c.answers.hold = false;
    assert_eq!(codes(&c.send("MAIL FROM:<b@far.test>\r\n")), [554]);
    assert_eq!(dnsbl_asks(&c), 1);
}

#[test]
fn a_clear_client_goes_on_and_is_asked_once() {
    let mut c = dnsbl_client("203.0.113.9", &[]);
    assert_eq!(codes(&c.send("MAIL FROM:<a@far.test>\r\n")), [250]);
    assert_eq!(
        codes(&c.send("RSET\r\nMAIL FROM:<b@far.test>\r\n")),
        [250, 250]
    );
    assert_eq!(dnsbl_asks(&c), 1);
}

#[test]
fn authenticated_and_never_block_clients_are_not_looked_up() {
    let mut c = dnsbl_client("192.168.1.10", &[]);
    let login = "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"; // \0alice\0secret
    assert_eq!(codes(&c.send(login)), [235]);
    assert_eq!(codes(&c.send("MAIL FROM:<alice@example.com>\r\n")), [250]);
    assert_eq!(dnsbl_asks(&c), 0);

    let mut c = dnsbl_client("203.0.113.9", &["203.0.113.0/24"]);
    assert_eq!(codes(&c.send("MAIL FROM:<a@far.test>\r\n")), [250]);
    assert_eq!(dnsbl_asks(&c), 0);

    // No zones, no question.
    let mut c = Client::wan();
    c.take();
    c.ehlo();
    assert_eq!(codes(&c.send("MAIL FROM:<a@far.test>\r\n")), [250]);
    assert_eq!(dnsbl_asks(&c), 0);
}

#[test]
fn client_errors_count_protocol_errors_failed_logins_and_refused_recipients() {
    let mut c = Client::lan();
    c.take();
    assert_eq!(c.server.client_errors(), 0);
    c.send("BOGUS\r\n");
    c.ehlo();
    // A wrong password (the test driver knows alice/secret).
    assert_eq!(codes(&c.send("AUTH PLAIN AGFsaWNlAHdyb25n\r\n")), [535]);
    assert_eq!(c.server.client_errors(), 2);
    // An unknown local user and a refused relay count; an accepted recipient does not.
    let r = c.send(
        "MAIL FROM:<x@far.test>\r\nRCPT TO:<nobody@example.com>\r\n\
         RCPT TO:<someone@elsewhere.test>\r\nRCPT TO:<alice@example.com>\r\n",
    );
    assert_eq!(codes(&r), [250, 550, 550, 250], "{r}");
    assert_eq!(c.server.client_errors(), 4);
}
