//! The status monitor (SVC-5, §3.1, VPOP3's port 5109 protocol) through both
//! binaries over a raw socket: the greeting with its challenge, a refused and an
//! accepted login, the state pushed at login, and a connection seen going online and
//! offline while `mailroom connect` runs it.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::server::{ALICE, ALICE_PASSWORD, POSTMASTER_PASSWORD};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

struct Monitor {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Monitor {
    fn connect(addr: SocketAddr) -> (Monitor, String) {
        let s = TcpStream::connect(addr).expect("connect to the status monitor");
        // A hang guard: every awaited line comes within seconds.
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let writer = s.try_clone().unwrap();
        let mut m = Monitor {
            reader: BufReader::new(s),
            writer,
        };
        let greeting = m.line();
        (m, greeting)
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader
            .read_line(&mut l)
            .expect("a line from the monitor");
        assert!(l.ends_with("\r\n"), "line not ended by CRLF: {l:?}");
        l.trim_end().to_string()
    }

    fn send(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.line()
    }

    /// Read pushed lines until `want` comes; returns everything read.
    fn until(&mut self, want: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let l = self.line();
            seen.push(l.clone());
            if l == want {
                return seen;
            }
            assert!(seen.len() < 200, "no {want:?} among {seen:?}");
        }
    }
}

fn status_monitor(flavor: Flavor) {
    let mut server = TestServer::setup(flavor);
    let addr = server.add_listener("monitor");
    let root = server.data.parent().unwrap().to_path_buf();
    let up = root.join("up.sh");
    fs::write(&up, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&up, fs::Permissions::from_mode(0o755)).unwrap();
    server.add_config(&format!(
        "\n[[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"{}\"\ndown = \"true\"\n",
        up.display()
    ));
    server.serve();

    let (mut m, greeting) = Monitor::connect(addr);
    let challenge = greeting
        .strip_prefix("+OK Mailroom Status Server Ready <")
        .unwrap_or_else(|| panic!("greeting: {greeting}"));
    assert!(challenge.ends_with('>'), "{greeting}");
    assert!(m.send("LOGIN alice wrong-password").starts_with("-ERR "));
    assert_eq!(
        m.send(&format!("LOGIN {ALICE} {ALICE_PASSWORD}")),
        "+OK Logged in OK (Build 1)"
    );
    // The state at login: nothing is sending; queue counts are for administrators.
    let first = m.until("2 Sending: idle");
    assert!(!first.iter().any(|l| l.starts_with("4 ")), "{first:?}");

    let (mut admin, _) = Monitor::connect(addr);
    assert_eq!(
        admin.send(&format!("LOGIN postmaster {POSTMASTER_PASSWORD}")),
        "+OK Logged in OK (Build 1)"
    );
    admin.until("4 Queue: 0 messages waiting to be sent");

    let out = server.cli(&["connect", "isp", "--wait"]);
    assert!(
        out.status.success(),
        "connect --wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    m.until("1 Online: isp");
    m.until("1 Offline: isp");
    admin.until("1 Online: isp");
    for c in [&mut m, &mut admin] {
        c.writer.write_all(b"QUIT\r\n").unwrap();
        c.until("+OK Bye");
    }
}

both_binaries!(status_monitor);
