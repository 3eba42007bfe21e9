//! Account security for the whole server: the lockout table, the POP-before-SMTP
//! record and the security log, shared by every session of every service.
//!
//! Logins go through [`Security::login`], which checks the lock before the (slow)
//! password check, counts failures and writes `DIR/log/security.log` (§4.3.1: failed
//! logins and lockouts), one line each:
//!
//! ```text
//! 2026-01-01T09:00:00+00:00 pop3 192.168.1.7 alice: login failed (1 in a row)
//! 2026-01-01T09:00:05+00:00 pop3 192.168.1.7 alice: locked for 15 minutes after 5 failed logins
//! 2026-01-01T09:00:09+00:00 smtp 192.168.1.7 alice: login refused, account locked
//! ```

use crate::platform::datadir::DataDir;
use crate::platform::datetime::iso8601;
use mailroom_core::accounts::{Account, Protocol};
use mailroom_core::auth::AuthOutcome;
use mailroom_core::config::Snapshot;
use mailroom_core::security::{
    lockout_exempt, password_tag, Failure, Lockout, LoginGate, PopBeforeSmtp, Service,
};
use mailroom_core::Instant;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What a password or digest check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Right,
    Wrong,
    /// The check cannot be made for this account (no secret for APOP/CRAM-MD5).
    Unavailable,
}

pub struct Security {
    lockout: Mutex<Lockout>,
    pop: Mutex<PopBeforeSmtp>,
    log_path: PathBuf,
    log: Mutex<Option<File>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a single step, so a panicking holder leaves a usable value.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Security {
    pub fn new(dd: &DataDir) -> Self {
        Security {
            lockout: Mutex::new(Lockout::new()),
            pop: Mutex::new(PopBeforeSmtp::new()),
            log_path: dd.security_log(),
            log: Mutex::new(None),
        }
    }

    /// Log `user` in on `service` from `peer`: refuse a locked account without
    /// checking, else run `verify` (slow: it runs outside every lock) and count the
    /// result. Names that do not exist are counted too, so replies reveal nothing.
    pub fn login(
        &self,
        snap: &Snapshot,
        service: Service,
        peer: IpAddr,
        user: &str,
        now: Instant,
        verify: impl FnOnce(Option<&Account>) -> Verdict,
    ) -> AuthOutcome {
        let account = snap.accounts.get(user);
        let tag = password_tag(account.map_or("", |a| a.password_hash.as_str()));
        let policy = &snap.config.accounts;
        let exempt = lockout_exempt(service, peer, policy);
        let shown = account.map_or_else(|| user.to_ascii_lowercase(), |a| a.name.clone());
        if !exempt {
            if let LoginGate::Locked { .. } = lock(&self.lockout).gate(user, now, tag) {
                self.record(now, service, peer, &shown, "login refused, account locked");
                return AuthOutcome::Locked;
            }
        }
        match verify(account) {
            Verdict::Right => {
                lock(&self.lockout).success(user);
                match account {
                    // "Allowed Protocols" (§4.2.3.3.1): a right password, but not here.
                    Some(a) if !a.may_use(protocol(service)) => {
                        self.record(
                            now,
                            service,
                            peer,
                            &shown,
                            "login refused, protocol not allowed for this account",
                        );
                        AuthOutcome::Unavailable
                    }
                    Some(a) => AuthOutcome::Ok(a.name.clone()),
                    None => AuthOutcome::Invalid,
                }
            }
            Verdict::Unavailable => {
                self.record(
                    now,
                    service,
                    peer,
                    &shown,
                    "login method not available for this account",
                );
                AuthOutcome::Unavailable
            }
            Verdict::Wrong => {
                if exempt {
                    self.record(now, service, peer, &shown, "login failed");
                    return AuthOutcome::Invalid;
                }
                let failure = lock(&self.lockout).failure(user, now, tag, policy);
                match failure {
                    Failure::Counted(n) => self.record(
                        now,
                        service,
                        peer,
                        &shown,
                        &format!("login failed ({n} in a row)"),
                    ),
                    Failure::LockedNow { .. } => self.record(
                        now,
                        service,
                        peer,
                        &shown,
                        &format!(
                            "locked for {} minutes after {} failed logins",
                            policy.lockout_minutes, policy.lockout_failures
                        ),
                    ),
                }
                AuthOutcome::Invalid
            }
        }
    }

    /// A password was changed (password server): any lock on the name is lifted.
    pub fn password_changed(&self, service: Service, peer: IpAddr, user: &str, now: Instant) {
        lock(&self.lockout).unlock(user);
        self.record(now, service, peer, user, "password changed");
    }

    /// An administrator lifted the lock on `user` (web admin's Unlock); true if the
    /// name had failures or a lock on record.
    pub fn unlock(&self, service: Service, peer: IpAddr, user: &str, now: Instant) -> bool {
        let had = lock(&self.lockout).unlock(user);
        self.record(now, service, peer, user, "unlocked by an administrator");
        had
    }

    /// A POP3 session from `ip` logged in / ended (POP-before-SMTP, §11.3).
    pub fn pop_login(&self, ip: IpAddr, now: Instant) {
        lock(&self.pop).login(ip, now);
    }

    pub fn pop_logoff(&self, ip: IpAddr, now: Instant) {
        lock(&self.pop).logoff(ip, now);
    }

    /// May a new SMTP session from `ip` send without AUTH on a POP3 login's strength?
    pub fn pop_before_smtp(&self, snap: &Snapshot, ip: IpAddr, now: Instant) -> bool {
        let minutes = snap.config.smtp.pop_before_smtp_minutes;
        let window = Duration::from_secs(u64::from(minutes) * 60);
        lock(&self.pop).allows(ip, now, window)
    }

    fn record(&self, now: Instant, service: Service, peer: IpAddr, user: &str, what: &str) {
        tracing::warn!(service = service.name(), peer = %peer, user, "{what}");
        let user: String = user
            .chars()
            .take(64)
            .map(|c| if c.is_control() || c == ' ' { '_' } else { c })
            .collect();
        let line = format!(
            "{} {} {} {user}: {what}\n",
            iso8601(now.unix_secs()),
            service.name(),
            peer.to_canonical()
        );
        let mut log = lock(&self.log);
        if log.is_none() {
            let _ = fs::create_dir_all(self.log_path.parent().unwrap_or(&self.log_path));
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log_path)
            {
                Ok(f) => *log = Some(f),
                Err(e) => {
                    tracing::error!("cannot open {}: {e}", self.log_path.display());
                    return;
                }
            }
        }
        if let Some(f) = log.as_mut() {
            if let Err(e) = f.write_all(line.as_bytes()) {
                tracing::error!("cannot write {}: {e}", self.log_path.display());
            }
        }
    }
}

