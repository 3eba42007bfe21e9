//! The "delivered" report (RFC 3461 `NOTIFY=SUCCESS`, RFC 3464 `Action: delivered`)
//! for envelope recipients whose mail was stored in a local mailbox (POP-2).

use mailroom_core::config::Snapshot;
use mailroom_core::dsn::{build_report, Dsn, FailedRecipient, MailHead, ReportKind};
use mailroom_core::router::{Outcome, Plan};
use mailroom_core::servermail::ServerMail;
use mailroom_core::smtp::{Delivery, Recipient};

use super::{sent_or_logged, SendFn};
use crate::platform::clock::now;
use crate::store::Store;

pub fn delivered(
    store: &Store,
    snap: &Snapshot,
    delivery: &Delivery,
    original: &[Recipient],
    plan: &Plan,
    send: SendFn,
) {
    let Some(sender) = delivery.envelope.mail_from.as_deref() else {
        return;
    };
    let wants = |r: &Recipient| {
        r.dsn_notify.as_deref().is_some_and(|n| {
            n.split(',')
                .any(|x| x.trim().eq_ignore_ascii_case("SUCCESS"))
        })
    };
    let done: Vec<FailedRecipient> = plan
        .envelope_recipients()
        .filter(
            |p| matches!(&p.outcome, Outcome::Deliver { mailboxes, .. } if !mailboxes.is_empty()),
        )
        .filter_map(|p| {
            let r = original
                .iter()
                .find(|r| r.address.eq_ignore_ascii_case(&p.address))?;
            wants(r).then(|| FailedRecipient {
                address: r.address.clone(),
                status: "2.0.0".into(),
                diagnostic: "250 2.0.0 delivered to the mailbox".into(),
                original_recipient: r.dsn_orcpt.clone(),
            })
        })
        .collect();
    if done.is_empty() {
        return;
    }
    let now = now();
    let id = format!("{}.delivered", delivery.id);
    let text = "Your message was delivered to the mailbox of the recipients listed below.\n";
    let data = build_report(
        &Dsn {
            head: MailHead::new(&snap.config, sender, now, &id),
            text,
            recipients: &done,
            original: &delivery.data,
            headers_only: true,
            envelope_id: delivery.envelope.dsn_envid.as_deref(),
            arrival: Some(now),
        },
        ReportKind::Delivered,
    );
    let mail = ServerMail {
        sender: None,
        to: vec![sender.to_string()],
        data,
    };
    tracing::info!(id = %delivery.id, to = sender, recipients = done.len(), "delivered report");
    sent_or_logged("delivered report", &id, send(store, snap, &mail));
}
