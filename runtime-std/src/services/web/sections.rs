//! The forms for the parts of `mailroom.toml` an administrator changes most (issue 13):
//! Local Mail and unknown recipients, In Mail (`[[inmail]]`), connections with their
//! Out Mail, and schedules. Each section is described once here (its keys, what kind
//! of value each takes) and one renderer and one saver serve them all. Values are read
//! from and written to the document itself through `config::edit`, so the comments and
//! layout of the file stay, a key the form leaves at its default stays unwritten, and a
//! change `mailroom check` would refuse is refused with its problems shown.

use super::pages::{self, csrf};
use super::{done, edit_outcome, Ctx, Outcome, Who};
use crate::config::edit::{array_of_tables, edit_config, remove_table_keeping_comment, EditError};
use mailroom_core::http::form::Form;
use mailroom_core::http::Response;
use maud::{html, Markup};
use std::fs;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, Value};

/// What a key holds, and so how it is shown and read back.
#[derive(Clone, Copy)]
enum Kind {
    /// A checkbox; the default is what an absent key means.
    Bool(bool),
    /// Yes, no, or not set (a group's tri-state setting, §4.3.6).
    Tri,
    /// A string; left empty, the key is removed.
    Text,
    /// A string of several lines (a text area); left empty, the key is removed.
    Block,
    /// A password: never shown; left empty, the old one stays.
    Secret,
    /// A whole number; left empty, the key is removed.
    Int,
    /// A time span: `90s`, `5m`, `1h` or whole seconds.
    Span,
    /// Strings, one per line (commas are data: header modifiers hold them).
    List,
    /// One of the words; the first choice, "", is the default (the key removed).
    Choice(&'static [&'static str]),
    /// `[{ from, to }]` pairs written `from -> to`, one per line.
    Pairs,
}

struct Field {
    /// The key; `outmail.relays` is `relays` in the element's `outmail` table.
    key: &'static str,
    label: &'static str,
    kind: Kind,
}

const fn f(key: &'static str, label: &'static str, kind: Kind) -> Field {
    Field { key, label, kind }
}

struct Section {
    /// Its name in the form's `section` field.
    id: &'static str,
    /// The top-level key: a table, or an array of tables when `named` is set.
    key: &'static str,
    title: &'static str,
    hint: &'static str,
    /// Arrays of tables: the key that names an element (shown, and checked on save
    /// so a page older than another change cannot edit the wrong one).
    named: Option<&'static str>,
    fields: &'static [Field],
}

impl Section {
    fn is_array(&self) -> bool {
        self.named.is_some()
    }
}

const LOCAL_MAIL: Section = Section {
    id: "local_mail",
    key: "local_mail",
    title: "Local Mail",
    hint: "Mail local users send (§12.1, §12.2, §4.3.5).",
    named: None,
    fields: &[
        f(
            "default_user_mapping",
            "Default user@local-domain → user mappings (§5.8)",
            Kind::Bool(true),
        ),
        f(
            "domain_mappings",
            "Domain mappings for outgoing mail, one `from.example -> to.example` per line (§12.2)",
            Kind::Pairs,
        ),
        f(
            "global_headers",
            "Global header modifiers, one per line: `Field: data` sets, `Field:` removes (§4.3.5)",
            Kind::List,
        ),
    ],
};

const UNKNOWN: Section = Section {
    id: "unknown_recipients",
    key: "unknown_recipients",
    title: "Unknown recipients",
    hint: "What to do with collected mail for unknown local recipients (§16.3.1.1).",
    named: None,
    fields: &[
        f(
            "action",
            "Action",
            Kind::Choice(&[
                "",
                "error_to_admin",
                "message_to_admin",
                "error_to",
                "message_to",
                "remote",
            ]),
        ),
        f("to", "Account for error_to / message_to", Kind::Text),
        f(
            "bounce",
            "Also bounce to the sender (DIR/BOUNCE.MSG)",
            Kind::Bool(false),
        ),
    ],
};

