//! The two LIST-EXTENDED forms RFC 6154 clients send with SPECIAL-USE, which
//! imap-codec does not parse: `LIST (SPECIAL-USE) ref pattern` (only folders with a
//! special use) and `LIST ref pattern RETURN (SPECIAL-USE)` (attributes, which this
//! server returns anyway). The options are taken off and the plain LIST left is
//! decoded by imap-codec as usual.

/// Options this server can honour.
const SELECT_OPTIONS: [&str; 1] = ["SPECIAL-USE"];
const RETURN_OPTIONS: [&str; 2] = ["SPECIAL-USE", "CHILDREN"];

/// `tag LIST …` with its options removed, and whether only special-use folders are
/// asked for; `None` if `line` is not such a LIST (or names other options).
pub(super) fn strip(line: &[u8]) -> Option<(Vec<u8>, bool)> {
    let text = std::str::from_utf8(line).ok()?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))?;
    let (tag, rest) = text.split_once(' ')?;
    let (cmd, mut args) = rest.split_once(' ')?;
    if !cmd.eq_ignore_ascii_case("LIST") {
        return None;
    }
    let mut special_only = false;
    if let Some(inner) = args.strip_prefix('(') {
        let (opts, after) = inner.split_once(')')?;
        if !options_ok(opts, &SELECT_OPTIONS) {
            return None;
        }
        special_only = !opts.trim().is_empty();
        args = after.strip_prefix(' ')?;
    }
    let upper = args.to_ascii_uppercase();
    if let Some(at) = upper.rfind(" RETURN (") {
        let opts = args[at + " RETURN (".len()..].strip_suffix(')')?;
        if !options_ok(opts, &RETURN_OPTIONS) {
            return None;
        }
        args = &args[..at];
    }
    Some((format!("{tag} LIST {args}\r\n").into_bytes(), special_only))
}

fn options_ok(opts: &str, known: &[&str]) -> bool {
    opts.split_whitespace()
        .all(|o| known.iter().any(|k| k.eq_ignore_ascii_case(o)))
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn forms() {
        assert_eq!(
            strip(b"a LIST (SPECIAL-USE) \"\" \"*\"\r\n"),
            Some((b"a LIST \"\" \"*\"\r\n".to_vec(), true))
        );
        assert_eq!(
            strip(b"b list \"\" * return (special-use children)\r\n"),
            Some((b"b LIST \"\" *\r\n".to_vec(), false))
        );
        assert_eq!(strip(b"c LIST (REMOTE) \"\" *\r\n"), None);
        assert_eq!(strip(b"d LIST \"\" * RETURN (STATUS (MESSAGES))\r\n"), None);
        assert_eq!(strip(b"e SELECT INBOX\r\n"), None);
    }
}
