//! Carrying out a routing plan: the runtime half of the router (docs/ROUTING.md).
//!
//! The core router decides; this module writes: the message into each mailbox once,
//! the outbound copy (rewritten for the Internet) into the spool, error notices into
//! administrators' mailboxes, and one bounce to the sender. Everything is durable
//! before it returns, so an SMTP 250 after it is never a lie (invariant 5).

use crate::platform::clock::now;
use std::borrow::Cow;
use std::fs;
use std::io::Read;

use mailroom_core::config::Snapshot;
use mailroom_core::dsn::{self, FailedRecipient};
use mailroom_core::router::rewrite::outbound_message;
use mailroom_core::router::{self, HeaderView, Outcome, Plan, Request, Source};
use mailroom_core::smtp::{Delivery, DeliveryError, Envelope, Recipient, Route};
use mailroom_core::Instant;

use crate::platform::datadir::DataDir;
use crate::services::summary;
use crate::store::Store;

/// Longest BOUNCE.MSG used; the rest is ignored.
const MAX_BOUNCE_MSG: u64 = 64 * 1024;

/// Route `delivery` (which came from `source`) and store the result. Returns the plan
/// so callers can report it. `delivery` is lent, not copied: its recipients (and, for
/// a rewritten outbound copy, its data) are swapped while storing and put back.
pub fn route_and_store(
    store: &Store,
    snap: &Snapshot,
    delivery: &mut Delivery,
    source: &Source,
) -> Result<Plan, DeliveryError> {
    // A local user's answer to a download query (§8.1.1) is for the Ask book only.
    if let Some(plan) = crate::services::askbook::divert_reply(store, snap, delivery, source) {
        return Ok(plan);
    }
    // Mailer_Daemon control messages (§17).
    if let Some(plan) =
        crate::services::automail::mailer_daemon::divert(store, snap, delivery, source, send_own)
    {
        return Ok(plan);
    }
    if let Some(e) = crate::services::automail::quota::refuse_submission(store, snap, delivery) {
        return Err(e);
    }
    // Mailing lists and the ListServer (docs/LISTS.md) take their recipients first.
    let taken = list_routing(store, snap, source, |r| {
        crate::services::lists::divert(store, snap, delivery, r)
    })?;
    if let Some(plan) = taken {
        return Ok(plan);
    }
    let plan = plan_for(snap, delivery, source);
    execute(store, snap, delivery, source, &plan)?;
    Ok(plan)
}

