//! POP3 session behaviour against a fake maildrop: states, listings, retrieval,
//! deletion semantics, locking, logins and access control.

mod pop3_support;

use mailroom_core::challenge::apop_digest;
use mailroom_core::config::PlaintextAuth;
use mailroom_core::pop3::Pop3Event;
use mailroom_core::{Input, Instant, Machine};
use pop3_support::*;

const M1: &[u8] = b"Subject: one\r\n\r\nfirst body\r\n.starts with a dot\r\n";
const M2: &[u8] = b"Subject: two\r\nX: y\r\n\r\nl1\r\nl2\r\nl3\r\n";
/// Written by another program: bare LF line ends and no final line end.
const M3: &[u8] = b"Subject: three\n\nbare\n.\nlast";

fn client() -> (Client, Maildrop) {
    let c = Client::new(snapshot(config(), ""), info("192.168.1.20"));
    (c, Maildrop::with(&[M1, M2, M3]))
}

/// Undo byte-stuffing of a multi-line response body (lines after the first, up to
/// the terminating dot).
fn unstuff(response: &str) -> String {
    let body = response.split_once("\r\n").map(|x| x.1).unwrap_or("");
    let body = body
        .strip_suffix(".\r\n")
        .expect("terminated by a dot line");
    body.split_inclusive("\r\n")
        .map(|l| l.strip_prefix('.').unwrap_or(l))
        .collect()
}

#[test]
fn greeting_and_login() {
    let (mut c, mut d) = client();
    assert!(
        c.greeting().starts_with("+OK mail.example.com POP3"),
        "{}",
        c.greeting()
    );
    assert!(
        !c.greeting().contains('<'),
        "no APOP timestamp unless enabled"
    );
    assert_eq!(c.cmd(&mut d, "USER alice"), "+OK Send your password\r\n");
    let r = c.cmd(&mut d, "PASS secret");
    assert!(
        r.starts_with("+OK Logged in, maildrop has 3 messages"),
        "{r}"
    );
    assert_eq!(c.server.account(), Some("alice"));
    assert!(d.locked);
}

#[test]
fn stat_and_list_agree_with_each_other_and_with_retr() {
    let (mut c, mut d) = client();
    login(&mut c, &mut d);
    let stat = c.cmd(&mut d, "STAT");
    let list = c.cmd(&mut d, "LIST");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("+OK 3 messages (115 octets)"),
        "{list}"
    );
    assert_eq!(lines.last().copied(), Some("."));
    let sizes: Vec<u64> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sizes.len(), 3);
    let total: u64 = sizes.iter().sum();
    assert_eq!(stat, format!("+OK 3 {total}\r\n"));
    for (i, size) in sizes.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            c.cmd(&mut d, &format!("LIST {n}")),
            format!("+OK {n} {size}\r\n")
        );
        let retr = c.cmd(&mut d, &format!("RETR {n}"));
        assert!(
            retr.starts_with(&format!("+OK {size} octets\r\n")),
            "{retr}"
        );
        assert_eq!(unstuff(&retr).len() as u64, *size, "message {n}");
    }
    // RETR sends the stored bytes exactly when they are CRLF already.
    assert_eq!(unstuff(&c.cmd(&mut d, "RETR 1")).as_bytes(), M1);
    // A bare-LF message goes out with CRLF, and its last line is terminated.
    assert_eq!(
        unstuff(&c.cmd(&mut d, "RETR 3")),
        "Subject: three\r\n\r\nbare\r\n.\r\nlast\r\n"
    );
    assert!(c
        .cmd(&mut d, "RETR 1")
        .contains("\r\n..starts with a dot\r\n"));
}

#[test]
fn uidl_lists_the_driver_uids() {
    let (mut c, mut d) = client();
    login(&mut c, &mut d);
    assert_eq!(
        c.cmd(&mut d, "UIDL"),
        "+OK Unique-ID listing follows\r\n1 uid1\r\n2 uid2\r\n3 uid3\r\n.\r\n"
    );
    assert_eq!(c.cmd(&mut d, "UIDL 2"), "+OK 2 uid2\r\n");
    c.cmd(&mut d, "DELE 2");
    assert_eq!(
        c.cmd(&mut d, "UIDL"),
        "+OK Unique-ID listing follows\r\n1 uid1\r\n3 uid3\r\n.\r\n"
    );
    assert!(c.cmd(&mut d, "UIDL 2").starts_with("-ERR"));
}

