//! The LDAP address book's directory (SVC-4, §11.4): one entry per account, named
//! `uid=NAME,dc=…` after the default domain, with core's directory attributes.

use std::sync::Arc;

use mailroom_core::ldap::Entry;

use crate::services::app::Shared;

/// Every account as an address book entry.
pub fn directory(shared: &Arc<Shared>) -> Vec<Entry> {
    let snap = shared.snapshot();
    let domain = &snap.config.default_domain;
    let base: Vec<String> = domain.split('.').map(|p| format!("dc={p}")).collect();
    let base = base.join(",");
    snap.accounts
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
        .collect()
}
