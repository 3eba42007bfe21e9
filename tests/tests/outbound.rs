//! Outbound delivery end to end through both binaries (issue 5): through Postfix's
//! smtp-sink as a relay (the first relay of the list down), through a mailroom server
//! as a relay that needs SMTP AUTH after STARTTLS (certificate checked), straight to
//! the second MX of a domain served by a test DNS server (the first MX down, the MX
//! answer truncated over UDP), `queue list/flush/del`, and SIGKILL while sending.
#![allow(clippy::disallowed_methods)]

use mail_parser::MimeHeaders;
use mailroom_tests::client::{base64, Smtp};
use mailroom_tests::dns::{TestDns, Zone};
use mailroom_tests::message::plain;
use mailroom_tests::postfix::{PostfixRelay, REALM};
use mailroom_tests::server::{free_port, ALICE, ALICE_PASSWORD, BOB};
use mailroom_tests::sink::Sink;
use mailroom_tests::{both_binaries, maildir, wait_until, Flavor, TestServer};
use std::fs;
use std::time::Duration;

const SENDER_DOMAIN: &str = "sender.test";
const WAIT: Duration = Duration::from_secs(60);

/// A server whose own domain is sender.test (so example.com is remote), with one LAN
/// connection whose Out Mail is `outmail`, and `extra` top-level tables.
fn sender(flavor: Flavor, outmail: toml::Table, extra: &[(&str, toml::Table)]) -> TestServer {
    let s = TestServer::setup(flavor);
    s.edit_config(|doc| {
        doc.insert("default_domain".into(), SENDER_DOMAIN.into());
        doc.insert(
            "local_domains".into(),
            toml::Value::Array(vec![SENDER_DOMAIN.into()]),
        );
        TestServer::set_lan_connection(doc, outmail);
        for (k, t) in extra {
            doc.insert((*k).into(), toml::Value::Table(t.clone()));
        }
    });
    s
}

/// Out Mail through the relays at `addrs`, in order.
fn relay_via(addrs: &[&str]) -> toml::Table {
    table(&[("method", "relay".into()), ("relays", strings(addrs))])
}

/// The `[smtp]` table of a config, made if missing.
fn smtp_table(doc: &mut toml::Table) -> &mut toml::Table {
    let smtp = doc
        .entry("smtp")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match smtp {
        toml::Value::Table(t) => t,
        other => panic!("[smtp] is not a table: {other}"),
    }
}

/// Out Mail through `relay`, logged in as `user`, with `more` settings.
fn relay_login(
    relay: &str,
    user: &str,
    password: &str,
    more: &[(&str, toml::Value)],
) -> toml::Table {
    let mut t = relay_via(&[relay]);
    t.insert("auth_user".into(), user.into());
    t.insert("auth_password".into(), password.into());
    t.extend(table(more));
    t
}

/// What `queue list` prints.
fn queue_list(server: &TestServer) -> String {
    String::from_utf8_lossy(&server.cli_ok(&["queue", "list"]).stdout).into_owned()
}

/// Within [`WAIT`], `queue list` shows `needle`; that listing.
fn queue_list_shows(server: &TestServer, needle: &str) -> String {
    let listed = wait_until(WAIT, || queue_list(server).contains(needle));
    let out = queue_list(server);
    assert!(listed, "{out}\n{}", server.log());
    out
}

/// Within [`WAIT`], the queue of `server` is empty.
fn assert_queue_empties(server: &TestServer) {
    assert!(
        wait_until(WAIT, || queued(server) == 0),
        "still queued\n{}",
        server.log()
    );
}

fn table(pairs: &[(&str, toml::Value)]) -> toml::Table {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

fn strings(v: &[&str]) -> toml::Value {
    toml::Value::Array(
        v.iter()
            .map(|s| toml::Value::String(s.to_string()))
            .collect(),
    )
}

/// An SMTP session with `server`, greeted, after EHLO, logged in as Alice.
fn alice_session(server: &TestServer) -> Smtp {
    let (mut c, greeting) = Smtp::connect(server.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    let auth = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
    assert_eq!(c.command(&format!("AUTH PLAIN {auth}")).unwrap().code, 235);
    c
}

/// Alice (logged in) sends `token` to `to` through `server`.
fn submit(server: &TestServer, token: &str, to: &str) {
    let mut c = alice_session(server);
    let r = c
        .send_mail(&format!("alice@{SENDER_DOMAIN}"), to, &plain(token, 3000))
        .expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", server.log());
    let _ = c.command("QUIT");
}

fn queue_dir(server: &TestServer) -> std::path::PathBuf {
    server.data.join("spool").join("queue")
}

fn queued(server: &TestServer) -> usize {
    fs::read_dir(queue_dir(server))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
                .count()
        })
        .unwrap_or(0)
}

