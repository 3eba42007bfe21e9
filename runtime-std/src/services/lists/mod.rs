//! Mailing lists at run time (docs/LISTS.md): takes mail for a list's address and the
//! ListServer out of routing, runs the core decisions (`mailroom_core::lists`), keeps
//! their state under `DIR/state/lists/` and sends what they write.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::sync::Mutex;

use mailroom_core::config::{List, Snapshot};
use mailroom_core::lists::listserver::{self, roster_key, LsCtx, Pending};
use mailroom_core::lists::post::{self, PostCtx, PostDecision};
use mailroom_core::lists::{self, OutMail, Roster, Special};
use mailroom_core::lists::{digest, moderation};
use mailroom_core::router::Plan;
use mailroom_core::smtp::{Delivery, DeliveryError, Recipient, Route};
use serde::{Deserialize, Serialize};

use crate::platform::clock::now;
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::store::Store;
use mailroom_core::Instant;

/// Posts held for moderation per list at most.
const MAX_HELD: usize = 1000;

/// Longest custom ListServer text read.
const MAX_TEXT: u64 = 64 * 1024;

/// Threads of this process take turns; the file lock keeps out other processes.
static LOCK: Mutex<()> = Mutex::new(());

/// The way back into routing, lent by `services::deliver` (`deliver::list_routing`):
/// it calls this module, so this module cannot name it.
pub struct Routing<'a> {
    /// Route and store a new mail the list server wrote, as local mail.
    pub send: &'a dyn Fn(&mut Delivery) -> Result<Plan, DeliveryError>,
    /// Plan and store the recipients of a delivery that the list server left.
    pub rest: &'a dyn Fn(&mut Delivery) -> Result<Plan, DeliveryError>,
}

/// Handle the recipients of `delivery` that are a mailing list or the ListServer, and
/// route the others as usual. `None` when there are none (routing goes on unchanged).
pub fn divert(
    store: &Store,
    snap: &Snapshot,
    delivery: &mut Delivery,
    routing: &Routing<'_>,
) -> Result<Option<Plan>, DeliveryError> {
    let config = &snap.config;
    let taken: Vec<bool> = delivery
        .envelope
        .recipients
        .iter()
        .map(|r| {
            matches!(
                lists::special(config, &r.address),
                Some(Special::Post(_) | Special::Digest(_) | Special::ListServer)
            )
        })
        .collect();
    if !taken.contains(&true) {
        return Ok(None);
    }
    let mut done: Vec<String> = Vec::new();
    let mut outgoing: Vec<OutMail> = Vec::new();
    for (r, _) in delivery
        .envelope
        .recipients
        .iter()
        .zip(&taken)
        .filter(|(_, t)| **t)
    {
        let Some(s) = lists::special(config, &r.address) else {
            continue;
        };
        let key = match s {
            Special::Post(l) => roster_key(&l.name),
            Special::Digest(l) => roster_key(&post::digest_name(l)),
            _ => lists::LISTSERVER.to_string(),
        };
        if done.contains(&key) {
            continue;
        }
        done.push(key);
        let mails = match s {
            Special::Post(l) => take_post(store.data_dir(), snap, l, delivery),
            Special::ListServer => take_listserver(store.data_dir(), snap, delivery),
            Special::Digest(l) => {
                tracing::info!(id = %delivery.id, list = %l.name, "mail to a digest list dropped: posts go to the list itself");
                Ok(Vec::new())
            }
            Special::Owner(_) => Ok(Vec::new()),
        }
        .map_err(|e| DeliveryError {
            temporary: true,
            text: format!("mailing list state: {e}"),
        })?;
        outgoing.extend(mails);
    }
    for (n, m) in outgoing.into_iter().enumerate() {
        send(snap, routing, format!("{}.list{n}", delivery.id), m)?;
    }

    let all = std::mem::take(&mut delivery.envelope.recipients);
    let rest: Vec<Recipient> = all
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(r, _)| r.clone())
        .collect();
    let result = if rest.is_empty() {
        Ok(crate::services::askbook::empty_plan())
    } else {
        delivery.envelope.recipients = rest;
        (routing.rest)(delivery)
    };
    delivery.envelope.recipients = all;
    result.map(Some)
}

