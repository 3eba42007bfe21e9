//! Reading the data directory's configuration, account and access files into one core
//! [`Snapshot`], with every problem located as `file:line: message`.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use mailroom_core::access::{AccessFiles, AccessList};
use mailroom_core::accounts::{check_name, is_valid_hash, Account, Accounts};
use mailroom_core::config::{parse_config, toml_error, Config, Snapshot};
use mailroom_core::smtprules::{SmtpRules, MAX_RULES_FILE};

use crate::config::problem::Problem;
use crate::platform::datadir::{DataDir, ACCESS_FILE_NAMES};

/// Load everything a server needs from `dd`. Warnings (doubtful but usable lines) are
/// logged; use [`load_snapshot_with_warnings`] to show them to a person.
pub fn load_snapshot(dd: &DataDir) -> Result<Snapshot, Vec<Problem>> {
    let (snap, warnings) = load_snapshot_with_warnings(dd)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(snap)
}

/// Like [`load_snapshot`], returning the warnings instead of logging them.
pub fn load_snapshot_with_warnings(dd: &DataDir) -> Result<(Snapshot, Vec<Problem>), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let config = load_config(dd).map_err(|p| problems.extend(p)).ok();
    let accounts = load_accounts(dd, &mut problems, &mut warnings);
    let access = load_access(dd, &mut problems, &mut warnings);

    if let Some(c) = &config {
        // A key that does not load leaves mail unsigned, not undelivered: a warning.
        for entry in &c.dkim {
            if let Err(e) = crate::config::dkimkeys::check_key(dd, entry) {
                warnings.push(Problem::new(
                    dd.config_file(),
                    None,
                    format!("[[dkim]] {}: {e}", entry.domain),
                ));
            }
        }
    }
    match config {
        Some(config) if problems.is_empty() => {
            let snapshot = Snapshot {
                config,
                accounts,
                access,
            };
            // Names used by mappings, lists and users' forwarding must exist (issue 4).
            let routing = crate::config::routecheck::routing_problems(dd, &snapshot);
            if routing.is_empty() {
                Ok((snapshot, warnings))
            } else {
                Err(routing)
            }
        }
        _ => Err(problems),
    }
}

/// Read and check `DIR/mailroom.toml` alone.
pub fn load_config(dd: &DataDir) -> Result<Config, Vec<Problem>> {
    let path = dd.config_file();
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(vec![Problem::new(
                path,
                None,
                "not found; run `mailroom init --domain YOUR.DOMAIN` to write one",
            )])
        }
        Err(e) => return Err(vec![Problem::new(path, None, format!("cannot read: {e}"))]),
    };
    parse_config(&text).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| Problem::new(&path, Some(e.line), e.message))
            .collect()
    })
}

/// Read one account file, checking that its name matches the file's.
pub fn load_account(path: &Path) -> Result<Account, Problem> {
    let text = fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read: {e}")))?;
    let account: Account = toml::from_str(&text).map_err(|e| {
        let e = toml_error(&text, &e);
        Problem::new(path, Some(e.line), e.message)
    })?;
    let line_of_key = |key: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(key))
            .map(|i| i + 1)
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    match check_name(&account.name) {
        Err(e) => return Err(Problem::new(path, line_of_key("name"), e.to_string())),
        Ok(name) if name != account.name || name != stem => {
            return Err(Problem::new(
                path,
                line_of_key("name"),
                format!(
                    "name = {:?} does not match the file name; the file for an account \
                     must be users/NAME.toml with NAME in lower case",
                    account.name
                ),
            ))
        }
        Ok(_) => {}
    }
    if !is_valid_hash(&account.password_hash) {
        return Err(Problem::new(
            path,
            line_of_key("password_hash"),
            "password_hash is not an argon2id hash; set the password with \
             `mailroom user passwd NAME --password P`",
        ));
    }
    Ok(account)
}

/// The account files in `DIR/users`, sorted: files named `*.toml` that do not start
/// with `.` (temporary files of an interrupted write do).
pub fn account_files(dd: &DataDir) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = match fs::read_dir(dd.users_dir()) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with('.') && name.ends_with(".toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_accounts(
    dd: &DataDir,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Accounts {
    let files = match account_files(dd) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem::new(
                dd.users_dir(),
                None,
                format!("cannot list: {e}"),
            ));
            return Accounts::default();
        }
    };
    let mut list = Vec::with_capacity(files.len());
    for path in files {
        match load_account(&path) {
            Ok(a) => list.push(a),
            Err(p) => problems.push(p),
        }
    }
    if list.is_empty() && problems.is_empty() {
        warnings.push(Problem::new(
            dd.users_dir(),
            None,
            "no accounts; add one with `mailroom user add NAME --password P`",
        ));
    }
    Accounts::new(list)
}

