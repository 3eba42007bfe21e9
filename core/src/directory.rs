//! The office's people as directory entries: the attributes the finger template's
//! tags (§11.5.5) and the LDAP address book (§11.4) read, made from an account.
//!
//! An account's comment is its display name (VPOP3's "Full Name"); first and last
//! names are its first and last words.

use crate::accounts::Account;

/// `(attribute, value)` pairs with lower-case names, in a fixed order; attributes
/// without a value are left out.
pub fn attributes(account: &Account, domain: &str) -> Vec<(String, String)> {
    let display = account.comment.trim();
    let cn = if display.is_empty() {
        account.name.as_str()
    } else {
        display
    };
    let words: Vec<&str> = display.split_whitespace().collect();
    let mut out = vec![
        ("uid".to_string(), account.name.clone()),
        ("cn".to_string(), cn.to_string()),
        ("mail".to_string(), format!("{}@{domain}", account.name)),
    ];
    if let (Some(first), Some(last)) = (words.first(), words.last()) {
        if words.len() > 1 {
            out.push(("givenname".to_string(), first.to_string()));
        }
        out.push(("sn".to_string(), last.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, comment: &str) -> Account {
        toml::from_str(&format!(
            "name = \"{name}\"\npassword_hash = \"\"\ncomment = \"{comment}\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn names_from_the_comment() {
        let a = attributes(&account("paul", "Paul de Smith"), "domain.com");
        assert_eq!(
            a,
            [
                ("uid".into(), "paul".into()),
                ("cn".into(), "Paul de Smith".into()),
                ("mail".into(), "paul@domain.com".into()),
                ("givenname".into(), "Paul".into()),
                ("sn".into(), "Smith".into()),
            ]
        );
        let a = attributes(&account("bob", ""), "domain.com");
        assert_eq!(
            a,
            [
                ("uid".into(), "bob".into()),
                ("cn".into(), "bob".into()),
                ("mail".into(), "bob@domain.com".into()),
            ]
        );
    }
}