/// Collected mail comes with its plan made (`services/collect`): the recipients the
/// router left to the list server are handed to it here.
pub fn take_collected(
    store: &Store,
    snap: &Snapshot,
    delivery: &mut Delivery,
    plan: &Plan,
    routing: &Routing<'_>,
) -> Result<(), DeliveryError> {
    let ours: Vec<Recipient> = plan
        .discards
        .iter()
        .filter(|d| d.reason == lists::FOR_LIST_SERVER)
        .map(|d| Recipient {
            address: d.recipient.clone(),
            route: Route::Unknown,
            dsn_notify: None,
            dsn_orcpt: None,
        })
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    let before = std::mem::replace(&mut delivery.envelope.recipients, ours);
    let r = divert(store, snap, delivery, routing);
    delivery.envelope.recipients = before;
    r.map(|_| ())
}

/// The one place list mail leaves: routed as local mail (lists, users, the outbound
/// queue for remote members). To become the shared writer of the server's own mail.
fn send(
    snap: &Snapshot,
    routing: &Routing<'_>,
    id: String,
    m: OutMail,
) -> Result<(), DeliveryError> {
    // The server-mail writer's delivery (`ServerMail::delivery`), routed through
    // the routing delivery lends (`deliver::list_routing`), as `send_server_mail` does.
    let mail = mailroom_core::servermail::ServerMail {
        sender: m.from,
        to: m.to,
        data: m.data,
    };
    let mut d = mail.delivery(id, &snap.config.hostname);
    (routing.send)(&mut d).map(|_| ())
}

/// Run `f` holding the list state lock (threads and processes).
fn locked<R>(dd: &DataDir, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    fs::create_dir_all(dd.lists_dir())?;
    let file = crate::platform::lock::open(&dd.lists_lock())?;
    let _held = crate::platform::lock::exclusive(&file)?;
    f()
}

