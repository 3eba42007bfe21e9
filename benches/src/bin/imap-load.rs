//! Loopback IMAP retrieval load: N clients, each logging in (LOGIN) to its own mailbox,
//! SELECTing INBOX, FETCHing every message whole (`BODY.PEEK[]`, so nothing is marked
//! seen and sessions can repeat) in batches with several FETCHes in flight, and logging
//! out. Reports messages and megabytes per second.
//!
//! ```text
//! imap-load [--server 127.0.0.1:2143] [--clients 1] [--user load%] [--password P]
//!           [--sessions 1] [--batch 100] [--window 4] [--time-limit 60] [--hold SECONDS]
//!           [--logins-only]
//! ```
//!
//! `%` in `--user` is replaced by the client number (1..N). One thread per client with
//! blocking sockets. Responses are parsed as IMAP frames: a line ending in a literal
//! announcement `{n}` is followed by n octets and then the rest of the line, so a
//! message body is skipped by its announced length, never searched, and memory stays at
//! one line plus one read buffer whatever the message size. A FETCH of `lo:hi` asks for
//! messages by sequence number, `--batch` at a time, with up to `--window` commands
//! outstanding; every untagged FETCH carrying a literal counts as one message and the
//! literal's length as its octets, and a session that gets fewer messages than SELECT
//! announced is an error. `--hold S` logs every client in and SELECTs INBOX, waits S
//! seconds with the sessions open (to measure the server's memory per session), then
//! logs out. `--logins-only` makes each session connect, LOGIN and LOGOUT, nothing
//! else (a client opening a connection per folder, as Outlook and phones do): the
//! summary's `logins_per_s` is the figure then. Only loopback addresses are accepted.
#![allow(clippy::disallowed_methods)]

use mailroom_benches::cli::or_usage_exit;
use mailroom_benches::retrieval::{run, LoadOptions, Tally};
use memchr::memmem;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

const MAX_BATCH: usize = 100_000;
/// One line between literals; servers keep theirs far shorter.
const MAX_LINE: usize = 1 << 20;
/// What of a response's first line is kept for parsing and error messages.
const KEPT_TEXT: usize = 512;
const IO_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Options {
    load: LoadOptions,
    /// Messages per FETCH command.
    batch: usize,
    /// Sessions only log in and out.
    logins_only: bool,
}

const USAGE: &str = "usage: imap-load [--server ADDR:PORT] [--clients N] [--user NAME%] \
[--password P] [--sessions S] [--batch B] [--window W] [--time-limit SECONDS] [--hold SECONDS] \
[--logins-only]";

