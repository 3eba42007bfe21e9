//! Admin message management (USR-6, §4.2.3 "Messages"): list a user's INBOX, view a
//! message raw, hold (hidden from mail clients: POP-2's held state, which POP3, IMAP
//! and webmail leave out), release, delete, move or copy to another user (directly
//! into their INBOX, or through routing so their assistants and forwarding apply),
//! and purge. Shared by `mailroom mailbox ...` and the web admin's mailbox page.
//!
//! Each operation takes the INBOX as a POP3 maildrop does (its POP lock), so it waits
//! for, and does not run beside, a POP3 session of that user.

use std::io::Read;

use mailroom_core::config::Snapshot;

use crate::platform::datadir::DataDir;
use crate::store::index::{Listed, Mailbox};
use crate::store::{maildir, Committer, Store};

/// Header bytes read for the listing.
const HEAD_LIMIT: u64 = 64 * 1024;
/// Longest message shown raw.
pub const RAW_LIMIT: u64 = 16 << 20;
/// Longest header value shown in a listing.
const FIELD_LIMIT: usize = 200;

/// One message as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uid: u32,
    pub size: u64,
    pub held: bool,
    pub from: String,
    pub subject: String,
    pub date: String,
}

fn open(store: &Store, snap: &Snapshot, user: &str) -> Result<Mailbox, String> {
    let Some(a) = snap.accounts.get(user) else {
        return Err(format!("There is no user {user:?}."));
    };
    store
        .open_mailbox(&a.name)
        .map_err(|e| format!("{}'s mailbox: {e}", a.name))
}

/// The unfolded value of header field `name` in `head`, cut to a listing's width.
fn field(head: &str, name: &str) -> String {
    let mut value: Option<String> = None;
    for line in head.lines() {
        if line.is_empty() {
            break;
        }
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => {
                v.push(' ');
                v.push_str(line.trim());
            }
            Some(_) => break,
            None => {
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case(name) {
                        value = Some(v.trim().to_string());
                    }
                }
            }
        }
    }
    value
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(FIELD_LIMIT)
        .collect()
}

/// The messages of `user`'s INBOX, held ones included, oldest first.
pub fn list(store: &Store, snap: &Snapshot, user: &str) -> Result<Vec<Entry>, String> {
    let mb = open(store, snap, user)?;
    Ok(mb
        .all()
        .iter()
        .map(|m| {
            let mut head = Vec::new();
            if let Ok(f) = mb.open_message(m) {
                let _ = f.take(HEAD_LIMIT).read_to_end(&mut head);
            }
            let head = String::from_utf8_lossy(&head);
            Entry {
                uid: m.uid,
                size: m.size,
                held: m.held,
                from: field(&head, "from"),
                subject: field(&head, "subject"),
                date: field(&head, "date"),
            }
        })
        .collect())
}

/// Message `uid` as stored (the first `RAW_LIMIT` octets).
pub fn raw(store: &Store, snap: &Snapshot, user: &str, uid: u32) -> Result<Vec<u8>, String> {
    let mb = open(store, snap, user)?;
    let m = find(&mb, uid)?;
    let mut data = Vec::new();
    mb.open_message(m)
        .and_then(|f| f.take(RAW_LIMIT).read_to_end(&mut data))
        .map_err(|e| format!("message {uid}: {e}"))?;
    Ok(data)
}

fn find(mb: &Mailbox, uid: u32) -> Result<&Listed, String> {
    mb.all()
        .iter()
        .find(|m| m.uid == uid)
        .ok_or_else(|| format!("There is no message {uid}."))
}

fn chosen<'m>(mb: &'m Mailbox, uids: &[u32]) -> Result<Vec<&'m Listed>, String> {
    uids.iter().map(|&u| find(mb, u)).collect()
}

