//! The LDAP address book's directory (SVC-4, §11.4): one entry per account, named
//! `uid=NAME,dc=…` after the default domain, with core's directory attributes, and
//! the global address book's contacts from `DIR/ADDRBOOK.CSV` (§4.3.8.3's CSV) as
//! `cn=NAME,ou=addressbook,dc=…`.

use std::io::Read;
use std::sync::Arc;

use mailroom_core::addressbook;
use mailroom_core::ldap::Entry;

use crate::services::app::Shared;

/// Every account as an address book entry.
pub fn directory(shared: &Arc<Shared>) -> Vec<Entry> {
    let snap = shared.snapshot();
    let domain = &snap.config.default_domain;
    let base: Vec<String> = domain.split('.').map(|p| format!("dc={p}")).collect();
    let base = base.join(",");
    let mut out: Vec<Entry> = snap
        .accounts
        .iter()
        .map(|a| {
            let mut attributes = vec![
                ("objectclass".to_string(), "top".to_string()),
                ("objectclass".to_string(), "person".to_string()),
                ("objectclass".to_string(), "inetOrgPerson".to_string()),
            ];
            attributes.extend(mailroom_core::directory::attributes(a, domain));
            Entry {
                dn: format!("uid={},{base}", a.name),
                attributes,
            }
        })
        .collect();
    out.extend(global_book(shared, &base));
    out
}

/// Largest address book file read.
const MAX_BOOK: u64 = 8 * 1024 * 1024;

fn global_book(shared: &Shared, base: &str) -> Vec<Entry> {
    let path = shared.store.data_dir().address_book();
    let Ok(file) = std::fs::File::open(&path) else {
        return Vec::new();
    };
    let mut text = Vec::new();
    if let Err(e) = file.take(MAX_BOOK).read_to_end(&mut text) {
        tracing::warn!("cannot read {}: {e}", path.display());
        return Vec::new();
    }
    let book = addressbook::parse(&text);
    for (line, why) in &book.skipped {
        tracing::debug!("{} line {line}: {why}", path.display());
    }
    addressbook::entries(&book, base)
}
