//! "Attempt to work with a single email address" (§6.3.2.3): one ISP address shared by
//! the office, with the person's name in the text around it.
//!
//! For `joe@hotmail.com` the manual recognises, in this order of preference:
//!
//! 1. a name in parentheses inside `<>`: `<joe@hotmail.com(louise)>`;
//! 2. a name in parentheses outside `<>`, or with no `<>`: `(tim) <joe@hotmail.com>`,
//!    `(louise) joe@hotmail.com`;
//! 3. a name outside `<>`, quoted or not: `<joe@hotmail.com> "tim"`,
//!    `'louise' <joe@hotmail.com>`, `tim <joe@hotmail.com>`;
//! 4. the address itself (`joe`).
//!
//! A name that is not a mailbox here is passed over for the next one, so
//! `tim <joe@hotmail.com(sarah)>` goes to tim when there is no sarah.

use super::detect::{accepts_address, is_standard};
use crate::config::InMail;
use crate::router::headers::{address_spans, fields, header_end, unfold};
use crate::router::names::check_list_name;

/// One recipient mailbox of a standard header field whose address is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The accepted address, as written.
    pub address: String,
    /// Names in the manual's order of preference (steps 1 to 3), each a plausible
    /// mailbox name; step 4 is `address` itself.
    pub names: Vec<String>,
}

/// The accepted recipients of the To, Cc, Apparently-To and Resent- fields, with the
/// names written around them.
pub fn candidates(inmail: &InMail, header: &[u8]) -> Vec<Candidate> {
    let end = header_end(header);
    let mut out = Vec::new();
    for f in fields(header, end) {
        if !is_standard(f.name(header), inmail.detect.ignore_resent) {
            continue;
        }
        let value = unfold(&String::from_utf8_lossy(f.value(header)));
        for segment in split_mailboxes(&value) {
            if let Some(c) = candidate(inmail, segment) {
                if out.len() < super::detect::MAX_DETECTED {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Split an address list at commas that are not inside quotes, comments or `<>`.
fn split_mailboxes(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth_paren, mut in_angle, mut quote) = (0usize, false, None::<char>);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') => quote = Some('"'),
            (None, '(') => depth_paren += 1,
            (None, ')') => depth_paren = depth_paren.saturating_sub(1),
            (None, '<') => in_angle = true,
            (None, '>') => in_angle = false,
            (None, ',') if depth_paren == 0 && !in_angle => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The contents of every `( … )` in `s` (not nested), and `s` without them.
fn comments(s: &str) -> (Vec<String>, String) {
    let mut found = Vec::new();
    let mut rest = String::new();
    let mut current: Option<String> = None;
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                if depth == 1 {
                    current = Some(String::new());
                    continue;
                }
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    if let Some(t) = current.take() {
                        found.push(t);
                    }
                    continue;
                }
            }
            _ => {}
        }
        match current.as_mut() {
            Some(t) => t.push(c),
            None => rest.push(c),
        }
    }
    (found, rest)
}

/// A name as the manual writes it: trimmed, quotes (single or double) removed; only
/// something that can be a user or list name.
fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(t)
        .trim();
    check_list_name(t).ok().map(|()| t.to_string())
}

fn candidate(inmail: &InMail, segment: &str) -> Option<Candidate> {
    let (inside, outside) = match (segment.find('<'), segment.rfind('>')) {
        (Some(a), Some(b)) if a < b => (
            Some(&segment[a + 1..b]),
            format!("{} {}", &segment[..a], &segment[b + 1..]),
        ),
        _ => (None, segment.to_string()),
    };
    let mut names = Vec::new();
    let address = match inside {
        Some(inner) => {
            let (in_comments, bare) = comments(inner);
            names.extend(in_comments.iter().filter_map(|c| clean(c)));
            first_address(&bare)?
        }
        None => {
            let (_, bare) = comments(segment);
            first_address(&bare)?
        }
    };
    if !accepts_address(inmail, &address) {
        return None;
    }
    let (out_comments, mut text) = comments(&outside);
    names.extend(out_comments.iter().filter_map(|c| clean(c)));
    if inside.is_none() {
        text = text.replacen(&address, " ", 1);
    }
    if let Some(n) = clean(&text) {
        names.push(n);
    }
    Some(Candidate { address, names })
}

fn first_address(s: &str) -> Option<String> {
    address_spans(s.as_bytes())
        .first()
        .map(|&(a, b)| s[a..b].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_brackets() {
        assert_eq!(
            split_mailboxes(r#""a, b" <x@y>, (c, d) e@f, <g@h(i,j)>"#),
            vec![r#""a, b" <x@y>"#, "(c, d) e@f", "<g@h(i,j)>"]
        );
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean(" 'louise' ").as_deref(), Some("louise"));
        assert_eq!(clean("\"tim\"").as_deref(), Some("tim"));
        assert_eq!(clean("Tim Smith"), None);
        assert_eq!(clean(""), None);
    }
}
