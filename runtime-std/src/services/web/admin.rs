//! The admin pages (`/admin/...`): what they show and the forms they take. Every
//! change goes through the code the CLI uses (`config::users`, `config::edit`,
//! `config::mappings`, the spool, the connect requests), so the CLI, `mailroom check`
//! and these pages always agree.

use super::pages::{self, csrf};
use super::{done, edit_outcome, Ctx, Outcome, Who};
use super::{mailbox, sections, settings, user_csv, user_perms};
use crate::config::edit::{
    array_of_tables, edit_config, remove_table_keeping_comment, replace_account_checked, EditError,
};
use crate::config::files::load_snapshot;
use crate::config::mappings::{export_csv, parse_mapping_csv, push_rows, MappingRow};
use crate::config::users;
use crate::platform::datadir::ACCESS_FILE_NAMES;
use crate::services::scheduler::{control, online};
use crate::store::spool;
use mailroom_core::access::AccessList;
use mailroom_core::config::{MappingMode, Snapshot};
use mailroom_core::http::form::{encode, Form};
use mailroom_core::http::Response;
use mailroom_core::security::Service;
use maud::{html, Markup};
use std::fs;
use std::io::Read;
use toml_edit::{DocumentMut, Item, Value};

/// Log lines shown at most, newest first.
const LOG_LINES: usize = 300;
/// Bytes read from the end of a log file.
const LOG_TAIL: u64 = 256 * 1024;

pub(super) fn get(ctx: &Ctx<'_>, who: &Who, page: &str) -> Response {
    let snap = match load_snapshot(&ctx.dd) {
        Ok(s) => s,
        Err(problems) => {
            return pages::admin(
                who,
                "",
                "Configuration problems",
                html! {
                    p { "The configuration does not pass " code { "mailroom check" } "; fix it first:" }
                    ul.problems { @for p in &problems { li { (p.to_string()) } } }
                },
            )
        }
    };
    match page {
        "" => status(ctx, who, &snap),
        "users" => users_page(who, &snap),
        "user" => user_page(ctx, who, &snap),
        "mappings" => mappings_page(who, &snap),
        "mappings.csv" => Response::new(200)
            .body(
                "text/csv; charset=utf-8",
                export_csv(&snap.config.mappings, true),
            )
            .header(
                "Content-Disposition",
                "attachment; filename=\"mappings.csv\"",
            ),
        "users.csv" => user_csv::export(ctx),
        "mailbox" => mailbox::page(ctx, who),
        "mailbox/raw" => mailbox::raw(ctx),
        "queue" => queue_page(ctx, who),
        "logs" => logs_page(ctx, who),
        "lists" => settings::lists_page(ctx, who, &snap),
        "settings" => settings::config_page(ctx, who, None),
        "rules" => rules_page(ctx, who, None),
        "access" => access_page(ctx, who, None),
        p if sections::is_page(p) => sections::page(ctx, who, p),
        _ => pages::error(404, "No such page."),
    }
}

pub(super) fn post(ctx: &Ctx<'_>, who: &Who, action: &str, form: &Form) -> Response {
    let (ok, lines, to) = match action {
        "connect" => connect(ctx, form),
        "users" => add_user(ctx, form),
        "users/delete" => delete_user(ctx, who, form),
        "users/password" => set_password(ctx, form),
        "users/admin" => set_admin(ctx, who, form),
        "users/unlock" => unlock(ctx, form),
        "users/settings" => user_settings(ctx, form),
        "users/import" => user_csv::import(ctx, form),
        "mailbox" => mailbox::post(ctx, form),
        "mappings" => add_mapping(ctx, form),
        "mappings/edit" => edit_mapping(ctx, form),
        "mappings/delete" => delete_mapping(ctx, form),
        "mappings/import" => import_mappings(ctx, form),
        "queue/delete" => delete_queued(ctx, form),
        "queue/flush" => flush(ctx),
        "queue/hold" => hold_queued(ctx, form),
        "lists" | "lists/edit" | "lists/mailing" | "lists/delete" => {
            settings::post(ctx, action, form)
        }
        "section" => sections::post(ctx, form),
        "settings" => return settings::save_config(ctx, who, form),
        "rules" => return save_text(ctx, who, "/admin/rules", form),
        "access" => return save_text(ctx, who, "/admin/access", form),
        _ => return pages::error(404, "No such form."),
    };
    ctx.done(who, &to, ok, lines)
}

