//! VPOP3's external programs (EXT-1, §23): the Out Mail pre-processor, run on a
//! message the SMTP server received before it is routed. The In file is written
//! (core's `extension` format), the program runs with the In and Out file names
//! under `[extensions] timeout_secs`, and its Out file replaces the message's
//! envelope and text. A program that fails, times out or writes an unreadable Out
//! file leaves the message as it was (logged): a failure never loses a message. A
//! program that succeeds without writing an Out file discards the message, as the
//! manual says.

use std::fs;
use std::path::Path;
use std::time::Duration;

use mailroom_core::config::Snapshot;
use mailroom_core::extension::{read_out_file, write_in_file, Envelope};
use mailroom_core::router::names::Names;
use mailroom_core::smtp::{Delivery, Recipient, Route, ABSOLUTE_MAX_MESSAGE};

use crate::platform::datadir::DataDir;

/// What became of the message.
#[derive(Debug, PartialEq, Eq)]
pub enum Preprocessed {
    /// Go on with `delivery` (changed or not).
    Deliver,
    /// The program took the message (no Out file): it is not delivered.
    Discarded,
}

/// `path` as one shell word.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// The Out Mail pre-processor, if configured and the message is one it runs on.
pub fn preprocess(dd: &DataDir, snap: &Snapshot, delivery: &mut Delivery) -> Preprocessed {
    let cfg = &snap.config.extensions;
    let cmd = cfg.outmail_preprocessor.trim();
    if cmd.is_empty() {
        return Preprocessed::Deliver;
    }
    let names = Names::new(snap);
    let internet = delivery.envelope.recipients.iter().any(|r| {
        r.address
            .rsplit_once('@')
            .is_none_or(|(_, d)| !names.is_local_domain(d))
    });
    if !internet && !cfg.preprocess_internal {
        return Preprocessed::Deliver;
    }
    let id = delivery.id.clone();
    let id = id.as_str();
    let dir = dd.extensions_dir();
    let safe: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let (in_path, out_path) = (
        dir.join(format!("{safe}.in")),
        dir.join(format!("{safe}.out")),
    );
    let envelope = Envelope {
        mail_from: delivery.envelope.mail_from.clone().unwrap_or_default(),
        recipients: delivery
            .envelope
            .recipients
            .iter()
            .map(|r| r.address.clone())
            .collect(),
        dsn_info: None,
        data: delivery.data.clone(),
    };
    let written =
        fs::create_dir_all(&dir).and_then(|()| fs::write(&in_path, write_in_file(&envelope)));
    if let Err(e) = written {
        tracing::error!(
            id,
            "Out Mail pre-processor: cannot write the In file: {e}; delivering as it is"
        );
        return Preprocessed::Deliver;
    }
    let _ = fs::remove_file(&out_path);
    let limit = Duration::from_secs(cfg.timeout_secs.max(1));
    // The administrator's command line, given the In and Out file names (§23.3.1).
    let line = format!("{cmd} {} {}", quoted(&in_path), quoted(&out_path));
    let ran = crate::services::scheduler::commands::run(&line, 0, "", limit, None);
    let _ = fs::remove_file(&in_path);
    let outcome = match ran {
        Ok(()) => {
            match fs::metadata(&out_path) {
                Err(_) => {
                    tracing::info!(
                        id,
                        "Out Mail pre-processor wrote no Out file: message discarded"
                    );
                    Preprocessed::Discarded
                }
                Ok(m) if m.len() > ABSOLUTE_MAX_MESSAGE + 1024 * 1024 => {
                    tracing::warn!(id, "Out Mail pre-processor: the Out file is too large; delivering the original");
                    Preprocessed::Deliver
                }
                Ok(_) => {
                    match fs::read(&out_path)
                        .map_err(|e| e.to_string())
                        .and_then(|b| read_out_file(&b).map_err(|e| e.to_string()))
                    {
                        Ok(out) => {
                            apply(delivery, out);
                            tracing::info!(id, "Out Mail pre-processor changed the message");
                            Preprocessed::Deliver
                        }
                        Err(e) => {
                            tracing::warn!(id, "Out Mail pre-processor: bad Out file ({e}); delivering the original");
                            Preprocessed::Deliver
                        }
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(id, "Out Mail pre-processor: {e}; delivering the original");
            Preprocessed::Deliver
        }
    };
    let _ = fs::remove_file(&out_path);
    outcome
}

fn apply(delivery: &mut Delivery, out: Envelope) {
    let env = &mut delivery.envelope;
    env.mail_from = (!out.mail_from.is_empty()).then_some(out.mail_from);
    env.recipients = out
        .recipients
        .into_iter()
        .map(|address| Recipient {
            address,
            route: Route::Unknown,
            dsn_notify: None,
            dsn_orcpt: None,
        })
        .collect();
    delivery.data = out.data;
}
