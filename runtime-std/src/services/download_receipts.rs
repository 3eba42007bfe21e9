//! Delivery receipts (§16.1.2, POP-2): when a recipient first downloads a message by
//! POP3 and its header asks for a receipt (`[receipts] delivery_headers`, by default
//! `Return-Receipt-To`), the address in that field is told, from Mailer_Daemon, with
//! the message's header attached. "First" = the message is still unread (in `new/`,
//! or without Maildir's `S` flag), so leaving mail on the server does not send a
//! receipt on every download.

use std::io::Read;
use std::path::Path;

use mailroom_core::dsn::{receipt_address, MailHead};
use mailroom_core::router::headers::header_end;
use mailroom_core::servermail::{
    compose, is_auto_submitted, Attachment, Auto, Compose, ServerMail,
};

use crate::platform::clock::now;
use crate::services::app::Shared;
use crate::services::server_mail::{mail_id, send_server_mail};

/// Header bytes read from a message.
const MAX_HEADER: u64 = 64 * 1024;

/// The message at `path` (in a user's INBOX: `mail/USER/new|cur/`) is being
/// downloaded.
pub fn on_retrieve(shared: &Shared, path: &Path) {
    if !unread(path) {
        return;
    }
    let user = path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let user = user.as_str();
    let snap = shared.snapshot();
    let cfg = &snap.config.receipts;
    if cfg.delivery_headers.is_empty() {
        return;
    }
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX_HEADER).read_to_end(&mut head));
    if read.is_err() {
        return;
    }
    head.truncate(header_end(&head));
    let Some(to) = receipt_address(&head, &cfg.delivery_headers) else {
        return;
    };
    // Never for automatic mail (a receipt asked for by a report would answer a robot).
    if is_auto_submitted(&head) {
        return;
    }
    let local = to.rsplit_once('@').is_some_and(|(_, d)| {
        d.eq_ignore_ascii_case(&snap.config.default_domain)
            || snap
                .config
                .local_domains
                .iter()
                .any(|x| x.eq_ignore_ascii_case(d))
    });
    if cfg.local_only && !local {
        return;
    }
    let id = mail_id("receipt");
    let subject = mailroom_core::autoresponder::header(&head, "Subject").unwrap_or_default();
    let text = format!(
        "Your message was downloaded by its recipient ({user}@{}).\n\nIts header is attached.\n",
        snap.config.default_domain
    );
    let data = compose(&Compose {
        head: MailHead::new(&snap.config, &to, now(), &id),
        from: None,
        subject: &format!("Delivery Receipt: {subject}"),
        auto: Auto::Replied,
        extra: mailroom_core::autoresponder::threading(&head),
        text: &text,
        html: false,
        attachments: &[Attachment {
            name: "header".into(),
            content_type: "text/rfc822-headers".into(),
            data: head.clone(),
        }],
    });
    let mail = ServerMail {
        sender: None,
        to: vec![to.clone()],
        data,
    };
    match send_server_mail(&shared.store, &snap, id, &mail) {
        Ok(()) => tracing::info!(user, to, "delivery receipt sent"),
        Err(e) => tracing::error!(user, to, error = %e.text, "delivery receipt not sent"),
    }
}

/// Unread: in `new/`, or in `cur/` without the `S` (seen) flag.
fn unread(path: &Path) -> bool {
    if path.parent().is_some_and(|p| p.ends_with("new")) {
        return true;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rsplit_once(":2,") {
        Some((_, flags)) => !flags.contains('S'),
        None => true,
    }
}
