//! Bounces and delay warnings about queued messages: RFC 3464 reports from
//! `Mailer_Daemon@<default domain>`, routed to the sender like any locally sent mail
//! (a local sender's mailbox, or the queue for a remote one).

use crate::services::app::Shared;
use mailroom_core::dsn::{build_report, Dsn, FailedRecipient, MailHead, ReportKind, MAX_RETURNED};
use mailroom_core::smtp::DeliveryError;
use mailroom_core::Instant;
use std::fs;
use std::io::{self, Read};

/// Header bytes read from a message too large to return whole.
const HEADER_READ: u64 = 64 * 1024;

/// What the report says.
pub enum Kind {
    Bounce,
    Warning {
        retry_until: Instant,
    },
    /// Handed on: `NOTIFY=SUCCESS` or a transmission receipt (§16.1.2).
    Relayed,
}

/// Build the report about queued message `id` and store it for `to`.
pub fn store(
    shared: &Shared,
    id: &str,
    to: &str,
    recipients: &[FailedRecipient],
    arrival: Instant,
    kind: Kind,
) -> Result<(), DeliveryError> {
    let snap = shared.snapshot();
    let cfg = &snap.config;
    let dd = shared.store.data_dir();
    let (original, cut) = match read_original(dd, id) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(id, error = %e, "the queued message cannot be read for its report; sending the report without it");
            (Vec::new(), true)
        }
    };
    let now = crate::platform::clock::now();
    let list: String = recipients
        .iter()
        .map(|r| format!("    <{}>: {}\n", r.address, r.diagnostic))
        .collect();
    let text = match kind {
        Kind::Bounce => format!(
            "This is the mail system at {host}.\n\n\
             Your message could not be delivered to the recipients below; this is a \
             permanent error, and the message will not be tried again:\n\n{list}\n\
             The message is attached.\n",
            host = cfg.hostname
        ),
        Kind::Warning { retry_until } => format!(
            "This is the mail system at {host}.\n\n\
             Your message has not yet been delivered to the recipients below. This is only \
             a warning: nothing needs to be done. Delivery will be tried again until {until}, \
             and you will be told if it fails for good.\n\n{list}\n\
             The header of the message is attached.\n",
            host = cfg.hostname,
            until = utc_text(retry_until)
        ),
        Kind::Relayed => format!(
            "This is the mail system at {host}.\n\n\
             Your message was handed on to the next mail server for the recipients below. \
             This is only a receipt: nothing needs to be done.\n\n{list}\n\
             The header of the message is attached.\n",
            host = cfg.hostname
        ),
    };
    let (report_kind, headers_only, what) = match kind {
        Kind::Bounce => (ReportKind::Failed, cut, "bounce"),
        Kind::Warning { retry_until } => (ReportKind::Delayed { retry_until }, true, "warning"),
        Kind::Relayed => (ReportKind::Relayed, true, "receipt"),
    };
    let token = format!("{}.{}.{id}.{what}", now.unix_micros(), std::process::id());
    let message = build_report(
        &Dsn {
            head: MailHead::new(cfg, to, now, &token),
            text: &text,
            recipients,
            original: &original,
            headers_only,
            envelope_id: None,
            arrival: Some(arrival),
        },
        report_kind,
    );
    crate::services::server_mail::send_to(
        &shared.store,
        &snap,
        format!("{id}.{what}"),
        to,
        message,
    )?;
    tracing::info!(id, to, recipients = recipients.len(), "{what} stored");
    Ok(())
}

/// The original message, whole when small enough; else the first part (enough for the
/// header) and `true`.
fn read_original(dd: &crate::platform::datadir::DataDir, id: &str) -> io::Result<(Vec<u8>, bool)> {
    let path = crate::store::spool::message_path(dd, id)?;
    let f = fs::File::open(path)?;
    let size = f.metadata()?.len();
    let whole = size <= MAX_RETURNED as u64;
    let limit = if whole { size } else { HEADER_READ };
    let mut buf = Vec::with_capacity(limit as usize);
    f.take(limit).read_to_end(&mut buf)?;
    Ok((buf, !whole))
}

/// `YYYY-MM-DD HH:MM UTC`, for the text.
pub fn utc_text(t: Instant) -> String {
    let secs = t.unix_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = mailroom_core::schedule::clock::civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(Instant::from_secs(0)), "1970-01-01 00:00 UTC");
        assert_eq!(
            utc_text(Instant::from_secs(1_712_345_678)),
            "2024-04-05 19:34 UTC"
        );
    }
}
