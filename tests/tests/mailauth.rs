//! Mail authentication end to end through both binaries (issue 19): mail a local user
//! sends leaves DKIM-signed through the relay (smtp-sink) and verifies with dkimpy
//! against the key `mailroom dkim generate` made, served by a loopback DNS server,
//! for Ed25519 and RSA keys and for a message the server rewrote; and incoming mail
//! is checked (SPF, DKIM, DMARC) against that DNS server, with the right
//! `Authentication-Results:` for pass, fail, softfail, none, temperror and permerror,
//! and forged mail from a `p=reject` domain refused (or only marked, as configured).
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, Smtp};
use mailroom_tests::dns::{TestDns, Zone};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD};
use mailroom_tests::sink::Sink;
use mailroom_tests::{both_binaries, maildir, wait_until, Flavor, TestServer};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The TXT record `mailroom dkim generate` printed: the quoted strings joined.
fn printed_record(stdout: &str) -> (String, String) {
    let line = stdout
        .lines()
        .find(|l| l.contains("._domainkey.") && l.contains(" IN TXT "))
        .unwrap_or_else(|| panic!("no record printed:\n{stdout}"));
    let name = line
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('.');
    let mut value = String::new();
    for (i, part) in line.split('"').enumerate() {
        if i % 2 == 1 {
            value.push_str(part);
        }
    }
    (name.to_string(), value)
}

/// dkimpy's interpreter: the one `dkimverify` runs with (it may differ from the
/// first python3 on PATH).
fn dkimpy_python() -> String {
    let path = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v dkimverify"])
            .output()
            .expect("sh")
            .stdout,
    )
    .expect("utf-8");
    let text = std::fs::read_to_string(path.trim()).expect("dkimverify script");
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.split_whitespace().next().unwrap_or("python3").to_string())
        .unwrap_or_else(|| "python3".into())
}

