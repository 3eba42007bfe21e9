//! The outbound spool: messages accepted for remote recipients, waiting to be sent.
//!
//! ```text
//! DIR/spool/tmp/            files being written (ignored by readers)
//! DIR/spool/queue/ID.eml    the message, exactly as it will be sent
//! DIR/spool/queue/ID.env    its envelope (TOML, format below)
//! ```
//!
//! Both files are written in `tmp/` and fsynced, then renamed into `queue/` — the
//! message first, the envelope last — and `queue/` is fsynced. An entry exists only
//! when its `.env` exists, so a reader never sees a half-written one.
//!
//! The envelope, version 1:
//!
//! ```toml
//! version = 1
//! id = "1712345678.M123456P42Q7"   # the queue id, also the file name stem
//! received_id = "LZ3K9A0001.1"     # the id in the Received: line
//! arrival = 1712345678             # Unix seconds
//! sender = "alice@example.com"     # absent = the null sender <>
//! helo = "client.example.net"
//! client_ip = "192.0.2.7"
//! auth_user = "alice"              # absent = not authenticated
//! eight_bit = false
//! dsn_ret = "HDRS"                 # absent unless given
//! dsn_envid = "xyz"
//!
//! [[recipient]]
//! address = "bob@remote.example"
//! notify = "SUCCESS,FAILURE"       # absent unless given
//! orcpt = "rfc822;bob@remote.example"
//! ```

use super::commit::{fsync_dir, Committer};
use super::maildir::{create_dir_synced, write_synced};
use super::unique;
use crate::platform::datadir::DataDir;
use mailroom_core::smtp::{Delivery, Recipient};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The envelope format written by this version.
pub const ENVELOPE_VERSION: u32 = 1;

/// Longest queue id accepted from a user.
const MAX_ID_LEN: usize = 128;

/// Files in `tmp/` older than this are leftovers of a crash (the Maildir convention).
const STALE_TMP: Duration = Duration::from_secs(36 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolEnvelope {
    pub version: u32,
    pub id: String,
    pub received_id: String,
    pub arrival: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub helo: String,
    pub client_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<String>,
    #[serde(default)]
    pub eight_bit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsn_ret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsn_envid: Option<String>,
    #[serde(rename = "recipient", default)]
    pub recipients: Vec<SpoolRecipient>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolRecipient {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcpt: Option<String>,
    /// `host:port` of the LAN server this recipient is forwarded to whatever the
    /// SMTPFWD.DAT rules say (an In Mail's `routing = "lan"`); absent = the rules and
    /// the Out Mail decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan_server: Option<String>,
}

/// One queued message as `mailroom queue list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub id: String,
    /// `None` = the null sender `<>`.
    pub from: Option<String>,
    pub recipients: Vec<String>,
    /// Octets of the message file.
    pub size: u64,
    /// Unix seconds.
    pub arrival: u64,
}

fn tmp_dir(dir: &DataDir) -> PathBuf {
    dir.spool_tmp_dir()
}

fn queue_dir(dir: &DataDir) -> PathBuf {
    dir.spool_queue_dir()
}

/// The message file of a queue entry.
pub fn message_path(dir: &DataDir, id: &str) -> io::Result<PathBuf> {
    check_id(id)?;
    Ok(queue_dir(dir).join(format!("{id}.eml")))
}

fn envelope_path(dir: &DataDir, id: &str) -> io::Result<PathBuf> {
    check_id(id)?;
    Ok(queue_dir(dir).join(format!("{id}.env")))
}

/// A queue id is one safe path component: letters, digits, `.`, `_`, `-`, not
/// starting with `.`, at most 128 characters.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_id(id: &str) -> io::Result<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a queue id: {id:?}"),
        ))
    }
}

