//! What the retrieval load generators (`pop3-load`, `imap-load`) share: one thread per
//! client running sessions in a row, the tally of each, and the summary line the bench
//! scripts parse.

use crate::cli::{loopback_only, usage_error};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const MAX_CLIENTS: usize = 1000;
const MAX_SESSIONS: usize = 100_000;
const MAX_WINDOW: usize = 1000;

/// The options both load generators take.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub server: SocketAddr,
    pub clients: usize,
    /// `%` is replaced by the client number.
    pub user: String,
    pub password: String,
    pub sessions: usize,
    /// Commands in flight.
    pub window: usize,
    pub time_limit: Duration,
    /// Log in, stay idle this long, and measure nothing else (memory per session).
    pub hold: Option<Duration>,
}

impl LoadOptions {
    /// Parse the command line: `--server --clients --user --password --sessions
    /// --window --time-limit --hold`, bounded; a flag only one tool knows goes to
    /// `extra(flag, value)`, which answers whether it took it.
    pub fn parse(
        port: u16,
        window: usize,
        usage: &str,
        mut extra: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<bool, String>,
    ) -> Result<LoadOptions, String> {
        let mut o = LoadOptions {
            server: SocketAddr::from(([127, 0, 0, 1], port)),
            clients: 1,
            user: "load%".into(),
            password: "load-secret".into(),
            sessions: 1,
            window,
            time_limit: Duration::from_secs(60),
            hold: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
            match flag.as_str() {
                "--server" => o.server = value()?.parse().map_err(|e| format!("--server: {e}"))?,
                "--clients" | "-c" => o.clients = number(value()?)?,
                "--user" => o.user = value()?,
                "--password" => o.password = value()?,
                "--sessions" => o.sessions = number(value()?)?,
                "--window" => o.window = number(value()?)?,
                "--time-limit" => o.time_limit = Duration::from_secs(number(value()?)? as u64),
                "--hold" => o.hold = Some(Duration::from_secs(number(value()?)? as u64)),
                other => {
                    if !extra(other, &mut value)? {
                        return Err(usage_error(other, usage));
                    }
                }
            }
        }
        loopback_only(o.server)?;
        for (what, v, max) in [
            ("--clients", o.clients, MAX_CLIENTS),
            ("--sessions", o.sessions, MAX_SESSIONS),
            ("--window", o.window, MAX_WINDOW),
        ] {
            if v == 0 || v > max {
                return Err(format!("{what} must be 1..={max}"));
            }
        }
        Ok(o)
    }
}

/// What one client's sessions retrieved, and the error that stopped it, if any.
#[derive(Default)]
pub struct Tally {
    pub messages: u64,
    pub octets: u64,
    pub logins: u64,
    pub error: Option<String>,
}

/// Run `clients` threads, client i (1-based) logging in as `user` with `%` replaced by
/// i and running `session` up to `sessions` times until `time_limit`; print
/// `clients=… logins=… messages=… octets=… secs=… msg_per_s=… mb_per_s=…
/// logins_per_s=…` and each
/// error. Fails if any client did.
pub fn run<F>(
    clients: usize,
    user: &str,
    sessions: usize,
    time_limit: Duration,
    session: F,
) -> ExitCode
where
    F: Fn(&str, &mut Tally) -> Result<(), String> + Sync,
{
    let start = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=clients)
            .map(|i| {
                let session = &session;
                scope.spawn(move || {
                    let user = user.replace('%', &i.to_string());
                    let mut t = Tally::default();
                    for _ in 0..sessions {
                        if start.elapsed() > time_limit {
                            break;
                        }
                        if let Err(e) = session(&user, &mut t) {
                            t.error = Some(format!("{user}: {e}"));
                            break;
                        }
                    }
                    t
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let messages: u64 = tallies.iter().map(|t| t.messages).sum();
    let octets: u64 = tallies.iter().map(|t| t.octets).sum();
    let logins: u64 = tallies.iter().map(|t| t.logins).sum();
    for e in tallies.iter().filter_map(|t| t.error.as_ref()) {
        eprintln!("error: {e}");
    }
    println!(
        "clients={clients} logins={logins} messages={messages} octets={octets} secs={secs:.3} msg_per_s={:.0} mb_per_s={:.1} logins_per_s={:.0}",
        messages as f64 / secs,
        octets as f64 / secs / 1e6,
        logins as f64 / secs
    );
    if tallies.iter().any(|t| t.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
