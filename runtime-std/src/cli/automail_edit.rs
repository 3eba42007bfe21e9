//! `mailroom user set`'s autoresponder and quota options (issue 15; INTERFACE.md):
//! `--autoresponder FILE|off`, `--autoresponder-once`, `--autoresponder-keep`,
//! `--quota`, and the settings docs/AUTOMAIL.md adds (clearing period, external
//! command, header filters and triggers, clearing the once-per-sender memory).

use clap::Args;
use mailroom_core::accounts::{Account, ClearPeriod};

use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};

/// Largest autoresponder text accepted from a file.
const MAX_TEXT: u64 = 256 * 1024;

/// yes or no (its own type: importing `account_edit`'s would make an import loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum YesNo {
    Yes,
    No,
}

#[derive(Args, Debug, Default)]
pub struct AutomailSet {
    /// The simple autoresponder (§4.2.3.2.1): FILE's text becomes the account's
    /// autoresponder text and the autoresponder is turned on; `off` turns it off
    /// (the text stays).
    #[arg(long, value_name = "FILE|off")]
    pub autoresponder: Option<String>,
    /// Answer each sender only once (until the memory is cleared).
    #[arg(long, value_name = "yes|no")]
    pub autoresponder_once: Option<YesNo>,
    /// Keep the incoming message in the mailbox after answering.
    #[arg(long, value_name = "yes|no")]
    pub autoresponder_keep: Option<YesNo>,
    /// When the once-per-sender memory is cleared: never, daily, weekly,
    /// fortnightly, monthly.
    #[arg(long, value_name = "PERIOD")]
    pub autoresponder_clear: Option<String>,
    /// Forget every sender answered so far ("Clear Log Now").
    #[arg(long)]
    pub autoresponder_forget: bool,
    /// An external autoresponder program's command line (§4.2.3.2.2), or `off`.
    #[arg(long, value_name = "COMMAND|off")]
    pub autoresponder_command: Option<String>,
    /// Header filter `Field: pattern` (repeat for several; `off` clears them).
    #[arg(long, value_name = "RULE")]
    pub autoresponder_filter: Vec<String>,
    /// Header trigger `Field: pattern` (repeat for several; `off` clears them).
    #[arg(long, value_name = "RULE")]
    pub autoresponder_trigger: Vec<String>,
    /// Mailbox quota (§4.3.3): octets, or with k/M/G (1024-based); 0 or `off` = none.
    #[arg(long, value_name = "SIZE")]
    pub quota: Option<String>,
}

/// Apply the options to `a`; a new autoresponder text is written at once (the
/// account file is written by the caller after its checks).
pub fn apply(dd: &DataDir, a: &mut Account, set: &AutomailSet) -> Result<(), String> {
    let ar = &mut a.autoresponder;
    if let Some(f) = &set.autoresponder {
        if f.eq_ignore_ascii_case("off") {
            ar.enabled = false;
        } else {
            let text = read_text(f)?;
            durable::replace(
                &dd.autoresponder_text(&a.name),
                text.as_bytes(),
                Access::Normal,
            )
            .map_err(|e| format!("cannot write the autoresponder text: {e}"))?;
            ar.enabled = true;
        }
    }
    if let Some(x) = set.autoresponder_once {
        ar.once = x == YesNo::Yes;
    }
    if let Some(x) = set.autoresponder_keep {
        ar.keep = x == YesNo::Yes;
    }
    if let Some(p) = &set.autoresponder_clear {
        ar.clear = parse_clear(p)?;
    }
    if let Some(c) = &set.autoresponder_command {
        ar.command = if c.eq_ignore_ascii_case("off") {
            String::new()
        } else {
            c.trim().to_string()
        };
    }
    rules(&mut ar.filters, &set.autoresponder_filter)?;
    rules(&mut ar.triggers, &set.autoresponder_trigger)?;
    if set.autoresponder_forget {
        match std::fs::remove_file(dd.autoresponder_sent(&a.name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot clear the autoresponder's memory: {e}")),
        }
    }
    if let Some(q) = &set.quota {
        a.quota = parse_size(q)?;
    }
    Ok(())
}

fn read_text(path: &str) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut text = String::new();
    f.take(MAX_TEXT + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {path} as UTF-8 text: {e}"))?;
    if text.len() as u64 > MAX_TEXT {
        return Err(format!("{path} is longer than {MAX_TEXT} bytes"));
    }
    Ok(text)
}

fn rules(into: &mut Vec<String>, given: &[String]) -> Result<(), String> {
    if given.is_empty() {
        return Ok(());
    }
    if given.iter().any(|g| g.eq_ignore_ascii_case("off")) {
        into.clear();
        return Ok(());
    }
    for g in given {
        if !g.contains(':') {
            return Err(format!("header rule {g:?}: write `Field: pattern`"));
        }
    }
    *into = given.iter().map(|g| g.trim().to_string()).collect();
    Ok(())
}

fn parse_clear(p: &str) -> Result<ClearPeriod, String> {
    Ok(match p.to_ascii_lowercase().as_str() {
        "never" => ClearPeriod::Never,
        "daily" => ClearPeriod::Daily,
        "weekly" => ClearPeriod::Weekly,
        "fortnightly" => ClearPeriod::Fortnightly,
        "monthly" => ClearPeriod::Monthly,
        _ => {
            return Err(format!(
                "--autoresponder-clear {p:?}: never, daily, weekly, fortnightly or monthly"
            ))
        }
    })
}

/// `123`, `500k`, `10M`, `1G` (1024-based), `0` or `off`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                _ => return Err(format!("size {s:?}: use octets or k, M, G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("size {s:?}: use octets or k, M, G"))
}

/// The lines `mailroom user show` adds.
pub fn describe(a: &Account) -> String {
    let ar = &a.autoresponder;
    let mut s = format!(
        "  autoresponder:    {}{}, once per sender: {}, keep: {}\n",
        if ar.enabled { "on" } else { "off" },
        if ar.command.is_empty() {
            String::new()
        } else {
            format!(" (external: {})", ar.command)
        },
        if ar.once { "yes" } else { "no" },
        if ar.keep { "yes" } else { "no" },
    );
    s.push_str(&format!(
        "  quota:            {}\n",
        if a.quota == 0 {
            "none".to_string()
        } else {
            format!("{} octets", a.quota)
        }
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("500k"), Ok(500 << 10));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("off"), Ok(0));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
