//! Mail authentication on this machine (issue 19, docs/MAILAUTH.md): the checks of
//! incoming SMTP mail driven against the DNS resolver, and DKIM signing of mail
//! queued for the Internet. The algorithms are core's (`mailroom_core::mailauth`).

use crate::platform::datadir::DataDir;
use crate::services::outbound::dns::Resolver;
use mailroom_core::config::{Config, Dns};
use mailroom_core::mailauth::{dkim, Check, Step};
use mailroom_core::smtp::{AuthAnswer, AuthRequest};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

/// The longest the checks of one message may spend on DNS; questions after that are
/// answered as failures (temperror), so a slow resolver delays the reply to DATA by
/// at most this much.
pub const CHECK_TIME_LIMIT: Duration = Duration::from_secs(30);

/// The checks' resolver, rebuilt when `[dns]` changes (its cache goes with it).
#[derive(Default)]
pub struct CheckResolver {
    current: Mutex<Option<(Dns, Arc<Resolver>)>>,
}

impl CheckResolver {
    pub fn get(&self, cfg: &Dns) -> Arc<Resolver> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match cur.as_ref() {
            Some((c, r)) if c == cfg => r.clone(),
            _ => {
                let r = Arc::new(Resolver::from_config(cfg));
                *cur = Some((cfg.clone(), r.clone()));
                r
            }
        }
    }
}

/// Run SPF, DKIM and DMARC on one message and decide what happens to it.
pub fn check(resolver: &Resolver, config: &Config, req: &AuthRequest) -> AuthAnswer {
    let started = StdInstant::now();
    let now = crate::platform::clock::unix_secs();
    let mut c = Check::new(
        req.client_ip,
        &req.helo,
        req.mail_from.as_deref(),
        &req.message,
        now,
    );
    let results = loop {
        match c.step() {
            Step::Done(r) => break r,
            Step::Query(need) => {
                let reply = if started.elapsed() >= CHECK_TIME_LIMIT {
                    mailroom_core::mailauth::Reply::Failed("time limit for the checks".into())
                } else {
                    resolver.lookup(&need.name, need.kind)
                };
                tracing::debug!(id = %req.id, name = %need.name, kind = %need.kind, ?reply, "mailauth lookup");
                c.answer(&need.name, need.kind, reply);
            }
        }
    };
    let (verdict, refusal) = results.verdict(&config.mailauth);
    tracing::info!(
        id = %req.id,
        client = %req.client_ip,
        from = results.dmarc.from_domain.as_deref().unwrap_or(""),
        results = %results.summary(),
        ?verdict,
        "mail authentication"
    );
    AuthAnswer {
        header: results.header(&config.hostname),
        verdict,
        refusal,
    }
}

/// The `[[dkim]]` entry for mail from `from_domain`: its own, or the closest parent
/// domain's.
fn entry_for<'c>(config: &'c Config, from_domain: &str) -> Option<&'c mailroom_core::config::Dkim> {
    let d = from_domain.trim_end_matches('.').to_ascii_lowercase();
    config
        .dkim
        .iter()
        .filter(|e| {
            let ed = e.domain.trim_end_matches('.').to_ascii_lowercase();
            d == ed || d.ends_with(&format!(".{ed}"))
        })
        .max_by_key(|e| e.domain.len())
}

/// `message` with a DKIM signature on top when its From domain has a `[[dkim]]`
/// key; `None` when it is not signed (no key for the domain, or the key cannot be
/// read: logged, and the mail goes unsigned rather than not at all).
pub fn sign(dd: &DataDir, config: &Config, id: &str, message: &[u8]) -> Option<Vec<u8>> {
    if config.dkim.is_empty() {
        return None;
    }
    let (fields, _) = mailroom_core::mailauth::header::split(message);
    let from = mailroom_core::mailauth::dmarc::from_domain(&fields).ok()?;
    let entry = entry_for(config, &from)?;
    let key = match crate::config::dkimkeys::load_key(dd, entry) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(id, domain = %entry.domain, "DKIM key: {e}; sent unsigned");
            return None;
        }
    };
    let rng = ring::rand::SystemRandom::new();
    let now = crate::platform::clock::unix_secs();
    match dkim::sign(message, &entry.domain, &entry.selector, &key, now, &rng) {
        Ok(field) => {
            tracing::info!(id, domain = %entry.domain, selector = %entry.selector, "DKIM signed");
            let mut out = field.into_bytes();
            out.extend_from_slice(message);
            Some(out)
        }
        Err(e) => {
            tracing::error!(id, domain = %entry.domain, "DKIM signing failed: {e}; sent unsigned");
            None
        }
    }
}
