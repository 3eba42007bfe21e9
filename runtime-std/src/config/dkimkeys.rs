//! Reading `[[dkim]]` key files (issue 19): for signing, and for `mailroom check`.

use crate::platform::datadir::DataDir;
use mailroom_core::config::Dkim;
use mailroom_core::mailauth::SigningKey;

/// Key files larger than this are not keys.
const MAX_KEY_FILE: u64 = 64 * 1024;

pub fn load_key(dd: &DataDir, entry: &Dkim) -> Result<SigningKey, String> {
    let path = dd.resolve(&entry.key);
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(format!("{}: too large for a key", path.display()));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    SigningKey::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn check_key(dd: &DataDir, entry: &Dkim) -> Result<(), String> {
    load_key(dd, entry).map(|_| ())
}
