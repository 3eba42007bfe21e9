//! The one writer of the server's own mail (issue 15 item 7): every mail the server
//! writes by itself (autoreplies, Mailer_Daemon answers, quota warnings, receipts,
//! reports, notices, list mail) is routed here like locally submitted mail, so local
//! recipients get it in their mailbox (lists and mappings apply) and remote ones get
//! it through the outbound queue. Build the message with
//! `mailroom_core::servermail::compose` (or a report builder of `dsn`).
//!
//! The writer itself, `send_server_mail`, lives in `deliver.rs` and is re-exported
//! here: delivery's own hooks (autoresponders, Mailer_Daemon, monitoring copies, the
//! list server) write mail too, and delivery cannot import this module (an import
//! loop).

use mailroom_core::config::Snapshot;
use mailroom_core::servermail::ServerMail;
use mailroom_core::smtp::DeliveryError;

pub use crate::services::deliver::{mail_id, send_server_mail};
use crate::store::Store;

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
