//! The router: where a message goes, and why.
//!
//! One pure function, [`route`], takes the envelope, a view of the header, where the
//! message came from and the configuration [`Snapshot`], and returns a [`Plan`]: the
//! local mailboxes that get the message, the outbound recipients, error notices for
//! administrators, bounces and discards, with a trace of every step for
//! `mailroom route` and the logs. The runtimes execute the plan; nothing here touches
//! the store.
//!
//! Name expansion follows VPOP3 (§21.13): an address is first checked against the
//! mappings, then the lists, then the user mailboxes; a mailbox then applies its
//! assistants and forwarding. Expansion never goes backwards: mapping targets and list
//! members are not mapped again, and assistants and forwarding go straight to a
//! mailbox or out. docs/ROUTING.md describes the whole model.

mod check;
mod expand;
pub mod headers;
pub mod lan;
pub mod names;
pub mod rewrite;
pub mod signature;

pub use check::{check_routing, Place, RoutingProblem};
pub use expand::route_recipient;
pub use headers::HeaderView;

use crate::config::Snapshot;
use serde::Serialize;
use std::fmt;

/// How the message reached the server; mapping modes and unknown-recipient handling
/// depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "inmail", rename_all = "snake_case")]
pub enum Source {
    /// Sent by a local user (an authenticated SMTP session, or handed in locally).
    Local,
    /// Received by SMTP from elsewhere.
    Smtp,
    /// Collected from an ISP mailbox by the named In Mail (§6.3).
    Pop3(String),
}

impl Source {
    /// Mail from outside: "Allow receiving of Internet mail" applies, and groups cannot
    /// be addressed directly.
    pub fn is_internet(&self) -> bool {
        !matches!(self, Source::Local)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Local => f.write_str("local"),
            Source::Smtp => f.write_str("smtp"),
            Source::Pop3(name) => write!(f, "pop3:{name}"),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        match lower.as_str() {
            "local" => Ok(Source::Local),
            "smtp" => Ok(Source::Smtp),
            "pop3" => Ok(Source::Pop3(String::new())),
            _ => match s.split_once(':') {
                Some((p, name)) if p.eq_ignore_ascii_case("pop3") => {
                    Ok(Source::Pop3(name.to_string()))
                }
                _ => Err(format!(
                    "unknown source {s:?}; use local, smtp or pop3:INMAIL"
                )),
            },
        }
    }
}

/// What the router is asked about one message.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The envelope sender; `None` = the null sender `<>`.
    pub sender: Option<&'a str>,
    /// The envelope recipients, as given.
    pub recipients: &'a [String],
    pub source: &'a Source,
    pub headers: &'a HeaderView,
    /// Message size in octets, for size dependent forwarding; `None` = not known yet.
    pub size: Option<u64>,
}

/// One line of the explanation; `depth` is the indentation level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub depth: usize,
    pub text: String,
}

/// The discard reason of collected mail for a `*REMOTE` user (§5.5): download rules
/// leave mail for such users only on the ISP's server (COL-5), so they look for it.
pub const REMOTE_IGNORED: &str = "*REMOTE: collected mail for a remote user is ignored";

/// What became of one recipient. Every recipient has exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Reached local mailboxes and/or outbound addresses (at least one of them).
    Deliver {
        mailboxes: Vec<String>,
        remote: Vec<String>,
    },
    /// Not a known local address (§16.3): handled as configured.
    Unknown {
        handling: UnknownHandling,
        /// A bounce goes to the sender.
        bounce: bool,
    },
    /// Dropped on purpose: No-one, `*REMOTE` on collected mail, an empty list.
    Discard { reason: String },
}

/// The administrator side of an unknown recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
pub enum UnknownHandling {
    /// Nobody here is told (mail sent locally or by SMTP: the sender's bounce is enough).
    None,
    /// An error message with the mail attached goes to this account.
    ErrorTo(String),
    /// The mail itself goes to this account.
    MessageTo(String),
}

/// Why a recipient appears in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An envelope recipient.
    Envelope,
    /// Added by a `mode = "sender"` mapping that matched the sender.
    SenderMapping,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientPlan {
    pub address: String,
    pub origin: Origin,
    pub outcome: Outcome,
    pub trace: Vec<Step>,
    /// Reached the outside through `*REMOTE` (a mapping, or unknown users treated as
    /// remote): mail from the Internet needs relaying rights for this.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub via_remote: bool,
}

/// An error message for one account about the unknown recipients of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownRecipientNotice {
    pub to: String,
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discard {
    pub recipient: String,
    pub reason: String,
}

/// The whole decision for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Envelope recipients in order, then sender-mapping additions.
    pub recipients: Vec<RecipientPlan>,
    /// Accounts that get the message as it is, each once.
    pub mailboxes: Vec<String>,
    /// Outbound addresses, each once (domain mappings already applied).
    pub remote: Vec<String>,
    /// The envelope sender for the outbound copy (reply address and domain mappings
    /// applied to mail from local users); `None` = the null sender.
    pub outbound_sender: Option<String>,
    pub notices: Vec<UnknownRecipientNotice>,
    /// Recipients the sender is told about in one bounce.
    pub bounces: Vec<String>,
    pub discards: Vec<Discard>,
}

impl Plan {
    /// Only the envelope recipients' entries.
    pub fn envelope_recipients(&self) -> impl Iterator<Item = &RecipientPlan> {
        self.recipients
            .iter()
            .filter(|r| r.origin == Origin::Envelope)
    }

    /// The explanation as indented text, one recipient after another.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        for r in &self.recipients {
            for step in &r.trace {
                s.push_str(&"  ".repeat(step.depth));
                s.push_str(&step.text);
                s.push('\n');
            }
            s.push_str(&format!("  => {}\n", r.outcome));
        }
        s
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Deliver { mailboxes, remote } => {
                let mut parts = Vec::new();
                if !mailboxes.is_empty() {
                    parts.push(format!("mailbox {}", mailboxes.join(", ")));
                }
                if !remote.is_empty() {
                    parts.push(format!("queued for {}", remote.join(", ")));
                }
                write!(f, "deliver: {}", parts.join("; "))
            }
            Outcome::Unknown { handling, bounce } => {
                f.write_str("unrecognised")?;
                match handling {
                    UnknownHandling::None => {}
                    UnknownHandling::ErrorTo(a) => write!(f, ": error message to {a}")?,
                    UnknownHandling::MessageTo(a) => write!(f, ": message to {a}")?,
                }
                if *bounce {
                    f.write_str(", bounce to the sender")?;
                }
                Ok(())
            }
            Outcome::Discard { reason } => write!(f, "discard: {reason}"),
        }
    }
}

/// Route a whole message. Pure: the same inputs always give the same plan.
pub fn route(snap: &Snapshot, req: &Request<'_>) -> Plan {
    expand::route_message(snap, req)
}

/// Route a whole message to the user, list or group `name` instead of its recipients
/// (`req.recipients` is not read): an In Mail's `routing = "user"` (§6.3.2.1). The
/// plan has one recipient entry, for `name`; a name that does not exist is an unknown
/// recipient.
pub fn route_to_name(snap: &Snapshot, req: &Request<'_>, name: &str) -> Plan {
    expand::route_name(snap, req, name)
}
