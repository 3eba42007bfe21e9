//! The IMAP session's mailbox side (docs/IMAP.md "Events and commands"): every
//! [`ImapEvent`] but the password check, answered from the folder store of
//! docs/STORE.md. Blocking (fsync, directory scans): the smol runtime runs it on its
//! blocking pool, except reading one message for FETCH (from the page cache as a
//! rule) and the idle look (a few `stat`s), which it answers in place.

mod append;
pub mod logins;
mod urlauth;

use logins::LoginSlot;

use crate::services::app::Shared;
use crate::store::{Change, FlagEdit, Folder, FolderError, FoldersError, Session, Watch};
use mailroom_core::auth::AuthOutcome;
use mailroom_core::imap::{
    list_matches, AclAnswer, AclOp, AclRequest, CopyOutcome, FlagUpdate, FolderOp, FolderStatus,
    ImapCommand, ImapEvent, ListEntry, MailboxError, StoreOutcome,
};
use mailroom_core::mailbox::{
    split_shared, strip_shared, AclError, Flag, Flags, FolderIndex, Record, Rights, SpecialUse,
    ANYONE, AUTHENTICATED, SHARED_PREFIX,
};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a socket loop looks for news for an idling session: delivery in this
/// process is seen at the next look, so IDLE hears of new mail within this.
pub const IDLE_LOOK: Duration = Duration::from_millis(250);
/// How often an idler also looks at the files, for changes by other processes.
const OUTSIDE_LOOK: Duration = Duration::from_secs(1);

/// One IMAP connection's mailbox: the account after login and the selected folder.
pub struct ImapMailbox {
    shared: Arc<Shared>,
    /// The logged-in user (lower case) and their Maildir.
    user: String,
    account: Option<PathBuf>,
    selected: Option<Selected>,
    /// This connection's place in the per-user count, from login to the end.
    _slot: Option<LoginSlot>,
}

struct Selected {
    session: Session,
    read_only: bool,
    /// IDLE: where the folder stood when it began, and when the files were last
    /// looked at.
    idle: Option<(Watch, Instant)>,
}

impl ImapMailbox {
    pub fn new(shared: Arc<Shared>) -> Self {
        ImapMailbox {
            shared,
            user: String::new(),
            account: None,
            selected: None,
            _slot: None,
        }
    }

    /// The password was right for `user` connecting from `peer`: its Maildir is the
    /// account from here on, unless the user already holds `[imap]
    /// max_connections_per_user` connections from there.
    pub fn log_in(&mut self, user: &str, peer: IpAddr) -> AuthOutcome {
        let limit = self.shared.snapshot().config.imap.max_connections_per_user;
        let Some(slot) = self.shared.imap_logins.enter(user, peer, limit) else {
            tracing::info!(user, peer = %peer, limit, "imap: too many connections");
            return AuthOutcome::TooManyConnections;
        };
        match self.shared.store.account_dir(user) {
            Ok(dir) => {
                self.user = user.to_ascii_lowercase();
                self.account = Some(dir);
                self._slot = Some(slot);
                AuthOutcome::Ok(user.to_string())
            }
            Err(e) => {
                tracing::error!(user, "imap: no mailbox: {e}");
                AuthOutcome::Unavailable
            }
        }
    }