/// Routing lent to the list server (`services::lists`), which this module calls:
/// its own mail from `Source::Local`, and what it leaves of a delivery from `source`.
pub fn list_routing<R>(
    store: &Store,
    snap: &Snapshot,
    source: &Source,
    f: impl FnOnce(&crate::services::lists::Routing<'_>) -> R,
) -> R {
    let send = |d: &mut Delivery| route_and_store(store, snap, d, &Source::Local);
    let rest = |d: &mut Delivery| {
        let plan = plan_for(snap, d, source);
        execute(store, snap, d, source, &plan).map(|()| plan)
    };
    f(&crate::services::lists::Routing {
        send: &send,
        rest: &rest,
    })
}

/// The one writer of the server's own mail (`services::server_mail` re-exports it):
/// route and store `mail` under the delivery id `id` (unique: see [`mail_id`]) like
/// locally submitted mail. Durable when it returns `Ok`.
pub fn send_server_mail(
    store: &Store,
    snap: &Snapshot,
    id: String,
    mail: &mailroom_core::servermail::ServerMail,
) -> Result<(), DeliveryError> {
    let mut d = mail.delivery(id, &snap.config.hostname);
    route_and_store(store, snap, &mut d, &Source::Local)?;
    tracing::info!(id = %d.id, to = ?mail.to, "server mail sent");
    Ok(())
}

/// A delivery id for a server mail about `what`: time, process and a counter, so two
/// mails written in the same microsecond differ.
pub fn mail_id(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{}.{}.{n}.{what}", now().unix_micros(), std::process::id())
}

/// [`send_server_mail`] with an id of its own, for the hooks that take a plain
/// function (`automail::SendFn`).
fn send_own(
    store: &Store,
    snap: &Snapshot,
    mail: &mailroom_core::servermail::ServerMail,
) -> Result<(), DeliveryError> {
    send_server_mail(store, snap, mail_id("own"), mail)
}

/// The plan for a whole message.
pub fn plan_for(snap: &Snapshot, delivery: &Delivery, source: &Source) -> Plan {
    let headers = HeaderView::parse(&delivery.data);
    let recipients: Vec<String> = delivery
        .envelope
        .recipients
        .iter()
        .map(|r| r.address.clone())
        .collect();
    router::route(
        snap,
        &Request {
            sender: delivery.envelope.mail_from.as_deref(),
            recipients: &recipients,
            source,
            headers: &headers,
            size: Some(delivery.data.len() as u64),
        },
    )
}

/// Store everything `plan` asks for. `delivery` is the same afterwards.
pub fn execute(
    store: &Store,
    snap: &Snapshot,
    delivery: &mut Delivery,
    source: &Source,
    plan: &Plan,
) -> Result<(), DeliveryError> {
    for r in &plan.recipients {
        tracing::info!(id = %delivery.id, recipient = %r.address, outcome = %r.outcome, "routed");
        for step in &r.trace {
            tracing::debug!(id = %delivery.id, "{}{}", "  ".repeat(step.depth), step.text);
        }
    }
    let recipients = std::mem::take(&mut delivery.envelope.recipients);
    let sender = delivery.envelope.mail_from.clone();
    let result = store_plan(store, snap, delivery, &recipients, source, plan);
    delivery.envelope.recipients = recipients;
    delivery.envelope.mail_from = sender;
    if result.is_ok() {
        crate::services::monitoring::after_delivery(
            snap,
            delivery,
            source,
            plan,
            // The copy keeps the id monitoring gives it: that id is what stops a
            // copy from being copied again.
            |id, to, data| {
                let copy = mailroom_core::servermail::ServerMail {
                    sender: None,
                    to: vec![to.to_string()],
                    data,
                };
                send_server_mail(store, snap, id, &copy).map_err(|e| e.text)
            },
        );
    }
    result
}

fn store_plan(
    store: &Store,
    snap: &Snapshot,
    delivery: &mut Delivery,
    original: &[Recipient],
    source: &Source,
    plan: &Plan,
) -> Result<(), DeliveryError> {
    let sender = delivery.envelope.mail_from.clone();
    if !plan.mailboxes.is_empty() {
        // Autoresponders (keep or not), quota warnings, NOTIFY=SUCCESS reports.
        crate::services::automail::deliver_local(
            store,
            snap,
            delivery,
            original,
            plan,
            &mut |d| deliver_logged(store, d, source),
            send_own,
        )?;
    }

    if !plan.remote.is_empty() {
        let rewritten = match outbound_message(snap, source, sender.as_deref(), &delivery.data) {
            Cow::Borrowed(_) => None,
            Cow::Owned(v) => Some(v),
        };
        // MAP-6: the global signature, on the copy that leaves only.
        let signed = match mailroom_core::router::signature::signed_copy(
            snap,
            source,
            sender.as_deref(),
            delivery.envelope.auth_user.as_deref(),
            rewritten.as_deref().unwrap_or(&delivery.data),
        ) {
            Cow::Owned(v) => Some(v),
            Cow::Borrowed(_) => None,
        };
        let rewritten = signed.or(rewritten);
        // Signed last, after every rewrite, so the signature covers what is sent.
        let rewritten = match ours_to_sign(snap, source, &delivery.envelope) {
            true => {
                let base = rewritten.as_deref().unwrap_or(&delivery.data);
                crate::services::mailauth::sign(store.data_dir(), &snap.config, &delivery.id, base)
                    .or(rewritten)
            }
            false => rewritten,
        };
        delivery.envelope.mail_from = plan.outbound_sender.clone();
        let routes = remote_routes(snap, source, original, &plan.remote);
        let result = match rewritten {
            None => store_remote(store, delivery, routes, source),
            Some(mut data) => {
                std::mem::swap(&mut delivery.data, &mut data);
                let r = store_remote(store, delivery, routes, source);
                std::mem::swap(&mut delivery.data, &mut data);
                r
            }
        };
        delivery.envelope.mail_from = sender.clone();
        result?;
    }

    let id = delivery.id.as_str();
    let now = now();
    for (n, notice) in plan.notices.iter().enumerate() {
        let message = notice_message(snap, delivery, sender.as_deref(), source, notice, now, n);
        let d = with_recipients(
            delivery,
            None,
            vec![recipient(
                &notice.to,
                Route::Local(notice.to.to_ascii_lowercase()),
                None,
            )],
            message,
        );
        deliver_logged(store, &d, source)?;
        tracing::info!(id, to = %notice.to, unknown = ?notice.recipients, "error notice stored");
    }

    if !plan.bounces.is_empty() {
        match sender.as_deref() {
            Some(s) => bounce(store, snap, delivery, original, plan, s, now)?,
            None => tracing::info!(id, "no bounce: the sender is <>"),
        }
    }
    for d in &plan.discards {
        tracing::info!(id, recipient = %d.recipient, reason = %d.reason, "discarded");
    }
    Ok(())
}

/// Whether an outgoing copy is the office's own mail, to be DKIM-signed: sent by a
/// local user (authenticated), or handed in by one of the office's own machines (a
/// client `[mailauth] skip` lists: loopback and the LAN by default, as OpenDKIM signs
/// for its `InternalHosts`). Mail from outside that is forwarded on is never signed,
/// whatever its From says, and neither is collected mail.
fn ours_to_sign(snap: &Snapshot, source: &Source, envelope: &Envelope) -> bool {
    match source {
        Source::Local => true,
        Source::Pop3(_) => false,
        Source::Smtp => snap.config.mailauth.skips(envelope.client_ip),
    }
}

/// The outbound copy: recipients SMTPFWD.DAT forwards (MAP-7, §13.3) are queued for
/// their LAN server, decided here with the message's real source so `(pop3)` and In
/// Mail conditions hold; the rest for the Internet.
fn store_remote(
    store: &Store,
    delivery: &mut Delivery,
    (internet, lan): RemoteRoutes,
    source: &Source,
) -> Result<(), DeliveryError> {
    if !internet.is_empty() {
        delivery.envelope.recipients = internet;
        deliver_logged(store, delivery, source)?;
    }
    for (server, recipients) in lan {
        delivery.envelope.recipients = recipients;
        store.queue_for_lan(delivery, &server)?;
        summary::lan_queued(store.data_dir(), delivery);
    }
    Ok(())
}

/// Store `d` (durably), then write its SUMMARY.LOG lines.
fn deliver_logged(store: &Store, d: &Delivery, source: &Source) -> Result<(), DeliveryError> {
    store.deliver(d)?;
    summary::stored(store.data_dir(), d, source);
    Ok(())
}

/// The Internet's recipients, and each LAN server's.
type RemoteRoutes = (Vec<Recipient>, Vec<(String, Vec<Recipient>)>);

fn remote_routes(
    snap: &Snapshot,
    source: &Source,
    original: &[Recipient],
    remote: &[String],
) -> RemoteRoutes {
    let mut internet = Vec::new();
    let mut lan: Vec<(String, Vec<Recipient>)> = Vec::new();
    for a in remote {
        let from = find(original, a);
        match router::lan::forward_target(snap, source, a) {
            Some(t) => {
                let r = recipient(&t.address, Route::Remote, from);
                match lan.iter_mut().find(|(s, _)| *s == t.server) {
                    Some((_, rs)) => rs.push(r),
                    None => lan.push((t.server, vec![r])),
                }
            }
            None => internet.push(recipient(a, Route::Remote, from)),
        }
    }
    (internet, lan)
}

/// One bounce to `sender` for every bounced recipient, routed like local mail so a
/// local sender gets it in their mailbox. A bounce that itself cannot be delivered is
/// dropped: bounces are never bounced.
fn bounce(
    store: &Store,
    snap: &Snapshot,
    delivery: &Delivery,
    original: &[Recipient],
    plan: &Plan,
    sender: &str,
    now: Instant,
) -> Result<(), DeliveryError> {
    let template = bounce_template(store.data_dir());
    let cfg = &snap.config;
    let text: Vec<String> = plan
        .bounces
        .iter()
        .map(|r| dsn::fill_bounce_template(&template, r, &cfg.default_domain))
        .collect();
    let failed: Vec<FailedRecipient> = plan
        .bounces
        .iter()
        .map(|r| FailedRecipient {
            address: r.clone(),
            status: "5.1.1".into(),
            diagnostic: format!("550 5.1.1 <{r}>: recipient not recognised"),
            original_recipient: find(original, r).and_then(|x| x.dsn_orcpt.clone()),
        })
        .collect();
    let token = token(delivery, now, "bounce");
    let message = dsn::build_dsn(&dsn::Dsn {
        head: dsn::MailHead::new(cfg, sender, now, &token),
        text: &text.join("\n"),
        recipients: &failed,
        original: &delivery.data,
        headers_only: delivery
            .envelope
            .dsn_ret
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("HDRS")),
        envelope_id: delivery.envelope.dsn_envid.as_deref(),
        arrival: Some(now),
    });
    let to = [sender.to_string()];
    let headers = HeaderView::parse(&message);
    let route = router::route(
        snap,
        &Request {
            sender: None,
            recipients: &to,
            source: &Source::Local,
            headers: &headers,
            size: Some(message.len() as u64),
        },
    );
    let mut recipients = Vec::new();
    for r in &route.recipients {
        match &r.outcome {
            Outcome::Deliver { mailboxes, remote } => {
                recipients.extend(
                    mailboxes
                        .iter()
                        .map(|m| recipient(m, Route::Local(m.clone()), None)),
                );
                recipients.extend(remote.iter().map(|a| recipient(a, Route::Remote, None)));
            }
            other => {
                tracing::warn!(id = %delivery.id, sender, outcome = %other, "bounce dropped: the sender cannot be reached");
            }
        }
    }
    if recipients.is_empty() {
        return Ok(());
    }
    let d = with_recipients(delivery, None, recipients, message);
    deliver_logged(store, &d, &Source::Local)?;
    tracing::info!(id = %delivery.id, to = sender, recipients = ?plan.bounces, "bounce stored");
    Ok(())
}

