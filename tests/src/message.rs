//! Messages the tests submit, and the check that a stored file is exactly the submitted
//! message with one `Received:` field in front.

/// A message carrying `token` in its Subject and Message-Id, with the lines SMTP
/// transparency gets wrong: leading dots, a lone dot, a line of exactly 998 octets
/// (the RFC 5322 maximum), and an empty line inside the body. CRLF line ends.
pub fn tricky(token: &str) -> Vec<u8> {
    let mut m = header(token);
    m.extend_from_slice(b".a line that starts with a dot\r\n");
    m.extend_from_slice(b"..two dots\r\n");
    m.extend_from_slice(b".\r\n");
    m.extend_from_slice(b"\r\n");
    let long: Vec<u8> = (0..998).map(|i| b'A' + (i % 26) as u8).collect();
    m.extend_from_slice(&long);
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice(b"last line, after a 998-octet one\r\n");
    m
}

/// A plain message of about `size` octets whose body is derived from `token`, so that
/// [`plain`] with the same arguments rebuilds it exactly for comparison.
pub fn plain(token: &str, size: usize) -> Vec<u8> {
    let mut m = header(token);
    let mut i = 0usize;
    while m.len() < size {
        m.extend_from_slice(format!("{token} line {i:06} ").as_bytes());
        m.extend(std::iter::repeat_n(b'x', 40));
        m.extend_from_slice(b"\r\n");
        i += 1;
    }
    m
}

fn header(token: &str) -> Vec<u8> {
    mailroom_benches::message::header(
        &format!("e2e {token}"),
        &format!("{token}@client.example.com"),
    )
}

/// The token of a message built here, read back from its Message-Id.
pub fn token_of(stored: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stored);
    let start = text.find("\r\nMessage-Id: <")? + "\r\nMessage-Id: <".len();
    let end = text[start..].find("@client.example.com>")?;
    Some(text[start..start + end].to_string())
}

/// Why `stored` is not `submitted` preceded by exactly one `Received:` field (possibly
/// folded over several lines), or `None` if it is.
pub fn received_plus(stored: &[u8], submitted: &[u8]) -> Option<String> {
    if !stored.ends_with(submitted) {
        return Some(format!(
            "the stored file ({} octets) does not end with the submitted message ({} octets)",
            stored.len(),
            submitted.len()
        ));
    }
    let prefix = &stored[..stored.len() - submitted.len()];
    if !prefix.starts_with(b"Received: ") {
        return Some(format!(
            "the added part does not start with `Received: `: {:?}",
            String::from_utf8_lossy(prefix)
        ));
    }
    if !prefix.ends_with(b"\r\n") {
        return Some("the Received: field does not end with CRLF".into());
    }
    let bare = prefix.iter().enumerate().any(|(i, &b)| {
        (b == b'\n' && (i == 0 || prefix[i - 1] != b'\r'))
            || (b == b'\r' && prefix.get(i + 1) != Some(&b'\n'))
    });
    if bare {
        return Some("the Received: field has a bare CR or LF".into());
    }
    // Every line after the first must be a continuation (folded) line.
    let lines = prefix[..prefix.len() - 2].split(|&b| b == b'\n');
    for line in lines.skip(1) {
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            return Some(format!(
                "more than one field was added: {:?}",
                String::from_utf8_lossy(prefix)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_plus_accepts_one_folded_field_only() {
        let m = tricky("t1");
        let mut ok = b"Received: from a\r\n\tby b; Thu, 1 Jan 2026\r\n".to_vec();
        ok.extend_from_slice(&m);
        assert_eq!(received_plus(&ok, &m), None);

        let mut two = b"Received: from a\r\nX-Other: 1\r\n".to_vec();
        two.extend_from_slice(&m);
        assert!(received_plus(&two, &m).is_some());

        let mut none = b"X-Other: 1\r\n".to_vec();
        none.extend_from_slice(&m);
        assert!(received_plus(&none, &m).is_some());

        let mut changed = b"Received: x\r\n".to_vec();
        changed.extend_from_slice(&m[..m.len() - 3]);
        assert!(received_plus(&changed, &m).is_some());
    }

    #[test]
    fn tokens_and_sizes() {
        let m = plain("w1m2", 3000);
        assert!(m.len() >= 3000 && m.len() < 3100);
        assert_eq!(token_of(&m).as_deref(), Some("w1m2"));
        assert_eq!(plain("w1m2", 3000), m);
        let t = tricky("tok");
        assert!(t.split(|&b| b == b'\n').any(|l| l.len() == 999)); // 998 + CR
    }
}
