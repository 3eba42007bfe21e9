//! Mailer_Daemon control messages at delivery (§17): a message for Mailer_Daemon
//! alone is taken here (never stored, never bounced); a command in its subject is
//! decided by core (`mailerdaemon`), its change applied to the account file,
//! USERPLAN.TXT or `mailroom.toml`, and the answer sent to the return path.

use std::fs;

use mailroom_core::autoresponder::{field_address, threading};
use mailroom_core::config::Snapshot;
use mailroom_core::dsn::MailHead;
use mailroom_core::mailerdaemon::{self, Change, Decision};
use mailroom_core::router::{Plan, Source};
use mailroom_core::servermail::{compose, is_auto_submitted, Auto, Compose, ServerMail};
use mailroom_core::smtp::Delivery;

use super::{sent_or_logged, SendFn};
use crate::config::edit::{edit_config, replace_account_checked, EditError};
use crate::platform::clock::now;
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::services::askbook::{empty_plan, is_mailer_daemon};
use crate::store::Store;

/// Take a message addressed to Mailer_Daemon only; `None` leaves it to routing.
pub fn divert(
    store: &Store,
    snap: &Snapshot,
    delivery: &Delivery,
    _source: &Source,
    send: SendFn,
) -> Option<Plan> {
    let rcpts = &delivery.envelope.recipients;
    if rcpts.is_empty() || !rcpts.iter().all(|r| is_mailer_daemon(snap, &r.address)) {
        return None;
    }
    let id = delivery.id.as_str();
    let Some(request) = mailerdaemon::parse(&delivery.data) else {
        tracing::info!(id, "message to Mailer_Daemon without a command; dropped");
        return Some(empty_plan());
    };
    // Never answer automatic mail: two daemons must not talk for ever.
    let Some(return_path) = delivery.envelope.mail_from.as_deref() else {
        tracing::info!(id, "Mailer_Daemon command from <>; ignored");
        return Some(empty_plan());
    };
    if is_auto_submitted(&delivery.data) {
        tracing::info!(id, "automatic message to Mailer_Daemon; ignored");
        return Some(empty_plan());
    }
    let from = field_address(&delivery.data, "From");
    let decision = mailerdaemon::decide(
        snap,
        &request,
        from.as_deref(),
        delivery.envelope.auth_user.as_deref(),
    );
    let dd = store.data_dir();
    let mut reply = decision.reply.clone();
    if let Some(change) = &decision.change {
        if let Err(e) = apply(dd, change) {
            tracing::error!(id, "Mailer_Daemon change not made: {e}");
            reply = format!("The change could not be made: {e}\n");
        }
    }
    add_facts(dd, snap, &decision, &mut reply);
    tracing::info!(id, command = ?request.command, from = ?from, "Mailer_Daemon command");
    let subject = format!("Re: {}", request.subject);
    let mail = text_mail(
        snap,
        return_path,
        &subject,
        &reply,
        &delivery.data,
        id,
        "md",
    );
    sent_or_logged("Mailer_Daemon reply", id, send(store, snap, &mail));
    if let Some((user, text)) = &decision.notify {
        let to = format!("{user}@{}", snap.config.default_domain);
        let mail = text_mail(
            snap,
            &to,
            &format!("Mailer_Daemon: {}", request.subject),
            text,
            b"",
            id,
            "mdn",
        );
        sent_or_logged("Mailer_Daemon notice", id, send(store, snap, &mail));
    }
    Some(empty_plan())
}

fn apply(dd: &DataDir, change: &Change) -> Result<(), String> {
    match change {
        Change::Plan { user, text } => {
            let path = dd.finger_plan(user);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            durable::replace(&path, text.as_bytes(), Access::Normal).map_err(|e| e.to_string())
        }
        Change::Account(a) => replace_account_checked(dd, a).map_err(|e| e.to_string()),
        Change::InMail { names, enable } => edit_config(dd, |doc| {
            let Some(tables) = doc
                .get_mut("inmail")
                .and_then(|i| i.as_array_of_tables_mut())
            else {
                return Err(EditError::Io(
                    "no [[inmail]] tables in mailroom.toml".into(),
                ));
            };
            for t in tables.iter_mut() {
                let named = t
                    .get("name")
                    .and_then(|n| n.as_str())
                    .is_some_and(|n| names.iter().any(|x| x.eq_ignore_ascii_case(n)));
                if named {
                    t["enabled"] = toml_edit::value(*enable);
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string()),
    }
}

/// What only the runtime knows: the queue, the connections' times and a user's plan.
fn add_facts(dd: &DataDir, snap: &Snapshot, d: &Decision, reply: &mut String) {
    if d.status {
        use crate::services::scheduler::localclock::local_stamp;
        let queued = fs::read_dir(dd.spool_queue_dir())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
                    .count()
            })
            .unwrap_or(0);
        let now = i64::try_from(crate::platform::clock::unix_micros()).unwrap_or(i64::MAX);
        let last = crate::services::monitor::last_connection().map(local_stamp);
        let next = mailroom_core::schedule::next_scheduled(&snap.config, local_stamp(now));
        reply.push_str(&mailerdaemon::status_lines(queued, last, next));
    }
    if let Some(user) = &d.plan_of {
        let plan =
            super::responder::read_bounded(&dd.finger_plan(user), mailerdaemon::MAX_PLAN as u64)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
        reply.push('\n');
        reply.push_str(if plan.trim().is_empty() {
            "(no plan)\n"
        } else {
            &plan
        });
    }
}

fn text_mail(
    snap: &Snapshot,
    to: &str,
    subject: &str,
    text: &str,
    answering: &[u8],
    id: &str,
    what: &str,
) -> ServerMail {
    let token = format!("{id}.{what}");
    let data = compose(&Compose {
        head: MailHead::new(&snap.config, to, now(), &token),
        from: None,
        subject,
        auto: Auto::Replied,
        extra: threading(answering),
        text,
        html: false,
        attachments: &[],
    });
    ServerMail {
        sender: None,
        to: vec![to.to_string()],
        data,
    }
}
