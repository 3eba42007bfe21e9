//! `/admin/mailbox?name=USER`: a user's INBOX for the administrator (USR-6, §4.2.3
//! "Messages"): the list with held ones marked, each message raw, and hold, release,
//! delete, move, copy and purge, through `services::mailbox_admin` like `mailroom
//! mailbox ...`.

use super::pages::{self, csrf};
use super::{done, Ctx, Outcome, Who};
use crate::services::mailbox_admin::{self as admin, Transfer};
use mailroom_core::http::form::{encode, Form};
use mailroom_core::http::Response;
use maud::html;

fn query(ctx: &Ctx<'_>, key: &str) -> Option<String> {
    ctx.req.query().split('&').find_map(|kv| {
        let v = kv.strip_prefix(key)?.strip_prefix('=')?;
        Form::parse(format!("v={v}").as_bytes())
            .get("v")
            .map(str::to_string)
    })
}

pub(super) fn page(ctx: &Ctx<'_>, who: &Who) -> Response {
    let user = query(ctx, "name").unwrap_or_default();
    let snap = ctx.shared.snapshot();
    let list = match admin::list(&ctx.shared.store, &snap, &user) {
        Ok(l) => l,
        Err(e) => return pages::error(404, &e),
    };
    let mut others: Vec<&str> = snap
        .accounts
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| *n != user)
        .collect();
    others.sort();
    pages::admin(
        who,
        "/admin/users",
        &format!("Messages of {user}"),
        html! {
            p.hint { "The INBOX as stored. A held message stays here but mail programs do not see it. "
                "The raw view is for diagnosis, not for reading mail." }
            @if list.is_empty() { p #mailbox-empty { "The INBOX is empty." } }
            @else {
                form #mailbox method="post" action="/admin/mailbox" {
                    (csrf(who))
                    input type="hidden" name="name" value=(user);
                    table {
                        thead { tr { th {} th { "From" } th { "Subject" } th { "Sent" } th { "Size" } th { "State" } } }
                        tbody {
                            @for e in &list {
                                tr data-uid=(e.uid) {
                                    td { input type="checkbox" name="uid" value=(e.uid) aria-label=(format!("Message {}", e.uid)); }
                                    td { (e.from) }
                                    td { a href=(format!("/admin/mailbox/raw?name={}&uid={}", encode(&user), e.uid)) {
                                        @if e.subject.is_empty() { "(no subject)" } @else { (e.subject) } } }
                                    td { (e.date) }
                                    td { (e.size) }
                                    td { @if e.held { span.offline { "held" } } @else { span.online { "visible" } } }
                                }
                            }
                        }
                    }
                    p {
                        button type="submit" name="op" value="hold" { "Hold" } " "
                        button type="submit" name="op" value="release" { "Release" } " "
                        button.danger type="submit" name="op" value="delete" { "Delete" }
                    }
                    p {
                        label { "To user"
                            select name="to" { @for n in &others { option value=(n) { (n) } } } }
                        label.check { input type="checkbox" name="direct"; " Use direct copy (no assistants or forwarding)" }
                        button type="submit" name="op" value="move" { "Move" } " "
                        button type="submit" name="op" value="copy" { "Copy" }
                    }
                }
            }
            form.inline method="post" action="/admin/mailbox" {
                (csrf(who))
                input type="hidden" name="name" value=(user);
                input type="hidden" name="op" value="purge";
                button.danger type="submit" { "Purge mailbox (every message, now)" }
            }
            p { a href=(format!("/admin/user?name={}", encode(&user))) { "Back to " (user) } }
        },
    )
}

/// One message raw, as text (never rendered: `nosniff` and the CSP apply).
pub(super) fn raw(ctx: &Ctx<'_>) -> Response {
    let user = query(ctx, "name").unwrap_or_default();
    let Some(uid) = query(ctx, "uid").and_then(|u| u.parse().ok()) else {
        return pages::error(404, "No such message.");
    };
    match admin::raw(&ctx.shared.store, &ctx.shared.snapshot(), &user, uid) {
        Ok(data) => Response::new(200).body("text/plain; charset=utf-8", data),
        Err(e) => pages::error(404, &e),
    }
}

pub(super) fn post(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let user = form.text("name").to_ascii_lowercase();
    let back = format!("/admin/mailbox?name={}", encode(&user));
    let uids: Result<Vec<u32>, _> = form.all("uid").map(|u| u.trim().parse()).collect();
    let Ok(uids) = uids else {
        return done(&back, Err("No such message.".into()));
    };
    let op = form.text("op");
    if uids.is_empty() && op != "purge" {
        return done(&back, Err("Tick the messages first.".into()));
    }
    let (store, snap) = (&ctx.shared.store, ctx.shared.snapshot());
    let n = |n: usize| format!("{n} message{}", if n == 1 { "" } else { "s" });
    let to = form.text("to");
    let how = |keep| Transfer {
        keep,
        direct: form.checked("direct"),
    };
    let r = match op {
        "hold" => admin::hold(store, &snap, &user, &uids, true).map(|k| format!("Held {}.", n(k))),
        "release" => {
            admin::hold(store, &snap, &user, &uids, false).map(|k| format!("Released {}.", n(k)))
        }
        "delete" => admin::delete(store, &snap, &user, &uids).map(|k| format!("Deleted {}.", n(k))),
        "purge" => admin::purge(store, &snap, &user)
            .map(|k| format!("Purged the INBOX: {} deleted.", n(k))),
        "move" => admin::transfer(&ctx.dd, store, &snap, &user, &uids, to, how(false))
            .map(|k| format!("Moved {} to {to}.", n(k))),
        "copy" => admin::transfer(&ctx.dd, store, &snap, &user, &uids, to, how(true))
            .map(|k| format!("Copied {} to {to}.", n(k))),
        _ => Err("No such action.".into()),
    };
    if r.is_ok() {
        tracing::info!(user, op, peer = %ctx.client.ip, "web: mailbox changed");
    }
    done(&back, r)
}
