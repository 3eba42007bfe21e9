//! `mailroom-harness`: the seed sweep and the virtual-week timing. Each seed is an
//! office (scheduler, SMTP in, dial-up links) and an outbound world (the queue and SMTP
//! client against relays, MX hosts and DNS); `sweep` prints what the outbound worlds
//! did (sent, retried, warned, bounced, failed over) and `seed --trace` both traces.
//!
//! ```text
//! cargo run -p mailroom-harness --release -- sweep --seeds 1..1000 [--days 2]
//! cargo run -p mailroom-harness --release -- seed 42 [--days 7] [--trace]
//! cargo run -p mailroom-harness --release -- week
//! ```
#![allow(clippy::disallowed_methods)] // the command line times itself with the real clock

use mailroom_harness::office::Office;
use mailroom_harness::outbound::OutStats;
use mailroom_harness::sweep::{check_seed, random_spec, run_outbound};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn usage() -> ExitCode {
    eprintln!("usage: mailroom-harness sweep --seeds A..B [--days N] | seed N [--days N] [--trace] | week");
    ExitCode::from(2)
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let days = arg_value(&args, "--days")
        .and_then(|d| d.parse().ok())
        .unwrap_or(2u64);
    match args.first().map(String::as_str) {
        Some("sweep") => {
            let Some(range) = arg_value(&args, "--seeds") else {
                return usage();
            };
            let Some((a, b)) = range.split_once("..") else {
                return usage();
            };
            let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.trim_start_matches('=').parse::<u64>())
            else {
                return usage();
            };
            let started = Instant::now();
            let (mut events, mut runs, mut failed) = (0u64, 0usize, Vec::new());
            let mut out = OutStats::default();
            for seed in a..=b {
                let o = check_seed(seed, days);
                events += o.events;
                runs += o.runs;
                out.add(&o.out);
                if !o.violations.is_empty() {
                    eprintln!("FAIL seed {seed} (rerun: mailroom-harness seed {seed} --days {days} --trace)");
                    for v in &o.violations {
                        eprintln!("  {v}");
                    }
                    failed.push(seed);
                }
            }
            let n = b.saturating_sub(a) + 1;
            println!(
                "{n} seeds x {days} virtual days, each run twice: {} events, {runs} connection runs, {:.2}s",
                events * 2,
                started.elapsed().as_secs_f64()
            );
            println!(
                "outbound: {} messages ({} recipients) queued, {} delivered, {} temporary failures retried, {} warned, {} bounced, {} relay fail-overs, {} duplicates after a lost 250, {} sessions, {} DNS queries",
                out.messages, out.recipients, out.delivered, out.retried, out.warned, out.bounced, out.failed_over, out.duplicates, out.sessions, out.dns_queries
            );
            if failed.is_empty() {
                println!("{n} passed, 0 failed");
                ExitCode::SUCCESS
            } else {
                println!(
                    "{} passed, {} failed: seeds {failed:?}",
                    n as usize - failed.len(),
                    failed.len()
                );
                ExitCode::FAILURE
            }
        }
        Some("seed") => {
            let Some(seed) = args.get(1).and_then(|s| s.parse::<u64>().ok()) else {
                return usage();
            };
            let mut spec = random_spec(seed, days);
            spec.keep_trace = args.iter().any(|a| a == "--trace");
            let end = spec.start + Duration::from_secs(days * 86_400);
            let start = spec.start;
            let keep = spec.keep_trace;
            let mut o = Office::new(spec);
            o.run_until(end);
            o.final_checks();
            for l in o.trace.lines() {
                println!("{l}");
            }
            println!(
                "seed {seed}: {} events, trace hash {:016x}",
                o.events,
                o.trace.hash()
            );
            let w = run_outbound(seed, start, days, keep);
            for l in w.trace.lines() {
                println!("out {l}");
            }
            println!(
                "seed {seed} outbound: {} events, trace hash {:016x}, {:?}",
                w.events_run,
                w.trace.hash(),
                w.stats
            );
            let violations: Vec<&String> = o.violations.iter().chain(&w.violations).collect();
            for v in &violations {
                println!("VIOLATION {v}");
            }
            if violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some("week") => {
            // The busiest kind of office the sweep draws, for seven virtual days.
            let mut best = None;
            for seed in 1..=5u64 {
                let started = Instant::now();
                let spec = random_spec(seed, 7);
                let end = spec.start + Duration::from_secs(7 * 86_400);
                let mut o = Office::new(spec);
                o.run_until(end);
                let took = started.elapsed();
                println!(
                    "seed {seed}: a virtual week, {} events, {} runs, {:.1} ms",
                    o.events,
                    o.log.runs.len(),
                    took.as_secs_f64() * 1e3
                );
                best = Some(best.map_or(took, |b: Duration| b.max(took)));
            }
            if let Some(b) = best {
                println!("slowest week: {:.1} ms", b.as_secs_f64() * 1e3);
            }
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}
