//! Command and reply lines with a bound, over input split at any byte.
//!
//! Every text protocol reads lines from a peer it cannot trust, so the bound is part
//! of the reader: a line past it is reported once ([`LineStep::TooLong`]) and skipped
//! without being stored, and memory stays below the bound however long the line is.

/// What a [`LineReader::feed`] call produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStep {
    /// A whole line is ready in [`LineReader::take_line`] (terminator removed).
    Line,
    /// Every byte given was taken; the line is not complete yet.
    Partial,
    /// The line passed the bound. Its bytes are dropped up to and including its LF,
    /// which may still be to come; the reader skips them without storing them.
    TooLong,
}

/// Command-line framing with a bound. Lines end at LF; a CR just before it is removed.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    discarding: bool,
}

impl LineReader {
    /// Take bytes from `input` until a line is complete, the bound is passed, or the
    /// input runs out. `max` bounds a line including its CRLF. Returns bytes consumed.
    pub fn feed(&mut self, input: &[u8], max: usize) -> (usize, LineStep) {
        let mut pos = 0;
        if self.discarding {
            match memchr::memchr(b'\n', input) {
                None => return (input.len(), LineStep::Partial),
                Some(i) => {
                    self.discarding = false;
                    pos = i + 1;
                }
            }
        }
        let rest = &input[pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                if self.buf.len() + i + 1 > max {
                    self.buf.clear();
                    return (pos + i + 1, LineStep::TooLong);
                }
                self.buf.extend_from_slice(&rest[..i]);
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                (pos + i + 1, LineStep::Line)
            }
            None => {
                // Without its LF the line is already too long once it holds `max` bytes.
                if self.buf.len() + rest.len() >= max {
                    self.buf.clear();
                    self.discarding = true;
                    return (input.len(), LineStep::TooLong);
                }
                self.buf.extend_from_slice(rest);
                (input.len(), LineStep::Partial)
            }
        }
    }

    /// The line completed by the last `feed`; give the buffer back with `restore`.
    pub fn take_line(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Return a buffer from `take_line` so its allocation is reused.
    pub fn restore(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.buf = buf;
    }

    /// Forget any partial line (after STARTTLS, or when the session is reset).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` whole; each line as `Ok`, each too-long line as `Err`.
    fn feed(r: &mut LineReader, input: &[u8], max: usize, got: &mut Vec<Result<Vec<u8>, ()>>) {
        let mut pos = 0;
        while pos < input.len() {
            let (n, step) = r.feed(&input[pos..], max);
            pos += n;
            match step {
                LineStep::Line => {
                    let l = r.take_line();
                    got.push(Ok(l.clone()));
                    r.restore(l);
                }
                LineStep::TooLong => got.push(Err(())),
                LineStep::Partial => {}
            }
        }
    }

    fn lines(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, ()>> {
        let mut got = Vec::new();
        feed(&mut LineReader::default(), input, max, &mut got);
        got
    }

    #[test]
    fn line_framing() {
        assert_eq!(
            lines(b"NOOP\r\nQUIT\nX", 100),
            vec![Ok(b"NOOP".to_vec()), Ok(b"QUIT".to_vec())]
        );
        // 10 bytes including CRLF fit a bound of 10; 11 do not.
        assert_eq!(lines(b"12345678\r\n", 10), vec![Ok(b"12345678".to_vec())]);
        assert_eq!(
            lines(b"123456789\r\nOK\r\n", 10),
            vec![Err(()), Ok(b"OK".to_vec())]
        );
    }

    #[test]
    fn long_line_reported_once_and_skipped() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        for chunk in [1usize, 7, 100, 10_000] {
            let mut r = LineReader::default();
            let mut got = Vec::new();
            for piece in input.chunks(chunk) {
                feed(&mut r, piece, 64, &mut got);
                assert!(r.buf.len() < 64);
            }
            assert_eq!(got, vec![Err(()), Ok(b"NOOP".to_vec())], "chunk {chunk}");
        }
    }
}
