//! Reading: the folder list, a folder's messages page by page (newest first), one
//! message (headers, text, attachments, the HTML part in a sandboxed frame, the raw
//! source), and the changes a reader makes: read/unread, flagged, delete to Trash,
//! move. All through the folder store, so IMAP and POP3 see the same state.

use super::{
    account_dir, list_link, message_link, open, query, respond, special, target, Ctx, Who,
};
use crate::services::web::pages::{self, csrf};
use crate::store::{Change, FlagEdit, Folder};
use mail_parser::{Address, Message, MessageParser, MimeHeaders};
use mailroom_core::http::form::{encode, Form};
use mailroom_core::http::Response;
use mailroom_core::mailbox::{Flag, Flags, MessageMeta, SpecialUse};
use maud::{html, Markup};
use std::io::Read;
use std::sync::Arc;

/// Messages per list page.
const PAGE: usize = 50;
/// Bytes of a message read to show its row in a list (the header comes first).
const HEAD_BYTES: u64 = 32 * 1024;
/// The most of a message read to show it (SMTP's size limits keep mail far below).
const MAX_OPEN: u64 = 64 << 20;

/// What the frame of an HTML part may load: nothing but its own inline styles, and
/// remote images only when the user asked. No script (the frame is also sandboxed),
/// no forms, no plugins, and it may be framed by webmail's own page only.
fn frame_policy(images: bool) -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src {}; form-action 'none'; \
         base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox",
        if images { "https: http: data:" } else { "'none'" }
    )
}

/// The message page's policy: the admin pages' one, plus the frame of the HTML part.
const MESSAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stored bytes of message `uid` (at most `limit`), `None` if gone or held.
pub(super) fn read_message(folder: &Folder, uid: u32, limit: u64) -> Option<Vec<u8>> {
    if !folder.read(|ix| ix.messages.get(&uid).is_some_and(|m| !m.held)) {
        return None;
    }
    let path = folder.message_path(uid)?;
    let mut data = Vec::new();
    match folder
        .open_message(&path)
        .and_then(|f| f.take(limit).read_to_end(&mut data))
    {
        Ok(_) => Some(data),
        Err(e) => {
            tracing::warn!(path = %path.display(), "webmail: cannot read message: {e}");
            None
        }
    }
}

fn meta(folder: &Folder, uid: u32) -> Option<MessageMeta> {
    folder.read(|ix| ix.messages.get(&uid).filter(|m| !m.held).cloned())
}