/// Create the spool directories and remove stale leftovers of crashed writes.
pub fn prepare(dir: &DataDir) -> io::Result<()> {
    create_dir_synced(&tmp_dir(dir))?;
    create_dir_synced(&queue_dir(dir))?;
    let now = SystemTime::now();
    for entry in fs::read_dir(tmp_dir(dir))? {
        let entry = entry?;
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > STALE_TMP);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Queue `delivery` for `recipients` durably; returns the queue id.
pub fn enqueue(
    dir: &DataDir,
    committer: &Committer,
    delivery: &Delivery,
    recipients: &[&Recipient],
    arrival: u64,
) -> io::Result<String> {
    enqueue_via(dir, committer, delivery, recipients, None, arrival)
}

/// [`enqueue`], every recipient forwarded to the LAN server `lan_server` when given.
pub fn enqueue_via(
    dir: &DataDir,
    committer: &Committer,
    delivery: &Delivery,
    recipients: &[&Recipient],
    lan_server: Option<&str>,
    arrival: u64,
) -> io::Result<String> {
    let id = unique::local_unique();
    let env = &delivery.envelope;
    let envelope = SpoolEnvelope {
        version: ENVELOPE_VERSION,
        id: id.clone(),
        received_id: delivery.id.clone(),
        arrival,
        sender: env.mail_from.clone(),
        helo: env.helo.clone(),
        client_ip: env.client_ip.to_string(),
        auth_user: env.auth_user.clone(),
        eight_bit: env.eight_bit,
        dsn_ret: env.dsn_ret.clone(),
        dsn_envid: env.dsn_envid.clone(),
        recipients: recipients
            .iter()
            .map(|r| SpoolRecipient {
                address: r.address.clone(),
                notify: r.dsn_notify.clone(),
                orcpt: r.dsn_orcpt.clone(),
                lan_server: lan_server.map(str::to_string),
            })
            .collect(),
    };
    let text = toml::to_string(&envelope).map_err(io::Error::other)?;

    let tmp_eml = tmp_dir(dir).join(format!("{id}.eml"));
    let tmp_env = tmp_dir(dir).join(format!("{id}.env"));
    let eml = message_path(dir, &id)?;
    let envp = envelope_path(dir, &id)?;
    let result = (|| {
        write_synced(&tmp_eml, &delivery.data)?;
        write_synced(&tmp_env, text.as_bytes())?;
        fs::rename(&tmp_eml, &eml)?;
        fs::rename(&tmp_env, &envp)?;
        committer.sync_dir(&queue_dir(dir))
    })();
    if result.is_err() {
        for p in [&envp, &eml, &tmp_env, &tmp_eml] {
            let _ = fs::remove_file(p);
        }
    }
    result.map(|()| id)
}

/// Read one entry's envelope; `Ok(None)` if there is no such entry.
pub fn read_envelope(dir: &DataDir, id: &str) -> io::Result<Option<SpoolEnvelope>> {
    let text = match fs::read_to_string(envelope_path(dir, id)?) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let envelope: SpoolEnvelope =
        toml::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if envelope.version != ENVELOPE_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("envelope version {} not understood", envelope.version),
        ));
    }
    Ok(Some(envelope))
}

/// Every complete entry, oldest first. Entries that cannot be read are logged and
/// skipped so one damaged file does not hide the rest of the queue.
pub fn list(dir: &DataDir) -> io::Result<Vec<QueueEntry>> {
    let entries = match fs::read_dir(queue_dir(dir)) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".env")) else {
            continue;
        };
        if !is_valid_id(id) {
            continue;
        }
        let envelope = match read_envelope(dir, id) {
            Ok(Some(e)) => e,
            Ok(None) => continue, // deleted meanwhile
            Err(e) => {
                tracing::warn!(id, error = %e, "unreadable queue envelope skipped");
                continue;
            }
        };
        let size = match fs::metadata(message_path(dir, id)?) {
            Ok(m) => m.len(),
            Err(e) => {
                tracing::warn!(id, error = %e, "queue entry without its message skipped");
                continue;
            }
        };
        out.push(QueueEntry {
            id: id.to_string(),
            from: envelope.sender,
            recipients: envelope.recipients.into_iter().map(|r| r.address).collect(),
            size,
            arrival: envelope.arrival,
        });
    }
    out.sort_by(|a, b| (a.arrival, &a.id).cmp(&(b.arrival, &b.id)));
    Ok(out)
}

/// Remove an entry. `Ok(false)` if there was none; an invalid id is `InvalidInput`.
pub fn delete(dir: &DataDir, id: &str) -> io::Result<bool> {
    let envp = envelope_path(dir, id)?;
    let eml = message_path(dir, id)?;
    // The envelope goes first: without it the entry no longer exists for readers.
    let existed = match fs::remove_file(&envp) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    // The message, and what sending recorded about it (outbound/state.rs).
    for p in [eml, queue_dir(dir).join(format!("{id}.state"))] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if existed {
        fsync_dir(&queue_dir(dir))?;
    }
    Ok(existed)
}
