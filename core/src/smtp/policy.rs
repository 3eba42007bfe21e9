//! Who may do what: recipient and relay decisions, AUTH availability and size limits.
//!
//! Pure functions of the configuration [`Snapshot`] and facts about the session, so
//! they can be tested alone and reused (e.g. by `mailroom route`).

use super::reply::Refusal;
use super::Route;
use crate::address::{domain_eq, Mailbox};
use crate::auth;
use crate::config::{AntiRelay, Config, Snapshot};
use crate::router::{self, HeaderView, Outcome, Source};
use std::net::IpAddr;

/// What the session knows when it decides about a recipient.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    pub peer_ip: IpAddr,
    /// The authenticated account, if any.
    pub auth_user: Option<&'a str>,
    /// The driver saw a POP3 login from this IP recently enough.
    pub pop_before_smtp: bool,
    /// The envelope sender (`None` = the null sender).
    pub sender: Option<&'a Mailbox>,
}

/// The outcome for one `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    Accept(Route),
    Refuse(Refusal),
}

const UNKNOWN_LOCAL: Refusal = Refusal::new(550, "5.1.1", "Recipient not recognised");
const RELAY_NEEDS_AUTH: Refusal =
    Refusal::new(550, "5.7.1", "Relaying denied: authentication required");
const RELAY_ADDRESS: Refusal = Refusal::new(
    550,
    "5.7.1",
    "Relaying denied: your address may not send to other domains",
);
const SEND_NOT_ALLOWED: Refusal = Refusal::new(550, "5.7.1", "You may not send Internet mail");
const RELAY_SENDER: Refusal =
    Refusal::new(550, "5.7.1", "Relaying denied: sender is not a local user");

/// The domain is one of ours (`local_domains`, any case).
pub fn is_local_domain(config: &Config, domain: &str) -> bool {
    config.local_domains.iter().any(|d| domain_eq(d, domain))
}

/// Decide where `rcpt` goes, or why it is refused (§11.3, §11.3.2), asking the router
/// (mappings, lists, users; docs/ROUTING.md). Local recipients are accepted whatever
/// the access lists say; only mail that leaves (other domains, `*REMOTE`) needs
/// relaying rights, and an authenticated user needs "Allow sending of Internet mail".
pub fn decide_recipient(snap: &Snapshot, facts: &SessionFacts<'_>, rcpt: &Mailbox) -> RcptDecision {
    let source = session_source(facts);
    let local_domain = is_local_domain(&snap.config, rcpt.domain());
    if !local_domain {
        if let Err(why) = may_send_out(snap, facts) {
            return RcptDecision::Refuse(why);
        }
    }
    let sender = facts.sender.map(Mailbox::as_str);
    let plan = router::route_recipient(
        snap,
        &source,
        sender,
        &HeaderView::default(),
        None,
        rcpt.as_str(),
    );
    if plan.via_remote && local_domain {
        if let Err(why) = may_send_out(snap, facts) {
            return RcptDecision::Refuse(why);
        }
    }
    match plan.outcome {
        Outcome::Deliver { mailboxes, .. } => RcptDecision::Accept(match mailboxes.first() {
            Some(m) => Route::Local(m.clone()),
            None => Route::Remote,
        }),
        // RFC 5321 §4.5.1: postmaster is accepted even with no administrator to take it.
        // Mailer_Daemon takes local users' answers to download queries (§8.1.1).
        Outcome::Unknown { .. }
            if snap.config.smtp.reject_unknown_local
                && !(local_domain
                    && (rcpt
                        .local_part_unquoted()
                        .eq_ignore_ascii_case("postmaster")
                        || (source == Source::Local
                            && rcpt
                                .local_part_unquoted()
                                .eq_ignore_ascii_case("mailer_daemon")))) =>
        {
            RcptDecision::Refuse(UNKNOWN_LOCAL)
        }
        // Accepted; the plan made at the end of DATA bounces or discards it.
        Outcome::Unknown { .. } | Outcome::Discard { .. } => RcptDecision::Accept(Route::Unknown),
    }
}