/// `Name <address>` of each address, joined.
pub(super) fn addresses(a: Option<&Address<'_>>) -> String {
    let Some(a) = a else {
        return String::new();
    };
    a.iter()
        .map(|x| match (x.name(), x.address()) {
            (Some(n), Some(ad)) => format!("{n} <{ad}>"),
            (None, Some(ad)) => ad.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sender as a list shows it: the name, else the address.
fn sender(m: &Message<'_>) -> String {
    m.from()
        .and_then(|a| a.first())
        .and_then(|x| x.name().or(x.address()))
        .unwrap_or("")
        .to_string()
}

/// Unix seconds as `YYYY-MM-DD HH:MM` (UTC).
pub(super) fn when(secs: u64) -> String {
    let t = mail_parser::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0)).to_rfc3339();
    t.get(..16).unwrap_or(&t).replace('T', " ")
}

fn size(octets: u64) -> String {
    match octets {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{} KB", n.div_ceil(1024)),
        n => format!("{:.1} MB", n as f64 / (1024.0 * 1024.0)),
    }
}

fn folder_nav(ctx: &Ctx<'_>, who: &Who, current: &str) -> Markup {
    let names: Vec<String> = account_dir(ctx, who)
        .ok()
        .and_then(|a| ctx.shared.store.folders().list(&a).ok())
        .map(|l| l.into_iter().map(|f| f.name).collect())
        .unwrap_or_default();
    html! {
        nav.folders aria-label="Folders" {
            ul {
                @for n in &names {
                    li {
                        @if n == current { a.current href=(list_link(n)) aria-current="page" { (n) } }
                        @else { a href=(list_link(n)) { (n) } }
                    }
                }
            }
        }
    }
}

/// Every folder but `except`, for the move form.
fn folder_names(ctx: &Ctx<'_>, who: &Who, except: &str) -> Vec<String> {
    account_dir(ctx, who)
        .ok()
        .and_then(|a| ctx.shared.store.folders().list(&a).ok())
        .map(|l| {
            l.into_iter()
                .map(|f| f.name)
                .filter(|n| n != except)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn list(ctx: &Ctx<'_>, who: &Who) -> Response {
    let (name, _) = target(query(ctx, "f").as_deref(), None);
    let page: usize = query(ctx, "p").and_then(|p| p.parse().ok()).unwrap_or(0);
    let folder = match open(ctx, who, &name) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut metas: Vec<MessageMeta> =
        folder.read(|ix| ix.messages.values().filter(|m| !m.held).cloned().collect());
    metas.sort_by_key(|m| std::cmp::Reverse((m.internal_date, m.uid)));
    let total = metas.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = page.min(pages - 1);
    let parser = MessageParser::default();
    let rows: Vec<(MessageMeta, String, String)> = metas
        .into_iter()
        .skip(page * PAGE)
        .take(PAGE)
        .map(|m| {
            let head = read_message(&folder, m.uid, HEAD_BYTES).unwrap_or_default();
            let (from, subject) = parser
                .parse_headers(&head[..])
                .map(|h| (sender(&h), h.subject().unwrap_or("").to_string()))
                .unwrap_or_default();
            (m, from, subject)
        })
        .collect();
    let unread = folder.read(|ix| {
        ix.messages
            .values()
            .filter(|m| !m.held && !m.flags.contains(Flag::Seen))
            .count()
    });
    let page_link = |p: usize| format!("{}&p={p}", list_link(&name));
    let title = if name == "INBOX" {
        "Inbox".to_string()
    } else {
        name.clone()
    };
    respond(
        who,
        if name == "INBOX" { "/mail/" } else { "" },
        &title,
        html! {
            div.mailbox {
                (folder_nav(ctx, who, &name))
                section.messages {
                    p.count { (total) " messages, " (unread) " unread" }
                    @if rows.is_empty() {
                        p { "No messages." }
                    } @else {
                        form.bulk method="post" action="/mail/bulk" {
                        (csrf(who))
                        input type="hidden" name="f" value=(name);
                        div.actions {
                            button type="submit" name="set" value="read" { "Mark read" }
                            button type="submit" name="set" value="unread" { "Mark unread" }
                            button type="submit" name="set" value="flag" { "Flag" }
                            button type="submit" name="set" value="unflag" { "Unflag" }
                            button type="submit" name="set" value="delete" { "Delete" }
                            select name="to" aria-label="Move to" {
                                @for n in folder_names(ctx, who, &name) { option value=(n) { (n) } }
                            }
                            button type="submit" name="set" value="move" { "Move" }
                        }
                        table.messages {
                            thead { tr { th { "" } th { "From" } th { "Subject" } th { "Date" } th.num { "Size" } } }
                            tbody {
                                @for (m, from, subject) in &rows {
                                    tr class=(if m.flags.contains(Flag::Seen) { "read" } else { "unread" }) {
                                        td.marks {
                                            input type="checkbox" name="uid" value=(m.uid) aria-label="Select";
                                            @if m.flags.contains(Flag::Flagged) { span.flag title="Flagged" { "⚑" } }
                                            @if m.flags.contains(Flag::Answered) { span title="Answered" { "↩" } }
                                        }
                                        td { (from) }
                                        td { a href=(message_link(&name, m.uid)) {
                                            @if subject.is_empty() { "(no subject)" } @else { (subject) }
                                        } }
                                        td { (when(m.internal_date)) }
                                        td.num { (size(m.size)) }
                                    }
                                }
                            }
                        }
                        }
                    }
                    @if pages > 1 {
                        nav.pages aria-label="Pages" {
                            @if page > 0 { a href=(page_link(page - 1)) rel="prev" { "Newer" } " " }
                            span { "Page " (page + 1) " of " (pages) }
                            @if page + 1 < pages { " " a href=(page_link(page + 1)) rel="next" { "Older" } }
                        }
                    }
                }
            }
        },
    )
}

/// The folder and message `f` and `uid` name, if the message is there (not held).
fn locate(
    ctx: &Ctx<'_>,
    who: &Who,
    f: Option<&str>,
    uid: Option<&str>,
) -> Result<(String, Arc<Folder>, u32), Response> {
    let (name, uid) = target(f, uid);
    let folder = open(ctx, who, &name)?;
    match uid {
        Some(uid) if meta(&folder, uid).is_some() => Ok((name, folder, uid)),
        _ => Err(pages::error(404, "No such message.")),
    }
}

/// The message the query names, with its bytes.
fn find(ctx: &Ctx<'_>, who: &Who) -> Result<(String, Arc<Folder>, u32, Vec<u8>), Response> {
    let (name, folder, uid) = locate(
        ctx,
        who,
        query(ctx, "f").as_deref(),
        query(ctx, "uid").as_deref(),
    )?;
    let data = read_message(&folder, uid, MAX_OPEN)
        .ok_or_else(|| pages::error(404, "No such message."))?;
    Ok((name, folder, uid, data))
}

pub(super) fn message(ctx: &Ctx<'_>, who: &Who) -> Response {
    let (name, folder, uid, data) = match find(ctx, who) {
        Ok(t) => t,
        Err(r) => return r,
    };
    // Opening a message reads it, as FETCH BODY[] and RETR do.
    let seen = Flags::NONE.with(Flag::Seen);
    let _ = folder.write(
        vec![Change::Flags {
            uid,
            edit: FlagEdit::Add,
            flags: seen,
            keywords: Vec::new(),
        }],
        false,
    );
    let flags = meta(&folder, uid).map(|m| m.flags).unwrap_or(seen);
    let Some(m) = MessageParser::default().parse(&data[..]) else {
        return pages::error(500, "The message cannot be read.");
    };
    let images = query(ctx, "images").as_deref() == Some("1");
    let has_html = m.html_bodies().any(|p| p.is_text_html());
    let text = if has_html && m.text_bodies().all(|p| p.is_text_html()) {
        None
    } else {
        m.body_text(0).map(|t| t.into_owned())
    };
    let frame = format!(
        "/mail/html?f={}&uid={uid}{}",
        encode(&name),
        if images { "&images=1" } else { "" }
    );
    let attachments: Vec<(usize, String, usize)> = m
        .attachments()
        .enumerate()
        .map(|(i, p)| {
            let n = p
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            (i, n, p.contents().len())
        })
        .collect();
    // The Date field, else when the message arrived.
    let date = m
        .date()
        .and_then(|d| u64::try_from(d.to_timestamp()).ok())
        .or(meta(&folder, uid).map(|m| m.internal_date))
        .map(when);
    let subject = m.subject().unwrap_or("(no subject)").to_string();
    let q = format!("f={}&uid={uid}", encode(&name));
    let action = |what: &str, label: &str| {
        html! {
            form.inline method="post" action="/mail/flags" {
                (csrf(who))
                input type="hidden" name="f" value=(name);
                input type="hidden" name="uid" value=(uid);
                input type="hidden" name="set" value=(what);
                button type="submit" { (label) }
            }
        }
    };
    let body = html! {
        div.mailbox {
            (folder_nav(ctx, who, &name))
            article.message {
                dl.headers {
                    dt { "From" } dd { (addresses(m.from())) }
                    dt { "To" } dd { (addresses(m.to())) }
                    @if m.cc().is_some() { dt { "Cc" } dd { (addresses(m.cc())) } }
                    @if let Some(d) = &date { dt { "Date" } dd { (d) } }
                    dt { "Subject" } dd.subject { (subject) }
                }
                div.actions {
                    a.button href=(format!("/mail/compose?reply={uid}&f={}", encode(&name))) { "Reply" }
                    a.button href=(format!("/mail/compose?reply={uid}&all=1&f={}", encode(&name))) { "Reply all" }
                    a.button href=(format!("/mail/compose?forward={uid}&f={}", encode(&name))) { "Forward" }
                    @if flags.contains(Flag::Seen) { (action("unread", "Mark unread")) } @else { (action("read", "Mark read")) }
                    @if flags.contains(Flag::Flagged) { (action("unflag", "Unflag")) } @else { (action("flag", "Flag")) }
                    form.inline method="post" action="/mail/delete" {
                        (csrf(who))
                        input type="hidden" name="f" value=(name);
                        input type="hidden" name="uid" value=(uid);
                        button type="submit" { "Delete" }
                    }
                    form.inline method="post" action="/mail/move" {
                        (csrf(who))
                        input type="hidden" name="f" value=(name);
                        input type="hidden" name="uid" value=(uid);
                        select name="to" aria-label="Move to" {
                            @for n in folder_names(ctx, who, &name) { option value=(n) { (n) } }
                        }
                        button type="submit" { "Move" }
                    }
                    a href=(format!("/mail/raw?{q}")) { "Raw" }
                }
                @if let Some(t) = &text { pre.body { (t) } }
                @if has_html {
                    @if !images {
                        p.remote { "Remote images are blocked. " a href=(format!("/mail/message?{q}&images=1")) { "Load images" } }
                    }
                    iframe.html sandbox="allow-popups allow-popups-to-escape-sandbox" src=(frame) title="Message" referrerpolicy="no-referrer" {}
                }
                @if !attachments.is_empty() {
                    h2 { "Attachments" }
                    ul.attachments {
                        @for (i, n, len) in &attachments {
                            li { a href=(format!("/mail/part?{q}&n={i}")) download=(n) { (n) } " (" (size(*len as u64)) ")" }
                        }
                    }
                }
            }
        }
    };
    respond(who, "", &subject, body).header("Content-Security-Policy", MESSAGE_POLICY)
}

/// The sanitized HTML part, for the message page's sandboxed frame.
pub(super) fn html_frame(ctx: &Ctx<'_>, who: &Who) -> Response {
    let (_, _, _, data) = match find(ctx, who) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let images = query(ctx, "images").as_deref() == Some("1");
    let html = MessageParser::default()
        .parse(&data[..])
        .and_then(|m| m.body_html(0).map(|h| h.into_owned()))
        .unwrap_or_default();
    let clean = sanitize(&html);
    let doc = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{clean}</body></html>"
    );
    Response::new(200)
        .body("text/html; charset=utf-8", doc.into_bytes())
        .header("Content-Security-Policy", frame_policy(images))
        .header("X-Frame-Options", "SAMEORIGIN")
}

/// HTML mail with everything active taken out: scripts, event handlers, SVG, forms,
/// frames, `<style>` and `<base>` elements, and links to anything but http(s) and
/// mailto. The frame's policy and sandbox are the second wall.
pub(super) fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .add_generic_attributes(["style"])
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(html)
        .to_string()
}

/// An attachment, always as a download.
pub(super) fn part(ctx: &Ctx<'_>, who: &Who) -> Response {
    let (_, _, _, data) = match find(ctx, who) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let n: Option<usize> = query(ctx, "n").and_then(|n| n.parse().ok());
    let Some(m) = MessageParser::default().parse(&data[..]) else {
        return pages::error(404, "No such attachment.");
    };
    let Some(p) = n.and_then(|n| m.attachments().nth(n)) else {
        return pages::error(404, "No such attachment.");
    };
    let name = p.attachment_name().unwrap_or("attachment");
    // Served as opaque bytes with `attachment`: never rendered as a page of this site.
    Response::new(200)
        .body("application/octet-stream", p.contents().to_vec())
        .header(
            "Content-Disposition",
            format!("attachment; filename*=UTF-8''{}", percent(name)),
        )
        .header(
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'; sandbox",
        )
}

/// RFC 8187 value characters.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The message as stored, as plain text.
pub(super) fn raw(ctx: &Ctx<'_>, who: &Who) -> Response {
    match find(ctx, who) {
        Ok((_, _, _, data)) => Response::new(200)
            .body("text/plain; charset=utf-8", data)
            .header(
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'; sandbox",
            ),
        Err(r) => r,
    }
}

/// The folder and UID a form names, if the message is there.
fn posted(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Result<(String, Arc<Folder>, u32), Response> {
    locate(ctx, who, form.get("f"), form.get("uid"))
}

pub(super) fn set_flags(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Response {
    let (name, folder, uid) = match posted(ctx, who, form) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(change) = flag_change(form.text("set"), uid) else {
        return pages::error(400, "Unknown change.");
    };
    if let Err(e) = folder.write(vec![change], false) {
        tracing::warn!(user = %who.user, "webmail: flags: {e}");
        return ctx.done(who, &list_link(&name), false, vec![e.to_string()]);
    }
    // Marked unread: back to the list, as a mail program does.
    let to = if form.text("set") == "unread" {
        list_link(&name)
    } else {
        message_link(&name, uid)
    };
    super::super::redirect(&to)
}

/// The flag change a form's `set` asks for message `uid`.
fn flag_change(set: &str, uid: u32) -> Option<Change> {
    let (edit, flag) = match set {
        "read" => (FlagEdit::Add, Flag::Seen),
        "unread" => (FlagEdit::Remove, Flag::Seen),
        "flag" => (FlagEdit::Add, Flag::Flagged),
        "unflag" => (FlagEdit::Remove, Flag::Flagged),
        _ => return None,
    };
    Some(Change::Flags {
        uid,
        edit,
        flags: Flags::NONE.with(flag),
        keywords: Vec::new(),
    })
}

/// The list's form: one change for every ticked message.
pub(super) fn bulk(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Response {
    let (name, _) = target(form.get("f"), None);
    let folder = match open(ctx, who, &name) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = list_link(&name);
    // Only this user's visible messages of this folder, a page's worth at most.
    let uids: Vec<u32> = form
        .all("uid")
        .filter_map(|u| u.trim().parse().ok())
        .filter(|&u| meta(&folder, u).is_some())
        .take(PAGE * 2)
        .collect();
    if uids.is_empty() {
        return ctx.done(who, &back, false, vec!["Tick the messages first.".into()]);
    }
    let set = form.text("set");
    let n = uids.len();
    let r: Result<String, String> = match set {
        "delete" => relocate(ctx, who, &folder, &name, &uids, None),
        "move" => relocate(ctx, who, &folder, &name, &uids, Some(form.text("to"))),
        _ => {
            let changes: Option<Vec<Change>> = uids.iter().map(|&u| flag_change(set, u)).collect();
            let Some(changes) = changes else {
                return pages::error(400, "Unknown change.");
            };
            folder
                .write(changes, false)
                .map(|_| format!("Changed {n}."))
                .map_err(|e| e.to_string())
        }
    };
    let ok = r.is_ok();
    ctx.done(who, &back, ok, vec![r.unwrap_or_else(|e| e)])
}

/// Copy `uid` into folder `to`, then expunge it here (IMAP MOVE's way).
fn transfer(ctx: &Ctx<'_>, who: &Who, folder: &Folder, uid: u32, to: &str) -> Result<(), String> {
    let target = open(ctx, who, to).map_err(|_| format!("There is no folder {to}."))?;
    let Some((m, keywords)) = folder.read(|ix| {
        ix.messages.get(&uid).map(|m| {
            let k: Vec<String> = m
                .keywords
                .iter()
                .filter_map(|&k| ix.keywords.get(usize::from(k)).cloned())
                .collect();
            (m.clone(), k)
        })
    }) else {
        return Err("The message is gone.".into());
    };
    let data = read_message(folder, uid, u64::MAX).ok_or("The message is gone.")?;
    target
        .append(&data, m.flags, keywords, m.internal_date)
        .map_err(|e| e.to_string())?;
    folder
        .write(vec![Change::Expunge { uid }], true)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Move `uids` of folder `name` to folder `to`, or delete them (`None`): to Trash,
/// or for good when they are in Trash.
fn relocate(
    ctx: &Ctx<'_>,
    who: &Who,
    folder: &Folder,
    name: &str,
    uids: &[u32],
    to: Option<&str>,
) -> Result<String, String> {
    let n = uids.len();
    let to = match to {
        Some(t) => t.to_string(),
        None => {
            let trash = special(ctx, who, SpecialUse::Trash)
                .map_err(|_| "There is no Trash folder.".to_string())?;
            if trash == name {
                let gone = uids.iter().map(|&uid| Change::Expunge { uid }).collect();
                return folder
                    .write(gone, true)
                    .map(|_| format!("Deleted {n} for good."))
                    .map_err(|e| e.to_string());
            }
            trash
        }
    };
    if to == name || to.is_empty() {
        return Err("Choose another folder.".into());
    }
    uids.iter()
        .try_for_each(|&uid| transfer(ctx, who, folder, uid, &to))
        .map(|()| format!("Moved {n} to {to}."))
}

pub(super) fn delete(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Response {
    let (name, folder, uid) = match posted(ctx, who, form) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let r = relocate(ctx, who, &folder, &name, &[uid], None);
    let ok = r.is_ok();
    ctx.done(who, &list_link(&name), ok, vec![r.unwrap_or_else(|e| e)])
}

pub(super) fn move_to(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Response {
    let (name, folder, uid) = match posted(ctx, who, form) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let r = relocate(ctx, who, &folder, &name, &[uid], Some(form.text("to")));
    let ok = r.is_ok();
    ctx.done(who, &list_link(&name), ok, vec![r.unwrap_or_else(|e| e)])
}
