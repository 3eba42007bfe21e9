//! The autoresponder at delivery: read the account's text (and the files it names) or
//! run its external program, let core decide, remember who was answered.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::sync::Mutex;

use mailroom_core::autoresponder::{self, Answer, Env, Incoming, Mailbox, SentLog, Template};
use mailroom_core::config::Snapshot;
use mailroom_core::smtp::Delivery;

use super::{sent_or_logged, SendFn};
use crate::platform::clock::now;
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::store::Store;

/// Largest file `<Include:>` or `<Attach:>` reads.
const MAX_FILE: u64 = 1024 * 1024;

/// One writer of the once-per-sender memory files at a time in this process.
static SENT_LOCK: Mutex<()> = Mutex::new(());

/// The answers of the autoresponders of `mailboxes` that have one on.
pub fn answer_all(
    store: &Store,
    snap: &Snapshot,
    delivery: &Delivery,
    mailboxes: &[String],
) -> Vec<(String, Answer)> {
    let mut out = Vec::new();
    // Mail filed as junk (a failed DMARC policy) is not answered: its sender is
    // likely forged.
    if delivery.junk {
        return out;
    }
    for m in mailboxes {
        let Some(account) = snap.accounts.get(m) else {
            continue;
        };
        if !account.autoresponder.enabled {
            continue;
        }
        let address = format!("{}@{}", account.name, snap.config.default_domain);
        let mb = Mailbox {
            name: &account.name,
            address: &address,
            settings: &account.autoresponder,
        };
        let now = now();
        let secs = i64::try_from(now.unix_secs()).unwrap_or(0);
        let offset = i32::try_from(crate::platform::datetime::offset_at(secs)).unwrap_or(0);
        let id = format!("{}.ar.{}", delivery.id, account.name);
        let env = Env {
            now,
            local_offset_secs: offset,
            hostname: &snap.config.hostname,
            default_domain: &snap.config.default_domain,
            global: &snap.config.autoresponder,
            id: &id,
        };
        let inc = Incoming {
            message: &delivery.data,
            return_path: delivery.envelope.mail_from.as_deref(),
        };
        let dd = store.data_dir();
        let _g = SENT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let log = read_log(dd, &account.name);
        let answer = if account.autoresponder.command.is_empty() {
            let text = read_bounded(&dd.autoresponder_text(&account.name), 256 * 1024)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let template = Template::parse(&text);
            let files: BTreeMap<String, Vec<u8>> = template
                .files()
                .into_iter()
                .filter_map(|f| Some((f.clone(), read_bounded(&dd.resolve(&f), MAX_FILE)?)))
                .collect();
            autoresponder::answer(&inc, &mb, &env, &template, &files, &log)
        } else {
            super::external::answer(dd, snap, &inc, &mb, &env, &log)
        };
        match &answer.silence {
            Some(why) => {
                tracing::info!(id = %delivery.id, user = %account.name, reason = ?why, "autoresponder silent")
            }
            None => {
                tracing::info!(id = %delivery.id, user = %account.name, keep = answer.keep, "autoresponder answers")
            }
        }
        if let Some(who) = &answer.remember {
            let mut log = log;
            log.prune(now, offset, account.autoresponder.clear);
            log.record(who, now);
            if let Err(e) = write_log(dd, &account.name, &log) {
                tracing::error!(user = %account.name, "cannot save the autoresponder's memory: {e}");
            }
        }
        out.push((m.clone(), answer));
    }
    out
}

/// Send the reply and the `<CopyTo:>` copy of one answer.
pub fn send_answer(store: &Store, snap: &Snapshot, id: &str, who: &str, a: &Answer, send: SendFn) {
    if let Some(r) = &a.reply {
        tracing::info!(id, user = who, to = ?r.to, "autoreply");
        sent_or_logged("autoreply", id, send(store, snap, r));
    }
    if let Some(c) = &a.copy {
        sent_or_logged("autoresponder copy", id, send(store, snap, c));
    }
}

fn read_log(dd: &DataDir, name: &str) -> SentLog {
    match read_bounded(&dd.autoresponder_sent(name), 4 * 1024 * 1024) {
        Some(b) => SentLog::parse(&String::from_utf8_lossy(&b)),
        None => SentLog::default(),
    }
}

fn write_log(dd: &DataDir, name: &str, log: &SentLog) -> std::io::Result<()> {
    let path = dd.autoresponder_sent(name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    durable::replace(&path, log.to_text().as_bytes(), Access::Normal)
}

/// A file's first `max` bytes; `None` when it cannot be read.
pub fn read_bounded(path: &std::path::Path, max: u64) -> Option<Vec<u8>> {
    let f = fs::File::open(path).ok()?;
    let mut v = Vec::new();
    f.take(max).read_to_end(&mut v).ok()?;
    Some(v)
}
