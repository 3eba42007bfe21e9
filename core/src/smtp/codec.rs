//! Message content for the SMTP server, sent with DATA (dot-terminated) or BDAT
//! (length-delimited, RFC 3030). Command lines are framed by [`crate::wire`].
//!
//! Nothing here knows about commands or replies; the session feeds bytes in and asks
//! what came out. The reader accepts input split at any byte and keeps its state
//! between calls, so the result never depends on how the peer's writes were cut.
//!
//! This is not [`crate::wire::dot::Unstuffer`]: that one reads a server's listing and
//! takes a bare LF as a line end, while a client's message must not (the smuggling
//! defence below), and BDAT, the size bound and the bare-newline policy are SMTP's.
//!
//! # Message content rules
//!
//! * DATA ends only at CRLF `.` CRLF. A "line" is what lies between two CRLFs; a bare
//!   CR or LF never starts a line, so neither `\n.\n` nor `\r\n.\n` can end the data
//!   (the SMTP smuggling defence) and a dot after a bare LF is content, not stuffing.
//! * A leading dot on a real line is removed unless the line is exactly `.` (RFC 5321
//!   §4.5.2), so `..x` is stored as `.x`.
//! * A CR or LF that is not part of a CRLF pair is a *bare newline*. With
//!   [`BareNewlines::Reject`] it marks the message refused (reading still continues to
//!   the real end); with [`BareNewlines::Normalize`] it is stored as CRLF.
//! * BDAT content is taken byte for byte (no dot-unstuffing, no end marker), but the
//!   bare-newline policy, the line-length bound and the size bound apply to it too:
//!   without BINARYMIME (not offered) the content must be a CRLF-lined RFC 5322
//!   message, and the store and any later relay over DATA rely on that. A BDAT message
//!   whose last line has no CRLF gets one.
//! * Content lines longer than the data-line bound, or content larger than the size
//!   bound, mark the message refused; its bytes are then dropped instead of stored, so
//!   memory stays bounded while the reader looks for the end.

use crate::config::BareNewlines;

/// How message content is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// DATA: dot-stuffed, ended by CRLF.CRLF.
    Dot,
    /// BDAT: the session counts the bytes; no stuffing.
    Chunk,
}

/// Why message content was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    TooBig,
    LineTooLong,
    BareNewline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanState {
    /// After CRLF (or at the very start).
    LineStart,
    /// Inside a line.
    Mid,
    /// A CR inside a line; is it followed by LF?
    Cr,
    /// A `.` at the start of a line.
    Dot,
    /// `.` CR at the start of a line: LF next means the end.
    DotCr,
}

/// Streaming reader of message content. Appends the message to a caller's buffer
/// (after `base`, where the session has already written its `Received:` line).
#[derive(Debug)]
pub(crate) struct BodyScanner {
    framing: Framing,
    policy: BareNewlines,
    state: ScanState,
    /// Where the message starts in the output buffer.
    base: usize,
    /// Largest message, octets.
    limit: u64,
    /// Longest line, octets without CRLF; 0 = no bound beyond `limit`.
    max_line: usize,
    size: u64,
    line_len: usize,
    /// Something was stored since the last CRLF.
    line_open: bool,
    refused: Option<BodyError>,
}

impl BodyScanner {
    pub(crate) fn new(
        framing: Framing,
        policy: BareNewlines,
        base: usize,
        limit: u64,
        max_line: usize,
    ) -> Self {
        BodyScanner {
            framing,
            policy,
            state: ScanState::LineStart,
            base,
            limit,
            max_line,
            size: 0,
            line_len: 0,
            line_open: false,
            refused: None,
        }
    }

    /// The first reason the message was refused, if any.
    pub(crate) fn refused(&self) -> Option<BodyError> {
        self.refused
    }