/// Where mail for an SMTP rule's redirect or copy target goes (§8.2.1): the
/// administrator chose it, so no relay or recipient check applies. `target` is a
/// user, list or group name (qualified with the default domain) or an address.
/// Returns the address written into the envelope and its route.
pub fn rule_target(snap: &Snapshot, facts: &SessionFacts<'_>, target: &str) -> (String, Route) {
    let address = if target.contains('@') {
        target.to_string()
    } else {
        format!("{target}@{}", snap.config.default_domain)
    };
    let plan = router::route_recipient(
        snap,
        &session_source(facts),
        facts.sender.map(Mailbox::as_str),
        &HeaderView::default(),
        None,
        &address,
    );
    let route = match plan.outcome {
        Outcome::Deliver { mailboxes, .. } => match mailboxes.first() {
            Some(m) => Route::Local(m.clone()),
            None => Route::Remote,
        },
        Outcome::Unknown { .. } | Outcome::Discard { .. } => Route::Unknown,
    };
    (address, route)
}

/// How the router sees an SMTP session's mail: from a local user when the session
/// authenticated, else from the Internet.
pub fn session_source(facts: &SessionFacts<'_>) -> Source {
    if facts.auth_user.is_some() {
        Source::Local
    } else {
        Source::Smtp
    }
}

/// Relaying rights, then the authenticated user's "Allow sending of Internet mail".
fn may_send_out(snap: &Snapshot, facts: &SessionFacts<'_>) -> Result<(), Refusal> {
    relay_allowed(snap, facts)?;
    let names = router::names::Names::new(snap);
    if let Some(account) = facts.auth_user.and_then(|u| snap.accounts.get(u)) {
        if !names.effective(account).send_internet {
            return Err(SEND_NOT_ALLOWED);
        }
    }
    Ok(())
}

/// May this session send to other domains? (§11.3.2 anti-relay methods.)
pub fn relay_allowed(snap: &Snapshot, facts: &SessionFacts<'_>) -> Result<(), Refusal> {
    let smtp = &snap.config.smtp;
    let proven = facts.auth_user.is_some() || facts.pop_before_smtp || !smtp.require_auth;
    match smtp.anti_relay {
        AntiRelay::ClientIp => {
            let list = &snap.access.smtp;
            let verdict = list.check(facts.peer_ip, facts.auth_user);
            if !verdict.allowed {
                Err(RELAY_ADDRESS)
            } else if proven || verdict.noauth {
                Ok(())
            } else {
                Err(RELAY_NEEDS_AUTH)
            }
        }
        AntiRelay::Lan => {
            if !auth::is_lan(facts.peer_ip) {
                Err(RELAY_ADDRESS)
            } else if proven {
                Ok(())
            } else {
                Err(RELAY_NEEDS_AUTH)
            }
        }
        AntiRelay::FromAddress => {
            let local_sender = facts.sender.is_some_and(|s| {
                is_local_domain(&snap.config, s.domain())
                    && snap.accounts.get(&s.local_part_unquoted()).is_some()
            });
            if !local_sender {
                Err(RELAY_SENDER)
            } else if proven {
                Ok(())
            } else {
                Err(RELAY_NEEDS_AUTH)
            }
        }
    }
}

/// May AUTH be offered on this connection?
pub fn auth_allowed(config: &Config, peer_ip: IpAddr, tls_active: bool) -> bool {
    auth::plaintext_allowed(config.smtp.plaintext_auth, peer_ip, tls_active)
}

/// The message size limit for this session: the smallest non-zero of the global limit
/// and the authenticated user's outgoing limit; 0 = none configured.
pub fn size_limit(snap: &Snapshot, auth_user: Option<&str>) -> u64 {
    let global = snap.config.smtp.max_message_size;
    let user = auth_user
        .and_then(|u| snap.accounts.get(u))
        .map_or(0, |a| a.max_outgoing_size);
    match (global, user) {
        (0, u) => u,
        (g, 0) => g,
        (g, u) => g.min(u),
    }
}