fn load_access(
    dd: &DataDir,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> AccessFiles {
    let mut lists: Vec<AccessList> = Vec::with_capacity(ACCESS_FILE_NAMES.len());
    for name in ACCESS_FILE_NAMES {
        let path = dd.access_dir().join(name);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                problems.push(Problem::new(&path, None, format!("cannot read: {e}")));
                String::new()
            }
        };
        match AccessList::parse(&text) {
            Ok((list, warns)) => {
                warnings.extend(
                    warns
                        .into_iter()
                        .map(|w| Problem::new(&path, Some(w.line), w.message)),
                );
                lists.push(list);
            }
            Err(errors) => {
                problems.extend(
                    errors
                        .into_iter()
                        .map(|e| Problem::new(&path, Some(e.line), e.message)),
                );
                lists.push(AccessList::default());
            }
        }
    }
    let mut it = lists.into_iter();
    let mut next = || it.next().unwrap_or_default();
    AccessFiles {
        smtp: next(),
        pop3: next(),
        imap: next(),
        http: next(),
        pass: next(),
        finger: next(),
        ldap: next(),
        lan_rules: load_lan_rules(dd, warnings),
        smtp_rules: load_smtp_rules(dd, problems),
    }
}

/// SMTPRULES.TXT (§8.2.4); no file = no rules. A bad line is a problem like one in
/// an access file: the snapshot is refused, so a running server keeps its last good
/// rules (with the rest of its configuration) and `mailroom check` names the line.
fn load_smtp_rules(dd: &DataDir, problems: &mut Vec<Problem>) -> SmtpRules {
    let path = dd.smtp_rules_file();
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return SmtpRules::default(),
        Err(e) => {
            problems.push(Problem::new(&path, None, format!("cannot read: {e}")));
            return SmtpRules::default();
        }
    };
    if bytes.len() > MAX_RULES_FILE {
        problems.push(Problem::new(
            &path,
            None,
            format!("larger than {MAX_RULES_FILE} bytes; remove rules nobody needs"),
        ));
        return SmtpRules::default();
    }
    // VPOP3 wrote these files in a Windows code page; bytes that are not UTF-8 only
    // matter inside match texts, where the lossy form still matches the same ASCII.
    match SmtpRules::parse(&String::from_utf8_lossy(&bytes)) {
        Ok(rules) => rules,
        Err(errors) => {
            problems.extend(
                errors
                    .into_iter()
                    .map(|e| Problem::new(&path, Some(e.line), e.message)),
            );
            SmtpRules::default()
        }
    }
}

/// SMTPFWD.DAT for the router. A bad file is a warning here, not a refusal: the
/// outbound queue ignores it the same way, and `mailroom check` reports its lines.
fn load_lan_rules(
    dd: &DataDir,
    warnings: &mut Vec<Problem>,
) -> Vec<mailroom_core::outbound::LanRule> {
    let path = dd.lan_rules_file();
    let Ok(text) = fs::read_to_string(&path) else {
        return Vec::new();
    };
    match mailroom_core::outbound::parse_rules(&text) {
        Ok(rules) => rules,
        Err(errors) => {
            warnings.extend(errors.into_iter().map(|e| {
                Problem::new(
                    &path,
                    Some(e.line),
                    format!("{} (rules not used)", e.message),
                )
            }));
            Vec::new()
        }
    }
}

/// A cheap summary of every file [`load_snapshot`] reads (path, size, mtime, inode),
/// so a server can poll it each second and reload only when it changes. Writers
/// replace files by rename, which always changes the inode.
pub fn fingerprint(dd: &DataDir) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut add = |path: &Path| {
        path.hash(&mut h);
        match fs::metadata(path) {
            Ok(m) => {
                m.len().hash(&mut h);
                m.modified().ok().hash(&mut h);
                #[cfg(unix)]
                std::os::unix::fs::MetadataExt::ino(&m).hash(&mut h);
            }
            Err(e) => e.kind().hash(&mut h),
        }
    };
    add(&dd.config_file());
    add(&dd.users_dir());
    for f in account_files(dd).unwrap_or_default() {
        add(&f);
    }
    for name in ACCESS_FILE_NAMES {
        add(&dd.access_dir().join(name));
    }
    add(&dd.lan_rules_file());
    add(&dd.smtp_rules_file());
    h.finish()
}