fn notice_message(
    snap: &Snapshot,
    delivery: &Delivery,
    sender: Option<&str>,
    source: &Source,
    notice: &router::UnknownRecipientNotice,
    now: Instant,
    n: usize,
) -> Vec<u8> {
    let cfg = &snap.config;
    let how = match source {
        Source::Pop3(name) if !name.is_empty() => format!("collected by In Mail \"{name}\""),
        Source::Pop3(_) => "collected from an ISP mailbox".to_string(),
        Source::Smtp => "received by SMTP".to_string(),
        Source::Local => "sent locally".to_string(),
    };
    let mut text =
        format!("A message {how} was addressed to recipients that are not recognised here:\n\n");
    for r in &notice.recipients {
        text.push_str(&format!("    {r}\n"));
    }
    text.push_str(&format!(
        "\nSender: <{}>\n\nThe message is attached. ([unknown_recipients] in mailroom.toml \
         decides who gets these notices.)\n",
        sender.unwrap_or("")
    ));
    let subject = match notice.recipients.as_slice() {
        [one] => format!("Unrecognised recipient: {one}"),
        many => format!("Unrecognised recipients ({})", many.len()),
    };
    let to = format!("{}@{}", notice.to, cfg.default_domain);
    let token = token(delivery, now, &format!("notice{n}"));
    dsn::build_error_mail(&dsn::ErrorMail {
        mail: dsn::TextMail {
            head: dsn::MailHead::new(cfg, &to, now, &token),
            subject: &subject,
            text: &text,
        },
        original: &delivery.data,
    })
}

