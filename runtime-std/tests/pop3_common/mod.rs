//! POP3, password-server and account-security scenarios shared by both runtimes: a
//! data directory built with the real files (config, accounts, access files), a
//! server on 127.0.0.1:0 ports, and small clients over real sockets.
#![allow(dead_code)]

use mailroom_std::config::files::load_snapshot;
use mailroom_std::config::users;
use mailroom_std::net::listen::{Kind, Listeners, StopHandle, StopSignal};
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::platform::tls;
use mailroom_std::services::app::Shared;
use mailroom_std::store::Store;
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub type RunFn = fn(Arc<Shared>, Listeners, StopSignal, Duration) -> io::Result<()>;

pub const ALICE_PW: &str = "alice-secret";
pub const BOB_PW: &str = "bob-secret";

pub struct Server {
    pub dir: DataDir,
    pub shared: Arc<Shared>,
    pub addr: HashMap<&'static str, SocketAddr>,
    client_tls: Arc<rustls::ClientConfig>,
    stop: StopHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
    run: RunFn,
}

/// Set up `tmp/data`: config (with `extra` TOML appended), alice and bob, the access
/// files given as (file name, text), and a certificate.
pub fn setup(tmp: &tempfile::TempDir, extra: &str, access: &[(&str, &str)]) -> DataDir {
    let dir = DataDir::new(tmp.path().join("data"));
    std::fs::create_dir_all(dir.access_dir()).unwrap();
    tls::generate_self_signed(&dir, &["localhost".to_string()]).unwrap();
    std::fs::write(
        dir.config_file(),
        format!(
            "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\n\
             local_domains = [\"example.com\"]\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n{extra}"
        ),
    )
    .unwrap();
    users::add_user(&dir, "alice", ALICE_PW, false).unwrap();
    users::add_user(&dir, "bob", BOB_PW, false).unwrap();
    for (name, text) in access {
        std::fs::write(dir.access_dir().join(name), text).unwrap();
    }
    dir
}

impl Server {
    pub fn start(run: RunFn, dir: &DataDir) -> Server {
        let snapshot = load_snapshot(dir).unwrap();
        let server_tls = tls::server_config(dir, &snapshot.config).unwrap();
        let client_tls = tls::client_config_trusting(&dir.resolve("tls/cert.pem")).unwrap();
        let store = Store::open(dir).unwrap();
        let shared = Arc::new(Shared::new(snapshot, store, server_tls));
        let mut listeners = Listeners::default();
        let mut addr = HashMap::new();
        for (key, kind) in [
            ("smtp", Kind::Smtp),
            ("pop3", Kind::Pop3),
            ("pop3s", Kind::Pop3s),
            ("pass", Kind::Pass),
        ] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            addr.insert(key, l.local_addr().unwrap());
            listeners.add(kind, l);
        }
        let (stop, signal) = StopSignal::new().unwrap();
        let s = shared.clone();
        let thread = std::thread::spawn(move || run(s, listeners, signal, Duration::from_secs(5)));
        Server {
            dir: dir.clone(),
            shared,
            addr,
            client_tls,
            stop,
            thread: Some(thread),
            run,
        }
    }

    pub fn stop(mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }

    /// Stop and start again on the same data directory (new ports).
    pub fn restart(mut self) -> Server {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
        Server::start(self.run, &self.dir)
    }

    pub fn pop3(&self) -> Pop3<TcpStream> {
        Pop3::new(tcp(self.addr["pop3"]))
    }

    pub fn pop3s(&self) -> Pop3<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        Pop3::new(self.tls(tcp(self.addr["pop3s"])))
    }

    pub fn tls(&self, s: TcpStream) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.client_tls.clone(), name).unwrap();
        rustls::StreamOwned::new(conn, s)
    }

    pub fn lines(&self, key: &str) -> Lines<TcpStream> {
        Lines::new(tcp(self.addr[key]))
    }

    pub fn security_log(&self) -> String {
        std::fs::read_to_string(self.dir.security_log()).unwrap_or_default()
    }

    /// Put a message into `user`'s Maildir as a deliverer would.
    pub fn put(&self, user: &str, name: &str, data: &[u8]) {
        let new = self.dir.maildir(user).join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join(name), data).unwrap();
    }

    /// Every message file of `user` (new/ and cur/), sorted by name.
    pub fn files(&self, user: &str) -> Vec<String> {
        let mut v = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.dir.maildir(user).join(sub)) {
                v.extend(rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()));
            }
        }
        v.sort();
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.stop();
            let _ = t.join();
        }
    }
}

