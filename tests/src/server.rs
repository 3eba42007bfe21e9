//! A real server process on a scratch data directory and free loopback ports.

use crate::bins;
use crate::client::Smtp;
use std::fs::{self, File, OpenOptions};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Which binary: both serve the same data directory the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `mailroom`, on smol.
    Smol,
    /// `mailroom-lite`, one thread per connection.
    Lite,
}

impl Flavor {
    pub const ALL: [Flavor; 2] = [Flavor::Smol, Flavor::Lite];

    pub fn binary_name(self) -> &'static str {
        match self {
            Flavor::Smol => "mailroom",
            Flavor::Lite => "mailroom-lite",
        }
    }

    pub fn binary(self) -> PathBuf {
        bins::binary(self.binary_name())
    }

    /// A command for this binary with a clean environment for the data directory.
    pub fn command(self) -> Command {
        let mut c = Command::new(self.binary());
        c.env_remove("MAILROOM_DATA").env("RUST_BACKTRACE", "1");
        c
    }

    /// Run one CLI subcommand to completion.
    pub fn run(self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", self.binary_name()))
    }
}

pub const DOMAIN: &str = "example.com";
pub const POSTMASTER_PASSWORD: &str = "postmaster-secret-1";
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-secret-1";
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "bob-secret-1";

/// A loopback port nobody listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the kernel hands out a free loopback port")
}

/// A data directory set up with `init` and `user add` (alice, bob), its SMTP service on
/// a free loopback port and every other service off, and optionally the server process
/// serving it. The process gets SIGKILL when this value is dropped.
pub struct TestServer {
    pub flavor: Flavor,
    /// Holds the data directory and the server's log; removed on drop.
    scratch: TempDir,
    pub data: PathBuf,
    pub smtp: SocketAddr,
    child: Option<Child>,
}

impl TestServer {
    /// Set up and start serving.
    pub fn start(flavor: Flavor) -> TestServer {
        let mut s = TestServer::setup(flavor);
        s.serve();
        s
    }

    /// Set up the data directory, without starting the server.
    pub fn setup(flavor: Flavor) -> TestServer {
        let scratch = tempfile::Builder::new()
            .prefix("mailroom-e2e-")
            .tempdir()
            .expect("a scratch directory");
        let data = scratch.path().join("data");
        let smtp = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let s = TestServer {
            flavor,
            scratch,
            data,
            smtp,
            child: None,
        };
        s.cli_ok(&[
            "init",
            "--domain",
            DOMAIN,
            "--admin-password",
            POSTMASTER_PASSWORD,
        ]);
        s.use_only_smtp_on(smtp);
        s.cli_ok(&["user", "add", ALICE, "--password", ALICE_PASSWORD]);
        s.cli_ok(&["user", "add", BOB, "--password", BOB_PASSWORD]);
        s
    }

    pub fn config_file(&self) -> PathBuf {
        self.data.join("mailroom.toml")
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.data.join("mail").join(user)
    }

    pub fn cert(&self) -> PathBuf {
        self.data.join("tls").join("cert.pem")
    }

