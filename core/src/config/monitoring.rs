//! `[monitoring]`: monitoring copies (LOG-3, manual §15.1). Which mail is copied to
//! the monitoring mailbox (incoming, outgoing, internal: all, none, or the users with
//! the account's `monitor` flag), from what size, and a random sample of the copies
//! to a second mailbox. The decision is `crate::monitoring`'s.

use serde::{Deserialize, Serialize};

/// Whose mail of one kind is monitored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    #[default]
    None,
    All,
    /// Only mail from or to an account with `monitor = true`.
    Selected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitoring {
    /// Mail arriving from the Internet (collected, or by SMTP from outside).
    pub incoming: MonitorMode,
    /// Mail from local users to the Internet.
    pub outgoing: MonitorMode,
    /// Mail from local users to local users.
    pub internal: MonitorMode,
    /// "Only monitor messages larger than" this many kB; 0 = all.
    pub min_size_kb: u64,
    /// The Monitor Target: the account that gets the copies.
    pub target: String,
    /// "Send random %": this share of the copies (0–100) also goes to `sample_target`.
    pub sample_percent: u8,
    pub sample_target: String,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            incoming: MonitorMode::None,
            outgoing: MonitorMode::None,
            internal: MonitorMode::None,
            min_size_kb: 0,
            target: "monitor".into(),
            sample_percent: 0,
            sample_target: String::new(),
        }
    }
}
