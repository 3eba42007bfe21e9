//! Self-service: the user's own password (old and new, the password policy; lifts a
//! lock-out as the CLI does), autoresponder (the account file's switches and the
//! text file `DataDir::autoresponder_text`, which the CLI and the engine use), mail
//! forwarding, and the finger plan (§4.2.3.1). Each goes through the code the CLI and
//! the admin pages use.

use super::{respond, Ctx, Hooks, Who};
use crate::config::edit::{replace_account_checked, EditError};
use crate::config::users;
use crate::platform::durable::{self, Access};
use crate::services::web::pages::{self, csrf};
use mailroom_core::auth::AuthOutcome;
use mailroom_core::http::form::Form;
use mailroom_core::http::Response;
use mailroom_core::security::Service;
use maud::html;
use std::fs;
use std::io::Read;
use std::path::Path;

/// The longest autoresponder or plan text kept.
const MAX_TEXT: usize = 32 * 1024;

fn read_text(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(f) = fs::File::open(path) {
        let _ = f.take(MAX_TEXT as u64).read_to_string(&mut s);
    }
    s
}

pub(super) fn page(ctx: &Ctx<'_>, who: &Who, page: &str) -> Response {
    let account = match users::read_user(&ctx.dd, &who.user) {
        Ok(a) => a,
        Err(e) => return pages::error(404, &e.to_string()),
    };
    let here = format!("/mail/{page}");
    let (title, body) = match page {
        "password" => (
            "Password",
            html! {
                form method="post" action="/mail/password" {
                    (csrf(who))
                    label { "Current password" input type="password" name="old_password" autocomplete="current-password" required; }
                    label { "New password" input type="password" name="new_password" autocomplete="new-password" required; }
                    label { "New password again" input type="password" name="new_password2" autocomplete="new-password"; }
                    button type="submit" { "Change password" }
                }
            },
        ),
        "autoresponder" => {
            let ar = &account.autoresponder;
            let text = read_text(&ctx.dd.autoresponder_text(&account.name));
            (
                "Autoresponder",
                html! {
                    form method="post" action="/mail/autoresponder" {
                        (csrf(who))
                        label.check { input type="checkbox" name="enabled" checked[ar.enabled]; "Answer incoming mail automatically" }
                        label { "Text of the answer" textarea name="text" rows="10" { (text) } }
                        label.check { input type="checkbox" name="once" checked[ar.once]; "Answer each sender only once" }
                        label.check { input type="checkbox" name="keep" checked[ar.keep]; "Keep the incoming message in my mailbox" }
                        button type="submit" { "Save" }
                    }
                },
            )
        }
        "forwarding" => (
            "Forwarding",
            html! {
                form method="post" action="/mail/forwarding" {
                    (csrf(who))
                    label.check { input type="checkbox" name="use_forwarding" checked[account.use_forwarding]; "Forward my mail" }
                    label { "To (one address per line)" textarea name="forward_to" rows="4" { (account.forward_to.join("\n")) } }
                    button type="submit" { "Save" }
                }
            },
        ),
        _ => (
            "Plan",
            html! {
                p { "What a finger query for your name shows." }
                form method="post" action="/mail/plan" {
                    (csrf(who))
                    label { "Plan" textarea name="plan" rows="8" { (read_text(&ctx.dd.finger_plan(&account.name))) } }
                    button type="submit" { "Save" }
                }
            },
        ),
    };
    respond(who, &here, title, body)
}

pub(super) fn password(ctx: &Ctx<'_>, who: &Who, form: &Form, hooks: &Hooks<'_>) -> Response {
    let back = "/mail/password";
    let old = form.get("old_password").unwrap_or("");
    let new = form.get("new_password").unwrap_or("");
    if let Some(again) = form.get("new_password2") {
        if !again.is_empty() && again != new {
            return ctx.done(
                who,
                back,
                false,
                vec!["The two new passwords differ.".into()],
            );
        }
    }
    // The old password through the shared lock-out: guessing here counts as anywhere.
    // A lock (someone else guessing) does not stop the owner, already logged in and
    // knowing the password, from changing it: that lifts the lock, as the CLI does.
    let right = match (hooks.login)(&who.user, old) {
        AuthOutcome::Ok(_) => true,
        AuthOutcome::Locked => ctx.shared.authenticate(&who.user, old).is_some(),
        _ => false,
    };
    if !right {
        return ctx.done(
            who,
            back,
            false,
            vec!["The current password is wrong.".into()],
        );
    }
    match users::set_password(&ctx.dd, &who.user, new) {
        Ok(()) => {
            ctx.shared
                .security
                .password_changed(Service::Http, ctx.client.ip, &who.user, ctx.now);
            // Every other login of the account ends (a thief's included); this one
            // goes on under the same id and token.
            let mut sessions = ctx.web.sessions();
            sessions.remove_user(&who.user);
            sessions.create(
                who.id.clone(),
                who.csrf.clone(),
                &who.user,
                who.admin,
                ctx.client.ip,
                ctx.now,
            );
            drop(sessions);
            (hooks.reload)();
            tracing::info!(user = %who.user, peer = %ctx.client.ip, "webmail: password changed");
            ctx.done(who, back, true, vec!["Your password is changed.".into()])
        }
        Err(e) => ctx.done(who, back, false, vec![e.to_string()]),
    }
}

pub(super) fn save(ctx: &Ctx<'_>, who: &Who, action: &str, form: &Form) -> Response {
    let back = format!("/mail/{action}");
    let mut account = match users::read_user(&ctx.dd, &who.user) {
        Ok(a) => a,
        Err(e) => return ctx.done(who, &back, false, vec![e.to_string()]),
    };
    let text = |name: &str| -> Result<String, String> {
        let t = form.get(name).unwrap_or("").replace("\r\n", "\n");
        if t.len() > MAX_TEXT {
            return Err(format!("The text is longer than {MAX_TEXT} bytes."));
        }
        Ok(t)
    };
    let r: Result<(), String> = match action {
        "autoresponder" => text("text").and_then(|t| {
            durable::replace(
                &ctx.dd.autoresponder_text(&account.name),
                t.as_bytes(),
                Access::Normal,
            )
            .map_err(|e| e.to_string())?;
            account.autoresponder.enabled = form.checked("enabled");
            account.autoresponder.once = form.checked("once");
            account.autoresponder.keep = form.checked("keep");
            checked(replace_account_checked(&ctx.dd, &account))
        }),
        "forwarding" => {
            account.use_forwarding = form.checked("use_forwarding");
            account.forward_to = form.list("forward_to");
            checked(replace_account_checked(&ctx.dd, &account))
        }
        _ => text("plan").and_then(|t| {
            let path = ctx.dd.finger_plan(&account.name);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            durable::replace(&path, t.as_bytes(), Access::Normal).map_err(|e| e.to_string())
        }),
    };
    match r {
        Ok(()) => {
            tracing::info!(user = %who.user, what = action, "webmail: settings saved");
            ctx.done(who, &back, true, vec!["Saved.".into()])
        }
        Err(e) => ctx.done(who, &back, false, e.lines().map(str::to_string).collect()),
    }
}

fn checked(r: Result<(), EditError>) -> Result<(), String> {
    match r {
        Ok(()) => Ok(()),
        Err(EditError::Io(e)) => Err(e),
        Err(EditError::Problems(p)) => Err(p
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")),
    }
}
