//! A fake mailbox store and a client for the IMAP session tests: the store answers
//! the session's events the way docs/IMAP.md asks of the runtime.
#![allow(dead_code)]

use mailroom_core::access::AccessFiles;
use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::auth::AuthOutcome;
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_core::imap::{
    AclAnswer, AclOp, CopyOutcome, FolderOp, FolderStatus, ImapCommand, ImapEvent, ImapInfo,
    ImapServer, ListEntry, MailboxError, StoreOutcome, UrlKey,
};
use mailroom_core::mailbox::{
    Acl, Flag, Flags, FolderIndex, MessageMeta, Record, Rights, SpecialUse,
};
use mailroom_core::{Input, Instant, Machine, Output};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const T0: u64 = 1_767_225_600;

pub fn snapshot(extra: &str) -> Arc<Snapshot> {
    let text = format!(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\n\
         local_domains = [\"example.com\"]\n{extra}"
    );
    Arc::new(Snapshot {
        config: parse_config(&text).expect("config"),
        accounts: Accounts::new([Account {
            name: "alice".into(),
            ..Default::default()
        }]),
        access: AccessFiles::default(),
    })
}

pub fn info(ip: &str, tls_available: bool) -> ImapInfo {
    ImapInfo {
        peer_ip: ip.parse().unwrap(),
        session_id: "i1".into(),
        tls_active: false,
        tls_available,
    }
}

/// One folder: its index, message bytes, and the changes other sessions made that
/// this session has not been handed yet.
#[derive(Debug, Clone)]
pub struct Folder {
    pub index: FolderIndex,
    pub bodies: BTreeMap<u32, Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub folders: BTreeMap<String, Folder>,
    /// Changes to the selected folder not yet handed over (`Sync`).
    pub feed: Vec<Record>,
    pub selected: Option<String>,
    pub log: Vec<String>,
    /// A `Wake` is owed (the session idles).
    pub idle: bool,
    /// The logged-in user's rights per folder where not all (as for a folder
    /// another user shares), and each folder's ACL (alice owns them all).
    pub rights: BTreeMap<String, Rights>,
    pub acls: BTreeMap<String, Acl>,
    /// RESETKEY was sent: URLAUTH keys are gone.
    pub keys_reset: bool,
}

pub const M1: &[u8] = b"From: a@example.com\r\nSubject: one\r\n\r\nfirst body\r\n";
pub const M2: &[u8] = b"From: b@example.com\r\nSubject: two\r\nTo: c@example.com\r\n\r\nsecond\r\n";
pub const M3: &[u8] = b"Subject: three\r\n\r\nthird\r\n";

impl Store {
    /// INBOX with three messages (UIDs 4, 5, 6; the third `\Recent`; the first
    /// `\Seen`), and Sent with its special use.
    pub fn new() -> Store {
        let mut ix = FolderIndex::new(3_857_529_045);
        ix.next_uid = 4;
        let mut bodies = BTreeMap::new();
        for (i, body) in [M1, M2, M3].into_iter().enumerate() {
            let uid = 4 + i as u32;
            let flags = if i == 0 {
                Flags::NONE.with(Flag::Seen)
            } else {
                Flags::NONE
            };
            let r = Record::Added(MessageMeta {
                uid,
                modseq: ix.next_modseq(),
                size: body.len() as u64,
                internal_date: 837_571_465 + i as u64 * 86_400,
                flags,
                keywords: vec![],
                held: false,
                base: format!("b{uid}"),
            });
            ix.apply(&r).unwrap();
            bodies.insert(uid, body.to_vec());
        }
        ix.first_recent = 6;
        let mut sent = FolderIndex::new(77);
        sent.special_use = Some(SpecialUse::Sent);
        let mut folders = BTreeMap::new();
        folders.insert("INBOX".to_owned(), Folder { index: ix, bodies });
        folders.insert(
            "Sent".to_owned(),
            Folder {
                index: sent,
                bodies: BTreeMap::new(),
            },
        );
        Store {
            folders,
            feed: Vec::new(),
            selected: None,
            log: Vec::new(),
            idle: false,
            rights: BTreeMap::new(),
            acls: BTreeMap::new(),
            keys_reset: false,
        }
    }

    fn sel(&mut self) -> &mut Folder {
        let name = self.selected.clone().expect("a folder is selected");
        self.folders.get_mut(&name).expect("selected folder exists")
    }

    /// Another session (or delivery) changes the selected folder.
    pub fn other(&mut self, f: impl FnOnce(&mut FolderIndex) -> Record) {
        let folder = self.sel();
        let r = f(&mut folder.index);
        folder.index.apply(&r).unwrap();
        self.feed.push(r);
    }

    /// A new message arrives in the selected folder.
    pub fn deliver(&mut self, body: &[u8]) {
        let body = body.to_vec();
        let folder = self.sel();
        let uid = folder.index.next_uid;
        folder.bodies.insert(uid, body.clone());
        self.other(|ix| {
            Record::Added(MessageMeta {
                uid,
                modseq: ix.next_modseq(),
                size: body.len() as u64,
                internal_date: 837_571_465,
                flags: Flags::NONE,
                keywords: vec![],
                held: false,
                base: format!("b{uid}"),
            })
        });
    }

    /// Store a new message in `to`; its UID.
    fn add(&mut self, to: &str, flags: Flags, message: &[u8]) -> Option<u32> {
        let f = self.folders.get_mut(to)?;
        let uid = f.index.next_uid;
        let r = Record::Added(MessageMeta {
            uid,
            modseq: f.index.next_modseq(),
            size: message.len() as u64,
            internal_date: T0,
            flags,
            keywords: vec![],
            held: false,
            base: format!("a{uid}"),
        });
        f.index.apply(&r).unwrap();
        f.bodies.insert(uid, message.to_vec());
        if self.selected.as_deref() == Some(to) {
            self.feed.push(r);
        }
        Some(uid)
    }

    /// Answer an event as the runtime must.
    pub fn answer(&mut self, e: &ImapEvent) -> Option<ImapCommand> {
        self.log.push(format!("{e:?}"));
        Some(match e {
            ImapEvent::Authenticate { user, password } => {
                ImapCommand::AuthResult(if user == "alice" && password == "secret" {
                    AuthOutcome::Ok("alice".into())
                } else {
                    AuthOutcome::Invalid
                })
            }
            // No secrets in this store: the method is not available.
            ImapEvent::AuthenticateCram { .. } => ImapCommand::AuthResult(AuthOutcome::Unavailable),
            ImapEvent::List {
                reference, pattern, ..
            } => ImapCommand::Listed(Ok(self
                .folders
                .iter()
                .filter(|(n, _)| mailroom_core::imap::list_matches(reference, pattern, n))
                .map(|(n, f)| ListEntry {
                    name: n.clone(),
                    special_use: f.index.special_use,
                    no_select: false,
                    has_children: false,
                })
                .collect())),
            ImapEvent::Status { folder } => ImapCommand::Status(match self.folders.get(folder) {
                Some(f) => {
                    let ix = &f.index;
                    Ok(FolderStatus {
                        messages: ix.visible().count() as u32,
                        recent: ix.visible().filter(|m| m.uid >= ix.first_recent).count() as u32,
                        unseen: ix
                            .visible()
                            .filter(|m| !m.flags.contains(Flag::Seen))
                            .count() as u32,
                        uid_next: ix.next_uid,
                        uid_validity: ix.uidvalidity,
                        highest_modseq: ix.highest_modseq,
                    })
                }
                None => Err(MailboxError::NoSuchFolder),
            }),
            ImapEvent::Select { folder, read_only } => {
                ImapCommand::Selected(match self.folders.get_mut(folder) {
                    Some(f) => {
                        let ix = f.index.clone();
                        if !read_only {
                            f.index.first_recent = f.index.next_uid;
                        }
                        self.selected = Some(folder.clone());
                        self.feed.clear();
                        let rights = self.rights.get(folder).copied().unwrap_or(Rights::ALL);
                        Ok((Box::new(ix), rights))
                    }
                    None => Err(MailboxError::NoSuchFolder),
                })
            }
            ImapEvent::Deselect => {
                self.selected = None;
                self.idle = false;
                return None;
            }
            ImapEvent::Folder(op) => ImapCommand::Done(match op {
                FolderOp::Create(n) if self.folders.contains_key(n) => {
                    Err(MailboxError::AlreadyExists)
                }
                FolderOp::Create(n) => {
                    self.folders.insert(
                        n.clone(),
                        Folder {
                            index: FolderIndex::new(99),
                            bodies: BTreeMap::new(),
                        },
                    );
                    Ok(())
                }
                FolderOp::Delete(n) if n == "INBOX" => {
                    Err(MailboxError::Cannot("INBOX cannot be deleted".into()))
                }
                FolderOp::Delete(n) => match self.folders.remove(n) {
                    Some(_) => Ok(()),
                    None => Err(MailboxError::NoSuchFolder),
                },
                FolderOp::Rename { from, to } => match self.folders.remove(from) {
                    Some(f) => {
                        self.folders.insert(to.clone(), f);
                        Ok(())
                    }
                    None => Err(MailboxError::NoSuchFolder),
                },
                FolderOp::Subscribe(_) | FolderOp::Unsubscribe(_) => Ok(()),
            }),
            ImapEvent::Sync => {
                let records = std::mem::take(&mut self.feed);
                // One session: every arrival is recent in it.
                let recent = records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Added(m) => Some(m.uid),
                        _ => None,
                    })
                    .collect();
                ImapCommand::Changes { records, recent }
            }
            ImapEvent::Store {
                updates,
                unchanged_since,
            } => {
                let before = std::mem::take(&mut self.feed);
                let ix = &mut self.sel().index;
                let mut out = StoreOutcome {
                    before,
                    ..Default::default()
                };
                for u in updates {
                    let Some(m) = ix.messages.get(&u.uid) else {
                        continue;
                    };
                    if unchanged_since.is_some_and(|n| m.modseq > n) {
                        out.modified.push(u.uid);
                        continue;
                    }
                    let mut ids = Vec::new();
                    for k in &u.keywords {
                        if ix.keyword_id(k).is_none() {
                            let r = Record::Keyword(k.clone());
                            ix.apply(&r).unwrap();
                            out.applied.push(r);
                        }
                        ids.push(ix.keyword_id(k).unwrap());
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    let r = Record::Flags {
                        uid: u.uid,
                        modseq: ix.next_modseq(),
                        flags: u.flags,
                        keywords: ids,
                    };
                    ix.apply(&r).unwrap();
                    out.applied.push(r);
                }
                ImapCommand::Stored(Ok(out))
            }
            ImapEvent::Expunge { uids } => {
                let mut changes = std::mem::take(&mut self.feed);
                let folder = self.sel();
                for uid in uids {
                    let r = Record::Expunged {
                        uid: *uid,
                        modseq: folder.index.next_modseq(),
                    };
                    folder.index.apply(&r).unwrap();
                    folder.bodies.remove(uid);
                    changes.push(r);
                }
                ImapCommand::Expunged(Ok(changes))
            }
            ImapEvent::Copy { uids, to, remove } => {
                let src = self.selected.clone().unwrap();
                let Some(target) = self.folders.get(to).map(|f| f.index.uidvalidity) else {
                    return Some(ImapCommand::Copied(Err(MailboxError::NoSuchFolder)));
                };
                let mut new_uids = Vec::new();
                for uid in uids {
                    let (meta, body) = {
                        let f = &self.folders[&src];
                        (f.index.messages[uid].clone(), f.bodies[uid].clone())
                    };
                    let t = self.folders.get_mut(to).unwrap();
                    let new = t.index.next_uid;
                    let r = Record::Added(MessageMeta {
                        uid: new,
                        modseq: t.index.next_modseq(),
                        ..meta
                    });
                    t.index.apply(&r).unwrap();
                    t.bodies.insert(new, body);
                    new_uids.push(new);
                }
                let mut changes = Vec::new();
                if *remove {
                    changes = std::mem::take(&mut self.feed);
                    let f = self.folders.get_mut(&src).unwrap();
                    for uid in uids {
                        let r = Record::Expunged {
                            uid: *uid,
                            modseq: f.index.next_modseq(),
                        };
                        f.index.apply(&r).unwrap();
                        changes.push(r);
                    }
                }
                ImapCommand::Copied(Ok(CopyOutcome {
                    uid_validity: target,
                    new_uids,
                    changes,
                }))
            }
            ImapEvent::Append {
                to, flags, message, ..
            } => ImapCommand::Appended(match self.add(to, *flags, message) {
                Some(uid) => Ok((self.folders[to].index.uidvalidity, uid)),
                None => Err(MailboxError::NoSuchFolder),
            }),
            // All or none: the target is looked up before anything is stored.
            ImapEvent::AppendMany { to, messages } => {
                ImapCommand::AppendedMany(match self.folders.get(to) {
                    Some(f) => {
                        let v = f.index.uidvalidity;
                        let uids = messages
                            .iter()
                            .filter_map(|m| self.add(to, m.flags, &m.message))
                            .collect();
                        Ok((v, uids))
                    }
                    None => Err(MailboxError::NoSuchFolder),
                })
            }
            ImapEvent::UrlAuthKey { owner, folder, .. } => ImapCommand::UrlAuthKey(
                (owner == "alice" && self.folders.contains_key(folder) && !self.keys_reset)
                    .then(|| UrlKey(b"fixed test key".to_vec())),
            ),
            ImapEvent::ResetKey { .. } => {
                self.keys_reset = true;
                ImapCommand::Done(Ok(()))
            }
            ImapEvent::UrlMessage {
                owner,
                folder,
                uid_validity,
                uid,
            } => ImapCommand::Message(
                self.folders
                    .get(folder)
                    .filter(|_| owner.as_deref().is_none_or(|o| o == "alice"))
                    .filter(|f| uid_validity.is_none_or(|v| v == f.index.uidvalidity))
                    .and_then(|f| f.bodies.get(uid).cloned()),
            ),
            ImapEvent::Message { uid } => ImapCommand::Message(self.sel().bodies.get(uid).cloned()),
            ImapEvent::Idle => {
                self.idle = true;
                return None;
            }
            ImapEvent::Acl(req) => ImapCommand::Acl(if self.folders.contains_key(&req.folder) {
                let acl = self.acls.entry(req.folder.clone()).or_default();
                Ok(match &req.op {
                    AclOp::Get => {
                        let mut all = vec![("alice".to_owned(), Rights::ALL)];
                        all.extend(acl.entries().iter().cloned());
                        AclAnswer::List(all)
                    }
                    AclOp::MyRights => AclAnswer::Mine(Rights::ALL),
                    AclOp::ListRights { identifier } if identifier == "alice" => {
                        AclAnswer::Required(Rights::ALL)
                    }
                    AclOp::ListRights { .. } => AclAnswer::Required(Rights::NONE),
                    AclOp::Set { identifier, change } => match acl.set(identifier, *change) {
                        Ok(()) => AclAnswer::Done,
                        Err(_) => {
                            return Some(ImapCommand::Acl(Err(MailboxError::Cannot(
                                "bad identifier".into(),
                            ))))
                        }
                    },
                    AclOp::Delete { identifier } => {
                        acl.remove(identifier);
                        AclAnswer::Done
                    }
                })
            } else {
                Err(MailboxError::NoSuchFolder)
            }),
        })
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// A client driving the session as a runtime would, answering events at once.
pub struct Client {
    pub server: ImapServer,
    pub store: Store,
    pub now: Instant,
    pub greeting: String,
    pub closed: bool,
    pub start_tls: usize,
}

impl Client {
    pub fn new(snapshot: Arc<Snapshot>, info: ImapInfo) -> Client {
        let now = Instant::from_secs(T0);
        let mut c = Client {
            server: ImapServer::new(now, snapshot, info),
            store: Store::new(),
            now,
            greeting: String::new(),
            closed: false,
            start_tls: 0,
        };
        c.greeting = c.drain();
        c
    }

    pub fn plain() -> Client {
        Client::new(snapshot(""), info("192.168.1.20", true))
    }

    pub fn drain(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            match self.server.poll_output(&mut out) {
                Output::Event(e) => {
                    if let Some(c) = self.store.answer(&e) {
                        self.server.handle_command(self.now, c);
                    }
                }
                Output::Close => self.closed = true,
                Output::StartTls => self.start_tls += 1,
                Output::Wait(_) => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Send raw bytes; what the server said back.
    pub fn send(&mut self, bytes: &[u8]) -> String {
        self.now = self.now + Duration::from_millis(10);
        self.server.handle_input(self.now, Input::Bytes(bytes));
        self.drain()
    }

    /// Send a line (CRLF added).
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes())
    }

    /// The idle runtime's `Wake` (when the session asked for one).
    pub fn wake(&mut self) -> String {
        if self.store.idle {
            self.store.idle = false;
            self.server.handle_command(self.now, ImapCommand::Wake);
        }
        self.drain()
    }

    pub fn login(&mut self) {
        let r = self.cmd("a LOGIN alice secret");
        assert!(r.starts_with("a OK ["), "{r}");
    }

    pub fn select(&mut self) -> String {
        self.login();
        self.cmd("s SELECT INBOX")
    }
}
