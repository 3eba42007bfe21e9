//! Mail authentication (issue 19): the published DKIM test vectors, SPF and DMARC
//! against scripted DNS answers, the Authentication-Results field, and a property
//! test that hostile headers and signatures never panic the verifier.

use mailroom_core::dns::{Rdata, RecordKind};
use mailroom_core::mailauth::dkim::{self, DkimResult};
use mailroom_core::mailauth::dmarc::Disposition;
use mailroom_core::mailauth::spf::SpfResult;
use mailroom_core::mailauth::{Check, Reply, Results, Step};
use proptest::prelude::*;
use std::collections::HashMap;
use std::net::IpAddr;

/// RFC 8463 Appendix A.3: the RFC 6376 example message signed with both the Ed25519
/// key (`brisbane`) and the RSA key (`test`) of Appendix A.2.
const RFC8463_SIGNED: &str = include_str!("data/rfc8463-signed.eml");

/// RFC 8463 A.2's key records.
const BRISBANE: &str = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const TEST_RSA: &str = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/// The same message as dkimpy's test data carries it (simple/simple, earlier
/// signatures over the same keys), to cover simple canonicalisation.
const RFC8463_SIMPLE: &str = "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; \r
 d=football.example.com; i=@football.example.com; \r
 q=dns/txt; s=brisbane; t=1518460054; h=from : to : \r
 subject : date : message-id : from : subject : date; \r
 bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r
 b=9/dsDChY0YMTtD5Eyw3wx7x22BlSJP7M5ECbJ7GWrR45nXlTCGb8l0YB\r
 o0wBLR++X5LqmsxXaOYLLJe46l10AQ==\r
DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; \r
 d=football.example.com; i=@football.example.com; \r
 q=dns/txt; s=test; t=1527915362; h=from : to : subject : \r
 date : message-id : from : subject : date; \r
 bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r
 b=icKcLSEZYXJ95flvWE8FT6hl5iqd8MC/LEKYH0QjsqYy6MO/4pgVNCZH\r
 l/RAXAuADxE/40Fg7uTlxwwD1hjN2Ple6J//cJfslBdDOq6zTVbne1dqtl\r
 NOat7iamJ1AfRqyG+ja7a2AZsrpUuJ7VA6O+0zRYPqpwMEkEFIzI9i/Xk=\r
From: Joe SixPack <joe@football.example.com>\r
To: Suzie Q <suzie@shopping.example.net>\r
Subject: Is dinner ready?\r
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r
\r
Hi.\r
\r
We lost the game.  Are you hungry yet?\r
\r
Joe.\r
\r
";

const NOW: u64 = 1_765_000_000;

fn key_results(message: &str) -> Vec<(String, DkimResult)> {
    dkim::prepare(message.as_bytes(), NOW)
        .iter()
        .map(|p| {
            let record = match p.selector.as_str() {
                "brisbane" => BRISBANE,
                "test" => TEST_RSA,
                _ => "",
            };
            (p.selector.clone(), p.finish(&[record.as_bytes().to_vec()]))
        })
        .collect()
}

#[test]
fn rfc8463_vectors_verify() {
    for msg in [RFC8463_SIGNED, RFC8463_SIMPLE] {
        let r = key_results(msg);
        assert_eq!(
            r,
            vec![
                ("brisbane".to_string(), DkimResult::Pass),
                ("test".to_string(), DkimResult::Pass)
            ]
        );
    }
    // One changed header byte, and both fail.
    let tampered = RFC8463_SIGNED.replace("Is dinner ready?", "Is dinner ready!");
    for (_, r) in key_results(&tampered) {
        assert!(matches!(r, DkimResult::Fail(_)), "{r:?}");
    }
    // The wrong key type for a selector is a key error, not a pass.
    let p = dkim::prepare(RFC8463_SIGNED.as_bytes(), NOW);
    assert!(matches!(
        p[0].finish(&[TEST_RSA.as_bytes().to_vec()]),
        DkimResult::PermError(_)
    ));
    // A revoked key (empty p=).
    assert!(matches!(
        p[0].finish(&[b"v=DKIM1; k=ed25519; p=".to_vec()]),
        DkimResult::PermError(_)
    ));
}

/// A scripted DNS: name → records per kind; unknown names are NXDOMAIN, names in
/// `failing` time out.
#[derive(Default)]
struct Zone {
    records: HashMap<(String, RecordKind), Vec<Rdata>>,
    failing: Vec<String>,
}

