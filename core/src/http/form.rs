//! Decoding what browsers send: `application/x-www-form-urlencoded` bodies and query
//! strings, and the `Cookie` field.

/// Form fields in order (a checkbox left unticked is absent). Bodies that are not
/// UTF-8 decode with replacement characters, which no field check accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Fields decoded elsewhere (a `multipart/form-data` body's text fields).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Form {
        Form(pairs)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order (checkboxes sharing a name).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    /// A list typed into a text area: one item per line or separated by commas,
    /// blanks dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.text(name)
            .split(['\n', ','])
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A checkbox: present and not "off"/"0"/"".
    pub fn checked(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| !matches!(v.trim(), "" | "0" | "off" | "false"))
    }
}

/// The value of cookie `name` in a `Cookie` field (`a=1; b=2`).
pub fn cookie<'a>(field: &'a str, name: &str) -> Option<&'a str> {
    field.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// `s` percent-encoded for a query value or a path segment.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_cookies() {
        let f = Form::parse(b"name=al+ice&password=a%26b%3D&admin=on&x=%ff");
        assert_eq!(f.get("name"), Some("al ice"));
        assert_eq!(f.get("password"), Some("a&b="));
        assert!(f.checked("admin"));
        assert!(!f.checked("missing"));
        let typed = Form::parse(b"m=alice%0D%0Abob%2C+carol%40x.test%0A%0A");
        assert_eq!(typed.list("m"), ["alice", "bob", "carol@x.test"]);
        assert_eq!(f.get("x"), Some("\u{fffd}"));
        let many = Form::parse(b"uid=1&set=read&uid=3");
        assert_eq!(many.all("uid").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(
            cookie("a=1; mr_session=xyz; b=2", "mr_session"),
            Some("xyz")
        );
        assert_eq!(cookie("a=1", "mr_session"), None);
        assert_eq!(encode("a b&c"), "a+b%26c");
    }
}
