//! The defences of port 25 beyond SMTP rules (issue 16, docs/DEFENSE.md) end to end
//! through both binaries: the IDS/IPS block list (failed AUTH blocks an address while
//! others are served, failed POP3 logins count too, a block refuses every service, never_block wins, the list survives a restart and the CLI edits
//! it), DNS blocklists (a listed client refused, an unlisted one and an authenticated
//! one served, a DNS server that never answers costs at most `dnsbl_timeout`), and
//! connection caps per client and per service (SMTP and POP3), a never-block address
//! without a per-client cap.
//!
//! Clients connect from distinct loopback addresses (127.0.0.2 …): loopback is on the
//! default never-block list, so each test sets its own.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, tcp_from, Reply, Smtp};
use mailroom_tests::dns::{TestDns, Zone};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD};
use mailroom_tests::{both_binaries, maildir, pop3, Flavor, TestServer};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const TRUSTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const LATECOMER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);

/// The table `name` of the config, made if missing.
fn table<'a>(doc: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    doc.entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("a table")
}

fn strings(list: &[&str]) -> toml::Value {
    toml::Value::Array(
        list.iter()
            .map(|s| toml::Value::String(s.to_string()))
            .collect(),
    )
}

/// Poll until `f` holds: a session's errors count once the server has seen it end.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn greeting(s: &TestServer, from: Ipv4Addr) -> Reply {
    let (mut c, g) = Smtp::connect_from(s.smtp, from).expect("connect");
    if g.code == 220 {
        let _ = c.command("QUIT");
    }
    g
}

