//! The routing commands of the CLI (docs/ROUTING.md): `route`, `mapping import` /
//! `export`, `list import-forwardings`, `user set` / `show`, and `deliver`.
//!
//! Commands that change `mailroom.toml` edit it in place (comments and layout kept),
//! check the result exactly as `mailroom check` would, and only then replace the file
//! atomically; a running server picks the change up within a couple of seconds.

use std::fs;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mailroom_core::accounts::{Account, Accounts, Protocol, SizeAction, SizeRule};
use mailroom_core::config::{parse_config, MappingMode, Snapshot};
use mailroom_core::router::{self, check_routing, HeaderView, Outcome, Plan, Request, Source};
use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route, ABSOLUTE_MAX_MESSAGE};
use serde::Serialize;
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::config::files::load_snapshot;
use crate::config::problem::Problem;
use crate::config::users;
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::services::deliver;
use crate::store::Store;

// ---------------------------------------------------------------------------------
// mailroom route

/// `mailroom route ADDRESS [--from S] [--source local|smtp|pop3:INMAIL] [--size N] [--json]`.
pub fn route(
    dd: &DataDir,
    address: &str,
    from: Option<&str>,
    source: Option<&str>,
    size: Option<u64>,
    json: bool,
) -> ExitCode {
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(problems) => return report(&problems),
    };
    let source: Source = match source.unwrap_or("smtp").parse() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let address = qualify(address, &snap.config.default_domain);
    if let Err(e) = mailroom_core::address::Mailbox::parse(&address) {
        return fail(format!("{address:?} is not an address: {e}"));
    }
    // Without --from, a stranger for mail from outside and the Main Administrator
    // for local mail, so the explanation shows what happens to a real sender.
    let from = match from {
        Some("") | Some("<>") => None,
        Some(f) => Some(qualify(f, &snap.config.default_domain)),
        None => Some(match source {
            Source::Local => router::names::Names::new(&snap)
                .main_admin()
                .map(|a| format!("{}@{}", a.name, snap.config.default_domain))
                .unwrap_or_else(|| format!("postmaster@{}", snap.config.default_domain)),
            _ => "someone@remote.invalid".to_string(),
        }),
    };
    let recipients = [address.clone()];
    let headers = HeaderView::default();
    let plan = router::route(
        &snap,
        &Request {
            sender: from.as_deref(),
            recipients: &recipients,
            source: &source,
            headers: &headers,
            size,
        },
    );
    let rcpt = rcpt_note(&snap, &source, &plan);
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            address: &'a str,
            source: String,
            from: Option<&'a str>,
            size: Option<u64>,
            smtp_rcpt: Option<&'a str>,
            plan: &'a Plan,
        }
        let out = Out {
            address: &address,
            source: source.to_string(),
            from: from.as_deref(),
            size,
            smtp_rcpt: rcpt.as_deref(),
            plan: &plan,
        };
        return match serde_json::to_string_pretty(&out) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    println!(
        "Mail to <{address}> from <{}>, source {source}{}:",
        from.as_deref().unwrap_or(""),
        size.map(|s| format!(", {s} octets")).unwrap_or_default()
    );
    print!("{}", plan.explain());
    println!();
    println!("{}", summary(&plan));
    if let Some(note) = rcpt {
        println!("{note}");
    }
    ExitCode::SUCCESS
}

/// What an SMTP client would be told at RCPT, when that differs from "accepted".
fn rcpt_note(snap: &Snapshot, source: &Source, plan: &Plan) -> Option<String> {
    let r = plan.envelope_recipients().next()?;
    match (source, &r.outcome) {
        (Source::Smtp | Source::Local, Outcome::Unknown { .. })
            if snap.config.smtp.reject_unknown_local =>
        {
            Some("By SMTP this recipient is refused at RCPT: 550 5.1.1 Recipient not recognised ([smtp] reject_unknown_local).".into())
        }
        (Source::Smtp, _) if r.via_remote => Some(
            "By SMTP from outside, this needs relaying rights (authentication or an SMTPALLOWED.DAT entry); others get 550 5.7.1.".into(),
        ),
        _ => None,
    }
}

