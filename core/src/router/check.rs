//! Routing configuration checked against the accounts: every name a mapping, list,
//! assistant or forwarding uses must exist, so a typo can never lose mail. Run when a
//! snapshot is loaded; any problem stops `serve` and keeps a reload from applying.

use super::names::{address_part, parse_target, Names, Target};
use crate::address::Mailbox;
use crate::config::{InMailRouting, Snapshot};
use serde::Serialize;

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Place {
    /// `mailroom.toml`, at this line.
    Config { line: usize },
    /// An account file (`users/NAME.toml`), at this key.
    Account { name: String, key: &'static str },
    /// `SMTPRULES.TXT`, at this line (a redirect or copy rule's target).
    SmtpRules { line: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingProblem {
    pub place: Place,
    pub message: String,
}

/// Every reference problem in `snap`'s routing configuration and accounts.
pub fn check_routing(snap: &Snapshot) -> Vec<RoutingProblem> {
    let names = Names::new(snap);
    let cfg = &snap.config;
    let mut out = Vec::new();
    let mut at_line = |line: usize, message: String| {
        out.push(RoutingProblem {
            place: Place::Config { line: line.max(1) },
            message,
        })
    };

    // A user and a list or group of the same name would make §21.13's order decide
    // silently which one gets the mail.
    for l in &cfg.lists {
        if names.account(&l.name).is_some() {
            at_line(
                l.line,
                format!(
                    "[[list]] {} has the same name as a user; rename one of them",
                    l.name
                ),
            );
        }
    }
    for g in &cfg.groups {
        if names.account(&g.name).is_some() {
            at_line(
                g.line,
                format!(
                    "[[group]] {} has the same name as a user; rename one of them",
                    g.name
                ),
            );
        }
    }

    for m in &cfg.mappings {
        if let Some(why) = unresolved(&names, &m.target) {
            at_line(
                m.line,
                format!("[[mapping]] {} -> {}: {why}", m.address, m.target),
            );
        }
    }
    for l in &cfg.lists {
        for member in &l.members {
            if let Some(why) = unresolved(&names, member) {
                at_line(
                    l.line,
                    format!("[[list]] {} member {member}: {why}", l.name),
                );
            }
        }
    }
    for m in &cfg.mappings {
        if let Some(i) = &m.inmail {
            if !cfg
                .inmails
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(i.trim()))
            {
                at_line(
                    m.line,
                    format!(
                        "[[mapping]] {}: inmail = {i:?}, but no [[inmail]] has that name",
                        m.address
                    ),
                );
            }
        }
    }
    for m in &cfg.inmails {
        let Some(to) = m
            .deliver_to
            .as_deref()
            .filter(|_| m.routing == InMailRouting::User)
        else {
            continue;
        };
        if let Some(why) = unresolved(&names, to) {
            at_line(
                m.line,
                format!("[[inmail]] {} deliver_to = {to:?}: {why}", m.name),
            );
        }
    }
    if let Some(admin) = &cfg.admin.main_administrator {
        if names.account(admin).is_none() {
            at_line(
                1,
                format!("[admin] main_administrator: there is no user named {admin}"),
            );
        }
    }
    if let Some(to) = &cfg.unknown_recipients.to {
        if names.account(to).is_none() {
            at_line(
                1,
                format!("[unknown_recipients] to: there is no user named {to}"),
            );
        }
    }

    for a in snap.accounts.iter() {
        let mut problem = |key: &'static str, message: String| {
            out.push(RoutingProblem {
                place: Place::Account {
                    name: a.name.clone(),
                    key,
                },
                message,
            })
        };
        if !a.group.is_empty()
            && !cfg
                .groups
                .iter()
                .any(|g| g.name.eq_ignore_ascii_case(&a.group))
        {
            problem(
                "group",
                format!(
                    "group {:?} is not defined; add a [[group]] with that name to mailroom.toml",
                    a.group
                ),
            );
        }
        let rules = [
            ("assistants", a.assistants.as_slice()),
            ("forward_to", a.forward_to.as_slice()),
            (
                "size_at_least",
                a.size_at_least.as_ref().map_or(&[][..], |r| &r.to[..]),
            ),
            (
                "size_at_most",
                a.size_at_most.as_ref().map_or(&[][..], |r| &r.to[..]),
            ),
        ];
        for (key, targets) in rules {
            for t in targets {
                if let Some(why) = not_direct(&names, t) {
                    problem(key, format!("{key} entry {t:?}: {why}"));
                }
            }
        }
        if !a.reply_address.is_empty() && Mailbox::parse(address_part(&a.reply_address)).is_err() {
            problem(
                "reply_address",
                format!("reply_address {:?} is not an address", a.reply_address),
            );
        }
    }

    // An SMTP rule's redirect or copy target (§8.2.1) is routed like a mapping target.
    for rule in snap.access.smtp_rules.rules() {
        use crate::smtprules::Action;
        if let Action::Redirect(t) | Action::Copy(t) = &rule.action {
            if let Some(why) = unresolved(&names, t) {
                out.push(RoutingProblem {
                    place: Place::SmtpRules { line: rule.line },
                    message: format!("rule {:?} sends to {t}: {why}", rule.name),
                });
            }
        }
    }
    out
}

/// Why a mapping target or list member names nothing, if it does.
fn unresolved(names: &Names<'_>, t: &str) -> Option<String> {
    match parse_target(t) {
        Err(why) => Some(why),
        Ok(Target::Remote) => None,
        Ok(Target::Name(n)) => {
            (!names.exists(&n)).then(|| format!("there is no user, list or group named {n}"))
        }
        Ok(Target::Address(a)) if names.is_local_domain(a.domain()) => {
            let n = a.local_part_unquoted();
            (!names.exists(&n)).then(|| {
                format!(
                    "{a} is in a local domain, but there is no user, list or group named {n} \
                     (mapping targets and list members are not mapped again, §21.13)"
                )
            })
        }
        Ok(Target::Address(_)) => None,
    }
}

/// Why an assistant, forwarding or size-rule target is not a mailbox or remote address.
fn not_direct(names: &Names<'_>, t: &str) -> Option<String> {
    let local_name = match parse_target(t) {
        Err(why) => return Some(why),
        Ok(Target::Remote) => {
            return Some("*REMOTE is only a mapping target".into());
        }
        Ok(Target::Name(n)) => n,
        Ok(Target::Address(a)) if names.is_local_domain(a.domain()) => {
            a.local_part_unquoted().into_owned()
        }
        Ok(Target::Address(_)) => return None,
    };
    if names.account(&local_name).is_some() {
        return None;
    }
    if names.list(&local_name).is_some() || names.group(&local_name).is_some() {
        return Some(format!(
            "{local_name} is a list or group; assistants and forwarding go only to user \
             mailboxes or remote addresses (§21.13)"
        ));
    }
    Some(format!("there is no user named {local_name}"))
}
