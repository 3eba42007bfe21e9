//! `mailroom user set` / `show`: an account's routing options (forwarding, size
//! rules, protocols).

use std::process::ExitCode;

use clap::Args;
use mailroom_core::accounts::{Account, Protocol, SizeAction, SizeRule};

use super::config_edit::*;
use crate::config::users;
use crate::platform::datadir::DataDir;

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
    /// Add the global signature to this account's Internet mail (§4.3.4; "no" needs
    /// SMTP AUTH to take effect).
    #[arg(long, value_name = "yes|no")]
    pub global_signature: Option<OnOffBool>,
    /// Monitor this user's mail when `[monitoring]` says "selected" (§15.1).
    #[arg(long, value_name = "yes|no")]
    pub monitor: Option<OnOffBool>,
    /// Comment (up to 80 characters).
    #[arg(long)]
    pub comment: Option<String>,
    #[command(flatten)]
    pub automail: super::automail_edit::AutomailSet,
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
    if let Err(e) = apply_user_set(&mut account, &set)
        .and_then(|()| super::automail_edit::apply(dd, &mut account, &set.automail))
    {
        return fail(e);
    }
    // The same checks `mailroom check` runs, on the configuration as it would be.
    match replace_account_checked(dd, &account) {
        Ok(()) => {
            println!("Updated {}.", account.name);
            print!("{}", describe_user(&account));
            ExitCode::SUCCESS
        }
        Err(EditError::Problems(problems)) => {
            for p in &problems {
                eprintln!("error: {}", p.message);
            }
            eprintln!("Nothing was changed.");
            ExitCode::FAILURE
        }
        Err(EditError::Io(e)) => fail(e),
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
    if let Some(x) = set.global_signature {
        a.no_signature = !x.get();
    }
    if let Some(x) = set.monitor {
        a.monitor = x.get();
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
            "monitor" => Protocol::Monitor,
            other => {
                return Err(format!(
                "unknown protocol {other:?}; use pop3, imap, smtp, webmail, password, ldap, monitor or all"
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
    if a.no_signature {
        s.push_str("  global signature: not added to this account's mail\n");
    }
    s.push_str(&super::automail_edit::describe(a));
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
    if a.monitor {
        s.push_str("  monitored:        yes ([monitoring] selected)\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
