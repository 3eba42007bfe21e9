//! `mailroom mailbox ...`: an administrator's look into a user's INBOX (USR-6): list,
//! show raw, hold and release, delete, move and copy to another user, purge.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::config_edit::*;
use crate::config::files::load_snapshot;
use crate::platform::datadir::DataDir;
use crate::services::mailbox_admin::{self as admin, Transfer};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum MailboxCommand {
    /// List the messages of USER's INBOX (held ones marked).
    List { user: String },
    /// Write message UID of USER's INBOX, raw, to standard output.
    Show { user: String, uid: u32 },
    /// Hide messages from USER's mail programs without deleting them.
    Hold {
        user: String,
        #[arg(required = true)]
        uids: Vec<u32>,
    },
    /// Show held messages again.
    Release {
        user: String,
        #[arg(required = true)]
        uids: Vec<u32>,
    },
    /// Delete messages for good.
    Delete {
        user: String,
        #[arg(required = true)]
        uids: Vec<u32>,
    },
    /// Move messages to another user (routed, so their assistants and forwarding
    /// apply, unless --direct).
    Move {
        user: String,
        #[arg(required = true)]
        uids: Vec<u32>,
        #[arg(long, value_name = "USER")]
        to: String,
        /// Straight into the other user's INBOX ("Use direct copy").
        #[arg(long)]
        direct: bool,
    },
    /// Copy messages to another user (as move, keeping the originals).
    Copy {
        user: String,
        #[arg(required = true)]
        uids: Vec<u32>,
        #[arg(long, value_name = "USER")]
        to: String,
        #[arg(long)]
        direct: bool,
    },
    /// Delete every message in USER's INBOX, held ones too.
    Purge { user: String },
}

pub fn mailbox(dd: &DataDir, command: MailboxCommand) -> ExitCode {
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(p) => return report(&p),
    };
    let store = match Store::open(dd) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let done = |r: Result<String, String>| match r {
        Ok(m) => {
            println!("{m}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match command {
        MailboxCommand::List { user } => match admin::list(&store, &snap, &user) {
            Ok(l) if l.is_empty() => done(Ok(format!("{user}'s INBOX is empty."))),
            Ok(l) => {
                for e in l {
                    println!(
                        "{:>6}  {}{:>9} octets  {}  from {}  {}",
                        e.uid,
                        if e.held { "held " } else { "" },
                        e.size,
                        e.date,
                        e.from,
                        e.subject
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        MailboxCommand::Show { user, uid } => match admin::raw(&store, &snap, &user, uid) {
            Ok(data) => {
                let mut out = std::io::stdout().lock();
                match out.write_all(&data).and_then(|()| out.flush()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(e),
                }
            }
            Err(e) => fail(e),
        },
        MailboxCommand::Hold { user, uids } => done(
            admin::hold(&store, &snap, &user, &uids, true)
                .map(|n| format!("Held {n} message{} of {user}.", plural(n))),
        ),
        MailboxCommand::Release { user, uids } => done(
            admin::hold(&store, &snap, &user, &uids, false)
                .map(|n| format!("Released {n} message{} of {user}.", plural(n))),
        ),
        MailboxCommand::Delete { user, uids } => done(
            admin::delete(&store, &snap, &user, &uids)
                .map(|n| format!("Deleted {n} message{} of {user}.", plural(n))),
        ),
        MailboxCommand::Purge { user } => done(
            admin::purge(&store, &snap, &user)
                .map(|n| format!("Purged {user}'s INBOX: {n} message{} deleted.", plural(n))),
        ),
        MailboxCommand::Move {
            user,
            uids,
            to,
            direct,
        } => transfer(dd, &store, &snap, (&user, &uids, &to), direct, false),
        MailboxCommand::Copy {
            user,
            uids,
            to,
            direct,
        } => transfer(dd, &store, &snap, (&user, &uids, &to), direct, true),
    }
}

/// `mailbox move` (`keep` false) and `mailbox copy`.
fn transfer(
    dd: &DataDir,
    store: &Store,
    snap: &mailroom_core::config::Snapshot,
    (user, uids, to): (&str, &[u32], &str),
    direct: bool,
    keep: bool,
) -> ExitCode {
    match admin::transfer(dd, store, snap, user, uids, to, Transfer { keep, direct }) {
        Ok(n) => {
            println!(
                "{} {n} message{} from {user} to {to}.",
                if keep { "Copied" } else { "Moved" },
                if n == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
