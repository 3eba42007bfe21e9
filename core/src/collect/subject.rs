//! "Search subject line for a marker" (§6.3.2.4): `<prefix>*<suffix>`, where the `*`
//! is the recipient's name: `{*}` finds `fred` in `Subject: Invoice {fred}`, `(for*)`
//! finds it in `Subject: Invoice (for fred)`.

use crate::router::headers::{fields, header_end, unfold};
use crate::router::names::check_list_name;

/// Most names taken from one subject line.
const MAX_NAMES: usize = 20;

/// The subject line, unfolded; `None` without one.
pub fn subject(header: &[u8]) -> Option<String> {
    let end = header_end(header);
    fields(header, end)
        .into_iter()
        .find(|f| f.is(header, "Subject"))
        .map(|f| unfold(&String::from_utf8_lossy(f.value(header))))
}

/// The names the marker encloses in `subject`, in order, each once. Prefix and suffix
/// are compared ignoring ASCII case; a name is trimmed and must be a possible user or
/// list name. An empty prefix takes the word just before the suffix, an empty suffix
/// the word just after the prefix.
pub fn names(marker: &str, subject: &str) -> Vec<String> {
    let Some((prefix, suffix)) = marker.split_once('*') else {
        return Vec::new();
    };
    let lower = subject.to_ascii_lowercase();
    let (lp, ls) = (prefix.to_ascii_lowercase(), suffix.to_ascii_lowercase());
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while from <= lower.len() && out.len() < MAX_NAMES {
        let (raw, next) = if !lp.is_empty() {
            let Some(p) = lower[from..].find(&lp) else {
                break;
            };
            let start = from + p + lp.len();
            if ls.is_empty() {
                let rest = subject[start..].trim_start();
                let skipped = subject.len() - start - rest.len();
                let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (&rest[..word_len], start + skipped + word_len.max(1))
            } else {
                let Some(e) = lower[start..].find(&ls) else {
                    break;
                };
                (&subject[start..start + e], start + e + ls.len())
            }
        } else {
            let Some(e) = lower[from..].find(&ls) else {
                break;
            };
            let before = subject[from..from + e].trim_end();
            let word = before
                .rfind(char::is_whitespace)
                .map_or(before, |w| &before[w + 1..]);
            (word, from + e + ls.len())
        };
        let name = raw.trim();
        if check_list_name(name).is_ok() && !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
        if next <= from {
            break;
        }
        from = next;
    }
    out
}
