//! Just enough of RFC 5322 header handling for routing: split the header block into
//! fields (continuation lines included), find the addresses in a field, and read the
//! originator from `From:`. Works on bytes, so 8-bit headers pass through unchanged.

use serde::Serialize;

/// Longest header block examined; a longer one is treated as ending there (the rest
/// stays in the message, untouched).
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// Octet offset where the body starts: just after the first empty line, or the whole
/// message if there is none.
pub fn header_end(data: &[u8]) -> usize {
    let limit = data.len().min(MAX_HEADER_BLOCK);
    let mut i = 0;
    while i < limit {
        let line_end = memchr::memchr(b'\n', &data[i..limit]).map(|p| i + p + 1);
        let Some(end) = line_end else { return limit };
        let line = &data[i..end];
        if line == b"\n" || line == b"\r\n" {
            return end;
        }
        i = end;
    }
    limit
}

/// One field: `data[start..end]` is the whole field with its line ends; the name is
/// `data[start..start + name_len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub start: usize,
    pub name_len: usize,
    pub end: usize,
}

impl Field {
    pub fn name<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start..self.start + self.name_len]
    }

    /// The value: everything after the colon, continuation lines included.
    pub fn value<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[(self.start + self.name_len + 1).min(self.end)..self.end]
    }

    pub fn is(&self, data: &[u8], name: &str) -> bool {
        self.name(data).eq_ignore_ascii_case(name.as_bytes())
    }
}

/// The fields of the header block `data[..end]` (`end` from [`header_end`]). Lines that
/// are not fields (no colon) are skipped; they stay in the message as they are.
pub fn fields(data: &[u8], end: usize) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    let mut i = 0;
    while i < end {
        let line_end = memchr::memchr(b'\n', &data[i..end]).map_or(end, |p| i + p + 1);
        let line = &data[i..line_end];
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = out.last_mut() {
                if last.end == i {
                    last.end = line_end;
                }
            }
        } else if line != b"\r\n" && line != b"\n" {
            if let Some(colon) = memchr::memchr(b':', line) {
                let name = &line[..colon];
                if !name.is_empty() && name.iter().all(|&b| b > 32 && b < 127) {
                    out.push(Field {
                        start: i,
                        name_len: colon,
                        end: line_end,
                    });
                }
            }
        }
        i = line_end;
    }
    out
}

/// Byte ranges of the `local@domain` addresses in `value` (plain dot-atoms only; a
/// quoted local part is not recognised, which is fine for the rewrites that use this).
pub fn address_spans(value: &[u8]) -> Vec<(usize, usize)> {
    let is_local = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b);
    let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'@', &value[from..]) {
        let at = from + p;
        let mut s = at;
        while s > 0 && is_local(value[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < value.len() && is_domain(value[e]) {
            e += 1;
        }
        while e > at + 1 && value[e - 1] == b'.' {
            e -= 1;
        }
        while s < at && value[s] == b'.' {
            s += 1;
        }
        if s < at && e > at + 1 {
            out.push((s, e));
        }
        from = at + 1;
    }
    out
}

/// What the router reads from the header: the originator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeaderView {
    /// The addresses in `From:`, as written.
    pub from: Vec<String>,
    /// The display name of the first `From:` mailbox, quotes removed.
    pub from_name: Option<String>,
}

impl HeaderView {
    pub fn parse(data: &[u8]) -> HeaderView {
        let end = header_end(data);
        let mut view = HeaderView::default();
        let Some(from) = fields(data, end).into_iter().find(|f| f.is(data, "From")) else {
            return view;
        };
        let value = from.value(data);
        view.from = address_spans(value)
            .into_iter()
            .map(|(s, e)| String::from_utf8_lossy(&value[s..e]).into_owned())
            .collect();
        view.from_name = display_name(&String::from_utf8_lossy(value));
        view
    }
}

/// The display name of a `From:` value: `"Fred Bloggs" <f@x>`, `Fred <f@x>` or
/// `f@x (Fred)`.
fn display_name(value: &str) -> Option<String> {
    let v = unfold(value);
    let v = v.trim();
    let name = if let Some(lt) = v.find('<') {
        v[..lt].trim().trim_matches('"').trim().to_string()
    } else if let (Some(a), Some(b)) = (v.find('('), v.rfind(')')) {
        if a < b {
            v[a + 1..b].trim().to_string()
        } else {
            String::new()
        }
    } else {
        String::new()
    };
    (!name.is_empty()).then_some(name)
}

/// A folded value on one line.
pub fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .filter(|s| !s.is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields_with_continuations() {
        let m = b"From: a@x\r\nTo: b@y,\r\n  c@z\r\nSubject: hi\r\n\r\nbody: no\r\n";
        let end = header_end(m);
        assert_eq!(&m[end..], b"body: no\r\n");
        let f = fields(m, end);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].name(m), b"To");
        assert_eq!(f[1].value(m), b" b@y,\r\n  c@z\r\n");
        assert_eq!(address_spans(f[1].value(m)).len(), 2);
    }

    #[test]
    fn finds_addresses() {
        let v = b" \"Fred\" <fred.b@Example.com>, bob@x.org. (c@d)";
        let spans: Vec<&[u8]> = address_spans(v)
            .into_iter()
            .map(|(s, e)| &v[s..e])
            .collect();
        assert_eq!(
            spans,
            vec![&b"fred.b@Example.com"[..], &b"bob@x.org"[..], &b"c@d"[..]]
        );
        assert!(address_spans(b" no address @ here").is_empty());
    }

    #[test]
    fn originator() {
        let v = HeaderView::parse(b"Subject: x\nFrom: \"Fred Bloggs\" <fred@example.com>\n\nb");
        assert_eq!(v.from, vec!["fred@example.com"]);
        assert_eq!(v.from_name.as_deref(), Some("Fred Bloggs"));
        let v = HeaderView::parse(b"From: fred@example.com (Fred)\r\n\r\n");
        assert_eq!(v.from_name.as_deref(), Some("Fred"));
        let v = HeaderView::parse(b"From: fred@example.com\r\n\r\n");
        assert_eq!(v.from_name, None);
        assert_eq!(
            HeaderView::parse(b"no header at all"),
            HeaderView::default()
        );
    }
}