/// The delivery-status part of a report from Mailer_Daemon about the message whose
/// subject holds `subject`, after checking that it is one.
fn delivery_status(data: &[u8], subject: &str) -> String {
    let m = mail_parser::MessageParser::default()
        .parse(data)
        .expect("a message");
    let ct = m.content_type().expect("a content type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let from = m
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("");
    assert_eq!(from, "Mailer_Daemon@sender.test");
    assert!(m.subject().unwrap_or("").contains(subject));
    m.parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.subtype() == Some("delivery-status"))
        })
        .map(|p| String::from_utf8_lossy(p.contents()).into_owned())
        .expect("a delivery-status part")
}

fn relay_to_smtp_sink(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let dead = format!("127.0.0.1:{}", free_port());
    let outmail = relay_via(&[&dead, &sink.addr.to_string()]);
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "relay-sink-1", "bob@example.com");
    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "smtp-sink got nothing\n{}", s.log());
    assert!(
        got[0].contains("X-Mail-Args: <alice@sender.test>"),
        "{}",
        got[0]
    );
    assert!(
        got[0].contains("X-Rcpt-Args: <bob@example.com>"),
        "{}",
        got[0]
    );
    assert!(got[0].contains("Subject: e2e relay-sink-1"));
    assert_queue_empties(&s);
    // The first relay of the list was tried and found down.
    assert!(s.log().contains(&dead), "{}", s.log());
}

fn a_refusal_bounces_to_the_local_sender(flavor: Flavor) {
    let sink = Sink::start(&["-f", "RCPT", "-B", "550 5.1.1 no such user here"]);
    let outmail = relay_via(&[&sink.addr.to_string()]);
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "bounce-1", "ghost@example.com");
    let bounced = wait_until(WAIT, || !maildir::visible(&s.maildir(ALICE)).is_empty());
    assert!(bounced, "no bounce for alice\n{}", s.log());
    assert_queue_empties(&s);
    let (_, data) = maildir::visible(&s.maildir(ALICE)).remove(0);
    let status = delivery_status(&data, "e2e bounce-1");
    assert!(
        status.contains("Final-Recipient: rfc822; ghost@example.com"),
        "{status}"
    );
    assert!(status.contains("Action: failed"), "{status}");
    assert!(status.contains("Status: 5.1.1"), "{status}");
    assert!(status.contains("550 5.1.1 no such user here"), "{status}");
    assert!(
        sink.messages().is_empty(),
        "nothing was accepted by the relay"
    );
}