/// Verify every DKIM signature of `message` with dkimpy, keys from the DNS server at
/// `dns`; Ok(number of signatures) or Err(dkimpy's output).
fn dkimpy_verify(message: &[u8], dns: std::net::SocketAddr) -> Result<usize, String> {
    const SCRIPT: &str = r#"
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    a = r.resolve(name, 'TXT')
    return b''.join(a[0].strings)
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
sigs = [h for h in d.headers if h[0].lower() == b'dkim-signature']
if not sigs:
    print("no signature"); sys.exit(1)
for i in range(len(sigs)):
    if not d.verify(idx=i, dnsfunc=dnsfunc):
        print("signature", i, "failed"); sys.exit(1)
print(len(sigs))
"#;
    let mut child = Command::new(dkimpy_python())
        .args(["-c", SCRIPT, &dns.ip().to_string(), &dns.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write");
    let out = child.wait_with_output().expect("python ran");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        text.trim().parse().map_err(|_| text)
    } else {
        Err(text)
    }
}

/// An SMTP session after EHLO, logged in as Alice when `login`.
fn session(server: &TestServer, login: bool) -> Smtp {
    let (mut c, greeting) = Smtp::connect(server.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    if login {
        let auth = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
        assert_eq!(c.command(&format!("AUTH PLAIN {auth}")).unwrap().code, 235);
    }
    c
}

fn message(from: &str, token: &str) -> Vec<u8> {
    format!(
        "From: Alice <{from}>\r\nTo: Bob <bob@far.test>\r\nSubject: e2e {token}\r\n\
         Date: Mon, 07 Dec 2026 20:00:00 +0000\r\nMessage-ID: <{token}@client.test>\r\n\
         X-Internal: drop me\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n\
         Hello   Bob,  \r\n\r\nthe {token} message.\r\n\r\n\r\n"
    )
    .into_bytes()
}

fn signed_through_the_relay(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = TestServer::setup(flavor);
    // example.org is ours too, signed with RSA; example.com with Ed25519.
    s.edit_config_text(|t| t.replace("local_domains = [", "local_domains = [\"example.org\", "));
    // The server rewrites mail local users send (a header set, one removed) before
    // it is signed.
    s.add_config(&format!(
        "\n[local_mail]\nglobal_headers = [\"Organization: Mailroom e2e\", \"X-Internal:\"]\n\n\
         [[connection]]\nname = \"isp\"\nlink = \"lan\"\n\
         [connection.outmail]\nmethod = \"relay\"\nrelays = [\"{}\"]\n",
        sink.addr
    ));
    s.edit_config_text(|t| format!("# Our office's settings: keep this comment.\n{t}"));
    let mut zone = Zone::new();
    for (domain, alg) in [("example.com", "ed25519"), ("example.org", "rsa")] {
        let out = s.cli_ok(&[
            "dkim",
            "generate",
            "--domain",
            domain,
            "--selector",
            "s2026",
            "--algorithm",
            alg,
        ]);
        let (name, record) = printed_record(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(name, format!("s2026._domainkey.{domain}"));
        assert!(record.contains(&format!("k={alg}")), "{record}");
        zone = zone.txt(&name, &record);
    }
    let config = std::fs::read_to_string(s.config_file()).unwrap();
    assert!(config.contains("[[dkim]]"), "{config}");
    // Comments are kept.
    assert!(
        config.starts_with("# Our office's settings: keep this comment.\n"),
        "{config}"
    );
    s.cli_ok(&["check"]);
    let dns = TestDns::start(zone);
    s.serve();

    let mut c = session(&s, true);
    for (from, token) in [
        ("alice@example.com", "sign-ed"),
        ("alice@example.org", "sign-rsa"),
    ] {
        let r = c
            .send_mail(from, "bob@far.test", &message(from, token))
            .unwrap();
        assert_eq!(r.code, 250, "{r:?}\n{}", s.log());
    }
    let _ = c.command("QUIT");
    let got = sink.wait_for(2, WAIT);
    assert_eq!(got.len(), 2, "the relay got {}\n{}", got.len(), s.log());
    for (token, alg) in [("sign-ed", "ed25519-sha256"), ("sign-rsa", "rsa-sha256")] {
        let m = got
            .iter()
            .find(|m| m.contains(&format!("Subject: e2e {token}")))
            .unwrap_or_else(|| panic!("{token} not relayed"));
        assert!(m.contains(&format!("a={alg}")), "{m}");
        assert!(
            m.contains("Organization: Mailroom e2e"),
            "not rewritten: {m}"
        );
        assert!(!m.contains("X-Internal"), "not rewritten: {m}");
        match dkimpy_verify(m.as_bytes(), dns.addr) {
            Ok(1) => {}
            other => panic!("dkimpy: {other:?}\n{m}"),
        }
        // A changed body no longer verifies: the check is real.
        let tampered = m.replace("Hello   Bob", "Hello   Eve");
        assert!(dkimpy_verify(tampered.as_bytes(), dns.addr).is_err());
    }
}

/// RFC 8463 A.3 (core's test data): signed by football.example.com, Ed25519 selector
/// brisbane and RSA selector test.
const RFC8463_SIGNED: &str = include_str!("../../core/tests/data/rfc8463-signed.eml");

fn plain_from(from: &str, token: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: alice@example.com\r\nSubject: e2e {token}\r\n\r\n{token}\r\n")
        .into_bytes()
}

/// Send from 127.0.0.1 (checked: `[mailauth] skip = []`); the final reply.
fn send_in(s: &TestServer, mail_from: &str, data: &[u8]) -> u16 {
    let mut c = session(s, false);
    let r = c.send_mail(mail_from, "alice@example.com", data).unwrap();
    let _ = c.command("QUIT");
    r.code
}

/// The `Authentication-Results:` field of Alice's message carrying `needle`.
fn results_of(s: &TestServer, needle: &str) -> String {
    let mut found = None;
    let ok = wait_until(WAIT, || {
        found = maildir::visible(&s.maildir(ALICE))
            .into_iter()
            .map(|(_, d)| String::from_utf8_lossy(&d).into_owned())
            .find(|m| m.contains(needle));
        found.is_some()
    });
    assert!(ok, "{needle} not delivered\n{}", s.log());
    let m = found.unwrap_or_default();
    let start = m
        .find("Authentication-Results: mail.example.com;")
        .unwrap_or_else(|| panic!("no results field:\n{m}"));
    let rest = &m[start..];
    // The field with its continuation lines, unfolded.
    let mut field = String::new();
    for (i, line) in rest.split("\r\n").enumerate() {
        if i > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        field.push_str(line.trim_start());
        field.push(' ');
    }
    assert_eq!(
        m.matches("Authentication-Results: mail.example.com")
            .count(),
        1,
        "{m}"
    );
    field
}

fn incoming_checks(flavor: Flavor) {
    let zone = Zone::new()
        .txt(
            "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        )
        .txt("test._domainkey.football.example.com", "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
        .txt("football.example.com", "v=spf1 -all")
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .txt("pass.test", "v=spf1 ip4:127.0.0.0/8 -all")
        .txt("_dmarc.pass.test", "v=DMARC1; p=reject")
        .txt("bank.test", "v=spf1 ip4:192.0.2.1 -all")
        .txt("_dmarc.bank.test", "v=DMARC1; p=reject")
        .txt("soft.test", "v=spf1 ~all")
        .txt("perm.test", "v=spf1 -all")
        .txt("perm.test", "v=spf1 +all")
        .servfail("tmp.test")
        .servfail("_dmarc.tmp.test")
        .txt("none.test", "just some text");
    let dns = TestDns::start(zone);
    let mut s = TestServer::setup(flavor);
    s.add_config(&format!(
        "\n[dns]\nservers = [\"{}\"]\ntimeout = \"1s\"\nattempts = 1\n\n[mailauth]\nskip = []\n",
        dns.addr
    ));
    s.serve();

    // A forged From with p=reject: refused at the end of DATA.
    assert_eq!(
        send_in(
            &s,
            "ceo@bank.test",
            &plain_from("service@bank.test", "forged")
        ),
        550,
        "{}",
        s.log()
    );

    // The RFC 8463 message: SPF fails, its Ed25519 signature passes and aligns.
    assert_eq!(
        send_in(&s, "joe@football.example.com", RFC8463_SIGNED.as_bytes()),
        250
    );
    let r = results_of(&s, "We lost the game");
    assert!(
        r.contains("spf=fail smtp.mailfrom=joe@football.example.com"),
        "{r}"
    );
    assert!(
        r.contains("dkim=pass header.d=football.example.com header.s=brisbane"),
        "{r}"
    );
    assert!(
        r.contains("dkim=pass header.d=football.example.com header.s=test"),
        "{r}"
    );
    assert!(
        r.contains("dmarc=pass policy.dmarc=reject header.from=football.example.com"),
        "{r}"
    );

    let cases = [
        (
            "a@pass.test",
            "a@pass.test",
            "spf-pass",
            "spf=pass",
            "dmarc=pass",
        ),
        (
            "a@soft.test",
            "a@soft.test",
            "spf-soft",
            "spf=softfail",
            "dmarc=none",
        ),
        (
            "a@none.test",
            "a@none.test",
            "spf-none",
            "spf=none",
            "dmarc=none",
        ),
        (
            "a@tmp.test",
            "a@tmp.test",
            "spf-temp",
            "spf=temperror",
            "dmarc=temperror",
        ),
        (
            "a@perm.test",
            "a@perm.test",
            "spf-perm",
            "spf=permerror",
            "dmarc=none",
        ),
    ];
    for (mail_from, from, token, spf, dmarc) in cases {
        assert_eq!(
            send_in(&s, mail_from, &plain_from(from, token)),
            250,
            "{token}\n{}",
            s.log()
        );
        let r = results_of(&s, &format!("e2e {token}"));
        assert!(r.contains(spf), "{token}: {r}");
        assert!(r.contains("dkim=none"), "{token}: {r}");
        assert!(r.contains(dmarc), "{token}: {r}");
    }
    // A results field that claims to be ours is removed; others are kept.
    let forged = b"Authentication-Results: mail.example.com; dkim=pass header.d=bank.test\r\n\
        Authentication-Results: elsewhere.test; spf=pass\r\n";
    let mut data = forged.to_vec();
    data.extend_from_slice(&plain_from("a@pass.test", "own-results"));
    assert_eq!(send_in(&s, "a@pass.test", &data), 250);
    let r = results_of(&s, "e2e own-results");
    assert!(!r.contains("header.d=bank.test"), "{r}");
    let log = s.log();
    assert!(log.contains("mail authentication"), "{log}");

    // Only marking: the forged mail is delivered, with dmarc=fail on it.
    s.edit_config_text(|t| t.replace("[mailauth]\n", "[mailauth]\ndmarc_reject = \"mark\"\n"));
    let delivered = wait_until(WAIT, || {
        send_in(
            &s,
            "ceo@bank.test",
            &plain_from("service@bank.test", "marked"),
        ) == 250
    });
    assert!(delivered, "{}", s.log());
    let r = results_of(&s, "e2e marked");
    assert!(r.contains("spf=fail"), "{r}");
    assert!(
        r.contains("dmarc=fail policy.dmarc=reject header.from=bank.test"),
        "{r}"
    );

    // Into Junk: delivered to the recipient's Junk folder, not INBOX. Each try has
    // its own token, since the first ones may arrive before the reload.
    s.edit_config_text(|t| t.replace("dmarc_reject = \"mark\"", "dmarc_reject = \"junk\""));
    let junk = s.maildir(ALICE).join(".Junk");
    let holds = |dir: &std::path::Path, token: &str| {
        maildir::visible(dir)
            .iter()
            .any(|(_, d)| String::from_utf8_lossy(d).contains(&format!("e2e {token}\r\n")))
    };
    let mut tries = 0;
    let mut filed = None;
    let done = wait_until(WAIT, || {
        tries += 1;
        let token = format!("junked-{tries}");
        let code = send_in(
            &s,
            "ceo@bank.test",
            &plain_from("service@bank.test", &token),
        );
        if code == 250 && wait_until(Duration::from_secs(2), || holds(&junk, &token)) {
            filed = Some(token);
        }
        filed.is_some()
    });
    assert!(done, "nothing filed into Junk\n{}", s.log());
    let token = filed.unwrap_or_default();
    assert!(
        !holds(&s.maildir(ALICE), &token),
        "{token} reached INBOX too"
    );
}

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink (postfix) is not installed")]
    #[cfg_attr(
        not(have_dkimverify),
        ignore = "dkimpy (python3-dkim) is not installed"
    )]
    signed_through_the_relay,
    incoming_checks,
);
