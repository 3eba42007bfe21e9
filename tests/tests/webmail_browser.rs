//! Webmail in headless Chromium through both binaries (issue 14;
//! tests/python/webmail_browser.py, Selenium with Debian's chromium-driver): log in as a
//! user, open a message delivered by SMTP, reply (found in Sent, and at the recipient
//! over POP3), an attachment downloaded byte for byte, an HTML message with scripts,
//! event handlers, SVG and remote images that runs nothing and loads nothing (the
//! browser's console, and a loopback HTTP server here that records every request),
//! then a password change and a login with the new one.
//!
//! The inbox and message screenshots go to docs/ (`webmail-inbox.png`,
//! `webmail-message.png`) when `MAILROOM_WEB_SCREENSHOTS=1` is set.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::pop3::retrieve;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD};
use mailroom_tests::web::{keep_screenshots, python_with_selenium, run_browser_script};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A loopback HTTP server that records the request line of everything that reaches it
/// (the HTML message's remote images, styles and scripts point here).
fn recorder() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            let line = line.trim_end().to_string();
            // The script asks how many requests arrived; that one is not counted.
            let body = if line.starts_with("GET /__count ") {
                log.lock().unwrap().len().to_string()
            } else {
                log.lock().unwrap().push(line);
                String::new()
            };
            let _ = (&conn).write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (addr, seen)
}

fn smtp_send(s: &TestServer, from: &str, to: &str, message: &str) {
    let (mut c, _) = Smtp::connect(s.smtp).expect("SMTP connects");
    c.command("EHLO client.example.com").expect("EHLO");
    let r = c
        .send_mail(from, to, message.replace('\n', "\r\n").as_bytes())
        .expect("sent");
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
}

fn hostile_html(r: SocketAddr) -> String {
    format!(
        "From: Mallory <bob@example.com>\nTo: alice@example.com\nSubject: Special offer\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n\
<html><head><script>console.log('pwned'); fetch('http://{r}/script');</script>\n\
<style>body {{ background: url(http://{r}/style-bg) }}</style>\n\
<link rel=\"stylesheet\" href=\"http://{r}/link.css\"></head>\n\
<body onload=\"console.log('pwned'); new Image().src='http://{r}/onload'\">\n\
<p>Hello from the offer</p>\n\
<img src=\"http://{r}/pixel.gif\" onerror=\"console.log('pwned')\">\n\
<img src=\"x\" onerror=\"console.log('pwned'); fetch('http://{r}/onerror')\">\n\
<div style=\"background-image: url(http://{r}/inline-bg)\">styled</div>\n\
<svg onload=\"console.log('pwned')\"><image href=\"http://{r}/svg-image\"/><script>console.log('pwned')</script></svg>\n\
<iframe src=\"http://{r}/frame\"></iframe><object data=\"http://{r}/object\"></object>\n\
<a href=\"javascript:console.log('pwned')\">click</a>\n\
</body></html>\n"
    )
}

fn browser(flavor: Flavor) {
    let Some(python) = python_with_selenium() else {
        return;
    };
    let (rec, requests) = recorder();
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    let pop3 = s.add_listener("pop3");
    s.serve();
    let subject = "Lunch on Friday?";
    smtp_send(
        &s,
        "bob@example.com",
        "alice@example.com",
        &format!("From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: {subject}\nMessage-ID: <lunch@client.example.com>\n\nShall we meet at noon?\nBob\n"),
    );
    smtp_send(
        &s,
        "bob@example.com",
        "alice@example.com",
        &hostile_html(rec),
    );
    let scratch = s.data.parent().expect("scratch").to_path_buf();
    let shots = scratch.join("shots");
    let downloads = scratch.join("downloads");
    std::fs::create_dir_all(&shots).expect("a screenshot folder");
    std::fs::create_dir_all(&downloads).expect("a download folder");
    let attachment = scratch.join("numbers.bin");
    let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&attachment, &bytes).expect("the attachment");
    let new_password = "alice-new-secret-2";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/webmail_browser.py");
    let mut script_run = Command::new(&python);
    script_run
        .arg(&script)
        .arg(format!("http://{http}"))
        .args(["--user", ALICE, "--password", ALICE_PASSWORD])
        .args(["--new-password", new_password])
        .args(["--subject", subject, "--html", "Special offer"])
        .arg("--recorder")
        .arg(format!("http://{rec}/__count"))
        .arg("--attachment")
        .arg(&attachment)
        .arg("--downloads")
        .arg(&downloads)
        .arg("--screenshots")
        .arg(&shots);
    run_browser_script(&s, script_run);
    // Nothing reached the recorder until the user asked for images (the script saw a
    // count of 0 then); after that, images only: no script, frame, object, stylesheet.
    let reached = requests.lock().unwrap().clone();
    assert!(
        reached.iter().any(|r| r.starts_with("GET /pixel.gif ")),
        "images load once asked: {reached:?}"
    );
    for r in &reached {
        assert!(
            ["GET /pixel.gif ", "GET /inline-bg "]
                .iter()
                .any(|ok| r.starts_with(ok)),
            "the HTML message loaded {r}: {reached:?}"
        );
    }
    // The reply at the recipient, over POP3.
    let got = retrieve(pop3, BOB, BOB_PASSWORD, 1);
    assert!(got.contains(&format!("Subject: Re: {subject}")), "{got}");
    assert!(
        got.contains("In-Reply-To: <lunch@client.example.com>"),
        "{got}"
    );
    assert!(got.contains("Friday works for me."), "{got}");
    assert!(got.contains("> Shall we meet at noon?"), "{got}");
    keep_screenshots(
        flavor,
        &shots,
        &["webmail-inbox.png", "webmail-message.png"],
    );
}

both_binaries!(
    #[cfg_attr(not(have_chromium), ignore = "chromium is not installed")]
    #[cfg_attr(not(have_chromedriver), ignore = "chromedriver is not installed")]
    browser
);
