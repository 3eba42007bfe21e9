//! Real POP3 clients (Python poplib, fetchmail, curl) collect mail from both binaries,
//! byte for byte what was submitted over SMTP plus the one `Received:` field; and a
//! 50 MB message is sent with the server's memory staying bounded.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::message::{plain, received_plus, tricky};
use mailroom_tests::pop3::{self, Pop3};
use mailroom_tests::server::{BOB, BOB_PASSWORD};
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A server with POP3 on, and `messages` submitted to bob over SMTP.
fn serve_with_mail(flavor: Flavor, messages: &[Vec<u8>]) -> (TestServer, SocketAddr) {
    let mut server = TestServer::setup(flavor);
    let (pop3, _) = pop3::enable(&server, false);
    server.serve();
    let (mut c, _) = Smtp::connect(server.smtp).expect("SMTP connects");
    c.command("EHLO client.example.com").expect("EHLO");
    for m in messages {
        let r = c
            .send_mail("alice@example.com", "bob@example.com", m)
            .expect("the message is sent");
        assert_eq!(r.code, 250, "{r:?}");
    }
    let _ = c.command("QUIT");
    (server, pop3)
}

fn assert_fetched(server: &TestServer, fetched: &[u8], submitted: &[u8], client: &str) {
    if let Some(why) = received_plus(fetched, submitted) {
        panic!(
            "{client}: {why}\n--- fetched ---\n{}\n--- server log ---\n{}",
            String::from_utf8_lossy(fetched),
            server.log()
        );
    }
}

