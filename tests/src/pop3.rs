//! POP3 for the end-to-end tests: turning the service on in a test server's
//! configuration, and a small blocking client for exact control.

use crate::server::TestServer;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Give `server` (set up, not yet serving) a POP3 listener on a free loopback port,
/// and a password service if `pass` is set. Returns (pop3, pass) addresses.
pub fn enable(server: &TestServer, pass: bool) -> (SocketAddr, Option<SocketAddr>) {
    let pop3 = server.add_listener("pop3");
    let pass = pass.then(|| server.add_listener("pass"));
    (pop3, pass)
}

/// A minimal POP3 client.
pub struct Pop3 {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: String,
}

impl Pop3 {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Pop3> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let writer = s.try_clone()?;
        let mut c = Pop3 {
            reader: BufReader::new(s),
            writer,
            greeting: String::new(),
        };
        c.greeting = c.line()?;
        Ok(c)
    }

    pub fn line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        Ok(String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string())
    }

    pub fn command(&mut self, line: &str) -> std::io::Result<String> {
        self.writer.write_all(format!("{line}\r\n").as_bytes())?;
        self.line()
    }

    pub fn login(&mut self, user: &str, password: &str) -> std::io::Result<String> {
        self.command(&format!("USER {user}"))?;
        self.command(&format!("PASS {password}"))
    }

    /// Read a multi-line body into `sink` (un-stuffed), returning its length, without
    /// keeping it in memory.
    pub fn body_into(&mut self, sink: &mut impl Write) -> std::io::Result<u64> {
        let mut n = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = Read::take(&mut self.reader, 1 << 20).read_until(b'\n', &mut line)?;
            if read == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed inside a response",
                ));
            }
            if line == b".\r\n" {
                return Ok(n);
            }
            let data = line.strip_prefix(b".").unwrap_or(&line);
            sink.write_all(data)?;
            n += data.len() as u64;
        }
    }
}

/// Message `n` of `user`'s maildrop, retrieved over POP3 (un-stuffed).
pub fn retrieve(addr: SocketAddr, user: &str, password: &str, n: u32) -> String {
    let mut p = Pop3::connect(addr).expect("POP3 connects");
    let ok = p.login(user, password).expect("POP3 login");
    assert!(ok.starts_with("+OK"), "{user}: {ok}");
    let ok = p.command(&format!("RETR {n}")).expect("RETR");
    assert!(ok.starts_with("+OK"), "RETR {n}: {ok}");
    let mut got = Vec::new();
    p.body_into(&mut got).expect("the message");
    let _ = p.command("QUIT");
    String::from_utf8_lossy(&got).into_owned()
}