#[test]
fn top_sends_header_and_n_body_lines() {
    let (mut c, mut d) = client();
    login(&mut c, &mut d);
    let top = |c: &mut Client, d: &mut Maildrop, n: u32| unstuff(&c.cmd(d, &format!("TOP 2 {n}")));
    assert_eq!(top(&mut c, &mut d, 0), "Subject: two\r\nX: y\r\n\r\n");
    assert_eq!(
        top(&mut c, &mut d, 2),
        "Subject: two\r\nX: y\r\n\r\nl1\r\nl2\r\n"
    );
    assert_eq!(top(&mut c, &mut d, 50).as_bytes(), M2);
    assert!(c.cmd(&mut d, "TOP 9 1").starts_with("-ERR"));
    assert!(c.cmd(&mut d, "TOP 1").starts_with("-ERR"));
    // TOP does not count as reading the message.
    c.cmd(&mut d, "QUIT");
    assert!(d.seen.is_empty());
}

#[test]
fn dele_then_rset_keeps_everything() {
    let (mut c, mut d) = client();
    login(&mut c, &mut d);
    assert_eq!(c.cmd(&mut d, "DELE 1"), "+OK message 1 deleted\r\n");
    assert!(c.cmd(&mut d, "DELE 1").starts_with("-ERR"));
    assert!(c.cmd(&mut d, "RETR 1").starts_with("-ERR"));
    assert!(c.cmd(&mut d, "STAT").starts_with("+OK 2 "));
    assert!(c
        .cmd(&mut d, "RSET")
        .starts_with("+OK maildrop has 3 messages"));
    let r = c.cmd(&mut d, "QUIT");
    assert!(r.starts_with("+OK") && r.contains("3 messages left"), "{r}");
    assert_eq!(d.messages.len(), 3);
    assert!(c.closed);
    assert!(!d.locked);
}

#[test]
fn dele_then_quit_removes_and_marks_retrieved_seen() {
    let (mut c, mut d) = client();
    login(&mut c, &mut d);
    c.cmd(&mut d, "RETR 2");
    c.cmd(&mut d, "RETR 1");
    c.cmd(&mut d, "DELE 1");
    c.cmd(&mut d, "DELE 3");
    let r = c.cmd(&mut d, "QUIT");
    assert!(r.contains("1 messages left"), "{r}");
    assert!(matches!(
        c.events.last(),
        Some(Pop3Event::Commit { delete, seen }) if delete == &[0, 2] && seen == &[1]
    ));
    let left: Vec<&str> = d.messages.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(left, ["uid2"]);
    assert_eq!(d.seen, ["uid2"]);
    assert!(!d.locked);
}

#[test]
fn dele_then_disconnect_or_timeout_removes_nothing() {
    let (mut c, mut d) = client();
    login(&mut c, &mut d);
    c.cmd(&mut d, "DELE 1");
    c.disconnect(&mut d);
    assert!(c.closed);
    assert_eq!(d.messages.len(), 3);
    assert!(!d.locked, "the lock goes with the connection");
    assert!(!c
        .events
        .iter()
        .any(|e| matches!(e, Pop3Event::Commit { .. })));

    let (mut c, _) = client();
    login(&mut c, &mut d);
    c.cmd(&mut d, "DELE 2");
    c.now = c.now + std::time::Duration::from_secs(599);
    c.feed(&mut d, Input::Tick);
    assert!(!c.closed);
    c.now = c.now + std::time::Duration::from_secs(2);
    c.feed(&mut d, Input::Tick);
    assert!(c.closed);
    assert!(String::from_utf8_lossy(&c.transcript)
        .ends_with("-ERR Idle for too long, closing connection\r\n"));
    assert_eq!(d.messages.len(), 3);
}

