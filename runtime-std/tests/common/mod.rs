//! Library-level server tests shared by both runtimes: each scenario takes the
//! runtime's `run` function, starts it on ports bound to 127.0.0.1:0 (the test binds
//! the listeners itself and reads their addresses), and talks SMTP over a real socket.
#![allow(dead_code)] // each test binary uses the scenarios it needs

use mailroom_core::access::AccessFiles;
use mailroom_core::accounts::{hash_password, Account, Accounts};
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_std::net::listen::{Kind, Listeners, StopHandle, StopSignal};
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::services::app::Shared;
use mailroom_std::store::{spool, Store};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub type RunFn = fn(Arc<Shared>, Listeners, StopSignal, Duration) -> io::Result<()>;

pub const PASSWORD: &str = "correct horse";

const CONFIG: &str = r#"
hostname = "mail.example.com"
default_domain = "example.com"
local_domains = ["example.com"]
"#;

pub struct TestServer {
    pub dir: DataDir,
    pub smtp: SocketAddr,
    pub smtps: SocketAddr,
    pub shared: Arc<Shared>,
    client_tls: Arc<rustls::ClientConfig>,
    stop: StopHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
    _tmp: tempfile::TempDir,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn account(name: &str) -> Account {
    Account {
        name: name.into(),
        password_hash: hash_password(PASSWORD, &[7; 16]).unwrap(),
        admin: false,
        comment: String::new(),
        max_outgoing_size: 0,
        ..Default::default()
    }
}

pub fn snapshot(users: &[&str]) -> Snapshot {
    Snapshot {
        config: parse_config(CONFIG).unwrap(),
        accounts: Accounts::new(users.iter().map(|u| account(u))),
        access: AccessFiles::default(),
    }
}

impl TestServer {
    pub fn start(run: RunFn) -> TestServer {
        Self::start_with(run, Duration::from_secs(5))
    }

    pub fn start_with(run: RunFn, grace: Duration) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("data"));
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = CertificateDer::from(ck.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
        let server_tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client_tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();

        let store = Store::open(&dir).unwrap();
        let shared = Arc::new(Shared::new(
            snapshot(&["alice", "bob"]),
            store,
            Some(Arc::new(server_tls)),
        ));
        let smtp = TcpListener::bind("127.0.0.1:0").unwrap();
        let smtps = TcpListener::bind("127.0.0.1:0").unwrap();
        let (smtp_addr, smtps_addr) = (smtp.local_addr().unwrap(), smtps.local_addr().unwrap());
        let mut listeners = Listeners::default();
        listeners.add(Kind::Smtp, smtp);
        listeners.add(Kind::Smtps, smtps);
        let (stop, signal) = StopSignal::new().unwrap();
        let s = shared.clone();
        let thread = std::thread::spawn(move || run(s, listeners, signal, grace));
        TestServer {
            dir,
            smtp: smtp_addr,
            smtps: smtps_addr,
            shared,
            client_tls: Arc::new(client_tls),
            stop,
            thread: Some(thread),
            _tmp: tmp,
        }
    }

    pub fn connect(&self) -> Smtp<TcpStream> {
        Smtp::new(tcp(self.smtp))
    }

    pub fn connect_tls(&self) -> Smtp<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        Smtp::new(self.tls(tcp(self.smtps)))
    }

    pub fn tls(&self, s: TcpStream) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.client_tls.clone(), name).unwrap();
        rustls::StreamOwned::new(conn, s)
    }

    /// Stop the server and return what its `run` returned.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.stop();
        self.thread.take().unwrap().join().unwrap()
    }

    pub fn mailbox(&self, user: &str) -> Vec<Vec<u8>> {
        let new = self.dir.maildir(user).join("new");
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&new) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.stop();
            let _ = t.join();
        }
    }
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    // A broken server fails the test instead of hanging it.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// A minimal SMTP client that checks reply codes.
pub struct Smtp<S> {
    s: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> Smtp<S> {
    pub fn new(s: S) -> Self {
        Smtp { s, buf: Vec::new() }
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..p + 2).collect();
                return String::from_utf8_lossy(&line[..p]).into_owned();
            }
            let mut chunk = [0u8; 4096];
            let n = self.s.read(&mut chunk).expect("reply");
            assert!(
                n > 0,
                "server closed the connection; had {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One whole (possibly multi-line) reply: its code and text.
    pub fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let line = self.line();
            text.push_str(&line);
            text.push('\n');
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return (line[..3].parse().expect("reply code"), text);
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
        self.s.flush().unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Send `line` and require `code`.
    pub fn ok(&mut self, line: &str, code: u16) -> String {
        let (c, text) = self.cmd(line);
        assert_eq!(c, code, "{line} -> {text}");
        text
    }

    pub fn expect(&mut self, code: u16) -> String {
        let (c, text) = self.reply();
        assert_eq!(c, code, "{text}");
        text
    }

    /// DATA with the (already dot-stuffed) body; returns the final reply.
    pub fn data(&mut self, stuffed: &[u8]) -> (u16, String) {
        self.ok("DATA", 354);
        self.send(stuffed);
        self.send(b".\r\n");
        self.reply()
    }

    pub fn into_inner(self) -> S {
        assert!(self.buf.is_empty(), "unread bytes before a TLS switch");
        self.s
    }
}

pub fn auth_plain(user: &str, password: &str) -> String {
    format!(
        "AUTH PLAIN {}",
        base64(format!("\0{user}\0{password}").as_bytes())
    )
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The submitted message (unstuffed) and its dot-stuffed wire form.
pub fn sample_message(subject: &str) -> (Vec<u8>, Vec<u8>) {
    let mut m =
        format!("From: alice@example.com\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\r\n")
            .into_bytes();
    m.extend_from_slice(b".a line that starts with a dot\r\n..two dots\r\n");
    m.extend(std::iter::repeat_n(b'y', 998));
    m.extend_from_slice(b"\r\nlast line\r\n");
    let mut stuffed = Vec::new();
    for line in m.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            stuffed.push(b'.');
        }
        stuffed.extend_from_slice(line);
    }
    (m, stuffed)
}

