//! Storing a collected message the way the core sorting decided
//! (`mailroom_core::collect::sort`): through the router's plan into the mailboxes and
//! the spool, into the spool for a LAN server, or to the account that gets mail nobody
//! could be found for. Everything is durable (fsynced) before [`store_sorted`] returns,
//! so the caller may then DELE the message at the ISP.

use crate::platform::clock::now;
use std::net::{IpAddr, Ipv4Addr};

use mailroom_core::collect::sort::{Sorted, Sorting, NO_RECIPIENTS};
use mailroom_core::config::{InMail, Snapshot};
use mailroom_core::dsn;
use mailroom_core::router::{Source, UnknownHandling};
use mailroom_core::smtp::{Delivery, DeliveryError, Envelope, Recipient, Route};

use crate::services::{deliver, summary};
use crate::store::Store;

/// What was stored for one message, for the collection report and the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredReport {
    /// Local accounts that got the message itself.
    pub mailboxes: Vec<String>,
    /// Addresses it was queued for (outside, or the LAN recipient).
    pub queued: Vec<String>,
    /// Accounts that got an error message about it.
    pub notices: Vec<String>,
    /// Recipients the sender was told about in a bounce.
    pub bounced: Vec<String>,
    /// Recipients dropped on purpose (`*REMOTE`, not an accepted address, No-one).
    pub discarded: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreSortedError {
    /// The disk failed: try again later; leave the message at the ISP.
    #[error("cannot store the collected message: {0}")]
    Storage(String),
    /// Nobody to give unroutable mail to: leave it at the ISP until the configuration
    /// names a Main Administrator.
    #[error(
        "{0}: there is no account to give it to (set [admin] main_administrator); left at the ISP"
    )]
    NoAccount(String),
}

impl From<DeliveryError> for StoreSortedError {
    fn from(e: DeliveryError) -> Self {
        StoreSortedError::Storage(e.text)
    }
}

/// Store `message` (as downloaded) collected by `inmail`, as `sorted` (from
/// `sort(snap, inmail, message)`) says. `id` names it in the log and in Message-IDs of
/// notices (e.g. `<In Mail>.<UIDL>`; any text).
pub fn store_sorted(
    store: &Store,
    snap: &Snapshot,
    inmail: &InMail,
    message: Vec<u8>,
    sorted: &Sorted,
    id: &str,
) -> Result<StoredReport, StoreSortedError> {
    // Owned, so a large message is not copied: the From line is cut off in place.
    let mut data = message;
    data.drain(..sorted.strip.min(data.len()));
    let source = Source::Pop3(inmail.name.clone());
    for line in &sorted.trace {
        tracing::debug!(id, inmail = %inmail.name, "{line}");
    }
    let mut delivery = Delivery {
        id: id.to_string(),
        envelope: Envelope {
            mail_from: sorted.sender.clone(),
            recipients: Vec::new(),
            helo: server_host(&inmail.server).to_string(),
            client_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            auth_user: None,
            eight_bit: data.iter().any(|&b| b >= 0x80),
            dsn_ret: None,
            dsn_envid: None,
        },
        data,
        junk: false,
    };
    let mut report = StoredReport::default();
    match &sorted.sorting {
        Sorting::Route(plan) => {
            deliver::list_routing(store, snap, &source, |r| {
                crate::services::lists::take_collected(store, snap, &mut delivery, plan, r)
            })?;
            deliver::execute(store, snap, &mut delivery, &source, plan)?;
            report.mailboxes = plan.mailboxes.clone();
            report.queued = plan.remote.clone();
            report.notices = plan.notices.iter().map(|n| n.to.clone()).collect();
            report.bounced = if delivery.envelope.mail_from.is_some() {
                plan.bounces.clone()
            } else {
                Vec::new()
            };
            report.discarded = plan.discards.iter().map(|d| d.recipient.clone()).collect();
        }
        Sorting::Lan { server, recipient } => {
            delivery.envelope.recipients = vec![recipient_to(recipient, Route::Remote)];
            store.queue_for_lan(&delivery, server)?;
            summary::lan_queued(store.data_dir(), &delivery);
            report.queued = vec![recipient.clone()];
        }
        Sorting::Unrouted { handling, reason } => match handling {
            UnknownHandling::MessageTo(account) => {
                delivery.envelope.recipients = vec![local(account)];
                store.deliver(&delivery)?;
                summary::stored(store.data_dir(), &delivery, &source);
                tracing::info!(id, inmail = %inmail.name, to = %account, "{reason}: message stored");
                report.mailboxes = vec![account.clone()];
            }
            UnknownHandling::ErrorTo(account) => {
                let notice = notice(snap, inmail, &delivery, account, reason);
                let d = Delivery {
                    id: delivery.id.clone(),
                    envelope: Envelope {
                        mail_from: None,
                        recipients: vec![local(account)],
                        ..delivery.envelope.clone()
                    },
                    data: notice,
                    junk: false,
                };
                store.deliver(&d)?;
                summary::stored(store.data_dir(), &d, &source);
                tracing::info!(id, inmail = %inmail.name, to = %account, "{reason}: error message stored");
                report.notices = vec![account.clone()];
            }
            UnknownHandling::None => {
                tracing::error!(id, inmail = %inmail.name, "{reason}: no account to give it to; left at the ISP");
                return Err(StoreSortedError::NoAccount(reason.clone()));
            }
        },
    }
    Ok(report)
}

