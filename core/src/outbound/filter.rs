//! §6.4.2.1 "Domain Filtering": which mail an Out Mail may send.
//!
//! Entries, each one of:
//! - `domain` — recipients in this domain may be sent to;
//! - `!domain` — recipients in this domain may not;
//! - `From: address` — mail from this sender may be sent;
//! - `!From: address` — mail from this sender may not.
//!
//! Domains and addresses may use `*` and `?`. Without any allowed domain every domain
//! not refused is allowed; with allowed domains only those are. The same for senders.
//! The null sender `<>` is matched as the empty text.

use crate::wildcard;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainFilter {
    to_allow: Vec<String>,
    to_deny: Vec<String>,
    from_allow: Vec<String>,
    from_deny: Vec<String>,
}

impl DomainFilter {
    /// Parse the entries; the error names the first bad one.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<DomainFilter, String> {
        let mut f = DomainFilter::default();
        for e in entries {
            let raw = e.as_ref().trim();
            let (deny, rest) = match raw.strip_prefix('!') {
                Some(r) => (true, r.trim_start()),
                None => (false, raw),
            };
            let from = rest
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("from:"))
                .map(|_| rest[5..].trim());
            match from {
                Some(addr) => {
                    if addr.is_empty() || addr.contains(char::is_whitespace) {
                        return Err(format!("{raw:?}: write `From: address` with one address"));
                    }
                    if deny {
                        f.from_deny.push(addr.to_string());
                    } else {
                        f.from_allow.push(addr.to_string());
                    }
                }
                None => {
                    let d = rest.trim_start_matches('@');
                    if d.is_empty() || d.contains(char::is_whitespace) || d.contains('@') {
                        return Err(format!(
                            "{raw:?}: write a domain (`example.com`, `!example.com`) or `From: address`"
                        ));
                    }
                    if deny {
                        f.to_deny.push(d.to_string());
                    } else {
                        f.to_allow.push(d.to_string());
                    }
                }
            }
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        *self == DomainFilter::default()
    }

    /// Whether mail from `sender` (`None` = `<>`) to a recipient in `domain` may go.
    pub fn allows(&self, sender: Option<&str>, domain: &str) -> bool {
        let any = |list: &[String], text: &str| list.iter().any(|p| wildcard::matches(p, text));
        if any(&self.to_deny, domain) {
            return false;
        }
        if !self.to_allow.is_empty() && !any(&self.to_allow, domain) {
            return false;
        }
        let from = sender.unwrap_or("");
        if any(&self.from_deny, from) {
            return false;
        }
        self.from_allow.is_empty() || any(&self.from_allow, from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_examples() {
        let f = DomainFilter::parse(&[
            "microsoft.com",
            "!ibm.com",
            "From: *@pscs.co.uk",
            "!From: colin@pscs.co.uk",
        ])
        .unwrap();
        assert!(f.allows(Some("ann@pscs.co.uk"), "microsoft.com"));
        assert!(f.allows(Some("ann@PSCS.co.uk"), "Microsoft.COM"));
        assert!(!f.allows(Some("ann@pscs.co.uk"), "ibm.com"));
        assert!(
            !f.allows(Some("ann@pscs.co.uk"), "other.com"),
            "allowed domains are exclusive"
        );
        assert!(!f.allows(Some("colin@pscs.co.uk"), "microsoft.com"));
        assert!(!f.allows(Some("ann@else.com"), "microsoft.com"));
        assert!(!f.allows(None, "microsoft.com"));
    }

    #[test]
    fn only_refusals_allow_everything_else() {
        let f = DomainFilter::parse(&["!ibm.com", "!From: spam@*"]).unwrap();
        assert!(f.allows(Some("a@b.c"), "example.com"));
        assert!(f.allows(None, "example.com"));
        assert!(!f.allows(Some("a@b.c"), "ibm.com"));
        assert!(!f.allows(Some("spam@x.test"), "example.com"));
        assert!(DomainFilter::parse::<&str>(&[]).unwrap().allows(None, "x"));
        let w = DomainFilter::parse(&["*.example.org"]).unwrap();
        assert!(w.allows(None, "eu.example.org"));
        assert!(!w.allows(None, "example.org"));
    }

    #[test]
    fn bad_entries() {
        assert!(DomainFilter::parse(&["a b"]).is_err());
        assert!(DomainFilter::parse(&["From:"]).is_err());
        assert!(DomainFilter::parse(&["!"]).is_err());
        assert!(DomainFilter::parse(&["bob@x.com"]).is_err());
    }
}
