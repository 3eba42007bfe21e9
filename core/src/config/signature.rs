//! `[signature]`: the global signature (§4.3.4, MAP-6) added to the bottom of mail
//! local users send to the Internet.

use serde::{Deserialize, Serialize};

/// Longest signature text kept, per form (a footer, not a document).
pub const MAX_SIGNATURE: usize = 8 * 1024;

/// The "Default Signature" and the "Signature for authenticated users", each as
/// plain text and/or an HTML fragment; an empty one is not set. When only one form
/// of a signature is set, the other is made from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignatureConfig {
    /// Default signature, plain text.
    pub text: String,
    /// Default signature, HTML fragment (no `<html>` or `<body>`).
    pub html: String,
    /// For a sender who used SMTP AUTH: plain text with `[attribute]` tags from the
    /// address book (`[cn]`, `[givenName]`, `[sn]`, `[mail]`, `[uid]`).
    pub auth_text: String,
    /// The same as an HTML fragment.
    pub auth_html: String,
}