fn summary(plan: &Plan) -> String {
    let mut parts = Vec::new();
    if !plan.mailboxes.is_empty() {
        parts.push(format!("deliver to mailbox {}", plan.mailboxes.join(", ")));
    }
    if !plan.remote.is_empty() {
        parts.push(format!(
            "queue for {} (envelope sender <{}>)",
            plan.remote.join(", "),
            plan.outbound_sender.as_deref().unwrap_or("")
        ));
    }
    for n in &plan.notices {
        parts.push(format!("error message to {}", n.to));
    }
    if !plan.bounces.is_empty() {
        parts.push("bounce to the sender".into());
    }
    for d in &plan.discards {
        parts.push(format!("discard ({})", d.reason));
    }
    if parts.is_empty() {
        parts.push("nothing is stored".into());
    }
    format!("Plan: {}.", parts.join("; "))
}

fn qualify(address: &str, domain: &str) -> String {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    if a.contains('@') {
        a.to_string()
    } else {
        format!("{a}@{domain}")
    }
}

// ---------------------------------------------------------------------------------
// mailroom mapping ...

#[derive(Subcommand, Debug)]
pub enum MappingCommand {
    /// List the mappings.
    List,
    /// Import mappings from a CSV file (§5.6): "address","target" per line, optionally
    /// followed by mode and In Mail.
    Import {
        file: String,
        /// Delete all existing mappings first.
        #[arg(long)]
        replace: bool,
    },
    /// Export the mappings as CSV (§5.7) to FILE or standard output.
    Export {
        file: Option<String>,
        /// Add the mode and In Mail columns.
        #[arg(long)]
        modes: bool,
    },
}

