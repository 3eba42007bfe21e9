//! `[autoresponder]`: the server-wide autoresponder settings (§4.2.3.2.3, the manual's
//! Utilities → Autoresponder Settings page; docs/AUTOMAIL.md). Each account's own
//! switches are `Account.autoresponder`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoMail {
    /// Header filters added to every user's (`Field: pattern`, `*`/`?` wildcards):
    /// a message matching one is never answered.
    pub filters: Vec<String>,
    /// Sender addresses (wildcards) that may be answered; empty = every sender.
    pub allow: Vec<String>,
    /// Sender addresses (wildcards) never answered.
    pub deny: Vec<String>,
    /// How the dates of `<Valid:…>` are written: `dmy` (Europe), `mdy` (USA), `ymd`.
    pub date_order: DateOrder,
    /// An external autoresponder program is killed after this many seconds (§4.2.3.2.2.6).
    pub external_timeout_secs: u32,
}

impl Default for AutoMail {
    fn default() -> Self {
        AutoMail {
            filters: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            date_order: DateOrder::Dmy,
            external_timeout_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    Dmy,
    Mdy,
    Ymd,
}

/// `[receipts]`: delivery receipts (§16.1.2): a message with one of these header
/// fields gets a receipt, sent to the address in the field, when its recipient first
/// downloads it by POP3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Receipts {
    /// "Delivery Receipt Header fields"; empty = never.
    pub delivery_headers: Vec<String>,
    /// "Only generate Delivery Receipts for Local Messages": only when the receipt
    /// address is at one of this server's domains.
    pub local_only: bool,
}

impl Default for Receipts {
    fn default() -> Self {
        Receipts {
            delivery_headers: vec!["Return-Receipt-To".into()],
            local_only: false,
        }
    }
}
