//! Folder names: modified UTF-7 (RFC 3501 §5.1.3) and the Maildir++ directory of each
//! folder (docs/STORE.md "Layout on disk").
//!
//! Clients see `/` as the hierarchy delimiter; on disk a folder `Archive/2026` is the
//! directory `.Archive.2026` beside INBOX's `new/ cur/ tmp/`. A `.` inside a name is
//! written in its modified UTF-7 form `&AC4-`, so every name has exactly one directory.

use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// A directory name is one path component.
const MAX_DIR_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the folder name is empty or has an empty level")]
    Empty,
    #[error("folder names may not hold control characters")]
    Control,
    #[error("INBOX cannot have subfolders here")]
    InboxChild,
    #[error("the folder name is too long")]
    TooLong,
    #[error("not valid modified UTF-7")]
    BadUtf7,
}

fn engine() -> Option<GeneralPurpose> {
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").ok()?;
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone);
    Some(GeneralPurpose::new(&alphabet, config))
}

fn literal(c: char, escape_dot: bool) -> bool {
    (' '..='~').contains(&c) && c != '&' && !(escape_dot && c == '.')
}

fn encode(s: &str, escape_dot: bool) -> String {
    let Some(engine) = engine() else {
        return s.to_string();
    };
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if !run.is_empty() {
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine.encode(bytes));
            out.push('-');
            run.clear();
        }
    };
    for c in s.chars() {
        if literal(c, escape_dot) {
            flush(&mut run, &mut out);
            out.push(c);
        } else if c == '&' {
            flush(&mut run, &mut out);
            out.push_str("&-");
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

fn decode(s: &str, dot_escaped: bool) -> Result<String, NameError> {
    let engine = engine().ok_or(NameError::BadUtf7)?;
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        let (plain, tail) = rest.split_at(i);
        if !plain.chars().all(|c| literal(c, dot_escaped)) {
            return Err(NameError::BadUtf7);
        }
        out.push_str(plain);
        let end = tail.find('-').ok_or(NameError::BadUtf7)?;
        let b64 = &tail[1..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let bytes = engine.decode(b64).map_err(|_| NameError::BadUtf7)?;
            if bytes.len() % 2 != 0 {
                return Err(NameError::BadUtf7);
            }
            let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                let c = c.map_err(|_| NameError::BadUtf7)?;
                // Only what could not be written plainly may be encoded: one spelling.
                if literal(c, dot_escaped) || c == '&' {
                    return Err(NameError::BadUtf7);
                }
                out.push(c);
            }
        }
        rest = &tail[end + 1..];
        // Two encoded runs back to back would be one run.
        if rest.starts_with('&') && !rest.starts_with("&-") && !b64.is_empty() {
            return Err(NameError::BadUtf7);
        }
    }
    if !rest.chars().all(|c| literal(c, dot_escaped)) {
        return Err(NameError::BadUtf7);
    }
    out.push_str(rest);
    Ok(out)
}

/// A mailbox name as IMAP sends it.
pub fn encode_mutf7(name: &str) -> String {
    encode(name, false)
}

/// A mailbox name from IMAP: strict, so each name has one spelling.
pub fn decode_mutf7(wire: &str) -> Result<String, NameError> {
    decode(wire, false)
}

/// The directory (relative to INBOX's Maildir) holding `folder`, a client's name with
/// `/` between levels; `""` for INBOX itself, which is the Maildir's root.
pub fn dir_for_folder(folder: &str) -> Result<String, NameError> {
    if folder.eq_ignore_ascii_case("INBOX") {
        return Ok(String::new());
    }
    let mut dir = String::with_capacity(folder.len() + 1);
    for (i, level) in folder.split('/').enumerate() {
        if level.is_empty() {
            return Err(NameError::Empty);
        }
        if level.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        if i == 0 && level.eq_ignore_ascii_case("INBOX") {
            return Err(NameError::InboxChild);
        }
        dir.push('.');
        dir.push_str(&encode(level, true));
    }
    if dir.len() > MAX_DIR_NAME {
        return Err(NameError::TooLong);
    }
    Ok(dir)
}

/// The folder a Maildir++ directory holds, or `None` for a directory that is not one
/// (`new`, `cur`, `tmp`, or a name not written the one way [`dir_for_folder`] writes).
pub fn folder_for_dir(dir: &str) -> Option<String> {
    let levels = dir.strip_prefix('.')?;
    let folder = levels
        .split('.')
        .map(|l| decode(l, true).ok())
        .collect::<Option<Vec<_>>>()?
        .join("/");
    (dir_for_folder(&folder).ok()? == dir).then_some(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example_and_ampersand() {
        // RFC 3501 §5.1.3's example.
        assert_eq!(
            encode_mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Ok("~peter/mail/台北/日本語")
        );
        assert_eq!(encode_mutf7("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode_mutf7("Tom &- Jerry").as_deref(), Ok("Tom & Jerry"));
        assert_eq!(encode_mutf7("Entwürfe"), "Entw&APw-rfe");
    }

    #[test]
    fn decoding_is_strict() {
        for bad in [
            "&",
            "&U,BTFw",
            "&AGE-",
            "&U,BTFw-&ZeVnLIqe-",
            "a\u{7f}",
            "&2D0-",
            "&*-",
        ] {
            assert!(decode_mutf7(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn folders_and_directories() {
        assert_eq!(dir_for_folder("inbox").as_deref(), Ok(""));
        assert_eq!(dir_for_folder("Sent").as_deref(), Ok(".Sent"));
        assert_eq!(
            dir_for_folder("Archive/2026").as_deref(),
            Ok(".Archive.2026")
        );
        assert_eq!(dir_for_folder("Mr. Smith").as_deref(), Ok(".Mr&AC4- Smith"));
        assert_eq!(dir_for_folder("Entwürfe").as_deref(), Ok(".Entw&APw-rfe"));
        assert_eq!(dir_for_folder("a//b"), Err(NameError::Empty));
        assert_eq!(dir_for_folder("/a"), Err(NameError::Empty));
        assert_eq!(dir_for_folder("INBOX/x"), Err(NameError::InboxChild));
        assert_eq!(dir_for_folder("a\nb"), Err(NameError::Control));
        assert_eq!(dir_for_folder(&"x".repeat(300)), Err(NameError::TooLong));
        for f in [
            "Sent",
            "Archive/2026",
            "Mr. Smith",
            "Entwürfe/台北",
            "Tom & Jerry",
        ] {
            let dir = dir_for_folder(f).unwrap();
            assert_eq!(folder_for_dir(&dir).as_deref(), Some(f), "{dir}");
        }
        for not_a_folder in ["new", "cur", "tmp", ".", "..", ".a..b", ".A&AGE-"] {
            assert_eq!(folder_for_dir(not_a_folder), None, "{not_a_folder}");
        }
    }
}
