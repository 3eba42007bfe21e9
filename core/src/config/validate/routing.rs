//! Checks for `[[mapping]]`, `[[list]]`, `[[group]]`, `[local_mail]`, `[admin]` and
//! `[unknown_recipients]` that need only the file itself. Whether the names they use
//! exist is checked against the accounts by `router::check_routing`.

use super::{check_domain_name, Errors, Index, Key, Locator};
use crate::config::{Config, ListKind, MappingMode, UnknownAction, BUILT_IN_GROUPS, REMOTE_TARGET};
use crate::router::names::{address_part, check_list_name, parse_target, Target};
use crate::router::rewrite::parse_header_edit;
use std::collections::BTreeMap;

/// Record the line of each `[[mapping]]`, `[[list]]` and `[[group]]`, so problems found
/// later (against the accounts) can name it.
pub(in crate::config) fn locate(text: &str, cfg: &mut Config) {
    let loc = Locator::new(text);
    for (i, m) in cfg.mappings.iter_mut().enumerate() {
        m.line = loc.line(&[Key("mapping"), Index(i)]);
    }
    for (i, l) in cfg.lists.iter_mut().enumerate() {
        l.line = loc.line(&[Key("list"), Index(i)]);
    }
    for (i, g) in cfg.groups.iter_mut().enumerate() {
        g.line = loc.line(&[Key("group"), Index(i)]);
    }
    for (i, m) in cfg.inmails.iter_mut().enumerate() {
        m.line = loc.line(&[Key("inmail"), Index(i)]);
    }
}

pub(super) fn check(e: &mut Errors<'_>, cfg: &Config) {
    mappings(e, cfg);
    lists_and_groups(e, cfg);
    local_mail(e, cfg);
    admin(e, cfg);
}

/// Characters allowed in the parts of a mapping address besides the wildcards.
fn pattern_problem(part: &str, what: &str, domain: bool) -> Option<String> {
    if part.is_empty() {
        return Some(format!("the {what} is empty"));
    }
    let ok = |c: char| {
        c == '*'
            || c == '?'
            || c.is_ascii_alphanumeric()
            || c == '-'
            || c == '.'
            || (!domain && "!#$%&'+/=^_`{|}~".contains(c))
            || (!c.is_ascii() && !c.is_whitespace())
    };
    part.chars()
        .find(|&c| !ok(c))
        .map(|c| format!("the {what} contains {c:?}"))
}

fn mappings(e: &mut Errors<'_>, cfg: &Config) {
    for (i, m) in cfg.mappings.iter().enumerate() {
        let at = |k| [Key("mapping"), Index(i), Key(k)];
        let a = m.address.trim();
        let problem = if let Some(domain) = a.strip_prefix("~@") {
            if m.mode == MappingMode::Sender {
                Some("~@domain cannot be used with mode = \"sender\"".to_string())
            } else {
                pattern_problem(domain, "domain", true)
            }
        } else if let Some((local, domain)) = a.rsplit_once('@') {
            pattern_problem(local, "user part", false)
                .or_else(|| pattern_problem(domain, "domain", true))
        } else {
            pattern_problem(a, "user name", false)
        };
        if let Some(p) = problem {
            e.at(
                &at("address"),
                format!(
                    "[[mapping]] address {:?}: {p}; write user, user@domain or ~@domain \
                     (* and ? are wildcards)",
                    m.address
                ),
            );
        }
        match parse_target(&m.target) {
            Err(why) => e.at(&at("target"), format!("[[mapping]] target: {why}")),
            Ok(Target::Remote) if m.mode == MappingMode::Sender => e.at(
                &at("target"),
                format!("[[mapping]] target {REMOTE_TARGET} cannot be used with mode = \"sender\""),
            ),
            Ok(_) => {}
        }
        if m.inmail.is_some() && m.mode != MappingMode::Pop3 {
            e.at(
                &at("inmail"),
                "[[mapping]] inmail is only used with mode = \"pop3\"",
            );
        }
        if m.inmail.as_deref().is_some_and(|s| s.trim().is_empty()) {
            e.at(
                &at("inmail"),
                "[[mapping]] inmail is empty; name an In Mail or remove the key",
            );
        }
        if m.comment.chars().count() > 80 {
            e.at(
                &at("comment"),
                "[[mapping]] comment is longer than 80 characters",
            );
        }
    }
}

