//! The finger server's application half (SVC-3, §11.5): a query answered with the
//! Finger Results Template (`DIR/FINGER.TPL`, else core's default) filled from the
//! account, its waiting mail, and its USERPLAN.TXT and USERINFO.TXT.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use mailroom_core::finger::{render, Facts, DEFAULT_TEMPLATE};

use crate::services::app::Shared;

/// Longest template, plan or info file read; the rest is ignored.
const MAX_FILE: u64 = 16 * 1024;

/// The answer to a query about `user`.
pub fn answer(shared: &Arc<Shared>, user: &str, verbose: bool) -> String {
    let snap = shared.snapshot();
    let Some(account) = snap.accounts.get(&user.to_ascii_lowercase()) else {
        return format!("No such user: {user}\n");
    };
    let dd = shared.store.data_dir();
    let maildir = dd.maildir(&account.name);
    let facts = Facts {
        id: account.name.clone(),
        message_count: waiting(&maildir),
        plan: read_small(&dd.finger_plan(&account.name)),
        info: read_small(&dd.finger_info(&account.name)),
        attributes: mailroom_core::directory::attributes(account, &snap.config.default_domain),
    };
    let template =
        read_small(&dd.finger_template()).unwrap_or_else(|| DEFAULT_TEMPLATE.to_string());
    render(&template, verbose, &facts)
}

/// Messages in the INBOX (`new/` and `cur/`).
fn waiting(maildir: &Path) -> u64 {
    ["new", "cur"]
        .iter()
        .filter_map(|d| fs::read_dir(maildir.join(d)).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count() as u64
}

fn read_small(path: &Path) -> Option<String> {
    let mut text = Vec::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_FILE)
        .read_to_end(&mut text)
        .ok()?;
    Some(String::from_utf8_lossy(&text).into_owned())
}