/// One session from `from` with `n` failed AUTH PLAIN attempts.
fn fail_auth(s: &TestServer, from: Ipv4Addr, n: usize) {
    let (mut c, g) = Smtp::connect_from(s.smtp, from).expect("connect");
    assert_eq!(g.code, 220, "{g:?}");
    assert_eq!(c.command("EHLO attacker.test").unwrap().code, 250);
    let wrong = base64(format!("\0{ALICE}\0not-the-password").as_bytes());
    for _ in 0..n {
        let r = c.command(&format!("AUTH PLAIN {wrong}")).unwrap();
        assert_eq!(r.code, 535, "{r:?}");
    }
    let _ = c.command("QUIT");
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: <sender@far.test>\r\nTo: <alice@example.com>\r\nSubject: {subject}\r\n\
         Message-Id: <{}@far.test>\r\n\r\nbody\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

/// One POP3 session from `from` with `n` failed USER/PASS logins.
fn fail_pop3_login(addr: SocketAddr, from: Ipv4Addr, n: usize) {
    use std::io::Write;
    let (mut stream, g) = pop3_greeting(addr, from);
    assert!(g.starts_with("+OK"), "{g}");
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = || {
        let mut l = String::new();
        reader.read_line(&mut l).unwrap();
        l
    };
    for _ in 0..n {
        stream
            .write_all(b"USER alice\r\nPASS wrong-password\r\n")
            .unwrap();
        assert!(line().starts_with("+OK"));
        let r = line();
        assert!(r.starts_with("-ERR"), "{r}");
    }
    stream.write_all(b"QUIT\r\n").unwrap();
    let _ = line();
}

fn ids_blocks_after_failed_auth(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let (pop3_addr, _) = pop3::enable(&s, false);
    s.edit_config(|doc| {
        let ids = table(doc, "ids");
        ids.insert("block_after".into(), 3.into());
        ids.insert("never_block".into(), strings(&["127.0.0.3/32"]));
    });
    s.cli_ok(&["check"]);
    s.serve();

    // Two failures, then a third in a new session: blocked.
    fail_auth(&s, ATTACKER, 2);
    assert_eq!(
        greeting(&s, ATTACKER).code,
        220,
        "two errors are not enough"
    );
    fail_auth(&s, ATTACKER, 1);
    eventually("the attacker's block", || {
        greeting(&s, ATTACKER).code == 421
    });
    let refused = greeting(&s, ATTACKER);
    assert!(refused.text.contains("blocked"), "{refused:?}");
    // Everyone else is served meanwhile, and the never-block address whatever it does.
    assert_eq!(greeting(&s, OTHER).code, 220);
    for _ in 0..3 {
        fail_auth(&s, TRUSTED, 3);
    }
    assert_eq!(greeting(&s, TRUSTED).code, 220);
    let (mut c, _) = Smtp::connect_from(s.smtp, OTHER).unwrap();
    assert_eq!(c.command("EHLO other.test").unwrap().code, 250);
    let r = c
        .send_mail("sender@far.test", "alice@example.com", &message("served"))
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");

    // A block refuses every service; failed POP3 logins count as well.
    let (_c, g) = pop3_greeting(pop3_addr, ATTACKER);
    assert!(
        g.starts_with("-ERR [SYS/TEMP] Your address is blocked"),
        "{g}"
    );
    let pop3_guesser = Ipv4Addr::new(127, 0, 0, 7);
    fail_pop3_login(pop3_addr, pop3_guesser, 3);
    eventually("the POP3 guesser's block", || {
        greeting(&s, pop3_guesser).code == 421
    });

    // The CLI shows the block; the block survives a restart.
    let list = String::from_utf8_lossy(&s.cli_ok(&["ids", "list"]).stdout).into_owned();
    assert!(
        list.contains("127.0.0.2") && list.contains("3 client errors"),
        "{list}"
    );
    assert!(!list.contains("127.0.0.3"), "{list}");
    s.kill();
    s.serve();
    assert_eq!(greeting(&s, ATTACKER).code, 421, "blocked after a restart");

    // Unblocked and blocked by hand while the server runs.
    s.cli_ok(&["ids", "unblock", "127.0.0.2"]);
    eventually("the unblock", || greeting(&s, ATTACKER).code == 220);
    let out = s.cli_ok(&["ids", "block", "127.0.0.4", "--minutes", "5"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.4 blocked until"));
    eventually("the manual block", || greeting(&s, OTHER).code == 421);
    let list = String::from_utf8_lossy(&s.cli_ok(&["ids", "list"]).stdout).into_owned();
    assert!(
        list.contains("127.0.0.4") && !list.contains("127.0.0.2 "),
        "{list}"
    );
}

/// A server looking clients up in `bl.test` through `dns`; 127.0.0.2 is listed.
fn dnsbl_server(
    flavor: Flavor,
    dns: SocketAddr,
    dns_timeout: &str,
    dnsbl_timeout: &str,
) -> TestServer {
    let mut s = TestServer::setup(flavor);
    s.edit_config(|doc| {
        let smtp = table(doc, "smtp");
        smtp.insert("dnsbl".into(), strings(&["bl.test"]));
        smtp.insert("dnsbl_timeout".into(), dnsbl_timeout.into());
        let d = table(doc, "dns");
        d.insert("servers".into(), strings(&[&dns.to_string()]));
        d.insert("timeout".into(), dns_timeout.into());
        d.insert("attempts".into(), 2.into());
        table(doc, "ids").insert("never_block".into(), strings(&[]));
    });
    s.cli_ok(&["check"]);
    s.serve();
    s
}

fn dnsbl_refuses_a_listed_client(flavor: Flavor) {
    let dns = TestDns::start(Zone::new().ip("2.0.0.127.bl.test", "127.0.0.2"));
    let s = dnsbl_server(flavor, dns.addr, "5s", "5s");

    let (mut c, _) = Smtp::connect_from(s.smtp, ATTACKER).unwrap();
    assert_eq!(c.command("EHLO listed.test").unwrap().code, 250);
    let r = c.command("MAIL FROM:<spam@far.test>").unwrap();
    assert_eq!(r.code, 554, "{r:?}");
    assert!(
        r.text.contains("bl.test") && r.text.contains("127.0.0.2"),
        "{r:?}"
    );
    // Asked once per session: the second MAIL is refused from memory.
    assert_eq!(c.command("MAIL FROM:<spam2@far.test>").unwrap().code, 554);
    let _ = c.command("QUIT");

    // An unlisted client is served.
    let (mut c, _) = Smtp::connect_from(s.smtp, OTHER).unwrap();
    assert_eq!(c.command("EHLO clean.test").unwrap().code, 250);
    let r = c
        .send_mail("sender@far.test", "alice@example.com", &message("clean"))
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");

    // The listed address, authenticated, is a user sending: not checked.
    let (mut c, _) = Smtp::connect_from(s.smtp, ATTACKER).unwrap();
    assert_eq!(c.command("EHLO laptop.test").unwrap().code, 250);
    let login = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
    assert_eq!(c.command(&format!("AUTH PLAIN {login}")).unwrap().code, 235);
    let r = c
        .send_mail(
            "alice@example.com",
            "alice@example.com",
            &message("submitted"),
        )
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");

    let subjects: Vec<String> = maildir::visible(&s.maildir(ALICE))
        .iter()
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.iter().any(|m| m.contains("Subject: clean")));
    assert!(subjects.iter().any(|m| m.contains("Subject: submitted")));
}

fn dnsbl_fails_open_within_its_timeout(flavor: Flavor) {
    // A DNS server that takes every question and never answers. Unbounded, the
    // resolver would wait [dns] timeout × attempts = 120 s; dnsbl_timeout is 2 s.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = dnsbl_server(flavor, silent.local_addr().unwrap(), "60s", "2s");
    let (mut c, _) = Smtp::connect_from(s.smtp, ATTACKER).unwrap();
    c.set_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(c.command("EHLO patient.test").unwrap().code, 250);
    let r = c
        .send_mail(
            "sender@far.test",
            "alice@example.com",
            &message("not delayed"),
        )
        .expect("the MAIL reply comes within dnsbl_timeout, well inside 30 s");
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
    assert_eq!(maildir::visible(&s.maildir(ALICE)).len(), 1);
    drop(silent);
}

fn pop3_greeting(addr: SocketAddr, from: Ipv4Addr) -> (std::net::TcpStream, String) {
    let s = tcp_from(from, addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut line = String::new();
    BufReader::new(s.try_clone().unwrap())
        .read_line(&mut line)
        .expect("a greeting");
    (s, line)
}

fn connection_caps(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let (pop3_addr, _) = pop3::enable(&s, false);
    s.edit_config(|doc| {
        let limits = table(doc, "limits");
        limits.insert("max_per_client".into(), 1.into());
        let smtp = table(limits, "smtp");
        smtp.insert("max_connections".into(), 4.into());
        smtp.insert("max_per_client".into(), 2.into());
        table(doc, "ids").insert("never_block".into(), strings(&["127.0.0.6"]));
    });
    s.cli_ok(&["check"]);
    s.serve();

    // Two sessions from one address are served; its third is turned away.
    let mut held = Vec::new();
    for _ in 0..2 {
        let (c, g) = Smtp::connect_from(s.smtp, ATTACKER).unwrap();
        assert_eq!(g.code, 220, "{g:?}");
        held.push(c);
    }
    let busy = greeting(&s, ATTACKER);
    assert_eq!(busy.code, 421, "{busy:?}");
    assert!(busy.text.contains("Too many connections"), "{busy:?}");
    // Others are served up to the service's cap of 4 (the start-up check's own
    // connection may still be counted for a moment).
    let (c, g) = Smtp::connect_from(s.smtp, OTHER).unwrap();
    assert_eq!(g.code, 220, "{g:?}");
    held.push(c);
    let mut fourth = None;
    eventually("a fourth connection", || {
        let (c, g) = Smtp::connect_from(s.smtp, TRUSTED).unwrap();
        let ok = g.code == 220;
        if ok {
            fourth = Some(c);
        }
        ok
    });
    held.extend(fourth);
    assert_eq!(greeting(&s, LATECOMER).code, 421, "the service is full");
    // One session ends: the latecomer gets its place.
    let mut first = held.remove(0);
    assert_eq!(first.command("QUIT").unwrap().code, 221);
    eventually("a free place", || greeting(&s, LATECOMER).code == 220);
    // The served sessions still work.
    assert_eq!(held[0].command("EHLO held.test").unwrap().code, 250);
    let r = held[0]
        .send_mail("sender@far.test", "alice@example.com", &message("held"))
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");

    // POP3 has the [limits] default of this config: one connection per client.
    let (_first, g) = pop3_greeting(pop3_addr, ATTACKER);
    assert!(g.starts_with("+OK"), "{g}");
    let (_second, g) = pop3_greeting(pop3_addr, ATTACKER);
    assert!(g.starts_with("-ERR [SYS/TEMP] Too many connections"), "{g}");
    let (_other, g) = pop3_greeting(pop3_addr, OTHER);
    assert!(g.starts_with("+OK"), "{g}");
    // A never-block address has no per-client cap (the service's cap still holds).
    let trusted = Ipv4Addr::new(127, 0, 0, 6);
    let (_t1, g) = pop3_greeting(pop3_addr, trusted);
    assert!(g.starts_with("+OK"), "{g}");
    let (_t2, g) = pop3_greeting(pop3_addr, trusted);
    assert!(g.starts_with("+OK"), "{g}");
}

both_binaries!(
    ids_blocks_after_failed_auth,
    dnsbl_refuses_a_listed_client,
    dnsbl_fails_open_within_its_timeout,
    connection_caps
);
