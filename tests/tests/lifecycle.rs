//! The command line and the process lifecycle of both binaries: `check` on a bad config,
//! `serve` on an empty directory, and a clean exit on SIGTERM.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, Smtp};
use mailroom_tests::message::{received_plus, tricky};
use mailroom_tests::server::{
    spawn_serve, wait_for_greeting, wait_timeout, FileLock, ALICE, ALICE_PASSWORD,
};
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn check_reports_bad_key_with_file_and_line(flavor: Flavor) {
    let server = TestServer::setup(flavor);
    // A freshly initialised directory passes.
    server.cli_ok(&["check"]);

    let config = "hostname = \"mail.example.com\"\n\
                  default_domain = \"example.com\"\n\
                  local_domains = [\"example.com\"]\n\
                  \n\
                  [smtp]\n\
                  max_recipents = 10\n";
    std::fs::write(server.config_file(), config).expect("writing the config");
    let out = server.cli(&["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "check accepted a bad key:\n{text}");
    let want = format!("{}:6: ", server.config_file().display());
    let line = text
        .lines()
        .find(|l| l.contains(&want))
        .unwrap_or_else(|| panic!("no line with `{want}` in:\n{text}"));
    assert!(
        line.contains("max_recipents"),
        "the message should name the key: {line}"
    );
}

fn sigterm_exits_zero(flavor: Flavor) {
    let mut server = TestServer::start(flavor);
    // An idle session in the middle of a transaction must not hold the shutdown up.
    let (mut c, _) = Smtp::connect(server.smtp).expect("connect");
    assert_eq!(
        c.command("EHLO client.example.com").map(|r| r.code).ok(),
        Some(250)
    );
    assert_eq!(
        c.command("MAIL FROM:<alice@example.com>")
            .map(|r| r.code)
            .ok(),
        Some(250)
    );

    // A hang guard, not a timing assertion: shutdown should take well under a second.
    let status = server.terminate(Duration::from_secs(30));
    let log = server.log();
    let status = status.unwrap_or_else(|| panic!("no exit 30 s after SIGTERM\n{log}"));
    assert!(
        status.success(),
        "exit status {status} after SIGTERM\n{log}"
    );
}

/// `serve` on an empty directory creates the development setup (fixed default ports,
/// so the two binaries take turns through a lock) and accepts mail with nothing else
/// done; the postmaster password it prints is the real one.
fn serve_on_empty_directory_creates_dev_setup(flavor: Flavor) {
    let _ports = FileLock::acquire("dev-setup-ports");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let data = scratch.path().join("fresh");
    let log = scratch.path().join("serve.log");
    let smtp = SocketAddr::from(([127, 0, 0, 1], 2525));
    // Another server on this machine may be using the default port for a while (a
    // developer's dev setup); wait for it rather than fail at once.
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(smtp).is_ok() {
        assert!(
            Instant::now() < deadline,
            "something keeps listening on {smtp}, the development setup's SMTP port"
        );
        eprintln!("note: {smtp} is busy; waiting for it to be free");
        std::thread::sleep(Duration::from_secs(2));
    }

    let mut child = spawn_serve(flavor, data.to_str().expect("UTF-8 path"), &log);
    let up = wait_for_greeting(smtp, &mut child);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let result = std::panic::catch_unwind(|| {
        if let Err(why) = up {
            panic!("serve on an empty directory did not come up: {why}\n{output}");
        }
        assert!(
            data.join("mailroom.toml").is_file(),
            "no config was written\n{output}"
        );
        assert!(
            data.join("tls/cert.pem").is_file(),
            "no certificate\n{output}"
        );
        let password = output
            .lines()
            .find_map(|l| {
                l.split_once("password: ")
                    .map(|(_, p)| p.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no postmaster password printed:\n{output}"));

        // The printed password works, and mail for a local user is accepted and stored.
        let (mut c, _) = Smtp::connect(smtp).expect("connect");
        assert_eq!(
            c.command("EHLO client.example.com").map(|r| r.code).ok(),
            Some(250)
        );
        let token = base64(format!("\0postmaster\0{password}").as_bytes());
        let auth = c
            .command(&format!("AUTH PLAIN {token}"))
            .expect("AUTH reply");
        assert_eq!(auth.code, 235, "the printed password was refused: {auth:?}");
        let message = tricky("dev-setup");
        let r = c
            .send_mail("postmaster@example.com", "postmaster@example.com", &message)
            .expect("send");
        assert_eq!(r.code, 250, "{r:?}");
        let _ = c.command("QUIT");
        let got = maildir::visible(&data.join("mail/postmaster"));
        assert_eq!(got.len(), 1, "postmaster's Maildir: {got:?}");
        assert_eq!(received_plus(&got[0].1, &message), None);
    });
    let _ = child.kill();
    let _ = wait_timeout(&mut child, Duration::from_secs(30));
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The accounts made by `user add` work over SMTP AUTH on a running server, and wrong
/// passwords do not.
fn user_add_accounts_authenticate(flavor: Flavor) {
    let server = TestServer::start(flavor);
    let (mut c, _) = Smtp::connect(server.smtp).expect("connect");
    assert_eq!(
        c.command("EHLO client.example.com").map(|r| r.code).ok(),
        Some(250)
    );
    let bad = base64(format!("\0{ALICE}\0wrong-password").as_bytes());
    assert_eq!(
        c.command(&format!("AUTH PLAIN {bad}")).map(|r| r.code).ok(),
        Some(535)
    );
    let good = base64(format!("\0{ALICE}\0{ALICE_PASSWORD}").as_bytes());
    assert_eq!(
        c.command(&format!("AUTH PLAIN {good}"))
            .map(|r| r.code)
            .ok(),
        Some(235)
    );
}

both_binaries!(
    check_reports_bad_key_with_file_and_line,
    sigterm_exits_zero,
    serve_on_empty_directory_creates_dev_setup,
    user_add_accounts_authenticate,
);
