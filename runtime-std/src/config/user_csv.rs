//! The user database as CSV (§4.3.2.2.1), VPOP3's four layouts: 2 columns (name,
//! admin), 3 (and the password), 13 (verbose) and 14 (verbose with the password). The
//! optional first line of column titles is skipped. Shared by `mailroom user
//! import|export` and the web admin's users page.
//!
//! Passwords: the export writes the account's argon2 hash (VPOP3's "mangled
//! password": not readable, but it imports back); on import a value that is such a
//! hash is kept as it is, anything else is taken as a new password in clear text (so
//! accounts can be made from a spreadsheet) and must pass the password policy.
//! The monitor flag (column 12 or 13) is written 0 and ignored on import: monitoring
//! copies are issue 17's LOG-3.

use mailroom_core::accounts::Account;

use crate::config::edit::{replace_account_checked, EditError};
use crate::config::mappings::{csv_field, csv_split};
use crate::config::users;
use crate::platform::datadir::DataDir;

/// Rows one import takes: each new password is an argon2 hash (tens of
/// milliseconds), and the web admin's import runs inside a request.
pub const MAX_IMPORT_ROWS: usize = 2000;

/// How to write the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    pub verbose: bool,
    pub passwords: bool,
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// The accounts as CSV with a title line, sorted by name.
pub fn export_users(accounts: &[Account], o: ExportOptions) -> String {
    let mut titles = vec!["User Id", "Admin"];
    if o.passwords {
        titles.push("Password");
    }
    if o.verbose {
        titles.extend([
            "Reply Address",
            "Assistant",
            "Only To Assistant",
            "Forward To",
            "Use Forwarding",
            "Comments",
            "Everyone List",
            "Internet Send",
            "Incoming Allowed",
            "Monitor",
            "Max Outgoing KB",
        ]);
    }
    let mut out = titles
        .iter()
        .map(|t| csv_field(t))
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str("\r\n");
    let mut sorted: Vec<&Account> = accounts.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for a in sorted {
        let mut row = vec![csv_field(&a.name), flag(a.admin).to_string()];
        if o.passwords {
            row.push(csv_field(&a.password_hash));
        }
        if o.verbose {
            row.extend([
                csv_field(&a.reply_address),
                csv_field(&a.assistants.join(";")),
                flag(a.assistant_redirect).into(),
                csv_field(&a.forward_to.join(";")),
                flag(a.use_forwarding).into(),
                csv_field(&a.comment),
                flag(a.in_everyone.unwrap_or(true)).into(),
                flag(a.send_internet.unwrap_or(true)).into(),
                flag(a.receive_internet.unwrap_or(true)).into(),
                "0".into(),
                (a.max_outgoing_size / 1024).to_string(),
            ]);
        }
        out.push_str(&row.join(", "));
        out.push_str("\r\n");
    }
    out
}

/// One line of an import file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRow {
    pub line: usize,
    pub name: String,
    pub admin: bool,
    pub password: Option<String>,
    /// The verbose columns, when the file has them.
    pub verbose: Option<Verbose>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verbose {
    pub reply_address: String,
    pub assistants: Vec<String>,
    pub assistant_redirect: bool,
    pub forward_to: Vec<String>,
    pub use_forwarding: bool,
    pub comment: String,
    pub in_everyone: bool,
    pub send_internet: bool,
    pub receive_internet: bool,
    pub max_outgoing_kb: u64,
}

fn parse_flag(line: usize, s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" => Ok(true),
        "0" | "" => Ok(false),
        other => Err(format!("line {line}: {other:?} is not a flag (1 or 0)")),
    }
}

