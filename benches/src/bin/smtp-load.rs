//! Loopback SMTP load generator: N parallel connections each send M messages of S octets
//! and the run reports messages per second and latency percentiles.
//!
//! ```text
//! smtp-load [--server 127.0.0.1:2525] [--connections 1] [--messages 100] [--size 4096]
//!           [--pipelining] [--reconnect] [--auth USER:PASSWORD]
//!           [--from alice@example.com] [--to bob@example.com] [--time-limit 60]
//! ```
//!
//! One thread per connection with blocking sockets: the client does almost nothing per
//! message (one prebuilt buffer, a few short reads), so on loopback the server is the
//! bottleneck. Only loopback addresses are accepted, the counts are capped, and the run
//! stops starting new messages once `--time-limit` seconds have passed.
#![allow(clippy::disallowed_methods)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mailroom_benches::cli::{loopback_only, or_usage_exit, usage_error};
use mailroom_benches::message::{dot_stuff, message};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const MAX_CONNECTIONS: usize = 1000;
const MAX_MESSAGES: usize = 1_000_000;
const MAX_SIZE: usize = 64 << 20;
const MAX_REPLY_LINE: usize = 4096;
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Options {
    server: SocketAddr,
    connections: usize,
    messages: usize,
    size: usize,
    pipelining: bool,
    reconnect: bool,
    auth: Option<(String, String)>,
    from: String,
    to: String,
    time_limit: Duration,
}

const USAGE: &str =
    "usage: smtp-load [--server ADDR:PORT] [--connections N] [--messages M per connection] \
[--size OCTETS] [--pipelining] [--reconnect] [--auth USER:PASSWORD] [--from ADDR] [--to ADDR] \
[--time-limit SECONDS]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        server: SocketAddr::from(([127, 0, 0, 1], 2525)),
        connections: 1,
        messages: 100,
        size: 4096,
        pipelining: false,
        reconnect: false,
        auth: None,
        from: "alice@example.com".into(),
        to: "bob@example.com".into(),
        time_limit: Duration::from_secs(60),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--server" => {
                o.server = value()?.parse().map_err(|e| format!("--server: {e}"))?;
            }
            "--connections" | "-c" => o.connections = number(value()?)?,
            "--messages" | "-m" => o.messages = number(value()?)?,
            "--size" | "-s" => o.size = number(value()?)?,
            "--pipelining" => o.pipelining = true,
            "--reconnect" => o.reconnect = true,
            "--auth" => {
                let v = value()?;
                let (u, p) = v.split_once(':').ok_or("--auth wants USER:PASSWORD")?;
                o.auth = Some((u.into(), p.into()));
            }
            "--from" => o.from = value()?,
            "--to" => o.to = value()?,
            "--time-limit" => o.time_limit = Duration::from_secs(number(value()?)? as u64),
            other => return Err(usage_error(other, USAGE)),
        }
    }
    loopback_only(o.server)?;
    if o.connections == 0 || o.connections > MAX_CONNECTIONS {
        return Err(format!("--connections must be 1..={MAX_CONNECTIONS}"));
    }
    if o.messages == 0 || o.messages.saturating_mul(o.connections) > MAX_MESSAGES {
        return Err(format!(
            "--messages × --connections must be 1..={MAX_MESSAGES}"
        ));
    }
    if o.size > MAX_SIZE {
        return Err(format!("--size must be at most {MAX_SIZE}"));
    }
    Ok(o)
}

#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    failed: usize,
    latencies: Vec<Duration>,
    first_error: Option<String>,
}

/// One SMTP client connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: Vec<u8>,
}

impl Client {
    fn connect(o: &Options) -> Result<Client, String> {
        let s = TcpStream::connect_timeout(&o.server, IO_TIMEOUT)
            .map_err(|e| format!("connect {}: {e}", o.server))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        let mut c = Client {
            reader: BufReader::with_capacity(16 * 1024, s),
            writer,
            line: Vec::with_capacity(512),
        };
        c.expect(220, "greeting")?;
        c.send(b"EHLO load.example.com\r\n")?;
        c.expect(250, "EHLO")?;
        if let Some((user, pass)) = &o.auth {
            let token = base64(format!("\0{user}\0{pass}").as_bytes());
            c.send(format!("AUTH PLAIN {token}\r\n").as_bytes())?;
            c.expect(235, "AUTH PLAIN")?;
        }
        Ok(c)
    }