    /// Read content from `input` into `out`. Returns the bytes consumed and whether the
    /// end of DATA (CRLF.CRLF) was reached; bytes after the end are not consumed.
    pub(crate) fn scan(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ScanState::Mid => {
                    let rest = &input[i..];
                    match memchr::memchr2(b'\r', b'\n', rest) {
                        None => {
                            self.content(out, rest);
                            i = input.len();
                        }
                        Some(k) => {
                            self.content(out, &rest[..k]);
                            i += k + 1;
                            if rest[k] == b'\r' {
                                self.state = ScanState::Cr;
                            } else {
                                self.bare(out);
                            }
                        }
                    }
                }
                ScanState::LineStart => {
                    if self.framing == Framing::Dot && input[i] == b'.' {
                        i += 1;
                        self.state = ScanState::Dot;
                    } else {
                        self.state = ScanState::Mid;
                    }
                }
                ScanState::Cr => {
                    if input[i] == b'\n' {
                        i += 1;
                        self.newline(out);
                        self.state = ScanState::LineStart;
                    } else {
                        self.bare(out);
                        self.state = ScanState::Mid;
                    }
                }
                ScanState::Dot => {
                    // The dot is stuffing either way: dropped unless the line ends here.
                    if input[i] == b'\r' {
                        i += 1;
                        self.state = ScanState::DotCr;
                    } else {
                        self.state = ScanState::Mid;
                    }
                }
                ScanState::DotCr => {
                    if input[i] == b'\n' {
                        self.state = ScanState::LineStart;
                        return (i + 1, true);
                    }
                    // ".\r" then something else: the dot was stuffing, the CR is bare.
                    self.bare(out);
                    self.state = ScanState::Mid;
                }
            }
        }
        (i, false)
    }

    /// End of BDAT content: a trailing CR is bare, and an unterminated last line gets
    /// its CRLF.
    pub(crate) fn finish_chunked(&mut self, out: &mut Vec<u8>) {
        if self.state == ScanState::Cr {
            self.bare(out);
        }
        if self.line_open {
            self.newline(out);
        }
        self.state = ScanState::LineStart;
    }

    fn content(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.line_len = self.line_len.saturating_add(bytes.len());
        self.line_open = true;
        if self.max_line != 0 && self.line_len > self.max_line {
            self.refuse(out, BodyError::LineTooLong);
        }
        self.store(out, bytes);
    }

    fn newline(&mut self, out: &mut Vec<u8>) {
        self.line_len = 0;
        self.line_open = false;
        self.store(out, b"\r\n");
    }

    fn bare(&mut self, out: &mut Vec<u8>) {
        match self.policy {
            BareNewlines::Reject => self.refuse(out, BodyError::BareNewline),
            BareNewlines::Normalize => self.newline(out),
        }
    }

    fn store(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size > self.limit {
            self.refuse(out, BodyError::TooBig);
        }
        if self.refused.is_none() {
            out.extend_from_slice(bytes);
        }
    }

    fn refuse(&mut self, out: &mut Vec<u8>, why: BodyError) {
        if self.refused.is_none() {
            self.refused = Some(why);
            out.truncate(self.base);
            out.shrink_to(self.base.max(1024));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(
        framing: Framing,
        policy: BareNewlines,
        input: &[u8],
        chunk: usize,
    ) -> (Vec<u8>, Option<BodyError>, usize, bool) {
        let mut s = BodyScanner::new(framing, policy, 0, 1 << 20, 1000);
        let mut out = Vec::new();
        let mut consumed = 0;
        for piece in input.chunks(chunk) {
            let (n, end) = s.scan(piece, &mut out);
            consumed += n;
            if end {
                return (out, s.refused(), consumed, true);
            }
        }
        if framing == Framing::Chunk {
            s.finish_chunked(&mut out);
        }
        (out, s.refused(), consumed, false)
    }

    #[test]
    fn dot_unstuffing_and_end() {
        for chunk in [1, 2, 3, 1000] {
            let (out, err, n, end) = scan_all(
                Framing::Dot,
                BareNewlines::Reject,
                b"a\r\n..b\r\n..\r\n\r\n.\r\nMAIL",
                chunk,
            );
            assert!(end);
            assert_eq!(err, None);
            assert_eq!(out, b"a\r\n.b\r\n.\r\n\r\n");
            assert_eq!(n, 17);
        }
    }

    #[test]
    fn empty_message() {
        let (out, err, n, end) = scan_all(Framing::Dot, BareNewlines::Reject, b".\r\n", 1);
        assert!(end && err.is_none() && out.is_empty() && n == 3);
    }

    #[test]
    fn smuggled_ends_do_not_end_data() {
        let input = b"x\r\n\n.\n\r\n.\nMAIL FROM:<a@b>\r\n.\r\n";
        for chunk in [1, 4, 1000] {
            let (_, err, n, end) = scan_all(Framing::Dot, BareNewlines::Reject, input, chunk);
            assert!(end);
            assert_eq!(n, input.len());
            assert_eq!(err, Some(BodyError::BareNewline));
            let (out, err, _, end) = scan_all(Framing::Dot, BareNewlines::Normalize, input, chunk);
            assert!(end);
            assert_eq!(err, None);
            assert_eq!(out, b"x\r\n\r\n.\r\n\r\n\r\nMAIL FROM:<a@b>\r\n");
        }
    }

    #[test]
    fn bare_cr_normalized() {
        let (out, err, _, end) = scan_all(
            Framing::Dot,
            BareNewlines::Normalize,
            b"a\rb\r\r\n.\rc\r\n.\r\n",
            1,
        );
        assert!(end && err.is_none());
        assert_eq!(out, b"a\r\nb\r\n\r\n\r\nc\r\n");
    }

    #[test]
    fn limits() {
        let mut s = BodyScanner::new(Framing::Dot, BareNewlines::Reject, 3, 10, 1000);
        let mut out = b"RCV".to_vec();
        let (_, end) = s.scan(b"0123456789\r\nmore\r\n.\r\n", &mut out);
        assert!(end);
        assert_eq!(s.refused(), Some(BodyError::TooBig));
        assert_eq!(out, b"RCV");
        // The stuffing dot does not count toward the line bound.
        let mut s = BodyScanner::new(Framing::Dot, BareNewlines::Reject, 0, 1000, 4);
        let mut out = Vec::new();
        let (_, end) = s.scan(b"1234\r\n.1234\r\n.\r\n", &mut out);
        assert!(end);
        assert_eq!(s.refused(), None);
        assert_eq!(out, b"1234\r\n1234\r\n");
        let mut s = BodyScanner::new(Framing::Dot, BareNewlines::Reject, 0, 1000, 4);
        let (_, end) = s.scan(b"12345\r\n.\r\n", &mut out);
        assert!(end);
        assert_eq!(s.refused(), Some(BodyError::LineTooLong));
    }

    #[test]
    fn chunked_content_is_exact() {
        let (out, err, n, end) = scan_all(Framing::Chunk, BareNewlines::Reject, b".a\r\n.\r\n", 2);
        assert!(!end && err.is_none() && n == 7);
        assert_eq!(out, b".a\r\n.\r\n");
        let (out, err, _, _) = scan_all(Framing::Chunk, BareNewlines::Reject, b"a\r\nb", 1);
        assert!(err.is_none());
        assert_eq!(out, b"a\r\nb\r\n");
        let (_, err, _, _) = scan_all(Framing::Chunk, BareNewlines::Reject, b"a\r", 1);
        assert_eq!(err, Some(BodyError::BareNewline));
        let (out, _, _, _) = scan_all(Framing::Chunk, BareNewlines::Normalize, b"a\nb\r", 1);
        assert_eq!(out, b"a\r\nb\r\n");
    }
}
