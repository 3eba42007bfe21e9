//! Mail addresses (RFC 5321 §4.1.2 `Mailbox`, RFC 6531 for UTF-8): parsing, validation
//! and the comparisons the server needs.
//!
//! Lengths are bounded as RFC 5321 §4.5.3.1 says, so an address taken from the network
//! can never be large: local part ≤ 64 octets, domain ≤ 255, whole path ≤ 256.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest local part, octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest reverse or forward path including `<` and `>` (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address is empty")]
    Empty,
    #[error("address has no '@'")]
    NoAt,
    #[error("local part is too long")]
    LocalTooLong,
    #[error("domain is too long")]
    DomainTooLong,
    #[error("path is too long")]
    PathTooLong,
    #[error("invalid local part")]
    BadLocal,
    #[error("invalid domain")]
    BadDomain,
    #[error("path must be enclosed in <>")]
    NoBrackets,
}

/// A `local@domain` mailbox as written by the peer (quoted local parts kept quoted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    text: String,
    at: usize,
}

impl Mailbox {
    /// Parse and validate `local@domain` (no angle brackets).
    pub fn parse(s: &str) -> Result<Mailbox, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let at = local_part_end(s)?;
        let local = &s[..at];
        let domain = s.get(at + 1..).ok_or(AddressError::NoAt)?;
        if local.len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalTooLong);
        }
        if domain.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong);
        }
        validate_domain(domain)?;
        Ok(Mailbox {
            text: s.to_owned(),
            at,
        })
    }

    /// The local part as written (a quoted one keeps its quotes).
    pub fn local_part(&self) -> &str {
        &self.text[..self.at]
    }

    /// The local part with quoting removed: `"a\"b"` → `a"b`.
    pub fn local_part_unquoted(&self) -> std::borrow::Cow<'_, str> {
        unquote(self.local_part())
    }

    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// Only ASCII (usable without SMTPUTF8).
    pub fn is_ascii(&self) -> bool {
        self.text.is_ascii()
    }

    /// The domain equals `domain`, ignoring ASCII case.
    pub fn domain_is(&self, domain: &str) -> bool {
        domain_eq(self.domain(), domain)
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Domains compare case-insensitively (ASCII; U-labels compare exactly otherwise).
pub fn domain_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A reverse path (`MAIL FROM`) or forward path (`RCPT TO`) without its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// `<>`: the null reverse path (bounces).
    Null,
    /// `<postmaster>` with no domain (RFC 5321 §4.1.1.3), valid only as a forward path.
    Postmaster,
    Mailbox(Mailbox),
}

/// Split `<path> rest` from the start of `s`. Returns the path and the rest of the text
/// after the closing `>` (parameters, possibly empty). A source route (`<@a,@b:x@y>`)
/// is accepted and dropped, as RFC 5321 §4.1.1.3 asks.
pub fn parse_path(s: &str) -> Result<(Path, &str), AddressError> {
    let inner_start = match s.as_bytes().first() {
        Some(b'<') => 1,
        Some(_) => return Err(AddressError::NoBrackets),
        None => return Err(AddressError::Empty),
    };
    let close = closing_bracket(s, inner_start).ok_or(AddressError::NoBrackets)?;
    if close + 1 > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    let mut inner = &s[inner_start..close];
    let rest = &s[close + 1..];
    if inner.is_empty() {
        return Ok((Path::Null, rest));
    }
    if inner.starts_with('@') {
        // Source route: everything up to the first ':' outside quotes.
        let colon = inner.find(':').ok_or(AddressError::BadDomain)?;
        for hop in inner[..colon].split(',') {
            let hop = hop.strip_prefix('@').ok_or(AddressError::BadDomain)?;
            validate_domain(hop)?;
        }
        inner = &inner[colon + 1..];
    }
    if inner.eq_ignore_ascii_case("postmaster") {
        return Ok((Path::Postmaster, rest));
    }
    Ok((Path::Mailbox(Mailbox::parse(inner)?), rest))
}

/// Index of the `>` that closes a path opened just before `from`, skipping quoted text.
fn closing_bracket(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = from;
    let mut quoted = false;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Validate the local part at the start of `s`; return the index of its `@`.
fn local_part_end(s: &str) -> Result<usize, AddressError> {
    let b = s.as_bytes();
    if b.first() == Some(&b'"') {
        let mut i = 1;
        loop {
            match b.get(i) {
                None => return Err(AddressError::BadLocal),
                Some(b'"') => break,
                Some(b'\\') => match b.get(i + 1) {
                    Some(&c) if (32..=126).contains(&c) => i += 2,
                    _ => return Err(AddressError::BadLocal),
                },
                Some(&c) if (32..=126).contains(&c) || c >= 0x80 => i += 1,
                Some(_) => return Err(AddressError::BadLocal),
            }
        }
        return match b.get(i + 1) {
            Some(b'@') => Ok(i + 1),
            Some(_) => Err(AddressError::BadLocal),
            None => Err(AddressError::NoAt),
        };
    }
    let at = memchr::memrchr(b'@', b).ok_or(AddressError::NoAt)?;
    let local = &b[..at];
    if local.is_empty() || local.first() == Some(&b'.') || local.last() == Some(&b'.') {
        return Err(AddressError::BadLocal);
    }
    let mut prev_dot = false;
    for &c in local {
        let dot = c == b'.';
        if (dot && prev_dot) || !(dot || is_atext(c)) {
            return Err(AddressError::BadLocal);
        }
        prev_dot = dot;
    }
    Ok(at)
}

/// RFC 5322 `atext`, plus any UTF-8 byte (RFC 6531 `UTF8-non-ascii`).
fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c) || c >= 0x80
}

