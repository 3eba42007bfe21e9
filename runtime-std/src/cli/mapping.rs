//! `mailroom mapping import` / `export`: the address mappings of `mailroom.toml` as
//! CSV.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::config_edit::*;
use crate::config::files::load_snapshot;
use crate::config::mappings::{export_csv, parse_mapping_csv, push_rows};
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
                push_rows(doc, &rows)
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
            let out = export_csv(&snap.config.mappings, modes);
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