fn relay_with_auth_and_starttls(flavor: Flavor) {
    // The relay: a mailroom server for example.com that relays only for logged-in
    // users, offering STARTTLS with its development certificate.
    let relay = TestServer::start(flavor);
    let outmail = relay_login(
        &relay.smtp.to_string(),
        ALICE,
        ALICE_PASSWORD,
        &[
            ("tls", "required".into()),
            (
                "ca_file",
                relay.cert().to_string_lossy().into_owned().into(),
            ),
        ],
    );
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "relay-auth-1", "carol@far.test");
    // The relay queued it for far.test, as an authenticated submission from alice.
    let rq = relay.data.join("spool").join("queue");
    let found = wait_until(WAIT, || {
        fs::read_dir(&rq).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".env"))
        })
    });
    assert!(
        found,
        "the relay queued nothing\n{}\n--- relay ---\n{}",
        s.log(),
        relay.log()
    );
    let env = fs::read_dir(&rq)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".env"))
        .map(|e| fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(env.contains("auth_user = \"alice\""), "{env}");
    // It came over STARTTLS and AUTH (the relay's own trace line says so).
    let eml = fs::read_dir(&rq)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .map(|e| fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(eml.contains("with ESMTPSA"), "{eml}");
    assert!(env.contains("carol@far.test"), "{env}");
    assert_queue_empties(&s);
}

fn relay_through_postfix_with_smtp_auth(flavor: Flavor) {
    let user = "office";
    let password = "office-secret-1";
    let postfix = PostfixRelay::start(user, password);
    let login = format!("{user}@{REALM}");
    let outmail = relay_login(&postfix.addr.to_string(), &login, password, &[]);
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "relay-postfix-1", "carol@far.test");
    assert!(
        wait_until(WAIT, || postfix.held().len() == 1),
        "Postfix holds nothing\n{}\n--- maillog ---\n{}",
        s.log(),
        postfix.maillog()
    );
    let held = postfix.held().remove(0);
    assert!(held.contains("relay-postfix-1"), "{held}");
    assert!(held.contains("carol@far.test"), "{held}");
    assert!(postfix
        .maillog()
        .contains(&format!("sasl_method=PLAIN, sasl_username={login}")));
    assert_queue_empties(&s);
}

fn relay_with_an_unverifiable_certificate_keeps_the_mail(flavor: Flavor) {
    // The relay's development certificate is signed by nobody the system trusts, and
    // relays are verified by default: nothing is sent, the mail waits.
    let relay = TestServer::start(flavor);
    let outmail = relay_login(&relay.smtp.to_string(), ALICE, ALICE_PASSWORD, &[]);
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "relay-badcert-1", "carol@far.test");
    let out = queue_list_shows(&s, "1 attempt");
    assert!(out.to_ascii_lowercase().contains("certificate"), "{out}");
    let rq = relay.data.join("spool").join("queue");
    assert!(
        fs::read_dir(&rq).map_or(true, |rd| rd.count() == 0),
        "the relay got it anyway"
    );
}

fn relay_refusing_the_password_keeps_the_mail(flavor: Flavor) {
    let relay = TestServer::start(flavor);
    let outmail = relay_login(
        &relay.smtp.to_string(),
        ALICE,
        "wrong password",
        &[("tls_verify", "never".into())],
    );
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "relay-badauth-1", "carol@far.test");
    let out = queue_list_shows(&s, "535");
    assert!(out.contains("waiting, 1 attempt"), "{out}");
    assert!(out.contains("authentication refused"), "{out}");
    assert_eq!(queued(&s), 1);
}