/// The account permission that governs logins to `service`.
fn protocol(service: Service) -> Protocol {
    match service {
        Service::Smtp => Protocol::Smtp,
        Service::Pop3 => Protocol::Pop3,
        Service::Imap => Protocol::Imap,
        Service::Http => Protocol::Webmail,
        Service::Pass => Protocol::Password,
        Service::Monitor => Protocol::Monitor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::accounts::Accounts;
    use mailroom_core::config::parse_config;

    #[test]
    fn failures_lock_and_are_logged() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path());
        let account: Account = toml::from_str("name = \"alice\"\npassword_hash = \"h\"\n").unwrap();
        let snap = Snapshot {
            config: parse_config(
                "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n[accounts]\nlockout_failures = 2\n",
            )
            .unwrap(),
            accounts: Accounts::new([account]),
            access: Default::default(),
        };
        let sec = Security::new(&dd);
        let peer: IpAddr = "192.168.1.7".parse().unwrap();
        let t = Instant::from_secs(1_767_225_600);
        let wrong = |_: Option<&Account>| Verdict::Wrong;
        let right = |_: Option<&Account>| Verdict::Right;
        assert_eq!(
            sec.login(&snap, Service::Pop3, peer, "alice", t, wrong),
            AuthOutcome::Invalid
        );
        assert_eq!(
            sec.login(&snap, Service::Smtp, peer, "Alice", t, wrong),
            AuthOutcome::Invalid
        );
        let mut called = false;
        let out = sec.login(&snap, Service::Pop3, peer, "alice", t, |_| {
            called = true;
            Verdict::Right
        });
        assert_eq!(out, AuthOutcome::Locked);
        assert!(!called, "a locked account's password is not checked");
        let later = t + Duration::from_secs(15 * 60);
        assert_eq!(
            sec.login(&snap, Service::Pop3, peer, "alice", later, right),
            AuthOutcome::Ok("alice".into())
        );
        assert_eq!(
            sec.login(&snap, Service::Pop3, peer, "nobody", t, right),
            AuthOutcome::Invalid
        );
        let log = fs::read_to_string(dd.security_log()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(
            lines,
            [
                "2026-01-01T00:00:00+00:00 pop3 192.168.1.7 alice: login failed (1 in a row)",
                "2026-01-01T00:00:00+00:00 smtp 192.168.1.7 alice: locked for 15 minutes after 2 failed logins",
                "2026-01-01T00:00:00+00:00 pop3 192.168.1.7 alice: login refused, account locked",
            ]
        );
    }
}
