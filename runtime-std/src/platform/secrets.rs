//! Reusable login secrets for challenge-response auth (APOP, CRAM-MD5).
//!
//! Those mechanisms prove knowledge of the password without sending it, so the server
//! must know the password itself; a salted hash is not enough. When the administrator
//! turns on `[accounts] challenge_response`, `user add`, `user passwd` and the
//! password server also keep the password encrypted:
//!
//! ```text
//! DIR/state/secret.key     32 random bytes (mode 0600), made on first use
//! DIR/users/NAME.secret    "v1 " + base64(nonce ‖ ChaCha20-Poly1305 ciphertext)
//! ```
//!
//! The account name is bound into each ciphertext, so secret files cannot be swapped
//! between accounts. Anyone holding both the key and the secret files can recover the
//! passwords: keep backups of `state/` as private as the server itself. With the
//! option off, no secret files are written and changing a password removes an old one.

use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

const FORMAT: &str = "v1 ";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: damaged or encrypted with another key", .0.display())]
    Damaged(PathBuf),
    #[error("no randomness available: {0}")]
    Random(getrandom::Error),
}

fn io_err(path: &std::path::Path) -> impl FnOnce(io::Error) -> SecretError + '_ {
    move |source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The key, created (0600) if there is none yet. Two processes creating it at once
/// agree: the loser of `create_new` reads the winner's key.
fn key(dd: &DataDir, create: bool) -> Result<Option<ChaCha20Poly1305>, SecretError> {
    let path = dd.secret_key_file();
    let mut bytes = [0u8; 32];
    match fs::File::open(&path) {
        Ok(mut f) => {
            f.read_exact(&mut bytes)
                .map_err(|_| SecretError::Damaged(path.clone()))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
            fs::create_dir_all(dd.state_dir()).map_err(io_err(&dd.state_dir()))?;
            getrandom::getrandom(&mut bytes).map_err(SecretError::Random)?;
            let made = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match made {
                Ok(mut f) => {
                    f.write_all(&bytes)
                        .and_then(|()| f.sync_all())
                        .map_err(io_err(&path))?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return key(dd, false),
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    }
    Ok(Some(ChaCha20Poly1305::new(Key::from_slice(&bytes))))
}

/// Store `password` as account `name`'s secret (name already checked, lower case).
pub fn store(dd: &DataDir, name: &str, password: &str) -> Result<(), SecretError> {
    let Some(cipher) = key(dd, true)? else {
        return Err(SecretError::Damaged(dd.secret_key_file()));
    };
    let mut nonce = [0u8; 12];
    getrandom::getrandom(&mut nonce).map_err(SecretError::Random)?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: password.as_bytes(),
                aad: name.as_bytes(),
            },
        )
        .map_err(|_| SecretError::Damaged(dd.secret_key_file()))?;
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    let text = format!("{FORMAT}{}\n", STANDARD.encode(blob));
    let path = dd.secret_file(name);
    durable::replace(&path, text.as_bytes(), Access::Private).map_err(io_err(&path))
}

/// Account `name`'s password, if a secret is stored for it.
pub fn load(dd: &DataDir, name: &str) -> Result<Option<String>, SecretError> {
    let path = dd.secret_file(name);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let damaged = || SecretError::Damaged(path.clone());
    let blob = text
        .trim_end()
        .strip_prefix(FORMAT)
        .and_then(|b| STANDARD.decode(b).ok())
        .filter(|b| b.len() > 12)
        .ok_or_else(damaged)?;
    let Some(cipher) = key(dd, false)? else {
        return Err(damaged());
    };
    let (nonce, sealed) = blob.split_at(12);
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: name.as_bytes(),
            },
        )
        .map_err(|_| damaged())?;
    String::from_utf8(plain).map(Some).map_err(|_| damaged())
}

/// Remove account `name`'s secret, if any.
pub fn remove(dd: &DataDir, name: &str) -> Result<(), SecretError> {
    let path = dd.secret_file(name);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_bound_to_the_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        fs::create_dir_all(dd.users_dir()).unwrap();
        assert_eq!(load(&dd, "alice").unwrap(), None);
        store(&dd, "alice", "tanstaaf").unwrap();
        assert_eq!(load(&dd, "alice").unwrap().as_deref(), Some("tanstaaf"));
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dd.secret_key_file()), 0o600);
        assert_eq!(mode(dd.secret_file("alice")), 0o600);
        assert!(!fs::read_to_string(dd.secret_file("alice"))
            .unwrap()
            .contains("tanstaaf"));
        // Copied to another account's name, it does not decrypt.
        fs::copy(dd.secret_file("alice"), dd.secret_file("bob")).unwrap();
        assert!(matches!(load(&dd, "bob"), Err(SecretError::Damaged(_))));
        remove(&dd, "alice").unwrap();
        remove(&dd, "alice").unwrap();
        assert_eq!(load(&dd, "alice").unwrap(), None);
    }
}
