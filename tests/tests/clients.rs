//! Real mail clients deliver alice → bob through both binaries, and the stored file is
//! the submitted message plus one `Received:` field, byte for byte.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::message::{received_plus, tricky};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB};
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::path::Path;
use std::process::Command;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/send_smtplib.py")
}

/// The one message in bob's new/ must be `submitted` plus one Received: field.
fn assert_bob_got(server: &TestServer, submitted: &[u8]) {
    let got = maildir::visible(&server.maildir(BOB));
    assert_eq!(
        got.len(),
        1,
        "bob's Maildir should hold exactly one message: {:?}\n--- server log ---\n{}",
        got.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        server.log()
    );
    let (path, stored) = &got[0];
    assert!(
        path.parent().is_some_and(|d| d.ends_with("new")),
        "a fresh message belongs in new/: {}",
        path.display()
    );
    if let Some(why) = received_plus(stored, submitted) {
        panic!(
            "{why}\n--- stored ---\n{}\n--- submitted ---\n{}",
            String::from_utf8_lossy(stored),
            String::from_utf8_lossy(submitted)
        );
    }
}

fn run_smtplib(server: &TestServer, message: &[u8], starttls: bool) {
    let file = server.data.with_file_name("message.eml");
    std::fs::write(&file, message).expect("writing the message file");
    let mut cmd = Command::new("python3");
    cmd.arg(script())
        .arg(server.smtp.ip().to_string())
        .arg(server.smtp.port().to_string())
        .args(["--from", "alice@example.com", "--to", "bob@example.com"])
        .args(["--user", ALICE, "--password", ALICE_PASSWORD])
        .arg("--message")
        .arg(&file);
    if starttls {
        cmd.arg("--starttls").arg("--cafile").arg(server.cert());
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "smtplib failed:\nstdout: {}\nstderr: {}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}

fn smtplib_delivers_alice_to_bob(flavor: Flavor) {
    let server = TestServer::start(flavor);
    let message = tricky("smtplib-plain");
    run_smtplib(&server, &message, false);
    assert_bob_got(&server, &message);
}

fn smtplib_starttls_then_auth(flavor: Flavor) {
    let server = TestServer::start(flavor);
    let message = tricky("smtplib-starttls");
    run_smtplib(&server, &message, true);
    assert_bob_got(&server, &message);
}

fn swaks_delivers_alice_to_bob(flavor: Flavor) {
    let server = TestServer::start(flavor);
    let message = tricky("swaks");
    // swaks ends the DATA portion with its own CRLF before the final dot, so the file
    // holds the message without its last line end.
    let file = server.data.with_file_name("message.eml");
    let without_last_crlf = message.strip_suffix(b"\r\n").unwrap_or(&message);
    std::fs::write(&file, without_last_crlf).expect("writing the message file");
    let out = Command::new("swaks")
        .args(["--server", &server.smtp.to_string()])
        .args(["--helo", "client.example.com"])
        .args(["--from", "alice@example.com", "--to", "bob@example.com"])
        .args([
            "--auth",
            "PLAIN",
            "--auth-user",
            ALICE,
            "--auth-password",
            ALICE_PASSWORD,
        ])
        .arg("--data")
        .arg(format!("@{}", file.display()))
        .args(["--timeout", "60"])
        .output()
        .expect("swaks runs");
    assert!(
        out.status.success(),
        "swaks failed ({}):\n{}\n{}\n--- server log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert_bob_got(&server, &message);
}

both_binaries!(
    #[cfg_attr(not(have_python3), ignore = "python3 is not installed")]
    smtplib_delivers_alice_to_bob,
    #[cfg_attr(not(have_python3), ignore = "python3 is not installed")]
    smtplib_starttls_then_auth,
    #[cfg_attr(not(have_swaks), ignore = "swaks is not installed")]
    swaks_delivers_alice_to_bob
);