impl Zone {
    fn txt(mut self, name: &str, text: &str) -> Zone {
        self.records
            .entry((name.to_string(), RecordKind::Txt))
            .or_default()
            .push(Rdata::Txt(text.as_bytes().to_vec()));
        self
    }
    fn a(mut self, name: &str, ip: &str) -> Zone {
        self.records
            .entry((name.to_string(), RecordKind::A))
            .or_default()
            .push(Rdata::A(ip.parse().unwrap()));
        self
    }
    fn mx(mut self, name: &str, host: &str) -> Zone {
        self.records
            .entry((name.to_string(), RecordKind::Mx))
            .or_default()
            .push(Rdata::Mx {
                preference: 10,
                exchange: host.into(),
            });
        self
    }
    fn fail(mut self, name: &str) -> Zone {
        self.failing.push(name.to_string());
        self
    }

    fn run(&self, ip: &str, mail_from: &str, message: &str) -> (Results, usize) {
        let ip: IpAddr = ip.parse().unwrap();
        let mut check = Check::new(
            ip,
            "client.example",
            Some(mail_from),
            message.as_bytes(),
            NOW,
        );
        let mut asked = 0;
        loop {
            match check.step() {
                Step::Done(r) => return (*r, asked),
                Step::Query(need) => {
                    asked += 1;
                    let reply = if self.failing.contains(&need.name) {
                        Reply::Failed("timed out".into())
                    } else {
                        match self.records.get(&(need.name.clone(), need.kind)) {
                            Some(r) => Reply::Records(r.clone()),
                            None => Reply::NxDomain,
                        }
                    };
                    check.answer(&need.name, need.kind, reply);
                }
            }
        }
    }
}

const PLAIN: &str =
    "From: A <a@sender.example>\r\nTo: b@here.example\r\nSubject: s\r\n\r\nbody\r\n";

fn spf_of(zone: &Zone, ip: &str, from: &str) -> SpfResult {
    zone.run(ip, from, PLAIN).0.spf
}

#[test]
fn spf_results() {
    let z = Zone::default()
        .txt(
            "sender.example",
            "v=spf1 ip4:192.0.2.0/24 a:mail.sender.example mx include:inc.example -all",
        )
        .a("mail.sender.example", "198.51.100.7")
        .mx("sender.example", "mx.sender.example")
        .a("mx.sender.example", "198.51.100.25")
        .txt("inc.example", "v=spf1 ip4:203.0.113.9 ?all")
        .txt("soft.example", "v=spf1 redirect=%{d2}.redir.example")
        .txt("soft.example.redir.example", "v=spf1 ~all")
        .txt("neutral.example", "v=spf1 ?all")
        .txt("two.example", "v=spf1 -all")
        .txt("two.example", "v=spf1 +all")
        .txt("bad.example", "v=spf1 frobnicate -all")
        .txt("loop.example", "v=spf1 include:loop.example -all")
        .txt("exists.example", "v=spf1 exists:%{ir}.%{l}._spf.%{d} -all")
        .a("1.2.0.192.postmaster._spf.exists.example", "127.0.0.2")
        .txt("nospf.example", "some other text")
        .fail("tmp.example");
    let perm = SpfResult::PermError(String::new());
    let temp = SpfResult::TempError(String::new());
    let cases = [
        ("192.0.2.10", "a@sender.example", &SpfResult::Pass),
        ("198.51.100.7", "a@sender.example", &SpfResult::Pass),
        ("198.51.100.25", "a@sender.example", &SpfResult::Pass),
        ("203.0.113.9", "a@sender.example", &SpfResult::Pass),
        ("203.0.113.10", "a@sender.example", &SpfResult::Fail),
        ("203.0.113.10", "x@soft.example", &SpfResult::SoftFail),
        ("203.0.113.10", "x@neutral.example", &SpfResult::Neutral),
        ("203.0.113.10", "x@nospf.example", &SpfResult::None),
        ("203.0.113.10", "x@missing.example", &SpfResult::None),
        ("203.0.113.10", "x@two.example", &perm),
        ("203.0.113.10", "x@bad.example", &perm),
        // An include loop runs into the 10-lookup limit.
        ("203.0.113.10", "x@loop.example", &perm),
        ("203.0.113.10", "x@tmp.example", &temp),
        // Macros: %{ir} reverses the address, %{l} is the local part.
        ("192.0.2.1", "postmaster@exists.example", &SpfResult::Pass),
        ("192.0.2.1", "other@exists.example", &SpfResult::Fail),
    ];
    for (ip, from, want) in cases {
        let got = spf_of(&z, ip, from);
        // Errors are compared by kind; their reasons vary.
        assert_eq!(got.word(), want.word(), "{ip} {from}: {got:?}");
    }
}