    /// Rewrite `[services]` so only SMTP listens, on `addr`: parallel tests never meet.
    fn use_only_smtp_on(&self, addr: SocketAddr) {
        let path = self.config_file();
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("init wrote no {}: {e}", path.display()));
        let mut doc: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("init wrote invalid TOML: {e}\n{text}"));
        let mut services = toml::Table::new();
        for (key, value) in [
            ("smtp", vec![addr.to_string()]),
            ("smtps", vec![]),
            ("pop3", vec![]),
            ("pop3s", vec![]),
            ("imap", vec![]),
            ("imaps", vec![]),
            ("http", vec![]),
        ] {
            services.insert(
                key.into(),
                toml::Value::Array(value.into_iter().map(toml::Value::String).collect()),
            );
        }
        doc.insert("services".into(), toml::Value::Table(services));
        fs::write(&path, doc.to_string()).expect("rewriting the config");
    }

    /// Turn service `key` of `[services]` on, on a free loopback port (set up, not
    /// yet serving); returns its address.
    pub fn add_listener(&self, key: &str) -> SocketAddr {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let path = self.config_file();
        let text = fs::read_to_string(&path).expect("the config exists");
        let mut doc: toml::Table = text.parse().expect("the config is TOML");
        let services = doc
            .entry("services")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("[services] is a table");
        services.insert(key.into(), vec![addr.to_string()].into());
        fs::write(&path, doc.to_string()).expect("rewriting the config");
        addr
    }

    /// Rewrite the config file's text with `f`.
    pub fn edit_config_text(&self, f: impl FnOnce(String) -> String) {
        let path = self.config_file();
        let text = fs::read_to_string(&path).expect("the config exists");
        fs::write(&path, f(text)).expect("writing the config");
    }

    /// Edit the config file as a TOML table.
    pub fn edit_config(&self, f: impl FnOnce(&mut toml::Table)) {
        let path = self.config_file();
        let text = fs::read_to_string(&path).expect("config");
        let mut doc: toml::Table = text.parse().expect("valid TOML");
        f(&mut doc);
        fs::write(&path, doc.to_string()).expect("rewriting the config");
    }

    /// One always-online connection, `isp` on the LAN, whose Out Mail is `outmail`
    /// (e.g. `method = "relay"`, `relays = [...]`): queued mail goes out at once.
    pub fn set_lan_connection(doc: &mut toml::Table, outmail: toml::Table) {
        let mut conn = toml::Table::new();
        conn.insert("name".into(), "isp".into());
        conn.insert("link".into(), "lan".into());
        conn.insert("outmail".into(), toml::Value::Table(outmail));
        doc.insert(
            "connection".into(),
            toml::Value::Array(vec![toml::Value::Table(conn)]),
        );
    }

    /// Set an account's comment (its display name, "Alice Liddell") in its file.
    pub fn set_account_comment(&self, user: &str, comment: &str) {
        let path = self.data.join("users").join(format!("{user}.toml"));
        let text = fs::read_to_string(&path).expect("the account file exists");
        let mut doc: toml::Table = text.parse().expect("the account file is TOML");
        doc.insert("comment".into(), comment.into());
        fs::write(&path, doc.to_string()).expect("rewriting the account file");
        self.cli_ok(&["check"]);
    }

    /// Append `toml` to the config file, and have `check` accept the result.
    pub fn add_config(&self, toml: &str) {
        self.edit_config_text(|text| text + toml);
        self.cli_ok(&["check"]);
    }

    /// Run a CLI subcommand on this data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let data = self.data.to_str().expect("temp paths are UTF-8");
        all.extend(["--data", data]);
        self.flavor.run(&all)
    }

    /// Run a CLI subcommand that must succeed.
    pub fn cli_ok(&self, args: &[&str]) -> Output {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            self.flavor.binary_name(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn log_path(&self) -> PathBuf {
        self.scratch.path().join("server.log")
    }

    /// Everything the server printed (stdout and stderr, all runs).
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Start `serve` and wait until it answers on the SMTP port with a 220 greeting.
    pub fn serve(&mut self) {
        self.serve_with_env(&[]);
    }

    /// [`TestServer::serve`] with extra environment variables (test knobs).
    pub fn serve_with_env(&mut self, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "the server is already running");
        let data = self
            .data
            .to_str()
            .expect("temp paths are UTF-8")
            .to_string();
        let child = spawn_serve_with_env(self.flavor, &data, &self.log_path(), env);
        self.child = Some(child);
        let child = self.child.as_mut().expect("just set");
        if let Err(why) = wait_for_greeting(self.smtp, child) {
            panic!(
                "{} serve did not come up: {why}\n--- server log ---\n{}",
                self.flavor.binary_name(),
                self.log()
            );
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Send `sig` to the running server without waiting (usable while other threads
    /// hold `&self`); [`TestServer::kill`] or [`TestServer::terminate`] reaps it.
    pub fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            signal(c, sig);
        }
    }

    /// SIGKILL the server and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Send SIGTERM and wait up to `limit` for the exit; `None` if it did not exit (it
    /// is then killed).
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        signal(&c, libc::SIGTERM);
        let status = wait_timeout(&mut c, limit);
        if status.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        status
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start `BINARY serve --data DIR`, stdout and stderr appended to `log`.
pub fn spawn_serve(flavor: Flavor, data: &str, log: &Path) -> Child {
    spawn_serve_with_env(flavor, data, log, &[])
}

/// [`spawn_serve`] with extra environment variables.
pub fn spawn_serve_with_env(flavor: Flavor, data: &str, log: &Path, env: &[(&str, &str)]) -> Child {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("opening the server log");
    let err = file.try_clone().expect("cloning the log handle");
    flavor
        .command()
        .envs(env.iter().copied())
        .args(["serve", "--data", data])
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {} serve: {e}", flavor.binary_name()))
}

/// Wait (up to 60 s: a cold debug build on a busy machine) until `addr` greets with 220.
pub fn wait_for_greeting(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the process exited with {status}"));
        }
        match Smtp::connect(addr) {
            Ok((mut c, greeting)) if greeting.code == 220 => {
                let _ = c.command("QUIT");
                return Ok(());
            }
            Ok((_, other)) => return Err(format!("greeting was {other:?}")),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("no greeting on {addr}: {e}")),
        }
    }
}

pub fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pids fit pid_t");
    // SAFETY: kill(2) on our own child's pid; it has not been reaped, so the pid is ours.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

/// Wait for `child` to exit, at most `limit`.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// A cross-process lock (flock on a file in the temp directory), for tests that need a
/// fixed resource such as the development setup's default ports. Released on drop.
pub struct FileLock(#[allow(dead_code)] File);

impl FileLock {
    pub fn acquire(name: &str) -> FileLock {
        let path = std::env::temp_dir().join(format!("mailroom-tests-{name}.lock"));
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own for the lifetime of the call.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {}", path.display());
        FileLock(f)
    }
}
