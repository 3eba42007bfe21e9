//! VPOP3 access restriction files (`SMTPALLOWED.DAT` and friends, §11.9.1).

use std::net::IpAddr;

/// One parsed access file. Empty = everyone allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    pub rules: Vec<AccessRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub deny: bool,
    pub network: IpAddr,
    pub prefix_len: u8,
    /// Lower-cased user names this line is restricted to; empty = anyone.
    pub users: Vec<String>,
    /// SMTP only: clients in this range need no authentication to relay.
    pub noauth: bool,
    /// 1-based line in the file, for messages.
    pub line: usize,
}

/// The outcome of checking an address against an [`AccessList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessVerdict {
    pub allowed: bool,
    /// The matching line carried `noauth`.
    pub noauth: bool,
}

/// One access list per service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFiles {
    pub smtp: AccessList,
    pub pop3: AccessList,
    pub imap: AccessList,
    pub http: AccessList,
    pub pass: AccessList,
}

impl AccessList {
    /// Check `ip` (and, where the service knows it, the user) against the list.
    /// First matching line wins; no lines = allowed; any lines = implicit deny after
    /// the last. A line with user names only matches when `user` is one of them.
    pub fn check(&self, ip: IpAddr, user: Option<&str>) -> AccessVerdict {
        todo!("access check {ip} {user:?}")
    }
}
