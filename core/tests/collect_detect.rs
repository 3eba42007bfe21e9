//! Recipient detection for collected mail (§6.3.2.2, §6.3.6, §21.16.1): each header
//! source, read mode, special-header form, processing-order marker and Accepted
//! Domains form, as table rows.

use mailroom_core::collect::detect::{accepts_address, detect};
use mailroom_core::config::InMail;

/// An In Mail from TOML keys (top-level keys first, then an optional `[detect]`).
fn inmail(keys: &str) -> InMail {
    let text = format!(
        "name = \"isp\"\nconnections = [\"dial\"]\nserver = \"pop.isp.test\"\nuser = \"u\"\n\
         password = \"p\"\n{keys}\n"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("inmail: {e}\n{text}"))
}

struct Row {
    what: &'static str,
    keys: &'static str,
    header: &'static str,
    expect: &'static [&'static str],
}

fn run(rows: &[Row]) {
    let mut failures = Vec::new();
    for r in rows {
        let m = inmail(r.keys);
        let d = detect(&m, r.header.replace('\n', "\r\n").as_bytes());
        if d.recipients != r.expect {
            failures.push(format!(
                "{}\n  want {:?}\n  got  {:?}\n  trace:\n    {}",
                r.what,
                r.expect,
                d.recipients,
                d.trace.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const DOM: &str = "accepted_domains = [\"example.com\"]";

#[test]
fn standard_header_fields() {
    run(&[
        Row {
            what: "To and Cc, accepted domain only, in header order",
            keys: DOM,
            header: "From: x@remote.test\nTo: Simon <simon@example.com>, philip@another.test\nCc: ann@EXAMPLE.com\nSubject: s\n\nTo: body@example.com\n",
            expect: &["simon@example.com", "ann@EXAMPLE.com"],
        },
        Row {
            what: "Apparently-To counts as standard",
            keys: DOM,
            header: "Apparently-To: fred@example.com\n\n",
            expect: &["fred@example.com"],
        },
        Row {
            what: "Resent-To and Resent-Cc",
            keys: DOM,
            header: "To: a@other.test\nResent-To: rt@example.com\nResent-Cc: rc@example.com\n\n",
            expect: &["rt@example.com", "rc@example.com"],
        },
        Row {
            what: "ignore_resent drops Resent- fields",
            keys: "accepted_domains = [\"example.com\"]\n[detect]\nignore_resent = true",
            header: "To: a@example.com\nResent-To: rt@example.com\nResent-Cc: rc@example.com\n\n",
            expect: &["a@example.com"],
        },
        Row {
            what: "folded To, duplicates once",
            keys: DOM,
            header: "To: a@example.com,\n  b@example.com\nCc: A@example.com\n\n",
            expect: &["a@example.com", "b@example.com"],
        },
        Row {
            what: "Bcc and From are not recipient fields",
            keys: DOM,
            header: "From: me@example.com\nBcc: b@example.com\nTo: t@elsewhere.test\n\n",
            expect: &[],
        },
        Row {
            what: "empty accepted_domains: nothing is ours",
            keys: "",
            header: "To: a@example.com\n\n",
            expect: &[],
        },
    ]);
}

/// §21.16.1: a message forwarded from bibble-gadgets.com to bibble@megaisp.net.
const FORWARDED: &str = "Received: from smtpmail.megaisp.net by\n        mail.megaisp.net with SMTP id GTP39231\n        for <bibble@megaisp.net>; Tue, 13 Jan\n        1998 09:20:03 +0000\nReceived: from sender.isp.com by\n        smtpmail.megaisp.net with SMTP id\n        LPS23652 for <sarah@bibble-gadgets.com>;\n        Tue, 13 Jan 1998 09:15:44 +0000\nDate: Tue, 13 Jan 1998 08:30:44 +0000\nTo: sarah@bibble-gadgets.com\n\n";

#[test]
fn received_fields_and_read_modes() {
    run(&[
        Row {
            what: "§21.16.1 Received read forwards, then To: two copies (bibble and sarah)",
            keys: "accepted_domains = [\"bibble-gadgets.com\", \"bibble@megaisp.net\"]\n[detect]\nreceived_read = \"forwards\"\norder = [\"received\", \"standard\"]",
            header: FORWARDED,
            expect: &["bibble@megaisp.net", "sarah@bibble-gadgets.com"],
        },
        Row {
            what: "§21.16.1 Received read reversed finds sarah: one copy",
            keys: "accepted_domains = [\"bibble-gadgets.com\", \"bibble@megaisp.net\"]\n[detect]\nreceived_read = \"reversed\"\norder = [\"received\", \"standard\"]",
            header: FORWARDED,
            expect: &["sarah@bibble-gadgets.com"],
        },
        Row {
            what: "§21.16.1 Received read all",
            keys: "accepted_domains = [\"bibble-gadgets.com\", \"bibble@megaisp.net\"]\n[detect]\nreceived_read = \"all\"\norder = [\"received\"]",
            header: FORWARDED,
            expect: &["bibble@megaisp.net", "sarah@bibble-gadgets.com"],
        },
        Row {
            what: "§21.16.1 stop-if-found before Received (the default order): only To",
            keys: "accepted_domains = [\"bibble-gadgets.com\", \"bibble@megaisp.net\"]\n[detect]\nreceived_read = \"forwards\"",
            header: FORWARDED,
            expect: &["sarah@bibble-gadgets.com"],
        },
        Row {
            what: "Received for without '@' is ignored by default",
            keys: "accepted_domains = [\"example.com\"]\n[detect]\norder = [\"received\"]",
            header: "Received: from a by b with SMTP id 1 for fred; Tue, 13 Jan 1998 09:20:03 +0000\n\n",
            expect: &[],
        },
        Row {
            what: "Received for without '@' taken in the first accepted domain when not ignored",
            keys: "accepted_domains = [\"joe@isp.test\", \"example.com\"]\n[detect]\norder = [\"received\"]\nignore_received_without_at = false",
            header: "Received: from a by b with SMTP id 1 for fred; Tue, 13 Jan 1998 09:20:03 +0000\n\n",
            expect: &["fred@example.com"],
        },
        Row {
            what: "a 'for' inside a host name is not a for clause; non-accepted for skipped",
            keys: "accepted_domains = [\"example.com\"]\n[detect]\norder = [\"received\"]\nreceived_read = \"all\"\n",
            header: "Received: from for.example.net by b for <x@other.test>; date\nReceived: from c by d for <y@example.com>; date\n\n",
            expect: &["y@example.com"],
        },
    ]);
}

#[test]
fn special_header_fields() {
    let spec = |entries: &str, read: &str| -> String {
        format!(
            "accepted_domains = [\"example.com\"]\n[detect]\nspecial_headers = [{entries}]\nspecial_read = \"{read}\"\norder = [\"special\"]"
        )
    };
    let h = "Delivered-To: account-first@example.com\nX-Envelope-To: env@example.com\nDelivered-To: account-second@example.com\nDelivered-To: third@example.com\nTo: to@example.com\n\n";
    let cases: Vec<(String, &str, Vec<&str>)> = vec![
        (
            spec("\"X-Envelope-To\"", "forwards"),
            "plain field",
            vec!["env@example.com"],
        ),
        (
            spec("\"Delivered-To\"", "forwards"),
            "forwards: the first recognised",
            vec!["account-first@example.com"],
        ),
        (
            spec("\"Delivered-To\"", "reversed"),
            "reversed: the last recognised",
            vec!["third@example.com"],
        ),
        (
            spec("\"Delivered-To\"", "all"),
            "all",
            vec![
                "account-first@example.com",
                "account-second@example.com",
                "third@example.com",
            ],
        ),
        (
            spec("\"Delivered-To: account-*\"", "all"),
            "* extraction; a value without the prefix is skipped",
            vec!["first@example.com", "second@example.com"],
        ),
        (
            spec("\"Delivered-To:1\"", "all"),
            "position 1: the first such field",
            vec!["account-first@example.com"],
        ),
        (
            spec("\"Delivered-To:2\"", "all"),
            "position 2",
            vec!["account-second@example.com"],
        ),
        (
            spec("\"Delivered-To:-1\"", "all"),
            "position -1: the last such field",
            vec!["third@example.com"],
        ),
        (
            spec("\"Delivered-To:9\"", "all"),
            "a position past the end finds nothing",
            vec![],
        ),
        (
            spec("\"X-Envelope-To\", \"Delivered-To:-1\"", "all"),
            "two entries, header order",
            vec!["env@example.com", "third@example.com"],
        ),
        (
            spec("\"X-Envelope-To\", \"Delivered-To:-1\"", "reversed"),
            "two entries read reversed",
            vec!["third@example.com"],
        ),
        (
            spec("\"X-Missing\"", "all"),
            "a field that is not there",
            vec![],
        ),
    ];
    let mut failures = Vec::new();
    for (keys, what, expect) in &cases {
        let d = detect(&inmail(keys), h.as_bytes());
        if &d.recipients != expect {
            failures.push(format!("{what}: want {expect:?} got {:?}", d.recipients));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // The pattern's suffix bounds the part too, and its case does not matter.
    let keys = spec("\"X-Rcpt: <*>\"", "all");
    let d = detect(
        &inmail(&keys),
        b"X-RCPT: <bob@example.com> other@example.com\r\n\r\n",
    );
    assert_eq!(d.recipients, vec!["bob@example.com"]);
}

#[test]
fn processing_order_markers() {
    let h = "X-Envelope-To: env@example.com\nTo: to@example.com\nReceived: by x for <rcv@example.com>; d\n\n";
    let order = |o: &str| {
        format!(
            "accepted_domains = [\"example.com\"]\n[detect]\nspecial_headers = [\"X-Envelope-To\"]\norder = [{o}]"
        )
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "\"special\", \"stop_if_found\", \"standard\", \"stop_if_found\", \"received\"",
            vec!["env@example.com"],
        ),
        (
            "\"special\", \"standard\", \"received\"",
            vec!["env@example.com", "to@example.com", "rcv@example.com"],
        ),
        (
            "\"received\", \"standard\", \"stop\", \"special\"",
            vec!["rcv@example.com", "to@example.com"],
        ),
        ("\"stop\", \"special\"", vec![]),
        (
            "\"received\", \"stop_if_found\", \"special\"",
            vec!["rcv@example.com"],
        ),
    ];
    for (o, expect) in cases {
        let d = detect(&inmail(&order(o)), h.as_bytes());
        assert_eq!(d.recipients, expect, "order [{o}]: {:#?}", d.trace);
    }
    // stop_if_found with nothing found so far goes on.
    let d = detect(
        &inmail(&order("\"special\", \"stop_if_found\", \"standard\"")),
        b"To: to@example.com\r\n\r\n",
    );
    assert_eq!(d.recipients, vec!["to@example.com"]);
}

#[test]
fn accepted_domains_forms() {
    // §6.3.6.1's table, plus the wildcard address form.
    let rows: &[(&str, &str, bool)] = &[
        ("\"yourcompany.com\"", "anyone@yourcompany.com", true),
        ("\"yourcompany.com\"", "anyone@YourCompany.COM", true),
        ("\"yourcompany.com\"", "anyone@sub.yourcompany.com", false),
        ("\"j.elliott@yourisp.com\"", "j.elliott@yourisp.com", true),
        ("\"j.elliott@yourisp.com\"", "someone@yourisp.com", false),
        (
            "\"yourcompany.isp.com\", \"yourcompany@isp.com\"",
            "x@yourcompany.isp.com",
            true,
        ),
        (
            "\"yourcompany.isp.com\", \"yourcompany@isp.com\"",
            "yourcompany@isp.com",
            true,
        ),
        (
            "\"yourcompany.isp.com\", \"yourcompany@isp.com\"",
            "other@isp.com",
            false,
        ),
        (
            "\"yourcompany.com\", \"yourcompany.isp.com\", \"yourcompany@isp.com\"",
            "bob@yourcompany.com",
            true,
        ),
        (
            "\"*.mysite@mycompany.com\"",
            "fred.mysite@mycompany.com",
            true,
        ),
        ("\"*.mysite@mycompany.com\"", "fred@mycompany.com", false),
        ("\"example.com\"", "no-at-sign", false),
    ];
    for (list, address, want) in rows {
        let m = inmail(&format!("accepted_domains = [{list}]"));
        assert_eq!(
            accepts_address(&m, address),
            *want,
            "[{list}] accepts {address}"
        );
    }
}