fn out_dir(server: &TestServer, name: &str) -> PathBuf {
    let d = server.data.with_file_name(name);
    std::fs::create_dir_all(&d).expect("an output directory");
    d
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

fn poplib_fetches_and_deletes(flavor: Flavor) {
    let sent = [tricky("poplib-1"), plain("poplib-2", 20_000)];
    let (server, pop3) = serve_with_mail(flavor, &sent);
    let out = out_dir(&server, "poplib");
    let run = |extra: &[&str]| {
        let o = Command::new("python3")
            .arg(script("fetch_poplib.py"))
            .arg(pop3.ip().to_string())
            .arg(pop3.port().to_string())
            .args(["--user", BOB, "--password", BOB_PASSWORD])
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .expect("python3 runs");
        assert!(
            o.status.success(),
            "poplib failed:\n{}\n{}\n--- server log ---\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            server.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // First over STLS, keeping the mail; the UIDLs are the same the second time.
    let cafile = server.cert();
    let first = run(&["--stls", "--cafile", cafile.to_str().expect("UTF-8 path")]);
    let second = run(&["--delete"]);
    assert_eq!(first, second);
    assert_eq!(first.lines().count(), 2, "{first}");
    for (i, m) in sent.iter().enumerate() {
        let got = std::fs::read(out.join(format!("{}.eml", i + 1))).expect("fetched");
        assert_fetched(&server, &got, m, "poplib");
    }
    assert!(
        maildir::visible(&server.maildir(BOB)).is_empty(),
        "DELE+QUIT removed both"
    );
}

fn fetchmail_delivers_to_an_mda(flavor: Flavor) {
    let sent = [tricky("fetchmail-1")];
    let (server, pop3) = serve_with_mail(flavor, &sent);
    let out = out_dir(&server, "fetchmail");
    let home = out_dir(&server, "fetchmail-home");
    let o =
        mailroom_tests::fetchmail::fetch_all("pop3", pop3, BOB, BOB_PASSWORD, &home, &out, false);
    assert!(
        o.status.success(),
        "fetchmail failed ({}):\n{}\n{}\n--- server log ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
    let got = std::fs::read(out.join("message.eml")).expect("fetchmail delivered");
    assert_fetched(&server, &got, &sent[0], "fetchmail");
    assert!(
        maildir::visible(&server.maildir(BOB)).is_empty(),
        "fetchmail deleted it"
    );
}

fn curl_lists_and_retrieves(flavor: Flavor) {
    let sent = [tricky("curl-1"), tricky("curl-2")];
    let (server, pop3) = serve_with_mail(flavor, &sent);
    let curl = |path: &str| {
        let o = Command::new("curl")
            .args(["-sS", "--max-time", "60", "-u"])
            .arg(format!("{BOB}:{BOB_PASSWORD}"))
            .arg(format!("pop3://{pop3}/{path}"))
            .output()
            .expect("curl runs");
        assert!(
            o.status.success(),
            "curl {path} failed: {}\n--- server log ---\n{}",
            String::from_utf8_lossy(&o.stderr),
            server.log()
        );
        o.stdout
    };
    let list = String::from_utf8(curl("")).expect("LIST is text");
    assert_eq!(list.lines().count(), 2, "{list}");
    for (i, m) in sent.iter().enumerate() {
        let got = curl(&(i + 1).to_string());
        assert_fetched(&server, &got, m, "curl");
        let size: usize = list
            .lines()
            .nth(i)
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.trim().parse().ok())
            .expect("a size");
        assert_eq!(got.len(), size, "LIST size equals what RETR sends");
    }
}

/// Resident memory figures of a process, kB: (current, peak).
fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn fifty_megabytes_with_bounded_memory(flavor: Flavor) {
    let mut server = TestServer::setup(flavor);
    let (pop3, _) = pop3::enable(&server, false);
    // Placed as a deliverer would (SMTP holds a message in memory while receiving it,
    // which is not what this measures).
    let message = plain("big-1", 50 * 1024 * 1024);
    let new = server.maildir(BOB).join("new");
    std::fs::create_dir_all(&new).expect("Maildir");
    std::fs::write(new.join("1700000000.big.host"), &message).expect("writing the message");
    server.serve();
    let pid = server.pid().expect("running");
    let mut c = Pop3::connect(pop3).expect("POP3 connects");
    let r = c.login(BOB, BOB_PASSWORD).expect("login");
    assert!(
        r.starts_with("+OK Logged in, maildrop has 1 messages"),
        "{r}"
    );
    // After the login: argon2's 19 MiB are returned to the system by then.
    let (before, _) = rss_kb(pid);
    let r = c.command("RETR 1").expect("RETR");
    assert_eq!(r, format!("+OK {} octets", message.len()));
    // Compare as it streams, and sample the server's resident memory every megabyte.
    struct Check<'a> {
        want: &'a [u8],
        pos: usize,
        ok: bool,
        pid: u32,
        max_rss: u64,
    }
    impl std::io::Write for Check<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let end = self.pos + b.len();
            self.ok &= end <= self.want.len() && &self.want[self.pos..end] == b;
            if end >> 20 != self.pos >> 20 {
                self.max_rss = self.max_rss.max(rss_kb(self.pid).0);
            }
            self.pos = end;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut check = Check {
        want: &message,
        pos: 0,
        ok: true,
        pid,
        max_rss: before,
    };
    let n = c.body_into(&mut check).expect("the body");
    assert!(
        check.ok && n == message.len() as u64,
        "the 50 MB message arrived intact"
    );
    let _ = c.command("QUIT");
    let growth = check.max_rss.saturating_sub(before);
    eprintln!(
        "{}: RSS {before} kB after login, at most {} kB while sending a {} MB message (+{growth} kB)",
        flavor.binary_name(),
        check.max_rss,
        message.len() >> 20
    );
    // The message is 51200 kB; the server may grow by buffers, never by the message.
    assert!(
        growth < 8 * 1024,
        "RSS grew by {growth} kB (from {before} kB) while sending 50 MB"
    );
}

both_binaries!(
    #[cfg_attr(not(have_python3), ignore = "python3 is not installed")]
    poplib_fetches_and_deletes,
    #[cfg_attr(not(have_fetchmail), ignore = "fetchmail is not installed")]
    fetchmail_delivers_to_an_mda,
    #[cfg_attr(not(have_curl), ignore = "curl is not installed")]
    curl_lists_and_retrieves,
    fifty_megabytes_with_bounded_memory
);
