//! User accounts (§4.2): names, password rules and password hashes.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AccountPolicy;

/// One user account as stored under `DATA/users/NAME.toml`.
///
/// `Default` is an empty, unusable account: a base for accounts built in code
/// (`Account { name, password_hash, ..Default::default() }`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The `[[group]]` this account belongs to (§4.2.3.1.2); empty = none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Assistants (§4.2.3.1.6.1): local user names or addresses that get a copy of
    /// this user's mail, except mail from one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assistants: Vec<String>,
    /// "Redirect to assistant (don't keep a local copy)".
    #[serde(default, skip_serializing_if = "is_false")]
    pub assistant_redirect: bool,
    /// "Forward To" (§4.2.3.1.6.2): user names or addresses; used only while
    /// `use_forwarding` is on, and then no local copy is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_to: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub use_forwarding: bool,
    /// "Change Internet Mail Reply Address to" (§4.2.3.4.2); empty = unchanged.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reply_address: String,
    /// Permissions (§4.2.3.3.3); unset = the group's setting, else allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_everyone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_internet: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_internet: Option<bool>,
    /// "Allowed Protocols" (§4.2.3.3.1); unset = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<Protocol>>,
    /// Size dependent forwarding (§4.2.3.1.6.4): "if message >= kb kB".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_at_least: Option<SizeRule>,
    /// "If message <= kb kB".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_at_most: Option<SizeRule>,
    /// The simple autoresponder's switches (§4.2.3.2.1); its text is the file
    /// `DataDir::autoresponder_text` (`DATA/users/NAME.autoresponder`).
    #[serde(default, skip_serializing_if = "AutoresponderSettings::is_default")]
    pub autoresponder: AutoresponderSettings,
    /// Mailbox quota in octets (§4.3.3); 0 = none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quota: u64,
    /// "Don't use global signature with messages from this account" (§4.2.3.4;
    /// needs SMTP AUTH to know the account).
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_signature: bool,
    /// "Monitor" (§4.2.3.3, §15.1): this user's mail is copied when `[monitoring]`
    /// says "selected".
    #[serde(default, skip_serializing_if = "is_false")]
    pub monitor: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The simple autoresponder's settings kept in the account file; written by
/// `mailroom user set --autoresponder…` and the webmail page `/mail/autoresponder`,
/// read by the autoresponder engine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoresponderSettings {
    /// On or off; the text file stays when it is turned off.
    #[serde(default)]
    pub enabled: bool,
    /// Reply only once to each sender (the manual's "once-per-sender" memory).
    #[serde(default)]
    pub once: bool,
    /// Keep the incoming message in the mailbox (VPOP3's default is to keep it).
    #[serde(default = "yes")]
    pub keep: bool,
    /// How often the once-per-sender memory is forgotten (§4.2.3.2).
    #[serde(default, skip_serializing_if = "ClearPeriod::is_never")]
    pub clear: ClearPeriod,
    /// Header filters (`Field: pattern`): a matching message is not answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Header triggers: when any is given, only a matching message is answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
    /// The external autoresponder's command line (§4.2.3.2.2); empty = the simple
    /// autoresponder's text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
}

/// When the once-per-sender memory is cleared: never, or at the start of each local
/// day, week (Monday), fortnight or calendar month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClearPeriod {
    #[default]
    Never,
    Daily,
    Weekly,
    Fortnightly,
    Monthly,
}

impl ClearPeriod {
    fn is_never(&self) -> bool {
        *self == ClearPeriod::Never
    }
}

fn yes() -> bool {
    true
}

impl Default for AutoresponderSettings {
    fn default() -> Self {
        AutoresponderSettings {
            enabled: false,
            once: false,
            keep: true,
            clear: ClearPeriod::Never,
            filters: Vec::new(),
            triggers: Vec::new(),
            command: String::new(),
        }
    }
}

