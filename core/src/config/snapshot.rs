//! Everything a session needs to decide, frozen at one moment.

use super::Config;
use crate::access::AccessFiles;
use crate::accounts::Accounts;

/// Configuration, accounts and access files as one immutable value. The runtime builds
/// a new one on reload and swaps the `Arc`; sessions keep the one they started with.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub config: Config,
    pub accounts: Accounts,
    pub access: AccessFiles,
}