    /// Answer one event; `Authenticate` is the caller's (it answers `None`, as do
    /// `Deselect` and `Idle`, which want no answer).
    pub fn answer(&mut self, event: ImapEvent) -> Option<ImapCommand> {
        Some(match event {
            ImapEvent::Authenticate { .. } | ImapEvent::AuthenticateCram { .. } => return None,
            ImapEvent::Deselect => {
                self.selected = None;
                return None;
            }
            ImapEvent::Idle => {
                if let Some(sel) = self.selected.as_mut() {
                    sel.idle = Some((sel.session.watch(), Instant::now()));
                }
                return None;
            }
            ImapEvent::List {
                reference,
                pattern,
                subscribed,
            } => ImapCommand::Listed(self.list(&reference, &pattern, subscribed)),
            ImapEvent::Status { folder } => ImapCommand::Status(self.status(&folder)),
            ImapEvent::Select { folder, read_only } => {
                ImapCommand::Selected(self.select(&folder, read_only))
            }
            ImapEvent::Folder(op) => ImapCommand::Done(self.folder_op(op)),
            ImapEvent::Sync => self.sync(),
            ImapEvent::Store {
                updates,
                unchanged_since,
            } => ImapCommand::Stored(self.store_flags(updates, unchanged_since)),
            ImapEvent::Expunge { uids } => ImapCommand::Expunged(self.expunge(&uids)),
            ImapEvent::Copy { uids, to, remove } => {
                ImapCommand::Copied(self.copy(&uids, &to, remove))
            }
            ImapEvent::Append {
                to,
                flags,
                keywords,
                internal_date,
                message,
            } => {
                let date = internal_date.map_or_else(crate::platform::clock::unix_secs, |d| {
                    u64::try_from(d).unwrap_or(0)
                });
                ImapCommand::Appended(self.append(&to, &message, flags, keywords, date))
            }
            ImapEvent::Message { uid } => ImapCommand::Message(self.message(uid)),
            ImapEvent::Acl(req) => ImapCommand::Acl(self.acl(req)),
            ImapEvent::AppendMany { to, messages } => {
                ImapCommand::AppendedMany(append::append_many(self, &to, messages))
            }
            ImapEvent::UrlMessage {
                owner,
                folder,
                uid_validity,
                uid,
            } => ImapCommand::Message(append::url_message(
                self,
                owner.as_deref(),
                &folder,
                uid_validity,
                uid,
            )),
            ImapEvent::UrlAuthKey {
                owner,
                folder,
                create,
            } => ImapCommand::UrlAuthKey(urlauth::key(self, &owner, &folder, create)),
            ImapEvent::ResetKey { folder } => {
                ImapCommand::Done(urlauth::reset(self, folder.as_deref()))
            }
        })
    }

    /// Whether an idling session waits for news (the socket loop then looks every
    /// [`IDLE_LOOK`]).
    pub fn idling(&self) -> bool {
        self.selected.as_ref().is_some_and(|s| s.idle.is_some())
    }

    /// The idle look: `Wake` once the selected folder changed.
    pub fn look(&mut self) -> Option<ImapCommand> {
        let sel = self.selected.as_mut()?;
        let (watch, last_outside) = sel.idle.as_mut()?;
        let outside = last_outside.elapsed() >= OUTSIDE_LOOK;
        if outside {
            *last_outside = Instant::now();
        }
        if sel.session.changed(watch, outside) {
            sel.idle = None;
            return Some(ImapCommand::Wake);
        }
        None
    }

    fn account(&self) -> Result<&Path, MailboxError> {
        self.account
            .as_deref()
            .ok_or_else(|| MailboxError::Cannot("not logged in".into()))
    }

    /// Where folder `name` lives and what this user may do there: their own folder,
    /// or under `shared/OWNER/` another user's, with the rights its ACL gives.
    fn place(&self, name: &str) -> Result<Place, MailboxError> {
        let account = self.account()?;
        if strip_shared(name).is_none() {
            return Ok(Place {
                account: account.to_path_buf(),
                owner: self.user.clone(),
                folder: name.to_string(),
                rights: Rights::ALL,
            });
        }
        let (owner, folder) = split_shared(name).ok_or(MailboxError::NoSuchFolder)?;
        let owner = owner.to_ascii_lowercase();
        if self.shared.snapshot().accounts.get(&owner).is_none() {
            return Err(MailboxError::NoSuchFolder);
        }
        let account = self
            .shared
            .store
            .account_dir(&owner)
            .map_err(|_| MailboxError::NoSuchFolder)?;
        let rights = self
            .shared
            .store
            .folders()
            .acl(&account, folder)?
            .rights_of(&self.user, &owner);
        // RFC 4314 §6: a folder the user has no right to is not there for them.
        if rights.is_empty() {
            return Err(MailboxError::NoSuchFolder);
        }
        Ok(Place {
            account,
            owner,
            folder: folder.to_string(),
            rights,
        })
    }

    /// Folder `name` opened, if the user has all of `needed` there.
    fn open_with(&self, name: &str, needed: Rights) -> Result<(Arc<Folder>, Place), MailboxError> {
        let place = self.place(name)?;
        if !place.rights.contains(needed) {
            return Err(MailboxError::NoPermission);
        }
        let folder = self.open_place(&place)?;
        Ok((folder, place))
    }