fn targets(s: &str) -> Vec<String> {
    s.split([';', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse an import file; every line must have the same layout as the first row.
pub fn parse_users_csv(text: &str) -> Result<Vec<UserRow>, String> {
    let mut rows = Vec::new();
    let mut width = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<String> = csv_split(line)
            .map_err(|e| format!("line {n}: {e}"))?
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect();
        if rows.is_empty() && width.is_none() && f[0].eq_ignore_ascii_case("User Id") {
            width = Some(f.len());
            continue;
        }
        let w = *width.get_or_insert(f.len());
        if f.len() != w || ![2, 3, 13, 14].contains(&w) {
            return Err(format!(
                "line {n}: {} columns; a file has 2, 3, 13 or 14 on every line (§4.3.2.2.1)",
                f.len()
            ));
        }
        let with_password = w == 3 || w == 14;
        let rest = if with_password { &f[3..] } else { &f[2..] };
        let verbose = if w >= 13 {
            Some(Verbose {
                reply_address: rest[0].clone(),
                assistants: targets(&rest[1]),
                assistant_redirect: parse_flag(n, &rest[2])?,
                forward_to: targets(&rest[3]),
                use_forwarding: parse_flag(n, &rest[4])?,
                comment: rest[5].clone(),
                in_everyone: parse_flag(n, &rest[6])?,
                send_internet: parse_flag(n, &rest[7])?,
                receive_internet: parse_flag(n, &rest[8])?,
                max_outgoing_kb: match rest[10].as_str() {
                    "" => 0,
                    k => k
                        .parse()
                        .map_err(|_| format!("line {n}: {k:?} is not a size in kB"))?,
                },
            })
        } else {
            None
        };
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(format!(
                "line {n}: more than {MAX_IMPORT_ROWS} users; import the file in parts"
            ));
        }
        rows.push(UserRow {
            line: n,
            name: f[0].clone(),
            admin: parse_flag(n, &f[1])?,
            password: with_password
                .then(|| f[2].clone())
                .filter(|p| !p.is_empty()),
            verbose,
        });
    }
    Ok(rows)
}

/// A yes/no column on an account whose setting may be unset: "yes" on an unset
/// setting keeps it unset (the group's setting, else allowed, exports as 1).
fn tri(old: Option<bool>, new: bool) -> Option<bool> {
    if old.is_none() && new {
        None
    } else {
        Some(new)
    }
}

fn is_hash(p: &str) -> bool {
    p.starts_with("$argon2")
}

/// What an import did, line by line.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    /// `line N: NAME: why` for each line not applied.
    pub skipped: Vec<String>,
}

