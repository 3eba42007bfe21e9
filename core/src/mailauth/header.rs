//! The header block of a message as DKIM sees it: fields with their exact bytes
//! (folding included), and where the body starts.

/// At most this many header fields are looked at; a message with more is judged on
/// its first ones (a bound on hostile input, far above real mail).
pub const MAX_FIELDS: usize = 1000;

/// One header field, exactly as it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'m> {
    /// The name as written (before the colon, trailing blanks removed).
    pub name: &'m [u8],
    /// The whole field: name, colon, value, continuation lines and the final line end.
    pub raw: &'m [u8],
    /// Offset of `raw` in the message.
    pub start: usize,
}

impl Field<'_> {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value after the colon, line ends and all.
    pub fn value(&self) -> &[u8] {
        match self.raw.iter().position(|&b| b == b':') {
            Some(i) => &self.raw[i + 1..],
            None => &[],
        }
    }

    /// The value unfolded and trimmed, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let v = String::from_utf8_lossy(self.value());
        v.replace("\r\n", "").replace('\n', "").trim().to_string()
    }
}

/// The header fields and the offset of the body (after the blank line; the message
/// length when there is none).
pub fn split(message: &[u8]) -> (Vec<Field<'_>>, usize) {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut pos = 0;
    let mut current: Option<usize> = None;
    while pos < message.len() {
        let end = match memchr::memchr(b'\n', &message[pos..]) {
            Some(i) => pos + i + 1,
            None => message.len(),
        };
        let line = &message[pos..end];
        if line == b"\r\n" || line == b"\n" {
            close(&mut fields, &mut current, message, pos);
            return (fields, end);
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            close(&mut fields, &mut current, message, pos);
            if fields.len() >= MAX_FIELDS {
                // Past the bound: keep looking for the body, ignore the fields.
                pos = end;
                continue;
            }
            current = Some(pos);
        }
        pos = end;
    }
    close(&mut fields, &mut current, message, pos);
    (fields, message.len())
}

fn close<'m>(fields: &mut Vec<Field<'m>>, current: &mut Option<usize>, m: &'m [u8], end: usize) {
    let Some(start) = current.take() else { return };
    let raw = &m[start..end];
    // A line without a colon is not a field (garbage, or a mbox "From " line): skipped.
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return;
    };
    let mut name = &raw[..colon];
    while let Some((&last, rest)) = name.split_last() {
        if last == b' ' || last == b'\t' {
            name = rest;
        } else {
            break;
        }
    }
    if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
        return;
    }
    fields.push(Field { name, raw, start });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_body() {
        let m = b"From: a@b\r\nSubject: x\r\n  y\r\nbad line\r\n\r\nbody\r\n";
        let (f, body) = split(m);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, b"From");
        assert_eq!(f[1].raw, b"Subject: x\r\n  y\r\n");
        assert_eq!(f[1].text(), "x  y");
        assert_eq!(&m[body..], b"body\r\n");
        let (f, body) = split(b"X: 1\r\n");
        assert_eq!((f.len(), body), (1, 6));
    }
}
