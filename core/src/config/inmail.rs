//! `[[inmail]]`: collecting mail from ISP POP3 mailboxes (§6.3.1, §6.3.2) and how each
//! collected message is sorted to local users (§6.3.2.1 – §6.3.2.4). docs/COLLECT.md
//! explains the model.

use serde::{Deserialize, Serialize};

/// Most `[[inmail]]` entries a configuration may define.
pub const MAX_INMAILS: usize = 100;

/// One ISP POP3 mailbox and how its mail is sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InMail {
    /// Used in logs, error mails, `mapping.inmail` and `mailroom route --source pop3:NAME`.
    pub name: String,
    /// "Enable this In Mail setting".
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The `[[connection]]` names that collect this mailbox when they run (at least one).
    pub connections: Vec<String>,
    /// `host:port` of the ISP's POP3 server; port 110, or 995 with `tls = "implicit"`.
    pub server: String,
    pub user: String,
    pub password: String,
    /// "POP3 Authentication Method".
    #[serde(default)]
    pub auth: Pop3Auth,
    #[serde(default)]
    pub tls: InMailTls,
    /// Check the server's certificate (a test server with a self-signed certificate
    /// sets this to false).
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// §6.3.6: the domains (`example.com`) and single addresses (`fred@isp.example`)
    /// whose mail is for this site.
    #[serde(default)]
    pub accepted_domains: Vec<String>,
    /// "Download message Limit" in kilobytes; 0 = no limit.
    #[serde(default)]
    pub size_limit_kb: u64,
    /// "Leave messages on server" for this many days after first seen; 0 = delete once
    /// safely stored here.
    #[serde(default)]
    pub leave_on_server_days: u32,
    /// §21.16.2 "Attempt to remove duplicate messages" within one collection run.
    #[serde(default = "yes")]
    pub remove_duplicates: bool,
    /// "Use Download Rules" (DLRULES.DAT, §8.1).
    #[serde(default)]
    pub download_rules: bool,
    /// §6.3.2.1: which of the five routing options sorts this mailbox's mail.
    #[serde(default)]
    pub routing: InMailRouting,
    /// `routing = "user"`: the user or list that gets every message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_to: Option<String>,
    /// `routing = "lan"`: `host:port` of the LAN SMTP server that gets every message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan_server: Option<String>,
    /// `routing = "lan"`: the recipient address given to that server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan_recipient: Option<String>,
    /// `routing = "subject"`: `<prefix>*<suffix>`; the `*` is the user's name.
    #[serde(default = "subject_marker")]
    pub subject_marker: String,
    /// `routing = "detected"`: "Configure Routing Options" (§6.3.2.2.1).
    #[serde(default)]
    pub detect: Detect,
    /// Line of the `[[inmail]]` header in `mailroom.toml` (0 = built in code).
    #[serde(skip)]
    pub line: usize,
}

fn yes() -> bool {
    true
}
fn subject_marker() -> String {
    "{*}".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pop3Auth {
    /// USER/PASS ("Plain Text").
    #[default]
    Plain,
    /// APOP; refused if the greeting has no timestamp.
    Apop,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InMailTls {
    /// STLS when the server offers it in CAPA, plain text otherwise.
    #[default]
    Opportunistic,
    /// STLS is required: a server that does not offer it is an error.
    Starttls,
    /// TLS from the first byte (port 995).
    Implicit,
    /// Never use TLS.
    None,
}

/// §6.3.2.1, the five routing options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InMailRouting {
    /// "Route according to detected recipient" (§6.3.2.2).
    #[default]
    Detected,
    /// "Send all messages to a specified user/list" (`deliver_to`).
    User,
    /// "Forward all messages to another LAN mail server using SMTP" (`lan_server`,
    /// `lan_recipient`).
    Lan,
    /// "Attempt to work with a single email address" (§6.3.2.3).
    SingleAddress,
    /// "Search subject line for a marker" (§6.3.2.4, `subject_marker`).
    Subject,
}

/// "Read Special Header Fields" / "Read Received: Header Fields".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// The first recognised address.
    Forwards,
    /// The last recognised address.
    Reversed,
    /// Every recognised address.
    All,
}

/// One entry of the "Header Processing Order" list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStep {
    /// The special header fields.
    Special,
    /// To, Cc, Apparently-To, Resent-To, Resent-Cc.
    Standard,
    /// `for <addr>` in Received: fields.
    Received,
    /// "Stop Processing if any recipients found".
    StopIfFound,
    /// "Stop Processing".
    Stop,
}

/// "Configure Routing Options" (§6.3.2.2.1), with the manual's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// Special header fields, one per entry: `X-Envelope-To`, `Delivered-To: account-*`
    /// (`*` marks the part that is the address), `Delivered-To:1` (only the first such
    /// field; `:2` the second, `:-1` the last).
    #[serde(default)]
    pub special_headers: Vec<String>,
    #[serde(default = "forwards")]
    pub special_read: ReadMode,
    #[serde(default = "reversed")]
    pub received_read: ReadMode,
    /// "Ignore "Resent-" header fields".
    #[serde(default)]
    pub ignore_resent: bool,
    /// "Ignore Received: field recipients without an '@'".
    #[serde(default = "yes")]
    pub ignore_received_without_at: bool,
    /// "Disable default user -> user mappings": only explicit mappings route this
    /// mailbox's mail (MAP-5).
    #[serde(default)]
    pub disable_default_mappings: bool,
    /// "Ignore leading non-compliant "From" line added by some ISPs".
    #[serde(default = "yes")]
    pub strip_from_line: bool,
    /// "Header Processing Order".
    #[serde(default = "default_order")]
    pub order: Vec<OrderStep>,
}

fn forwards() -> ReadMode {
    ReadMode::Forwards
}
fn reversed() -> ReadMode {
    ReadMode::Reversed
}

/// The "Set Default" order of DECISIONS.md.
pub fn default_order() -> Vec<OrderStep> {
    vec![
        OrderStep::Special,
        OrderStep::StopIfFound,
        OrderStep::Standard,
        OrderStep::StopIfFound,
        OrderStep::Received,
    ]
}

impl Default for Detect {
    fn default() -> Self {
        Detect {
            special_headers: Vec::new(),
            special_read: ReadMode::Forwards,
            received_read: ReadMode::Reversed,
            ignore_resent: false,
            ignore_received_without_at: true,
            disable_default_mappings: false,
            strip_from_line: true,
            order: default_order(),
        }
    }
}

impl InMail {
    /// The server's port when `server` names none.
    pub fn default_port(&self) -> u16 {
        match self.tls {
            InMailTls::Implicit => 995,
            _ => 110,
        }
    }

    /// "Download message Limit" in octets; `None` = no limit.
    pub fn size_limit(&self) -> Option<u64> {
        (self.size_limit_kb > 0).then(|| self.size_limit_kb.saturating_mul(1024))
    }
}

/// `[download_rules]`: settings of DLRULES.DAT (§8.1) shared by every In Mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadRules {
    /// "Query Download Delay": how long an unanswered Ask query keeps its message on
    /// the ISP's server before it is deleted there.
    #[serde(default = "week")]
    pub query_delay: super::Span,
}

fn week() -> super::Span {
    super::Span(crate::collect::ask::DEFAULT_QUERY_DELAY)
}

impl Default for DownloadRules {
    fn default() -> Self {
        DownloadRules {
            query_delay: week(),
        }
    }
}