fn direct_to_the_second_mx(flavor: Flavor) {
    let receiver = TestServer::start(flavor);
    let zone = Zone::new()
        .mx("example.com", 10, "mx1.example.com")
        .mx("example.com", 20, "mx2.example.com")
        .ip("mx1.example.com", "127.0.0.2")
        .ip("mx2.example.com", "127.0.0.1")
        .truncated("example.com");
    let dns = TestDns::start(zone);
    let outmail = table(&[("method", "direct".into())]);
    let port = i64::from(receiver.smtp.port());
    let extra = [
        (
            "dns",
            table(&[("servers", strings(&[&dns.addr.to_string()]))]),
        ),
        ("outbound", table(&[("direct_port", port.into())])),
    ];
    let mut s = sender(flavor, outmail, &extra);
    s.serve();
    submit(&s, "direct-mx-1", &format!("{BOB}@example.com"));
    let arrived = wait_until(WAIT, || {
        maildir::visible(&receiver.maildir(BOB))
            .iter()
            .any(|(_, d)| String::from_utf8_lossy(d).contains("direct-mx-1"))
    });
    assert!(
        arrived,
        "not delivered\n{}\n--- receiver ---\n{}",
        s.log(),
        receiver.log()
    );
    assert_queue_empties(&s);
    let log = s.log();
    // The preferred MX was tried first and found down.
    assert!(log.contains("mx1.example.com (127.0.0.2"), "{log}");
    // The MX answer was truncated over UDP and fetched again over TCP.
    assert!(dns.tcp_queries.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    // The MX offered STARTTLS with a certificate nobody vouches for: used anyway
    // (opportunistic TLS for MX hosts), as the receiver's trace line shows.
    let (_, data) = maildir::visible(&receiver.maildir(BOB)).remove(0);
    let text = String::from_utf8_lossy(&data);
    let first = text.lines().take(3).collect::<Vec<_>>().join(" ");
    assert!(first.contains("with ESMTPS "), "{first}");
}

fn queue_commands(flavor: Flavor) {
    let dead = format!("127.0.0.1:{}", free_port());
    let outmail = relay_via(&[&dead]);
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    submit(&s, "queue-cmd-1", "bob@example.com");
    submit(&s, "queue-cmd-2", "carol@example.com");
    assert!(wait_until(WAIT, || {
        String::from_utf8_lossy(&s.cli_ok(&["queue", "list"]).stdout)
            .matches("1 attempt")
            .count()
            == 2
    }));
    let list = queue_list(&s);
    assert!(list.contains("2 messages queued."), "{list}");
    // Delete the one for carol.
    let carol_id = list
        .lines()
        .find(|l| l.contains("<carol@example.com>") && !l.starts_with(' '))
        .and_then(|l| l.split_whitespace().next())
        .expect("carol's entry")
        .to_string();
    s.cli_ok(&["queue", "del", &carol_id]);
    // With the server running, flush asks it.
    let out = String::from_utf8_lossy(&s.cli_ok(&["queue", "flush"]).stdout).into_owned();
    assert!(out.contains("Asked the running server"), "{out}");
    assert!(wait_until(WAIT, || !queue_dir(&s)
        .join(format!("{carol_id}.state"))
        .exists()));
    s.kill();
    // Without a server, flush sends from the command line, here to a working relay.
    let sink = Sink::start(&[]);
    s.edit_config(|doc| {
        let conns = doc
            .get_mut("connection")
            .and_then(|c| c.as_array_mut())
            .unwrap();
        let om = conns[0]
            .as_table_mut()
            .and_then(|c| c.get_mut("outmail"))
            .and_then(|o| o.as_table_mut())
            .unwrap();
        om.insert("relays".into(), strings(&[&sink.addr.to_string()]));
    });
    let out = String::from_utf8_lossy(&s.cli_ok(&["queue", "flush"]).stdout).into_owned();
    assert!(out.contains("1 delivered"), "{out}");
    assert_eq!(queued(&s), 0);
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("queue-cmd-1"));
    let list = queue_list(&s);
    assert!(list.contains("The queue is empty."), "{list}");
}

fn lan_forwarding_rules(flavor: Flavor) {
    let sink = Sink::start(&[]);
    // No connection at all: LAN forwarding does not need one.
    let s0 = TestServer::setup(flavor);
    s0.edit_config(|doc| {
        doc.insert("default_domain".into(), SENDER_DOMAIN.into());
        doc.insert("local_domains".into(), strings(&[SENDER_DOMAIN]));
    });
    let mut s = s0;
    let rules = s.data.join("SMTPFWD.DAT");
    // A bad rule is refused by `check`, with its line.
    fs::write(&rules, "# LAN forwarding\nnot-an-address 10.0.0.1\n").unwrap();
    let out = s.cli(&["check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SMTPFWD.DAT:2:"), "{text}");
    fs::write(
        &rules,
        format!("(smtp) *@branch.test {} *@hq.test\n", sink.addr),
    )
    .unwrap();
    s.cli_ok(&["check"]);
    s.serve();
    submit(&s, "lan-fwd-1", "joe@branch.test");
    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "nothing forwarded\n{}", s.log());
    assert!(got[0].contains("X-Rcpt-Args: <joe@hq.test>"), "{}", got[0]);
    assert!(got[0].contains("lan-fwd-1"));
    assert_queue_empties(&s);
}