#[test]
fn spf_void_lookup_limit() {
    let z = Zone::default().txt(
        "void.example",
        "v=spf1 a:n1.void.example a:n2.void.example a:n3.void.example +all",
    );
    assert!(matches!(
        spf_of(&z, "192.0.2.1", "x@void.example"),
        SpfResult::PermError(_)
    ));
    let z = Zone::default().txt(
        "void2.example",
        "v=spf1 a:n1.void2.example a:n2.void2.example +all",
    );
    assert_eq!(spf_of(&z, "192.0.2.1", "x@void2.example"), SpfResult::Pass);
}

fn signed_by_rfc8463(from_line: &str) -> String {
    RFC8463_SIGNED.replace("From: Joe SixPack <joe@football.example.com>", from_line)
}

#[test]
fn dmarc_results_and_header() {
    let z = Zone::default()
        .txt("brisbane._domainkey.football.example.com", BRISBANE)
        .txt("test._domainkey.football.example.com", TEST_RSA)
        .txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine")
        .txt("football.example.com", "v=spf1 -all")
        .txt("sender.example", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.sender.example", "v=DMARC1; p=quarantine; aspf=s")
        .fail("_dmarc.flaky.example");

    // DKIM aligned (football.example.com is under example.com's policy, relaxed).
    let (r, asked) = z.run("203.0.113.5", "joe@football.example.com", RFC8463_SIGNED);
    assert!(asked <= 8, "{asked}");
    assert_eq!(r.spf, SpfResult::Fail);
    assert!(r.dkim.iter().all(|d| d.3 == DkimResult::Pass));
    assert_eq!(r.dmarc.result.word(), "pass");
    // The subdomain has no record of its own: the organizational domain's sp= applies.
    assert_eq!(r.dmarc.policy, Some(Disposition::Quarantine));
    let h = r.header("mx.here.example");
    assert!(h.starts_with("Authentication-Results: mx.here.example;\r\n\tspf=fail smtp.mailfrom=joe@football.example.com;"), "{h}");
    assert!(
        h.contains("dkim=pass header.d=football.example.com header.s=brisbane header.b=/gCrinpc"),
        "{h}"
    );
    assert!(
        h.contains("dmarc=pass policy.dmarc=quarantine header.from=football.example.com"),
        "{h}"
    );
    assert!(h.ends_with("\r\n"));

    // A forged From: the signatures no longer verify and SPF fails: DMARC fails, and
    // the policy is the one to act on.
    let forged = signed_by_rfc8463("From: Bank <service@example.com>");
    let (r, _) = z.run("203.0.113.5", "x@elsewhere.example", &forged);
    assert_eq!(r.dmarc.result.word(), "fail");
    assert_eq!(r.failed_policy(), Some((Disposition::Reject, false)));

    // SPF passes but is not strictly aligned (aspf=s): fail.
    let msg = "From: a@news.sender.example\r\n\r\nx\r\n";
    let (r, _) = z.run("192.0.2.1", "bounce@sender.example", msg);
    assert_eq!(r.spf, SpfResult::Pass);
    assert_eq!(r.dmarc.result.word(), "fail");
    assert_eq!(r.failed_policy(), Some((Disposition::Quarantine, false)));
    // Exactly aligned: pass.
    let msg = "From: a@sender.example\r\n\r\nx\r\n";
    let (r, _) = z.run("192.0.2.1", "bounce@sender.example", msg);
    assert_eq!(r.dmarc.result.word(), "pass");
    assert_eq!(r.failed_policy(), None);

    // No policy published: none. A DNS failure: temperror, never pass.
    let msg = "From: a@nowhere.example\r\n\r\nx\r\n";
    assert_eq!(
        z.run("192.0.2.1", "a@nowhere.example", msg)
            .0
            .dmarc
            .result
            .word(),
        "none"
    );
    let msg = "From: a@flaky.example\r\n\r\nx\r\n";
    let (r, _) = z.run("192.0.2.1", "a@flaky.example", msg);
    assert_eq!(r.dmarc.result.word(), "temperror");
    assert!(
        r.header("h").contains("dmarc=temperror reason="),
        "{}",
        r.header("h")
    );
    // No From at all: permerror.
    let (r, _) = z.run("192.0.2.1", "a@sender.example", "Subject: x\r\n\r\nx\r\n");
    assert_eq!(r.dmarc.result.word(), "permerror");
}

#[test]
fn key_lookup_failure_is_temperror_and_dmarc_waits() {
    let z = Zone::default()
        .fail("brisbane._domainkey.football.example.com")
        .fail("test._domainkey.football.example.com")
        .txt("_dmarc.example.com", "v=DMARC1; p=reject");
    let (r, _) = z.run("203.0.113.5", "joe@football.example.com", RFC8463_SIGNED);
    assert!(r
        .dkim
        .iter()
        .all(|d| matches!(d.3, DkimResult::TempError(_))));
    assert_eq!(r.dmarc.result.word(), "temperror");
    // Reject-worthy but undecided: a temporary refusal, not a pass or a 5xx.
    assert_eq!(r.failed_policy(), Some((Disposition::Reject, true)));
}

#[test]
fn lookups_are_bounded_per_message() {
    // Every name answers with an SPF record that includes two more names: the check
    // must stop by itself, with a bounded number of questions.
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let mut check = Check::new(ip, "h", Some("a@x0.example"), PLAIN.as_bytes(), NOW);
    let mut asked = 0;
    let r = loop {
        match check.step() {
            Step::Done(r) => break r,
            Step::Query(need) => {
                asked += 1;
                let reply = match need.kind {
                    RecordKind::Txt => Reply::Records(vec![Rdata::Txt(
                        format!("v=spf1 include:a.{0} include:b.{0} mx:{0} -all", need.name)
                            .into_bytes(),
                    )]),
                    _ => Reply::Failed("timed out".into()),
                };
                check.answer(&need.name, need.kind, reply);
            }
        }
    };
    assert!(
        asked <= mailroom_core::mailauth::check::MAX_QUERIES,
        "{asked}"
    );
    assert!(matches!(r.spf, SpfResult::PermError(_)), "{:?}", r.spf);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Hostile signature fields, keys and headers: always a result, never a panic.
    #[test]
    fn verifier_never_panics(
        sig in "[ -~]{0,300}",
        key in "[ -~]{0,200}",
        headers in proptest::collection::vec("[ -~\t]{0,80}", 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut m = format!("DKIM-Signature: {sig}\r\n");
        for h in &headers {
            m.push_str(h);
            m.push_str("\r\n");
        }
        let mut m = m.into_bytes();
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(&body);
        for p in dkim::prepare(&m, NOW) {
            let _ = p.finish(&[key.as_bytes().to_vec()]);
        }
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut c = Check::new(ip, "h", Some(&sig), &m, NOW);
        for _ in 0..200 {
            match c.step() {
                Step::Done(r) => { let _ = r.header("x"); break; }
                Step::Query(n) => c.answer(&n.name, n.kind, Reply::Records(vec![Rdata::Txt(key.as_bytes().to_vec())])),
            }
        }
    }

    /// Arbitrary SPF records with arbitrary macros and mechanisms.
    #[test]
    fn spf_never_panics(record in "v=spf1( [-+~?]?(all|ip4:[0-9./]{0,18}|ip6:[0-9a-f:/]{0,20}|a(:[%{}a-z0-9.]{0,20})?(/[0-9]{0,3})?(//[0-9]{0,3})?|mx|include:[%{}a-z0-9.]{0,20}|exists:[%{}a-zA-Z0-9._-]{0,30}|redirect=[%{}a-z0-9.]{0,20}|ptr|[a-z=:%{}]{0,10})){0,8}") {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let mut c = Check::new(ip, "h", Some("a@b.example"), PLAIN.as_bytes(), NOW);
        for _ in 0..200 {
            match c.step() {
                Step::Done(_) => break,
                Step::Query(n) => {
                    let reply = match n.kind {
                        RecordKind::Txt => Reply::Records(vec![Rdata::Txt(record.as_bytes().to_vec())]),
                        _ => Reply::NoData,
                    };
                    c.answer(&n.name, n.kind, reply);
                }
            }
        }
    }
}