#[test]
fn commands_in_the_wrong_state() {
    let (mut c, mut d) = client();
    for cmd in [
        "STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "UIDL", "TOP 1 1",
    ] {
        assert!(
            c.cmd(&mut d, cmd).starts_with("-ERR Not logged in"),
            "{cmd}"
        );
    }
    assert_eq!(c.cmd(&mut d, "PASS secret"), "-ERR Send USER first\r\n");
    assert_eq!(c.cmd(&mut d, "FOO"), "-ERR Unknown command\r\n");
    login(&mut c, &mut d);
    for cmd in ["USER alice", "PASS x", "STLS", "AUTH PLAIN"] {
        assert_eq!(c.cmd(&mut d, cmd), "-ERR Already logged in\r\n", "{cmd}");
    }
    assert_eq!(c.cmd(&mut d, "NOOP"), "+OK \r\n");
    assert!(c.cmd(&mut d, "RETR 0").starts_with("-ERR No such message"));
    assert!(c
        .cmd(&mut d, "RETR 99999999999999999999")
        .starts_with("-ERR"));
    assert!(!c.closed);
}

#[test]
fn too_many_errors_close_the_session() {
    let (mut c, mut d) = client();
    for _ in 0..19 {
        c.cmd(&mut d, "BOGUS");
    }
    assert!(!c.closed);
    let r = c.cmd(&mut d, "BOGUS");
    assert!(
        r.ends_with("-ERR Too many errors, closing connection\r\n"),
        "{r}"
    );
    assert!(c.closed);
}

#[test]
fn concurrent_login_to_one_mailbox_is_refused_in_use() {
    let mut d = Maildrop::with(&[M1]);
    let snap = snapshot(config(), "");
    let mut a = Client::new(snap.clone(), info("192.168.1.20"));
    let mut b = Client::new(snap, info("192.168.1.21"));
    assert!(login(&mut a, &mut d).starts_with("+OK"));
    let r = login(&mut b, &mut d);
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    // Still in AUTHORIZATION: b may try again once a is gone.
    assert!(b.cmd(&mut d, "STAT").starts_with("-ERR Not logged in"));
    a.cmd(&mut d, "QUIT");
    assert!(login(&mut b, &mut d).starts_with("+OK"));
}

#[test]
fn failed_and_locked_logins() {
    let (mut c, mut d) = client();
    c.cmd(&mut d, "USER alice");
    assert_eq!(
        c.cmd(&mut d, "PASS wrong"),
        "-ERR [AUTH] Authentication failed\r\n"
    );
    // The name must be given again after a failure.
    assert_eq!(c.cmd(&mut d, "PASS secret"), "-ERR Send USER first\r\n");
    c.locked_out = true;
    c.cmd(&mut d, "USER alice");
    let r = c.cmd(&mut d, "PASS secret");
    assert!(r.starts_with("-ERR [AUTH] Account locked"), "{r}");
    assert!(!d.locked);
}

#[test]
fn access_file_refuses_at_connect_and_per_user_at_login() {
    let cfg = config();
    let rules = "192.168.1.0/24 bob\n10.0.0.0/8\n";
    let mut d = Maildrop::with(&[M1]);
    let c = Client::new(snapshot(cfg.clone(), rules), info("172.16.0.1"));
    assert_eq!(c.greeting(), "-ERR Access denied");
    assert!(c.closed);
    // In a user-restricted range the connection is let in; the login decides.
    let mut c = Client::new(snapshot(cfg.clone(), rules), info("192.168.1.5"));
    assert!(c.greeting().starts_with("+OK"));
    let r = login(&mut c, &mut d);
    assert_eq!(
        r,
        "-ERR [AUTH] Access denied for this user from this address\r\n"
    );
    assert!(c.closed && !d.locked);
    let mut c = Client::new(snapshot(cfg.clone(), rules), info("192.168.1.5"));
    c.users = vec![("bob", "pw")];
    c.cmd(&mut d, "USER bob");
    assert!(c.cmd(&mut d, "PASS pw").starts_with("+OK Logged in"));
    let mut c = Client::new(snapshot(cfg, rules), info("10.1.2.3"));
    assert!(login(&mut c, &mut d).starts_with("-ERR [IN-USE]"));
}

