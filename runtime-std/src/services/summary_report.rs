//! The daily summary report (LOG-2, §15.2.1): after local midnight the finished
//! day's SUMMARY.LOG lines are counted (core's `summary_report`) and the report goes
//! to the main administrator through the server-mail path. With `[logs]
//! keep_summaries` the day's lines move to `DIR/log/Summaries/YYYYMMDD.LOG` first and
//! SUMMARY.LOG starts the new day ("Keep Summary Messages", VPOP3's daily start).
//! `mailroom summary-report` sends one at once (for a day, or today so far).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use mailroom_core::config::Snapshot;
use mailroom_core::router::names::Names;
use mailroom_core::schedule::clock::{civil, day_of, SEC};
use mailroom_core::summary_report::{message, parse_line, tally, Idle};

use crate::platform::datadir::DataDir;
use crate::platform::datetime::offset_at;
use crate::services::app::Shared;
use crate::store::Store;

/// Largest SUMMARY.LOG read for a report; beyond it the rest of the day is left out.
const MAX_LOG: u64 = 512 * 1024 * 1024;
/// How often the daily thread looks at the date.
const LOOK_EVERY: Duration = Duration::from_secs(30);

/// Microseconds since 1970 in local time, now.
fn local_now() -> i64 {
    let us = i64::try_from(crate::platform::clock::unix_micros()).unwrap_or(i64::MAX);
    us.saturating_add(offset_at(us / SEC).saturating_mul(SEC))
}

/// Today's local day number (days since 1970-01-01).
pub fn today() -> i64 {
    day_of(local_now())
}

/// `DIR/log/Summaries/YYYYMMDD.LOG` for `day`.
pub fn kept_log(dd: &DataDir, day: i64) -> PathBuf {
    let (y, m, d) = civil(day);
    dd.log_dir()
        .join("Summaries")
        .join(format!("{y:04}{m:02}{d:02}.LOG"))
}

