//! LAN forwarding as the router sees it (MAP-7, §13.3): an address this server does
//! not know, in a domain it serves, may still belong to a user of another mail server
//! on the LAN (`~@company.com 192.168.66.101:1025` — "some users in VPOP3 and all
//! others on another mail server"). The runtime forwards such recipients with the same
//! rules ([`forward_target`]), so the router's decision and the queue's agree.

use super::Source;
use crate::config::Snapshot;
use crate::outbound::{lan_rule, LanTarget};

/// The In Mail number (1-based, file order) of collected mail, for `(1-5)` conditions.
fn in_mail_number(snap: &Snapshot, source: &Source) -> Option<u32> {
    match source {
        Source::Pop3(name) => snap
            .config
            .inmails
            .iter()
            .position(|m| m.name.trim().eq_ignore_ascii_case(name.trim()))
            .and_then(|i| u32::try_from(i + 1).ok()),
        _ => None,
    }
}

/// Where SMTPFWD.DAT sends `address` for mail from `source` (`~@` rules included: the
/// caller asks only about addresses nothing local recognised, or about mail that is
/// leaving anyway).
pub fn forward_target(snap: &Snapshot, source: &Source, address: &str) -> Option<LanTarget> {
    let n = in_mail_number(snap, source);
    lan_rule(&snap.access.lan_rules, address, source, n, true).map(|(_, t)| t)
}

/// A trace line when a rule forwards an unrecognised `address`.
pub(super) fn explain(snap: &Snapshot, source: &Source, address: &str) -> Option<String> {
    let n = in_mail_number(snap, source);
    let (rule, target) = lan_rule(&snap.access.lan_rules, address, source, n, true)?;
    Some(format!(
        "LAN forwarding rule {} (SMTPFWD.DAT line {}): forwarded to {} as {}",
        rule.pattern, rule.line, target.server, target.address
    ))
}
