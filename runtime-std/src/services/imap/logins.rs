//! Logged-in IMAP connections per user and client address, for `[imap]
//! max_connections_per_user`: a count per key, and a slot that gives its place back
//! when the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Logged-in IMAP connections per user and client address, for `[imap]
/// max_connections_per_user` (Dovecot's mail_max_userip_connections).
#[derive(Default)]
pub struct Logins(Mutex<HashMap<(String, IpAddr), u32>>);

/// One counted connection; the count drops with it.
pub struct LoginSlot {
    logins: Arc<Logins>,
    key: (String, IpAddr),
}

impl Logins {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, IpAddr), u32>> {
        // Each update is one insert or decrement: never half done.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a connection of `user` from `ip`, unless `limit` (0: none) are open.
    pub fn enter(self: &Arc<Self>, user: &str, ip: IpAddr, limit: u32) -> Option<LoginSlot> {
        let key = (user.to_string(), ip);
        let mut map = self.map();
        let n = map.entry(key.clone()).or_insert(0);
        if limit != 0 && *n >= limit {
            return None;
        }
        *n += 1;
        Some(LoginSlot {
            logins: Arc::clone(self),
            key,
        })
    }
}

impl Drop for LoginSlot {
    fn drop(&mut self) {
        let mut map = self.logins.map();
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}