/// Merge `rows` into the accounts: new names are created, existing ones updated with
/// the file's columns. Each account goes through the checks `mailroom user add|set`
/// make; a line that fails them is reported and the others still apply.
pub fn import_users(dd: &DataDir, rows: &[UserRow]) -> ImportReport {
    let mut report = ImportReport::default();
    for row in rows {
        let skip = |report: &mut ImportReport, why: String| {
            report
                .skipped
                .push(format!("line {}: {}: {why}", row.line, row.name))
        };
        let (mut a, created) = match users::read_user(dd, &row.name) {
            Ok(a) => (a, false),
            Err(_) => {
                let made = match row.password.as_deref() {
                    None => {
                        skip(&mut report, "a new user needs a password column".into());
                        continue;
                    }
                    Some(p) if is_hash(p) => random_password()
                        .and_then(|tmp| users::add_user(dd, &row.name, &tmp, row.admin)),
                    Some(p) => users::add_user(dd, &row.name, p, row.admin),
                };
                match made {
                    Ok(a) => (a, true),
                    Err(e) => {
                        skip(&mut report, e.to_string());
                        continue;
                    }
                }
            }
        };
        a.admin = row.admin;
        match row.password.as_deref() {
            Some(p) if is_hash(p) => a.password_hash = p.to_string(),
            Some(p) if !created => {
                if let Err(e) = users::set_password(dd, &a.name, p) {
                    skip(&mut report, e.to_string());
                    continue;
                }
                match users::read_user(dd, &a.name) {
                    Ok(fresh) => a.password_hash = fresh.password_hash,
                    Err(e) => {
                        skip(&mut report, e.to_string());
                        continue;
                    }
                }
            }
            _ => {}
        }
        if let Some(v) = &row.verbose {
            a.reply_address = v.reply_address.clone();
            a.assistants = v.assistants.clone();
            a.assistant_redirect = v.assistant_redirect;
            a.forward_to = v.forward_to.clone();
            a.use_forwarding = v.use_forwarding;
            a.comment = v.comment.clone();
            a.in_everyone = tri(a.in_everyone, v.in_everyone);
            a.send_internet = tri(a.send_internet, v.send_internet);
            a.receive_internet = tri(a.receive_internet, v.receive_internet);
            a.max_outgoing_size = v.max_outgoing_kb.saturating_mul(1024);
        }
        match replace_account_checked(dd, &a) {
            Ok(()) if created => report.created.push(a.name),
            Ok(()) => report.updated.push(a.name),
            Err(EditError::Problems(p)) => skip(
                &mut report,
                p.iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Err(EditError::Io(e)) => skip(&mut report, e),
        }
    }
    report
}

fn random_password() -> Result<String, users::UserError> {
    let salt = users::random_salt()?;
    Ok(salt.iter().map(|b| format!("{b:02x}")).collect())
}

impl ImportReport {
    /// One line per outcome, for the CLI and the web page.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "Imported users: {} created, {} updated, {} skipped.",
            self.created.len(),
            self.updated.len(),
            self.skipped.len()
        )];
        if !self.created.is_empty() {
            out.push(format!("Created: {}", self.created.join(", ")));
        }
        out.extend(self.skipped.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manuals_layouts() {
        let short = parse_users_csv(
            "\"User Id\", \"Admin\"\n\"paul\", 1\n\"fiona\", 0\n\"echo\", 0\n\"test\", 0\n",
        )
        .unwrap();
        assert_eq!(short.len(), 4);
        assert!(short[0].admin && !short[1].admin);
        assert_eq!(short[0].name, "paul");
        let pw = parse_users_csv("\"paul\", 1, \"FGIPTVIAUB\"\n").unwrap();
        assert_eq!(pw[0].password.as_deref(), Some("FGIPTVIAUB"));
        let v = parse_users_csv(
            "\"fred\", 0, \"fred@isp.example\", \"bob;carol\", 1, \"\", 0, \"Sales, 2nd floor\", 1, 0, 1, 0, 2048\n",
        )
        .unwrap();
        let x = v[0].verbose.as_ref().unwrap();
        assert_eq!(x.assistants, ["bob", "carol"]);
        assert!(x.assistant_redirect && !x.send_internet && x.receive_internet);
        assert_eq!(x.comment, "Sales, 2nd floor");
        assert_eq!(x.max_outgoing_kb, 2048);
        assert!(parse_users_csv("\"a\", 1\n\"b\", 1, \"x\"\n").is_err());
        assert!(parse_users_csv("\"a\", 2\n").is_err());
        assert!(parse_users_csv("\"a\", 1, 2, 3, 4\n").is_err());
        let many: String = (0..=MAX_IMPORT_ROWS)
            .map(|i| format!("\"u{i}\", 0\n"))
            .collect();
        assert!(parse_users_csv(&many).unwrap_err().contains("in parts"));
    }

    #[test]
    fn export_reads_back() {
        let a = Account {
            name: "fred".into(),
            password_hash: "$argon2id$v=19$x".into(),
            admin: true,
            comment: "Say \"hi\"".into(),
            assistants: vec!["bob".into()],
            send_internet: Some(false),
            max_outgoing_size: 4096,
            ..Default::default()
        };
        let text = export_users(
            &[a],
            ExportOptions {
                verbose: true,
                passwords: true,
            },
        );
        let rows = parse_users_csv(&text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].password.as_deref(), Some("$argon2id$v=19$x"));
        let v = rows[0].verbose.as_ref().unwrap();
        assert_eq!(v.comment, "Say \"hi\"");
        assert!(!v.send_internet && v.in_everyone);
        assert_eq!(v.max_outgoing_kb, 4);
    }
}
