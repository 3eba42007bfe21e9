//! Checks for `[[dkim]]` and `[mailauth]` (issue 19).

use super::{check_domain_name, Errors, Index, Key};
use crate::config::{parse_net, Config};

pub(super) fn check(e: &mut Errors<'_>, cfg: &Config) {
    for (i, d) in cfg.dkim.iter().enumerate() {
        let at = |k: &'static str| [Key("dkim"), Index(i), Key(k)];
        if let Err(why) = check_domain_name(&d.domain) {
            e.at(&at("domain"), format!("[[dkim]] domain {why}"));
        }
        let label = !d.selector.is_empty()
            && d.selector.len() <= 63
            && d.selector
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !label {
            e.at(
                &at("selector"),
                format!(
                    "[[dkim]] selector {:?} must be one DNS label (letters, digits, '-')",
                    d.selector
                ),
            );
        }
        if d.key.trim().is_empty() {
            e.at(&at("key"), "[[dkim]] key is empty: name the PEM file");
        }
        let twice = cfg.dkim[..i]
            .iter()
            .any(|o| o.domain.eq_ignore_ascii_case(&d.domain));
        if twice {
            e.at(
                &at("domain"),
                format!(
                    "[[dkim]] domain {} is listed twice; keep one key per domain",
                    d.domain
                ),
            );
        }
    }
    for (i, s) in cfg.mailauth.skip.iter().enumerate() {
        if parse_net(s).is_none() {
            e.at(
                &[Key("mailauth"), Key("skip"), Index(i)],
                format!("[mailauth] skip entry {s:?} is not an address or address/prefix"),
            );
        }
    }
}
