//! Shared mailboxes (manual §4.1's "Sales" mailbox, §11.8.2; RFC 4314 ACLs) through
//! both binaries: bob shares his INBOX with alice, who finds it under `shared/bob/`
//! and may do there exactly what bob's ACL allows; Python imaplib's ACL calls work;
//! the ACL outlives a restart; "Fake access to inaccessible mailboxes" both ways.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::imap::{self, Imap};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::process::Command;

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

fn last(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}

fn shared_inbox(flavor: Flavor) {
    let mut server = TestServer::setup(flavor);
    let addr = imap::enable(&server);
    server.serve();
    imap::deliver(&server, &["shared-1", "shared-2"]);

    let mut bob = Imap::connect(addr).expect("IMAP connects");
    bob.login(BOB, BOB_PASSWORD);
    bob.ok("SETACL INBOX alice lrs");
    let r = bob.command("SETACL INBOX nobody-here lr").expect("answer");
    assert!(last(&r).contains("NO [CANNOT] No such user"), "{r:?}");
    let r = bob.ok("GETACL INBOX");
    assert!(
        has(&r, "* ACL INBOX \"bob\" lrswipkxtea \"alice\" lrs"),
        "{r:?}"
    );

    let mut alice = Imap::connect(addr).expect("IMAP connects");
    alice.login(ALICE, ALICE_PASSWORD);
    let r = alice.ok("NAMESPACE");
    assert!(has(&r, "((\"shared/\" \"/\"))"), "{r:?}");
    let r = alice.ok("LIST \"\" \"*\"");
    assert!(has(&r, "\"shared/bob/INBOX\""), "{r:?}");
    assert!(
        !has(&r, "shared/bob/Sent"),
        "bob's Sent is not shared: {r:?}"
    );
    let r = alice.ok("LIST \"\" \"%\"");
    assert!(
        has(&r, "(\\Noselect \\HasChildren) \"/\" \"shared\""),
        "{r:?}"
    );
    let r = alice.ok("MYRIGHTS \"shared/bob/INBOX\"");
    assert!(has(&r, "* MYRIGHTS \"shared/bob/INBOX\" lrs"), "{r:?}");

    let r = alice.ok("SELECT \"shared/bob/INBOX\"");
    assert!(has(&r, "* 2 EXISTS"), "{r:?}");
    assert!(has(&r, "[PERMANENTFLAGS (\\Seen)]"), "{r:?}");
    assert!(last(&r).contains("[READ-WRITE]"), "{r:?}");
    let r = alice.ok("FETCH 1 BODY[]");
    assert!(has(&r, "shared-1@"), "{r:?}");
    // \Flagged needs `w` and \Deleted `t`: dropped silently; EXPUNGE needs `e`.
    alice.ok("STORE 2 +FLAGS (\\Flagged \\Deleted)");
    let r = alice.command("EXPUNGE").expect("answer");
    assert!(last(&r).contains("NO [NOPERM]"), "{r:?}");
    for refused in [
        "GETACL \"shared/bob/INBOX\"",
        "SETACL \"shared/bob/INBOX\" alice +w",
        "DELETE \"shared/bob/INBOX\"",
        "CREATE \"shared/bob/Mine\"",
    ] {
        let r = alice.command(refused).expect("answer");
        assert!(last(&r).contains("NO [NOPERM]"), "{refused}: {r:?}");
    }
    let r = alice
        .command("COPY 1 \"shared/bob/INBOX\"")
        .expect("answer");
    assert!(last(&r).contains("NO [NOPERM]"), "no `i`: {r:?}");
    let r = alice.command("SELECT \"shared/bob/Sent\"").expect("answer");
    assert!(last(&r).contains("NO [NONEXISTENT]"), "{r:?}");
    // Alice's \Seen is bob's: one mailbox, one set of flags.
    let r = bob.ok("SELECT INBOX");
    assert!(has(&r, "* 2 EXISTS"), "{r:?}");
    let r = bob.ok("FETCH 1:2 FLAGS");
    assert!(has(&r, "* 1 FETCH (FLAGS (\\Seen))"), "{r:?}");
    assert!(has(&r, "* 2 FETCH (FLAGS ())"), "{r:?}");

    // Python's imaplib ACL calls, as alice, once bob grants `i` and `w` too.
    bob.ok("SETACL INBOX alice +iw");
    let script = r#"
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login(sys.argv[3], sys.argv[4])
print(m.myrights('"shared/bob/INBOX"')[1][0].decode())
m.append('"shared/bob/INBOX"', '(\\Flagged)', None, b'Subject: from alice\r\n\r\nhello\r\n')
m.select('"shared/bob/INBOX"')
print(m.search(None, 'FLAGGED')[1][0].decode())
m.logout()
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args([ALICE, ALICE_PASSWORD])
        .output()
        .expect("python3 runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("\"shared/bob/INBOX\" lrswi"), "{out}");
    assert_eq!(lines.next(), Some("3"), "{out}");

    // Only `l`: the folder opens empty and read-only (fake access, on by default)…
    bob.ok("SETACL INBOX alice l");
    drop((alice, bob));
    let mut alice = Imap::connect(addr).expect("IMAP connects");
    alice.login(ALICE, ALICE_PASSWORD);
    let r = alice.ok("SELECT \"shared/bob/INBOX\"");
    assert!(has(&r, "* 0 EXISTS"), "{r:?}");
    assert!(last(&r).contains("[READ-ONLY]"), "{r:?}");
    drop(alice);

    // …and with it off, NO [NOPERM]; the ACL outlived the restart.
    server.kill();
    server.edit_config(|doc| {
        doc.entry("imap")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a table")
            .insert("fake_inaccessible".into(), false.into());
    });
    server.serve();
    let mut alice = Imap::connect(addr).expect("IMAP connects");
    alice.login(ALICE, ALICE_PASSWORD);
    let r = alice
        .command("SELECT \"shared/bob/INBOX\"")
        .expect("answer");
    assert!(last(&r).contains("NO [NOPERM]"), "{r:?}");

    // Taken away, the folder is gone from alice's view.
    let mut bob = Imap::connect(addr).expect("IMAP connects");
    bob.login(BOB, BOB_PASSWORD);
    bob.ok("DELETEACL INBOX alice");
    let r = alice.ok("LIST \"\" \"*\"");
    assert!(!has(&r, "shared/"), "{r:?}");
}

both_binaries!(
    #[cfg_attr(not(have_python3), ignore = "python3 is not installed")]
    shared_inbox,
);
