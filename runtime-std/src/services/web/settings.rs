//! The lists page (§14: distribution lists, forwardings and mailing lists with their
//! §14.6 settings) and the settings page
//! (`mailroom.toml` as text, for everything without a form of its own: Local Mail,
//! unknown recipients, In Mail, Out Mail, connections, schedules). Both edit through
//! `config::edit`, so a change `mailroom check` would refuse is refused, with its
//! problems shown.

use super::pages::{self, csrf};
use super::{done, edit_outcome, Ctx, Outcome, Who};
use crate::config::edit::{array_of_tables, edit_config, remove_table_keeping_comment, EditError};
use mailroom_core::config::{List, ListKind, PostPolicy, Snapshot, SubscribePolicy};
use mailroom_core::http::form::Form;
use mailroom_core::http::Response;
use maud::html;
use std::fs;
use toml_edit::{value, Array, DocumentMut, Item, Table};

pub(super) fn lists_page(ctx: &Ctx<'_>, who: &Who, snap: &Snapshot) -> Response {
    pages::admin(
        who,
        "/admin/lists",
        "Lists",
        html! {
            p.hint { "A list delivers to every member: user, list and group names, and addresses. "
                "A forwarding is a list with one member, usually remote (§14.5). "
                "A mailing list (§14.6) is run by the list server: who may post, moderation, "
                "and subscriptions by mail to the ListServer; docs/LISTS.md has every setting "
                "(the settings page edits those without a field here)." }
            @if snap.config.lists.is_empty() { p { "No lists." } }
            @for l in &snap.config.lists {
                h2 { (l.name)
                    @match l.kind {
                        ListKind::Forwarding => { " (forwarding)" }
                        ListKind::Mailing => { " (mailing list)" }
                        ListKind::Distribution => {}
                    }
                }
                @if l.kind == ListKind::Mailing {
                    p { "Members now (ListServer changes included): "
                        (crate::services::lists::member_lines(&ctx.dd, &snap.config, l)
                            .unwrap_or_else(|e| format!("cannot read the members: {e}"))) }
                    p.hint { "The members below apply until the ListServer changes the list; "
                        "from then on its stored members do." }
                }
                form method="post" action="/admin/lists/edit" {
                    (csrf(who))
                    input type="hidden" name="name" value=(l.name);
                    label { "Members, one per line"
                        textarea name="members" rows=(l.members.len().clamp(2, 12)) { (l.members.join("\n")) } }
                    button type="submit" { "Save " (l.name) }
                }
                @if l.kind == ListKind::Mailing { (mailing_form(who, l)) }
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
                label { "Kind"
                    select name="kind" {
                        option value="distribution" selected { "distribution list" }
                        option value="mailing" { "mailing list (§14.6)" }
                    }
                }
                label { "Members, one per line" textarea name="members" rows="4" {} }
                button type="submit" { "Add list" }
            }
        },
    )
}

/// A mailing list's settings (INTERFACE.md's keys, and the footer and digest of
/// `[list.options]`).
fn mailing_form(who: &Who, l: &List) -> maud::Markup {
    let post = |p: PostPolicy| l.post == p;
    html! {
        form.mailing method="post" action="/admin/lists/mailing" {
            (csrf(who))
            input type="hidden" name="name" value=(l.name);
            label { "Moderators, one per line"
                textarea name="moderators" rows="2" { (l.moderators.join("\n")) } }
            label { "Who may post"
                select name="post" {
                    option value="anyone" selected[post(PostPolicy::Anyone)] { "anyone" }
                    option value="members" selected[post(PostPolicy::Members)] { "members" }
                    option value="moderators" selected[post(PostPolicy::Moderators)] { "moderators (announcements)" }
                }
            }
            label { input type="checkbox" name="moderated" checked[l.moderated]; " Moderated: posts wait for a moderator" }
            label { "Subscriptions by mail to the ListServer"
                select name="subscribe" {
                    option value="open" selected[l.subscribe == SubscribePolicy::Open] { "open" }
                    option value="closed" selected[l.subscribe == SubscribePolicy::Closed] { "closed" }
                }
            }
            label { input type="checkbox" name="confidential" checked[l.confidential]; " Confidential: left out of the ListServer's Lists" }
            label { "Footer added to each post"
                textarea name="footer" rows="2" { (l.options.footer) } }
            label { input type="checkbox" name="digest" checked[l.options.digest]; " Offer a digest list" }
            button type="submit" { "Save the settings of " (l.name) }
        }
    }
}