// ---- status -------------------------------------------------------------------

/// Messages waiting in every mailbox (INBOX: `new/` and `cur/`).
fn messages_in_mailboxes(ctx: &Ctx<'_>, snap: &Snapshot) -> usize {
    let count = |dir: std::path::PathBuf| fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    snap.accounts
        .iter()
        .map(|a| {
            let m = ctx.dd.maildir(&a.name);
            count(m.join("new")) + count(m.join("cur"))
        })
        .sum()
}

fn status(ctx: &Ctx<'_>, who: &Who, snap: &Snapshot) -> Response {
    let c = &snap.config;
    let queued = spool::list(&ctx.dd).map(|l| l.len()).unwrap_or(0);
    let in_mailboxes = messages_in_mailboxes(ctx, snap);
    let progress: Vec<String> = ctx
        .req
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("run="))
        .map(|id| control::progress(&ctx.dd, id))
        .unwrap_or_default();
    pages::admin(
        who,
        "/admin/",
        "Status",
        html! {
            section.banner aria-label="Status" {
                dl {
                    dt { "Host" } dd { (c.hostname) }
                    dt { "Local domains" } dd { (c.local_domains.join(", ")) }
                    dt { "Outgoing queue" } dd #queue-size { (queued) " message" @if queued != 1 { "s" } }
                    dt { "In mailboxes" } dd #mailbox-count { (in_mailboxes) " message" @if in_mailboxes != 1 { "s" } }
                    dt { "Users" } dd { (snap.accounts.len()) }
                }
            }
            @if !progress.is_empty() {
                h2 { "Connect Now" }
                pre.progress { @for l in &progress { (l) "\n" } }
                p { a href=(format!("/admin/?{}", ctx.req.query())) { "Refresh" } }
            }
            h2 { "Connections" }
            @if c.connections.is_empty() {
                p { "No connections are configured ("
                    code { "[[connection]]" } " in mailroom.toml)." }
            } @else {
                table {
                    thead { tr { th { "Connection" } th { "Link" } th { "Primary" } th { "State" } th {} } }
                    tbody {
                        @for conn in &c.connections {
                            tr {
                                td { (conn.name) }
                                td { (format!("{:?}", conn.link).to_lowercase()) }
                                td { @if conn.primary { "yes" } @else { "no" } }
                                td { @if online::is_online(&conn.name) { span.online { "online" } } @else { span.offline { "offline" } } }
                                td {
                                    form.inline method="post" action="/admin/connect" {
                                        (csrf(who))
                                        input type="hidden" name="target" value=(conn.name);
                                        button type="submit" { "Connect Now" }
                                    }
                                }
                            }
                        }
                    }
                }
                form.inline method="post" action="/admin/connect" {
                    (csrf(who))
                    input type="hidden" name="target" value="primary";
                    button type="submit" { "Connect Now (primary connections)" }
                }
            }
        },
    )
}

fn connect(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let target = match form.text("target") {
        "" => "primary",
        t => t,
    };
    // Only what the page offers: `all`, `primary` or a configured connection.
    let known = ctx
        .shared
        .snapshot()
        .config
        .connections
        .iter()
        .any(|c| c.name == target);
    if !known && target != "all" && target != "primary" {
        return done(
            "/admin/",
            Err(format!("There is no connection {target:?}.")),
        );
    }
    match control::leave_request(&ctx.dd, target) {
        Ok(id) => {
            tracing::info!(target, peer = %ctx.client.ip, "web: connect now");
            (
                true,
                vec![format!(
                    "Asked the server to connect ({target}); progress shows below as it runs."
                )],
                // The page that follows shows this run's progress.
                format!("/admin/?run={}", encode(&id)),
            )
        }
        Err(e) => done("/admin/", Err(format!("Cannot ask for a connection: {e}"))),
    }
}

// ---- users --------------------------------------------------------------------