pub fn mapping(dd: &DataDir, command: MappingCommand) -> ExitCode {
    match command {
        MappingCommand::List => match load_snapshot(dd) {
            Ok(snap) if snap.config.mappings.is_empty() => {
                println!("No mappings.");
                ExitCode::SUCCESS
            }
            Ok(snap) => {
                for m in &snap.config.mappings {
                    let mut line = format!("{} -> {}  ({}", m.address, m.target, m.mode.as_str());
                    if let Some(i) = &m.inmail {
                        line.push_str(&format!(", In Mail {i}"));
                    }
                    line.push(')');
                    if !m.comment.is_empty() {
                        line.push_str(&format!("  {}", m.comment));
                    }
                    println!("{line}");
                }
                ExitCode::SUCCESS
            }
            Err(p) => report(&p),
        },
        MappingCommand::Import { file, replace } => {
            let text = match read_text(Path::new(&file)) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let rows = match parse_mapping_csv(&text) {
                Ok(r) => r,
                Err(e) => return fail(format!("{file}: {e}")),
            };
            let n = rows.len();
            let result = edit_config(dd, |doc| {
                if replace {
                    doc.remove("mapping");
                }
                let list = array_of_tables(doc, "mapping")?;
                for row in &rows {
                    let mut t = Table::new();
                    t.insert("address", value(row.address.as_str()));
                    t.insert("target", value(row.target.as_str()));
                    if row.mode != MappingMode::Always {
                        t.insert("mode", value(row.mode.as_str()));
                    }
                    if let Some(i) = &row.inmail {
                        t.insert("inmail", value(i.as_str()));
                    }
                    list.push(t);
                }
                Ok(())
            });
            match result {
                Ok(()) => {
                    println!(
                        "Imported {n} mapping{}{}.",
                        if n == 1 { "" } else { "s" },
                        if replace {
                            " (the old mappings were removed)"
                        } else {
                            ""
                        }
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => e.exit(),
            }
        }
        MappingCommand::Export { file, modes } => {
            let snap = match load_snapshot(dd) {
                Ok(s) => s,
                Err(p) => return report(&p),
            };
            let mut out = String::new();
            for m in &snap.config.mappings {
                out.push_str(&format!(
                    "{},{}",
                    csv_field(&m.address),
                    csv_field(&m.target)
                ));
                if modes {
                    out.push_str(&format!(
                        ",{},{}",
                        csv_field(m.mode.as_str()),
                        csv_field(m.inmail.as_deref().unwrap_or(""))
                    ));
                }
                out.push_str("\r\n");
            }
            match file {
                Some(f) => match fs::write(&f, out) {
                    Ok(()) => {
                        println!(
                            "Exported {} mapping{} to {f}.",
                            snap.config.mappings.len(),
                            if snap.config.mappings.len() == 1 {
                                ""
                            } else {
                                "s"
                            }
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(format!("{f}: {e}")),
                },
                None => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub address: String,
    pub target: String,
    pub mode: MappingMode,
    pub inmail: Option<String>,
}

/// Parse mapping CSV: two fields (address, target), optionally mode and In Mail. Blank
/// lines, `#` comments and a heading line are skipped.
pub fn parse_mapping_csv(text: &str) -> Result<Vec<MappingRow>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = csv_split(trimmed).map_err(|e| format!("line {n}: {e}"))?;
        if rows.is_empty()
            && fields.first().is_some_and(|f| {
                [
                    "address",
                    "email address",
                    "email addr",
                    "external email address",
                ]
                .iter()
                .any(|h| f.eq_ignore_ascii_case(h))
            })
        {
            continue;
        }
        let get = |k: usize| fields.get(k).map(|s| s.trim()).unwrap_or("");
        if fields.len() < 2 || get(0).is_empty() || get(1).is_empty() {
            return Err(format!(
                "line {n}: expected two fields, the address and the target mailbox"
            ));
        }
        let mode = match get(2).to_ascii_lowercase().as_str() {
            "" | "always" => MappingMode::Always,
            "pop3" => MappingMode::Pop3,
            "smtp" => MappingMode::Smtp,
            "sender" => MappingMode::Sender,
            other => {
                return Err(format!(
                    "line {n}: unknown mode {other:?}; use always, pop3, smtp or sender"
                ))
            }
        };
        rows.push(MappingRow {
            address: get(0).to_string(),
            target: get(1).to_string(),
            mode,
            inmail: Some(get(3).to_string()).filter(|s| !s.is_empty()),
        });
    }
    Ok(rows)
}

/// Split one CSV line (RFC 4180 quoting; `""` inside quotes is a quote).
fn csv_split(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() && !was_quoted => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(cur);
    Ok(fields)
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------
// mailroom list import-forwardings

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
                println!(
                    "{} ({}): {}",
                    l.name,
                    match l.kind {
                        mailroom_core::config::ListKind::Distribution => "distribution list",
                        mailroom_core::config::ListKind::Forwarding => "forwarding",
                    },
                    l.members.join(", ")
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

// ---------------------------------------------------------------------------------
// mailroom user set / show

/// Yes, no, or back to the default (the group's setting, else allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tri {
    Yes,
    No,
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Args, Debug)]
pub struct UserSet {
    pub name: String,
    /// Forward To (§4.2.3.1.6.2): a user or address; repeat for several. Turns
    /// forwarding on (no local copy is kept) unless --forwarding off is given.
    #[arg(long, value_name = "USER_OR_ADDRESS")]
    pub forward: Vec<String>,
    /// Remove every Forward To entry.
    #[arg(long, conflicts_with = "forward")]
    pub no_forward: bool,
    /// Use Forwarding: on or off, keeping the Forward To entries.
    #[arg(long)]
    pub forwarding: Option<OnOff>,
    /// Assistant (§4.2.3.1.6.1): a user or address that gets a copy; repeat for several.
    #[arg(long, value_name = "USER_OR_ADDRESS")]
    pub assistant: Vec<String>,
    /// Remove every assistant.
    #[arg(long, conflicts_with = "assistant")]
    pub no_assistants: bool,
    /// "Redirect to assistant (don't keep a local copy)".
    #[arg(long, value_name = "yes|no")]
    pub assistant_redirect: Option<OnOffBool>,
    /// Size rule "if message >= KB kB": `KB:copy:TARGET[;TARGET]`, `KB:redirect:...`, or `off`.
    #[arg(long, value_name = "RULE")]
    pub size_at_least: Option<String>,
    /// Size rule "if message <= KB kB": same form.
    #[arg(long, value_name = "RULE")]
    pub size_at_most: Option<String>,
    /// Change Internet Mail Reply Address to (§4.2.3.4.2); "" clears it.
    #[arg(long, value_name = "ADDRESS")]
    pub reply_address: Option<String>,
    /// Group (§4.2.3.1.2); "" for none.
    #[arg(long)]
    pub group: Option<String>,
    /// Put user in the Everyone list.
    #[arg(long)]
    pub in_everyone: Option<Tri>,
    /// Allow sending of Internet mail.
    #[arg(long)]
    pub send_internet: Option<Tri>,
    /// Allow receiving of Internet mail.
    #[arg(long)]
    pub receive_internet: Option<Tri>,
    /// Allowed protocols, comma-separated (pop3,imap,smtp,webmail,password,ldap), or `all`.
    #[arg(long, value_name = "LIST")]
    pub protocols: Option<String>,
    /// Administrator.
    #[arg(long, value_name = "yes|no")]
    pub admin: Option<OnOffBool>,
    /// Comment (up to 80 characters).
    #[arg(long)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOffBool {
    Yes,
    No,
}

impl OnOffBool {
    fn get(self) -> bool {
        self == OnOffBool::Yes
    }
}

pub fn user_set(dd: &DataDir, set: UserSet) -> ExitCode {
    let mut account = match users::read_user(dd, &set.name) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if let Err(e) = apply_user_set(&mut account, &set) {
        return fail(e);
    }
    // The same checks `mailroom check` runs, on the configuration as it would be.
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(p) => return report(&p),
    };
    let mut all: Vec<Account> = snap
        .accounts
        .iter()
        .filter(|a| a.name != account.name)
        .cloned()
        .collect();
    all.push(account.clone());
    let candidate = Snapshot {
        config: snap.config.clone(),
        accounts: Accounts::new(all),
        access: snap.access.clone(),
    };
    let problems: Vec<String> = check_routing(&candidate)
        .into_iter()
        .filter(
            |p| matches!(&p.place, router::Place::Account { name, .. } if *name == account.name),
        )
        .map(|p| p.message)
        .collect();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!("Nothing was changed.");
        return ExitCode::FAILURE;
    }
    match users::replace_account(dd, &account) {
        Ok(()) => {
            println!("Updated {}.", account.name);
            print!("{}", describe_user(&account));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn apply_user_set(a: &mut Account, set: &UserSet) -> Result<(), String> {
    if set.no_forward {
        a.forward_to.clear();
        a.use_forwarding = false;
    }
    if !set.forward.is_empty() {
        a.forward_to = split_targets(&set.forward);
        a.use_forwarding = true;
    }
    if let Some(f) = set.forwarding {
        a.use_forwarding = f == OnOff::On;
    }
    if set.no_assistants {
        a.assistants.clear();
        a.assistant_redirect = false;
    }
    if !set.assistant.is_empty() {
        a.assistants = split_targets(&set.assistant);
    }
    if let Some(r) = set.assistant_redirect {
        a.assistant_redirect = r.get();
    }
    if let Some(r) = &set.size_at_least {
        a.size_at_least = parse_size_rule(r)?;
    }
    if let Some(r) = &set.size_at_most {
        a.size_at_most = parse_size_rule(r)?;
    }
    if let Some(r) = &set.reply_address {
        a.reply_address = r.trim().to_string();
    }
    if let Some(g) = &set.group {
        a.group = g.trim().to_string();
    }
    let tri = |t: Tri| match t {
        Tri::Yes => Some(true),
        Tri::No => Some(false),
        Tri::Default => None,
    };
    if let Some(t) = set.in_everyone {
        a.in_everyone = tri(t);
    }
    if let Some(t) = set.send_internet {
        a.send_internet = tri(t);
    }
    if let Some(t) = set.receive_internet {
        a.receive_internet = tri(t);
    }
    if let Some(p) = &set.protocols {
        a.protocols = parse_protocols(p)?;
    }
    if let Some(x) = set.admin {
        a.admin = x.get();
    }
    if let Some(c) = &set.comment {
        if c.chars().count() > mailroom_core::accounts::MAX_COMMENT_LEN {
            return Err("the comment is longer than 80 characters".into());
        }
        a.comment = c.clone();
    }
    Ok(())
}

/// Repeated options, each of which may also hold `;`-separated entries (VPOP3's form).
fn split_targets(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split([';', ',']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `KB:copy|redirect:TARGET[;TARGET]` or `off`.
pub fn parse_size_rule(s: &str) -> Result<Option<SizeRule>, String> {
    if s.eq_ignore_ascii_case("off") || s.trim().is_empty() {
        return Ok(None);
    }
    let bad =
        || format!("size rule {s:?}: write KB:copy:TARGET[;TARGET], KB:redirect:TARGET or off");
    let mut parts = s.splitn(3, ':');
    let kb: u64 = parts
        .next()
        .and_then(|k| k.trim().parse().ok())
        .ok_or_else(bad)?;
    let action = match parts.next().map(|a| a.trim().to_ascii_lowercase()) {
        Some(a) if a == "copy" => SizeAction::Copy,
        Some(a) if a == "redirect" => SizeAction::Redirect,
        _ => return Err(bad()),
    };
    let to = split_targets(&[parts.next().ok_or_else(bad)?.to_string()]);
    if kb == 0 || to.is_empty() {
        return Ok(None);
    }
    Ok(Some(SizeRule { kb, action, to }))
}

fn parse_protocols(s: &str) -> Result<Option<Vec<Protocol>>, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let mut out = Vec::new();
    for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let proto = match p.to_ascii_lowercase().as_str() {
            "pop3" => Protocol::Pop3,
            "imap" => Protocol::Imap,
            "smtp" => Protocol::Smtp,
            "webmail" => Protocol::Webmail,
            "password" => Protocol::Password,
            "ldap" => Protocol::Ldap,
            other => {
                return Err(format!(
                "unknown protocol {other:?}; use pop3, imap, smtp, webmail, password, ldap or all"
            ))
            }
        };
        if !out.contains(&proto) {
            out.push(proto);
        }
    }
    Ok(Some(out))
}

pub fn user_show(dd: &DataDir, name: &str) -> ExitCode {
    match users::read_user(dd, name) {
        Ok(a) => {
            print!("{}", describe_user(&a));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn describe_user(a: &Account) -> String {
    let yn = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "default",
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join("; ")
        }
    };
    let rule = |r: &Option<SizeRule>| match r {
        None => "off".to_string(),
        Some(r) => format!(
            "{} kB: {} to {}",
            r.kb,
            match r.action {
                SizeAction::Copy => "copy",
                SizeAction::Redirect => "redirect",
            },
            r.to.join("; ")
        ),
    };
    let mut s = String::new();
    s.push_str(&format!(
        "user {}{}\n",
        a.name,
        if a.admin { " (administrator)" } else { "" }
    ));
    if !a.comment.is_empty() {
        s.push_str(&format!("  comment:          {}\n", a.comment));
    }
    s.push_str(&format!(
        "  group:            {}\n",
        if a.group.is_empty() { "-" } else { &a.group }
    ));
    s.push_str(&format!(
        "  assistants:       {}{}\n",
        list(&a.assistants),
        if a.assistant_redirect {
            " (redirect: no local copy)"
        } else {
            ""
        }
    ));
    s.push_str(&format!(
        "  forward to:       {} ({})\n",
        list(&a.forward_to),
        if a.use_forwarding {
            "on: no local copy"
        } else {
            "off"
        }
    ));
    s.push_str(&format!("  size >= rule:     {}\n", rule(&a.size_at_least)));
    s.push_str(&format!("  size <= rule:     {}\n", rule(&a.size_at_most)));
    s.push_str(&format!(
        "  reply address:    {}\n",
        if a.reply_address.is_empty() {
            "-"
        } else {
            &a.reply_address
        }
    ));
    s.push_str(&format!("  in Everyone:      {}\n", yn(a.in_everyone)));
    s.push_str(&format!("  send Internet:    {}\n", yn(a.send_internet)));
    s.push_str(&format!("  receive Internet: {}\n", yn(a.receive_internet)));
    s.push_str(&format!(
        "  protocols:        {}\n",
        match &a.protocols {
            None => "all".to_string(),
            Some(p) => p
                .iter()
                .map(|p| format!("{p:?}").to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(","),
        }
    ));
    s
}

// ---------------------------------------------------------------------------------
// mailroom deliver

#[derive(Args, Debug)]
pub struct DeliverArgs {
    /// Envelope sender (omit or "" for the null sender <>).
    #[arg(long, value_name = "SENDER")]
    pub from: Option<String>,
    /// Where the message comes from: local, smtp, or pop3:INMAIL (collected mail).
    #[arg(long, default_value = "local")]
    pub source: String,
    /// Recipients.
    #[arg(required = true, value_name = "RECIPIENT")]
    pub to: Vec<String>,
}

/// `mailroom deliver`: route a message read from standard input and store it, as the
/// server does at the end of DATA. For handing in collected mail (e.g. as fetchmail's
/// MDA) and for local programs. Exit 0 when stored, 75 (EX_TEMPFAIL) to retry later.
pub fn deliver(dd: &DataDir, args: DeliverArgs) -> ExitCode {
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(p) => return report(&p),
    };
    let source: Source = match args.source.parse() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let limit = match snap.config.smtp.max_message_size {
        0 => ABSOLUTE_MAX_MESSAGE,
        n => n.min(ABSOLUTE_MAX_MESSAGE),
    };
    let mut raw = Vec::new();
    if let Err(e) = io::stdin().lock().take(limit + 1).read_to_end(&mut raw) {
        return fail(format!("cannot read the message: {e}"));
    }
    if raw.len() as u64 > limit {
        return fail(format!("the message is larger than {limit} octets"));
    }
    let data = crlf(&raw);
    let domain = &snap.config.default_domain;
    let from = args
        .from
        .as_deref()
        .map(|f| f.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|f| !f.is_empty())
        .map(|f| qualify(f, domain));
    let recipients = args
        .to
        .iter()
        .map(|t| Recipient {
            address: qualify(t, domain),
            route: Route::Unknown,
            dsn_notify: None,
            dsn_orcpt: None,
        })
        .collect();
    let mut delivery = Delivery {
        id: format!(
            "cli{}.{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0),
            std::process::id()
        ),
        envelope: Envelope {
            mail_from: from,
            recipients,
            helo: "localhost".into(),
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            auth_user: None,
            eight_bit: true,
            dsn_ret: None,
            dsn_envid: None,
        },
        data,
    };
    let store = match Store::open(dd) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match deliver::route_and_store(&store, &snap, &mut delivery, &source) {
        Ok(plan) => {
            println!("{}", summary(&plan));
            ExitCode::SUCCESS
        }
        Err(e) if e.temporary => {
            eprintln!("error: {} (try again later)", e.text);
            ExitCode::from(75)
        }
        Err(e) => fail(e.text),
    }
}

/// Bare LF line ends as CRLF, the form the store keeps (as SMTP delivers it).
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

// ---------------------------------------------------------------------------------
// Editing mailroom.toml

pub enum EditError {
    /// Reading, parsing or writing the file.
    Io(String),
    /// The edited configuration would not pass `mailroom check`.
    Problems(Vec<Problem>),
}

impl EditError {
    fn exit(self) -> ExitCode {
        match self {
            EditError::Io(e) => fail(e),
            EditError::Problems(p) => {
                for x in &p {
                    eprintln!("{x}");
                }
                eprintln!(
                    "The configuration was not changed: the result would have the problems above."
                );
                ExitCode::FAILURE
            }
        }
    }
}

fn array_of_tables<'d>(
    doc: &'d mut DocumentMut,
    key: &str,
) -> Result<&'d mut ArrayOfTables, EditError> {
    let item = doc
        .entry(key)
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    item.as_array_of_tables_mut().ok_or_else(|| {
        EditError::Io(format!(
            "`{key}` in mailroom.toml is not written as [[{key}]] tables; edit it by hand"
        ))
    })
}

/// Edit `mailroom.toml` with `f`, check the result like `mailroom check`, and replace
/// the file atomically only if it passes.
pub fn edit_config(
    dd: &DataDir,
    f: impl FnOnce(&mut DocumentMut) -> Result<(), EditError>,
) -> Result<(), EditError> {
    let path = dd.config_file();
    let text =
        fs::read_to_string(&path).map_err(|e| EditError::Io(format!("{}: {e}", path.display())))?;
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| EditError::Io(format!("{}: {e}", path.display())))?;
    f(&mut doc)?;
    let new_text = doc.to_string();
    let config = parse_config(&new_text).map_err(|errors| {
        EditError::Problems(
            errors
                .into_iter()
                .map(|e| Problem::new(&path, Some(e.line), e.message))
                .collect(),
        )
    })?;
    let accounts = users::list_users(dd).map_err(EditError::Problems)?;
    let candidate = Snapshot {
        config,
        accounts: Accounts::new(accounts),
        access: Default::default(),
    };
    let problems: Vec<Problem> = check_routing(&candidate)
        .into_iter()
        .map(|p| match p.place {
            router::Place::Config { line } => Problem::new(&path, Some(line), p.message),
            router::Place::Account { name, .. } => {
                Problem::new(dd.account_file(&name), None, p.message)
            }
        })
        .collect();
    if !problems.is_empty() {
        return Err(EditError::Problems(problems));
    }
    write_atomically(&path, new_text.as_bytes())
        .map_err(|e| EditError::Io(format!("{}: {e}", path.display())))
}

fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    durable::replace(path, data, Access::Normal)
}

/// A text file, refused above 16 MiB (an import file, not a mailbox).
fn read_text(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 16 << 20 {
        return Err(format!("{}: too large for an import file", path.display()));
    }
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // VPOP3 wrote Windows code pages; keep what is readable rather than refuse.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

fn report(problems: &[Problem]) -> ExitCode {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!("Fix the configuration first (`mailroom check` lists the problems).");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows() {
        let rows = parse_mapping_csv(
            "\"Email Address\",\"Mailbox\"\n\"sales@example.com\",\"fred\"\n\n# note\nsupport, \"bob\" ,smtp\n\"a,\"\"b\"\"@x\",c,pop3,isp\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].address, "sales@example.com");
        assert_eq!(rows[1].target, "bob");
        assert_eq!(rows[1].mode, MappingMode::Smtp);
        assert_eq!(rows[2].address, "a,\"b\"@x");
        assert_eq!(rows[2].inmail.as_deref(), Some("isp"));
        assert!(parse_mapping_csv("onlyone\n").is_err());
        assert!(parse_mapping_csv("a,b,never\n").is_err());
        assert!(parse_mapping_csv("\"open,b\n").is_err());
    }

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

    #[test]
    fn size_rules_and_protocols() {
        assert_eq!(parse_size_rule("off"), Ok(None));
        assert_eq!(
            parse_size_rule("100:copy:a@x.test;bob"),
            Ok(Some(SizeRule {
                kb: 100,
                action: SizeAction::Copy,
                to: vec!["a@x.test".into(), "bob".into()]
            }))
        );
        assert_eq!(parse_size_rule("0:redirect:bob"), Ok(None));
        assert!(parse_size_rule("x:copy:bob").is_err());
        assert!(parse_size_rule("5:move:bob").is_err());
        assert_eq!(parse_protocols("all"), Ok(None));
        assert_eq!(
            parse_protocols("POP3, smtp,pop3"),
            Ok(Some(vec![Protocol::Pop3, Protocol::Smtp]))
        );
        assert!(parse_protocols("gopher").is_err());
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }
}
