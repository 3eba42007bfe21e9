//! Webmail (issue 14; docs/WEB.md "Webmail"): a user's folders and messages in the
//! browser, on the same login, sessions, CSRF and Origin checks as the web admin.
//!
//! Every message is reached as (folder name, UID) inside the logged-in user's own
//! Maildir, found from the session's user name alone: no id in a URL can name another
//! account's file. Reading and changing go through the store IMAP and POP3 use (the
//! same index, flags and journal), so the three always agree. Sending goes through
//! the router with the same checks as an authenticated SMTP submission.

mod account;
mod multipart;
mod read;
mod send;

use super::pages;
use super::{Ctx, Hooks, Who};
use crate::store::{Folder, FoldersError};
use mailroom_core::http::form::{encode, Form};
use mailroom_core::http::{Request, Response};
use mailroom_core::mailbox::SpecialUse;
use maud::Markup;
use std::path::PathBuf;
use std::sync::Arc;

pub(super) use multipart::Upload;

/// The largest compose form with its attachments, known from the head (the user's
/// own outgoing size limit is checked on the built message).
const COMPOSE_BODY: usize = 16 << 20;
/// Other webmail forms: a plan or an autoresponder text.
const FORM_BODY: usize = 64 * 1024;

pub(super) fn body_limit(path: &str) -> usize {
    if path == "/mail/compose" {
        COMPOSE_BODY
    } else {
        FORM_BODY
    }
}

/// A POST body's fields and uploaded files: `multipart/form-data` (compose with
/// attachments) or URL-encoded (every other form).
pub(super) fn posted(req: &Request) -> (Form, Vec<Upload>) {
    match req.header("content-type").and_then(multipart::boundary_of) {
        Some(boundary) => multipart::parse(&req.body, &boundary),
        None => (Form::parse(&req.body), Vec::new()),
    }
}

pub(super) fn get(ctx: &Ctx<'_>, who: &Who, page: &str) -> Response {
    match page {
        "" => read::list(ctx, who),
        "message" => read::message(ctx, who),
        "html" => read::html_frame(ctx, who),
        "part" => read::part(ctx, who),
        "raw" => read::raw(ctx, who),
        "compose" => send::compose_page(ctx, who),
        "password" | "autoresponder" | "forwarding" | "plan" => account::page(ctx, who, page),
        _ => pages::error(404, "No such page."),
    }
}

pub(super) fn post(
    ctx: &Ctx<'_>,
    who: &Who,
    action: &str,
    form: &Form,
    files: Vec<Upload>,
    hooks: &Hooks<'_>,
) -> Response {
    match action {
        "flags" => read::set_flags(ctx, who, form),
        "bulk" => read::bulk(ctx, who, form),
        "delete" => read::delete(ctx, who, form),
        "move" => read::move_to(ctx, who, form),
        "compose" => send::send(ctx, who, form, files),
        "password" => account::password(ctx, who, form, hooks),
        "autoresponder" | "forwarding" | "plan" => {
            let r = account::save(ctx, who, action, form);
            (hooks.reload)();
            r
        }
        _ => pages::error(404, "No such form."),
    }
}

/// A MIME part's `type/subtype`, `application/octet-stream` when it names none.
fn mime_type(part: &mail_parser::MessagePart<'_>) -> String {
    use mail_parser::MimeHeaders;
    part.content_type()
        .map(|c| match c.subtype() {
            Some(s) => format!("{}/{s}", c.ctype()),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// The logged-in user's Maildir.
fn account_dir(ctx: &Ctx<'_>, who: &Who) -> Result<PathBuf, Response> {
    ctx.shared.store.account_dir(&who.user).map_err(|e| {
        tracing::warn!(user = %who.user, "webmail: no mailbox: {e}");
        pages::error(404, "You have no mailbox here.")
    })
}

/// Folder `name` of the logged-in user, caught up with new mail and other sessions.
fn open(ctx: &Ctx<'_>, who: &Who, name: &str) -> Result<Arc<Folder>, Response> {
    let account = account_dir(ctx, who)?;
    let folder = ctx
        .shared
        .store
        .folders()
        .open(&account, name)
        .map_err(|e| match e {
            FoldersError::Io(e) => {
                tracing::error!(user = %who.user, folder = name, "webmail: {e}");
                pages::error(500, "The folder cannot be read now.")
            }
            _ => pages::error(404, "No such folder."),
        })?;
    if let Err(e) = folder.sync() {
        tracing::warn!(user = %who.user, folder = name, "webmail: sync: {e}");
    }
    Ok(folder)
}

/// The user's folder with `use_` (Sent, Trash), made with the defaults if missing.
fn special(ctx: &Ctx<'_>, who: &Who, use_: SpecialUse) -> Result<String, Response> {
    let account = account_dir(ctx, who)?;
    let folders = ctx.shared.store.folders();
    let find = || {
        folders.list(&account).ok().and_then(|l| {
            l.into_iter()
                .find(|f| f.special_use == Some(use_))
                .map(|f| f.name)
        })
    };
    if let Some(name) = find() {
        return Ok(name);
    }
    if let Err(e) = folders.create_defaults(&account) {
        tracing::warn!(user = %who.user, "webmail: default folders: {e}");
    }
    find().ok_or_else(|| pages::error(500, "The folder cannot be made now."))
}

/// The query's value of `key`, decoded.
fn query(ctx: &Ctx<'_>, key: &str) -> Option<String> {
    Form::parse(ctx.req.query().as_bytes())
        .get(key)
        .map(str::to_string)
}

/// `(folder, uid)` from a query or form; INBOX when no folder is named.
fn target(folder: Option<&str>, uid: Option<&str>) -> (String, Option<u32>) {
    let folder = folder
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("INBOX")
        .to_string();
    (folder, uid.and_then(|u| u.trim().parse().ok()))
}

/// The link to message `uid` of `folder`.
fn message_link(folder: &str, uid: u32) -> String {
    format!("/mail/message?f={}&uid={uid}", encode(folder))
}

fn list_link(folder: &str) -> String {
    format!("/mail/?f={}", encode(folder))
}

const NAV: [(&str, &str); 6] = [
    ("/mail/", "Inbox"),
    ("/mail/compose", "Compose"),
    ("/mail/password", "Password"),
    ("/mail/autoresponder", "Autoresponder"),
    ("/mail/forwarding", "Forwarding"),
    ("/mail/plan", "Plan"),
];

/// A webmail page: the webmail's navigation (and the admin pages' for
/// administrators), the notice left by the last form, then `body`.
fn respond(who: &Who, current: &str, title: &str, body: Markup) -> Response {
    let mut nav = NAV.to_vec();
    if who.admin {
        nav.push(("/admin/", "Admin"));
    }
    pages::respond(200, pages::framed(who, &nav, current, title, body))
}