/// Hold (hide from clients) or release messages; returns how many changed.
pub fn hold(
    store: &Store,
    snap: &Snapshot,
    user: &str,
    uids: &[u32],
    held: bool,
) -> Result<usize, String> {
    let mut mb = open(store, snap, user)?;
    chosen(&mb, uids)?;
    let mut n = 0;
    for &uid in uids {
        if mb.set_held(uid, held).map_err(|e| e.to_string())? {
            n += 1;
        }
    }
    Ok(n)
}

/// Delete messages for good.
pub fn delete(store: &Store, snap: &Snapshot, user: &str, uids: &[u32]) -> Result<usize, String> {
    let mut mb = open(store, snap, user)?;
    let doomed: Vec<Listed> = chosen(&mb, uids)?.into_iter().cloned().collect();
    let refs: Vec<&Listed> = doomed.iter().collect();
    mb.commit(&refs, &[]).map_err(|e| e.to_string())?;
    Ok(doomed.len())
}

/// Delete every message in the INBOX (held ones too), as it is now.
pub fn purge(store: &Store, snap: &Snapshot, user: &str) -> Result<usize, String> {
    let mut mb = open(store, snap, user)?;
    let doomed: Vec<Listed> = mb.all().to_vec();
    let refs: Vec<&Listed> = doomed.iter().collect();
    mb.commit(&refs, &[]).map_err(|e| e.to_string())?;
    Ok(doomed.len())
}

/// How move and copy hand a message to the other user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Keep the original (copy) or delete it once handed over (move).
    pub keep: bool,
    /// "Use direct copy": straight into the INBOX; else through routing, so the
    /// target's assistants, forwarding and size rules apply.
    pub direct: bool,
}

/// Copy or move messages to user `to`; the originals go only when every one was
/// handed over.
pub fn transfer(
    dd: &DataDir,
    store: &Store,
    snap: &Snapshot,
    user: &str,
    uids: &[u32],
    to: &str,
    how: Transfer,
) -> Result<usize, String> {
    let Some(target) = snap.accounts.get(to) else {
        return Err(format!("There is no user {to:?}."));
    };
    let target = target.name.clone();
    let mut mb = open(store, snap, user)?;
    let msgs: Vec<Listed> = chosen(&mb, uids)?.into_iter().cloned().collect();
    for m in &msgs {
        let mut data = Vec::new();
        mb.open_message(m)
            .and_then(|f| f.take(RAW_LIMIT + 1).read_to_end(&mut data))
            .map_err(|e| format!("message {}: {e}", m.uid))?;
        if data.len() as u64 > RAW_LIMIT {
            return Err(format!("message {} is too large to move here", m.uid));
        }
        if how.direct {
            maildir::deliver(&Committer::new(), &[dd.maildir(&target)], &data)
                .map_err(|e| format!("{target}'s mailbox: {e}"))?;
        } else {
            let id = format!(
                "admin{}.{}.{}",
                crate::platform::clock::unix_micros(),
                std::process::id(),
                m.uid
            );
            let to = format!("{target}@{}", snap.config.default_domain);
            crate::services::server_mail::send_to(store, snap, id, &to, data)
                .map_err(|e| format!("message {}: {}", m.uid, e.text))?;
        }
    }
    if !how.keep {
        let refs: Vec<&Listed> = msgs.iter().collect();
        mb.commit(&refs, &[]).map_err(|e| e.to_string())?;
    }
    Ok(msgs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_unfolded_and_bounded() {
        let head = "From: Fred <fred@example.com>\r\nSubject: a long\r\n\tsubject\r\nX: y\r\n\r\nSubject: body\r\n";
        assert_eq!(field(head, "subject"), "a long subject");
        assert_eq!(field(head, "FROM"), "Fred <fred@example.com>");
        assert_eq!(field(head, "date"), "");
        let long = format!("Subject: {}\r\n\r\n", "x".repeat(1000));
        assert_eq!(field(&long, "subject").len(), FIELD_LIMIT);
    }
}
