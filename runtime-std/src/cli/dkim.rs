//! `mailroom dkim generate` (issue 19, docs/MAILAUTH.md): a new signing key under the
//! data directory, its `[[dkim]]` table in mailroom.toml (comments kept), and the DNS
//! TXT record to publish.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use mailroom_core::config::check_domain_name;
use mailroom_core::mailauth::{key, SigningKey};
use toml_edit::{value, Table};

use super::config_edit::{array_of_tables, edit_config, fail, EditError};
use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};

#[derive(Subcommand, Debug)]
pub enum DkimCommand {
    /// Make a signing key for DOMAIN, add its [[dkim]] table and print the DNS record.
    Generate {
        #[arg(long)]
        domain: String,
        #[arg(long)]
        selector: String,
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: KeyAlgorithm,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Ed25519,
    /// RSA-2048: for receivers that do not check Ed25519 signatures yet.
    Rsa,
}

pub fn dkim(dd: &DataDir, cmd: DkimCommand) -> ExitCode {
    match cmd {
        DkimCommand::Generate {
            domain,
            selector,
            algorithm,
        } => generate(dd, &domain, &selector, algorithm),
    }
}

/// A DNS label: what a selector must be to sit in `<selector>._domainkey.<domain>`
/// and in a file name.
fn valid_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
}

fn generate(dd: &DataDir, domain: &str, selector: &str, alg: KeyAlgorithm) -> ExitCode {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let selector = selector.to_ascii_lowercase();
    if let Err(e) = check_domain_name(&domain) {
        return fail(format!("--domain {domain:?}: {e}"));
    }
    if !valid_selector(&selector) {
        return fail(format!(
            "--selector {selector:?}: use letters, digits and '-' (one DNS label)"
        ));
    }
    let name = DataDir::dkim_key_name(&selector, &domain);
    let path = dd.resolve(&name);
    if path.exists() {
        return fail(format!(
            "{} exists already; pick a new selector to rotate keys",
            path.display()
        ));
    }
    let pem = match new_key(alg) {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot make the key: {e}")),
    };
    let key = match SigningKey::from_pem(&pem) {
        Ok(k) => k,
        Err(e) => return fail(format!("the new key does not load: {e}")),
    };
    if let Err(e) = std::fs::create_dir_all(dd.dkim_dir()) {
        return fail(format!("{}: {e}", dd.dkim_dir().display()));
    }
    if let Err(e) = durable::replace(&path, pem.as_bytes(), Access::Private) {
        return fail(format!("{}: {e}", path.display()));
    }
    let edited = edit_config(dd, |doc| {
        let tables = array_of_tables(doc, "dkim")?;
        let taken = tables.iter().any(|t| {
            t.get("domain").and_then(|v| v.as_str()) == Some(domain.as_str())
                && t.get("selector").and_then(|v| v.as_str()) == Some(selector.as_str())
        });
        if taken {
            return Err(EditError::Io(format!(
                "mailroom.toml already has a [[dkim]] table for {domain} selector {selector}"
            )));
        }
        // A newer key for a domain replaces the older one in signing: drop the old
        // table (its key file stays, and its DNS record should too until mail signed
        // with it has been delivered).
        tables.retain(|t| t.get("domain").and_then(|v| v.as_str()) != Some(domain.as_str()));
        let mut t = Table::new();
        t["domain"] = value(domain.as_str());
        t["selector"] = value(selector.as_str());
        t["key"] = value(name.as_str());
        tables.push(t);
        Ok(())
    });
    if let Err(e) = edited {
        // The key is of no use without its table.
        let _ = std::fs::remove_file(&path);
        return e.exit();
    }
    println!("Key written to {}.", path.display());
    println!("Publish this DNS TXT record, then mail from {domain} leaves signed:");
    println!();
    println!(
        "{selector}._domainkey.{domain}. IN TXT {}",
        quoted(&key.txt_record())
    );
    ExitCode::SUCCESS
}

/// A TXT record value as zone-file strings of at most 255 characters each.
fn quoted(record: &str) -> String {
    let parts: Vec<String> = record
        .as_bytes()
        .chunks(250)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    if parts.len() == 1 {
        parts.concat()
    } else {
        format!("( {} )", parts.join(" "))
    }
}

fn new_key(alg: KeyAlgorithm) -> Result<String, String> {
    match alg {
        KeyAlgorithm::Ed25519 => {
            let rng = ring::rand::SystemRandom::new();
            let der = key::generate_ed25519(&rng).map_err(|e| e.to_string())?;
            Ok(key::pem_encode("PRIVATE KEY", &der))
        }
        KeyAlgorithm::Rsa => {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            let mut rng = rsa::rand_core::OsRng;
            let k = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
            let pem = k.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?;
            Ok(pem.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_records_are_split_into_strings() {
        let r = "v=DKIM1; k=rsa; p=".to_string() + &"A".repeat(400);
        let q = quoted(&r);
        assert!(q.starts_with("( \"v=DKIM1"), "{q}");
        assert_eq!(q.matches('"').count(), 4);
        assert_eq!(quoted("short"), "\"short\"");
        assert!(valid_selector("s2026-12"));
        assert!(!valid_selector("a.b") && !valid_selector("") && !valid_selector("-x"));
    }
}
