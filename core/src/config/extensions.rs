//! `[extensions]`: VPOP3's external programs (EXT-1, manual §23). Each is a shell
//! command line; empty = not used. Their file formats are `crate::extension`'s.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Extensions {
    /// The Out Mail pre-processor (§23.3): run with the In and Out file names on
    /// every message the SMTP server receives for the Internet, before it is routed.
    pub outmail_preprocessor: String,
    /// Run it on mail for local recipients only, too ("internal" mail).
    pub preprocess_internal: bool,
    /// Seconds a program may run; then it is stopped and the message goes on as it
    /// was (a failure never loses a message).
    pub timeout_secs: u64,
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions {
            outmail_preprocessor: String::new(),
            preprocess_internal: false,
            timeout_secs: 60,
        }
    }
}