/// The members of `name` (a list or a digest list): the stored roster, else the
/// configured members (`list`), else none.
pub fn load_roster(dd: &DataDir, name: &str, list: Option<&List>) -> io::Result<Roster> {
    let path = dd.list_roster(&roster_key(name));
    match fs::read_to_string(&path) {
        Ok(text) => match toml::from_str::<Roster>(&text) {
            Ok(r) => Ok(r),
            Err(e) => {
                let aside = path.with_extension("damaged");
                tracing::error!(
                    "{}: {e}; moved to {} and using the configured members",
                    path.display(),
                    aside.display()
                );
                fs::rename(&path, &aside)?;
                Ok(list.map(Roster::from_config).unwrap_or_default())
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Ok(list.map(Roster::from_config).unwrap_or_default())
        }
        Err(e) => Err(e),
    }
}

fn save_roster(dd: &DataDir, key: &str, roster: &Roster) -> io::Result<()> {
    let text = toml::to_string(roster).map_err(io::Error::other)?;
    durable::replace(&dd.list_roster(key), text.as_bytes(), Access::Normal)
}

#[derive(Default, Serialize, Deserialize)]
struct PendingFile {
    #[serde(default)]
    pending: Vec<Pending>,
}

fn load_pending(dd: &DataDir) -> io::Result<Vec<Pending>> {
    match fs::read_to_string(dd.list_pending()) {
        Ok(text) => Ok(toml::from_str::<PendingFile>(&text)
            .map(|f| f.pending)
            .unwrap_or_else(|e| {
                tracing::error!(
                    "{}: {e}; pending subscriptions dropped",
                    dd.list_pending().display()
                );
                Vec::new()
            })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn save_pending(dd: &DataDir, pending: Vec<Pending>) -> io::Result<()> {
    let text = toml::to_string(&PendingFile { pending }).map_err(io::Error::other)?;
    durable::replace(&dd.list_pending(), text.as_bytes(), Access::Normal)
}

/// A post to `list` (§14.6.2, §14.6.3): the mails it makes.
fn take_post(
    dd: &DataDir,
    snap: &Snapshot,
    list: &List,
    delivery: &Delivery,
) -> io::Result<Vec<OutMail>> {
    let now = now();
    let id = delivery.id.as_str();
    let key = roster_key(&list.name);
    locked(dd, || {
        let roster = load_roster(dd, &list.name, Some(list))?;
        let ctx = PostCtx {
            config: &snap.config,
            list,
            roster: &roster,
            now,
            id,
        };
        expire_held(dd, &key, now);
        let decision = post::post(&ctx, delivery.envelope.mail_from.as_deref(), &delivery.data);
        Ok(match decision {
            PostDecision::Distribute { mails, digest } => {
                if let Some(d) = digest {
                    collect(dd, list, id, now, &d)?;
                }
                tracing::info!(id, list = %list.name, copies = mails.len(), "list post distributed");
                mails
            }
            PostDecision::Hold { token, post, mails } => {
                if let Some(post) = post {
                    let dir = dd.list_held_dir(&key);
                    fs::create_dir_all(&dir)?;
                    // Posts from anyone could otherwise fill the disk (and the
                    // moderators' mailboxes) within the 14 days they are kept.
                    if fs::read_dir(&dir)?.count() >= MAX_HELD {
                        tracing::warn!(id, list = %list.name, "{MAX_HELD} posts already wait for the moderators: this one is dropped");
                        return Ok(Vec::new());
                    }
                    durable::replace(&dir.join(format!("{token}.eml")), &post, Access::Normal)?;
                }
                tracing::info!(id, list = %list.name, token, "list post held for the moderators");
                mails
            }
            PostDecision::Decided { token, approve } => {
                let path = dd.list_held_dir(&key).join(format!("{token}.eml"));
                let held = match fs::read(&path) {
                    Ok(h) => h,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        tracing::info!(id, list = %list.name, token, "moderator's answer to a post no longer held (expired or decided)");
                        return Ok(Vec::new());
                    }
                    Err(e) => return Err(e),
                };
                fs::remove_file(&path)?;
                if approve {
                    tracing::info!(id, list = %list.name, token, "held post approved");
                    let (mails, digest) = post::distribute(&ctx, &held);
                    if let Some(d) = digest {
                        collect(dd, list, id, now, &d)?;
                    }
                    mails
                } else {
                    tracing::info!(id, list = %list.name, token, "held post rejected");
                    Vec::new()
                }
            }
            PostDecision::Refuse { reason, mails } => {
                tracing::info!(id, list = %list.name, reason, "list post refused");
                mails
            }
            PostDecision::Drop { reason } => {
                tracing::info!(id, list = %list.name, reason, "list post dropped");
                Vec::new()
            }
        })
    })
}

/// Held posts nobody approved within 14 days are dropped (§14.6.3.3).
fn expire_held(dd: &DataDir, key: &str, now: Instant) {
    let Ok(entries) = fs::read_dir(dd.list_held_dir(key)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(token) = name.strip_suffix(".eml") {
            if moderation::expired(token, now) {
                match fs::remove_file(e.path()) {
                    Ok(()) => tracing::info!(list = key, token, "held post expired"),
                    Err(err) => tracing::warn!(
                        list = key,
                        token,
                        "cannot remove an expired held post: {err}"
                    ),
                }
            }
        }
    }
}

fn read_text(path: &std::path::Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if meta.len() > MAX_TEXT {
        tracing::warn!("{}: longer than {MAX_TEXT} bytes, not used", path.display());
        return None;
    }
    fs::read_to_string(path).ok()
}

/// A mail to the ListServer (§14.6.4): the reply and notices it makes.
fn take_listserver(dd: &DataDir, snap: &Snapshot, delivery: &Delivery) -> io::Result<Vec<OutMail>> {
    let config = &snap.config;
    let now = now();
    let mut token = [0u8; 12];
    getrandom::getrandom(&mut token).map_err(io::Error::other)?;
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let help = read_text(&dd.ls_help());
    let lists_text = read_text(&dd.ls_lists());
    locked(dd, || {
        let mut rosters = BTreeMap::new();
        for name in listserver::roster_names(config) {
            let list = lists::mailing_list(config, &name);
            rosters.insert(roster_key(&name), load_roster(dd, &name, list)?);
        }
        let pending = load_pending(dd)?;
        let ctx = LsCtx {
            config,
            now,
            id: &delivery.id,
            new_token: &token,
            help_text: help.as_deref(),
            lists_text: lists_text.as_deref(),
        };
        let r = listserver::handle(
            &ctx,
            delivery.envelope.mail_from.as_deref(),
            &delivery.data,
            &rosters,
            &pending,
        );
        if let Some(why) = &r.ignored {
            tracing::info!(id = %delivery.id, reason = %why, "mail to the ListServer ignored");
        }
        for (key, roster) in &r.changed {
            save_roster(dd, key, roster)?;
            tracing::info!(id = %delivery.id, list = %key, members = roster.members.len(), "list members changed by the ListServer");
        }
        if let Some(p) = r.pending {
            save_pending(dd, p)?;
        }
        Ok(r.mails)
    })
}

/// The members of a mailing list as `mailroom list show` prints them (with NoMail
/// marks), and its digest list's members when it has one.
pub fn member_lines(
    dd: &DataDir,
    config: &mailroom_core::config::Config,
    list: &List,
) -> io::Result<String> {
    let show = |r: &Roster| -> String {
        r.members
            .iter()
            .map(|m| {
                let a = lists::qualify(config, &m.address);
                match (&m.nomail, &m.nomail_until) {
                    (true, Some(d)) => format!("{a} (nomail until {d})"),
                    (true, None) => format!("{a} (nomail)"),
                    _ => a,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = show(&load_roster(dd, &list.name, Some(list))?);
    if list.options.digest {
        let name = post::digest_name(list);
        s.push_str(&format!(
            "\n{name} (digest list): {}",
            show(&load_roster(dd, &name, None)?)
        ));
    }
    Ok(s)
}

/// Keep a distributed post for the list's digest (`digest/KEY/new/STAMP-ID.eml`).
fn collect(dd: &DataDir, list: &List, id: &str, now: Instant, data: &[u8]) -> io::Result<()> {
    let dir = dd
        .list_digest_dir(&roster_key(&post::digest_name(list)))
        .join("new");
    fs::create_dir_all(&dir)?;
    let name = format!("{}-{}.eml", now.unix_secs(), safe_name(id));
    durable::replace(&dir.join(name), data, Access::Normal)
}

fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Send every digest that is due at `now` and forget posts kept past their time.
pub fn digest_tick(
    store: &Store,
    snap: &Snapshot,
    now: Instant,
    routing: &Routing<'_>,
) -> io::Result<()> {
    let dd = store.data_dir();
    let config = &snap.config;
    for list in config
        .lists
        .iter()
        .filter(|l| l.kind == mailroom_core::config::ListKind::Mailing && l.options.digest)
    {
        let name = post::digest_name(list);
        let key = roster_key(&name);
        let dir = dd.list_digest_dir(&key);
        let out = locked(dd, || {
            fs::create_dir_all(&dir)?;
            let last_path = dir.join("last");
            let last = match fs::read_to_string(&last_path) {
                Ok(t) => t.trim().parse::<u64>().ok(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            let sent_dir = dir.join("sent");
            for (path, at) in stamped(&sent_dir)? {
                if digest::expired(at, now, list.options.digest_keep_days) {
                    fs::remove_file(path)?;
                }
            }
            let Some(last) = last else {
                // The first look starts the period: the first digest goes out after
                // the next midnight, not at once.
                durable::replace(
                    &last_path,
                    now.unix_secs().to_string().as_bytes(),
                    Access::Normal,
                )?;
                return Ok(None);
            };
            if !digest::due(last, now, list.options.digest_days) {
                return Ok(None);
            }
            let new_dir = dir.join("new");
            let files = stamped(&new_dir)?;
            let mut posts = Vec::new();
            for (path, at) in &files {
                posts.push(digest::Collected {
                    at: *at,
                    data: fs::read(path)?,
                });
            }
            let roster = load_roster(dd, &name, None)?;
            let id = format!("digest.{key}.{}", now.unix_secs());
            let mail = digest::build(config, list, &roster, posts, now, &id);
            fs::create_dir_all(&sent_dir)?;
            for (path, _) in &files {
                if let Some(f) = path.file_name() {
                    fs::rename(path, sent_dir.join(f))?;
                }
            }
            durable::replace(
                &last_path,
                now.unix_secs().to_string().as_bytes(),
                Access::Normal,
            )?;
            tracing::info!(list = %name, posts = files.len(), sent = mail.is_some(), "digest period ended");
            Ok(mail.map(|m| (id, m)))
        })?;
        if let Some((id, m)) = out {
            send(snap, routing, id, m).map_err(|e| io::Error::other(e.text))?;
        }
    }
    Ok(())
}

/// The `STAMP-ID.eml` files in `dir` with their stamps (none if it does not exist).
fn stamped(dir: &std::path::Path) -> io::Result<Vec<(std::path::PathBuf, u64)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = Vec::new();
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(at) = name
            .strip_suffix(".eml")
            .and_then(|n| n.split('-').next())
            .and_then(|s| s.parse::<u64>().ok())
        {
            v.push((e.path(), at));
        }
    }
    v.sort_by_key(|(_, at)| *at);
    Ok(v)
}

#[cfg(test)]
mod tests;