fn users_page(who: &Who, snap: &Snapshot) -> Response {
    let mut accounts: Vec<_> = snap.accounts.iter().collect();
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    pages::admin(
        who,
        "/admin/users",
        "Users",
        html! {
            table #users {
                thead { tr { th { "Name" } th { "Administrator" } th { "Forwarding" } th { "Comment" } th { "Change" } } }
                tbody {
                    @for a in &accounts {
                        tr data-user=(a.name) {
                            td { a href=(format!("/admin/user?name={}", encode(&a.name))) { (a.name) } }
                            td {
                                form.inline method="post" action="/admin/users/admin" {
                                    (csrf(who))
                                    input type="hidden" name="name" value=(a.name);
                                    @if a.admin {
                                        "yes "
                                        button type="submit" disabled[a.name == who.user] { "Remove admin" }
                                    } @else {
                                        input type="hidden" name="admin" value="on";
                                        "no "
                                        button type="submit" { "Make admin" }
                                    }
                                }
                            }
                            td { @if a.use_forwarding { (a.forward_to.join(", ")) } }
                            td { (a.comment) }
                            td {
                                form.inline method="post" action="/admin/users/password" {
                                    (csrf(who))
                                    input type="hidden" name="name" value=(a.name);
                                    input type="password" name="password" placeholder="new password" autocomplete="new-password" required aria-label=(format!("New password for {}", a.name));
                                    button type="submit" { "Set password" }
                                }
                                form.inline method="post" action="/admin/users/unlock" {
                                    (csrf(who))
                                    input type="hidden" name="name" value=(a.name);
                                    button type="submit" { "Unlock" }
                                }
                                @if a.name != who.user {
                                    form.inline method="post" action="/admin/users/delete" {
                                        (csrf(who))
                                        input type="hidden" name="name" value=(a.name);
                                        button.danger type="submit" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add a user" }
            form #add-user method="post" action="/admin/users" {
                (csrf(who))
                label { "Name" input type="text" name="name" required; }
                label { "Password" input type="password" name="password" autocomplete="new-password" required; }
                label.check { input type="checkbox" name="admin"; " Administrator" }
                label.check { input type="checkbox" name="welcome"; " Send the welcome message" }
                button type="submit" { "Add user" }
            }
            (user_csv::forms(who))
            p.hint { "A user's name opens their settings: forwarding, assistants, group, permissions, size rules and quota." }
        },
    )
}

fn user_page(ctx: &Ctx<'_>, who: &Who, snap: &Snapshot) -> Response {
    let name = ctx
        .req
        .query()
        .split('&')
        .find_map(|kv| form_value(kv.strip_prefix("name=")?))
        .unwrap_or_default();
    let Some(a) = snap.accounts.get(&name) else {
        return pages::error(404, "No such user.");
    };
    pages::admin(
        who,
        "/admin/users",
        &format!("User {}", a.name),
        html! {
            form #user-settings method="post" action="/admin/users/settings" {
                (csrf(who))
                input type="hidden" name="name" value=(a.name);
                label { "Comment" input type="text" name="comment" value=(a.comment); }
                h2 { "Forwarding (§4.2.3.1.6.2)" }
                label.check { input type="checkbox" name="use_forwarding" checked[a.use_forwarding]; " Forward this user's mail (no local copy is kept)" }
                label { "Forward to, one per line" textarea name="forward_to" rows="3" { (a.forward_to.join("\n")) } }
                h2 { "Assistants (§4.2.3.1.6.1)" }
                label { "Assistants, one per line (they get a copy)" textarea name="assistants" rows="3" { (a.assistants.join("\n")) } }
                label.check { input type="checkbox" name="assistant_redirect" checked[a.assistant_redirect]; " Redirect to the assistants (no local copy)" }
                (user_perms::fields(a, snap))
                button type="submit" { "Save" }
            }
            p { a href=(format!("/admin/mailbox?name={}", encode(&a.name))) { "Messages in " (a.name) "'s INBOX" } }
            p { a href="/admin/users" { "Back to the users" } }
        },
    )
}

fn user_settings(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let name = form.text("name").to_ascii_lowercase();
    let back = format!("/admin/user?name={}", encode(&name));
    let mut a = match users::read_user(&ctx.dd, &name) {
        Ok(a) => a,
        Err(e) => return done("/admin/users", Err(e.to_string())),
    };
    a.comment = form.text("comment").to_string();
    a.use_forwarding = form.checked("use_forwarding");
    a.forward_to = form.list("forward_to");
    a.assistants = form.list("assistants");
    a.assistant_redirect = form.checked("assistant_redirect");
    if let Err(e) = user_perms::apply(&mut a, form) {
        return done(&back, Err(e));
    }
    edit_outcome(
        &back,
        replace_account_checked(&ctx.dd, &a),
        format!("Saved the settings of {name}."),
    )
}

fn add_user(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let (name, password) = (form.text("name"), form.get("password").unwrap_or(""));
    done(
        "/admin/users",
        users::add_user(&ctx.dd, name, password, form.checked("admin"))
            .map(|a| {
                tracing::info!(user = %a.name, admin = a.admin, peer = %ctx.client.ip, "web: user added");
                let mut m = format!(
                    "Created {}user {}.",
                    if a.admin { "administrator " } else { "" },
                    a.name
                );
                if form.checked("welcome") {
                    m.push(' ');
                    m.push_str(&user_csv::welcome(ctx, &a.name));
                }
                m
            })
            .map_err(|e| e.to_string()),
    )
}

fn delete_user(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Outcome {
    let name = form.text("name").to_ascii_lowercase();
    if name == who.user {
        return done(
            "/admin/users",
            Err("You cannot delete your own account here.".into()),
        );
    }
    let r = users::delete_user(&ctx.dd, &name)
        .map(|mailbox| {
            ctx.web.sessions().remove_user(&name);
            tracing::info!(user = %name, peer = %ctx.client.ip, "web: user deleted");
            match mailbox {
                Some(m) => format!("Deleted user {name}. The mailbox {} was kept.", m.display()),
                None => format!("Deleted user {name}."),
            }
        })
        .map_err(|e| e.to_string());
    done("/admin/users", r)
}

fn set_password(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let name = form.text("name").to_ascii_lowercase();
    let r = users::set_password(&ctx.dd, &name, form.get("password").unwrap_or(""))
        .map(|()| {
            ctx.shared
                .security
                .password_changed(Service::Http, ctx.client.ip, &name, ctx.now);
            format!("Changed the password of {name}.")
        })
        .map_err(|e| e.to_string());
    done("/admin/users", r)
}

fn set_admin(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Outcome {
    let name = form.text("name").to_ascii_lowercase();
    let admin = form.checked("admin");
    if name == who.user && !admin {
        return done(
            "/admin/users",
            Err("You cannot take away your own administrator flag.".into()),
        );
    }
    let r = users::read_user(&ctx.dd, &name)
        .and_then(|mut a| {
            a.admin = admin;
            users::replace_account(&ctx.dd, &a)
        })
        .map(|()| {
            // Its sessions carry the old flag.
            ctx.web.sessions().remove_user(&name);
            if admin {
                format!("{name} is now an administrator.")
            } else {
                format!("{name} is no longer an administrator.")
            }
        })
        .map_err(|e| e.to_string());
    done("/admin/users", r)
}

fn unlock(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let name = form.text("name").to_ascii_lowercase();
    let had = ctx
        .shared
        .security
        .unlock(Service::Http, ctx.client.ip, &name, ctx.now);
    done(
        "/admin/users",
        Ok(if had {
            format!("Unlocked {name}.")
        } else {
            format!("{name} was not locked.")
        }),
    )
}

// ---- mappings -----------------------------------------------------------------

const MODES: [MappingMode; 4] = [
    MappingMode::Always,
    MappingMode::Pop3,
    MappingMode::Smtp,
    MappingMode::Sender,
];

fn mode_select(current: MappingMode) -> Markup {
    html! {
        select name="mode" aria-label="Mode" {
            @for m in MODES {
                option value=(m.as_str()) selected[m == current] { (m.as_str()) }
            }
        }
    }
}

fn mappings_page(who: &Who, snap: &Snapshot) -> Response {
    pages::admin(
        who,
        "/admin/mappings",
        "Mappings",
        html! {
            p.hint { "Checked in order; the first match wins. Targets: a user, a list, an address or "
                code { "*REMOTE" } "." }
            table #mappings {
                thead { tr { th { "#" } th { "Address" } th { "Target" } th { "Mode" } th { "In Mail" } th {} } }
                tbody {
                    @for (i, m) in snap.config.mappings.iter().enumerate() {
                        tr {
                            td { (i + 1) }
                            td colspan="4" {
                                form.inline method="post" action="/admin/mappings/edit" {
                                    (csrf(who))
                                    input type="hidden" name="index" value=(i);
                                    input type="hidden" name="was" value=(m.address);
                                    input type="text" name="address" value=(m.address) aria-label="Address";
                                    input type="text" name="target" value=(m.target) aria-label="Target";
                                    (mode_select(m.mode))
                                    input type="text" name="inmail" value=(m.inmail.as_deref().unwrap_or("")) aria-label="In Mail";
                                    button type="submit" { "Save" }
                                }
                            }
                            td {
                                form.inline method="post" action="/admin/mappings/delete" {
                                    (csrf(who))
                                    input type="hidden" name="index" value=(i);
                                    input type="hidden" name="was" value=(m.address);
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add a mapping" }
            form #add-mapping method="post" action="/admin/mappings" {
                (csrf(who))
                label { "Address" input type="text" name="address" placeholder="sales@example.com" required; }
                label { "Target" input type="text" name="target" placeholder="alice" required; }
                label { "Mode" (mode_select(MappingMode::Always)) }
                label { "In Mail" input type="text" name="inmail" placeholder="(any)"; }
                button type="submit" { "Add mapping" }
            }
            h2 { "Import and export" }
            p { a href="/admin/mappings.csv" download { "Export as CSV" } }
            form method="post" action="/admin/mappings/import" {
                (csrf(who))
                label { "CSV (\"address\",\"target\"[,mode,In Mail] per line)"
                    textarea name="csv" rows="6" {} }
                label.check { input type="checkbox" name="replace"; " Delete the existing mappings first" }
                button type="submit" { "Import" }
            }
        },
    )
}

fn row_from(form: &Form) -> Result<MappingRow, String> {
    let mode = match form.text("mode") {
        "" | "always" => MappingMode::Always,
        "pop3" => MappingMode::Pop3,
        "smtp" => MappingMode::Smtp,
        "sender" => MappingMode::Sender,
        other => return Err(format!("Unknown mode {other:?}.")),
    };
    let (address, target) = (form.text("address"), form.text("target"));
    if address.is_empty() || target.is_empty() {
        return Err("A mapping needs an address and a target.".into());
    }
    Ok(MappingRow {
        address: address.to_string(),
        target: target.to_string(),
        mode,
        inmail: Some(form.text("inmail").to_string()).filter(|s| !s.is_empty()),
    })
}

fn add_mapping(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let row = match row_from(form) {
        Ok(r) => r,
        Err(e) => return done("/admin/mappings", Err(e)),
    };
    let ok = format!("Added the mapping {} -> {}.", row.address, row.target);
    edit_outcome(
        "/admin/mappings",
        edit_config(&ctx.dd, |doc| push_rows(doc, std::slice::from_ref(&row))),
        ok,
    )
}

/// The `index`th `[[mapping]]`, if it still has the address the page showed (`was`):
/// a page older than another change must not edit the wrong row.
fn mapping_at<'d>(
    doc: &'d mut DocumentMut,
    form: &Form,
) -> Result<(usize, &'d mut toml_edit::ArrayOfTables), EditError> {
    let index: usize = form
        .text("index")
        .parse()
        .map_err(|_| EditError::Io("No such mapping.".into()))?;
    let list = array_of_tables(doc, "mapping")?;
    let same = list
        .get(index)
        .and_then(|t| t.get("address"))
        .and_then(Item::as_str)
        .is_some_and(|a| a == form.text("was"));
    if !same {
        return Err(EditError::Io(
            "The mappings changed since the page was shown; look again.".into(),
        ));
    }
    Ok((index, list))
}

/// Set `key` to `v`, keeping the comment after the old value.
fn set_keeping_comment(t: &mut toml_edit::Table, key: &str, v: &str) {
    let mut new = Value::from(v);
    if let Some(old) = t.get(key).and_then(Item::as_value) {
        *new.decor_mut() = old.decor().clone();
    }
    t.insert(key, Item::Value(new));
}

fn edit_mapping(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let row = match row_from(form) {
        Ok(r) => r,
        Err(e) => return done("/admin/mappings", Err(e)),
    };
    let ok = format!("Saved the mapping {} -> {}.", row.address, row.target);
    let r = edit_config(&ctx.dd, |doc| {
        let (i, list) = mapping_at(doc, form)?;
        let t = list
            .get_mut(i)
            .ok_or_else(|| EditError::Io("No such mapping.".into()))?;
        set_keeping_comment(t, "address", &row.address);
        set_keeping_comment(t, "target", &row.target);
        if row.mode == MappingMode::Always && t.get("mode").is_none() {
            // Left at its default, as written.
        } else {
            set_keeping_comment(t, "mode", row.mode.as_str());
        }
        match &row.inmail {
            Some(i) => set_keeping_comment(t, "inmail", i),
            None => {
                t.remove("inmail");
            }
        }
        Ok(())
    });
    edit_outcome("/admin/mappings", r, ok)
}

fn delete_mapping(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let was = form.text("was").to_string();
    let r = edit_config(&ctx.dd, |doc| {
        let (i, _) = mapping_at(doc, form)?;
        remove_table_keeping_comment(doc, "mapping", i)
    });
    edit_outcome(
        "/admin/mappings",
        r,
        format!("Deleted the mapping for {was}."),
    )
}

fn import_mappings(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let rows = match parse_mapping_csv(form.get("csv").unwrap_or("")) {
        Ok(r) if r.is_empty() => return done("/admin/mappings", Err("No rows to import.".into())),
        Ok(r) => r,
        Err(e) => return done("/admin/mappings", Err(format!("CSV: {e}"))),
    };
    let replace = form.checked("replace");
    let n = rows.len();
    let r = edit_config(&ctx.dd, |doc| {
        if replace {
            doc.remove("mapping");
        }
        push_rows(doc, &rows)
    });
    edit_outcome(
        "/admin/mappings",
        r,
        format!("Imported {n} mapping{}.", if n == 1 { "" } else { "s" }),
    )
}

// ---- queue --------------------------------------------------------------------

fn queue_page(ctx: &Ctx<'_>, who: &Who) -> Response {
    let list = spool::list(&ctx.dd);
    pages::admin(
        who,
        "/admin/queue",
        "Outgoing queue",
        html! {
            @match &list {
                Err(e) => { p.notice.bad { "Cannot read the queue: " (e.to_string()) } }
                Ok(l) if l.is_empty() => { p #queue-empty { "The queue is empty." } }
                Ok(l) => {
                    table #queue {
                        thead { tr { th { "Id" } th { "Arrived" } th { "Size" } th { "From" } th { "To" } th { "State" } th {} } }
                        tbody {
                            @for e in l {
                                tr {
                                    td { code { (e.id) } }
                                    td { (crate::platform::datetime::iso8601(e.arrival)) }
                                    td { (e.size) }
                                    td { "<" (e.from.as_deref().unwrap_or("")) ">" }
                                    td { (e.recipients.join(", ")) }
                                    td { @for l in crate::services::outbound::state::describe(&ctx.dd, &e.id) { (l) br; } }
                                    td {
                                        @let held = crate::services::queue_hold::is_held(&ctx.dd, &e.id);
                                        @if held { strong.held { "held" } " " }
                                        form.inline method="post" action="/admin/queue/hold" {
                                            (csrf(who))
                                            input type="hidden" name="id" value=(e.id);
                                            @if !held { input type="hidden" name="hold" value="on"; }
                                            button type="submit" { @if held { "Release" } @else { "Hold" } }
                                        }
                                        form.inline method="post" action="/admin/queue/delete" {
                                            (csrf(who))
                                            input type="hidden" name="id" value=(e.id);
                                            button.danger type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action="/admin/queue/flush" {
                (csrf(who))
                button type="submit" { "Send queued mail now" }
            }
        },
    )
}

fn delete_queued(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let id = form.text("id");
    let r = match spool::delete(&ctx.dd, id) {
        Ok(true) => Ok(format!("Deleted queued message {id}.")),
        Ok(false) => Err(format!("No queued message {id}.")),
        Err(e) => Err(format!("Cannot delete {id}: {e}")),
    };
    done("/admin/queue", r)
}

fn hold_queued(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let (id, held) = (form.text("id"), form.checked("hold"));
    let r = match crate::services::queue_hold::set_held(&ctx.dd, id, held) {
        Ok(true) if held => Ok(format!(
            "Held queued message {id}; it is not sent until released."
        )),
        Ok(true) => Ok(format!("Released queued message {id}.")),
        Ok(false) => Err(format!(
            "No queued message {id} to {}.",
            if held { "hold" } else { "release" }
        )),
        Err(e) => Err(format!("Cannot change {id}: {e}")),
    };
    done("/admin/queue", r)
}

fn flush(ctx: &Ctx<'_>) -> Outcome {
    done(
        "/admin/queue",
        crate::services::outbound::flush_from_cli(&ctx.dd),
    )
}

// ---- logs ---------------------------------------------------------------------

/// The log files under `DIR/log/`, by name.
fn log_files(ctx: &Ctx<'_>) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(ctx.dd.log_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The last lines of a log file, newest first.
fn tail(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    use std::io::{Seek, SeekFrom};
    let mut f = fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(LOG_TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.take(LOG_TAIL).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    Ok(lines
        .iter()
        .rev()
        .take(LOG_LINES)
        .map(|l| l.to_string())
        .collect())
}

fn logs_page(ctx: &Ctx<'_>, who: &Who) -> Response {
    let files = log_files(ctx);
    let wanted = ctx.req.query().split('&').find_map(|kv| {
        let v = kv.strip_prefix("file=")?;
        form_value(v)
    });
    // Only a name from the listing: never a path the client made up.
    let chosen = wanted
        .filter(|w| files.contains(w))
        .or_else(|| files.iter().find(|f| *f == "mailroom.log").cloned())
        .or_else(|| files.first().cloned());
    let lines = chosen.as_ref().map(|f| tail(&ctx.dd.log_dir().join(f)));
    pages::admin(
        who,
        "/admin/logs",
        "Logs",
        html! {
            @if files.is_empty() { p { "No log files yet." } }
            nav.files {
                @for f in &files {
                    @if Some(f) == chosen.as_ref() { strong { (f) } }
                    @else { a href=(format!("/admin/logs?file={}", encode(f))) { (f) } }
                    " "
                }
            }
            @match lines {
                Some(Ok(l)) => {
                    p.hint { "Newest first; the last " (l.len()) " lines." }
                    pre.log { @for line in &l { (line) "\n" } }
                }
                Some(Err(e)) => { p.notice.bad { "Cannot read the log: " (e.to_string()) } }
                None => {}
            }
        },
    )
}

/// One percent-decoded query value.
fn form_value(v: &str) -> Option<String> {
    Form::parse(format!("v={v}").as_bytes())
        .get("v")
        .map(str::to_string)
}

// ---- rules and access files ---------------------------------------------------

/// The files edited as text, by page: the rules (§8) and the access files (§11.9).
const RULE_FILES: [&str; 2] = ["SMTPRULES.TXT", "DLRULES.DAT"];

fn text_path(ctx: &Ctx<'_>, name: &str) -> Option<std::path::PathBuf> {
    match name {
        "SMTPRULES.TXT" => Some(ctx.dd.smtp_rules_file()),
        "DLRULES.DAT" => Some(ctx.dd.download_rules_file()),
        n if ACCESS_FILE_NAMES.contains(&n) => Some(ctx.dd.access_file(n)),
        _ => None,
    }
}

/// What `mailroom check` says about file `name` holding `text`, as `file:line: message`.
fn check_text(name: &str, text: &str) -> Vec<String> {
    let lines = |errors: Vec<(usize, String)>| -> Vec<String> {
        errors
            .into_iter()
            .map(|(line, message)| format!("{name}:{line}: {message}"))
            .collect()
    };
    match name {
        "SMTPRULES.TXT" => match mailroom_core::smtprules::SmtpRules::parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => lines(e.into_iter().map(|e| (e.line, e.message)).collect()),
        },
        "DLRULES.DAT" => match mailroom_core::collect::dlrules::DlRules::parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => lines(e.into_iter().map(|e| (e.line, e.message)).collect()),
        },
        _ => match AccessList::parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => lines(e.into_iter().map(|e| (e.line, e.message)).collect()),
        },
    }
}

fn rules_page(ctx: &Ctx<'_>, who: &Who, edited: Option<(&str, &str, Vec<String>)>) -> Response {
    text_files_page(ctx, who, "/admin/rules", "Rules", &RULE_FILES, edited)
}

fn access_page(ctx: &Ctx<'_>, who: &Who, edited: Option<(&str, &str, Vec<String>)>) -> Response {
    text_files_page(
        ctx,
        who,
        "/admin/access",
        "Access restrictions",
        &ACCESS_FILE_NAMES,
        edited,
    )
}

fn text_files_page(
    ctx: &Ctx<'_>,
    who: &Who,
    page: &str,
    title: &str,
    names: &[&str],
    edited: Option<(&str, &str, Vec<String>)>,
) -> Response {
    let files: Vec<(&str, String, Vec<String>)> = names
        .iter()
        .map(|name| match &edited {
            Some((n, text, problems)) if n == name => (*name, text.to_string(), problems.clone()),
            _ => {
                let text = text_path(ctx, name)
                    .and_then(|p| fs::read_to_string(p).ok())
                    .unwrap_or_default();
                let problems = check_text(name, &text);
                (*name, text, problems)
            }
        })
        .collect();
    let mut r = pages::admin(
        who,
        page,
        title,
        html! {
            @if page == "/admin/access" {
                p.hint { "One rule per line: an address or range, optionally user names; "
                    "an empty file lets everyone in (§11.9.1)." }
            }
            @for (name, text, problems) in &files {
                h2 { (name) }
                @if !problems.is_empty() {
                    ul.problems { @for p in problems { li { (p) } } }
                }
                form method="post" action=(page) {
                    (csrf(who))
                    input type="hidden" name="file" value=(name);
                    textarea name="text" rows="8" spellcheck="false" aria-label=(name) { (text) }
                    button type="submit" { "Save " (name) }
                }
            }
        },
    );
    if edited.is_some() {
        r.status = 422;
    }
    r
}

fn save_text(ctx: &Ctx<'_>, who: &Who, page: &str, form: &Form) -> Response {
    let name = form.text("file");
    let allowed: &[&str] = if page == "/admin/access" {
        &ACCESS_FILE_NAMES
    } else {
        &RULE_FILES
    };
    let Some(path) = text_path(ctx, name).filter(|_| allowed.contains(&name)) else {
        return pages::error(404, "No such file.");
    };
    // Browsers send CR LF in text areas; the files are kept as the CLI writes them.
    let text = form.get("text").unwrap_or("").replace("\r\n", "\n");
    let mut problems = check_text(name, &text);
    if problems.is_empty() && name == "MAILHTTPALLOWED.DAT" {
        let shut_out = AccessList::parse(&text)
            .map(|(list, _)| !list.check(ctx.client.ip, Some(&who.user)).allowed)
            .unwrap_or(false);
        if shut_out {
            problems.push(format!(
                "{name}: these lines would refuse you ({} from {}); not saved",
                who.user, ctx.client.ip
            ));
        }
    }
    if !problems.is_empty() {
        // Shown beside the text as sent, so nothing typed is lost.
        let edited = Some((name, text.as_str(), problems));
        return if page == "/admin/access" {
            access_page(ctx, who, edited)
        } else {
            rules_page(ctx, who, edited)
        };
    }
    let r = (|| {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        crate::config::edit::write_atomically(&path, text.as_bytes())
    })()
    .map(|()| format!("Saved {name}; the server uses it within a second."))
    .map_err(|e| format!("Cannot save {name}: {e}"));
    let (ok, lines, to) = done(page, r);
    ctx.done(who, &to, ok, lines)
}
