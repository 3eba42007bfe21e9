//! IMAP for the end-to-end tests: turning the service on, a small blocking client for
//! exact control (IDLE, what a restart keeps), and where imaptest lives.

use crate::client::Smtp;
use crate::message::tricky;
use crate::server::TestServer;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// Give `server` (set up, not yet serving) an IMAP listener on a free loopback port.
pub fn enable(server: &TestServer) -> SocketAddr {
    server.add_listener("imap")
}

/// Dovecot's imaptest as `.ci/run` installs it (`imaptest` on PATH, a symlink into the
/// build directory that also holds the scripted `tests/`): (binary, tests directory).
pub fn imaptest() -> Option<(PathBuf, PathBuf)> {
    let path = std::env::var_os("PATH")?;
    let bin = std::env::split_paths(&path)
        .map(|d| d.join("imaptest"))
        .find(|p| p.is_file())?;
    let real = std::fs::canonicalize(&bin).ok()?;
    let tests = real.parent()?.join("tests");
    tests.is_dir().then_some((real, tests))
}

/// A minimal IMAP client: one command at a time, every line kept.
pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
}

impl Imap {
    /// Connect and read the greeting.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Imap> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut c = Imap {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            next_tag: 1,
        };
        let greeting = c.line()?;
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        Ok(c)
    }

    /// One line, CRLF removed; literals come through as their lines.
    pub fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Wait up to `limit` for the next line.
    pub fn line_within(&mut self, limit: Duration) -> std::io::Result<String> {
        self.writer.set_read_timeout(Some(limit))?;
        let l = self.line();
        self.writer
            .set_read_timeout(Some(Duration::from_secs(30)))?;
        l
    }

    pub fn send(&mut self, raw: &str) -> std::io::Result<()> {
        self.writer.write_all(raw.as_bytes())?;
        self.writer.write_all(b"\r\n")
    }

    /// Send `command` with a fresh tag; every line up to and including the tagged one.
    pub fn command(&mut self, command: &str) -> std::io::Result<Vec<String>> {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        self.send(&format!("{tag} {command}"))?;
        let mut out = Vec::new();
        loop {
            let l = self.line()?;
            let done = l.starts_with(&format!("{tag} "));
            out.push(l);
            if done {
                return Ok(out);
            }
        }
    }

    /// A command that must end OK.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        let lines = self
            .command(command)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        let last = lines.last().map(String::as_str).unwrap_or("");
        assert!(
            last.split(' ').nth(1) == Some("OK"),
            "{command}: {lines:#?}"
        );
        lines
    }

    pub fn login(&mut self, user: &str, password: &str) {
        self.ok(&format!("LOGIN {user} \"{password}\""));
    }
}

/// Deliver one message per token to bob over SMTP (oldest first), from alice.
pub fn deliver(server: &TestServer, tokens: &[&str]) {
    let (mut c, _) = Smtp::connect(server.smtp).expect("SMTP connects");
    c.command("EHLO client.example.com").expect("EHLO");
    for t in tokens {
        let r = c
            .send_mail("alice@example.com", "bob@example.com", &tricky(t))
            .expect("the message is sent");
        assert_eq!(r.code, 250, "{r:?}");
    }
    let _ = c.command("QUIT");
}
