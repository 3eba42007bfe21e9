//! Password checks with a memory of recent successes (issue 18, "login cost").
//!
//! An argon2id verification costs tens of milliseconds of CPU on purpose; a phone or
//! Outlook that opens a connection per folder, or a webmail page, logs in again and
//! again with the same password. A success is remembered as an HMAC, under a key
//! drawn at start and never stored, of the account's stored hash and the password:
//! the next login with the same password against the same stored hash is checked
//! against it in constant time instead of by argon2. Nothing here can make a wrong
//! password pass:
//! - a changed password changes the stored hash, so the old entry no longer matches;
//! - a wrong password forgets the user's entry, so the failures that lead to a
//!   lock-out (counted by `Security` either way) leave nothing behind;
//! - entries expire after [`TTL`], and there are at most [`MAX_ENTRIES`].
//!
//! Dovecot's auth cache does the same (auth_cache_size, auth_cache_ttl).

use mailroom_core::accounts::verify_password;
use ring::hmac;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a success is remembered (Dovecot's auth_cache_ttl default).
pub const TTL: Duration = Duration::from_secs(3600);
/// Remembered successes at most; a small office has far fewer users.
pub const MAX_ENTRIES: usize = 4096;

pub struct Passwords {
    /// `None` if no key could be drawn: then every check is a full one.
    key: Option<hmac::Key>,
    remembered: Mutex<HashMap<String, (hmac::Tag, Instant)>>,
    /// Full argon2 verifications done (for tests and the benchmarks).
    full_checks: AtomicU64,
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords::new()
    }
}

impl Passwords {
    pub fn new() -> Passwords {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new());
        if key.is_err() {
            tracing::warn!("no entropy for the login cache key; every login runs argon2");
        }
        Passwords {
            key: key.ok(),
            remembered: Mutex::new(HashMap::new()),
            full_checks: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (hmac::Tag, Instant)>> {
        // Each operation leaves the map whole.
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `password` is right for `user`, whose stored hash is `phc`.
    pub fn verify(&self, user: &str, phc: &str, password: &str) -> bool {
        let Some(key) = &self.key else {
            self.full_checks.fetch_add(1, Ordering::Relaxed);
            return verify_password(phc, password);
        };
        let user = user.to_ascii_lowercase();
        let now = Instant::now();
        let mut msg = Vec::with_capacity(phc.len() + 1 + password.len());
        msg.extend_from_slice(phc.as_bytes());
        msg.push(0);
        msg.extend_from_slice(password.as_bytes());
        let remembered = self
            .entries()
            .get(&user)
            .filter(|(_, at)| now.duration_since(*at) < TTL)
            .map(|(t, _)| t.as_ref().to_vec());
        // `hmac::verify` compares in constant time.
        if remembered.is_some_and(|known| hmac::verify(key, &msg, &known).is_ok()) {
            return true;
        }
        self.full_checks.fetch_add(1, Ordering::Relaxed);
        let ok = verify_password(phc, password);
        let mut entries = self.entries();
        if ok {
            if entries.len() >= MAX_ENTRIES && !entries.contains_key(&user) {
                // Forget the stalest half rather than one at a time.
                let mut ages: Vec<Instant> = entries.values().map(|(_, at)| *at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                entries.retain(|_, (_, at)| *at > cut);
            }
            entries.insert(user, (hmac::sign(key, &msg), now));
        } else {
            entries.remove(&user);
        }
        ok
    }

    /// Full argon2 verifications so far.
    pub fn full_checks(&self) -> u64 {
        self.full_checks.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::accounts::hash_password;

    #[test]
    fn remembers_successes_only_for_the_same_password_and_hash() {
        let p = Passwords::new();
        let first = hash_password("first pass", &[1; 16]).expect("hash");
        assert!(p.verify("Alice", &first, "first pass"));
        assert_eq!(p.full_checks(), 1);
        // Again, any spelling of the name: no argon2.
        assert!(p.verify("alice", &first, "first pass"));
        assert_eq!(p.full_checks(), 1);
        // A wrong password is checked in full, fails, and forgets the success.
        assert!(!p.verify("alice", &first, "guess"));
        assert_eq!(p.full_checks(), 2);
        assert!(p.verify("alice", &first, "first pass"));
        assert_eq!(p.full_checks(), 3);
        // A changed password: the old one fails although it was remembered.
        let second = hash_password("second pass", &[2; 16]).expect("hash");
        assert!(!p.verify("alice", &second, "first pass"));
        assert!(p.verify("alice", &second, "second pass"));
        assert_eq!(p.full_checks(), 5);
        // Another user with the same password is checked on their own.
        assert!(!p.verify("bob", &second, "first pass"));
        assert_eq!(p.full_checks(), 6);
    }

    #[test]
    fn bounded() {
        let p = Passwords::new();
        let h = hash_password("pw", &[3; 16]).expect("hash");
        // Fill the map without argon2 for each entry.
        let key = p.key.as_ref().expect("a key");
        {
            let mut e = p.entries();
            for i in 0..MAX_ENTRIES {
                e.insert(format!("u{i}"), (hmac::sign(key, b"x"), Instant::now()));
            }
        }
        assert!(p.verify("new", &h, "pw"));
        assert!(p.entries().len() <= MAX_ENTRIES / 2 + 1);
    }
}
