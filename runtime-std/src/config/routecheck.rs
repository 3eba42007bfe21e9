//! The router's reference check (`router::check_routing`) as `file:line` problems:
//! a mapping, list member, assistant or forwarding that names a user, list or group
//! (or an SMTP rule that redirects or copies to one) that does not exist stops
//! `serve`, fails `check`, and keeps a reload from applying.

use std::fs;

use mailroom_core::config::Snapshot;
use mailroom_core::router::{check_routing, Place};

use crate::config::problem::Problem;
use crate::platform::datadir::DataDir;

pub fn routing_problems(dd: &DataDir, snap: &Snapshot) -> Vec<Problem> {
    check_routing(snap)
        .into_iter()
        .map(|p| match p.place {
            Place::Config { line } => Problem::new(dd.config_file(), Some(line), p.message),
            Place::SmtpRules { line } => Problem::new(dd.smtp_rules_file(), Some(line), p.message),
            Place::Account { name, key } => {
                let path = dd.account_file(&name);
                let line = fs::read_to_string(&path).ok().and_then(|text| {
                    text.lines()
                        .position(|l| {
                            l.trim_start()
                                .strip_prefix(key)
                                .is_some_and(|rest| rest.trim_start().starts_with('='))
                        })
                        .map(|i| i + 1)
                });
                Problem::new(path, line, p.message)
            }
        })
        .collect()
}
