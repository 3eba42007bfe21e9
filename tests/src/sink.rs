//! Postfix's `smtp-sink` as a relay that takes everything: each transaction is dumped
//! to a file the tests read back.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub struct Sink {
    child: Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Sink {
    /// Start `smtp-sink` on a free loopback port with `extra` options (e.g. `-w 1` to
    /// wait a second before answering DATA). A test that starts it is ignored where
    /// it is not installed (`have_smtp_sink`).
    pub fn start(extra: &[&str]) -> Sink {
        let dir = tempfile::Builder::new()
            .prefix("mailroom-sink-")
            .tempdir()
            .expect("a scratch directory");
        // smtp-sink drops root privileges for `nobody`, who must write the dumps.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
        let port = crate::server::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let template = format!("{}/%H%M%S.", dir.path().display());
        let mut cmd = Command::new("smtp-sink");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "nobody"]);
        }
        cmd.args(extra)
            .args(["-d", &template, &format!("127.0.0.1:{port}"), "100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("starting smtp-sink");
        let s = Sink { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    /// Every transaction received so far (dump files, in name order).
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.path())
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    /// Wait up to `limit` until at least `n` transactions arrived, whole: smtp-sink
    /// creates a dump file before it has written it, so the first `n` files must be
    /// non-empty and the same on two reads in a row (more may still be arriving).
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut previous: Option<Vec<String>> = None;
        loop {
            let m = self.messages();
            let first = m.get(..n).filter(|f| f.iter().all(|d| !d.is_empty()));
            let settled = first.is_some() && previous.as_deref() == first;
            if settled || Instant::now() >= deadline {
                return m;
            }
            previous = first.map(<[String]>::to_vec);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