const SIGNATURE: Section = Section {
    id: "signature",
    key: "signature",
    title: "Global signature",
    hint: "Added to the bottom of mail local users send to the Internet, not to internal mail or mail from outside (§4.3.4). Give the plain text and/or an HTML fragment; the other form is made from it. The authenticated users' signature takes [cn], [givenName], [sn], [mail] and [uid] from the sender's account.",
    named: None,
    fields: &[
        f("text", "Default signature, plain text", Kind::Block),
        f("html", "Default signature, HTML fragment", Kind::Block),
        f("auth_text", "For authenticated users, plain text", Kind::Block),
        f("auth_html", "For authenticated users, HTML fragment", Kind::Block),
    ],
};

const ADMIN: Section = Section {
    id: "admin",
    key: "admin",
    title: "Main Administrator",
    hint: "Gets the server's error messages and undeliverable mail; empty: postmaster, else the first administrator (§16.3).",
    named: None,
    fields: &[f("main_administrator", "Account", Kind::Text)],
};

const INMAIL: Section = Section {
    id: "inmail",
    key: "inmail",
    title: "In Mail",
    hint: "ISP mailboxes collected by POP3 when their connections run (§6.3; docs/COLLECT.md).",
    named: Some("name"),
    fields: &[
        f("name", "Name", Kind::Text),
        f("enabled", "Enabled", Kind::Bool(true)),
        f(
            "connections",
            "Connections that collect it, one per line",
            Kind::List,
        ),
        f("server", "POP3 server (host:port)", Kind::Text),
        f("user", "User", Kind::Text),
        f("password", "Password", Kind::Secret),
        f(
            "auth",
            "Authentication",
            Kind::Choice(&["", "plain", "apop"]),
        ),
        f(
            "tls",
            "TLS",
            Kind::Choice(&["", "opportunistic", "starttls", "implicit", "none"]),
        ),
        f(
            "tls_verify",
            "Check the server's certificate",
            Kind::Bool(true),
        ),
        f(
            "accepted_domains",
            "Accepted domains and addresses, one per line (§6.3.6)",
            Kind::List,
        ),
        f("size_limit_kb", "Download limit (kB; 0 = none)", Kind::Int),
        f(
            "leave_on_server_days",
            "Leave on server (days; 0 = delete once stored)",
            Kind::Int,
        ),
        f("remove_duplicates", "Remove duplicates", Kind::Bool(true)),
        f("download_rules", "Use download rules", Kind::Bool(false)),
        f(
            "routing",
            "Routing (§6.3.2.1)",
            Kind::Choice(&["", "detected", "user", "lan", "single_address", "subject"]),
        ),
        f("deliver_to", "routing = user: the user or list", Kind::Text),
        f(
            "lan_server",
            "routing = lan: LAN SMTP server (host:port)",
            Kind::Text,
        ),
        f("lan_recipient", "routing = lan: recipient", Kind::Text),
        f(
            "subject_marker",
            "routing = subject: marker (`*` is the user)",
            Kind::Text,
        ),
    ],
};

const CONNECTION: Section = Section {
    id: "connection",
    key: "connection",
    title: "Connection",
    hint: "Connections (§6.2) and the Out Mail each one sends (§6.4; docs/OUTBOUND.md).",
    named: Some("name"),
    fields: &[
        f("name", "Name", Kind::Text),
        f("link", "Link", Kind::Choice(&["", "lan", "command"])),
        f(
            "primary",
            "Use with the main schedule (primary)",
            Kind::Bool(true),
        ),
        f(
            "up",
            "link = command: command that brings the link up",
            Kind::Text,
        ),
        f(
            "down",
            "link = command: command that takes it down",
            Kind::Text,
        ),
        f(
            "check",
            "link = command: command that exits 0 when up",
            Kind::Text,
        ),
        f("dial_retries", "Dial retries", Kind::Int),
        f("retry_interval", "Retry interval (e.g. 1m)", Kind::Span),
        f("dial_timeout", "Dial timeout", Kind::Span),
        f(
            "alternatives",
            "Alternative connections, one per line",
            Kind::List,
        ),
        f("autoconnect", "AutoConnect (§6.2.3)", Kind::Bool(false)),
        f(
            "autoconnect_once",
            "AutoConnect once per link session",
            Kind::Bool(true),
        ),
        f("autoconnect_every", "AutoConnect every", Kind::Span),
        f("idle_hangup", "Hang up after idle", Kind::Span),
        f("max_online", "Longest online", Kind::Span),
        f(
            "outmail.method",
            "Out Mail: method",
            Kind::Choice(&["", "relay", "direct"]),
        ),
        f(
            "outmail.relays",
            "Out Mail: relays (host:port), one per line",
            Kind::List,
        ),
        f("outmail.auth_user", "Out Mail: relay AUTH user", Kind::Text),
        f(
            "outmail.auth_password",
            "Out Mail: relay AUTH password",
            Kind::Secret,
        ),
        f(
            "outmail.only_waiting",
            "Out Mail: only send when mail is waiting",
            Kind::Bool(false),
        ),
        f(
            "outmail.max_recipients",
            "Out Mail: recipients per message",
            Kind::Int,
        ),
        f(
            "outmail.domain_filter",
            "Out Mail: only these domains, one per line",
            Kind::List,
        ),
        f(
            "outmail.pop_before_smtp",
            "Out Mail: POP3 login first (host:port)",
            Kind::Text,
        ),
        f("outmail.pop_user", "Out Mail: POP3 user", Kind::Text),
        f(
            "outmail.pop_password",
            "Out Mail: POP3 password",
            Kind::Secret,
        ),
    ],
};

