//! Looking names up in a snapshot: users, lists, groups (built-in and defined), the
//! Main Administrator, and each user's settings with their group applied.

use crate::accounts::Account;
use crate::address::{domain_eq, Mailbox};
use crate::config::{Group, List, Snapshot, ADMINS, EVERYONE, NO_ONE};

/// What a target, list member, assistant or forwarding entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `*REMOTE` (§5.5).
    Remote,
    /// A bare name: a user, list or group.
    Name(String),
    /// A full address.
    Address(Mailbox),
}

/// Why an entry is not a usable target.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case(crate::config::REMOTE_TARGET) {
        return Ok(Target::Remote);
    }
    if s.contains('@') {
        return Mailbox::parse(s)
            .map(Target::Address)
            .map_err(|e| format!("{s:?} is not a valid address ({e})"));
    }
    check_list_name(s).map(|()| Target::Name(s.to_string()))
}

/// Names of users, lists and groups: 1–64 of letters, digits, `.`, `_`, `-`, not
/// starting with `.` or `-` (account names are stricter, 32 at most).
pub fn check_list_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if s.len() > 64 {
        return Err(format!("{s:?} is longer than 64 characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{s:?} contains {c:?}; a name may hold only letters, digits, '.', '_' and '-' \
             (write a full address with '@' for anything else)"
        ));
    }
    if s.starts_with(['.', '-']) {
        return Err(format!("{s:?} cannot start with '.' or '-'"));
    }
    Ok(())
}

/// A group, built in or defined in `[[group]]`.
#[derive(Debug, Clone, Copy)]
pub enum GroupRef<'a> {
    Everyone,
    NoOne,
    Admins,
    Defined(&'a Group),
}

impl GroupRef<'_> {
    pub fn name(&self) -> &str {
        match self {
            GroupRef::Everyone => EVERYONE,
            GroupRef::NoOne => NO_ONE,
            GroupRef::Admins => ADMINS,
            GroupRef::Defined(g) => &g.name,
        }
    }
}

/// A user's routing settings with their group's applied (§4.3.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub in_everyone: bool,
    pub send_internet: bool,
    pub receive_internet: bool,
    /// The Internet reply address, `*` already replaced; `None` = unchanged.
    pub reply_address: Option<String>,
}

/// Lookups over one snapshot. All comparisons ignore ASCII case.
#[derive(Clone, Copy)]
pub struct Names<'a> {
    pub snap: &'a Snapshot,
}

impl<'a> Names<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        Names { snap }
    }

    pub fn account(&self, name: &str) -> Option<&'a Account> {
        self.snap.accounts.get(name)
    }

    pub fn list(&self, name: &str) -> Option<&'a List> {
        self.snap
            .config
            .lists
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn group(&self, name: &str) -> Option<GroupRef<'a>> {
        if name.eq_ignore_ascii_case(EVERYONE) {
            return Some(GroupRef::Everyone);
        }
        if name.eq_ignore_ascii_case(NO_ONE) {
            return Some(GroupRef::NoOne);
        }
        if name.eq_ignore_ascii_case(ADMINS) {
            return Some(GroupRef::Admins);
        }
        self.snap
            .config
            .groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .map(GroupRef::Defined)
    }

    /// The members of a group, by account name order.
    pub fn group_members(&self, g: GroupRef<'_>) -> Vec<&'a Account> {
        self.snap
            .accounts
            .iter()
            .filter(|a| match g {
                GroupRef::Everyone => self.effective(a).in_everyone,
                GroupRef::NoOne => false,
                GroupRef::Admins => a.admin,
                GroupRef::Defined(d) => a.group.eq_ignore_ascii_case(&d.name),
            })
            .collect()
    }

    fn defined_group(&self, account: &Account) -> Option<&'a Group> {
        if account.group.is_empty() {
            return None;
        }
        self.snap
            .config
            .groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(&account.group))
    }

    pub fn effective(&self, account: &Account) -> Effective {
        let group = self.defined_group(account);
        let pick = |user: Option<bool>, of_group: Option<bool>| -> bool {
            let forced = group.is_some_and(|g| g.force);
            match (forced, user, of_group) {
                (true, _, Some(g)) => g,
                (_, Some(u), _) => u,
                (_, None, Some(g)) => g,
                (_, None, None) => true,
            }
        };
        let g = group.cloned().unwrap_or_default();
        let reply_address = if !account.reply_address.is_empty() {
            Some(account.reply_address.clone())
        } else {
            g.reply_address
                .as_ref()
                .filter(|r| !r.is_empty())
                .map(|r| r.replace('*', &account.name))
        };
        Effective {
            in_everyone: pick(account.in_everyone, g.in_everyone),
            send_internet: pick(account.send_internet, g.send_internet),
            receive_internet: pick(account.receive_internet, g.receive_internet),
            reply_address,
        }
    }

    /// The Main Administrator (§16.3): the configured account, else `postmaster`, else
    /// the first administrator by name.
    pub fn main_admin(&self) -> Option<&'a Account> {
        if let Some(name) = &self.snap.config.admin.main_administrator {
            return self.account(name);
        }
        self.account("postmaster")
            .or_else(|| self.snap.accounts.iter().find(|a| a.admin))
    }

    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.snap
            .config
            .local_domains
            .iter()
            .any(|d| domain_eq(d, domain))
    }

    /// The local account an address belongs to (`user@local-domain`), if any.
    pub fn local_account_of(&self, address: &Mailbox) -> Option<&'a Account> {
        if !self.is_local_domain(address.domain()) {
            return None;
        }
        self.account(&address.local_part_unquoted())
    }

    /// Whether a user, list or group of this name exists.
    pub fn exists(&self, name: &str) -> bool {
        self.account(name).is_some() || self.list(name).is_some() || self.group(name).is_some()
    }
}

/// The bare address inside a reply-address setting, which may be written
/// `addr` or `"Name" <addr>` (§4.3.7.3).
pub fn address_part(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim(),
        _ => s.trim(),
    }
}
