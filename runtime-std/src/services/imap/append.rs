//! The runtime side of MULTIAPPEND and CATENATE (core `imap/append.rs`): storing
//! several messages all or none, and reading the message a CATENATE URL names.

use super::{allowed, read_message, ImapMailbox};
use crate::store::NewFile;
use mailroom_core::imap::{MailboxError, NewMessage};
use mailroom_core::mailbox::Rights;

/// Store `messages` in `to` in one commit (RFC 3502 §6.3.11: all or none).
pub(super) fn append_many(
    mailbox: &ImapMailbox,
    to: &str,
    messages: Vec<NewMessage>,
) -> Result<(u32, Vec<u32>), MailboxError> {
    let (folder, place) = mailbox.open_with(to, Rights::INSERT)?;
    let now = crate::platform::clock::unix_secs();
    let files = messages
        .iter()
        .map(|m| {
            let (flags, keywords) = allowed(place.rights, m.flags, m.keywords.clone());
            (m, flags, keywords)
        })
        .map(|(m, flags, keywords)| NewFile {
            data: &m.message,
            flags,
            keywords,
            internal_date: m
                .internal_date
                .map_or(now, |d| u64::try_from(d).unwrap_or(0)),
        })
        .collect();
    let uids = folder.append_many(files)?;
    Ok((folder.uidvalidity(), uids))
}

/// Message `uid` of `folder` in wire form, if the folder's UIDVALIDITY is
/// `uid_validity` (when given); `None` if it is not there. The folder is the
/// logged-in user's, or `owner`'s when core has checked a URLAUTH URL of theirs.
pub(super) fn url_message(
    mailbox: &ImapMailbox,
    owner: Option<&str>,
    folder: &str,
    uid_validity: Option<u32>,
    uid: u32,
) -> Option<Vec<u8>> {
    let folder = match owner {
        None => mailbox.open_with(folder, Rights::READ).ok()?.0,
        Some(owner) => {
            let account = super::urlauth::account_of(mailbox, owner)?;
            mailbox.shared.store.folders().open(&account, folder).ok()?
        }
    };
    if uid_validity.is_some_and(|v| v != folder.uidvalidity()) {
        return None;
    }
    // Held messages (POP-2) are not there for IMAP clients.
    let visible = folder.read(|ix| ix.messages.get(&uid).is_some_and(|m| !m.held));
    if !visible {
        return None;
    }
    read_message(&folder, uid).map(|d| mailroom_core::wire::wire_form(&d))
}
