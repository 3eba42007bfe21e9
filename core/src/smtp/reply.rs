//! SMTP reply formatting (RFC 5321 §4.2) with enhanced status codes (RFC 2034, 3463).
//!
//! Replies are written straight into the session's output buffer; nothing here
//! allocates. Text that came from outside (a store error, a host name) is cleaned so a
//! reply can never be split or forged by an embedded CR or LF.

use std::io::Write;

/// A fixed negative reply: code, enhanced status code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub status: &'static str,
    pub text: &'static str,
}

/// Longest reply text line we emit; RFC 5321 §4.5.3.1.5 allows 512 octets with the code.
const MAX_TEXT: usize = 400;

/// Write `code status text` as one reply line.
pub(crate) fn reply(out: &mut Vec<u8>, code: u16, status: &str, text: &str) {
    let _ = write!(out, "{code} {status} ");
    push_clean(out, text);
    out.extend_from_slice(b"\r\n");
}

/// Write a reply without an enhanced status code (greeting, EHLO/HELO, 334).
pub(crate) fn reply_plain(out: &mut Vec<u8>, code: u16, text: &str) {
    let _ = write!(out, "{code} ");
    push_clean(out, text);
    out.extend_from_slice(b"\r\n");
}

/// Write a multi-line reply: every line but the last uses `code-`.
pub(crate) fn reply_lines<'a>(
    out: &mut Vec<u8>,
    code: u16,
    lines: impl IntoIterator<Item = &'a str>,
) {
    let mut lines = lines.into_iter().peekable();
    while let Some(line) = lines.next() {
        let sep = if lines.peek().is_some() { '-' } else { ' ' };
        let _ = write!(out, "{code}{sep}");
        push_clean(out, line);
        out.extend_from_slice(b"\r\n");
    }
}

/// Append `text` without control characters, bounded to [`MAX_TEXT`] octets (cut at a
/// character boundary).
fn push_clean(out: &mut Vec<u8>, text: &str) {
    if text.len() <= MAX_TEXT && !text.bytes().any(|b| b < 0x20 || b == 0x7f) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let mut room = MAX_TEXT;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let n = c.len_utf8();
        if n > room {
            break;
        }
        room -= n;
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi() {
        let mut out = Vec::new();
        reply(&mut out, 250, "2.0.0", "OK");
        reply_plain(&mut out, 220, "host ESMTP");
        reply_lines(&mut out, 250, ["a", "b", "c"]);
        assert_eq!(
            out,
            b"250 2.0.0 OK\r\n220 host ESMTP\r\n250-a\r\n250-b\r\n250 c\r\n"
        );
    }

    #[test]
    fn text_is_cleaned_and_bounded() {
        let mut out = Vec::new();
        reply(&mut out, 451, "4.3.0", "disk\r\n250 forged");
        assert_eq!(out, b"451 4.3.0 disk  250 forged\r\n");
        out.clear();
        reply(&mut out, 451, "4.3.0", &"é".repeat(1000));
        assert!(out.len() <= 10 + MAX_TEXT + 2);
        assert!(std::str::from_utf8(&out).is_ok());
    }
}
