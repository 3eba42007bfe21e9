//! SASL for SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, and CRAM-MD5 (RFC 2195)
//! when the administrator has turned on challenge-response secrets.
//!
//! Only decoding lives here; the session runs the exchange (334 challenges, `*` to
//! cancel) and hands the credentials to the driver to verify.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    Plain,
    Login,
    CramMd5,
}

/// LOGIN's challenges: base64 of "Username:" and "Password:".
pub(crate) const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
pub(crate) const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaslError {
    /// The client answered `*`.
    Cancelled,
    /// Not base64, or not the shape the mechanism needs.
    Malformed,
    /// PLAIN asked to act as another user (authzid); we do not support proxy login.
    OtherIdentity,
}

pub(crate) fn mechanism(name: &str) -> Option<Mechanism> {
    if name.eq_ignore_ascii_case("PLAIN") {
        Some(Mechanism::Plain)
    } else if name.eq_ignore_ascii_case("LOGIN") {
        Some(Mechanism::Login)
    } else if name.eq_ignore_ascii_case("CRAM-MD5") {
        Some(Mechanism::CramMd5)
    } else {
        None
    }
}

/// Decode one client response: `*` cancels, `=` is the empty response (RFC 4954 §4).
pub(crate) fn decode(response: &str) -> Result<Vec<u8>, SaslError> {
    let response = response.trim_matches(' ');
    match response {
        "*" => Err(SaslError::Cancelled),
        "=" => Ok(Vec::new()),
        _ => STANDARD.decode(response).map_err(|_| SaslError::Malformed),
    }
}

/// PLAIN: `authzid NUL authcid NUL password` → (user, password).
pub(crate) fn plain(message: &[u8]) -> Result<(String, String), SaslError> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let user = utf8(user)?;
    let password = utf8(password)?;
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(SaslError::OtherIdentity);
    }
    Ok((user, password))
}

/// CRAM-MD5: `user SP digest`, the digest 32 hex digits → (user, lower-case digest).
pub(crate) fn cram(message: &[u8]) -> Result<(String, String), SaslError> {
    let text = utf8(message)?;
    let (user, digest) = text.rsplit_once(' ').ok_or(SaslError::Malformed)?;
    if user.is_empty() || digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SaslError::Malformed);
    }
    Ok((user.to_string(), digest.to_ascii_lowercase()))
}

/// A LOGIN response (user name or password) as text.
pub(crate) fn utf8(bytes: &[u8]) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_forms() {
        let m = decode("AGFsaWNlAHNlY3JldA==").unwrap();
        assert_eq!(plain(&m), Ok(("alice".into(), "secret".into())));
        let m = decode(&STANDARD.encode(b"alice\0alice\0pw")).unwrap();
        assert_eq!(plain(&m), Ok(("alice".into(), "pw".into())));
        let m = decode(&STANDARD.encode(b"bob\0alice\0pw")).unwrap();
        assert_eq!(plain(&m), Err(SaslError::OtherIdentity));
        assert_eq!(plain(b"alice\0pw"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0a\0b\0c"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0a\0\xff"), Err(SaslError::Malformed));
    }

    #[test]
    fn cram_responses() {
        let ok = b"tim B913A602C7EDA7A495B4E6E7334D3890";
        assert_eq!(
            cram(ok),
            Ok(("tim".into(), "b913a602c7eda7a495b4e6e7334d3890".into()))
        );
        assert_eq!(cram(b"tim"), Err(SaslError::Malformed));
        assert_eq!(
            cram(b" b913a602c7eda7a495b4e6e7334d3890"),
            Err(SaslError::Malformed)
        );
        assert_eq!(
            cram(b"tim b913a602c7eda7a495b4e6e7334d389"),
            Err(SaslError::Malformed)
        );
        assert_eq!(
            cram(b"tim zz13a602c7eda7a495b4e6e7334d3890"),
            Err(SaslError::Malformed)
        );
    }

    #[test]
    fn responses() {
        assert_eq!(decode("*"), Err(SaslError::Cancelled));
        assert_eq!(decode("="), Ok(vec![]));
        assert_eq!(decode("!!!"), Err(SaslError::Malformed));
        assert_eq!(mechanism("login"), Some(Mechanism::Login));
        assert_eq!(mechanism("cram-md5"), Some(Mechanism::CramMd5));
        assert_eq!(mechanism("DIGEST-MD5"), None);
        assert_eq!(STANDARD.decode(LOGIN_USERNAME).unwrap(), b"Username:");
        assert_eq!(STANDARD.decode(LOGIN_PASSWORD).unwrap(), b"Password:");
    }
}
