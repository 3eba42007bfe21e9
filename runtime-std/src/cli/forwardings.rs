//! `mailroom list import-forwardings`: turn a VPOP3 forwarding list into lists in
//! `mailroom.toml`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use mailroom_core::router::{self};
use toml_edit::{value, Array, ArrayOfTables, Item, Table};

use super::config_edit::*;
use crate::config::files::load_snapshot;
use crate::config::users;
use crate::platform::datadir::DataDir;

#[derive(Subcommand, Debug)]
pub enum ListCommand {
    /// Show the lists and groups with their members.
    Show,
    /// Import forwardings (§14.5.1): "localname remote@address" per line.
    ImportForwardings {
        file: String,
        /// "Don't import forwardings to": an address or a domain.
        #[arg(long, value_name = "ADDRESS_OR_DOMAIN")]
        ignore_target: Option<String>,
        /// "Remove forwardings to the above address" that exist already.
        #[arg(long, requires = "ignore_target")]
        remove_ignored: bool,
        /// "Replace existing forwardings which match" (same name).
        #[arg(long)]
        replace: bool,
    },
}

pub fn list(dd: &DataDir, command: ListCommand) -> ExitCode {
    match command {
        ListCommand::Show => {
            let snap = match load_snapshot(dd) {
                Ok(s) => s,
                Err(p) => return report(&p),
            };
            let names = router::names::Names::new(&snap);
            for l in &snap.config.lists {
                let members = match l.kind {
                    mailroom_core::config::ListKind::Mailing => {
                        match crate::services::lists::member_lines(dd, &snap.config, l) {
                            Ok(m) => m,
                            Err(e) => return fail(format!("members of {}: {e}", l.name)),
                        }
                    }
                    _ => l.members.join(", "),
                };
                println!(
                    "{} ({}): {}",
                    l.name,
                    match l.kind {
                        mailroom_core::config::ListKind::Distribution => "distribution list",
                        mailroom_core::config::ListKind::Forwarding => "forwarding",
                        mailroom_core::config::ListKind::Mailing => "mailing list",
                    },
                    members
                );
            }
            let builtin = [
                router::names::GroupRef::Everyone,
                router::names::GroupRef::Admins,
                router::names::GroupRef::NoOne,
            ];
            let defined = snap
                .config
                .groups
                .iter()
                .map(router::names::GroupRef::Defined);
            for g in builtin.into_iter().chain(defined) {
                let members: Vec<&str> = names
                    .group_members(g)
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect();
                println!("{} (group): {}", g.name(), members.join(", "));
            }
            ExitCode::SUCCESS
        }
        ListCommand::ImportForwardings {
            file,
            ignore_target,
            remove_ignored,
            replace,
        } => {
            let text = match read_text(Path::new(&file)) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let rules = match parse_forwardings(&text) {
                Ok(r) => r,
                Err(e) => return fail(format!("{file}: {e}")),
            };
            let accounts = match users::list_users(dd) {
                Ok(a) => a,
                Err(p) => return report(&p),
            };
            let mut notes = Vec::new();
            let result = edit_config(dd, |doc| {
                let ignored = |target: &str| {
                    ignore_target
                        .as_deref()
                        .is_some_and(|x| target_matches(target, x))
                };
                let list = array_of_tables(doc, "list")?;
                // Existing entries: removed when ignored (--remove-ignored) or replaced.
                let mut keep = Vec::new();
                for (i, t) in list.iter().enumerate() {
                    let name = t.get("name").and_then(Item::as_str).unwrap_or("");
                    let members: Vec<&str> = t
                        .get("members")
                        .and_then(Item::as_array)
                        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    let is_forwarding = t.get("kind").and_then(Item::as_str) == Some("forwarding");
                    let drop_ignored =
                        remove_ignored && is_forwarding && members.iter().any(|m| ignored(m));
                    let drop_replaced = replace
                        && rules
                            .iter()
                            .any(|(n, to)| n.eq_ignore_ascii_case(name) && !ignored(to));
                    if drop_ignored {
                        notes.push(format!("removed {name} (forwarding to an ignored target)"));
                    }
                    if !(drop_ignored || drop_replaced) {
                        keep.push(i);
                    }
                }
                let mut kept = ArrayOfTables::new();
                for (i, t) in list.iter().enumerate() {
                    if keep.contains(&i) {
                        kept.push(t.clone());
                    }
                }
                *list = kept;
                let mut added = 0;
                for (name, to) in &rules {
                    if ignored(to) {
                        continue;
                    }
                    if accounts.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
                        notes.push(format!("skipped {name}: a user of that name exists"));
                        continue;
                    }
                    let exists = list.iter().any(|t| {
                        t.get("name")
                            .and_then(Item::as_str)
                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    });
                    if exists {
                        notes.push(format!(
                            "skipped {name}: a list of that name exists (use --replace)"
                        ));
                        continue;
                    }
                    let mut t = Table::new();
                    t.insert("name", value(name.as_str()));
                    t.insert("kind", value("forwarding"));
                    let mut members = Array::new();
                    members.push(to.as_str());
                    t.insert("members", value(members));
                    list.push(t);
                    added += 1;
                }
                notes.insert(
                    0,
                    format!(
                        "imported {added} forwarding{}",
                        if added == 1 { "" } else { "s" }
                    ),
                );
                Ok(())
            });
            match result {
                Ok(()) => {
                    for n in &notes {
                        println!("{n}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => e.exit(),
            }
        }
    }
}

/// §14.5.1 lines: `localname remote@address`, blank lines and `#` comments ignored.
pub fn parse_forwardings(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut parts = l.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(to), None) => out.push((name.to_string(), to.to_string())),
            _ => {
                return Err(format!(
                    "line {}: expected \"localname remote@address\"",
                    i + 1
                ))
            }
        }
    }
    Ok(out)
}

/// `x` is an address (exact) or a domain (the target's domain, or a subdomain of it).
fn target_matches(target: &str, x: &str) -> bool {
    if x.contains('@') {
        return target.eq_ignore_ascii_case(x);
    }
    let domain = target.rsplit_once('@').map_or("", |(_, d)| d);
    let x = x.trim_start_matches('@');
    domain.eq_ignore_ascii_case(x)
        || domain
            .to_ascii_lowercase()
            .ends_with(&format!(".{}", x.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_lines_and_targets() {
        let r = parse_forwardings(
            "#Users at office 1\nsue sue@cybercamels.co.uk\n\n philip\tcybercamels2@isp.co.uk\n",
        )
        .unwrap();
        assert_eq!(
            r,
            vec![
                ("sue".to_string(), "sue@cybercamels.co.uk".to_string()),
                ("philip".to_string(), "cybercamels2@isp.co.uk".to_string())
            ]
        );
        assert!(parse_forwardings("a b c\n").is_err());
        assert!(target_matches("sue@CyberCamels.co.uk", "cybercamels.co.uk"));
        assert!(target_matches(
            "x@mail.cybercamels.co.uk",
            "cybercamels.co.uk"
        ));
        assert!(!target_matches(
            "cybercamels2@isp.co.uk",
            "cybercamels.co.uk"
        ));
        assert!(target_matches(
            "cybercamels2@isp.co.uk",
            "Cybercamels2@isp.co.uk"
        ));
        assert!(!target_matches("other@isp.co.uk", "cybercamels2@isp.co.uk"));
    }
}
