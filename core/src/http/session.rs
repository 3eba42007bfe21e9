//! Login sessions of the web pages (admin and webmail share them): an unguessable id
//! in a cookie, bound to the client address it was created from, ended after
//! `idle` without a request, with a CSRF token of its own. Ids and tokens come from
//! the runtime's entropy; this table only keeps and checks them.

use crate::Instant;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// The cookie that carries the session id.
pub const COOKIE: &str = "mr_session";

/// One logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user: String,
    pub admin: bool,
    /// The address the login came from; a request from any other is refused.
    pub ip: IpAddr,
    /// Every state-changing form carries it in the hidden field `csrf`.
    pub csrf: String,
    pub last_seen: Instant,
    /// What the page after a redirect says about the change just made.
    pub notice: Option<Notice>,
}

/// The outcome of a form, shown once on the page the browser is sent to after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub ok: bool,
    pub lines: Vec<String>,
}

/// Why a session cookie did not log the request in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such session (never was, logged out, evicted).
    Unknown,
    /// Idle for longer than the timeout; it is gone now.
    Expired,
    /// The cookie came from another client address than the login.
    OtherAddress,
}

#[derive(Debug)]
pub struct SessionTable {
    sessions: HashMap<String, WebSession>,
    idle: Duration,
    max: usize,
}

impl SessionTable {
    /// Sessions end after `idle` without a request; at most `max` live at once (the
    /// least recently used goes first).
    pub fn new(idle: Duration, max: usize) -> Self {
        SessionTable {
            sessions: HashMap::new(),
            idle,
            max: max.max(1),
        }
    }

    pub fn set_idle(&mut self, idle: Duration) {
        self.idle = idle;
    }

    fn expired(&self, s: &WebSession, now: Instant) -> bool {
        now.saturating_since(s.last_seen) > self.idle
    }

    /// Start a session under the fresh `id` (never one the browser sent: no fixation).
    pub fn create(
        &mut self,
        id: String,
        csrf: String,
        user: &str,
        admin: bool,
        ip: IpAddr,
        now: Instant,
    ) {
        let idle = self.idle;
        self.sessions
            .retain(|_, s| now.saturating_since(s.last_seen) <= idle);
        while self.sessions.len() >= self.max {
            let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.sessions.remove(&oldest);
        }
        self.sessions.insert(
            id,
            WebSession {
                user: user.to_string(),
                admin,
                ip,
                csrf,
                last_seen: now,
                notice: None,
            },
        );
    }

    /// The session `id` for a request from `ip` at `now`, its idle clock restarted.
    pub fn get(&mut self, id: &str, ip: IpAddr, now: Instant) -> Result<&WebSession, Refused> {
        let Some(s) = self.sessions.get(id) else {
            return Err(Refused::Unknown);
        };
        if self.expired(s, now) {
            self.sessions.remove(id);
            return Err(Refused::Expired);
        }
        if s.ip.to_canonical() != ip.to_canonical() {
            // Not removed: a stolen cookie must not let its thief log the owner out.
            return Err(Refused::OtherAddress);
        }
        let s = self.sessions.get_mut(id).ok_or(Refused::Unknown)?;
        s.last_seen = s.last_seen.max(now);
        Ok(s)
    }

    /// Leave `notice` for the next page session `id` shows.
    pub fn set_notice(&mut self, id: &str, notice: Notice) {
        if let Some(s) = self.sessions.get_mut(id) {
            s.notice = Some(notice);
        }
    }

    pub fn take_notice(&mut self, id: &str) -> Option<Notice> {
        self.sessions.get_mut(id).and_then(|s| s.notice.take())
    }

    pub fn remove(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    /// End every session of `user` (deleted, or its admin flag taken away).
    pub fn remove_user(&mut self, user: &str) {
        self.sessions
            .retain(|_, s| !s.user.eq_ignore_ascii_case(user));
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// Compare a token from a form with the session's in time independent of where
/// they differ.
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bound_to_address_and_idle_timeout() {
        let t0 = Instant::from_secs(1_000_000);
        let mut t = SessionTable::new(Duration::from_secs(600), 10);
        t.create(
            "id1".into(),
            "tok".into(),
            "admin",
            true,
            ip("127.0.0.1"),
            t0,
        );
        assert!(t.get("id1", ip("127.0.0.1"), t0).is_ok());
        assert_eq!(
            t.get("id1", ip("127.0.0.2"), t0).err(),
            Some(Refused::OtherAddress)
        );
        // Still there for its owner.
        let later = t0 + Duration::from_secs(500);
        assert!(t.get("id1", ip("127.0.0.1"), later).is_ok());
        // Idle counts from the last request.
        let idle = later + Duration::from_secs(601);
        assert_eq!(
            t.get("id1", ip("127.0.0.1"), idle).err(),
            Some(Refused::Expired)
        );
        assert_eq!(
            t.get("id1", ip("127.0.0.1"), idle).err(),
            Some(Refused::Unknown)
        );
    }

    #[test]
    fn oldest_evicted_at_the_cap() {
        let t0 = Instant::from_secs(1_000_000);
        let mut t = SessionTable::new(Duration::from_secs(600), 2);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let at = t0 + Duration::from_secs(i as u64);
            t.create(id.to_string(), "x".into(), "u", false, ip("::1"), at);
        }
        assert_eq!(t.len(), 2);
        assert!(t.get("a", ip("::1"), t0).is_err());
        t.remove_user("U");
        assert!(t.is_empty());
    }

    #[test]
    fn tokens() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
        assert!(!token_matches("", ""));
    }
}
