//! Logs end to end through both binaries (issue 17): a message's path in
//! DIR/log/SUMMARY.LOG in VPOP3's format (§21.12) and in the SMTP transcripts,
//! ISO 8601 stamps and no colour codes in the main log, transcripts rotated to .OLD,
//! and no password in any log.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, Smtp};
use mailroom_tests::message::plain;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD};
use mailroom_tests::sink::Sink;
use mailroom_tests::{both_binaries, wait_until, Flavor, TestServer};
use std::fs;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn summary(s: &TestServer) -> String {
    fs::read_to_string(s.data.join("log").join("SUMMARY.LOG")).unwrap_or_default()
}

/// A SUMMARY.LOG line split into (code, number, name), after checking its date and
/// time: `DD/MM/YYYY HH:MM:SS.mmm - `.
fn parse(line: &str) -> (u8, u64, String) {
    let b = line.as_bytes();
    let shape_ok = b.len() > 26
        && [2, 5].iter().all(|&i| b[i] == b'/')
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b[19] == b'.'
        && &line[23..26] == " - "
        && [0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    assert!(shape_ok, "not a SUMMARY.LOG line: {line:?}");
    let mut fields = line[26..].splitn(3, ' ');
    let code = fields.next().and_then(|c| c.parse().ok()).expect("a code");
    let number = fields
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number");
    (code, number, fields.next().unwrap_or("").to_string())
}

fn entries(s: &TestServer) -> Vec<(u8, u64, String)> {
    summary(s).lines().map(parse).collect()
}

fn has(s: &TestServer, code: u8, name: &str, min_size: usize) -> bool {
    entries(s)
        .iter()
        .any(|(c, n, who)| *c == code && who == name && *n >= min_size as u64)
}

fn read_log(s: &TestServer, name: &str) -> String {
    fs::read_to_string(s.data.join("log").join(name)).unwrap_or_default()
}

/// `2026-12-07T23:05:05.123+01:00 ...`: local time with milliseconds and the offset.
fn assert_iso_stamp(line: &str) {
    let b = line.as_bytes();
    let ok = b.len() > 29
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && (b[23] == b'+' || b[23] == b'-')
        && b[26] == b':'
        && b[29] == b' ';
    assert!(ok, "no ISO 8601 stamp with offset: {line:?}");
}

/// Every file under DIR/log and the server's own output, as one text.
fn all_logs(s: &TestServer) -> String {
    let mut text = s.log();
    if let Ok(rd) = fs::read_dir(s.data.join("log")) {
        for e in rd.flatten() {
            if let Ok(b) = fs::read(e.path()) {
                text.push_str(&String::from_utf8_lossy(&b));
            }
        }
    }
    text
}

/// Mail from outside to Alice, Alice's mail to Bob and to the Internet (sent through
/// smtp-sink as the relay): each step is a SUMMARY.LOG line with its VPOP3 code.
fn a_message_path_in_summary_log(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = TestServer::setup(flavor);
    s.edit_config(|doc| {
        let mut outmail = toml::Table::new();
        outmail.insert("method".into(), "relay".into());
        outmail.insert(
            "relays".into(),
            toml::Value::Array(vec![sink.addr.to_string().into()]),
        );
        TestServer::set_lan_connection(doc, outmail);
    });
    s.add_config("[logs]\nsmtp_server = true\nsmtp_client = true\n");
    s.serve();

    // From outside, no login: code 0 for Alice.
    let incoming = plain("summary-in", 2000);
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO far.test").unwrap().code, 250);
    let r = c
        .send_mail("someone@far.test", "alice@example.com", &incoming)
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");

    // Alice logs in and writes to Bob and to the Internet.
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    let auth = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
    assert_eq!(c.command(&format!("AUTH PLAIN {auth}")).unwrap().code, 235);
    let out = plain("summary-out", 3000);
    for (cmd, want) in [
        ("MAIL FROM:<alice@example.com>", 250),
        ("RCPT TO:<bob@example.com>", 250),
        ("RCPT TO:<carol@far.test>", 250),
        ("DATA", 354),
    ] {
        assert_eq!(c.command(cmd).unwrap().code, want, "{cmd}");
    }
    c.send(&mailroom_tests::client::dot_stuff(&out)).unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    let _ = c.command("QUIT");

    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "smtp-sink got nothing\n{}", s.log());
    let sent = wait_until(WAIT, || has(&s, 7, "carol@far.test", out.len()));
    let text = summary(&s);
    assert!(sent, "no code 7 line for the relayed copy\n{text}");
    assert!(has(&s, 0, "alice", incoming.len()), "{text}");
    assert!(has(&s, 0, "bob", out.len()), "{text}");
    assert!(has(&s, 1, "alice", out.len()), "{text}");
    assert!(has(&s, 3, "alice", out.len()), "{text}");
    // Nothing else: one line per event.
    assert_eq!(entries(&s).len(), 5, "{text}");

    // The transcripts show both conversations, the login only as a note.
    let svr = read_log(&s, "SMTPSVR.LOG");
    assert!(svr.contains("< AUTH PLAIN [secret not logged]"), "{svr}");
    assert!(svr.contains("< MAIL FROM:<alice@example.com>"), "{svr}");
    assert!(svr.contains("> 354 "), "{svr}");
    assert!(svr.contains("octets of message data not logged]"), "{svr}");
    assert!(
        !svr.contains("summary-out line"),
        "message text in the transcript\n{svr}"
    );
    let clt = read_log(&s, "SMTPCLT.LOG");
    assert!(clt.contains("> RCPT TO:<carol@far.test>"), "{clt}");
    assert!(clt.contains("< 250"), "{clt}");
    for line in svr.lines().chain(clt.lines()) {
        assert_iso_stamp(line);
    }
    // The main log: ISO 8601 stamps with their offset, no colour codes in files or
    // pipes (the server's stderr here is a file).
    let main = read_log(&s, "mailroom.log");
    assert!(main.lines().count() > 3, "{main}");
    for line in main.lines().filter(|l| l.starts_with("20")) {
        assert_iso_stamp(line);
    }
    assert!(!main.contains('\x1b'), "colour codes in mailroom.log");
    assert!(
        !s.log().contains('\x1b'),
        "colour codes on a redirected stderr"
    );

    // The password, and the AUTH data that carries it, are in no log.
    let logs = all_logs(&s);
    assert!(!logs.contains(ALICE_PASSWORD), "a log holds the password");
    assert!(!logs.contains(&auth), "a log holds the AUTH data");
}