pub fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// CRLF lines over a stream.
pub struct Lines<S> {
    pub s: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> Lines<S> {
    pub fn new(s: S) -> Self {
        Lines { s, buf: Vec::new() }
    }

    /// The next line without CRLF, or `None` at end of stream.
    pub fn try_line(&mut self) -> Option<String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..p + 2).collect();
                return Some(String::from_utf8_lossy(&line[..p]).into_owned());
            }
            let mut chunk = [0u8; 16384];
            let n = self.s.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn line(&mut self) -> String {
        self.try_line()
            .expect("a line, not the end of the connection")
    }

    pub fn send(&mut self, line: &str) {
        self.s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.s.flush().unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.line()
    }

    /// Read to the end of the connection.
    pub fn closed(&mut self) -> bool {
        self.try_line().is_none()
    }
}

/// A POP3 client: status lines and dot-terminated bodies.
pub struct Pop3<S> {
    pub io: Lines<S>,
    pub greeting: String,
}

impl<S: Read + Write> Pop3<S> {
    pub fn new(s: S) -> Self {
        let mut io = Lines::new(s);
        let greeting = io.line();
        Pop3 { io, greeting }
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.io.cmd(line)
    }

    pub fn ok(&mut self, line: &str) -> String {
        let r = self.cmd(line);
        assert!(r.starts_with("+OK"), "{line} -> {r}");
        r
    }

    /// The body of a multi-line response, un-stuffed, CRLF line ends.
    pub fn body(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line = self.io.line();
            if line == "." {
                return out;
            }
            let line = line.strip_prefix('.').unwrap_or(&line);
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn multi(&mut self, line: &str) -> Vec<u8> {
        self.ok(line);
        self.body()
    }

    pub fn login(&mut self, user: &str, password: &str) -> String {
        self.ok(&format!("USER {user}"));
        self.cmd(&format!("PASS {password}"))
    }
}

// ---- scenarios ----------------------------------------------------------------

use mailroom_core::challenge::apop_digest;

const M1: &[u8] = b"Subject: one\r\n\r\n.dotted\r\nbody one\r\n";
const M2: &[u8] = b"Subject: two\r\n\r\nbody two\r\n";
/// As another deliverer might write it: bare LF.
const M3: &[u8] = b"Subject: three\n\nbody three\n";

fn uidl(p: &mut Pop3<TcpStream>) -> Vec<String> {
    String::from_utf8(p.multi("UIDL"))
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect()
}

pub fn retrieve_delete_and_uids_survive_restart(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup(&tmp, "", &[]);
    let server = Server::start(run, &dir);
    server.put("alice", "1000.A.host", M1);
    server.put("alice", "1001.B.host", M2);
    server.put("alice", "1002.C.host", M3);
    let mut p = server.pop3();
    assert!(
        p.greeting.starts_with("+OK mail.example.com POP3"),
        "{}",
        p.greeting
    );
    assert!(p
        .login("alice", ALICE_PW)
        .starts_with("+OK Logged in, maildrop has 3 messages"));
    let stat = p.ok("STAT");
    let list = String::from_utf8(p.multi("LIST")).unwrap();
    let sizes: Vec<usize> = list
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sizes, [M1.len(), M2.len(), M3.len() + 3]);
    assert_eq!(stat, format!("+OK 3 {}", sizes.iter().sum::<usize>()));
    let uids = uidl(&mut p);
    assert_eq!(uids, ["1000.A.host", "1001.B.host", "1002.C.host"]);
    assert_eq!(p.multi("RETR 1"), M1);
    assert_eq!(p.multi("RETR 3"), b"Subject: three\r\n\r\nbody three\r\n");
    assert_eq!(p.multi("TOP 2 0"), b"Subject: two\r\n\r\n");
    p.ok("DELE 2");
    assert!(p
        .cmd("QUIT")
        .starts_with("+OK mail.example.com POP3 server signing off (2 messages left)"));
    assert!(p.io.closed());
    assert_eq!(
        server.files("alice"),
        ["1000.A.host:2,S", "1002.C.host:2,S"]
    );

