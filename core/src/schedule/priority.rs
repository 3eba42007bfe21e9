//! §16.1.1 priority messages: a header field containing a configured value marks a
//! message urgent, which can trigger a connection.

/// Whether the header section of `message` has a field named by one of `rules`
/// (`"Field: value"`) whose value contains the rule's value (case-insensitive, as
/// VPOP3 matches a substring: `X-Priority: 1` matches `X-Priority: Highest (1)`).
pub fn is_priority(message: &[u8], rules: &[String]) -> bool {
    if rules.is_empty() {
        return false;
    }
    let parsed: Vec<(String, String)> = rules
        .iter()
        .filter_map(|r| {
            let (f, v) = r.split_once(':')?;
            Some((f.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
        })
        .collect();
    for (name, value) in header_fields(message) {
        let name = name.to_ascii_lowercase();
        let value = value.to_ascii_lowercase();
        if parsed
            .iter()
            .any(|(f, v)| *f == name && value.contains(v.as_str()))
        {
            return true;
        }
    }
    false
}

/// Unfolded header fields up to the first empty line; bounded by the message itself.
fn header_fields(message: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for raw in message.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(text.trim());
            }
            continue;
        }
        if let Some((n, v)) = text.split_once(':') {
            out.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_match_on_named_fields() {
        let rules = vec!["X-Priority: 1".to_string(), "Importance: high".to_string()];
        assert!(is_priority(
            b"Subject: a\r\nX-Priority: Highest (1)\r\n\r\nbody",
            &rules
        ));
        assert!(is_priority(b"importance: HIGH\r\n\r\n", &rules));
        assert!(!is_priority(
            b"X-Priority: 3\r\n\r\nX-Priority: 1\r\n",
            &rules
        ));
        assert!(!is_priority(b"Subject: X-Priority: 1\r\n\r\n", &rules));
        assert!(is_priority(b"X-Priority:\r\n 1 (Highest)\r\n\r\n", &rules));
        assert!(!is_priority(b"X-Priority: 1\r\n\r\n", &[]));
    }
}