/// A domain name (LDH labels; U-labels allowed) or an address literal.
fn validate_domain(d: &str) -> Result<(), AddressError> {
    if d.is_empty() {
        return Err(AddressError::BadDomain);
    }
    if d.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    if let Some(lit) = d.strip_prefix('[') {
        let lit = lit.strip_suffix(']').ok_or(AddressError::BadDomain)?;
        return address_literal(lit)
            .map(|_| ())
            .ok_or(AddressError::BadDomain);
    }
    for label in d.split('.') {
        let b = label.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b.first() != Some(&b'-')
            && b.last() != Some(&b'-')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c >= 0x80);
        if !ok {
            return Err(AddressError::BadDomain);
        }
    }
    Ok(())
}

/// The IP inside an address literal's brackets: `1.2.3.4` or `IPv6:…`.
pub fn address_literal(lit: &str) -> Option<IpAddr> {
    match lit.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            lit[5..].parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        }
        _ => lit.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

fn unquote(local: &str) -> std::borrow::Cow<'_, str> {
    let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return std::borrow::Cow::Borrowed(local);
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mailbox() {
        let m = Mailbox::parse("Bob.Smith@Example.COM").unwrap();
        assert_eq!(m.local_part(), "Bob.Smith");
        assert_eq!(m.domain(), "Example.COM");
        assert!(m.domain_is("example.com"));
        assert!(m.is_ascii());
    }

    #[test]
    fn quoted_local_part() {
        let m = Mailbox::parse(r#""john \"q\" doe"@example.com"#).unwrap();
        assert_eq!(m.local_part_unquoted(), r#"john "q" doe"#);
        let m = Mailbox::parse(r#""a@b"@example.com"#).unwrap();
        assert_eq!(m.local_part(), r#""a@b""#);
        assert_eq!(m.domain(), "example.com");
        assert!(Mailbox::parse(r#""unterminated@example.com"#).is_err());
        assert!(Mailbox::parse(r#""x"y@example.com"#).is_err());
    }

    #[test]
    fn literals() {
        assert!(Mailbox::parse("a@[192.0.2.1]").is_ok());
        assert!(Mailbox::parse("a@[IPv6:2001:db8::1]").is_ok());
        assert!(Mailbox::parse("a@[300.0.0.1]").is_err());
        assert!(Mailbox::parse("a@[x:y]").is_err());
        assert_eq!(
            address_literal("ipv6:::1"),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "", "a", "@x", "a@", ".a@x", "a.@x", "a..b@x", "a b@x", "a@-x", "a@x-", "a@x..y",
            "a@x y", "a<b@x", "a@x_y",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn utf8_allowed() {
        let m = Mailbox::parse("jösé@bücher.example").unwrap();
        assert!(!m.is_ascii());
    }

    #[test]
    fn length_bounds() {
        let local = "a".repeat(64);
        assert!(Mailbox::parse(&format!("{local}@x.y")).is_ok());
        let local = "a".repeat(65);
        assert_eq!(
            Mailbox::parse(&format!("{local}@x.y")),
            Err(AddressError::LocalTooLong)
        );
        let label = "b".repeat(63);
        let domain = [label.as_str(); 5].join(".");
        assert_eq!(
            Mailbox::parse(&format!("a@{domain}")),
            Err(AddressError::DomainTooLong)
        );
        let long = format!("<{}@{}>", "a".repeat(60), vec!["c".repeat(60); 4].join("."));
        assert!(long.len() > MAX_PATH);
        assert_eq!(parse_path(&long), Err(AddressError::PathTooLong));
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("<> SIZE=1"), Ok((Path::Null, " SIZE=1")));
        assert_eq!(parse_path("<PostMaster>"), Ok((Path::Postmaster, "")));
        let (p, rest) = parse_path("<@relay.example,@b.example:bob@example.com> X").unwrap();
        assert_eq!(p, Path::Mailbox(Mailbox::parse("bob@example.com").unwrap()));
        assert_eq!(rest, " X");
        let (p, _) = parse_path(r#"<"a>b"@example.com>"#).unwrap();
        assert_eq!(
            p,
            Path::Mailbox(Mailbox::parse(r#""a>b"@example.com"#).unwrap())
        );
        assert_eq!(parse_path("bob@example.com"), Err(AddressError::NoBrackets));
        assert_eq!(
            parse_path("<bob@example.com"),
            Err(AddressError::NoBrackets)
        );
    }
}
