//! Writing replies and commands into a session's output buffer.
//!
//! Two reply shapes cover the text protocols: the numeric one (`NNN text`, SMTP, the
//! password service, and multi-line `NNN-text` for EHLO) and POP3's `+OK`/`-ERR`.
//! Reply text often carries something from outside (a store error, a host name, a
//! reason from the driver), so every writer passes it through [`clean`]: an embedded CR
//! or LF could otherwise end the reply early and forge the next one.

use std::io::Write;

/// Longest reply text we emit; RFC 5321 §4.5.3.1.5 allows 512 octets with the code.
pub const MAX_TEXT: usize = 400;

/// `code text` as one line (greeting, EHLO/HELO name, 334, the password service).
pub fn code(out: &mut Vec<u8>, code: u16, text: &str) {
    let _ = write!(out, "{code} ");
    clean(out, text);
    out.extend_from_slice(b"\r\n");
}

/// `code status text`: a reply with an enhanced status code (RFC 2034, 3463).
pub fn code_status(out: &mut Vec<u8>, code: u16, status: &str, text: &str) {
    let _ = write!(out, "{code} {status} ");
    clean(out, text);
    out.extend_from_slice(b"\r\n");
}

/// A multi-line reply: every line but the last uses `code-` (RFC 5321 §4.2.1).
pub fn code_lines<'a>(out: &mut Vec<u8>, code: u16, lines: impl IntoIterator<Item = &'a str>) {
    let mut lines = lines.into_iter().peekable();
    while let Some(line) = lines.next() {
        let sep = if lines.peek().is_some() { '-' } else { ' ' };
        let _ = write!(out, "{code}{sep}");
        clean(out, line);
        out.extend_from_slice(b"\r\n");
    }
}

/// POP3 `+OK text`.
pub fn ok(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+OK ");
    clean(out, text);
    out.extend_from_slice(b"\r\n");
}

/// POP3 `-ERR text`.
pub fn err(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR ");
    clean(out, text);
    out.extend_from_slice(b"\r\n");
}

/// A line the session composed itself (a client's command, an item of a listing),
/// sent as it is with CRLF.
pub fn line(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Append `text` without control characters, bounded to [`MAX_TEXT`] octets (cut at a
/// character boundary), so a reply stays one line.
pub fn clean(out: &mut Vec<u8>, text: &str) {
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
        code_status(&mut out, 250, "2.0.0", "OK");
        code(&mut out, 220, "host ESMTP");
        code_lines(&mut out, 250, ["a", "b", "c"]);
        ok(&mut out, "x");
        err(&mut out, "y");
        assert_eq!(
            out,
            b"250 2.0.0 OK\r\n220 host ESMTP\r\n250-a\r\n250-b\r\n250 c\r\n+OK x\r\n-ERR y\r\n"
        );
    }

    #[test]
    fn text_is_cleaned_and_bounded() {
        let mut out = Vec::new();
        code_status(&mut out, 451, "4.3.0", "disk\r\n250 forged");
        assert_eq!(out, b"451 4.3.0 disk  250 forged\r\n");
        out.clear();
        code_status(&mut out, 451, "4.3.0", &"é".repeat(1000));
        assert!(out.len() <= 10 + MAX_TEXT + 2);
        assert!(std::str::from_utf8(&out).is_ok());
        out.clear();
        err(&mut out, "a\nb");
        assert_eq!(out, b"-ERR a b\r\n");
    }
}