    fn open_place(&self, place: &Place) -> Result<Arc<Folder>, MailboxError> {
        Ok(self
            .shared
            .store
            .folders()
            .open(&place.account, &place.folder)?)
    }

    /// Other users' folders whose ACL lets this user see them (`l`), by their
    /// names here (`shared/owner/folder`).
    fn shared_folders(&self) -> Vec<String> {
        let snapshot = self.shared.snapshot();
        let folders = self.shared.store.folders();
        let mut out = Vec::new();
        for a in snapshot.accounts.iter() {
            let owner = a.name.to_ascii_lowercase();
            if owner == self.user {
                continue;
            }
            let Ok(account) = self.shared.store.account_dir(&owner) else {
                continue;
            };
            if !account.join("cur").is_dir() {
                continue;
            }
            let acls = folders.acls(&account).unwrap_or_else(|e| {
                tracing::warn!(owner, "imap: cannot read folder ACLs: {e:?}");
                Vec::new()
            });
            for (name, acl) in acls {
                if acl.rights_of(&self.user, &owner).contains(Rights::LOOKUP) {
                    out.push(format!("{SHARED_PREFIX}{owner}/{name}"));
                }
            }
        }
        out
    }

    /// ACL commands (RFC 4314): `a` is needed for all but MYRIGHTS.
    fn acl(&self, req: AclRequest) -> Result<AclAnswer, MailboxError> {
        let place = self.place(&req.folder)?;
        if !matches!(req.op, AclOp::MyRights) && !place.rights.contains(Rights::ADMINISTER) {
            return Err(MailboxError::NoPermission);
        }
        let folders = self.shared.store.folders();
        let edit = |f: &dyn Fn(&mut mailroom_core::mailbox::Acl) -> Result<(), AclError>| {
            folders
                .edit_acl(&place.account, &place.folder, f)?
                .map_err(|e| {
                    MailboxError::Cannot(match e {
                        AclError::BadIdentifier => "Invalid identifier".into(),
                        AclError::TooManyEntries => "Too many ACL entries".into(),
                    })
                })
        };
        Ok(match req.op {
            AclOp::MyRights => AclAnswer::Mine(place.rights),
            AclOp::Get => {
                let acl = folders.acl(&place.account, &place.folder)?;
                let mut all = vec![(place.owner.clone(), Rights::ALL)];
                all.extend(
                    acl.entries()
                        .iter()
                        .filter(|(id, _)| *id != place.owner)
                        .cloned(),
                );
                AclAnswer::List(all)
            }
            AclOp::ListRights { identifier } => {
                AclAnswer::Required(if identifier.eq_ignore_ascii_case(&place.owner) {
                    Rights::ALL
                } else {
                    Rights::NONE
                })
            }
            AclOp::Set { identifier, change } => {
                self.check_identifier(&identifier, &place.owner)?;
                edit(&|acl| acl.set(&identifier, change))?;
                AclAnswer::Done
            }
            AclOp::Delete { identifier } => {
                edit(&|acl| {
                    acl.remove(&identifier);
                    Ok(())
                })?;
                AclAnswer::Done
            }
        })
    }

    /// An identifier SETACL may name: a user of this server, `anyone` or
    /// `authenticated`, perhaps with `-`; never the owner, whose rights are fixed.
    fn check_identifier(&self, id: &str, owner: &str) -> Result<(), MailboxError> {
        let name = id.strip_prefix('-').unwrap_or(id);
        if name.eq_ignore_ascii_case(owner) {
            return Err(MailboxError::Cannot(
                "The owner always has every right".into(),
            ));
        }
        let known = name.eq_ignore_ascii_case(ANYONE)
            || name.eq_ignore_ascii_case(AUTHENTICATED)
            || self.shared.snapshot().accounts.get(name).is_some();
        if known {
            Ok(())
        } else {
            Err(MailboxError::Cannot(format!("No such user: {name}")))
        }
    }

    fn current(&self) -> Result<&Session, MailboxError> {
        self.selected
            .as_ref()
            .map(|s| &s.session)
            .ok_or_else(|| MailboxError::Cannot("no folder selected".into()))
    }

