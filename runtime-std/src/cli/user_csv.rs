//! `mailroom user import|export` (§4.3.2.1, §4.3.2.2: the user database as CSV) and
//! the welcome message of `user add --welcome`.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::config::edit::read_text;
use crate::config::files::load_snapshot;
use crate::config::user_csv::{export_users, import_users, parse_users_csv, ExportOptions};
use crate::config::users;
use crate::platform::datadir::DataDir;
use crate::services::welcome::send_welcome;

#[derive(Args, Debug)]
pub struct Import {
    /// The CSV file: 2, 3, 13 or 14 columns as VPOP3 exports them.
    pub file: String,
    /// Send the welcome message (DIR/WELCOME.MSG) to each user created.
    #[arg(long)]
    pub welcome: bool,
}

#[derive(Args, Debug)]
pub struct Export {
    /// The 13 (or 14) column layout: reply address, assistants, forwarding, comment,
    /// permissions, size limit.
    #[arg(long)]
    pub verbose: bool,
    /// Include each password's hash (it imports back; it cannot be read).
    #[arg(long)]
    pub passwords: bool,
}

pub fn export(dd: &DataDir, e: Export) -> ExitCode {
    match users::list_users(dd) {
        Ok(list) => {
            print!(
                "{}",
                export_users(
                    &list,
                    ExportOptions {
                        verbose: e.verbose,
                        passwords: e.passwords,
                    }
                )
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            ExitCode::FAILURE
        }
    }
}

pub fn import(dd: &DataDir, i: Import) -> ExitCode {
    let rows = match read_text(Path::new(&i.file)).and_then(|t| parse_users_csv(&t)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", i.file);
            return ExitCode::FAILURE;
        }
    };
    let report = import_users(dd, &rows);
    for l in report.lines() {
        println!("{l}");
    }
    if i.welcome {
        for name in &report.created {
            welcome(dd, name);
        }
    }
    if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Deliver the welcome message to `name`, saying so; a failure is reported, not fatal
/// (the account exists either way).
pub fn welcome(dd: &DataDir, name: &str) {
    let result = load_snapshot(dd)
        .map_err(|p| {
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .and_then(|s| send_welcome(dd, &s.config, name).map_err(|e| e.to_string()));
    match result {
        Ok(()) => println!("Sent the welcome message to {name}."),
        Err(e) => eprintln!("warning: no welcome message for {name}: {e}"),
    }
}