/// MAP-7: a `~@localdomain` rule takes the addresses of a local domain that nobody
/// here has (§13.3: "some users in VPOP3 and all others on another mail server"):
/// mail from the Internet for them is accepted and forwarded to the LAN server, while
/// a local user still gets theirs.
fn unknown_local_users_go_to_the_lan_server(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = TestServer::setup(flavor);
    s.edit_config(|doc| {
        doc.insert("default_domain".into(), SENDER_DOMAIN.into());
        doc.insert("local_domains".into(), strings(&[SENDER_DOMAIN]));
    });
    // Without the rule, an unknown local user is refused at RCPT.
    let refused = {
        s.serve();
        let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
        assert_eq!(c.command("EHLO outside.test").unwrap().code, 250);
        assert_eq!(c.command("MAIL FROM:<x@outside.test>").unwrap().code, 250);
        c.command(&format!("RCPT TO:<nobody@{SENDER_DOMAIN}>"))
            .unwrap()
            .code
    };
    assert_eq!(refused, 550);
    fs::write(
        s.data.join("SMTPFWD.DAT"),
        format!(
            "# the other office's server\nfred@{SENDER_DOMAIN} 127.0.0.1:9 fred@elsewhere.test\n\
             ~@{SENDER_DOMAIN} {}\n",
            sink.addr
        ),
    )
    .unwrap();
    s.cli_ok(&["check"]);
    // The running server takes the rules with its next reload (within seconds).
    let route = |who: &str| {
        let out = s.cli_ok(&[
            "route",
            "--source",
            "smtp",
            &format!("{who}@{SENDER_DOMAIN}"),
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let explained = route("nobody");
    assert!(explained.contains("SMTPFWD.DAT line 3"), "{explained}");
    assert!(route(BOB).contains("mailbox bob"), "{}", route(BOB));
    let accepted = wait_until(WAIT, || {
        let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
        let _ = c.command("EHLO outside.test");
        let _ = c.command("MAIL FROM:<x@outside.test>");
        c.command(&format!("RCPT TO:<nobody@{SENDER_DOMAIN}>"))
            .is_ok_and(|r| r.code == 250)
    });
    assert!(accepted, "the rule was not picked up\n{}", s.log());
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO outside.test").unwrap().code, 250);
    assert_eq!(c.command("MAIL FROM:<x@outside.test>").unwrap().code, 250);
    for to in ["nobody", "bob"] {
        let r = c
            .command(&format!("RCPT TO:<{to}@{SENDER_DOMAIN}>"))
            .unwrap();
        assert_eq!(r.code, 250, "{to}: {r:?}");
    }
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send(&mailroom_tests::client::dot_stuff(&plain(
        "lan-unknown-1",
        2000,
    )))
    .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    let _ = c.command("QUIT");

    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "nothing forwarded\n{}", s.log());
    assert!(
        got[0].contains(&format!("X-Rcpt-Args: <nobody@{SENDER_DOMAIN}>")),
        "{}",
        got[0]
    );
    assert!(!got[0].contains("X-Rcpt-Args: <bob@"), "{}", got[0]);
    assert!(got[0].contains("lan-unknown-1"));
    let bob = maildir::visible(&s.maildir(BOB));
    assert_eq!(bob.len(), 1, "bob keeps his copy");
    assert_queue_empties(&s);
}

/// SMTP-8 (§7.7.3): mail for `[smtp] etrn_domains` waits in the queue until the
/// downstream server sends `ETRN` (here with Python's smtplib); other mail goes at once.
fn held_for_etrn_until_the_downstream_server_asks(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let outmail = relay_via(&[&sink.addr.to_string()]);
    let mut s = sender(flavor, outmail, &[]);
    s.edit_config(|doc| {
        let t = smtp_table(doc);
        t.insert("etrn_domains".into(), strings(&["office2.test"]));
    });
    s.serve();
    // From outside, like the Internet delivering to us as office2's backup MX.
    let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(c.command("EHLO outside.test").unwrap().code, 250);
    let r = c
        .send_mail(
            "x@outside.test",
            "martin@office2.test",
            &plain("etrn-held-1", 1000),
        )
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}\n{}", s.log());
    let _ = c.command("QUIT");
    // Mail queued after it for elsewhere goes out; the held message does not.
    submit(&s, "etrn-free-2", "bob@example.com");
    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "{}", s.log());
    assert!(got[0].contains("etrn-free-2"), "{}", got[0]);
    assert_eq!(queued(&s), 1, "the held message waits");
    let list = queue_list(&s);
    assert!(list.contains("martin@office2.test"), "{list}");

    let script = format!(
        "import smtplib\ns = smtplib.SMTP('127.0.0.1', {})\ns.ehlo('office2.test')\n\
         code, text = s.docmd('ETRN', 'office2.test')\nprint(code, text.decode())\n\
         print(*s.docmd('ETRN', 'elsewhere.test'))\ns.quit()\n",
        s.smtp.port()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("253 "), "{text}");
    assert!(text.contains("\n459 "), "{text}");
    let got = sink.wait_for(2, WAIT);
    assert_eq!(got.len(), 2, "not released\n{}", s.log());
    assert!(
        got.iter()
            .any(|m| m.contains("etrn-held-1") && m.contains("X-Rcpt-Args: <martin@office2.test>")),
        "{got:?}"
    );
    assert_queue_empties(&s);
}