fn recipient_to(address: &str, route: Route) -> Recipient {
    Recipient {
        address: address.to_string(),
        route,
        dsn_notify: None,
        dsn_orcpt: None,
    }
}

fn local(account: &str) -> Recipient {
    recipient_to(account, Route::Local(account.to_ascii_lowercase()))
}

/// The host part of `host:port` (brackets of an IPv6 literal kept).
fn server_host(server: &str) -> &str {
    match server.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            if h.contains(':') && !h.ends_with(']') {
                server
            } else {
                h
            }
        }
        _ => server,
    }
}

/// The error message (§6.3.2, §16.3.1.1) with the collected message attached.
fn notice(
    snap: &Snapshot,
    inmail: &InMail,
    delivery: &Delivery,
    account: &str,
    reason: &str,
) -> Vec<u8> {
    let cfg = &snap.config;
    let now = now();
    let why = if reason == NO_RECIPIENTS {
        format!(
            "No recipient in its header is for one of this In Mail's accepted_domains ({}).",
            if inmail.accepted_domains.is_empty() {
                "none are set".to_string()
            } else {
                inmail.accepted_domains.join(", ")
            }
        )
    } else {
        format!(
            "Its subject has no {} marker naming a user.",
            inmail.subject_marker
        )
    };
    let text = format!(
        "{reason}.\n\nA message collected by In Mail \"{}\" ({} at {}) could not be sorted \
         to anybody here. {why}\n\nSender: <{}>\n\nThe message is attached. \
         ([unknown_recipients] in mailroom.toml decides who gets these messages; \
         docs/COLLECT.md explains the sorting.)\n",
        inmail.name,
        inmail.user,
        server_host(&inmail.server),
        delivery.envelope.mail_from.as_deref().unwrap_or(""),
    );
    let token = format!(
        "{}.{}.{}.collect",
        now.unix_micros(),
        std::process::id(),
        sanitize(&delivery.id)
    );
    let to = format!("{account}@{}", cfg.default_domain);
    dsn::build_error_mail(&dsn::ErrorMail {
        mail: dsn::TextMail {
            head: dsn::MailHead::new(cfg, &to, now, &token),
            subject: reason,
            text: &text,
        },
        original: &delivery.data,
    })
}

/// An id made safe for a Message-ID's left part.
fn sanitize(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