/// BOUNCE.MSG from the data directory, or VPOP3's default text.
pub fn bounce_template(dd: &DataDir) -> String {
    let path = dd.bounce_template_file();
    let mut text = String::new();
    match fs::File::open(&path) {
        Ok(f) => match f.take(MAX_BOUNCE_MSG).read_to_string(&mut text) {
            Ok(_) if !text.trim().is_empty() => text,
            Ok(_) => dsn::DEFAULT_BOUNCE_MSG.to_string(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the bounce text; using the default");
                dsn::DEFAULT_BOUNCE_MSG.to_string()
            }
        },
        Err(_) => dsn::DEFAULT_BOUNCE_MSG.to_string(),
    }
}

/// The envelope recipient `address` came from, if it is one (its DSN parameters
/// travel with it).
fn find<'r>(original: &'r [Recipient], address: &str) -> Option<&'r Recipient> {
    original
        .iter()
        .find(|r| r.address.eq_ignore_ascii_case(address))
}

fn recipient(address: &str, route: Route, from: Option<&Recipient>) -> Recipient {
    Recipient {
        address: address.to_string(),
        route,
        dsn_notify: from.and_then(|r| r.dsn_notify.clone()),
        dsn_orcpt: from.and_then(|r| r.dsn_orcpt.clone()),
    }
}