const GROUP: Section = Section {
    id: "group",
    key: "group",
    title: "Group",
    hint: "Users name their group on their own page (§4.3.6). A setting left \"not set\" leaves each member's own; a set one fills in what a member leaves unset, or, with Force, overrides it.",
    named: Some("name"),
    fields: &[
        f("name", "Name", Kind::Text),
        f("comment", "Comment", Kind::Text),
        f("in_everyone", "Put users in the Everyone list", Kind::Tri),
        f("send_internet", "Allow sending of Internet mail", Kind::Tri),
        f("receive_internet", "Allow receiving of Internet mail", Kind::Tri),
        f(
            "reply_address",
            "Internet mail reply address (`*` is the user's name)",
            Kind::Text,
        ),
        f(
            "force",
            "Force user configuration to match these settings",
            Kind::Bool(false),
        ),
    ],
};

const SCHEDULE: Section = Section {
    id: "schedule",
    key: "schedule",
    title: "Schedule",
    hint: "When connections run (§6.5; docs/SCHEDULE.md). Days empty: every day; connections empty: the primary ones.",
    named: Some("name"),
    fields: &[
        f("name", "Label", Kind::Text),
        f("days", "Days (mon … sun), one per line", Kind::List),
        f("at", "At these times (HH:MM), one per line", Kind::List),
        f("every", "Or every (e.g. 30m)", Kind::Span),
        f("from", "… from (HH:MM)", Kind::Text),
        f("to", "… to (HH:MM)", Kind::Text),
        f("connections", "Connections, one per line", Kind::List),
    ],
};

/// The pages, each with its sections.
const PAGES: [(&str, &str, &[&Section]); 5] = [
    (
        "local-mail",
        "Local Mail",
        &[&LOCAL_MAIL, &UNKNOWN, &ADMIN, &SIGNATURE],
    ),
    ("inmail", "In Mail", &[&INMAIL]),
    ("connections", "Connections and Out Mail", &[&CONNECTION]),
    ("schedules", "Schedules", &[&SCHEDULE]),
    ("groups", "Groups", &[&GROUP]),
];

fn section(id: &str) -> Option<(&'static str, &'static Section)> {
    PAGES
        .iter()
        .find_map(|(page, _, sections)| sections.iter().find(|s| s.id == id).map(|s| (*page, *s)))
}

/// Whether `page` is one of these forms' pages.
pub(super) fn is_page(page: &str) -> bool {
    PAGES.iter().any(|(p, _, _)| *p == page)
}

fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('.') {
        Some((sub, leaf)) => (Some(sub), leaf),
        None => (None, key),
    }
}

fn current<'t>(t: &'t dyn TableLike, key: &str) -> Option<&'t Value> {
    let (sub, leaf) = split_key(key);
    let t: &dyn TableLike = match sub {
        Some(s) => t.get(s)?.as_table_like()?,
        None => t,
    };
    t.get(leaf)?.as_value()
}

