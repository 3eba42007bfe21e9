//! `[web]`: the web admin and webmail on `[services] http` / `https` (issue 13,
//! docs/WEB.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// A login session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// Logged-in sessions kept at once; past that the least recently used ends.
    pub max_sessions: u32,
    /// A request (head and body) must arrive within this many seconds of its first
    /// byte (slow-header attacks).
    pub request_timeout_secs: u32,
    /// A keep-alive connection with no request under way is closed after this.
    pub idle_timeout_secs: u32,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            session_idle_minutes: 30,
            max_sessions: 100,
            request_timeout_secs: 20,
            idle_timeout_secs: 60,
        }
    }
}
