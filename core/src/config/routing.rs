//! Routing configuration: mappings (§5), lists (§14), groups (§4.3.6), the Local Mail
//! settings (§12, §4.3.5) and what happens to mail for unknown recipients (§16.3).
//!
//! `[[mapping]]` and `[[list]]` keys are fixed by INTERFACE.md; the rest is this
//! project's design, documented in docs/ROUTING.md.

use serde::{Deserialize, Serialize};

/// The pseudo-target of a remote user (§5.5).
pub const REMOTE_TARGET: &str = "*REMOTE";

/// Built-in groups (§14.3); they cannot be defined or changed.
pub const EVERYONE: &str = "Everyone";
pub const NO_ONE: &str = "No-one";
pub const ADMINS: &str = "Admins";
pub const BUILT_IN_GROUPS: [&str; 3] = [EVERYONE, NO_ONE, ADMINS];

/// Deepest list nesting that is expanded (§14.2).
pub const MAX_LIST_DEPTH: usize = 10;

/// One `[[mapping]]`: `address` → `target`, used `mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// `user`, `user@domain` (both may hold `*` and `?`), or `~@domain`.
    pub address: String,
    /// A user, list or group name, an address, or `*REMOTE`.
    pub target: String,
    #[serde(default)]
    pub mode: MappingMode,
    /// Only with `mode = "pop3"`: the one In Mail this mapping is for (omit = any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inmail: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// Line of the `[[mapping]]` header in `mailroom.toml` (0 = built in code).
    #[serde(skip)]
    pub line: usize,
}

/// When a mapping is used (§5.1.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingMode {
    /// All incoming and locally sent mail.
    #[default]
    Always,
    /// Only mail collected from an ISP mailbox by POP3.
    Pop3,
    /// Only mail that arrives by SMTP: incoming SMTP and mail sent by local users.
    Smtp,
    /// Match the *sender's* address instead of the recipient's.
    Sender,
}

impl MappingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingMode::Always => "always",
            MappingMode::Pop3 => "pop3",
            MappingMode::Smtp => "smtp",
            MappingMode::Sender => "sender",
        }
    }
}

/// One `[[list]]`: a distribution list or a forwarding (§14.4, §14.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct List {
    pub name: String,
    /// User, list and group names, and addresses (local or remote).
    pub members: Vec<String>,
    #[serde(default)]
    pub kind: ListKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// Mailing lists (§14.6): who moderates (users, lists or addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moderators: Vec<String>,
    #[serde(default, skip_serializing_if = "super::PostPolicy::is_default")]
    pub post: super::PostPolicy,
    #[serde(default, skip_serializing_if = "super::mailing::skip_false")]
    pub moderated: bool,
    #[serde(default, skip_serializing_if = "super::SubscribePolicy::is_default")]
    pub subscribe: super::SubscribePolicy,
    #[serde(default, skip_serializing_if = "super::mailing::skip_false")]
    pub confidential: bool,
    /// `[list.options]` (docs/LISTS.md).
    #[serde(default, skip_serializing_if = "super::MailingOptions::is_default")]
    pub options: super::MailingOptions,
    #[serde(skip)]
    pub line: usize,
}

impl List {
    /// A list of `kind` with these members and every other setting at its default.
    pub fn new(name: &str, kind: ListKind, members: Vec<String>) -> List {
        List {
            name: name.to_string(),
            members,
            kind,
            comment: String::new(),
            moderators: Vec::new(),
            post: super::PostPolicy::default(),
            moderated: false,
            subscribe: super::SubscribePolicy::default(),
            confidential: false,
            options: super::MailingOptions::default(),
            line: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    #[default]
    Distribution,
    /// A list with exactly one member, usually remote (§14.5).
    Forwarding,
    /// A mailing list (§14.6): the list server handles its address (docs/LISTS.md).
    Mailing,
}

/// One `[[group]]` (§4.3.6): local users who name it in their account's `group`.
/// A group can be used as a list by local senders and in mappings and lists; mail from
/// outside cannot reach it directly (§14). Unset settings leave each member's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// "Put user in Everyone list".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_everyone: Option<bool>,
    /// "Allow sending of Internet mail".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_internet: Option<bool>,
    /// "Allow receiving of Internet mail".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_internet: Option<bool>,
    /// "Change Internet Mail Reply Address to"; `*` stands for the user's name
    /// (§4.3.7.3). A user's own setting wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_address: Option<String>,
    /// "Force user configuration to match these settings": set values override the
    /// members' own; without it they only fill in what a member leaves unset.
    #[serde(default)]
    pub force: bool,
    #[serde(skip)]
    pub line: usize,
}

/// `[local_mail]` (§12.1, §12.2, §4.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalMail {
    /// VPOP3's default `user@local-domain` → user mapping for local and SMTP mail;
    /// `false` is "Disable default user → user mappings" (§5.8).
    pub default_user_mapping: bool,
    /// Rewrite one domain to another in mail local users send out (§12.2).
    pub domain_mappings: Vec<DomainMapping>,
    /// "Global header modifiers" for mail local users send out (§4.3.5):
    /// `"Field: data"` sets a field, `"Field:"` removes it; `%O`, `%N`, `%%` in data.
    pub global_headers: Vec<String>,
}

impl Default for LocalMail {
    fn default() -> Self {
        LocalMail {
            default_user_mapping: true,
            domain_mappings: Vec::new(),
            global_headers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainMapping {
    pub from: String,
    pub to: String,
}

/// `[admin]` (§16.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// The account that gets the server's error messages and undeliverable mail.
    /// Unset: `postmaster` if it exists, else the first administrator by name.
    pub main_administrator: Option<String>,
}

/// `[unknown_recipients]`: "What to do with incoming (POP3) mail for unknown
/// recipients" (§16.3.1.1). Mail sent locally or received by SMTP for an unknown local
/// address is refused at RCPT or bounced (`[smtp] reject_unknown_local`), except that
/// `action = "remote"` treats every unknown address as `*REMOTE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnknownRecipients {
    pub action: UnknownAction,
    /// The account for `error_to` and `message_to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Also bounce to the sender (not with `remote`), using `DIR/BOUNCE.MSG` (§16.4).
    pub bounce: bool,
}

impl Default for UnknownRecipients {
    fn default() -> Self {
        UnknownRecipients {
            action: UnknownAction::MessageToAdmin,
            to: None,
            bounce: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownAction {
    /// An error message, with the mail attached, to the Main Administrator.
    ErrorToAdmin,
    /// The mail itself to the Main Administrator.
    #[default]
    MessageToAdmin,
    /// An error message, with the mail attached, to the account in `to`.
    ErrorTo,
    /// The mail itself to the account in `to`.
    MessageTo,
    /// "Treat as *REMOTE": collected mail is ignored, local mail goes out.
    Remote,
}

impl UnknownAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownAction::ErrorToAdmin => "error_to_admin",
            UnknownAction::MessageToAdmin => "message_to_admin",
            UnknownAction::ErrorTo => "error_to",
            UnknownAction::MessageTo => "message_to",
            UnknownAction::Remote => "remote",
        }
    }
}
