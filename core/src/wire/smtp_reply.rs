//! Reading SMTP-shaped replies (RFC 5321 §4.2) on the client side: lines framed with
//! a bound, multi-line replies joined, every part of them checked. The SMTP client and
//! the ETRN client read their servers with it.
//!
//! A server is as untrusted as a client: lines and replies are bounded, a reply whose
//! lines disagree about the code or whose code is not three digits is a protocol
//! error, and text is kept only as printable characters.

use super::line::{LineReader, LineStep};

/// Longest reply line accepted, CRLF included. RFC 5321 allows 512; real servers
/// sometimes send longer texts.
pub const MAX_REPLY_LINE: usize = 2048;
/// Most lines in one reply (an EHLO reply lists one extension per line).
pub const MAX_REPLY_LINES: usize = 100;

/// One whole reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: vec![text.to_string()],
        }
    }

    /// 2 = done, 3 = go on, 4 = try later, 5 = permanent.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    pub fn is_positive(&self) -> bool {
        matches!(self.class(), 2 | 3)
    }

    pub fn is_transient(&self) -> bool {
        self.class() == 4
    }

    /// The RFC 3463 enhanced status code at the start of the first line, if the server
    /// sent one whose class agrees with the reply code.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.lines.first()?;
        let token = first.split(' ').next()?;
        let mut parts = token.split('.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        let ok = parts.next().is_none()
            && matches!(class, "2" | "4" | "5")
            && u16::from(class.as_bytes()[0] - b'0') == self.class()
            && digits(subject, 3)
            && digits(detail, 3);
        ok.then_some(token)
    }

    /// The enhanced status code, or the generic one for the reply's class.
    pub fn status(&self) -> String {
        match self.enhanced() {
            Some(s) => s.to_string(),
            None => format!("{}.0.0", self.class()),
        }
    }

    /// `code text` on one line (for logs and `Diagnostic-Code`).
    pub fn one_line(&self) -> String {
        let mut s = self.code.to_string();
        for l in &self.lines {
            if !l.is_empty() {
                s.push(' ');
                s.push_str(l);
            }
        }
        s
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.one_line())
    }
}

/// Why the server's output is not a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply line longer than {MAX_REPLY_LINE} octets")]
    LineTooLong,
    #[error("reply of more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    #[error("malformed reply line")]
    Malformed,
    #[error("reply lines with different codes")]
    MixedCodes,
}

/// Frames replies out of a byte stream split at any point.
#[derive(Debug, Default)]
pub struct ReplyReader {
    lines: LineReader,
    code: Option<u16>,
    texts: Vec<String>,
}

impl ReplyReader {
    /// Take bytes from `input` until a reply is complete or the input runs out.
    /// Returns the bytes consumed and the reply, if one was completed.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Result<Reply, ReplyError>>) {
        let mut used = 0;
        while used < input.len() {
            let (n, step) = self.lines.feed(&input[used..], MAX_REPLY_LINE);
            used += n;
            match step {
                LineStep::Partial => {}
                LineStep::TooLong => return (used, Some(Err(self.fail(ReplyError::LineTooLong)))),
                LineStep::Line => {
                    let line = self.lines.take_line();
                    let result = self.line(&line);
                    self.lines.restore(line);
                    match result {
                        Ok(None) => {}
                        Ok(Some(reply)) => return (used, Some(Ok(reply))),
                        Err(e) => return (used, Some(Err(self.fail(e)))),
                    }
                }
            }
        }
        (used, None)
    }

    fn fail(&mut self, e: ReplyError) -> ReplyError {
        self.code = None;
        self.texts.clear();
        e
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) || line[0] == b'0' {
            return Err(ReplyError::Malformed);
        }
        let code = u16::from(line[0] - b'0') * 100
            + u16::from(line[1] - b'0') * 10
            + u16::from(line[2] - b'0');
        if !(200..600).contains(&code) {
            return Err(ReplyError::Malformed);
        }
        let (last, text) = match line.get(3) {
            None => (true, &line[3..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(ReplyError::Malformed),
        };
        if self.code.is_some_and(|c| c != code) {
            return Err(ReplyError::MixedCodes);
        }
        self.code = Some(code);
        if self.texts.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        self.texts.push(printable(text));
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(Reply {
            code,
            lines: std::mem::take(&mut self.texts),
        }))
    }
}

/// The text with control characters replaced and invalid UTF-8 made visible, so it
/// is safe in logs, DSNs and headers.
fn printable(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut r = ReplyReader::default();
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let (n, reply) = r.feed(rest);
            rest = &rest[n..];
            out.extend(reply);
        }
        out
    }

    #[test]
    fn single_and_multi_line_replies() {
        let got = all(
            b"220 mx.example ESMTP\r\n250-mx.example\r\n250-SIZE 1000\r\n250 PIPELINING\r\n354\r\n",
        );
        assert_eq!(got.len(), 3);
        let ehlo = got[1].as_ref().unwrap();
        assert_eq!(ehlo.code, 250);
        assert_eq!(ehlo.lines, ["mx.example", "SIZE 1000", "PIPELINING"]);
        assert_eq!(got[2].as_ref().unwrap().lines, [""]);
    }

    #[test]
    fn split_anywhere_gives_the_same_replies() {
        let text = b"250-a\r\n250 b\r\n550 5.1.1 no such user\r\n";
        let whole = all(text);
        for cut in 0..text.len() {
            let mut r = ReplyReader::default();
            let mut got = Vec::new();
            for part in [&text[..cut], &text[cut..]] {
                let mut rest = part;
                while !rest.is_empty() {
                    let (n, reply) = r.feed(rest);
                    rest = &rest[n..];
                    got.extend(reply);
                }
            }
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(all(b"25 x\r\n"), [Err(ReplyError::Malformed)]);
        assert_eq!(all(b"250x\r\n"), [Err(ReplyError::Malformed)]);
        assert_eq!(all(b"099 x\r\n"), [Err(ReplyError::Malformed)]);
        assert_eq!(all(b"250-a\r\n251 b\r\n"), [Err(ReplyError::MixedCodes)]);
        let long = [b"250 ".as_slice(), &[b'a'; 3000], b"\r\n"].concat();
        assert_eq!(all(&long), [Err(ReplyError::LineTooLong)]);
        let many: Vec<u8> = (0..200)
            .flat_map(|_| b"250-x\r\n".iter().copied())
            .collect();
        assert_eq!(all(&many)[0], Err(ReplyError::TooManyLines));
    }

    #[test]
    fn enhanced_codes_must_match_the_class() {
        let r = Reply::new(550, "5.1.1 user unknown");
        assert_eq!(r.enhanced(), Some("5.1.1"));
        assert_eq!(Reply::new(450, "5.1.1 wrong class").enhanced(), None);
        assert_eq!(Reply::new(451, "try later").status(), "4.0.0");
        assert_eq!(Reply::new(250, "2.0.0 ok").one_line(), "250 2.0.0 ok");
        let text = all(b"550 bad\x01\xffthing\r\n");
        assert_eq!(text[0].as_ref().unwrap().lines[0], "bad \u{fffd}thing");
    }
}