/// The stored file is one `Received:` header (possibly folded) followed by exactly
/// the submitted message.
pub fn assert_stored(file: &[u8], message: &[u8]) {
    assert!(
        file.starts_with(b"Received: "),
        "{}",
        String::from_utf8_lossy(file)
    );
    assert!(file.ends_with(message), "{}", String::from_utf8_lossy(file));
    let trace = &file[..file.len() - message.len()];
    assert!(trace.ends_with(b"\r\n"));
    for (i, line) in trace[..trace.len() - 2].split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            assert!(
                matches!(line.first(), Some(b' ' | b'\t')),
                "more than one header added"
            );
        }
    }
}

// --- scenarios -------------------------------------------------------------------

pub fn plain_delivery_is_byte_exact(run: RunFn) {
    let server = TestServer::start(run);
    let mut c = server.connect();
    c.expect(220);
    c.ok("EHLO client.test", 250);
    c.ok("MAIL FROM:<someone@far.test>", 250);
    c.ok("RCPT TO:<bob@example.com>", 250);
    let (message, stuffed) = sample_message("plain");
    let (code, text) = c.data(&stuffed);
    assert_eq!(code, 250, "{text}");
    // The 250 promises durability: the file is there now, not eventually.
    let stored = server.mailbox("bob");
    assert_eq!(stored.len(), 1);
    assert_stored(&stored[0], &message);
    c.ok("QUIT", 221);
    assert!(server.mailbox("alice").is_empty());
    server.stop().unwrap();
}

pub fn starttls_auth_delivers_local_and_spools_remote(run: RunFn) {
    let server = TestServer::start(run);
    let mut c = server.connect();
    c.expect(220);
    let ehlo = c.ok("EHLO client.test", 250);
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    c.ok("STARTTLS", 220);
    let mut c = Smtp::new(server.tls(c.into_inner()));
    let ehlo = c.ok("EHLO client.test", 250);
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    c.ok(&auth_plain("alice", PASSWORD), 235);
    c.ok("MAIL FROM:<alice@example.com>", 250);
    c.ok("RCPT TO:<bob@example.com>", 250);
    c.ok("RCPT TO:<friend@far.test>", 250);
    let (message, stuffed) = sample_message("over tls");
    let (code, text) = c.data(&stuffed);
    assert_eq!(code, 250, "{text}");
    let stored = server.mailbox("bob");
    assert_eq!(stored.len(), 1);
    assert_stored(&stored[0], &message);
    let queue = spool::list(&server.dir).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].from.as_deref(), Some("alice@example.com"));
    assert_eq!(queue[0].recipients, vec!["friend@far.test".to_string()]);
    let spooled = std::fs::read(spool::message_path(&server.dir, &queue[0].id).unwrap()).unwrap();
    assert_eq!(spooled, stored[0]);
    c.ok("QUIT", 221);
    server.stop().unwrap();
}

pub fn starttls_discards_injected_plaintext(run: RunFn) {
    let server = TestServer::start(run);
    let mut c = server.connect();
    c.expect(220);
    c.ok("EHLO client.test", 250);
    // A man in the middle appends a command after STARTTLS in the same packet; it
    // must not be executed inside the encrypted session.
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@far.test>\r\n");
    c.expect(220);
    let mut c = Smtp::new(server.tls(c.into_inner()));
    c.ok("EHLO client.test", 250);
    c.ok("RCPT TO:<bob@example.com>", 503);
    c.ok("QUIT", 221);
    server.stop().unwrap();
}

