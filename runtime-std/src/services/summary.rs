//! Writing SUMMARY.LOG (LOG-2, §21.12): one line per message event, in VPOP3's
//! format (core's `summary::line`) with the local time of the event. Called where
//! the event has already happened and is durable, so a failure to write is logged,
//! never returned.

use mailroom_core::router::Source;
use mailroom_core::smtp::{Delivery, Route};
pub use mailroom_core::summary::Code;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::platform::datadir::DataDir;
use crate::platform::datetime::offset_at;
use crate::platform::logfile::append_line;

/// `[logs] summary` (on unless the configuration says otherwise).
static ON: AtomicBool = AtomicBool::new(true);

pub fn switch(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// One event now: `number` is the message size (seconds online for
/// [`Code::OnlineTime`]), `name` the user or address it concerns.
pub fn record(dd: &DataDir, code: Code, number: u64, name: Option<&str>) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let us = i64::try_from(crate::platform::clock::unix_micros()).unwrap_or(i64::MAX);
    let local = us.saturating_add(offset_at(us / 1_000_000).saturating_mul(1_000_000));
    let line = mailroom_core::summary::line(local, code, number, name);
    append_line(&dd.summary_log(), &line);
}

/// `delivery` has just been stored for its recipients (from `source`): a line per
/// local mailbox and one for mail queued for the Internet, and one per address
/// queued for a LAN server.
pub fn stored(dd: &DataDir, delivery: &Delivery, source: &Source) {
    let size = delivery.data.len() as u64;
    let env = &delivery.envelope;
    // The local sender: who logged in, else the envelope sender (local mail is only
    // accepted from local senders).
    let from = env.auth_user.as_deref().or(env.mail_from.as_deref());
    let mut remote = false;
    for r in &env.recipients {
        match &r.route {
            Route::Local(user) => {
                let code = match (source, env.mail_from.is_none()) {
                    // The server's own mail (bounces, notices, reports) has the null sender.
                    (_, true) => Code::Automatic,
                    (Source::Pop3(_), false) => Code::InternetReceived,
                    (Source::Smtp | Source::Local, false) => Code::LocalReceived,
                };
                record(dd, code, size, Some(user));
            }
            Route::Remote => remote = true,
            Route::Unknown => {}
        }
    }
    let to_mailbox = env
        .recipients
        .iter()
        .any(|r| matches!(r.route, Route::Local(_)));
    if matches!(source, Source::Local) && env.mail_from.is_some() && to_mailbox {
        record(dd, Code::LocalSent, size, from);
    }
    if remote {
        record(dd, Code::InternetSent, size, from);
    }
}

/// `delivery` has just been queued for a LAN server (SMTPFWD.DAT): code 5 for its
/// sender (as for [`stored`]: who logged in, else the envelope sender), code 11 per
/// address.
pub fn lan_queued(dd: &DataDir, delivery: &Delivery) {
    let size = delivery.data.len() as u64;
    let env = &delivery.envelope;
    let from = env.auth_user.as_deref().or(env.mail_from.as_deref());
    record(dd, Code::LanQueuedFrom, size, from);
    for r in &delivery.envelope.recipients {
        record(dd, Code::LanQueuedFor, size, Some(&r.address));
    }
}
