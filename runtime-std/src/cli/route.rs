//! `mailroom route`: what the router would do with a message, without sending it
//! (docs/ROUTING.md).

use std::process::ExitCode;

use mailroom_core::config::Snapshot;
use mailroom_core::router::{self, HeaderView, Outcome, Plan, Request, Source};
use serde::Serialize;

use super::config_edit::*;
use crate::config::files::load_snapshot;
use crate::platform::datadir::DataDir;

/// `mailroom route ADDRESS [--from S] [--source local|smtp|pop3:INMAIL] [--size N] [--json]`.
pub fn route(
    dd: &DataDir,
    address: &str,
    from: Option<&str>,
    source: Option<&str>,
    size: Option<u64>,
    json: bool,
) -> ExitCode {
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(problems) => return report(&problems),
    };
    let source: Source = match source.unwrap_or("smtp").parse() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let address = qualify(address, &snap.config.default_domain);
    if let Err(e) = mailroom_core::address::Mailbox::parse(&address) {
        return fail(format!("{address:?} is not an address: {e}"));
    }
    // Without --from, a stranger for mail from outside and the Main Administrator
    // for local mail, so the explanation shows what happens to a real sender.
    let from = match from {
        Some("") | Some("<>") => None,
        Some(f) => Some(qualify(f, &snap.config.default_domain)),
        None => Some(match source {
            Source::Local => router::names::Names::new(&snap)
                .main_admin()
                .map(|a| format!("{}@{}", a.name, snap.config.default_domain))
                .unwrap_or_else(|| format!("postmaster@{}", snap.config.default_domain)),
            _ => "someone@remote.invalid".to_string(),
        }),
    };
    let recipients = [address.clone()];
    let headers = HeaderView::default();
    let plan = router::route(
        &snap,
        &Request {
            sender: from.as_deref(),
            recipients: &recipients,
            source: &source,
            headers: &headers,
            size,
        },
    );
    let rcpt = rcpt_note(&snap, &source, &plan);
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            address: &'a str,
            source: String,
            from: Option<&'a str>,
            size: Option<u64>,
            smtp_rcpt: Option<&'a str>,
            plan: &'a Plan,
        }
        let out = Out {
            address: &address,
            source: source.to_string(),
            from: from.as_deref(),
            size,
            smtp_rcpt: rcpt.as_deref(),
            plan: &plan,
        };
        return match serde_json::to_string_pretty(&out) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    println!(
        "Mail to <{address}> from <{}>, source {source}{}:",
        from.as_deref().unwrap_or(""),
        size.map(|s| format!(", {s} octets")).unwrap_or_default()
    );
    print!("{}", plan.explain());
    println!();
    println!("{}", summary(&plan));
    if let Some(note) = rcpt {
        println!("{note}");
    }
    ExitCode::SUCCESS
}

/// What an SMTP client would be told at RCPT, when that differs from "accepted".
fn rcpt_note(snap: &Snapshot, source: &Source, plan: &Plan) -> Option<String> {
    let r = plan.envelope_recipients().next()?;
    match (source, &r.outcome) {
        (Source::Smtp | Source::Local, Outcome::Unknown { .. })
            if snap.config.smtp.reject_unknown_local =>
        {
            Some("By SMTP this recipient is refused at RCPT: 550 5.1.1 Recipient not recognised ([smtp] reject_unknown_local).".into())
        }
        (Source::Smtp, _) if r.via_remote => Some(
            "By SMTP from outside, this needs relaying rights (authentication or an SMTPALLOWED.DAT entry); others get 550 5.7.1.".into(),
        ),
        _ => None,
    }
}

pub(super) fn summary(plan: &Plan) -> String {
    let mut parts = Vec::new();
    if !plan.mailboxes.is_empty() {
        parts.push(format!("deliver to mailbox {}", plan.mailboxes.join(", ")));
    }
    if !plan.remote.is_empty() {
        parts.push(format!(
            "queue for {} (envelope sender <{}>)",
            plan.remote.join(", "),
            plan.outbound_sender.as_deref().unwrap_or("")
        ));
    }
    for n in &plan.notices {
        parts.push(format!("error message to {}", n.to));
    }
    if !plan.bounces.is_empty() {
        parts.push("bounce to the sender".into());
    }
    for d in &plan.discards {
        parts.push(format!("discard ({})", d.reason));
    }
    if parts.is_empty() {
        parts.push("nothing is stored".into());
    }
    format!("Plan: {}.", parts.join("; "))
}

pub(super) fn qualify(address: &str, domain: &str) -> String {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    if a.contains('@') {
        a.to_string()
    } else {
        format!("{a}@{domain}")
    }
}
