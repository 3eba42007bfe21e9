//! DKIM canonicalisation (RFC 6376 §3.4): "simple" and "relaxed", for header fields
//! and for the body.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canon {
    Simple,
    Relaxed,
}

impl Canon {
    pub fn parse(s: &str) -> Option<Canon> {
        match s {
            "simple" => Some(Canon::Simple),
            "relaxed" => Some(Canon::Relaxed),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Canon::Simple => "simple",
            Canon::Relaxed => "relaxed",
        }
    }
}

/// `c=` header/body, default simple/simple (§3.5).
pub fn parse_pair(c: Option<&str>) -> Option<(Canon, Canon)> {
    let Some(c) = c else {
        return Some((Canon::Simple, Canon::Simple));
    };
    match c.split_once('/') {
        Some((h, b)) => Some((Canon::parse(h)?, Canon::parse(b)?)),
        None => Some((Canon::parse(c)?, Canon::Simple)),
    }
}

fn wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Append one header field (`raw`: name, colon, value and line end, as arrived).
pub fn header(c: Canon, raw: &[u8], out: &mut Vec<u8>) {
    match c {
        Canon::Simple => {
            out.extend_from_slice(raw);
            if !raw.ends_with(b"\r\n") {
                // A last field without a line end, or with a bare LF: sign what a
                // CRLF message would carry.
                if raw.ends_with(b"\n") {
                    out.pop();
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        Canon::Relaxed => {
            let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
            let name = &raw[..colon];
            let name_end = name.iter().rposition(|&b| !wsp(b)).map_or(0, |i| i + 1);
            out.extend(name[..name_end].iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            let value = raw.get(colon + 1..).unwrap_or(&[]);
            let mut pending_space = false;
            let mut started = false;
            for &b in value {
                match b {
                    b'\r' | b'\n' => {}
                    b' ' | b'\t' => pending_space = true,
                    _ => {
                        if pending_space && started {
                            out.push(b' ');
                        }
                        pending_space = false;
                        started = true;
                        out.push(b);
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The canonical body, cut to `limit` octets when an `l=` tag asks for it.
pub fn body(c: Canon, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        if last && line.is_empty() {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match c {
            Canon::Simple => out.extend_from_slice(line),
            Canon::Relaxed => {
                let end = line.iter().rposition(|&b| !wsp(b)).map_or(0, |i| i + 1);
                let mut space = false;
                for &b in &line[..end] {
                    if wsp(b) {
                        space = true;
                    } else {
                        if space {
                            out.push(b' ');
                        }
                        space = false;
                        out.push(b);
                    }
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    // Trailing empty lines are ignored.
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == b"\r\n" && c == Canon::Relaxed {
        out.clear();
    }
    if out.is_empty() && c == Canon::Simple {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6376 §3.4.5's example.
    #[test]
    fn rfc_example() {
        let headers: [&[u8]; 2] = [b"A: X\r\n", b"B : Y\t\r\n\tZ  \r\n"];
        let body_in = b" C \r\nD \t E\r\n\r\n\r\n";
        let mut relaxed = Vec::new();
        for h in headers {
            header(Canon::Relaxed, h, &mut relaxed);
        }
        assert_eq!(relaxed, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(body(Canon::Relaxed, body_in), b" C\r\nD E\r\n");
        let mut simple = Vec::new();
        for h in headers {
            header(Canon::Simple, h, &mut simple);
        }
        assert_eq!(simple, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
        assert_eq!(body(Canon::Simple, body_in), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn empty_bodies() {
        assert_eq!(body(Canon::Simple, b""), b"\r\n");
        assert_eq!(body(Canon::Simple, b"\r\n\r\n"), b"\r\n");
        assert_eq!(body(Canon::Relaxed, b""), b"");
        assert_eq!(body(Canon::Relaxed, b"  \r\n\r\n"), b"");
        // No final line end: one is added.
        assert_eq!(body(Canon::Relaxed, b"x"), b"x\r\n");
    }
}
