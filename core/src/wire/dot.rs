//! Dot-stuffed bodies (RFC 1939 §3, RFC 5321 §4.5.2): sending a stored message (POP3
//! RETR and TOP, SMTP client DATA) with line ends made CRLF, byte-stuffing and the end
//! marker, over a message that arrives in chunks of any size; and reading a
//! dot-terminated multi-line response back ([`Unstuffer`]).
//!
//! Maildir files written by this server already have CRLF line ends; files written by
//! other programs often have bare LF. A bare LF goes out as CRLF, and the sizes in
//! LIST and STAT come from [`SizeCounter`], which counts exactly what [`Stuffer`]
//! sends (before stuffing), so the two always agree. A message whose last line has no
//! line end gets one.

use memchr::memchr;

/// Streams one stored message to the peer, dot-stuffed and ended with `.`.
#[derive(Debug, Clone)]
pub struct Stuffer {
    line_start: bool,
    /// Bytes of the current line so far (before its LF).
    line_len: u64,
    prev_cr: bool,
    /// TOP: body lines still to send after the header; `None` = the whole message.
    top: Option<Top>,
    done: bool,
}

#[derive(Debug, Clone, Copy)]
struct Top {
    in_body: bool,
    lines_left: u64,
}

impl Stuffer {
    /// The whole message (RETR).
    pub fn full() -> Self {
        Stuffer {
            line_start: true,
            line_len: 0,
            prev_cr: false,
            top: None,
            done: false,
        }
    }

    /// The header, the blank line and `lines` lines of the body (TOP).
    pub fn top(lines: u64) -> Self {
        Stuffer {
            top: Some(Top {
                in_body: false,
                lines_left: lines,
            }),
            ..Self::full()
        }
    }

    /// Whether everything TOP asked for has been sent (further input is ignored).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Send `data`, the next part of the message. Returns whether TOP's limit was
    /// reached (the rest need not be read).
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> bool {
        while !data.is_empty() && !self.done {
            if self.line_start {
                if data[0] == b'.' {
                    out.push(b'.');
                }
                self.line_start = false;
            }
            match memchr(b'\n', data) {
                None => {
                    out.extend_from_slice(data);
                    self.line_len += data.len() as u64;
                    self.prev_cr = data.last() == Some(&b'\r');
                    return false;
                }
                Some(i) => {
                    let seg = &data[..i];
                    out.extend_from_slice(seg);
                    let cr = if i > 0 {
                        seg[i - 1] == b'\r'
                    } else {
                        self.prev_cr
                    };
                    let len = self.line_len + i as u64;
                    if !cr {
                        out.push(b'\r');
                    }
                    out.push(b'\n');
                    let empty = len == 0 || (len == 1 && cr);
                    self.end_line(empty);
                    data = &data[i + 1..];
                }
            }
        }
        self.done
    }

    fn end_line(&mut self, empty: bool) {
        self.line_start = true;
        self.line_len = 0;
        self.prev_cr = false;
        if let Some(top) = self.top.as_mut() {
            if !top.in_body {
                if empty {
                    top.in_body = true;
                    self.done = top.lines_left == 0;
                }
            } else {
                top.lines_left = top.lines_left.saturating_sub(1);
                self.done = top.lines_left == 0;
            }
        }
    }

    /// End of the message: finish an unterminated last line, then the `.` line.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.line_start && !self.done {
            if !self.prev_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
        out.extend_from_slice(b".\r\n");
        self.done = true;
    }
}

/// Counts the octets [`Stuffer::full`] sends for a message, stuffing and the end
/// marker left out: the RFC 1939 "exact size" for LIST and STAT.
#[derive(Debug, Clone, Default)]
pub struct SizeCounter {
    size: u64,
    prev_cr: bool,
    line_open: bool,
}

impl SizeCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.size += data.len() as u64;
        while let Some(i) = memchr(b'\n', data) {
            let cr = if i > 0 {
                data[i - 1] == b'\r'
            } else {
                self.prev_cr
            };
            if !cr {
                self.size += 1;
            }
            self.prev_cr = false;
            self.line_open = false;
            data = &data[i + 1..];
        }
        if !data.is_empty() {
            self.line_open = true;
            self.prev_cr = data.last() == Some(&b'\r');
        }
    }

    /// The size of the message fed so far, taken as complete.
    pub fn finish(&self) -> u64 {
        match (self.line_open, self.prev_cr) {
            (false, _) => self.size,
            (true, true) => self.size + 1,
            (true, false) => self.size + 2,
        }
    }
}

/// A stored message as the protocols send it (IMAP FETCH, and RETR before
/// stuffing): bare LF made CRLF, an unterminated last line ended; exactly
/// [`SizeCounter`]'s count of octets, so RFC822.SIZE and the literal agree.
pub fn wire_form(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut rest = data;
    while let Some(i) = memchr(b'\n', rest) {
        let line = &rest[..i];
        out.extend_from_slice(line);
        if line.last() != Some(&b'\r') {
            out.push(b'\r');
        }
        out.push(b'\n');
        rest = &rest[i + 1..];
    }
    if !rest.is_empty() {
        out.extend_from_slice(rest);
        if rest.last() != Some(&b'\r') {
            out.push(b'\r');
        }
        out.push(b'\n');
    }
    out
}

/// Reads a dot-terminated multi-line POP3 response (RFC 1939 §3) on the client side:
/// removes the byte-stuffing and finds the `.` line, over input split at any byte.
/// Line ends pass through as they came. Holds no buffer of its own: memory is bounded
/// by what the caller keeps of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unstuffer {
    state: Unstuff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unstuff {
    LineStart,
    Mid,
    /// A `.` at the start of a line.
    Dot,
    /// `.` then CR at the start of a line.
    DotCr,
    Done,
}

