//! The global address book (SVC-4, manual §4.3.8, §11.4): company-wide contacts the
//! LDAP server offers beside the users. It is kept in the manual's own CSV import and
//! export format (§4.3.8.3): a header line of LDAP attribute names (`cn`, `mail`,
//! `givenname`, `sn`, `title`, `department`, `telephonenumber`, ...), then one entry
//! per line. So importing is copying a file in, and exporting is copying it out.
//!
//! An entry needs a display name (`cn`) and an e-mail address (`mail`); lines
//! without them are skipped and reported.

use crate::ldap::Entry;

/// Entries read at most.
pub const MAX_ENTRIES: usize = 10_000;
/// Longest value kept; a longer one is cut.
pub const MAX_VALUE: usize = 1024;
/// Columns read at most.
pub const MAX_COLUMNS: usize = 64;

/// The container of the book's entries under the directory's base:
/// `cn=NAME,ou=addressbook,dc=example,dc=com`.
pub const CONTAINER: &str = "ou=addressbook";

/// One contact: `(attribute, value)` with lower-case names, empty values left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub attributes: Vec<(String, String)>,
}

impl Contact {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a read of the file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    pub contacts: Vec<Contact>,
    /// Line numbers (1-based, the header is line 1) skipped, and why.
    pub skipped: Vec<(u64, String)>,
}

fn cut(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_VALUE) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
    .chars()
    .map(|c| if c.is_control() { ' ' } else { c })
    .collect()
}

/// Read the CSV text of the book.
pub fn parse(text: &[u8]) -> Book {
    let mut book = Book::default();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .take(MAX_COLUMNS)
            .map(|n| n.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect(),
        Err(e) => {
            book.skipped.push((1, format!("no header line: {e}")));
            return book;
        }
    };
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        if book.contacts.len() >= MAX_ENTRIES {
            book.skipped
                .push((line, format!("more than {MAX_ENTRIES} entries")));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                book.skipped.push((line, e.to_string()));
                continue;
            }
        };
        let attributes: Vec<(String, String)> = header
            .iter()
            .zip(record.iter())
            .filter(|(n, _)| !n.is_empty())
            .map(|(n, v)| (n.clone(), cut(v)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let contact = Contact { attributes };
        if contact.get("cn").is_none() || contact.get("mail").is_none() {
            book.skipped
                .push((line, "an entry needs cn and mail".to_string()));
            continue;
        }
        book.contacts.push(contact);
    }
    book
}

/// The book's entries for the LDAP directory whose base is `base`
/// (`dc=example,dc=com`).
pub fn entries(book: &Book, base: &str) -> Vec<Entry> {
    book.contacts
        .iter()
        .map(|c| {
            let cn = c.get("cn").unwrap_or_default();
            let mut attributes = vec![
                ("objectclass".to_string(), "top".to_string()),
                ("objectclass".to_string(), "person".to_string()),
                ("objectclass".to_string(), "inetOrgPerson".to_string()),
            ];
            attributes.extend(c.attributes.iter().cloned());
            Entry {
                dn: format!("cn={},{CONTAINER},{base}", escape_rdn(cn)),
                attributes,
            }
        })
        .collect()
}

/// RFC 4514 escaping of an attribute value in a DN.
fn escape_rdn(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manuals_csv_format() {
        let text = "cn,mail,givenname,sn,title,department,telephonenumber\r\n\
                    \"John Doe\",john.doe@doe.com,John,Doe,,Sales,\"+44 1234, ext 5\"\r\n\
                    \"No Mail\",,No,Mail\r\n\
                    \"Smith, Jane\",jane@smith.example\r\n";
        let book = parse(text.as_bytes());
        assert_eq!(book.contacts.len(), 2);
        assert_eq!(book.skipped, vec![(3, "an entry needs cn and mail".into())]);
        let john = &book.contacts[0];
        assert_eq!(john.get("department"), Some("Sales"));
        assert_eq!(john.get("telephonenumber"), Some("+44 1234, ext 5"));
        assert_eq!(john.get("title"), None);
        let e = entries(&book, "dc=example,dc=com");
        assert_eq!(e[0].dn, "cn=John Doe,ou=addressbook,dc=example,dc=com");
        assert_eq!(e[1].dn, "cn=Smith\\, Jane,ou=addressbook,dc=example,dc=com");
        assert!(e[0]
            .attributes
            .contains(&("mail".into(), "john.doe@doe.com".into())));
    }

    #[test]
    fn hostile_files_are_bounded() {
        assert!(parse(b"").contacts.is_empty());
        let long = format!("cn,mail\r\n{},a@b\r\n", "x".repeat(10_000));
        let book = parse(long.as_bytes());
        assert_eq!(book.contacts[0].get("cn").unwrap().len(), MAX_VALUE);
        let book = parse(b"cn,mail\r\n\"a\r\nb\",c@d\r\n\"unterminated,x@y\r\n");
        assert_eq!(book.contacts[0].get("cn"), Some("a  b"));
    }
}