fn read_bounded(path: &Path) -> String {
    let mut text = Vec::new();
    if let Ok(f) = fs::File::open(path) {
        if let Err(e) = f.take(MAX_LOG).read_to_end(&mut text) {
            tracing::warn!("cannot read {}: {e}", path.display());
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Move the lines of days up to `day` from SUMMARY.LOG to their kept files; later
/// lines (written after midnight, before this ran) stay. SUMMARY.LOG is renamed
/// first, so lines written meanwhile go to a fresh one and none is lost.
pub fn keep_day(dd: &DataDir, day: i64) -> io::Result<()> {
    let live = dd.summary_log();
    let rolling = live.with_extension("ROLL");
    match fs::rename(&live, &rolling) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let text = read_bounded(&rolling);
    let mut kept: std::collections::BTreeMap<i64, String> = Default::default();
    let mut later = String::new();
    for line in text.lines() {
        match parse_line(line).map(|e| e.day) {
            Some(d) if d > day => {
                later.push_str(line);
                later.push('\n');
            }
            // A line that does not parse belongs to the finished day's file too.
            d => {
                let k = kept.entry(d.unwrap_or(day)).or_default();
                k.push_str(line);
                k.push('\n');
            }
        }
    }
    for (d, lines) in kept {
        let path = kept_log(dd, d);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        io::Write::write_all(&mut f, lines.as_bytes())?;
        f.sync_all()?;
    }
    for line in later.lines() {
        crate::platform::logfile::append_line(&live, line);
    }
    fs::remove_file(&rolling)
}

/// Mailboxes with messages older than a day: `new/` and `cur/` by file time.
fn idle_accounts(dd: &DataDir, snap: &Snapshot) -> Vec<Idle> {
    let now = SystemTime::now();
    let offset = offset_at(local_now() / SEC).saturating_mul(SEC);
    let mut out = Vec::new();
    for account in snap.accounts.iter() {
        let maildir = dd.maildir(&account.name);
        let mut count = 0u64;
        let mut oldest: Option<SystemTime> = None;
        let files = ["new", "cur"]
            .iter()
            .filter_map(|d| fs::read_dir(maildir.join(d)).ok())
            .flat_map(|rd| rd.flatten());
        for f in files {
            let Ok(t) = f.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            if now.duration_since(t).unwrap_or_default() > Duration::from_secs(86_400) {
                count += 1;
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
        }
        if let Some(t) = oldest {
            let us = t
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
            out.push(Idle {
                name: account.name.clone(),
                messages: count,
                oldest_local: us.saturating_add(offset),
            });
        }
    }
    out
}

/// Count `day` and send the report to the main administrator; returns the address.
pub fn send(dd: &DataDir, store: &Store, snap: &Snapshot, day: i64) -> Result<String, String> {
    let mut text = read_bounded(&kept_log(dd, day));
    text.push_str(&read_bounded(&dd.summary_log()));
    // A sender is named by login or by address (note 1: only local users count).
    let names = Names::new(snap);
    let report = tally(day, text.lines(), |name| {
        let name = name.to_ascii_lowercase();
        let user = match name.rsplit_once('@') {
            Some((user, domain)) if names.is_local_domain(domain) => user,
            Some(_) => return None,
            None => name.as_str(),
        };
        snap.accounts.get(user).map(|a| a.name.clone())
    });
    let idle = snap
        .config
        .logs
        .report_idle_accounts
        .then(|| idle_accounts(dd, snap));
    let admin = names
        .main_admin()
        .ok_or("there is no main administrator account")?
        .name
        .clone();
    let domain = &snap.config.default_domain;
    let to = format!("{admin}@{domain}");
    let from = format!("Mailroom <Mailer_Daemon@{domain}>");
    let data = message(
        &report,
        idle.as_deref(),
        &from,
        &to,
        crate::platform::clock::now(),
    );
    let id = format!("summary.{}", crate::platform::clock::unix_micros());
    crate::services::server_mail::send_to(store, snap, id, &to, data).map_err(|e| e.text)?;
    Ok(to)
}

/// At each local day change: keep the finished day's lines if asked, then send its
/// report if asked. The thread holds the server weakly and ends with it.
pub fn spawn_daily(shared: &Arc<Shared>) {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let spawned = std::thread::Builder::new()
        .name("daily-report".into())
        .spawn(move || {
            let mut day = today();
            loop {
                std::thread::sleep(LOOK_EVERY);
                let Some(shared) = weak.upgrade() else { return };
                let now = today();
                if now > day {
                    finish_day(&shared, now - 1);
                }
                day = now;
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the daily report thread: {e}");
    }
}

fn finish_day(shared: &Shared, day: i64) {
    let snap = shared.snapshot();
    let dd = shared.store.data_dir();
    if snap.config.logs.keep_summaries {
        if let Err(e) = keep_day(dd, day) {
            tracing::error!("cannot keep the day's SUMMARY.LOG lines: {e}");
        }
    }
    if snap.config.logs.daily_report {
        match send(dd, &shared.store, &snap, day) {
            Ok(to) => tracing::info!(to, "daily summary report sent"),
            Err(e) => tracing::error!("cannot send the daily summary report: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_a_day_moves_its_lines_and_leaves_later_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        fs::create_dir_all(dd.log_dir()).unwrap();
        fs::write(
            dd.summary_log(),
            "07/12/2026 10:00:00.000 - 0 5 bob\n08/12/2026 00:00:01.000 - 1 6 alice\n",
        )
        .unwrap();
        let day = mailroom_core::schedule::clock::days_from_civil(2026, 12, 7);
        keep_day(&dd, day).unwrap();
        assert_eq!(
            fs::read_to_string(kept_log(&dd, day)).unwrap(),
            "07/12/2026 10:00:00.000 - 0 5 bob\n"
        );
        assert!(kept_log(&dd, day).ends_with("Summaries/20261207.LOG"));
        assert_eq!(
            fs::read_to_string(dd.summary_log()).unwrap(),
            "08/12/2026 00:00:01.000 - 1 6 alice\n"
        );
        // No SUMMARY.LOG yet: nothing to do.
        fs::remove_file(dd.summary_log()).unwrap();
        keep_day(&dd, day).unwrap();
    }
}