impl Default for Unstuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Unstuffer {
    pub fn new() -> Self {
        Unstuffer {
            state: Unstuff::LineStart,
        }
    }

    /// The `.` line has been read.
    pub fn is_done(&self) -> bool {
        self.state == Unstuff::Done
    }

    /// Un-stuff `data` into `out`; returns how many bytes of `data` belong to the
    /// response (everything up to and including the `.` line; the rest is the next
    /// response).
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < data.len() {
            match self.state {
                Unstuff::Done => return i,
                Unstuff::LineStart => {
                    if data[i] == b'.' {
                        self.state = Unstuff::Dot;
                        i += 1;
                    } else {
                        self.state = Unstuff::Mid;
                    }
                }
                Unstuff::Mid => match memchr(b'\n', &data[i..]) {
                    Some(j) => {
                        out.extend_from_slice(&data[i..i + j + 1]);
                        i += j + 1;
                        self.state = Unstuff::LineStart;
                    }
                    None => {
                        out.extend_from_slice(&data[i..]);
                        i = data.len();
                    }
                },
                Unstuff::Dot => match data[i] {
                    b'\r' => {
                        self.state = Unstuff::DotCr;
                        i += 1;
                    }
                    // A bare LF end line from a sloppy server.
                    b'\n' => {
                        self.state = Unstuff::Done;
                        i += 1;
                    }
                    // The stuffed dot is dropped; the rest of the line is data.
                    _ => self.state = Unstuff::Mid,
                },
                Unstuff::DotCr => {
                    if data[i] == b'\n' {
                        self.state = Unstuff::Done;
                        i += 1;
                    } else {
                        // ".\r" followed by more: a line that began with a stuffed dot.
                        out.push(b'\r');
                        self.state = Unstuff::Mid;
                    }
                }
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(msg: &[u8], mut s: Stuffer, cut: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for part in msg.chunks(cut.max(1)) {
            if s.push(part, &mut out) {
                break;
            }
        }
        s.finish(&mut out);
        out
    }

    fn size(msg: &[u8], cut: usize) -> u64 {
        let mut c = SizeCounter::new();
        for part in msg.chunks(cut.max(1)) {
            c.push(part);
        }
        c.finish()
    }

    #[test]
    fn stuffing_and_line_ends() {
        let msg = b"A: b\r\n\r\n.x\r\n..\r\nbare\nlf\n.\nend";
        let want = b"A: b\r\n\r\n..x\r\n...\r\nbare\r\nlf\r\n..\r\nend\r\n.\r\n";
        for cut in 1..msg.len() + 1 {
            assert_eq!(send(msg, Stuffer::full(), cut), want, "cut {cut}");
            // The size is the output less the stuffed dots (3) and the end line (3).
            assert_eq!(size(msg, cut), (want.len() - 6) as u64, "cut {cut}");
        }
    }

    #[test]
    fn top_counts_body_lines() {
        let msg = b"A: 1\r\nB: 2\n\r\nl1\r\nl2\n.l3\r\nl4\r\n";
        for cut in 1..msg.len() + 1 {
            assert_eq!(
                send(msg, Stuffer::top(0), cut),
                b"A: 1\r\nB: 2\r\n\r\n.\r\n"
            );
            assert_eq!(
                send(msg, Stuffer::top(3), cut),
                b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n"
            );
            assert_eq!(
                send(msg, Stuffer::top(99), cut),
                send(msg, Stuffer::full(), cut)
            );
        }
    }

    #[test]
    fn cr_before_lf_across_chunks_and_empty_message() {
        assert_eq!(send(b"x\r\n\r\n", Stuffer::top(0), 1), b"x\r\n\r\n.\r\n");
        assert_eq!(send(b"", Stuffer::full(), 1), b".\r\n");
        assert_eq!(size(b"", 1), 0);
        assert_eq!(send(b"x\r", Stuffer::full(), 1), b"x\r\n.\r\n");
        assert_eq!(size(b"x\r", 1), 3);
        assert_eq!(size(b"a\r\nb\r\n", 2), 6);
    }

    #[test]
    fn wire_form_ends_every_line_with_crlf_and_matches_the_count() {
        assert_eq!(wire_form(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(wire_form(b""), b"");
        for msg in [&b"x\r"[..], b"a\rb\n", b"\n\n", b"a\r\n", b"\r\r\n"] {
            let mut c = SizeCounter::new();
            c.push(msg);
            assert_eq!(wire_form(msg).len() as u64, c.finish(), "{msg:?}");
        }
    }

    fn unstuff(wire: &[u8], cut: usize) -> (Vec<u8>, usize) {
        let mut u = Unstuffer::new();
        let mut out = Vec::new();
        let mut used = 0;
        for part in wire.chunks(cut.max(1)) {
            used += u.push(part, &mut out);
            if u.is_done() {
                break;
            }
        }
        (out, used)
    }

    #[test]
    fn unstuffer_inverts_the_stuffer() {
        let msg = b"A: b\r\n\r\n.x\r\n..\r\n.\r\nend\r\n";
        let wire = send(msg, Stuffer::full(), 1000);
        let mut with_next = wire.clone();
        with_next.extend_from_slice(b"+OK next\r\n");
        for cut in 1..with_next.len() + 1 {
            let (out, used) = unstuff(&with_next, cut);
            assert_eq!(out, msg, "cut {cut}");
            assert_eq!(used, wire.len(), "cut {cut}");
        }
    }
}
