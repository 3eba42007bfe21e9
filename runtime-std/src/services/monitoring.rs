//! Monitoring copies (LOG-3, §15.1): after a message is stored, `[monitoring]` may
//! want a copy of it in the monitoring mailbox (and a random sample of the copies in
//! a second one). The facts and the dice are gathered here; core's `monitoring`
//! decides and marks the copy, which the caller (`deliver.rs`) stores as the
//! server's own mail through `store` (so this module does not import delivery).

use mailroom_core::config::{MonitorMode, Snapshot};
use mailroom_core::monitoring::{copy_text, decide, Facts};
use mailroom_core::router::names::Names;
use mailroom_core::router::{Plan, Source};
use mailroom_core::smtp::Delivery;

/// The ids of copies start so; a copy is never copied again.
const COPY_ID: &str = "monitor.";

/// A number uniform in 0..100 from the system's entropy (0 if it is unavailable:
/// the sample then takes the copy, which errs on the side of the administrator).
fn roll() -> u8 {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        return 0;
    }
    (u32::from_le_bytes(b) % 100) as u8
}

/// Called once `delivery` (from `source`) was stored by `plan`; `store(id, to,
/// text)` stores a copy as the server's mail. Never fails the delivery: a copy that
/// cannot be stored is logged.
pub fn after_delivery<E: std::fmt::Display>(
    snap: &Snapshot,
    delivery: &Delivery,
    source: &Source,
    plan: &Plan,
    store: impl Fn(String, &str, Vec<u8>) -> Result<(), E>,
) {
    let cfg = &snap.config.monitoring;
    let off = [cfg.incoming, cfg.outgoing, cfg.internal]
        .iter()
        .all(|m| *m == MonitorMode::None);
    if off || delivery.id.starts_with(COPY_ID) {
        return;
    }
    let names = Names::new(snap);
    let env = &delivery.envelope;
    let account_of = |address: &str| {
        let (user, domain) = address.rsplit_once('@')?;
        if !names.is_local_domain(domain) {
            return None;
        }
        snap.accounts.get(&user.to_ascii_lowercase())
    };
    let sender = match (source, &env.auth_user, &env.mail_from) {
        (Source::Pop3(_), _, _) => None,
        (_, Some(user), _) => snap.accounts.get(&user.to_ascii_lowercase()),
        (_, None, Some(from)) => account_of(from),
        (_, None, None) => None,
    };
    let selected = sender.is_some_and(|a| a.monitor)
        || plan
            .mailboxes
            .iter()
            .any(|m| snap.accounts.get(m).is_some_and(|a| a.monitor));
    let facts = Facts {
        from_local_user: sender.is_some(),
        from_internet: source.is_internet() && sender.is_none(),
        to_mailboxes: !plan.mailboxes.is_empty(),
        to_internet: !plan.remote.is_empty(),
        selected,
        size: delivery.data.len() as u64,
    };
    let Some(copies) = decide(cfg, &facts, roll()) else {
        return;
    };
    let text = copy_text(&delivery.data, copies.direction);
    let domain = &snap.config.default_domain;
    for (n, target) in copies.targets.iter().enumerate() {
        if snap.accounts.get(target).is_none() {
            tracing::warn!(id = %delivery.id, target, "[monitoring]: no such account for the copy");
            continue;
        }
        let id = format!("{COPY_ID}{}.{n}", delivery.id);
        let to = format!("{target}@{domain}");
        match store(id, &to, text.clone()) {
            Ok(()) => {
                tracing::info!(id = %delivery.id, target, kind = copies.direction.name(), "monitoring copy stored")
            }
            Err(e) => {
                tracing::error!(id = %delivery.id, target, "cannot store the monitoring copy: {e}")
            }
        }
    }
}
