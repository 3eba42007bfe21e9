//! The mail the server answers at local delivery (issue 15; docs/AUTOMAIL.md):
//! autoresponders, quota warnings and the delivery reports NOTIFY=SUCCESS asks for.
//! Delivery calls [`deliver_local`] once for the mailboxes of a plan; what it sends
//! goes through the `send` function delivery hands in (the one writer's
//! route-and-store, passed as a function because delivery cannot be imported here
//! without an import loop).

pub mod external;
pub mod mailer_daemon;
pub mod quota;
pub mod receipts;
pub mod responder;

use mailroom_core::config::Snapshot;
use mailroom_core::router::Plan;
use mailroom_core::servermail::ServerMail;
use mailroom_core::smtp::{Delivery, DeliveryError, Recipient, Route};

use crate::store::Store;

/// How server mail is sent: route and store it as locally submitted mail.
pub type SendFn = fn(&Store, &Snapshot, &ServerMail) -> Result<(), DeliveryError>;

/// Store `delivery` in the plan's mailboxes (through `store_fn`) as the autoresponders allow,
/// then send their replies, the quota warnings and the success reports. Only the
/// storing can fail the delivery: what the server writes afterwards is logged when it
/// cannot be sent (the message itself is safe; a client retry would store it twice).
pub fn deliver_local(
    store: &Store,
    snap: &Snapshot,
    delivery: &mut Delivery,
    original: &[Recipient],
    plan: &Plan,
    store_fn: &mut dyn FnMut(&Delivery) -> Result<(), DeliveryError>,
    send: SendFn,
) -> Result<(), DeliveryError> {
    let mailboxes = &plan.mailboxes;
    let answers = responder::answer_all(store, snap, delivery, mailboxes);
    let kept: Vec<&String> = mailboxes
        .iter()
        .filter(|m| answers.iter().all(|(who, a)| who != *m || a.keep))
        .collect();
    delivery.envelope.recipients = kept
        .iter()
        .map(|m| Recipient {
            address: m.to_string(),
            route: Route::Local(m.to_string()),
            dsn_notify: None,
            dsn_orcpt: None,
        })
        .collect();
    if !kept.is_empty() {
        store_fn(delivery)?;
    }
    for (who, a) in &answers {
        responder::send_answer(store, snap, &delivery.id, who, a, send);
    }
    for m in &kept {
        quota::after_delivery(store, snap, m, send);
    }
    receipts::delivered(store, snap, delivery, original, plan, send);
    Ok(())
}

/// Log a server mail that could not be sent.
fn sent_or_logged(what: &str, id: &str, r: Result<(), DeliveryError>) {
    if let Err(e) = r {
        tracing::error!(id, what, error = %e.text, "server mail not sent");
    }
}
