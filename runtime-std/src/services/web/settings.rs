//! The lists page (§14: distribution lists and forwardings) and the settings page
//! (`mailroom.toml` as text, for everything without a form of its own: Local Mail,
//! unknown recipients, In Mail, Out Mail, connections, schedules). Both edit through
//! `config::edit`, so a change `mailroom check` would refuse is refused, with its
//! problems shown.

use super::pages::{self, csrf};
use super::{done, edit_outcome, Ctx, Outcome, Who};
use crate::config::edit::{array_of_tables, edit_config, remove_table_keeping_comment, EditError};
use mailroom_core::config::{ListKind, Snapshot};
use mailroom_core::http::form::Form;
use mailroom_core::http::Response;
use maud::html;
use std::fs;
use toml_edit::{value, Array, DocumentMut, Item, Table};

pub(super) fn lists_page(who: &Who, snap: &Snapshot) -> Response {
    pages::admin(
        who,
        "/admin/lists",
        "Lists",
        html! {
            p.hint { "A list delivers to every member: user, list and group names, and addresses. "
                "A forwarding is a list with one member, usually remote (§14.5)." }
            @if snap.config.lists.is_empty() { p { "No lists." } }
            @for l in &snap.config.lists {
                h2 { (l.name) @if l.kind == ListKind::Forwarding { " (forwarding)" } }
                form method="post" action="/admin/lists/edit" {
                    (csrf(who))
                    input type="hidden" name="name" value=(l.name);
                    label { "Members, one per line"
                        textarea name="members" rows=(l.members.len().clamp(2, 12)) { (l.members.join("\n")) } }
                    button type="submit" { "Save " (l.name) }
                }
                form.inline method="post" action="/admin/lists/delete" {
                    (csrf(who))
                    input type="hidden" name="name" value=(l.name);
                    button.danger type="submit" { "Delete " (l.name) }
                }
            }
            h2 { "Add a list" }
            form #add-list method="post" action="/admin/lists" {
                (csrf(who))
                label { "Name" input type="text" name="name" required; }
                label { "Members, one per line" textarea name="members" rows="4" {} }
                button type="submit" { "Add list" }
            }
        },
    )
}

fn members_array(list: &[String]) -> Item {
    let mut a = Array::new();
    for m in list {
        a.push(m.as_str());
    }
    value(a)
}

/// The index of `[[list]]` `name` in the document.
fn find(doc: &mut DocumentMut, name: &str) -> Result<usize, EditError> {
    array_of_tables(doc, "list")?
        .iter()
        .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
        .ok_or_else(|| EditError::Io(format!("There is no list {name:?}.")))
}

pub(super) fn post(ctx: &Ctx<'_>, action: &str, form: &Form) -> Outcome {
    let name = form.text("name").to_string();
    let to = "/admin/lists";
    match action {
        "lists" => {
            if name.is_empty() {
                return done(to, Err("A list needs a name.".into()));
            }
            let list = form.list("members");
            let r = edit_config(&ctx.dd, |doc| {
                let mut t = Table::new();
                t.insert("name", value(name.as_str()));
                t.insert("members", members_array(&list));
                array_of_tables(doc, "list")?.push(t);
                Ok(())
            });
            edit_outcome(to, r, format!("Added the list {name}."))
        }
        "lists/edit" => {
            let list = form.list("members");
            let r = edit_config(&ctx.dd, |doc| {
                let i = find(doc, &name)?;
                let lists = array_of_tables(doc, "list")?;
                let t = lists
                    .get_mut(i)
                    .ok_or_else(|| EditError::Io("No such list.".into()))?;
                // The comment after the old value stays.
                let mut new = members_array(&list);
                if let (Some(old), Some(v)) = (
                    t.get("members").and_then(Item::as_value),
                    new.as_value_mut(),
                ) {
                    *v.decor_mut() = old.decor().clone();
                }
                t.insert("members", new);
                Ok(())
            });
            edit_outcome(to, r, format!("Saved the list {name}."))
        }
        "lists/delete" => {
            let r = edit_config(&ctx.dd, |doc| {
                let i = find(doc, &name)?;
                remove_table_keeping_comment(doc, "list", i)
            });
            edit_outcome(to, r, format!("Deleted the list {name}."))
        }
        _ => done(to, Err("No such form.".into())),
    }
}

/// `mailroom.toml` as text, with the problems `mailroom check` would report.
pub(super) fn config_page(
    ctx: &Ctx<'_>,
    who: &Who,
    edited: Option<(&str, Vec<String>)>,
) -> Response {
    let (text, problems) = match &edited {
        Some((t, p)) => (t.to_string(), p.clone()),
        None => (
            fs::read_to_string(ctx.dd.config_file()).unwrap_or_default(),
            Vec::new(),
        ),
    };
    let mut r = pages::admin(
        who,
        "/admin/settings",
        "Settings",
        html! {
            p.hint { "The whole of " code { "mailroom.toml" } ": Local Mail, unknown recipients, "
                "In Mail, Out Mail, connections and schedules (docs/CONFIG.md). "
                "A change is saved only if " code { "mailroom check" } " passes; the server uses it within a second." }
            @if !problems.is_empty() {
                ul.problems { @for p in &problems { li { (p) } } }
            }
            form method="post" action="/admin/settings" {
                (csrf(who))
                textarea name="text" rows="30" spellcheck="false" aria-label="mailroom.toml" { (text) }
                button type="submit" { "Save mailroom.toml" }
            }
        },
    );
    if edited.is_some() {
        r.status = 422;
    }
    r
}

pub(super) fn save_config(ctx: &Ctx<'_>, who: &Who, form: &Form) -> Response {
    let text = form.get("text").unwrap_or("").replace("\r\n", "\n");
    let r = edit_config(&ctx.dd, |doc| {
        *doc = text
            .parse()
            .map_err(|e| EditError::Io(format!("mailroom.toml: {e}")))?;
        Ok(())
    });
    match r {
        Ok(()) => ctx.done(
            who,
            "/admin/settings",
            true,
            vec!["Saved mailroom.toml.".into()],
        ),
        Err(e) => {
            let problems = match e {
                EditError::Io(e) => vec![e],
                EditError::Problems(p) => p.iter().map(ToString::to_string).collect(),
            };
            config_page(ctx, who, Some((&text, problems)))
        }
    }
}
