//! `mailroom ids list | block ADDR | unblock ADDR`: the IDS/IPS block list
//! (docs/DEFENSE.md). The file is shared with a running server, which sees a change
//! at its next connection.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use mailroom_core::ids::MAX_BLOCK;

use crate::config::files::load_snapshot;
use crate::platform::datadir::DataDir;
use crate::platform::datetime::iso8601;
use crate::services::defense::{edit_block_list, read_block_list};

#[derive(Subcommand, Debug)]
pub enum IdsCommand {
    /// List the blocked addresses, until when and why.
    List,
    /// Block an address now (refused at connect by every service).
    Block {
        address: IpAddr,
        /// For how long (default: `[ids] block_minutes`).
        #[arg(long, value_name = "N")]
        minutes: Option<u32>,
        /// Shown by `ids list`.
        #[arg(long, default_value = "blocked by the administrator")]
        reason: String,
    },
    /// Take an address off the block list.
    Unblock { address: IpAddr },
}

pub fn ids(dd: &DataDir, command: IdsCommand) -> ExitCode {
    match command {
        IdsCommand::List => match read_block_list(dd) {
            Ok((ids, now)) => {
                let mut any = false;
                for (ip, b) in ids.blocked(now) {
                    any = true;
                    println!("{ip}  until {}  {}", iso8601(b.until.unix_secs()), b.reason);
                }
                if !any {
                    println!("No blocked addresses.");
                }
                ExitCode::SUCCESS
            }
            Err(e) => super::fail(format!("cannot read the block list: {e}")),
        },
        IdsCommand::Block {
            address,
            minutes,
            reason,
        } => {
            let minutes = match minutes {
                Some(m) => m,
                None => match load_snapshot(dd) {
                    Ok(snap) => snap.config.ids.block_minutes,
                    Err(p) => return super::report_problems(&p),
                },
            };
            let span = Duration::from_secs(u64::from(minutes) * 60).min(MAX_BLOCK);
            if span.is_zero() {
                return super::fail("--minutes must be at least 1");
            }
            let done = edit_block_list(dd, |ids, now| {
                let until = now + span;
                ids.block(address, until, &reason, now);
                until
            });
            match done {
                Ok(until) => {
                    println!("{address} blocked until {}.", iso8601(until.unix_secs()));
                    if let Ok(snap) = load_snapshot(dd) {
                        if snap.config.ids.never_blocked(address) {
                            println!(
                                "Note: {address} is in [ids] never_block, which wins: it is not refused."
                            );
                        } else if !snap.config.ids.enabled {
                            println!("Note: [ids] enabled = false: the block list is not used.");
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => super::fail(format!("cannot write the block list: {e}")),
            }
        }
        IdsCommand::Unblock { address } => {
            match edit_block_list(dd, |ids, _| ids.unblock(address)) {
                Ok(true) => {
                    println!("{address} unblocked.");
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    println!("{address} was not blocked.");
                    ExitCode::SUCCESS
                }
                Err(e) => super::fail(format!("cannot write the block list: {e}")),
            }
        }
    }
}
