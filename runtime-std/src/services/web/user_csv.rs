//! The users page's CSV export and import (§4.3.2.1, §4.3.2.2) and the welcome message
//! of new users, through the code `mailroom user import|export` uses.

use super::pages::csrf;
use super::{done, Ctx, Outcome, Who};
use crate::config::user_csv::{export_users, import_users, parse_users_csv, ExportOptions};
use crate::config::users;
use crate::services::welcome::send_welcome;
use mailroom_core::http::form::Form;
use mailroom_core::http::Response;
use maud::{html, Markup};

/// `/admin/users.csv?verbose=1&passwords=1`.
pub(super) fn export(ctx: &Ctx<'_>) -> Response {
    let q = ctx.req.query();
    let on = |k: &str| q.split('&').any(|kv| kv == format!("{k}=1"));
    match users::list_users(&ctx.dd) {
        Ok(list) => Response::new(200)
            .body(
                "text/csv; charset=utf-8",
                export_users(
                    &list,
                    ExportOptions {
                        verbose: on("verbose"),
                        passwords: on("passwords"),
                    },
                ),
            )
            .header("Content-Disposition", "attachment; filename=\"users.csv\""),
        Err(p) => super::pages::error(
            500,
            &p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
}

pub(super) fn forms(who: &Who) -> Markup {
    html! {
        h2 { "Export and import (CSV, §4.3.2.2.1)" }
        p {
            a href="/admin/users.csv" { "Export" } " · "
            a href="/admin/users.csv?verbose=1" { "Export (verbose)" } " · "
            a href="/admin/users.csv?verbose=1&passwords=1" { "Export (verbose, with password hashes)" }
        }
        form #import-users method="post" action="/admin/users/import" {
            (csrf(who))
            label { "CSV: name, admin[, password][, the verbose columns]; new users need a password"
                textarea name="csv" rows="4" spellcheck="false" {} }
            label.check { input type="checkbox" name="welcome"; " Send the welcome message to new users" }
            button type="submit" { "Import users" }
        }
    }
}

/// Deliver the welcome message, as a line for the notice.
pub(super) fn welcome(ctx: &Ctx<'_>, name: &str) -> String {
    match send_welcome(&ctx.dd, &ctx.shared.snapshot().config, name) {
        Ok(()) => format!("Sent the welcome message to {name}."),
        Err(e) => format!("No welcome message for {name}: {e}"),
    }
}

pub(super) fn import(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let rows = match parse_users_csv(form.get("csv").unwrap_or("")) {
        Ok(r) if r.is_empty() => return done("/admin/users", Err("No rows to import.".into())),
        Ok(r) => r,
        Err(e) => return done("/admin/users", Err(format!("CSV: {e}"))),
    };
    let report = import_users(&ctx.dd, &rows);
    let mut lines = report.lines();
    if form.checked("welcome") {
        for name in &report.created {
            lines.push(welcome(ctx, name));
        }
    }
    tracing::info!(created = report.created.len(), updated = report.updated.len(), peer = %ctx.client.ip, "web: users imported");
    (report.skipped.is_empty(), lines, "/admin/users".into())
}