    let server = server.restart();
    server.put("alice", "0999.D.host", M2);
    let mut p = server.pop3();
    p.login("alice", ALICE_PW);
    assert_eq!(uidl(&mut p), ["1000.A.host", "1002.C.host", "0999.D.host"]);
    assert_eq!(p.multi("RETR 3"), M2);
    p.ok("QUIT");
    server.stop();
}

pub fn dele_then_disconnect_keeps_mail(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(run, &setup(&tmp, "", &[]));
    server.put("alice", "1.A.host", M1);
    server.put("alice", "2.B.host", M2);
    let mut p = server.pop3();
    p.login("alice", ALICE_PW);
    p.ok("DELE 1");
    p.ok("DELE 2");
    drop(p);
    // The lock goes with the connection; nothing was removed.
    let mut p = loop {
        let mut p = server.pop3();
        let r = p.login("alice", ALICE_PW);
        if r.starts_with("+OK") {
            break p;
        }
        assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(p.ok("STAT").starts_with("+OK 2 "));
    p.ok("QUIT");
    assert_eq!(server.files("alice").len(), 2);
}

pub fn second_login_is_in_use(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(run, &setup(&tmp, "", &[]));
    server.put("alice", "1.A.host", M1);
    let mut a = server.pop3();
    assert!(a.login("alice", ALICE_PW).starts_with("+OK"));
    let mut b = server.pop3();
    let r = b.login("alice", ALICE_PW);
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    // bob's mailbox is another lock.
    let mut c = server.pop3();
    assert!(c.login("bob", BOB_PW).starts_with("+OK"));
    a.ok("QUIT");
    assert!(a.io.closed());
    assert!(b.login("alice", ALICE_PW).starts_with("+OK Logged in"));
}

pub fn lockout_after_failures_is_logged(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(run, &setup(&tmp, "", &[]));
    let mut p = server.pop3();
    for _ in 0..5 {
        assert_eq!(
            p.login("alice", "wrong-password"),
            "-ERR [AUTH] Authentication failed"
        );
    }
    let r = p.login("alice", ALICE_PW);
    assert!(r.starts_with("-ERR [AUTH] Account locked"), "{r}");
    // The lock holds on every service.
    let mut s = server.lines("smtp");
    s.line();
    s.send("EHLO client.example.com");
    while !s.line().starts_with("250 ") {}
    let plain = "AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA=="; // \0alice\0alice-secret
    assert!(s.cmd(plain).starts_with("535"));
    // Other accounts are not affected.
    let mut q = server.pop3();
    assert!(q.login("bob", BOB_PW).starts_with("+OK"));
    let log = server.security_log();
    assert!(
        log.contains(" pop3 127.0.0.1 alice: login failed (1 in a row)\n"),
        "{log}"
    );
    assert!(
        log.contains(" pop3 127.0.0.1 alice: locked for 15 minutes after 5 failed logins\n"),
        "{log}"
    );
    assert!(
        log.contains(" smtp 127.0.0.1 alice: login refused, account locked\n"),
        "{log}"
    );
}

pub fn access_files_deny_per_service_and_user(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup(
        &tmp,
        "",
        &[
            ("POP3ALLOWED.DAT", "127.0.0.0 255.0.0.0 bob\n"),
            ("PASSALLOWED.DAT", "!127.0.0.1\n0.0.0.0 0.0.0.0\n"),
        ],
    );
    let server = Server::start(run, &dir);
    let mut p = server.pop3();
    assert!(p.greeting.starts_with("+OK"));
    assert_eq!(
        p.login("alice", ALICE_PW),
        "-ERR [AUTH] Access denied for this user from this address"
    );
    assert!(p.io.closed());
    let mut p = server.pop3();
    assert!(p.login("bob", BOB_PW).starts_with("+OK Logged in"));
    let mut pass = server.lines("pass");
    assert_eq!(pass.line(), "500 Access denied");
    assert!(pass.closed());
}

pub fn pop_before_smtp_opens_the_relay(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        run,
        &setup(&tmp, "[smtp]\npop_before_smtp_minutes = 5\n", &[]),
    );
    let relay = |server: &Server| -> String {
        let mut s = server.lines("smtp");
        s.line();
        s.send("EHLO client.example.com");
        while !s.line().starts_with("250 ") {}
        assert!(s.cmd("MAIL FROM:<alice@example.com>").starts_with("250"));
        s.cmd("RCPT TO:<someone@elsewhere.example>")
    };
    assert!(
        relay(&server).starts_with("550 5.7.1"),
        "relaying needs a login first"
    );
    let mut p = server.pop3();
    p.login("alice", ALICE_PW);
    // Open while the POP3 session is, and for the window after it.
    assert!(relay(&server).starts_with("250"));
    p.ok("QUIT");
    assert!(p.io.closed());
    assert!(relay(&server).starts_with("250"));
}

