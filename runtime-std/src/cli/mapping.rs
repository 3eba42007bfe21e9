//! `mailroom mapping import` / `export`: the address mappings of `mailroom.toml` as
//! CSV.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use mailroom_core::config::MappingMode;
use toml_edit::{value, Table};

use super::config_edit::*;
use crate::config::files::load_snapshot;
use crate::platform::datadir::DataDir;

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
}
