//! Outbound delivery (§6.4, §13.3, OUT-1..OUT-6, MAP-7): the queue machine, the Out
//! Mail domain filter and the LAN forwarding rules. The SMTP client session is
//! [`crate::smtp::client`], MX lookups are [`crate::dns`]; the runtime keeps the spool
//! and drives sessions (docs/OUTBOUND.md).

pub mod filter;
pub mod lanfwd;
pub mod queue;

pub use filter::DomainFilter;
pub use lanfwd::{lan_rule, lan_target, parse_rules, LanRule, LanTarget, RuleError};
pub use queue::{
    auto_lan, ConnId, Dest, Method, OutMailSetup, OutQueue, QueueAction, QueueCommand, QueueSetup,
    QueuedMessage, QueuedRecipient, RcptState, RunId, RunReport, SessionId, DEFAULT_MAX_RECIPIENTS,
};