fn parse_args() -> Result<Options, String> {
    let mut batch = 100;
    let mut logins_only = false;
    let load = LoadOptions::parse(2143, 4, USAGE, |flag, value| match flag {
        "--batch" => {
            batch = value()?
                .parse::<usize>()
                .map_err(|e| format!("--batch: {e}"))?;
            Ok(true)
        }
        "--logins-only" => {
            logins_only = true;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    if batch == 0 || batch > MAX_BATCH {
        return Err(format!("--batch must be 1..={MAX_BATCH}"));
    }
    let o = Options {
        load,
        batch,
        logins_only,
    };
    // LOGIN sends them as quoted strings; keep them to what needs no escaping.
    for (what, v) in [("--user", &o.load.user), ("--password", &o.load.password)] {
        if v.is_empty()
            || v.bytes()
                .any(|b| !b.is_ascii_graphic() || b == b'"' || b == b'\\')
        {
            return Err(format!(
                "{what} must be printable ASCII without quotes or backslashes"
            ));
        }
    }
    Ok(o)
}

/// One response: its first line (up to the first literal, cut to `KEPT_TEXT`) and the
/// literals that followed.
struct Response {
    text: String,
    literals: u32,
    literal_octets: u64,
}

impl Response {
    /// The tag, or `*` / `+`.
    fn tag(&self) -> &str {
        self.text.split(' ').next().unwrap_or("")
    }

    /// `OK`, `NO`, `BAD`, or for untagged data its first word after `*`.
    fn word(&self, n: usize) -> &str {
        self.text.split(' ').nth(n).unwrap_or("")
    }
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    /// Start of unread data in `buf`.
    pos: usize,
    next_tag: u64,
}

impl Client {
    /// Connect, read the greeting and LOGIN.
    fn login(o: &Options, user: &str) -> Result<Client, String> {
        let s = TcpStream::connect(o.load.server).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let _ = s.set_nodelay(true);
        let mut c = Client {
            s,
            buf: Vec::with_capacity(128 * 1024),
            pos: 0,
            next_tag: 0,
        };
        let greeting = c.response()?;
        if greeting.tag() != "*" || greeting.word(1) != "OK" {
            return Err(format!("greeting: {}", greeting.text));
        }
        c.command(&format!("LOGIN \"{user}\" \"{}\"", o.load.password), |_| ())?;
        Ok(c)
    }

    /// Connect, read the greeting, LOGIN and SELECT INBOX; returns the message count.
    fn open(o: &Options, user: &str) -> Result<(Client, usize), String> {
        let mut c = Client::login(o, user)?;
        let mut exists = None;
        c.command("SELECT INBOX", |r| {
            if r.tag() == "*" && r.word(2).eq_ignore_ascii_case("EXISTS") {
                exists = r.word(1).parse::<usize>().ok();
            }
        })?;
        let exists = exists.ok_or("SELECT: no EXISTS")?;
        Ok((c, exists))
    }

    fn send(&mut self, b: &[u8]) -> Result<(), String> {
        self.s.write_all(b).map_err(|e| format!("write: {e}"))
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("a{}", self.next_tag)
    }

    /// Send one command and read up to its tagged OK; `untagged` sees the rest.
    fn command(&mut self, cmd: &str, mut untagged: impl FnMut(&Response)) -> Result<(), String> {
        let tag = self.tag();
        self.send(format!("{tag} {cmd}\r\n").as_bytes())?;
        loop {
            let r = self.response()?;
            if r.tag() == tag {
                return ok(&r, cmd);
            }
            untagged(&r);
        }
    }

    fn fill(&mut self) -> Result<(), String> {
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let n = self
            .s
            .read(&mut self.buf[len..])
            .map_err(|e| format!("read: {e}"));
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e);
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            return Err("server closed the connection".into());
        }
        Ok(())
    }

    /// Drop what has been parsed.
    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// One whole response: line, then for each `{n}` at a line's end n octets and the
    /// line that continues after them.
    fn response(&mut self) -> Result<Response, String> {
        let mut r = Response {
            text: String::new(),
            literals: 0,
            literal_octets: 0,
        };
        let mut first = true;
        loop {
            self.compact();
            let mut from = self.pos;
            let eol = loop {
                if let Some(i) = memmem::find(&self.buf[from..], b"\r\n") {
                    break from + i;
                }
                if self.buf.len() - self.pos > MAX_LINE {
                    return Err(format!("a line longer than {MAX_LINE} octets"));
                }
                from = self.buf.len().saturating_sub(1).max(self.pos);
                self.fill()?;
            };
            let line = &self.buf[self.pos..eol];
            if first {
                let keep = &line[..line.len().min(KEPT_TEXT)];
                r.text = String::from_utf8_lossy(keep).into_owned();
                first = false;
            }
            let literal = literal_length(line);
            self.pos = eol + 2;
            let Some(mut left) = literal else {
                return Ok(r);
            };
            r.literals += 1;
            r.literal_octets += left;
            // Skip the literal without keeping it: bounded memory for any size.
            while left > 0 {
                let have = (self.buf.len() - self.pos) as u64;
                let take = have.min(left);
                self.pos += take as usize;
                left -= take;
                if left > 0 {
                    self.buf.clear();
                    self.pos = 0;
                    self.fill()?;
                }
            }
        }
    }
}

/// `{n}` or `{n+}` ending a line: n.
fn literal_length(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', inner)?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn ok(r: &Response, what: &str) -> Result<(), String> {
    if r.word(1).eq_ignore_ascii_case("OK") {
        Ok(())
    } else {
        let what = what.split(' ').next().unwrap_or(what);
        Err(format!("{what}: {}", r.text))
    }
}

fn session(o: &Options, user: &str, t: &mut Tally) -> Result<(), String> {
    if o.logins_only {
        let mut c = Client::login(o, user)?;
        t.logins += 1;
        return c.command("LOGOUT", |_| ());
    }
    let (mut c, count) = Client::open(o, user)?;
    t.logins += 1;
    let mut next = 1;
    let mut outstanding: VecDeque<String> = VecDeque::with_capacity(o.load.window);
    let mut got = 0usize;
    let mut cmds = Vec::with_capacity(o.load.window * 40);
    loop {
        cmds.clear();
        while next <= count && outstanding.len() < o.load.window {
            let last = (next + o.batch - 1).min(count);
            let tag = c.tag();
            cmds.extend_from_slice(
                format!("{tag} FETCH {next}:{last} (BODY.PEEK[])\r\n").as_bytes(),
            );
            outstanding.push_back(tag);
            next = last + 1;
        }
        if !cmds.is_empty() {
            c.send(&cmds)?;
        }
        let Some(waiting) = outstanding.front() else {
            break;
        };
        let r = c.response()?;
        if r.tag() == "*" {
            if r.literals > 0 && r.word(2).eq_ignore_ascii_case("FETCH") {
                got += 1;
                t.messages += 1;
                t.octets += r.literal_octets;
            }
        } else if r.tag() == waiting {
            ok(&r, "FETCH")?;
            outstanding.pop_front();
        } else {
            return Err(format!("unexpected: {}", r.text));
        }
    }
    if got != count {
        return Err(format!("SELECT said {count} messages, FETCH gave {got}"));
    }
    c.command("LOGOUT", |_| ())?;
    Ok(())
}

fn main() -> ExitCode {
    let o = match or_usage_exit(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Some(hold) = o.load.hold {
        return hold_sessions(&o, hold);
    }
    run(
        o.load.clients,
        &o.load.user,
        o.load.sessions,
        o.load.time_limit,
        |user, t| session(&o, user, t),
    )
}

/// Log every client in with INBOX selected, keep the sessions open for `hold`, then log
/// them all out.
fn hold_sessions(o: &Options, hold: Duration) -> ExitCode {
    let mut open = Vec::with_capacity(o.load.clients);
    for i in 1..=o.load.clients {
        let user = o.load.user.replace('%', &i.to_string());
        match Client::open(o, &user) {
            Ok((c, _)) => open.push(c),
            Err(e) => {
                eprintln!("error: {user}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("holding={}", open.len());
    // The script waits for this line before it samples the server's memory.
    let _ = std::io::stdout().flush();
    std::thread::sleep(hold);
    for mut c in open {
        let _ = c.command("LOGOUT", |_| ());
    }
    ExitCode::SUCCESS
}
