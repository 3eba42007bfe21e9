//! LIST/LSUB name patterns (RFC 3501 §6.3.8): `*` matches anything, `%` anything but
//! the hierarchy separator `/`. For the runtime, which lists the folders.

/// Does folder `name` match `pattern` under `reference`? Names are decoded (not
/// modified UTF-7). `INBOX` matches case-insensitively, other names exactly.
pub fn list_matches(reference: &str, pattern: &str, name: &str) -> bool {
    // RFC 3501 §6.3.8: the reference is prefixed to the pattern; a pattern starting
    // with the separator ignores a reference that ends with one (Dovecot's reading).
    let full = if pattern.starts_with('/') && reference.ends_with('/') {
        format!("{}{}", &reference[..reference.len() - 1], pattern)
    } else {
        format!("{reference}{pattern}")
    };
    let name_is_inbox = name.eq_ignore_ascii_case("INBOX")
        || name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("INBOX/"));
    if name_is_inbox {
        // Compare with INBOX spelled as the pattern spells it.
        let canon = format!("INBOX{}", &name[5..]);
        let upper_pattern = match full.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("INBOX") => format!("INBOX{}", &full[5..]),
            _ => full.clone(),
        };
        return glob(upper_pattern.as_bytes(), canon.as_bytes());
    }
    glob(full.as_bytes(), name.as_bytes())
}

/// Iterative wildcard match with backtracking to the last `*` or `%`; `%` may not
/// cross `/`. Linear memory, O(n·m) time at worst; patterns are bounded by the line.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // The last star and where its match started.
    let mut star: Option<(usize, usize, bool)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si, true));
                pi += 1;
            }
            Some(b'%') => {
                star = Some((pi, si, false));
                pi += 1;
            }
            Some(&c) if c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                // Let the last wildcard take one more byte (`%` never takes `/`).
                Some((sp, ss, any)) if any || s[ss] != b'/' => {
                    star = Some((sp, ss + 1, any));
                    pi = sp + 1;
                    si = ss + 1;
                }
                _ => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*' || c == b'%')
}

#[cfg(test)]
mod tests {
    use super::list_matches as m;

    #[test]
    fn rfc_3501_wildcards() {
        assert!(m("", "*", "INBOX"));
        assert!(m("", "*", "Archive/2024/Jan"));
        assert!(m("", "%", "Sent"));
        assert!(!m("", "%", "Archive/2024"));
        assert!(m("", "Archive/%", "Archive/2024"));
        assert!(!m("", "Archive/%", "Archive/2024/Jan"));
        assert!(m("Archive/", "%", "Archive/2024"));
        assert!(m("", "inbox", "INBOX"));
        assert!(m("", "INBOX*", "INBOX/Sub"));
        assert!(!m("", "sent", "Sent"));
        assert!(m("", "S%t", "Sent"));
        assert!(m("", "*/Jan", "Archive/2024/Jan"));
        assert!(!m("", "%/Jan", "Archive/2024/Jan"));
        assert!(m("", "Entwürfe", "Entwürfe"));
        assert!(!m("", "", "INBOX"));
    }
}