/// OUT-5 (§16.1.2, RFC 3461/3464): a message with `Return-Receipt-To` that asked
/// `NOTIFY=SUCCESS` gets a transmission receipt once the relay said 250: an RFC 3464
/// report (`Action: relayed`) from Mailer_Daemon, in the local sender's mailbox.
fn success_reports_after_the_relay_took_the_message(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let outmail = relay_via(&[&sink.addr.to_string()]);
    let mut s = sender(flavor, outmail, &[]);
    s.serve();
    let mut c = alice_session(&s);
    let mut message = format!("Return-Receipt-To: Alice <alice@{SENDER_DOMAIN}>\r\n").into_bytes();
    message.extend_from_slice(&plain("receipt-1", 2000));
    assert_eq!(
        c.command(&format!("MAIL FROM:<alice@{SENDER_DOMAIN}>"))
            .unwrap()
            .code,
        250
    );
    let r = c
        .command("RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com")
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send(&mailroom_tests::client::dot_stuff(&message))
        .unwrap();
    assert_eq!(c.reply().unwrap().code, 250);
    let _ = c.command("QUIT");

    assert_eq!(sink.wait_for(1, WAIT).len(), 1, "{}", s.log());
    let arrived = wait_until(WAIT, || !maildir::visible(&s.maildir(ALICE)).is_empty());
    assert!(arrived, "no receipt for alice\n{}", s.log());
    let (_, data) = maildir::visible(&s.maildir(ALICE)).remove(0);
    let status = delivery_status(&data, "e2e receipt-1");
    assert!(
        status.contains("Final-Recipient: rfc822; bob@example.com"),
        "{status}"
    );
    assert!(status.contains("Action: relayed"), "{status}");
    assert!(status.contains("Status: 2.0.0"), "{status}");
    assert!(status.contains("Diagnostic-Code: smtp; 250"), "{status}");
}

/// OUT-2 POP3 before SMTP: the "ISP" is a mailroom server that relays only for
/// addresses that logged in to its POP3 service in the last minutes. With a wrong
/// POP3 password the mail stays queued (not bounced by the relay's refusal); with the
/// right one it goes through.
fn pop_before_smtp_to_the_relay(flavor: Flavor) {
    let mut isp = TestServer::setup(flavor);
    let (pop3, _) = mailroom_tests::pop3::enable(&isp, false);
    isp.edit_config(|doc| {
        let t = smtp_table(doc);
        t.insert("require_auth".into(), true.into());
        t.insert("pop_before_smtp_minutes".into(), 10.into());
    });
    isp.serve();
    let outmail = |password: &str| {
        table(&[
            ("method", "relay".into()),
            ("relays", strings(&[&isp.smtp.to_string()])),
            ("tls", "off".into()),
            ("pop_before_smtp", pop3.to_string().into()),
            ("pop_user", ALICE.into()),
            ("pop_password", password.into()),
        ])
    };
    let mut s = sender(flavor, outmail("wrong-password"), &[]);
    s.cli_ok(&["check"]);
    s.serve();
    submit(&s, "pop-smtp-1", "carol@far.test");
    let refused = wait_until(WAIT, || s.log().contains("POP3 before SMTP"));
    assert!(refused, "no POP3 login tried\n{}", s.log());
    assert_eq!(queued(&s), 1, "kept for a retry\n{}", s.log());
    assert!(
        maildir::visible(&s.maildir(ALICE)).is_empty(),
        "no bounce for a failed login"
    );
    s.edit_config(|doc| {
        if let Some(toml::Value::Array(conns)) = doc.get_mut("connection") {
            if let Some(toml::Value::Table(c)) = conns.first_mut() {
                c.insert(
                    "outmail".into(),
                    toml::Value::Table(outmail(ALICE_PASSWORD)),
                );
            }
        }
    });
    let rq = isp.data.join("spool").join("queue");
    let relayed = wait_until(WAIT, || {
        // Retry times are minutes away: flush until the new settings are in use.
        let _ = s.cli(&["queue", "flush"]);
        std::thread::sleep(Duration::from_millis(500));
        fs::read_dir(&rq).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".env"))
        })
    });
    assert!(
        relayed,
        "the relay took nothing\n{}\n--- relay ---\n{}",
        s.log(),
        isp.log()
    );
    assert_queue_empties(&s);
    assert!(isp.log().contains("alice"), "{}", isp.log());
}