pub fn password_server_changes_the_password(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(run, &setup(&tmp, "", &[]));
    let mut c = server.lines("pass");
    assert_eq!(
        c.line(),
        "200 Mailroom - Hello who are you (type USER <userid>)"
    );
    assert_eq!(
        c.cmd("USER alice"),
        "200 Now enter your password (type PASS <password>)"
    );
    assert_eq!(
        c.cmd(&format!("PASS {ALICE_PW}")),
        "200 Now type NEWPASS <new password>"
    );
    assert!(c
        .cmd("NEWPASS abc")
        .starts_with("500 New password refused: the password is too short"));
    assert_eq!(
        c.cmd("NEWPASS changed-pw-1"),
        "200 New password accepted - Thanks"
    );
    assert_eq!(c.cmd("QUIT"), "200 Bye");
    assert!(c.closed());
    let mut p = server.pop3();
    assert_eq!(
        p.login("alice", ALICE_PW),
        "-ERR [AUTH] Authentication failed"
    );
    assert!(p
        .login("alice", "changed-pw-1")
        .starts_with("+OK Logged in"));
    assert!(server
        .security_log()
        .contains(" pass 127.0.0.1 alice: password changed\n"));
}

pub fn pop3s_and_stls(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(run, &setup(&tmp, "", &[]));
    server.put("alice", "1.A.host", M1);
    let mut p = server.pop3s();
    assert!(p.greeting.starts_with("+OK"));
    let caps = String::from_utf8(p.multi("CAPA")).unwrap();
    assert!(!caps.contains("STLS") && caps.contains("USER"), "{caps}");
    p.login("alice", ALICE_PW);
    assert_eq!(p.multi("RETR 1"), M1);
    p.ok("QUIT");
    drop(p);

    let mut p = server.pop3();
    assert!(String::from_utf8(p.multi("CAPA")).unwrap().contains("STLS"));
    assert_eq!(p.cmd("STLS"), "+OK Begin TLS negotiation");
    let Pop3 { io, .. } = p;
    let mut io = Lines::new(server.tls(io.s));
    io.send("CAPA");
    assert_eq!(io.line(), "+OK Capability list follows");
    while io.line() != "." {}
    io.send("USER alice");
    io.line();
    assert!(io
        .cmd(&format!("PASS {ALICE_PW}"))
        .starts_with("+OK Logged in"));
}

