//! The rest of `/admin/user`: group, permissions (§4.2.3.3: protocols, Internet send
//! and receive, Everyone), reply address, the outgoing size limit, the size dependent
//! forwarding rules (§4.2.3.1.6.4) and the mailbox quota (§4.3.3). The same fields
//! `mailroom user set` changes, saved through the same check.

use mailroom_core::accounts::{Account, Protocol, SizeAction, SizeRule};
use mailroom_core::config::Snapshot;
use mailroom_core::http::form::Form;
use maud::{html, Markup};

const PROTOCOLS: [(Protocol, &str); 6] = [
    (Protocol::Pop3, "pop3"),
    (Protocol::Imap, "imap"),
    (Protocol::Smtp, "smtp"),
    (Protocol::Webmail, "webmail"),
    (Protocol::Password, "password"),
    (Protocol::Ldap, "ldap"),
];

fn tri(name: &str, label: &str, v: Option<bool>) -> Markup {
    let now = match v {
        None => "",
        Some(true) => "yes",
        Some(false) => "no",
    };
    html! {
        label { (label)
            select name=(name) {
                @for (value, text) in [("", "the group's setting (else yes)"), ("yes", "yes"), ("no", "no")] {
                    option value=(value) selected[value == now] { (text) }
                }
            }
        }
    }
}

fn size_rule(prefix: &str, label: &str, r: Option<&SizeRule>) -> Markup {
    html! {
        fieldset {
            legend { (label) }
            label { "Size (kB; empty or 0 = off)"
                input type="text" name=(format!("{prefix}_kb")) value=(r.map(|r| r.kb.to_string()).unwrap_or_default()); }
            label { "Action"
                select name=(format!("{prefix}_action")) {
                    option value="copy" selected[r.is_some_and(|r| r.action == SizeAction::Copy)] { "send a copy to" }
                    option value="redirect" selected[r.is_some_and(|r| r.action == SizeAction::Redirect)] { "redirect to" }
                }
            }
            label { "Targets, one per line"
                textarea name=(format!("{prefix}_to")) rows="2" { (r.map(|r| r.to.join("\n")).unwrap_or_default()) } }
        }
    }
}

/// The form fields, inside `/admin/users/settings`.
pub(super) fn fields(a: &Account, snap: &Snapshot) -> Markup {
    html! {
        h2 { "Group and permissions (§4.2.3.3)" }
        input type="hidden" name="permissions" value="1";
        label { "Group"
            select name="group" {
                option value="" selected[a.group.is_empty()] { "(none)" }
                @for g in &snap.config.groups {
                    option value=(g.name) selected[g.name.eq_ignore_ascii_case(&a.group)] { (g.name) }
                }
            }
        }
        fieldset #protocols {
            legend { "Allowed protocols" }
            @for (p, name) in PROTOCOLS {
                label.check { input type="checkbox" name=(format!("protocol_{name}")) checked[a.may_use(p)]; " " (name) }
            }
        }
        (tri("send_internet", "Allow sending of Internet mail", a.send_internet))
        (tri("receive_internet", "Allow receiving of Internet mail", a.receive_internet))
        (tri("in_everyone", "Put user in the Everyone list", a.in_everyone))
        label.check { input type="checkbox" name="no_signature" checked[a.no_signature];
            " Don't use the global signature with messages from this account (needs SMTP AUTH)" }
        label { "Internet mail reply address (empty: unchanged)"
            input type="text" name="reply_address" value=(a.reply_address); }
        h2 { "Sizes" }
        label { "Largest message this user may send (kB; 0 = only the global limit)"
            input type="text" name="max_outgoing_kb" value=(a.max_outgoing_size / 1024); }
        label { "Mailbox quota (kB; 0 = none)"
            input type="text" name="quota_kb" value=(a.quota / 1024); }
        (size_rule("size_at_least", "If a message is at least", a.size_at_least.as_ref()))
        (size_rule("size_at_most", "If a message is at most", a.size_at_most.as_ref()))
    }
}

fn kb(form: &Form, name: &str, label: &str) -> Result<u64, String> {
    match form.text(name) {
        "" => Ok(0),
        t => t
            .parse::<u64>()
            .ok()
            .and_then(|k| k.checked_mul(1024))
            .ok_or_else(|| format!("{label}: write a whole number of kB")),
    }
}

fn rule_from(form: &Form, prefix: &str, label: &str) -> Result<Option<SizeRule>, String> {
    let size = match form.text(&format!("{prefix}_kb")) {
        "" => 0,
        t => t
            .parse::<u64>()
            .map_err(|_| format!("{label}: write a whole number of kB"))?,
    };
    let to: Vec<String> = form
        .text(&format!("{prefix}_to"))
        .split(['\n', ';', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if size == 0 || to.is_empty() {
        return Ok(None);
    }
    let action = match form.text(&format!("{prefix}_action")) {
        "redirect" => SizeAction::Redirect,
        _ => SizeAction::Copy,
    };
    Ok(Some(SizeRule {
        kb: size,
        action,
        to,
    }))
}

/// Read the fields back into `a`; a form without them (an old page) changes none.
pub(super) fn apply(a: &mut Account, form: &Form) -> Result<(), String> {
    if form.get("permissions").is_none() {
        return Ok(());
    }
    let tri = |name: &str| match form.text(name) {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    a.group = form.text("group").to_string();
    let allowed: Vec<Protocol> = PROTOCOLS
        .iter()
        .filter(|(_, name)| form.checked(&format!("protocol_{name}")))
        .map(|(p, _)| *p)
        .collect();
    a.protocols = (allowed.len() < PROTOCOLS.len()).then_some(allowed);
    a.send_internet = tri("send_internet");
    a.receive_internet = tri("receive_internet");
    a.in_everyone = tri("in_everyone");
    a.reply_address = form.text("reply_address").to_string();
    a.no_signature = form.checked("no_signature");
    // Shown in whole kB: an unchanged field keeps a value the CLI set to the octet.
    let outgoing = kb(form, "max_outgoing_kb", "Largest message")?;
    if outgoing / 1024 != a.max_outgoing_size / 1024 {
        a.max_outgoing_size = outgoing;
    }
    let quota = kb(form, "quota_kb", "Mailbox quota")?;
    if quota / 1024 != a.quota / 1024 {
        a.quota = quota;
    }
    a.size_at_least = rule_from(form, "size_at_least", "If a message is at least")?;
    a.size_at_most = rule_from(form, "size_at_most", "If a message is at most")?;
    Ok(())
}
