//! User accounts (§4.2): names, password rules and password hashes.

use std::collections::BTreeMap;

/// One user account as stored under `DATA/users/NAME.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Lower-case account name (1–32 of letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub comment: String,
    /// Largest message this user may send, octets; 0 = only the global limit.
    #[serde(default)]
    pub max_outgoing_size: u64,
}

/// All accounts, keyed by lower-case name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    by_name: BTreeMap<String, Account>,
}

impl Accounts {
    pub fn new(list: impl IntoIterator<Item = Account>) -> Self {
        Accounts {
            by_name: list
                .into_iter()
                .map(|a| (a.name.to_ascii_lowercase(), a))
                .collect(),
        }
    }

    /// Case-insensitive lookup.
    pub fn get(&self, name: &str) -> Option<&Account> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