    fn send(&mut self, b: &[u8]) -> Result<(), String> {
        self.writer.write_all(b).map_err(|e| format!("write: {e}"))
    }

    /// Read one (possibly multi-line) reply and check its code.
    fn expect(&mut self, code: u16, what: &str) -> Result<(), String> {
        loop {
            self.line.clear();
            let n = Read::take(&mut self.reader, MAX_REPLY_LINE as u64)
                .read_until(b'\n', &mut self.line)
                .map_err(|e| format!("{what}: read: {e}"))?;
            if n == 0 {
                return Err(format!("{what}: connection closed"));
            }
            let text = String::from_utf8_lossy(&self.line);
            let got: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            if got != code {
                return Err(format!("{what}: expected {code}, got {}", text.trim_end()));
            }
            if self.line.get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    }

    /// One transaction; returns after the reply to the final dot.
    fn transaction(&mut self, o: &Options, envelope: &[u8], data: &[u8]) -> Result<(), String> {
        if o.pipelining {
            self.send(envelope)?;
            self.expect(250, "MAIL")?;
            self.expect(250, "RCPT")?;
            self.expect(354, "DATA")?;
        } else {
            let mut lines = envelope.split_inclusive(|&b| b == b'\n');
            for (what, code) in [("MAIL", 250), ("RCPT", 250), ("DATA", 354)] {
                let line = lines.next().ok_or("envelope has three lines")?;
                self.send(line)?;
                self.expect(code, what)?;
            }
        }
        self.send(data)?;
        self.expect(250, "end of data")
    }

    fn quit(mut self) {
        // The server's 221 is not part of the measurement; a failure here is harmless.
        let _ = self.send(b"QUIT\r\n");
        let _ = self.expect(221, "QUIT");
    }
}

fn worker(o: &Options, worker: usize, start: Instant) -> Tally {
    let mut t = Tally {
        latencies: Vec::with_capacity(o.messages),
        ..Tally::default()
    };
    let envelope = format!("MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n", o.from, o.to).into_bytes();
    let mut client: Option<Client> = None;
    for i in 0..o.messages {
        if start.elapsed() > o.time_limit {
            break;
        }
        // Each message has its own token so a store can be checked afterwards.
        let data = dot_stuff(&message(o.size, &format!("w{worker}m{i}")));
        let began = Instant::now();
        let result = (|| {
            let c = match client.as_mut() {
                Some(c) => c,
                None => client.insert(Client::connect(o)?),
            };
            c.transaction(o, &envelope, &data)
        })();
        match result {
            Ok(()) => {
                t.ok += 1;
                t.latencies.push(began.elapsed());
                if o.reconnect {
                    if let Some(c) = client.take() {
                        c.quit();
                    }
                }
            }
            Err(e) => {
                t.failed += 1;
                t.first_error.get_or_insert(e);
                // A failed session is abandoned; the next message starts a fresh one.
                client = None;
            }
        }
    }
    if let Some(c) = client {
        c.quit();
    }
    t
}

fn base64(input: &[u8]) -> String {
    STANDARD.encode(input)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() -> ExitCode {
    let o = match or_usage_exit(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let start = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.connections)
            .map(|w| {
                let o = &o;
                s.spawn(move || worker(o, w, start))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let elapsed = start.elapsed();

    let ok: usize = tallies.iter().map(|t| t.ok).sum();
    let failed: usize = tallies.iter().map(|t| t.failed).sum();
    let mut lat: Vec<Duration> = tallies
        .iter()
        .flat_map(|t| t.latencies.iter().copied())
        .collect();
    lat.sort_unstable();
    let rate = ok as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "connections={} size={} pipelining={} reconnect={} ok={ok} failed={failed} \
         seconds={:.3} msg_per_s={rate:.1} latency_ms_p50={} p90={} p99={} max={}",
        o.connections,
        o.size,
        o.pipelining,
        o.reconnect,
        elapsed.as_secs_f64(),
        ms(percentile(&lat, 50.0)),
        ms(percentile(&lat, 90.0)),
        ms(percentile(&lat, 99.0)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    if let Some(e) = tallies.iter().find_map(|t| t.first_error.as_ref()) {
        eprintln!("first error: {e}");
    }
    if failed > 0 || ok == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(51));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
