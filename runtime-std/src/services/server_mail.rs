//! The one writer of the server's own mail (issue 15 item 7): every mail the server
//! writes by itself (autoreplies, Mailer_Daemon answers, quota warnings, receipts,
//! reports, notices, list mail) is routed here like locally submitted mail, so local
//! recipients get it in their mailbox (lists and mappings apply) and remote ones get
//! it through the outbound queue. Build the message with
//! `mailroom_core::servermail::compose` (or a report builder of `dsn`).
//!
//! Delivery itself (`deliver.rs`) cannot call this module (that would be an import
//! loop), so the mails its hooks make are sent there through the same
//! `ServerMail::delivery` + `route_and_store` pair.

use mailroom_core::config::Snapshot;
use mailroom_core::router::Source;
use mailroom_core::servermail::ServerMail;
use mailroom_core::smtp::DeliveryError;

use crate::services::deliver::route_and_store;
use crate::store::Store;

/// Route and store `mail` under the delivery id `id` (unique: see [`mail_id`]).
/// Durable when it returns `Ok`.
pub fn send_server_mail(
    store: &Store,
    snap: &Snapshot,
    id: String,
    mail: &ServerMail,
) -> Result<(), DeliveryError> {
    let mut d = mail.delivery(id, &snap.config.hostname);
    route_and_store(store, snap, &mut d, &Source::Local)?;
    tracing::info!(id = %d.id, to = ?mail.to, "server mail sent");
    Ok(())
}

/// Send a mail to one recipient from the null sender (the common case).
pub fn send_to(
    store: &Store,
    snap: &Snapshot,
    id: String,
    to: &str,
    data: Vec<u8>,
) -> Result<(), DeliveryError> {
    let mail = ServerMail {
        sender: None,
        to: vec![to.to_string()],
        data,
    };
    send_server_mail(store, snap, id, &mail)
}

/// A delivery id for a server mail about `what`: time, process and a counter, so two
/// mails written in the same microsecond differ.
pub fn mail_id(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.{}.{n}.{what}",
        crate::platform::clock::now().unix_micros(),
        std::process::id()
    )
}
