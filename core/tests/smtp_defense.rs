//! What the SMTP session does for the defences of docs/DEFENSE.md: it asks for a DNS
//! blocklist verdict at the first MAIL of an unauthenticated client (SMTP-11) and
//! refuses a listed one with 554 naming the list; it counts client errors for the
//! IDS/IPS (SMTP-10), as POP3, IMAP and the password service do.

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

#[test]
fn defence_settings_parse_with_their_defaults_and_mistakes_are_named() {
    use mailroom_core::config::parse_config;
    let base = "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n";
    let c = parse_config(base).unwrap();
    assert!(c.ids.enabled && c.ids.never_blocked("127.0.0.9".parse().unwrap()));
    assert!(!c.ids.never_blocked("192.168.1.2".parse().unwrap()));
    assert_eq!(c.limits.of("smtp").max_connections, 100);
    let text = format!(
        "{base}[smtp]\ndnsbl = [\"zen.test\"]\ndnsbl_timeout = \"2s\"\n\
         [ids]\nnever_block = [\"10.0.0.0/8\", \"2001:db8::1\"]\n\
         [limits]\nmax_per_client = 3\n[limits.pop3]\nmax_connections = 7\n"
    );
    let c = parse_config(&text).unwrap();
    assert_eq!(c.smtp.dnsbl, ["zen.test"]);
    assert!(c.ids.never_blocked("10.200.0.1".parse().unwrap()));
    assert!(c.ids.never_blocked("2001:db8::1".parse().unwrap()));
    assert!(!c.ids.never_blocked("127.0.0.1".parse().unwrap()));
    let pop3 = c.limits.of("pop3");
    assert_eq!((pop3.max_connections, pop3.max_per_client), (7, 3));
    let smtp = c.limits.of("smtp");
    assert_eq!((smtp.max_connections, smtp.max_per_client), (100, 3));

    let bad = |extra: &str| -> String {
        match parse_config(&format!("{base}{extra}")) {
            Ok(_) => panic!("{extra} must be refused"),
            Err(e) => e
                .iter()
                .map(|e| format!("{}: {}", e.line, e.message))
                .collect(),
        }
    };
    assert!(bad("[ids]\nnever_block = [\"10.0.0.0/33\"]\n").contains("not an address"));
    assert!(bad("[ids]\nblock_after = 0\n").starts_with("5: [ids] block_after = 0"));
    assert!(bad("[smtp]\ndnsbl = [\"bad zone\"]\n").contains("dnsbl zone"));
    assert!(bad("[limits.smtpp]\nmax_connections = 1\n").contains("no service"));
}

#[test]
fn every_server_machine_reports_its_client_errors() {
    use mailroom_core::pop3::{Pop3Info, Pop3Server};
    use mailroom_core::{Input, Instant};
    let snap = snapshot_with(config(), vec![]);
    let now = Instant::from_secs(1_800_000_000);
    let ip = "192.168.1.10".parse().unwrap();
    let info = Pop3Info {
        peer_ip: ip,
        session_id: "s".into(),
        tls_active: false,
        tls_available: false,
    };
    let mut pop3 = Pop3Server::new(now, snap.clone(), info);
    pop3.handle_input(now, Input::Bytes(b"BOGUS\r\nSTAT\r\n"));
    assert_eq!(pop3.client_errors(), 2);
    let mut pass = mailroom_core::pass::PassServer::new(now, snap.clone(), ip);
    pass.handle_input(now, Input::Bytes(b"BOGUS\r\n"));
    assert_eq!(pass.client_errors(), 1);
    let info = mailroom_core::imap::ImapInfo {
        peer_ip: ip,
        session_id: "s".into(),
        tls_active: false,
        tls_available: false,
    };
    let mut imap = mailroom_core::imap::ImapServer::new(now, snap, info);
    imap.handle_input(now, Input::Bytes(b"a1 BOGUS\r\n"));
    assert_eq!(imap.client_errors(), 1);
}