/// A transcript past `transcript_max_kb` becomes SMTPSVR.OLD and a new one starts.
fn transcripts_rotate(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    s.add_config("[logs]\nsmtp_server = true\ntranscript_max_kb = 1\n");
    s.serve();
    for i in 0..20 {
        let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
        assert_eq!(
            c.command(&format!("EHLO client{i}.test")).unwrap().code,
            250
        );
        let _ = c.command("QUIT");
    }
    let log = s.data.join("log");
    let ok = wait_until(WAIT, || log.join("SMTPSVR.OLD").exists());
    assert!(ok, "no SMTPSVR.OLD\n{}", read_log(&s, "SMTPSVR.LOG"));
    for name in ["SMTPSVR.LOG", "SMTPSVR.OLD"] {
        let len = fs::metadata(log.join(name)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0 && len <= 1024, "{name}: {len} bytes");
    }
    // Whole lines only: every line of both files is a transcript line.
    let both = read_log(&s, "SMTPSVR.OLD") + &read_log(&s, "SMTPSVR.LOG");
    for line in both.lines() {
        assert_iso_stamp(line);
    }
    assert!(both.contains("< EHLO client19.test"), "{both}");
}

both_binaries!(
    transcripts_rotate,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    a_message_path_in_summary_log,
);

/// Send `lines` one at a time over a plain connection to `addr`, reading one reply
/// line after the greeting and after each (enough for these commands).
fn converse(addr: std::net::SocketAddr, lines: &[&str]) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut replies = Vec::new();
    let mut read = |replies: &mut Vec<String>| {
        let mut l = String::new();
        reader.read_line(&mut l).expect("a reply");
        replies.push(l);
    };
    read(&mut replies);
    for line in lines {
        w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        read(&mut replies);
    }
    replies
}

/// POP3 and IMAP logins in POP3SVR.LOG and IMAPSVR.LOG: the commands are there, the
/// password is not.
fn pop3_and_imap_transcripts_hide_the_password(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let pop3 = s.add_listener("pop3");
    let imap = s.add_listener("imap");
    s.add_config("[logs]\npop3_server = true\nimap_server = true\n");
    s.serve();
    let r = converse(
        pop3,
        &[
            "USER alice",
            &format!("PASS {ALICE_PASSWORD}"),
            "STAT",
            "QUIT",
        ],
    );
    assert!(r[2].starts_with("+OK"), "{r:?}");
    let r = converse(
        imap,
        &[&format!("a1 LOGIN alice {ALICE_PASSWORD}"), "a2 LOGOUT"],
    );
    assert!(r[1].starts_with("a1 OK"), "{r:?}");

    let pop = read_log(&s, "POP3SVR.LOG");
    assert!(pop.contains("< USER alice"), "{pop}");
    assert!(pop.contains("< PASS [secret not logged]"), "{pop}");
    assert!(pop.contains("< STAT"), "{pop}");
    let imap_log = read_log(&s, "IMAPSVR.LOG");
    assert!(
        imap_log.contains("< a1 LOGIN [secret not logged]"),
        "{imap_log}"
    );
    assert!(imap_log.contains("> a1 OK"), "{imap_log}");
    for line in pop.lines().chain(imap_log.lines()) {
        assert_iso_stamp(line);
    }
    assert!(
        !all_logs(&s).contains(ALICE_PASSWORD),
        "a log holds the password"
    );
}

both_binaries!(pop3_and_imap_transcripts_hide_the_password);
