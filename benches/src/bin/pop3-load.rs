//! Loopback POP3 retrieval load: N clients, each logging in to its own mailbox,
//! retrieving every message with pipelined RETRs, and quitting (mail is kept, so
//! sessions can repeat). Reports messages and megabytes per second.
//!
//! ```text
//! pop3-load [--server 127.0.0.1:2110] [--clients 1] [--user load%] [--password P]
//!           [--sessions 1] [--window 32] [--time-limit 60] [--hold SECONDS]
//! ```
//!
//! `%` in `--user` is replaced by the client number (1..N). One thread per client with
//! blocking sockets; a response is found by searching the buffer for the end marker
//! (CRLF `.` CRLF cannot occur inside a byte-stuffed body), so the client spends a few
//! instructions per message and the server stays the bottleneck. `--hold S` logs every
//! client in, waits S seconds with the sessions open (to measure the server's memory per
//! session), then quits. Only loopback addresses are accepted.
#![allow(clippy::disallowed_methods)]

use mailroom_benches::cli::or_usage_exit;
use mailroom_benches::retrieval::{run, LoadOptions, Tally};
use memchr::memmem;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(60);

const USAGE: &str = "usage: pop3-load [--server ADDR:PORT] [--clients N] [--user NAME%] \
[--password P] [--sessions S] [--window W] [--time-limit SECONDS] [--hold SECONDS]";

fn parse_args() -> Result<LoadOptions, String> {
    LoadOptions::parse(2110, 32, USAGE, |_, _| Ok(false))
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    /// Start of unread data in `buf`.
    pos: usize,
}

impl Client {
    fn connect(o: &LoadOptions, user: &str) -> Result<Client, String> {
        let s = TcpStream::connect(o.server).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let _ = s.set_nodelay(true);
        let mut c = Client {
            s,
            buf: Vec::with_capacity(256 * 1024),
            pos: 0,
        };
        c.status("greeting")?;
        c.send(format!("USER {user}\r\nPASS {}\r\n", o.password).as_bytes())?;
        c.status("USER")?;
        c.status("PASS")?;
        Ok(c)
    }

    fn send(&mut self, b: &[u8]) -> Result<(), String> {
        self.s.write_all(b).map_err(|e| format!("write: {e}"))
    }

    /// Drop what has been parsed; only between responses, so indexes stay valid.
    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 128 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn fill(&mut self) -> Result<(), String> {
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let n = self
            .s
            .read(&mut self.buf[len..])
            .map_err(|e| format!("read: {e}"))?;
        self.buf.truncate(len + n);
        if n == 0 {
            return Err("server closed the connection".into());
        }
        Ok(())
    }

    /// One status line; `+OK` required. Returns it.
    fn status(&mut self, what: &str) -> Result<String, String> {
        self.compact();
        loop {
            if let Some(i) = memmem::find(&self.buf[self.pos..], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.pos..self.pos + i]).into_owned();
                self.pos += i + 2;
                if !line.starts_with("+OK") {
                    return Err(format!("{what}: {line}"));
                }
                return Ok(line);
            }
            self.fill()?;
        }
    }

    /// One multi-line response; returns the body's length in octets (stuffing included).
    fn multi(&mut self, what: &str) -> Result<usize, String> {
        self.compact();
        let start = loop {
            if let Some(i) = memmem::find(&self.buf[self.pos..], b"\r\n") {
                if !self.buf[self.pos..].starts_with(b"+OK") {
                    let line = String::from_utf8_lossy(&self.buf[self.pos..self.pos + i]);
                    return Err(format!("{what}: {line}"));
                }
                break self.pos + i;
            }
            self.fill()?;
        };
        // From the status line's CRLF: an empty body ends right there.
        let mut from = start;
        loop {
            if let Some(i) = memmem::find(&self.buf[from..], b"\r\n.\r\n") {
                let end = from + i;
                self.pos = end + 5;
                return Ok(end + 2 - (start + 2));
            }
            from = self.buf.len().saturating_sub(4).max(start);
            self.fill()?;
        }
    }
}

fn session(o: &LoadOptions, user: &str, t: &mut Tally) -> Result<(), String> {
    let mut c = Client::connect(o, user)?;
    t.logins += 1;
    c.send(b"STAT\r\n")?;
    let line = c.status("STAT")?;
    let count: usize = line
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("STAT: {line}"))?;
    let mut sent = 0;
    let mut received = 0;
    let mut cmds = Vec::with_capacity(o.window * 12);
    while received < count {
        cmds.clear();
        while sent < count && sent - received < o.window {
            sent += 1;
            cmds.extend_from_slice(format!("RETR {sent}\r\n").as_bytes());
        }
        if !cmds.is_empty() {
            c.send(&cmds)?;
        }
        t.octets += c.multi("RETR")? as u64;
        t.messages += 1;
        received += 1;
    }
    c.send(b"QUIT\r\n")?;
    c.status("QUIT")?;
    Ok(())
}

fn main() -> ExitCode {
    let o = match or_usage_exit(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Some(hold) = o.hold {
        return hold_sessions(&o, hold);
    }
    run(o.clients, &o.user, o.sessions, o.time_limit, |user, t| {
        session(&o, user, t)
    })
}

/// Log every client in, keep the sessions open for `hold`, then quit them all.
fn hold_sessions(o: &LoadOptions, hold: Duration) -> ExitCode {
    let mut open = Vec::with_capacity(o.clients);
    for i in 1..=o.clients {
        let user = o.user.replace('%', &i.to_string());
        match Client::connect(o, &user) {
            Ok(c) => open.push(c),
            Err(e) => {
                eprintln!("error: {user}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("holding={}", open.len());
    std::thread::sleep(hold);
    for mut c in open {
        let _ = c.send(b"QUIT\r\n");
        let _ = c.status("QUIT");
    }
    ExitCode::SUCCESS
}