pub fn implicit_tls_delivers(run: RunFn) {
    let server = TestServer::start(run);
    let mut c = server.connect_tls();
    c.expect(220);
    let ehlo = c.ok("EHLO client.test", 250);
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    c.ok("MAIL FROM:<someone@far.test>", 250);
    c.ok("RCPT TO:<alice@example.com>", 250);
    let (message, stuffed) = sample_message("implicit");
    assert_eq!(c.data(&stuffed).0, 250);
    let stored = server.mailbox("alice");
    assert_eq!(stored.len(), 1);
    assert_stored(&stored[0], &message);
    c.ok("QUIT", 221);
    server.stop().unwrap();
}

pub fn wrong_password_is_refused(run: RunFn) {
    let server = TestServer::start(run);
    let mut c = server.connect();
    c.expect(220);
    c.ok("EHLO client.test", 250);
    c.ok(&auth_plain("alice", "wrong password"), 535);
    c.ok(&auth_plain("nobody", PASSWORD), 535);
    c.ok(&auth_plain("ALICE", PASSWORD), 235);
    c.ok("QUIT", 221);
    server.stop().unwrap();
}

pub fn new_sessions_take_the_new_snapshot(run: RunFn) {
    let server = TestServer::start(run);
    let mut old = server.connect();
    old.expect(220);
    old.ok("EHLO client.test", 250);
    old.ok("MAIL FROM:<someone@far.test>", 250);
    old.ok("RCPT TO:<carol@example.com>", 550);

    server
        .shared
        .replace_snapshot(Arc::new(snapshot(&["alice", "bob", "carol"])));
    let mut c = server.connect();
    c.expect(220);
    c.ok("EHLO client.test", 250);
    c.ok("MAIL FROM:<someone@far.test>", 250);
    c.ok("RCPT TO:<carol@example.com>", 250);
    assert_eq!(c.data(&sample_message("welcome").1).0, 250);
    assert_eq!(server.mailbox("carol").len(), 1);
    old.ok("QUIT", 221);
    c.ok("QUIT", 221);
    server.stop().unwrap();
}

pub fn parallel_clients_all_delivered(run: RunFn) {
    let server = TestServer::start(run);
    let clients = 10;
    let each = 5;
    std::thread::scope(|scope| {
        for t in 0..clients {
            let server = &server;
            scope.spawn(move || {
                let mut c = server.connect();
                c.expect(220);
                c.ok("EHLO client.test", 250);
                for i in 0..each {
                    c.ok("MAIL FROM:<someone@far.test>", 250);
                    c.ok("RCPT TO:<bob@example.com>", 250);
                    let (code, text) = c.data(&sample_message(&format!("{t}-{i}")).1);
                    assert_eq!(code, 250, "{text}");
                }
                c.ok("QUIT", 221);
            });
        }
    });
    let stored = server.mailbox("bob");
    assert_eq!(stored.len(), clients * each);
    for t in 0..clients {
        for i in 0..each {
            let subject = format!("Subject: {t}-{i}\r\n");
            let n = stored
                .iter()
                .filter(|f| f.windows(subject.len()).any(|w| w == subject.as_bytes()))
                .count();
            assert_eq!(n, 1, "{subject}");
        }
    }
    server.stop().unwrap();
}

pub fn stop_leaves_idle_sessions_after_grace(run: RunFn) {
    let server = TestServer::start_with(run, Duration::from_millis(200));
    let mut c = server.connect();
    c.expect(220);
    c.ok("EHLO client.test", 250);
    let addr = server.smtp;
    // The idle session never quits; `run` must still return once the grace is over.
    server.stop().unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after stop"
    );
}

pub fn garbage_tls_is_survived(run: RunFn) {
    let server = TestServer::start(run);
    let mut raw = tcp(server.smtps);
    // Not a TLS ClientHello: the session ends, the server keeps serving.
    let _ = raw.write_all(b"EHLO this is not tls\r\n\r\n");
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink);
    let mut c = server.connect();
    c.expect(220);
    c.ok("QUIT", 221);
    server.stop().unwrap();
}

/// One `#[test]` per scenario above, run on `$run` (a runtime's [`RunFn`]): both
/// runtimes' test files say `scenarios!(run);` and so run the same list.
#[allow(unused_macros)] // dlrules_reply.rs shares the helpers, not the scenarios
macro_rules! scenarios {
    ($run:expr) => {
        crate::common::scenarios!(@each $run;
            plain_delivery_is_byte_exact,
            starttls_auth_delivers_local_and_spools_remote,
            starttls_discards_injected_plaintext,
            implicit_tls_delivers,
            wrong_password_is_refused,
            new_sessions_take_the_new_snapshot,
            parallel_clients_all_delivered,
            stop_leaves_idle_sessions_after_grace,
            garbage_tls_is_survived,
        );
    };
    (@each $run:expr; $($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            common::$name($run);
        }
    )+};
}
#[allow(unused_imports)]
pub(crate) use scenarios;
