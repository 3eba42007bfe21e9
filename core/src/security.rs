//! Account lockout (§4.3.1) and the POP-before-SMTP record (§11.3), as plain values
//! with time passed in. The runtime keeps one of each for the whole server, shared by
//! every session and service.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::time::Duration;

use crate::config::AccountPolicy;
use crate::Instant;

/// Names tracked at most; past this, expired entries are dropped first, then the
/// entry idle longest. Guessing at many names cannot grow the table without bound.
pub const MAX_TRACKED: usize = 10_000;

/// Failed logins per account name, and the locks they led to.
///
/// Names that do not exist are tracked the same way, so replies never tell an
/// attacker which names are real. A lock is tied to the password it was earned
/// against: changing the password (editing the account, §4.3.1) lifts it.
#[derive(Debug, Default)]
pub struct Lockout {
    entries: HashMap<String, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Consecutive failures since the last success or lock.
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
    /// Hash of the password hash the failures were made against.
    tag: u64,
}

/// Whether a login may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    Open,
    Locked { until: Instant },
}

/// What a failed login did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; this many consecutive failures so far.
    Counted(u32),
    /// This failure locked the account until then.
    LockedNow { until: Instant },
}

/// A stable tag for an account's current password hash (`""` for unknown names).
pub fn password_tag(password_hash: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    password_hash.hash(&mut h);
    h.finish()
}

fn period(policy: &AccountPolicy) -> Duration {
    Duration::from_secs(u64::from(policy.lockout_minutes) * 60)
}

impl Lockout {
    pub fn new() -> Self {
        Self::default()
    }

    /// May `user` try to log in at `now`? `tag` is [`password_tag`] of the account's
    /// current hash.
    pub fn gate(&mut self, user: &str, now: Instant, tag: u64) -> LoginGate {
        let key = user.to_ascii_lowercase();
        let Some(e) = self.entries.get(&key) else {
            return LoginGate::Open;
        };
        match e.locked_until {
            Some(until) if now < until && e.tag == tag => LoginGate::Locked { until },
            Some(_) => {
                // Expired, or the password changed since: the lock is over.
                self.entries.remove(&key);
                LoginGate::Open
            }
            None => LoginGate::Open,
        }
    }

    /// Record a failed login. Failures further apart than the lock period do not add
    /// up: the policy is about attempts "in succession".
    pub fn failure(
        &mut self,
        user: &str,
        now: Instant,
        tag: u64,
        policy: &AccountPolicy,
    ) -> Failure {
        let key = user.to_ascii_lowercase();
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            self.evict(now);
        }
        let e = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
            tag,
        });
        if e.tag != tag || now.saturating_since(e.last_failure) > period(policy) {
            e.failures = 0;
            e.tag = tag;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        if policy.lockout_failures > 0 && e.failures >= policy.lockout_failures {
            let until = now + period(policy);
            e.locked_until = Some(until);
            e.failures = 0;
            return Failure::LockedNow { until };
        }
        Failure::Counted(e.failures)
    }

    /// A successful login clears the count.
    pub fn success(&mut self, user: &str) {
        self.entries.remove(&user.to_ascii_lowercase());
    }

    /// Lift a lock by hand (the administrator).
    pub fn unlock(&mut self, user: &str) -> bool {
        self.entries.remove(&user.to_ascii_lowercase()).is_some()
    }

    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn evict(&mut self, now: Instant) {
        // Anything idle for a day is no longer part of an attack on that name.
        let day = Duration::from_secs(86_400);
        self.entries.retain(|_, e| match e.locked_until {
            Some(until) => now < until,
            None => now.saturating_since(e.last_failure) < day,
        });
        if self.entries.len() >= MAX_TRACKED {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.locked_until.is_none())
                .min_by_key(|(_, e)| e.last_failure)
                .or_else(|| self.entries.iter().min_by_key(|(_, e)| e.last_failure))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
    }
}

/// Whether a login from `peer` on `service` is exempt from lockout (§4.3.1): by
/// default VPOP3 always lets the web admin and webmail in from 127.0.0.1, so an
/// administrator at the server itself can never be locked out; the option
/// `lockout_web_from_loopback` turns that off. Mail protocols are never exempt.
pub fn lockout_exempt(service: Service, peer: IpAddr, policy: &AccountPolicy) -> bool {
    service == Service::Http
        && peer.to_canonical().is_loopback()
        && !policy.lockout_web_from_loopback
}

/// The services that log users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Smtp,
    Pop3,
    Imap,
    Http,
    Pass,
    /// The status monitor (SVC-5).
    Monitor,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Http => "http",
            Service::Pass => "pass",
            Service::Monitor => "monitor",
        }
    }
}

/// "POP3 then SMTP" (§11.3): an address may send from the moment one of its POP3
/// sessions logs in until `window` after the last one logged off.
#[derive(Debug, Default)]
pub struct PopBeforeSmtp {
    by_ip: HashMap<IpAddr, Slot>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// POP3 sessions logged in from this address right now.
    open: u32,
    last_logoff: Option<Instant>,
}

/// Addresses remembered at most; the oldest logoffs go first.
pub const MAX_POP_ADDRESSES: usize = 10_000;

impl PopBeforeSmtp {
    pub fn new() -> Self {
        Self::default()
    }

    /// A POP3 session from `ip` logged in.
    pub fn login(&mut self, ip: IpAddr, now: Instant) {
        let ip = ip.to_canonical();
        if !self.by_ip.contains_key(&ip) && self.by_ip.len() >= MAX_POP_ADDRESSES {
            self.evict(now);
        }
        let slot = self.by_ip.entry(ip).or_default();
        slot.open = slot.open.saturating_add(1);
    }

    /// A logged-in POP3 session from `ip` ended (however it ended).
    pub fn logoff(&mut self, ip: IpAddr, now: Instant) {
        let ip = ip.to_canonical();
        if let Some(slot) = self.by_ip.get_mut(&ip) {
            slot.open = slot.open.saturating_sub(1);
            slot.last_logoff = Some(now);
        }
    }

    /// May `ip` send mail at `now` on the strength of a POP3 login?
    pub fn allows(&self, ip: IpAddr, now: Instant, window: Duration) -> bool {
        if window.is_zero() {
            return false;
        }
        self.by_ip
            .get(&ip.to_canonical())
            .is_some_and(|s| s.open > 0 || s.last_logoff.is_some_and(|t| now < t + window))
    }

    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    fn evict(&mut self, now: Instant) {
        // Windows are minutes long; an hour-old logoff opens nothing.
        let hour = Duration::from_secs(3600);
        self.by_ip
            .retain(|_, s| s.open > 0 || s.last_logoff.is_some_and(|t| now < t + hour));
        if self.by_ip.len() >= MAX_POP_ADDRESSES {
            let oldest = self
                .by_ip
                .iter()
                .filter(|(_, s)| s.open == 0)
                .min_by_key(|(_, s)| s.last_logoff)
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.by_ip.remove(&ip);
            }
        }
    }
}