impl AutoresponderSettings {
    fn is_default(&self) -> bool {
        *self == AutoresponderSettings::default()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The services an account may log in to (§4.2.3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Pop3,
    Imap,
    Smtp,
    Webmail,
    Password,
    Ldap,
    /// The status monitor (§4.2.3.3.4, SVC-5).
    Monitor,
}

impl Account {
    /// Whether this account may authenticate to `protocol`.
    pub fn may_use(&self, protocol: Protocol) -> bool {
        self.protocols
            .as_ref()
            .is_none_or(|list| list.contains(&protocol))
    }
}

/// One size dependent forwarding rule; a size of 0 or no targets disables it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeRule {
    pub kb: u64,
    #[serde(default)]
    pub action: SizeAction,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeAction {
    /// Send a copy; the user keeps theirs.
    #[default]
    Copy,
    /// Send it there instead of to the user.
    Redirect,
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

/// Longest account name (§4.2.1).
pub const MAX_NAME_LEN: usize = 32;
/// Longest password accepted. VPOP3 stopped at 16; pass phrases deserve more, and a
/// bound keeps hashing cost and protocol lines small.
pub const MAX_PASSWORD_LEN: usize = 128;
/// Longest comment (§4.2.1: "up to 80 characters").
pub const MAX_COMMENT_LEN: usize = 80;

/// Why a name cannot be an account name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a user name cannot be empty")]
    Empty,
    #[error("a user name is at most {MAX_NAME_LEN} characters (this one has {0})")]
    TooLong(usize),
    #[error("a user name may contain only letters, digits, '.', '_' and '-' (not {0:?})")]
    BadChar(char),
    #[error("a user name cannot start with {0:?}")]
    BadStart(char),
}

/// Check an account name (§4.2.1: 1–32 characters; letters, digits, `.`, `_`, `-`; no
/// spaces or `@`) and return it lower-cased, the form it is stored and compared in.
///
/// A name may not start with `.` (that would hide its file and allow `..`) or `-`
/// (it would read as an option on the command line).
pub fn check_name(name: &str) -> Result<String, NameError> {
    let Some(first) = name.chars().next() else {
        return Err(NameError::Empty);
    };
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::BadChar(c));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    if matches!(first, '.' | '-') {
        return Err(NameError::BadStart(first));
    }
    Ok(name.to_ascii_lowercase())
}

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is too short: at least {min} characters are required")]
    TooShort { min: usize },
    #[error("the password is too long: at most {MAX_PASSWORD_LEN} characters are allowed")]
    TooLong,
    #[error("the password cannot contain spaces")]
    Space,
    #[error("the password cannot contain control characters (such as tab or newline)")]
    Control,
}

/// Check a new password against the policy (§4.2.1, §4.3.1): at least
/// `min_password_length` characters (clamped to 1..=16 as VPOP3 does), at most
/// [`MAX_PASSWORD_LEN`], no spaces. Control characters are refused as well: POP3 and
/// IMAP could not carry them in a login line.
pub fn check_password(password: &str, policy: &AccountPolicy) -> Result<(), PasswordError> {
    let min = policy.min_password_length.clamp(1, 16) as usize;
    let len = password.chars().count();
    if len < min {
        return Err(PasswordError::TooShort { min });
    }
    if len > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    if password.chars().any(|c| c == ' ') {
        return Err(PasswordError::Space);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::Control);
    }
    Ok(())
}

/// Hashing failed; with fixed parameters this only happens on a broken build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// argon2id with OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane. On the
/// project's 2-core machine one verification takes about 20–25 ms (measured with an
/// optimised argon2): slow enough to make guessing expensive, fast enough that a
/// small office's mail clients logging in every few minutes never notice. The
/// parameters are stored in each hash, so raising them later keeps old hashes valid.
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash `password` into a PHC string (`$argon2id$v=19$m=...`). The caller supplies 16
/// random bytes of salt: the core draws no entropy.
pub fn hash_password(password: &str, salt: &[u8; 16]) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(salt).map_err(|e| HashError(e.to_string()))?;
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`. The final comparison is
/// constant-time (argon2's verifier). A malformed `phc` never matches.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether `phc` is a well-formed argon2id hash (for checking hand-edited account files).
pub fn is_valid_hash(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        h.algorithm == Algorithm::Argon2id.ident() && h.hash.is_some() && h.salt.is_some()
    })
}