#[test]
fn apop_with_the_greeting_timestamp() {
    let mut cfg = config();
    cfg.accounts.challenge_response = true;
    let mut d = Maildrop::with(&[M1]);
    let mut c = Client::new(snapshot(cfg.clone(), ""), info("192.168.1.20"));
    let g = c.greeting();
    let ts = &g[g.find('<').unwrap()..];
    assert!(ts.ends_with("@mail.example.com>"), "{g}");
    assert_eq!(
        c.cmd(&mut d, &format!("APOP alice {}", apop_digest(ts, "wrong"))),
        "-ERR [AUTH] Authentication failed\r\n"
    );
    let r = c.cmd(&mut d, &format!("APOP alice {}", apop_digest(ts, "secret")));
    assert!(r.starts_with("+OK Logged in"), "{r}");

    // Without challenge-response there is no timestamp and no APOP.
    let (mut c, mut d) = client();
    assert!(c
        .cmd(&mut d, "APOP alice c4c9334bac560ecc979e58001b3e22fb")
        .starts_with("-ERR APOP is not available"));

    // Require APOP: the plaintext forms are refused and not advertised.
    cfg.pop3.require_apop = true;
    let mut c = Client::new(snapshot(cfg, ""), info("192.168.1.20"));
    assert!(!c.cmd(&mut d, "CAPA").contains("USER"));
    assert_eq!(
        c.cmd(&mut d, "USER alice"),
        "-ERR [AUTH] APOP is required on this server\r\n"
    );
    assert!(c
        .cmd(&mut d, "AUTH PLAIN AGFsaWNlAHNlY3JldA==")
        .contains("APOP is required"));
}

#[test]
fn capabilities_by_state_and_plaintext_policy() {
    let (mut c, mut d) = client();
    let caps = c.cmd(&mut d, "CAPA");
    for cap in [
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN",
        "STLS",
        "RESP-CODES",
        "PIPELINING",
    ] {
        assert!(caps.contains(&format!("\r\n{cap}\r\n")), "{cap} in {caps}");
    }
    login(&mut c, &mut d);
    let caps = c.cmd(&mut d, "CAPA");
    assert!(!caps.contains("STLS") && !caps.contains("USER"), "{caps}");

    // From the Internet without TLS, plaintext logins wait for STLS.
    let mut c = Client::new(snapshot(config(), ""), info("203.0.113.9"));
    let caps = c.cmd(&mut d, "CAPA");
    assert!(!caps.contains("USER") && caps.contains("STLS"), "{caps}");
    assert!(c.cmd(&mut d, "USER alice").contains("Use STLS first"));
    assert_eq!(c.cmd(&mut d, "STLS"), "+OK Begin TLS negotiation\r\n");
    assert!(c.start_tls);
    assert!(c.cmd(&mut d, "CAPA").contains("\r\nUSER\r\n"));
    assert!(c.cmd(&mut d, "STLS").starts_with("-ERR TLS already active"));
    let mut fresh = Maildrop::with(&[M1]);
    assert!(login(&mut c, &mut fresh).starts_with("+OK Logged in"));

    let mut cfg = config();
    cfg.pop3.plaintext_auth = PlaintextAuth::Always;
    let mut c = Client::new(snapshot(cfg, ""), info("203.0.113.9"));
    assert!(c.cmd(&mut d, "CAPA").contains("\r\nUSER\r\n"));
}