fn lists_and_groups(e: &mut Errors<'_>, cfg: &Config) {
    // Lists and groups share one name space with each other (and with users, which
    // the account check covers).
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut name_ok =
        |e: &mut Errors<'_>, path: &[super::Seg<'_>], kind: &'static str, name: &str| {
            if let Err(why) = check_list_name(name) {
                e.at(path, format!("[[{kind}]] name: {why}"));
                return;
            }
            if let Some(b) = BUILT_IN_GROUPS
                .iter()
                .find(|b| b.eq_ignore_ascii_case(name))
            {
                e.at(
                    path,
                    format!(
                    "[[{kind}]] name {name:?} is the built-in group {b}, which cannot be redefined"
                ),
                );
                return;
            }
            if let Some(other) = seen.insert(name.to_ascii_lowercase(), kind) {
                e.at(
                    path,
                    format!("[[{kind}]] name {name:?} is already used by a [[{other}]]"),
                );
            }
        };
    for (i, l) in cfg.lists.iter().enumerate() {
        name_ok(e, &[Key("list"), Index(i), Key("name")], "list", &l.name);
        for (j, m) in l.members.iter().enumerate() {
            let path = [Key("list"), Index(i), Key("members"), Index(j)];
            match parse_target(m) {
                Err(why) => e.at(&path, format!("[[list]] {} member: {why}", l.name)),
                Ok(Target::Remote) => e.at(
                    &path,
                    format!(
                        "[[list]] {} member {REMOTE_TARGET}: only a mapping can target {REMOTE_TARGET}",
                        l.name
                    ),
                ),
                Ok(_) => {}
            }
        }
        for why in super::super::mailing::problems(l) {
            e.at(
                &[Key("list"), Index(i)],
                format!("[[list]] {}: {why}", l.name),
            );
        }
        if l.kind == ListKind::Forwarding && l.members.len() != 1 {
            e.at(
                &[Key("list"), Index(i), Key("members")],
                format!(
                    "[[list]] {} is a forwarding, which has exactly one member (it has {})",
                    l.name,
                    l.members.len()
                ),
            );
        }
    }
    for (i, g) in cfg.groups.iter().enumerate() {
        name_ok(e, &[Key("group"), Index(i), Key("name")], "group", &g.name);
        if let Some(r) = &g.reply_address {
            let sample = r.replace('*', "user");
            if crate::address::Mailbox::parse(address_part(&sample)).is_err() {
                e.at(
                    &[Key("group"), Index(i), Key("reply_address")],
                    format!(
                        "[[group]] {} reply_address {r:?} is not an address (write \
                         \"user@domain\", \"*@domain\" or '\"*\" <user@domain>')",
                        g.name
                    ),
                );
            }
        }
    }
}

fn local_mail(e: &mut Errors<'_>, cfg: &Config) {
    let lm = &cfg.local_mail;
    for (i, d) in lm.domain_mappings.iter().enumerate() {
        for (k, v) in [("from", &d.from), ("to", &d.to)] {
            if let Err(why) = check_domain_name(v) {
                e.at(
                    &[Key("local_mail"), Key("domain_mappings"), Index(i), Key(k)],
                    format!("[local_mail] domain_mappings {k} {v:?} {why}"),
                );
            }
        }
    }
    for (i, h) in lm.global_headers.iter().enumerate() {
        if let Err(why) = parse_header_edit(h) {
            e.at(
                &[Key("local_mail"), Key("global_headers"), Index(i)],
                format!("[local_mail] global_headers: {why}"),
            );
        }
    }
}

fn admin(e: &mut Errors<'_>, cfg: &Config) {
    if let Some(name) = &cfg.admin.main_administrator {
        if let Err(why) = check_list_name(name) {
            e.at(
                &[Key("admin"), Key("main_administrator")],
                format!("[admin] main_administrator: {why}"),
            );
        }
    }
    let ur = &cfg.unknown_recipients;
    let needs_to = matches!(ur.action, UnknownAction::ErrorTo | UnknownAction::MessageTo);
    match (&ur.to, needs_to) {
        (None, true) => e.at(
            &[Key("unknown_recipients"), Key("action")],
            format!(
                "[unknown_recipients] action = \"{}\" needs `to`, the account to send to",
                ur.action.as_str()
            ),
        ),
        (Some(_), false) => e.at(
            &[Key("unknown_recipients"), Key("to")],
            format!(
                "[unknown_recipients] to is only used with action = \"error_to\" or \
                 \"message_to\" (action is \"{}\")",
                ur.action.as_str()
            ),
        ),
        (Some(t), true) => {
            if let Err(why) = check_list_name(t) {
                e.at(
                    &[Key("unknown_recipients"), Key("to")],
                    format!("[unknown_recipients] to: {why}"),
                );
            }
        }
        (None, false) => {}
    }
    if ur.bounce && ur.action == UnknownAction::Remote {
        e.at(
            &[Key("unknown_recipients"), Key("bounce")],
            "[unknown_recipients] bounce cannot be used with action = \"remote\" (§16.3: \
             treated as *REMOTE, the mail is not ours to bounce)",
        );
    }
}
