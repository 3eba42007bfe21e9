//! What sending has done to a spool entry, kept next to it:
//!
//! ```text
//! DIR/spool/queue/ID.state   (TOML, written whole: tmp file, fsync, rename)
//! ```
//!
//! ```toml
//! version = 1
//! warned = true                 # the delay warning went out
//!
//! [[recipient]]                 # one per envelope recipient, in envelope order
//! address = "bob@remote.example"
//! status = "delivered"          # pending | delivered | failed
//! attempts = 3
//! next_attempt = 1712345678     # Unix seconds; 0 = at once
//! last_error = "451 4.7.1 greylisted"
//! ```
//!
//! The envelope (`ID.env`) never changes after it is queued; this file is the only
//! thing rewritten. An entry without it has never been tried. An entry leaves the spool
//! (envelope first) once no recipient is pending.

use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::store::spool::{self, SpoolEnvelope};
use mailroom_core::outbound::{LanTarget, QueuedMessage, QueuedRecipient, RcptState};
use mailroom_core::Instant;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self};
use std::path::PathBuf;

pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub version: u32,
    #[serde(default)]
    pub warned: bool,
    #[serde(rename = "recipient", default)]
    pub recipients: Vec<RecipientState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientState {
    pub address: String,
    pub status: Status,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Delivered,
    Failed,
}

pub fn queue_dir(dd: &DataDir) -> PathBuf {
    dd.spool_queue_dir()
}

fn tmp_dir(dd: &DataDir) -> PathBuf {
    dd.spool_tmp_dir()
}

fn state_path(dd: &DataDir, id: &str) -> io::Result<PathBuf> {
    if !spool::is_valid_id(id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a queue id: {id:?}"),
        ));
    }
    Ok(queue_dir(dd).join(format!("{id}.state")))
}

fn envelope_path(dd: &DataDir, id: &str) -> PathBuf {
    queue_dir(dd).join(format!("{id}.env"))
}

/// The state file of `id`, if it has one.
pub fn read(dd: &DataDir, id: &str) -> io::Result<Option<StateFile>> {
    let text = match fs::read_to_string(state_path(dd, id)?) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let s: StateFile =
        toml::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if s.version != STATE_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("state version {} not understood", s.version),
        ));
    }
    Ok(Some(s))
}

/// Write the recipient states of `m` (fsynced; the caller fsyncs the directory). An
/// entry deleted meanwhile gets no new state file.
pub fn write(dd: &DataDir, m: &QueuedMessage) -> io::Result<()> {
    let path = state_path(dd, &m.id)?;
    if !envelope_path(dd, &m.id).exists() {
        return Ok(());
    }
    let file = StateFile {
        version: STATE_VERSION,
        warned: m.warned,
        recipients: m
            .recipients
            .iter()
            .map(|r| RecipientState {
                address: r.address.clone(),
                status: match r.state {
                    RcptState::Pending => Status::Pending,
                    RcptState::Delivered => Status::Delivered,
                    RcptState::Failed => Status::Failed,
                },
                attempts: r.attempts,
                next_attempt: r.next_attempt.unix_secs(),
                last_error: r.last_error.clone(),
            })
            .collect(),
    };
    let text = toml::to_string(&file).map_err(io::Error::other)?;
    let tmp = tmp_dir(dd).join(format!("{}.state", m.id));
    durable::write_and_rename(&tmp, &path, text.as_bytes(), Access::Normal)
}

