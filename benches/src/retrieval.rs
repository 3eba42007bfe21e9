//! What the retrieval load generators (`pop3-load`, `imap-load`) share: one thread per
//! client running sessions in a row, the tally of each, and the summary line the bench
//! scripts parse.

use std::process::ExitCode;
use std::time::{Duration, Instant};

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
/// `clients=… logins=… messages=… octets=… secs=… msg_per_s=… mb_per_s=…` and each
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
        "clients={clients} logins={logins} messages={messages} octets={octets} secs={secs:.3} msg_per_s={:.0} mb_per_s={:.1}",
        messages as f64 / secs,
        octets as f64 / secs / 1e6
    );
    if tallies.iter().any(|t| t.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
