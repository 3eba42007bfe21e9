//! Account files under `DIR/users/`: create, change, delete and list, safely while a
//! server is running (it polls the directory and picks changes up).
//!
//! Every write goes to a temporary file (named with a leading `.`, which readers skip),
//! is synced, then moved into place and the directory synced, so a reader never sees a
//! half-written account and a crash loses at most the change being made.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mailroom_core::accounts::{
    check_name, check_password, hash_password, Account, HashError, NameError, PasswordError,
};
use mailroom_core::config::AccountPolicy;

use crate::config::files::{account_files, load_account, load_config};
use crate::config::problem::Problem;
use crate::platform::datadir::DataDir;
use crate::platform::durable;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    BadName(#[from] NameError),
    #[error("{0}")]
    BadPassword(#[from] PasswordError),
    #[error("a user named {0} already exists")]
    Exists(String),
    #[error("there is no user named {0}")]
    NotFound(String),
    #[error("{0}")]
    Hash(#[from] HashError),
    #[error("no randomness available for the password salt: {0}")]
    Random(getrandom::Error),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Problem(Problem),
    #[error("{0}")]
    Secret(#[from] crate::platform::secrets::SecretError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> UserError + '_ {
    move |source| UserError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The password policy in force: from `mailroom.toml` if it exists and is valid, else
/// the defaults (with a warning when the file exists but has problems).
pub fn password_policy(dd: &DataDir) -> AccountPolicy {
    if !dd.config_file().exists() {
        return AccountPolicy::default();
    }
    match load_config(dd) {
        Ok(cfg) => cfg.accounts,
        Err(problems) => {
            tracing::warn!(
                "{} has problems (see `mailroom check`); using the default password policy",
                dd.config_file().display()
            );
            for p in problems {
                tracing::warn!("{p}");
            }
            AccountPolicy::default()
        }
    }
}

pub fn random_salt() -> Result<[u8; 16], UserError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(UserError::Random)?;
    Ok(salt)
}

/// Create account `name`. Refuses an existing name, even if another process creates
/// it at the same moment.
pub fn add_user(
    dd: &DataDir,
    name: &str,
    password: &str,
    admin: bool,
) -> Result<Account, UserError> {
    let name = check_name(name)?;
    let policy = password_policy(dd);
    check_password(password, &policy)?;
    let account = Account {
        name: name.clone(),
        password_hash: hash_password(password, &random_salt()?)?,
        admin,
        comment: String::new(),
        max_outgoing_size: 0,
        ..Default::default()
    };
    write_account(dd, &account, Mode::CreateNew)?;
    sync_secret(dd, &name, password, policy.challenge_response)?;
    // Sent, Drafts, Trash and Junk with their SPECIAL-USE, for IMAP clients and
    // webmail; an account whose folders cannot be made still receives mail.
    if let Err(e) = crate::store::Folders::new().create_defaults(&dd.maildir(&name)) {
        tracing::warn!(user = %name, "cannot create the default folders: {e}");
    }
    tracing::info!(user = %name, admin, "account created");
    Ok(account)
}

/// Change the password of account `name`.
pub fn set_password(dd: &DataDir, name: &str, password: &str) -> Result<(), UserError> {
    let name = check_name(name)?;
    let policy = password_policy(dd);
    check_password(password, &policy)?;
    let mut account = read_user(dd, &name)?;
    account.password_hash = hash_password(password, &random_salt()?)?;
    write_account(dd, &account, Mode::Replace)?;
    sync_secret(dd, &name, password, policy.challenge_response)?;
    tracing::info!(user = %name, "password changed");
    Ok(())
}

/// Delete account `name`. The mailbox stays: the mail is the user's. Returns the
/// mailbox directory if one exists.
pub fn delete_user(dd: &DataDir, name: &str) -> Result<Option<PathBuf>, UserError> {
    let name = check_name(name)?;
    let path = dd.account_file(&name);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(UserError::NotFound(name)),
        Err(e) => return Err(io_err(&path)(e)),
    }
    sync_dir(&dd.users_dir())?;
    crate::platform::secrets::remove(dd, &name)?;
    tracing::info!(user = %name, "account deleted");
    let mailbox = dd.maildir(&name);
    Ok(mailbox.is_dir().then_some(mailbox))
}

/// Replace an existing account's file with `account` (settings other than the
/// password; the caller has checked them).
pub fn replace_account(dd: &DataDir, account: &Account) -> Result<(), UserError> {
    let name = check_name(&account.name)?;
    if !dd.account_file(&name).exists() {
        return Err(UserError::NotFound(name));
    }
    write_account(dd, account, Mode::Replace)
}

/// Keep the challenge-response secret in step with the password: written when the
/// option is on, removed when it is off so no reusable copy outlives the choice.
fn sync_secret(dd: &DataDir, name: &str, password: &str, keep: bool) -> Result<(), UserError> {
    if keep {
        crate::platform::secrets::store(dd, name, password)?;
    } else {
        crate::platform::secrets::remove(dd, name)?;
    }
    Ok(())
}

/// One account, by name (any case).
pub fn read_user(dd: &DataDir, name: &str) -> Result<Account, UserError> {
    let name = check_name(name)?;
    let path = dd.account_file(&name);
    if !path.exists() {
        return Err(UserError::NotFound(name));
    }
    load_account(&path).map_err(UserError::Problem)
}

/// Every account, sorted by name; problems with any file are all reported.
pub fn list_users(dd: &DataDir) -> Result<Vec<Account>, Vec<Problem>> {
    let files = account_files(dd).map_err(|e| {
        vec![Problem::new(
            dd.users_dir(),
            None,
            format!("cannot list: {e}"),
        )]
    })?;
    let mut accounts = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        match load_account(&f) {
            Ok(a) => accounts.push(a),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(accounts)
    } else {
        Err(problems)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    CreateNew,
    Replace,
}

fn write_account(dd: &DataDir, account: &Account, mode: Mode) -> Result<(), UserError> {
    let dir = dd.users_dir();
    ensure_dir(&dir)?;
    let text = toml::to_string(account).map_err(|e| UserError::Io {
        path: dir.clone(),
        source: io::Error::other(e),
    })?;
    let final_path = dd.account_file(&account.name);
    let tmp = write_temp(&dir, &account.name, text.as_bytes())?;
    let placed = match mode {
        // A hard link fails if the name exists, so two concurrent `user add`s of the
        // same name cannot both succeed; a rename would silently replace.
        Mode::CreateNew => fs::hard_link(&tmp, &final_path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                UserError::Exists(account.name.clone())
            } else {
                io_err(&final_path)(e)
            }
        }),
        Mode::Replace => fs::rename(&tmp, &final_path).map_err(io_err(&final_path)),
    };
    if mode == Mode::CreateNew || placed.is_err() {
        // Best effort: a leftover dot-file is ignored by readers.
        let _ = fs::remove_file(&tmp);
    }
    placed?;
    sync_dir(&dir)
}

/// Write `data` to a new dot-file in `dir`, synced; returns its path.
fn write_temp(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, UserError> {
    let mut tag = [0u8; 8];
    getrandom::getrandom(&mut tag).map_err(UserError::Random)?;
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", u64::from_le_bytes(tag)));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    // Password hashes are for the server's eyes only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    let result = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
    Ok(tmp)
}

/// Create `dir` (and parents) if missing, syncing the parent so the new directory
/// survives a crash.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), UserError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// fsync a directory so renames and removals inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), UserError> {
    durable::sync_dir(dir).map_err(io_err(dir))
}