const CRASH_MESSAGES: usize = 24;
const CRASH_SIZE: usize = 32 * 1024;

/// The last line of the message built for `token`: its presence shows a dump is whole.
fn last_line(token: &str) -> String {
    let m = plain(token, CRASH_SIZE);
    let text = String::from_utf8_lossy(&m).into_owned();
    text.trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

fn sigkill_while_sending(flavor: Flavor) {
    // A slow relay: a second before each DATA is answered, so the kill lands while
    // sessions are busy.
    let sink = Sink::start(&["-w", "1"]);
    let outmail = relay_via(&[&sink.addr.to_string()]);
    let extra = [("outbound", table(&[("per_destination", 3.into())]))];
    let mut s = sender(flavor, outmail, &extra);
    // Queue the messages while no server runs (as a local program would).
    let data = s.data.to_string_lossy().into_owned();
    for i in 0..CRASH_MESSAGES {
        let token = format!("kill-{i:02}");
        let mut child = flavor
            .command()
            .args([
                "deliver",
                "--data",
                &data,
                "--from",
                "alice@sender.test",
                "bob@example.com",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("deliver");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&plain(&token, CRASH_SIZE))
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(queued(&s), CRASH_MESSAGES);
    s.serve();
    let _ = sink.wait_for(6, WAIT);
    s.signal(libc::SIGKILL);
    s.kill();
    let at_kill = queued(&s);
    assert!(
        at_kill > 0 && at_kill < CRASH_MESSAGES,
        "{at_kill} queued at the kill"
    );
    s.serve();
    assert!(
        wait_until(Duration::from_secs(120), || queued(&s) == 0),
        "still queued\n{}",
        s.log()
    );
    // Every message arrived whole at least once; repeats only for those in flight.
    let dumps = sink.messages();
    let mut whole = 0;
    for i in 0..CRASH_MESSAGES {
        let token = format!("kill-{i:02}");
        let end = last_line(&token);
        let n = dumps
            .iter()
            .filter(|d| {
                d.contains(&format!("Subject: e2e {token}\n"))
                    || d.contains(&format!("Subject: e2e {token}\r\n"))
            })
            .filter(|d| d.contains(&end))
            .count();
        assert!(n >= 1, "{token} lost");
        whole += n;
    }
    assert!(
        whole <= CRASH_MESSAGES + 3,
        "{whole} whole deliveries of {CRASH_MESSAGES} messages: more repeats than sessions"
    );
}

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    relay_to_smtp_sink,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    a_refusal_bounces_to_the_local_sender,
    relay_with_auth_and_starttls,
    #[cfg_attr(
        not(all(as_root, have_postfix, have_saslpasswd2)),
        ignore = "needs root, postfix and saslpasswd2"
    )]
    relay_through_postfix_with_smtp_auth,
    relay_refusing_the_password_keeps_the_mail,
    relay_with_an_unverifiable_certificate_keeps_the_mail,
    direct_to_the_second_mx,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    queue_commands,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    lan_forwarding_rules,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    unknown_local_users_go_to_the_lan_server,
    #[cfg_attr(
        not(all(have_python3, have_smtp_sink)),
        ignore = "python3 or smtp-sink is not installed"
    )]
    held_for_etrn_until_the_downstream_server_asks,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    success_reports_after_the_relay_took_the_message,
    pop_before_smtp_to_the_relay,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    sigkill_while_sending,
);
