//! Editing `mailroom.toml` in place (comments and layout kept): the change is checked
//! exactly as `mailroom check` would check it, and only then is the file replaced
//! atomically; a running server picks the change up within a couple of seconds. The
//! CLI and the web admin both edit through here.

use std::fs;
use std::io::{self};
use std::path::Path;

use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_core::router::{self, check_routing};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::config::problem::Problem;
use crate::config::users;
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};

pub enum EditError {
    /// Reading, parsing or writing the file.
    Io(String),
    /// The edited configuration would not pass `mailroom check`.
    Problems(Vec<Problem>),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Io(e) => write!(f, "{e}"),
            EditError::Problems(p) => {
                for x in p {
                    writeln!(f, "{x}")?;
                }
                Ok(())
            }
        }
    }
}

pub fn array_of_tables<'d>(
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

/// Remove the `i`th `[[key]]` table. The comment lines above it are the file's, not
/// the table's: they stay, above whatever table followed it in the file, or at the
/// end of the file when it was the last one.
pub fn remove_table_keeping_comment(
    doc: &mut DocumentMut,
    key: &str,
    i: usize,
) -> Result<(), EditError> {
    let list = array_of_tables(doc, key)?;
    let Some(t) = list.get(i) else {
        return Err(EditError::Io(format!(
            "There is no [[{key}]] number {}.",
            i + 1
        )));
    };
    let prefix = prefix_of(t);
    let position = t.position();
    list.remove(i);
    let next_in_list = list.get(i).and_then(Table::position);
    if list.is_empty() {
        doc.remove(key);
    }
    if prefix.trim().is_empty() {
        return Ok(());
    }
    // A table added in this edit has no position; then the next one of its kind.
    let next = match position {
        Some(p) => first_table_after(doc.as_table(), p),
        None => next_in_list,
    };
    let mut placed = false;
    if let Some(next) = next {
        visit_tables_mut(doc.as_table_mut(), &mut |t| {
            if !placed && t.position() == Some(next) {
                let own = prefix_of(t);
                t.decor_mut().set_prefix(format!("{prefix}{own}"));
                placed = true;
            }
        });
    }
    if !placed {
        let trailing = doc.trailing().as_str().unwrap_or("").to_string();
        doc.set_trailing(format!("{prefix}{trailing}"));
    }
    Ok(())
}

/// What is written above a table's header: blank lines and comments.
fn prefix_of(t: &Table) -> String {
    t.decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_string()
}

/// The position of the first explicit table written after `position`.
fn first_table_after(root: &Table, position: usize) -> Option<usize> {
    fn walk(t: &Table, after: usize, best: &mut Option<usize>) {
        for (_, item) in t.iter() {
            let tables: Vec<&Table> = match item {
                Item::Table(t) => vec![t],
                Item::ArrayOfTables(a) => a.iter().collect(),
                _ => continue,
            };
            for t in tables {
                if let Some(p) = t.position().filter(|p| *p > after && !t.is_implicit()) {
                    if best.is_none_or(|b| p < b) {
                        *best = Some(p);
                    }
                }
                walk(t, after, best);
            }
        }
    }
    let mut best = None;
    walk(root, position, &mut best);
    best
}

fn visit_tables_mut(t: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(t) => {
                f(t);
                visit_tables_mut(t, f);
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    f(t);
                    visit_tables_mut(t, f);
                }
            }
            _ => {}
        }
    }
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
            router::Place::SmtpRules { line } => {
                Problem::new(dd.smtp_rules_file(), Some(line), p.message)
            }
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

pub fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    durable::replace(path, data, Access::Normal)
}

/// A text file, refused above 16 MiB (an import file, not a mailbox).
pub fn read_text(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 16 << 20 {
        return Err(format!("{}: too large for an import file", path.display()));
    }
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // VPOP3 wrote Windows code pages; keep what is readable rather than refuse.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Replace an account file with `account` (changed settings), first checking the
/// configuration as it would be the way `mailroom check` does; refused with the
/// problems that concern this account.
pub fn replace_account_checked(dd: &DataDir, account: &Account) -> Result<(), EditError> {
    let snap = crate::config::files::load_snapshot(dd).map_err(EditError::Problems)?;
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
    let problems: Vec<Problem> = check_routing(&candidate)
        .into_iter()
        .filter(
            |p| matches!(&p.place, router::Place::Account { name, .. } if *name == account.name),
        )
        .map(|p| Problem::new(dd.account_file(&account.name), None, p.message))
        .collect();
    if !problems.is_empty() {
        return Err(EditError::Problems(problems));
    }
    users::replace_account(dd, account).map_err(|e| EditError::Io(e.to_string()))
}
