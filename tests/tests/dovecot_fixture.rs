//! The private Dovecot the collection tests use as their ISP: it starts, takes the
//! account's password, serves the prepared multidrop mailbox byte for byte (CRLF on
//! the wire), deletes what a session DELEs, sees messages put in later, and is gone
//! after drop.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::dovecot::{self, Dovecot, ISP_PASSWORD, ISP_USER};
use mailroom_tests::pop3::Pop3;
use std::collections::BTreeMap;
use std::net::TcpStream;

fn crlf(lf: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(lf.len() + lf.len() / 20);
    for &b in lf {
        if b == b'\n' {
            v.push(b'\r');
        }
        v.push(b);
    }
    v
}

fn ok(reply: std::io::Result<String>, what: &str, d: &Dovecot) -> String {
    match reply {
        Ok(r) if r.starts_with("+OK") => r,
        other => panic!("{what}: {other:?}\n--- dovecot log ---\n{}", d.log()),
    }
}

fn list_body(c: &mut Pop3) -> String {
    let mut v = Vec::new();
    c.body_into(&mut v).expect("a multi-line response");
    String::from_utf8_lossy(&v).into_owned()
}

#[test]
#[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
fn dovecot_serves_the_multidrop_mailbox() {
    let prepared = dovecot::multidrop();
    let files: Vec<_> = prepared.iter().map(|p| p.file()).collect();
    let d = Dovecot::start_with(&files);
    assert_eq!(d.message_ids().len(), prepared.len());

    let mut c = Pop3::connect(d.addr).expect("connecting to dovecot");
    assert!(c.greeting.starts_with("+OK"), "{}", c.greeting);
    ok(c.login(ISP_USER, ISP_PASSWORD), "login", &d);

    ok(c.command("CAPA"), "CAPA", &d);
    let capa = list_body(&mut c);
    for cap in ["TOP", "UIDL"] {
        assert!(capa.lines().any(|l| l == cap), "CAPA lacks {cap}: {capa}");
    }

    ok(c.command("UIDL"), "UIDL", &d);
    let uidl = list_body(&mut c);
    let uids: BTreeMap<usize, String> = uidl
        .lines()
        .filter_map(|l| {
            let (n, u) = l.split_once(' ')?;
            Some((n.parse().ok()?, u.to_string()))
        })
        .collect();
    assert_eq!(uids.len(), prepared.len(), "UIDL: {uidl}");
    let distinct: std::collections::BTreeSet<&String> = uids.values().collect();
    assert_eq!(distinct.len(), uids.len(), "UIDs are unique: {uidl}");

    // Every message comes back exactly as prepared, CRLF line ends on the wire.
    let mut by_id = BTreeMap::new();
    for n in uids.keys() {
        ok(c.command(&format!("RETR {n}")), "RETR", &d);
        let mut body = Vec::new();
        c.body_into(&mut body).expect("a message");
        let id = dovecot::message_id(&body).expect("every prepared message has an id");
        by_id.insert(id, (*n, body));
    }
    for p in &prepared {
        let (_, body) = by_id
            .get(&p.message_id)
            .unwrap_or_else(|| panic!("{} was not served", p.message_id));
        assert_eq!(
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&crlf(&p.data)),
            "{}",
            p.name
        );
    }
    let (_, from_line) = &by_id["<md-fromline@isp.example>"];
    assert!(from_line.starts_with(b"From sender@partner.example "));

    // TOP gives the header only.
    let (n_to, _) = by_id["<md-to@isp.example>"];
    ok(c.command(&format!("TOP {n_to} 0")), "TOP", &d);
    let top = list_body(&mut c);
    assert!(top.contains("To: Alice <alice@example.com>\r\n"), "{top}");
    assert!(!top.contains("This is md-to"), "TOP n 0 has no body: {top}");

    // DELE then QUIT removes the message from the Maildir.
    ok(c.command(&format!("DELE {n_to}")), "DELE", &d);
    ok(c.command("QUIT"), "QUIT", &d);
    let left = d.message_ids();
    assert_eq!(left.len(), prepared.len() - 1, "{left:?}");
    assert!(!left.contains(&"<md-to@isp.example>".to_string()));

    // A message put in later shows up in the next session.
    let bulk = dovecot::bulk(1, 4096);
    d.put(&bulk[0].0, &bulk[0].1);
    let mut c = Pop3::connect(d.addr).expect("connecting again");
    ok(c.login(ISP_USER, ISP_PASSWORD), "login", &d);
    let stat = ok(c.command("STAT"), "STAT", &d);
    assert!(
        stat.starts_with(&format!("+OK {} ", prepared.len())),
        "{stat}"
    );
    ok(c.command("QUIT"), "QUIT", &d);

    // Last, as Dovecot slows logins from an address after a failure.
    let mut c = Pop3::connect(d.addr).expect("connecting again");
    assert!(
        c.login(ISP_USER, "wrong-password")
            .expect("a reply")
            .starts_with("-ERR"),
        "a wrong password is refused"
    );

    let addr = d.addr;
    drop(d);
    assert!(
        TcpStream::connect(addr).is_err(),
        "dovecot still listens after drop"
    );
}