    /// LIST and LSUB. Levels that hold folders but are none themselves (`a` of a
    /// folder `a/b`) are listed `\Noselect`, as RFC 3501 §6.3.8 asks for `%`.
    fn list(
        &self,
        reference: &str,
        pattern: &str,
        subscribed: bool,
    ) -> Result<Vec<ListEntry>, MailboxError> {
        let account = self.account()?;
        let folders = self.shared.store.folders();
        let mut all: BTreeMap<String, (Option<SpecialUse>, bool)> = BTreeMap::new();
        if subscribed {
            let existing: BTreeMap<String, Option<SpecialUse>> = folders
                .list(account)?
                .into_iter()
                .map(|f| (f.name, f.special_use))
                .collect();
            for name in folders.subscriptions(account)? {
                let use_ = existing.get(&name).copied().flatten();
                all.insert(name, (use_, false));
            }
        } else {
            for f in folders.list(account)? {
                all.insert(f.name, (f.special_use, false));
            }
            if may_reach_shared(reference, pattern) {
                for name in self.shared_folders() {
                    all.insert(name, (None, false));
                }
            }
        }
        let parents: Vec<String> = all
            .keys()
            .flat_map(|name| {
                name.match_indices('/')
                    .map(|(i, _)| name[..i].to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        for p in parents {
            all.entry(p).or_insert((None, true));
        }
        let mut out = Vec::new();
        for (name, &(special_use, no_select)) in &all {
            if !list_matches(reference, pattern, name) {
                continue;
            }
            let below = format!("{name}/");
            let has_children = all
                .range(below.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&below));
            out.push(ListEntry {
                name: name.clone(),
                special_use,
                no_select,
                has_children,
            });
        }
        // INBOX first, as clients expect.
        out.sort_by_key(|e| !e.name.eq_ignore_ascii_case("INBOX"));
        Ok(out)
    }

    /// Whether a folder the user may see but not read opens empty (§11.8.2 "Fake
    /// access to inaccessible mailboxes") rather than failing.
    fn fakes(&self, place: &Place) -> Result<bool, MailboxError> {
        if place.rights.contains(Rights::READ) {
            Ok(false)
        } else if self.shared.snapshot().config.imap.fake_inaccessible {
            Ok(true)
        } else {
            Err(MailboxError::NoPermission)
        }
    }

    fn status(&self, name: &str) -> Result<FolderStatus, MailboxError> {
        let place = self.place(name)?;
        let fake = self.fakes(&place)?;
        let folder = self.open_place(&place)?;
        folder.sync()?;
        if fake {
            return Ok(folder_status(&FolderIndex::new(folder.uidvalidity())));
        }
        Ok(folder.read(folder_status))
    }

    fn select(
        &mut self,
        name: &str,
        read_only: bool,
    ) -> Result<(Box<FolderIndex>, Rights), MailboxError> {
        self.selected = None;
        let place = self.place(name)?;
        let fake = self.fakes(&place)?;
        let folder = self.open_place(&place)?;
        folder.sync()?;
        if fake {
            // Nothing of the folder shows, and nothing can change it.
            let index = FolderIndex::new(folder.uidvalidity());
            return Ok((Box::new(index), Rights::LOOKUP));
        }
        let read_only = read_only || !place.rights.may_write();
        let session = folder.session();
        let index = session.select(!read_only)?;
        self.selected = Some(Selected {
            session,
            read_only,
            idle: None,
        });
        Ok((Box::new(index), place.rights))
    }

    /// The place a new folder `name` would have, if the user may create it there:
    /// anywhere in their own folders, and in another user's with `k` on the folder
    /// above (their INBOX for one at the top).
    fn place_new(&self, name: &str) -> Result<Place, MailboxError> {
        if strip_shared(name).is_none() {
            return self.place(name);
        }
        let Some((owner, folder)) = split_shared(name) else {
            return Err(MailboxError::Cannot(format!(
                "{SHARED_PREFIX} holds the folders other users share"
            )));
        };
        let parent = folder.rsplit_once('/').map_or("INBOX", |(p, _)| p);
        let above = self.place(&format!("{SHARED_PREFIX}{owner}/{parent}"))?;
        if !above.rights.contains(Rights::CREATE) {
            return Err(MailboxError::NoPermission);
        }
        Ok(Place {
            folder: folder.to_string(),
            ..above
        })
    }

    fn folder_op(&mut self, op: FolderOp) -> Result<(), MailboxError> {
        let account = self.account()?.to_path_buf();
        let folders = self.shared.store.folders();
        match op {
            FolderOp::Create(name) => {
                let place = self.place_new(&name)?;
                folders.create(&place.account, &place.folder, None)?;
            }
            FolderOp::Delete(name) => {
                let place = self.place(&name)?;
                if !place.rights.contains(Rights::DELETE_MAILBOX) {
                    return Err(MailboxError::NoPermission);
                }
                folders.delete(&place.account, &place.folder)?;
            }
            FolderOp::Rename { from, to } => {
                let old = self.place(&from)?;
                let new = self.place_new(&to)?;
                if !old.rights.contains(Rights::DELETE_MAILBOX) {
                    return Err(MailboxError::NoPermission);
                }
                if old.owner != new.owner {
                    return Err(MailboxError::Cannot(
                        "A folder cannot be moved to another user".into(),
                    ));
                }
                folders.rename(&old.account, &old.folder, &new.folder)?;
            }
            FolderOp::Subscribe(name) => folders.set_subscribed(&account, &name, true)?,
            FolderOp::Unsubscribe(name) => folders.set_subscribed(&account, &name, false)?,
        }
        Ok(())
    }

    /// A sync point: the changes, and the arrivals that are `\Recent` here.
    fn sync(&mut self) -> ImapCommand {
        let Some(sel) = self.selected.as_mut() else {
            return ImapCommand::Changes {
                records: Vec::new(),
                recent: Vec::new(),
            };
        };
        sel.idle = None;
        let records = match sel.session.sync() {
            Ok(records) => records,
            Err(e) => {
                // A folder deleted under the session shows no more changes; the next
                // command that needs it answers NO.
                tracing::warn!(folder = %sel.session.folder().root().display(), "imap sync: {e}");
                Vec::new()
            }
        };
        let recent = if sel.read_only {
            Vec::new()
        } else {
            sel.session.claim_recent(&records).unwrap_or_else(|e| {
                tracing::warn!("imap: cannot record \\Recent: {e}");
                Vec::new()
            })
        };
        ImapCommand::Changes { records, recent }
    }

    fn store_flags(
        &mut self,
        updates: Vec<FlagUpdate>,
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome, MailboxError> {
        let session = self.current()?;
        let changes = updates
            .into_iter()
            .map(|u| Change::Flags {
                uid: u.uid,
                edit: FlagEdit::Set,
                flags: u.flags,
                keywords: u.keywords,
            })
            .collect();
        let (applied, modified) = session.folder().store(changes, unchanged_since)?;
        let mut before = session.take_through(&applied);
        if before.ends_with(&applied) {
            before.truncate(before.len() - applied.len());
        }
        Ok(StoreOutcome {
            before,
            applied,
            modified,
        })
    }

    fn expunge(&mut self, uids: &[u32]) -> Result<Vec<Record>, MailboxError> {
        let session = self.current()?;
        let changes = uids.iter().map(|&uid| Change::Expunge { uid }).collect();
        let records = session.folder().write(changes, true)?;
        Ok(session.take_through(&records))
    }

    fn copy(&mut self, uids: &[u32], to: &str, remove: bool) -> Result<CopyOutcome, MailboxError> {
        let (target, place) = self.open_with(to, Rights::INSERT)?;
        let session = self.current()?;
        let keep = self.shared.snapshot().config.imap.copy_keeps_date_and_flags;
        let source = session.folder();
        let mut new_uids = Vec::with_capacity(uids.len());
        let mut copied = Vec::with_capacity(uids.len());
        for &uid in uids {
            let Some((meta, keywords)) = source.read(|ix| {
                ix.messages.get(&uid).map(|m| {
                    let names = m
                        .keywords
                        .iter()
                        .filter_map(|&k| ix.keywords.get(usize::from(k)).cloned())
                        .collect::<Vec<_>>();
                    (m.clone(), names)
                })
            }) else {
                continue;
            };
            let Some(data) = read_message(source, uid) else {
                continue;
            };
            // §11.8.2 "Keep Internal Date and Message Flags when messages are copied".
            let (flags, keywords, date) = if keep {
                let (f, k) = allowed(place.rights, meta.flags, keywords);
                (f, k, meta.internal_date)
            } else {
                (Flags::NONE, Vec::new(), crate::platform::clock::unix_secs())
            };
            new_uids.push(target.append(&data, flags, keywords, date)?);
            copied.push(uid);
        }
        let changes = if remove {
            let gone = copied.iter().map(|&uid| Change::Expunge { uid }).collect();
            let records = source.write(gone, true)?;
            session.take_through(&records)
        } else {
            Vec::new()
        };
        Ok(CopyOutcome {
            uid_validity: target.uidvalidity(),
            new_uids,
            changes,
        })
    }

    fn append(
        &self,
        to: &str,
        message: &[u8],
        flags: Flags,
        keywords: Vec<String>,
        internal_date: u64,
    ) -> Result<(u32, u32), MailboxError> {
        let (folder, place) = self.open_with(to, Rights::INSERT)?;
        let (flags, keywords) = allowed(place.rights, flags, keywords);
        let uid = folder.append(message, flags, keywords, internal_date)?;
        Ok((folder.uidvalidity(), uid))
    }

    fn message(&self, uid: u32) -> Option<Vec<u8>> {
        let session = self.current().ok()?;
        read_message(session.folder(), uid).map(|d| mailroom_core::wire::wire_form(&d))
    }
}

/// Where a folder lives, seen from the logged-in user.
struct Place {
    /// The owner's Maildir.
    account: PathBuf,
    owner: String,
    /// The folder's name in the owner's account.
    folder: String,
    rights: Rights,
}

/// The flags and keywords a new message in a folder keeps, by the user's rights there
/// (RFC 4314 §4: APPEND and COPY set only what STORE could).
fn allowed(rights: Rights, flags: Flags, keywords: Vec<String>) -> (Flags, Vec<String>) {
    let keep = rights.changeable();
    let flags = flags
        .iter()
        .filter(|f| keep.contains(*f))
        .fold(Flags::NONE, Flags::with);
    let keywords = if rights.contains(Rights::WRITE) {
        keywords
    } else {
        Vec::new()
    };
    (flags, keywords)
}

/// Whether a LIST of `pattern` under `reference` may name folders in the shared
/// namespace: only then are other users' ACLs read.
fn may_reach_shared(reference: &str, pattern: &str) -> bool {
    let full = format!("{reference}{pattern}").to_ascii_lowercase();
    let literal: String = full
        .chars()
        .take_while(|c| *c != '*' && *c != '%')
        .collect();
    SHARED_PREFIX.starts_with(&literal) || literal.starts_with(SHARED_PREFIX)
}

/// The stored bytes of message `uid`, `None` if it is gone.
fn read_message(folder: &Folder, uid: u32) -> Option<Vec<u8>> {
    let path = folder.message_path(uid)?;
    let mut data = Vec::new();
    match folder
        .open_message(&path)
        .and_then(|mut f| f.read_to_end(&mut data))
    {
        Ok(_) => Some(data),
        Err(e) => {
            tracing::warn!(path = %path.display(), "imap: message unreadable: {e}");
            None
        }
    }
}

/// STATUS's numbers from a folder's index (held messages are not there for clients).
fn folder_status(ix: &FolderIndex) -> FolderStatus {
    let count = |f: &dyn Fn(&mailroom_core::mailbox::MessageMeta) -> bool| {
        u32::try_from(ix.visible().filter(|m| f(m)).count()).unwrap_or(u32::MAX)
    };
    FolderStatus {
        messages: count(&|_| true),
        recent: count(&|m| m.uid >= ix.first_recent),
        unseen: count(&|m| !m.flags.contains(Flag::Seen)),
        uid_next: ix.next_uid,
        uid_validity: ix.uidvalidity,
        highest_modseq: ix.highest_modseq.max(1),
    }
}

impl From<FoldersError> for MailboxError {
    fn from(e: FoldersError) -> Self {
        match e {
            FoldersError::NotFound => MailboxError::NoSuchFolder,
            FoldersError::Exists => MailboxError::AlreadyExists,
            FoldersError::Inbox => MailboxError::Cannot(e.to_string()),
            FoldersError::Name(n) => MailboxError::Cannot(n.to_string()),
            FoldersError::Io(io) => {
                tracing::error!("imap folder operation: {io}");
                MailboxError::Failed
            }
        }
    }
}

impl From<FolderError> for MailboxError {
    fn from(e: FolderError) -> Self {
        match e {
            FolderError::Gone => MailboxError::NoSuchFolder,
            FolderError::Io(io) => {
                tracing::error!("imap folder: {io}");
                MailboxError::Failed
            }
        }
    }
}
