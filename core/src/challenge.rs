//! Challenge-response login digests: APOP (RFC 1939 §7) and CRAM-MD5 (RFC 2195).
//!
//! Both need the account's reusable secret (its password) on the server side, which
//! is why they exist only when the administrator turns challenge-response auth on
//! (the runtime then keeps an encrypted copy of each password). MD5 is weak; these
//! mechanisms are offered for old clients, and TLS with a plain password is better.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

/// The APOP digest: lower-case hex MD5 of the greeting's timestamp followed by the secret.
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    hex(&h.finalize())
}

/// The CRAM-MD5 digest: lower-case hex HMAC-MD5 of the challenge keyed with the secret.
pub fn cram_md5_digest(challenge: &str, secret: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Md5> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(challenge.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Compare a client's hex digest with the expected one in constant time (for equal
/// lengths), ignoring the case of hex letters.
pub fn digests_match(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x.to_ascii_lowercase() ^ y.to_ascii_lowercase();
    }
    diff == 0
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1939_apop_vector() {
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn rfc_2195_cram_md5_vector() {
        assert_eq!(
            cram_md5_digest(
                "<1896.697170952@postoffice.reston.mci.net>",
                "tanstaaftanstaaf"
            ),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
    }

    #[test]
    fn matching() {
        assert!(digests_match("c4c9ab", "C4C9AB"));
        assert!(!digests_match("c4c9ab", "c4c9ac"));
        assert!(!digests_match("c4c9ab", "c4c9a"));
        assert!(!digests_match("", ""));
    }
}