fn shown(v: Option<&Value>, kind: Kind) -> String {
    let Some(v) = v else {
        return String::new();
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => s.value().clone(),
        other => other.to_string().trim().to_string(),
    };
    match (kind, v) {
        (Kind::Pairs, Value::Array(a)) => a
            .iter()
            .map(|p| {
                let get = |k: &str| {
                    p.as_inline_table()
                        .and_then(|t| t.get(k))
                        .map(scalar)
                        .unwrap_or_default()
                };
                format!("{} -> {}", get("from"), get("to"))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        (_, Value::Array(a)) => a.iter().map(scalar).collect::<Vec<_>>().join("\n"),
        (_, v) => scalar(v),
    }
}

fn field_input(field: &Field, t: Option<&dyn TableLike>, n: usize) -> Markup {
    let v = t.and_then(|t| current(t, field.key));
    let id = format!("f-{n}-{}", field.key);
    html! {
        @match field.kind {
            Kind::Bool(default) => {
                label.check {
                    input type="checkbox" name=(field.key) id=(id)
                        checked[v.and_then(Value::as_bool).unwrap_or(default)];
                    " " (field.label)
                }
            }
            Kind::Tri => {
                @let now = v.and_then(Value::as_bool);
                label { (field.label)
                    select name=(field.key) {
                        option value="" selected[now.is_none()] { "(not set)" }
                        option value="yes" selected[now == Some(true)] { "yes" }
                        option value="no" selected[now == Some(false)] { "no" }
                    }
                }
            }
            Kind::Secret => {
                label { (field.label)
                    input type="password" name=(field.key) autocomplete="new-password"
                        placeholder=(if v.is_some() { "unchanged" } else { "" });
                }
            }
            Kind::Block => {
                label { (field.label)
                    textarea name=(field.key) rows="3" spellcheck="false" { (shown(v, field.kind)) }
                }
            }
            Kind::List | Kind::Pairs => {
                label { (field.label)
                    textarea name=(field.key) rows="3" spellcheck="false" { (shown(v, field.kind)) }
                }
            }
            Kind::Choice(choices) => {
                @let now = shown(v, field.kind);
                label { (field.label)
                    select name=(field.key) {
                        @for c in choices {
                            option value=(c) selected[*c == now] {
                                @if c.is_empty() { "(default)" } @else { (c) }
                            }
                        }
                    }
                }
            }
            Kind::Text | Kind::Int | Kind::Span => {
                label { (field.label)
                    input type="text" name=(field.key) value=(shown(v, field.kind));
                }
            }
        }
    }
}

fn section_form(who: &Who, s: &Section, t: Option<&dyn TableLike>, index: Option<usize>) -> Markup {
    let was = match (s.named, t) {
        (Some(k), Some(t)) => t.get(k).and_then(Item::as_str).unwrap_or("").to_string(),
        _ => String::new(),
    };
    let op = if s.is_array() && index.is_none() {
        "add"
    } else {
        "save"
    };
    let n = index.map_or(usize::MAX, |i| i);
    html! {
        form.section method="post" action="/admin/section" data-section=(s.id) id=[(op == "add").then(|| format!("add-{}", s.id))] {
            (csrf(who))
            input type="hidden" name="section" value=(s.id);
            input type="hidden" name="op" value=(op);
            @if let Some(i) = index {
                input type="hidden" name="index" value=(i);
                input type="hidden" name="was" value=(was);
            }
            @for field in s.fields { (field_input(field, t, n)) }
            button type="submit" {
                @if op == "add" { "Add " (s.title.to_lowercase()) }
                @else if was.is_empty() { "Save " (s.title.to_lowercase()) }
                @else { "Save " (was) }
            }
        }
        @if let Some(i) = index {
            form.inline method="post" action="/admin/section" {
                (csrf(who))
                input type="hidden" name="section" value=(s.id);
                input type="hidden" name="op" value="delete";
                input type="hidden" name="index" value=(i);
                input type="hidden" name="was" value=(was);
                button.danger type="submit" {
                    "Delete " @if was.is_empty() { (s.title.to_lowercase()) " " (i + 1) } @else { (was) }
                }
            }
        }
    }
}

pub(super) fn page(ctx: &Ctx<'_>, who: &Who, page: &str) -> Response {
    let Some((path, title, sections)) = PAGES.iter().find(|(p, _, _)| *p == page) else {
        return pages::error(404, "No such page.");
    };
    let doc: Option<DocumentMut> = fs::read_to_string(ctx.dd.config_file())
        .ok()
        .and_then(|t| t.parse().ok());
    let Some(doc) = doc else {
        return pages::error(500, "mailroom.toml cannot be read.");
    };
    pages::admin(
        who,
        &format!("/admin/{path}"),
        title,
        html! {
            @for s in *sections {
                @if !s.is_array() {
                    h2 { (s.title) }
                    p.hint { (s.hint) }
                    (section_form(who, s, doc.get(s.key).and_then(Item::as_table_like), None))
                } @else {
                    p.hint { (s.hint) }
                    @let items: Vec<&Table> = doc.get(s.key).and_then(Item::as_array_of_tables)
                        .map(|a| a.iter().collect()).unwrap_or_default();
                    @if items.is_empty() { p { "None yet." } }
                    @for (i, t) in items.iter().enumerate() {
                        h2 { (s.title) " " (i + 1) @if let Some(n) = s.named.and_then(|k| t.get(k)).and_then(Item::as_str) { ": " (n) } }
                        (section_form(who, s, Some(*t as &dyn TableLike), Some(i)))
                    }
                    h2 { "Add a " (s.title.to_lowercase()) }
                    (section_form(who, s, None, None))
                }
            }
            p.hint { "Everything else: " a href="/admin/settings" { "mailroom.toml as text" } "." }
        },
    )
}

/// The new value of `field` from the form: `None` removes the key, `Some(None)` leaves
/// it as it is.
fn value_from(field: &Field, form: &Form) -> Result<Option<Option<Value>>, String> {
    let text = form.get(field.key).unwrap_or("").replace("\r\n", "\n");
    let trimmed = text.trim();
    let lines = || {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    Ok(Some(match field.kind {
        Kind::Bool(_) => Some(Value::from(form.checked(field.key))),
        Kind::Tri => match trimmed {
            "yes" => Some(Value::from(true)),
            "no" => Some(Value::from(false)),
            _ => None,
        },
        Kind::Secret if trimmed.is_empty() => return Ok(None),
        Kind::Text | Kind::Block | Kind::Secret | Kind::Choice(_) if trimmed.is_empty() => None,
        Kind::Block => Some(Value::from(trimmed.to_string())),
        Kind::Text | Kind::Secret | Kind::Choice(_) => Some(Value::from(trimmed)),
        Kind::Int | Kind::Span if trimmed.is_empty() => None,
        Kind::Int => {
            Some(Value::from(trimmed.parse::<i64>().map_err(|_| {
                format!("{}: write a whole number", field.label)
            })?))
        }
        Kind::Span => match trimmed.parse::<i64>() {
            Ok(n) => Some(Value::from(n)),
            Err(_) => Some(Value::from(trimmed)),
        },
        Kind::List => {
            let l = lines();
            if l.is_empty() {
                None
            } else {
                Some(Value::Array(
                    l.iter().map(String::as_str).collect::<Array>(),
                ))
            }
        }
        Kind::Pairs => {
            let mut a = Array::new();
            for l in lines() {
                let (from, to) = l
                    .split_once("->")
                    .ok_or_else(|| format!("{}: write `from -> to` on each line", field.label))?;
                let mut t = InlineTable::new();
                t.insert("from", Value::from(from.trim()));
                t.insert("to", Value::from(to.trim()));
                a.push(t);
            }
            if a.is_empty() {
                None
            } else {
                Some(Value::Array(a))
            }
        }
    }))
}

/// Write the form's values into `t`: a changed value keeps the comment after the old
/// one; a key absent and left at its default stays absent.
fn apply(t: &mut dyn TableLike, s: &Section, form: &Form) -> Result<(), EditError> {
    for field in s.fields {
        let new = value_from(field, form).map_err(EditError::Io)?;
        let Some(new) = new else {
            continue; // a password left empty: unchanged
        };
        let (sub, leaf) = split_key(field.key);
        let target: &mut dyn TableLike = match sub {
            None => t,
            Some(sub) => {
                if t.get(sub).is_none() {
                    if new.is_none()
                        || matches!((field.kind, &new), (Kind::Bool(d), Some(v)) if v.as_bool() == Some(d))
                    {
                        continue; // nothing to say: no table
                    }
                    t.insert(sub, Item::Table(Table::new()));
                }
                t.get_mut(sub)
                    .and_then(Item::as_table_like_mut)
                    .ok_or_else(|| {
                        EditError::Io(format!("`{sub}` is not a table; edit it as text"))
                    })?
            }
        };
        let old = target.get(leaf).and_then(Item::as_value).cloned();
        match (new, old) {
            (None, None) => {}
            (None, Some(_)) => {
                target.remove(leaf);
            }
            (Some(v), None) => {
                let default = matches!(field.kind, Kind::Bool(d) if v.as_bool() == Some(d));
                if !default {
                    target.insert(leaf, Item::Value(v));
                }
            }
            (Some(mut v), Some(old)) => {
                if v.to_string().trim() != old.to_string().trim() {
                    *v.decor_mut() = old.decor().clone();
                    target.insert(leaf, Item::Value(v));
                }
            }
        }
    }
    Ok(())
}

/// The element `index` of `[[key]]`, if it still has the name the page showed.
fn element(doc: &mut DocumentMut, s: &Section, form: &Form) -> Result<usize, EditError> {
    let stale = || {
        EditError::Io(format!(
            "The {} list changed since the page was shown; look again.",
            s.title.to_lowercase()
        ))
    };
    let index: usize = form.text("index").parse().map_err(|_| stale())?;
    let list = array_of_tables(doc, s.key)?;
    let t = list.get(index).ok_or_else(stale)?;
    let name = s
        .named
        .and_then(|k| t.get(k))
        .and_then(Item::as_str)
        .unwrap_or("");
    if name != form.text("was") {
        return Err(stale());
    }
    Ok(index)
}

pub(super) fn post(ctx: &Ctx<'_>, form: &Form) -> Outcome {
    let Some((page, s)) = section(form.text("section")) else {
        return done("/admin/", Err("No such form.".into()));
    };
    let to = format!("/admin/{page}");
    let named = |form: &Form| {
        s.named
            .map(|k| form.text(k).to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| s.title.to_lowercase())
    };
    let (r, ok) = match form.text("op") {
        "save" if !s.is_array() => (
            edit_config(&ctx.dd, |doc| {
                let t = doc
                    .entry(s.key)
                    .or_insert_with(|| Item::Table(Table::new()))
                    .as_table_like_mut()
                    .ok_or_else(|| {
                        EditError::Io(format!("`{}` is not a table; edit it as text", s.key))
                    })?;
                apply(t, s, form)?;
                if t.is_empty() {
                    doc.remove(s.key);
                }
                Ok(())
            }),
            format!("Saved {}.", s.title),
        ),
        "save" => (
            edit_config(&ctx.dd, |doc| {
                let i = element(doc, s, form)?;
                let t = array_of_tables(doc, s.key)?
                    .get_mut(i)
                    .ok_or_else(|| EditError::Io("No such entry.".into()))?;
                apply(t, s, form)
            }),
            format!("Saved {}.", named(form)),
        ),
        "add" if s.is_array() => (
            edit_config(&ctx.dd, |doc| {
                let mut t = Table::new();
                apply(&mut t, s, form)?;
                array_of_tables(doc, s.key)?.push(t);
                Ok(())
            }),
            format!("Added {}.", named(form)),
        ),
        "delete" if s.is_array() => (
            edit_config(&ctx.dd, |doc| {
                let i = element(doc, s, form)?;
                remove_table_keeping_comment(doc, s.key, i)
            }),
            format!(
                "Deleted {}.",
                Some(form.text("was"))
                    .filter(|w| !w.is_empty())
                    .unwrap_or(s.title)
            ),
        ),
        _ => return done(&to, Err("No such form.".into())),
    };
    if r.is_ok() {
        tracing::info!(section = s.id, peer = %ctx.client.ip, "web: settings changed");
    }
    edit_outcome(&to, r, ok)
}