/// Set `key` of `t` to `v`, or remove it when `v` is the default (as the config
/// file leaves defaults out), keeping the comment after an old value.
fn set_or_default(t: &mut Table, key: &str, v: Item, is_default: bool) {
    if is_default {
        t.remove(key);
        return;
    }
    let mut v = v;
    if let (Some(old), Some(new)) = (t.get(key).and_then(Item::as_value), v.as_value_mut()) {
        *new.decor_mut() = old.decor().clone();
    }
    t.insert(key, v);
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

/// `[[list]]` `name` in the document.
fn list_table<'d>(doc: &'d mut DocumentMut, name: &str) -> Result<&'d mut Table, EditError> {
    let i = find(doc, name)?;
    array_of_tables(doc, "list")?
        .get_mut(i)
        .ok_or_else(|| EditError::Io("No such list.".into()))
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
            let mailing = form.text("kind") == "mailing";
            let r = edit_config(&ctx.dd, |doc| {
                let mut t = Table::new();
                t.insert("name", value(name.as_str()));
                t.insert("members", members_array(&list));
                if mailing {
                    t.insert("kind", value("mailing"));
                }
                array_of_tables(doc, "list")?.push(t);
                Ok(())
            });
            edit_outcome(to, r, format!("Added the list {name}."))
        }
        "lists/edit" => {
            let list = form.list("members");
            let r = edit_config(&ctx.dd, |doc| {
                let t = list_table(doc, &name)?;
                // The comment after the old value stays.
                set_or_default(t, "members", members_array(&list), false);
                Ok(())
            });
            edit_outcome(to, r, format!("Saved the list {name}."))
        }
        "lists/mailing" => {
            let moderators = form.list("moderators");
            let post = match form.text("post") {
                "anyone" => "anyone",
                "moderators" => "moderators",
                _ => "members",
            };
            let subscribe = if form.text("subscribe") == "open" {
                "open"
            } else {
                "closed"
            };
            let footer = form.text("footer").replace("\r\n", "\n");
            let r = edit_config(&ctx.dd, |doc| {
                let t = list_table(doc, &name)?;
                if t.get("kind").and_then(Item::as_str) != Some("mailing") {
                    return Err(EditError::Io(format!("{name} is not a mailing list.")));
                }
                set_or_default(
                    t,
                    "moderators",
                    members_array(&moderators),
                    moderators.is_empty(),
                );
                set_or_default(t, "post", value(post), post == "members");
                set_or_default(t, "moderated", value(true), !form.checked("moderated"));
                set_or_default(t, "subscribe", value(subscribe), subscribe == "closed");
                set_or_default(
                    t,
                    "confidential",
                    value(true),
                    !form.checked("confidential"),
                );
                let options = t
                    .entry("options")
                    .or_insert_with(|| Item::Table(Table::new()));
                if let Some(o) = options.as_table_mut() {
                    set_or_default(o, "footer", value(footer.as_str()), footer.is_empty());
                    set_or_default(o, "digest", value(true), !form.checked("digest"));
                }
                if t.get("options")
                    .and_then(Item::as_table)
                    .is_some_and(Table::is_empty)
                {
                    t.remove("options");
                }
                Ok(())
            });
            edit_outcome(to, r, format!("Saved the settings of {name}."))
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
