//! The Out Mail pre-processor (EXT-1, §23.3) through both binaries: a program that
//! rewrites the In file into the Out file changes the message; one that fails or
//! runs past the time limit leaves it as it was; one that writes no Out file
//! discards it.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::maildir;
use mailroom_tests::message::plain;
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn outmail_preprocessor(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let script = s.data.parent().unwrap().join("pre.sh");
    let set_script = |body: &str| {
        fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    };
    set_script("sed 's/^Subject: /Subject: [pre] /' \"$1\" > \"$2\"");
    s.add_config(&format!(
        "\n[extensions]\noutmail_preprocessor = \"{}\"\npreprocess_internal = true\ntimeout_secs = 2\n",
        script.display()
    ));
    s.serve();
    let send = |tag: &str| {
        let (mut c, _) = Smtp::connect(s.smtp).expect("connect");
        assert_eq!(c.command("EHLO far.test").unwrap().code, 250);
        let r = c
            .send_mail("someone@far.test", "alice@example.com", &plain(tag, 500))
            .unwrap();
        assert_eq!(r.code, 250, "{r:?}");
        let _ = c.command("QUIT");
    };

    send("changed");
    set_script("exit 1");
    send("failed");
    set_script("sleep 30");
    send("slow");
    set_script("exit 0");
    send("discarded");

    assert_eq!(
        maildir::subjects(&s.maildir("alice")),
        vec![
            "Subject: [pre] e2e changed".to_string(),
            "Subject: e2e failed".to_string(),
            "Subject: e2e slow".to_string(),
        ],
        "{}",
        s.log()
    );
}

both_binaries!(outmail_preprocessor);