#[test]
fn auth_plain_both_forms() {
    let (mut c, mut d) = client();
    // "\0alice\0secret"
    assert!(c
        .cmd(&mut d, "AUTH PLAIN AGFsaWNlAHNlY3JldA==")
        .starts_with("+OK Logged in"));
    let (mut c, mut d) = client();
    assert_eq!(c.cmd(&mut d, "AUTH PLAIN"), "+ \r\n");
    assert!(c
        .cmd(&mut d, "AGFsaWNlAHNlY3JldA==")
        .starts_with("+OK Logged in"));
    let (mut c, mut d) = client();
    c.cmd(&mut d, "AUTH PLAIN");
    assert_eq!(c.cmd(&mut d, "*"), "-ERR Authentication cancelled\r\n");
    assert!(c
        .cmd(&mut d, "AUTH CRAM-MD5")
        .starts_with("-ERR Unsupported"));
    assert!(c.cmd(&mut d, "AUTH PLAIN !!!").starts_with("-ERR Invalid"));
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let (mut c, mut d) = client();
    c.feed(
        &mut d,
        Input::Bytes(
            b"USER alice\r\nPASS secret\r\nSTAT\r\nRETR 2\r\nDELE 2\r\nLIST 2\r\nQUIT\r\n",
        ),
    );
    let t = String::from_utf8_lossy(&c.transcript).into_owned();
    let order: Vec<usize> = [
        "+OK Send",
        "+OK Logged",
        "+OK 3 ",
        "+OK 34 octets",
        "l3\r\n.\r\n",
        "deleted",
        "-ERR Message already",
        "signing off",
    ]
    .iter()
    .map(|p| t.find(p).unwrap_or_else(|| panic!("{p} missing in {t}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{t}");
    assert_eq!(d.messages.len(), 2);
}

#[test]
fn long_lines_and_missing_messages() {
    let (mut c, mut d) = client();
    let long = "X".repeat(2000);
    assert_eq!(c.cmd(&mut d, &long), "-ERR Line too long\r\n");
    login(&mut c, &mut d);
    // Another program removed the files after the listing.
    c.vanished = true;
    assert_eq!(
        c.cmd(&mut d, "RETR 1"),
        "-ERR Message is no longer available\r\n"
    );
    assert!(c
        .cmd(&mut d, "TOP 2 0")
        .starts_with("-ERR Message is no longer"));
    assert_eq!(c.cmd(&mut d, "NOOP"), "+OK \r\n");
}

#[test]
fn large_message_streams_in_bounded_steps() {
    let mut big = Vec::new();
    while big.len() < 5_000_000 {
        big.extend_from_slice(b".line of the big message with a leading dot\r\n");
    }
    let mut d = Maildrop::with(&[&big]);
    let mut c = Client::new(snapshot(config(), ""), info("192.168.1.20"));
    c.chunk = 64 * 1024;
    login(&mut c, &mut d);
    c.transcript.clear();
    c.events.clear();
    // Feed RETR and follow each step: output handed out per step stays near one chunk.
    c.server.handle_input(c.now, Input::Bytes(b"RETR 1\r\n"));
    let mut steps = 0;
    let mut total = 0usize;
    loop {
        let mut out = Vec::new();
        match mailroom_core::Machine::poll_output(&mut c.server, &mut out) {
            mailroom_core::Output::Event(e) => {
                total += out.len();
                assert!(
                    out.len() <= 2 * 64 * 1024 + 64,
                    "step of {} bytes",
                    out.len()
                );
                let cmd = match e {
                    Pop3Event::Retrieve { .. } | Pop3Event::NextChunk => {
                        let pos = steps * 64 * 1024;
                        let end = (pos + 64 * 1024).min(big.len());
                        steps += 1;
                        mailroom_core::pop3::Pop3Command::Chunk {
                            data: big[pos..end].to_vec(),
                            last: end == big.len(),
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                };
                mailroom_core::Machine::handle_command(&mut c.server, Instant::from_secs(T0), cmd);
            }
            mailroom_core::Output::Wait(_) => {
                total += out.len();
                assert!(out.ends_with(b"\r\n.\r\n"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(steps, big.len().div_ceil(64 * 1024));
    // +OK line, the message, one stuffed dot per line, the end line.
    let lines = big.len() / 45;
    assert_eq!(
        total,
        format!("+OK {} octets\r\n", big.len()).len() + big.len() + lines + 3
    );
}