/// Take an entry out of the spool: the envelope first (without it the entry no longer
/// exists), then the message and the state. The caller fsyncs the directory.
pub fn remove(dd: &DataDir, id: &str) -> io::Result<()> {
    let state = state_path(dd, id)?;
    for p in [
        envelope_path(dd, id),
        queue_dir(dd).join(format!("{id}.eml")),
        state,
    ] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Make renames and removals in the queue directory durable.
pub fn sync_queue_dir(dd: &DataDir) -> io::Result<()> {
    durable::sync_dir(&queue_dir(dd))
}

/// Ids of every complete entry (those with an envelope).
pub fn entry_ids(dd: &DataDir) -> io::Result<Vec<String>> {
    let rd = match fs::read_dir(queue_dir(dd)) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for e in rd {
        let name = e?.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".env")) {
            if spool::is_valid_id(id) {
                ids.push(id.to_string());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// A spool entry as the queue machine sees it: the envelope with its recorded state,
/// its wall-clock stamps placed on the monotonic line of `now`.
pub fn load(dd: &DataDir, id: &str, now: Instant) -> io::Result<Option<QueuedMessage>> {
    let Some(env) = spool::read_envelope(dd, id)? else {
        return Ok(None);
    };
    let size = match fs::metadata(spool::message_path(dd, id)?) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let state = match read(dd, id) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(id, error = %e, "unreadable queue state ignored; every recipient is tried again");
            None
        }
    };
    Ok(Some(merge(&env, size, state, now)))
}

fn merge(env: &SpoolEnvelope, size: u64, state: Option<StateFile>, now: Instant) -> QueuedMessage {
    let mut recipients: Vec<QueuedRecipient> = env
        .recipients
        .iter()
        .map(|r| QueuedRecipient {
            notify: r.notify.clone(),
            orcpt: r.orcpt.clone(),
            lan: r.lan_server.as_ref().map(|server| LanTarget {
                server: server.clone(),
                address: r.address.clone(),
            }),
            ..QueuedRecipient::new(&r.address)
        })
        .collect();
    let mut warned = false;
    if let Some(s) = state {
        let fits = s.recipients.len() == recipients.len()
            && s.recipients
                .iter()
                .zip(&recipients)
                .all(|(a, b)| a.address == b.address);
        if fits {
            warned = s.warned;
            for (r, st) in recipients.iter_mut().zip(s.recipients) {
                r.state = match st.status {
                    Status::Pending => RcptState::Pending,
                    Status::Delivered => RcptState::Delivered,
                    Status::Failed => RcptState::Failed,
                };
                r.attempts = st.attempts;
                r.next_attempt = match st.next_attempt {
                    0 => Instant::ZERO,
                    s => Instant::from_unix_secs(s, now),
                };
                r.last_error = st.last_error;
            }
        } else {
            tracing::warn!(id = %env.id, "queue state does not fit its envelope; ignored");
        }
    }
    QueuedMessage {
        id: env.id.clone(),
        size,
        arrival: Instant::from_unix_secs(env.arrival, now),
        sender: env.sender.clone(),
        eight_bit: env.eight_bit,
        dsn_ret: env.dsn_ret.clone(),
        dsn_envid: env.dsn_envid.clone(),
        warned,
        recipients,
        receipt_to: None,
    }
}

/// One line per recipient that sending has touched, for `mailroom queue list`.
pub fn describe(dd: &DataDir, id: &str) -> Vec<String> {
    let Ok(Some(s)) = read(dd, id) else {
        return Vec::new();
    };
    s.recipients
        .iter()
        .filter(|r| r.attempts > 0 || r.status != Status::Pending)
        .map(|r| {
            let mut line = format!(
                "<{}>: {}, {} attempt{}",
                r.address,
                match r.status {
                    Status::Pending => "waiting",
                    Status::Delivered => "delivered",
                    Status::Failed => "failed (bounced)",
                },
                r.attempts,
                if r.attempts == 1 { "" } else { "s" }
            );
            if r.status == Status::Pending && r.next_attempt > 0 {
                line.push_str(&format!(
                    ", next try after {}",
                    super::report::utc_text(Instant::from_secs(r.next_attempt))
                ));
            }
            if let Some(e) = &r.last_error {
                line.push_str(&format!("; last answer: {e}"));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};
    use std::net::{IpAddr, Ipv4Addr};

    const NOW: Instant = Instant::from_secs(1_712_000_000);

    fn queue_one(dd: &DataDir) -> String {
        let store = Store::open(dd).unwrap();
        let rcpt = |a: &str| Recipient {
            address: a.into(),
            route: Route::Remote,
            dsn_notify: Some("FAILURE".into()),
            dsn_orcpt: None,
        };
        let d = Delivery {
            id: "T.1".into(),
            envelope: Envelope {
                mail_from: Some("alice@example.com".into()),
                recipients: vec![rcpt("a@x.test"), rcpt("b@y.test")],
                helo: "h".into(),
                client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                auth_user: Some("alice".into()),
                eight_bit: false,
                dsn_ret: None,
                dsn_envid: None,
            },
            data: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            junk: false,
        };
        store.deliver(&d).unwrap();
        entry_ids(dd).unwrap().remove(0)
    }

    #[test]
    fn state_round_trips_and_goes_with_the_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        let id = queue_one(&dd);
        let mut m = load(&dd, &id, NOW).unwrap().unwrap();
        assert_eq!(m.recipients.len(), 2);
        assert_eq!(m.recipients[0].notify.as_deref(), Some("FAILURE"));
        assert_eq!(m.recipients[0].state, RcptState::Pending);
        assert!(describe(&dd, &id).is_empty(), "never tried: nothing to say");

        m.warned = true;
        m.recipients[0].state = RcptState::Delivered;
        m.recipients[0].attempts = 1;
        m.recipients[1].attempts = 2;
        m.recipients[1].next_attempt = Instant::from_secs(1_712_345_678);
        m.recipients[1].last_error = Some("451 4.7.1 greylisted".into());
        write(&dd, &m).unwrap();
        sync_queue_dir(&dd).unwrap();
        let back = load(&dd, &id, NOW).unwrap().unwrap();
        assert_eq!(back, m);
        let lines = describe(&dd, &id);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("delivered"), "{lines:?}");
        assert!(lines[1].contains("waiting, 2 attempts, next try after 2024-04-05 19:34 UTC; last answer: 451 4.7.1 greylisted"), "{lines:?}");

        // `queue del` takes the state along.
        assert!(crate::store::spool::delete(&dd, &id).unwrap());
        assert!(read(&dd, &id).unwrap().is_none());
        // A state for a deleted entry is not written.
        write(&dd, &m).unwrap();
        assert!(read(&dd, &id).unwrap().is_none());
    }

    #[test]
    fn remove_takes_the_envelope_first_and_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        let id = queue_one(&dd);
        let m = load(&dd, &id, NOW).unwrap().unwrap();
        write(&dd, &m).unwrap();
        remove(&dd, &id).unwrap();
        assert!(entry_ids(&dd).unwrap().is_empty());
        assert_eq!(fs::read_dir(queue_dir(&dd)).unwrap().count(), 0);
        // A state that does not fit its envelope is ignored, not trusted.
        let id = queue_one(&dd);
        fs::write(
            state_path(&dd, &id).unwrap(),
            "version = 1\n[[recipient]]\naddress = \"other@x.test\"\nstatus = \"delivered\"\n",
        )
        .unwrap();
        let m = load(&dd, &id, NOW).unwrap().unwrap();
        assert!(m.recipients.iter().all(|r| r.state == RcptState::Pending));
    }
}