fn with_recipients(
    delivery: &Delivery,
    mail_from: Option<String>,
    recipients: Vec<Recipient>,
    data: Vec<u8>,
) -> Delivery {
    let e = &delivery.envelope;
    Delivery {
        id: delivery.id.clone(),
        envelope: Envelope {
            mail_from,
            recipients,
            helo: e.helo.clone(),
            client_ip: e.client_ip,
            auth_user: e.auth_user.clone(),
            eight_bit: e.eight_bit,
            dsn_ret: e.dsn_ret.clone(),
            dsn_envid: e.dsn_envid.clone(),
        },
        data,
        junk: delivery.junk,
    }
}

/// Unique enough for a Message-ID: time, process and the delivery's own id.
fn token(delivery: &Delivery, now: Instant, what: &str) -> String {
    format!(
        "{}.{}.{}.{what}",
        now.unix_micros(),
        std::process::id(),
        delivery.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_offices_own_mail_is_signed() {
        let snap = Snapshot {
            config: Default::default(),
            accounts: Default::default(),
            access: Default::default(),
        };
        let envelope = |ip: &str| Envelope {
            mail_from: Some("boss@example.com".into()),
            recipients: Vec::new(),
            helo: "h".into(),
            client_ip: ip.parse().unwrap(),
            auth_user: None,
            eight_bit: false,
            dsn_ret: None,
            dsn_envid: None,
        };
        let outside = envelope("203.0.113.9");
        assert!(ours_to_sign(&snap, &Source::Local, &outside));
        // Forwarded mail from outside, even with one of our domains in From.
        assert!(!ours_to_sign(&snap, &Source::Smtp, &outside));
        assert!(!ours_to_sign(&snap, &Source::Pop3("isp".into()), &outside));
        // Handed in by a LAN machine or the server's own host.
        assert!(ours_to_sign(
            &snap,
            &Source::Smtp,
            &envelope("192.168.1.20")
        ));
        assert!(ours_to_sign(&snap, &Source::Smtp, &envelope("127.0.0.1")));
    }
}
