//! What the disk allows: how many times per second one thread can create a 4 KB file,
//! write it, fsync it and rename it into place (a Maildir delivery without the server),
//! with and without an fsync of the directory after the rename.
//!
//! ```text
//! fsync-probe --dir DIR [--seconds 3] [--size 4096] [--threads 1]
//! ```
//!
//! DIR must exist and should sit on the file system that will hold the mail; the probe
//! makes its own subdirectory there and removes it afterwards.
#![allow(clippy::disallowed_methods)]

use mailroom_benches::cli::or_usage_exit;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Options {
    dir: PathBuf,
    seconds: u64,
    size: usize,
    threads: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        dir: PathBuf::new(),
        seconds: 3,
        size: 4096,
        threads: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => o.dir = PathBuf::from(value()?),
            "--seconds" => o.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--size" => o.size = value()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--threads" => o.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            _ => {
                return Err(
                    "usage: fsync-probe --dir DIR [--seconds N] [--size OCTETS] [--threads N]"
                        .into(),
                )
            }
        }
    }
    if o.dir.as_os_str().is_empty() {
        return Err("--dir is required".into());
    }
    if !(1..=600).contains(&o.seconds) || o.size > 64 << 20 || !(1..=64).contains(&o.threads) {
        return Err("--seconds 1..=600, --size ≤ 64 MB, --threads 1..=64".into());
    }
    Ok(o)
}

/// Deliveries per second by one thread into `dir`.
fn run(dir: &Path, size: usize, for_how_long: Duration, dir_fsync: bool) -> std::io::Result<u64> {
    let tmp = dir.join("tmp");
    let new = dir.join("new");
    fs::create_dir_all(&tmp)?;
    fs::create_dir_all(&new)?;
    let new_dir = File::open(&new)?;
    let data = vec![b'x'; size];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < for_how_long {
        let name = format!("{n}.probe");
        let t = tmp.join(&name);
        let mut f = OpenOptions::new().write(true).create_new(true).open(&t)?;
        f.write_all(&data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&t, new.join(&name))?;
        if dir_fsync {
            new_dir.sync_all()?;
        }
        n += 1;
    }
    Ok(n)
}

fn main() -> ExitCode {
    let o = match or_usage_exit(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let base = o.dir.join(format!("fsync-probe.{}", std::process::id()));
    let secs = Duration::from_secs(o.seconds);
    let mut failed = false;
    for dir_fsync in [false, true] {
        let started = Instant::now();
        let results: Vec<std::io::Result<u64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..o.threads)
                .map(|t| {
                    let d = base.join(format!("{dir_fsync}-{t}"));
                    s.spawn(move || run(&d, o.size, secs, dir_fsync))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("probe thread panicked")))
                })
                .collect()
        });
        let elapsed = started.elapsed().as_secs_f64();
        let mut total = 0u64;
        for r in results {
            match r {
                Ok(n) => total += n,
                Err(e) => {
                    eprintln!("fsync-probe: {e}");
                    failed = true;
                }
            }
        }
        println!(
            "threads={} size={} dir_fsync={dir_fsync} deliveries={total} per_s={:.0}",
            o.threads,
            o.size,
            total as f64 / elapsed
        );
    }
    if let Err(e) = fs::remove_dir_all(&base) {
        eprintln!("fsync-probe: cleaning up {}: {e}", base.display());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