pub fn apop_with_challenge_response(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup(
        &tmp,
        "[accounts]\nchallenge_response = true\n[pop3]\nrequire_apop = true\n",
        &[],
    );
    assert!(dir.users_dir().join("alice.secret").is_file());
    let server = Server::start(run, &dir);
    let mut p = server.pop3();
    let ts = p.greeting[p.greeting.find('<').expect("an APOP timestamp")..].to_string();
    assert!(p
        .cmd("USER alice")
        .starts_with("-ERR [AUTH] APOP is required"));
    assert_eq!(
        p.cmd(&format!("APOP alice {}", apop_digest(&ts, "not-it"))),
        "-ERR [AUTH] Authentication failed"
    );
    let r = p.cmd(&format!("APOP alice {}", apop_digest(&ts, ALICE_PW)));
    assert!(r.starts_with("+OK Logged in"), "{r}");
}

pub fn held_messages_are_hidden(run: RunFn) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(run, &setup(&tmp, "", &[]));
    server.put("alice", "1.A.host", M1);
    server.put("alice", "2.B.host", M2);
    {
        let mut mb = server.shared.store.open_mailbox("alice").unwrap();
        assert!(mb.set_held(1, true).unwrap());
    }
    let mut p = server.pop3();
    assert!(p
        .login("alice", ALICE_PW)
        .starts_with("+OK Logged in, maildrop has 1 messages"));
    assert_eq!(p.multi("RETR 1"), M2);
}

/// SMTP AUTH CRAM-MD5 (RFC 2195) against the encrypted challenge-response secret.
pub fn smtp_cram_md5_with_challenge_response(run: RunFn) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tmp = tempfile::tempdir().unwrap();
    let dir = setup(&tmp, "[accounts]\nchallenge_response = true\n", &[]);
    let server = Server::start(run, &dir);
    let attempt = |secret: &str| {
        let mut s = server.lines("smtp");
        s.line();
        s.send("EHLO client.example.com");
        let mut auth_line = String::new();
        loop {
            let l = s.line();
            if l.contains("AUTH ") {
                auth_line = l.clone();
            }
            if l.starts_with("250 ") {
                break;
            }
        }
        assert!(auth_line.contains("CRAM-MD5"), "{auth_line}");
        let challenge = s.cmd("AUTH CRAM-MD5");
        let challenge = b64
            .decode(challenge.strip_prefix("334 ").expect("a 334 challenge"))
            .unwrap();
        let challenge = String::from_utf8(challenge).unwrap();
        assert!(
            challenge.starts_with('<') && challenge.ends_with('>'),
            "{challenge}"
        );
        let digest = mailroom_core::challenge::cram_md5_digest(&challenge, secret);
        s.cmd(&b64.encode(format!("alice {digest}")))
    };
    assert!(attempt("not-it").starts_with("535"));
    let r = attempt(ALICE_PW);
    assert!(r.starts_with("235"), "{r}");
}

/// One `#[test]` per scenario above, run on `$run` (a runtime's [`RunFn`]): both
/// runtimes' test files say `scenarios!(run);` and so run the same list.
macro_rules! scenarios {
    ($run:expr) => {
        crate::pop3_common::scenarios!(@each $run;
            retrieve_delete_and_uids_survive_restart,
            dele_then_disconnect_keeps_mail,
            second_login_is_in_use,
            lockout_after_failures_is_logged,
            access_files_deny_per_service_and_user,
            pop_before_smtp_opens_the_relay,
            password_server_changes_the_password,
            pop3s_and_stls,
            apop_with_challenge_response,
            held_messages_are_hidden,
            smtp_cram_md5_with_challenge_response,
        );
    };
    (@each $run:expr; $($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            pop3_common::$name($run);
        }
    )+};
}
pub(crate) use scenarios;
