//! Tag=value lists (RFC 6376 §3.2), the syntax of DKIM signatures, DKIM key records
//! and DMARC records.

/// A parsed tag list: names as written (compared case-sensitively, as §3.2 says),
/// values with surrounding folding white space removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags {
    pub list: Vec<(String, String)>,
}

/// At most this many tags in one list.
const MAX_TAGS: usize = 64;

impl Tags {
    /// Parse; `None` for a malformed list (a tag without `=`, a bad name, a tag given
    /// twice, too many tags).
    pub fn parse(text: &str) -> Option<Tags> {
        let mut list: Vec<(String, String)> = Vec::new();
        let parts: Vec<&str> = text.split(';').collect();
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            if part.trim_matches(fws).is_empty() {
                // Only the last tag-spec may be empty (a trailing ';').
                if i + 1 == n {
                    continue;
                }
                return None;
            }
            let (name, value) = part.split_once('=')?;
            let name = name.trim_matches(fws);
            let ok_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok_name || list.iter().any(|(k, _)| k == name) || list.len() >= MAX_TAGS {
                return None;
            }
            list.push((name.to_string(), value.trim_matches(fws).to_string()));
        }
        Some(Tags { list })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first tag's name and value.
    pub fn first(&self) -> Option<(&str, &str)> {
        self.list.first().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// A value with every folding white space character removed (base64 values).
pub fn compact(v: &str) -> String {
    v.chars().filter(|c| !fws(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lists() {
        let t = Tags::parse(" v=1; a = rsa-sha256 ;\r\n\tb=ab\r\n cd;").unwrap();
        assert_eq!(t.get("a"), Some("rsa-sha256"));
        assert_eq!(compact(t.get("b").unwrap()), "abcd");
        assert_eq!(t.first(), Some(("v", "1")));
        assert!(Tags::parse("a=1; a=2").is_none());
        assert!(Tags::parse("a=1;; b=2").is_none());
        assert!(Tags::parse("novalue").is_none());
        assert!(Tags::parse("1a=x").is_none());
        assert_eq!(Tags::parse("k=").unwrap().get("k"), Some(""));
    }
}
