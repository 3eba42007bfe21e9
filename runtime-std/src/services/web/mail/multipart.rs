//! `multipart/form-data` (RFC 7578): the compose form with its attachments. The body
//! is already whole and bounded by the route's limit; mail-parser reads its structure
//! (a form body is a MIME multipart), and each file's bytes are taken from the body
//! between the offsets it reports, so an upload arrives byte for byte whatever type
//! the browser claimed for it.

use mail_parser::{MessageParser, MimeHeaders};
use mailroom_core::http::form::Form;

/// Files in one form at most.
const MAX_FILES: usize = 32;
/// Fields in one form at most.
const MAX_FIELDS: usize = 64;

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The form field it came in.
    pub field: String,
    /// The browser's file name, without any directory part.
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary_of(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let kind = parts.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 70)
            .then(|| v.to_string())
    })
}

/// The text fields and the files of a form body. A body that is not a valid form
/// gives no fields (so no CSRF token: the request is refused).
pub fn parse(body: &[u8], boundary: &str) -> (Form, Vec<Upload>) {
    // mail-parser wants a message: the content type goes in front as its header.
    let mut whole =
        format!("Content-Type: multipart/form-data; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    let offset = whole.len();
    whole.extend_from_slice(body);
    let Some(message) = MessageParser::default().parse(&whole[..]) else {
        return (Form::default(), Vec::new());
    };
    let mut fields = Vec::new();
    let mut files = Vec::new();
    for part in message.parts.iter().skip(1) {
        let Some(disposition) = part.content_disposition() else {
            continue;
        };
        if !disposition.ctype().eq_ignore_ascii_case("form-data") {
            continue;
        }
        let Some(name) = disposition.attribute("name") else {
            continue;
        };
        let (start, end) = (part.offset_body as usize, part.offset_end as usize);
        let Some(raw) = whole.get(start.max(offset)..end) else {
            continue;
        };
        match disposition.attribute("filename") {
            Some(file) => {
                if files.len() >= MAX_FILES {
                    continue;
                }
                let file = file.rsplit(['/', '\\']).next().unwrap_or("").trim();
                if file.is_empty() && raw.is_empty() {
                    // A file input left empty.
                    continue;
                }
                files.push(Upload {
                    field: name.to_string(),
                    name: file.to_string(),
                    content_type: super::mime_type(part),
                    data: raw.to_vec(),
                });
            }
            None => {
                if fields.len() < MAX_FIELDS {
                    fields.push((name.to_string(), String::from_utf8_lossy(raw).into_owned()));
                }
            }
        }
    }
    (Form::from_pairs(fields), files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_byte_for_byte() {
        let file: Vec<u8> = (0..=255u8).chain(*b"\r\n--\r\n\r\n").collect();
        let mut body = Vec::new();
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok en\r\n",
        );
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nline 1\r\nline 2\r\n\r\n");
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"C:\\\\dir\\\\a b.bin\"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n");
        body.extend_from_slice(&file);
        body.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--XyZ--\r\n");
        let (form, files) = parse(&body, "XyZ");
        assert_eq!(form.get("csrf"), Some("tok en"));
        assert_eq!(form.get("body"), Some("line 1\r\nline 2\r\n"));
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].name, "a b.bin");
        assert_eq!(files[0].content_type, "text/plain");
        assert_eq!(files[0].data, file);
    }

    #[test]
    fn boundaries_and_garbage() {
        assert_eq!(
            boundary_of("multipart/form-data; boundary=----abc").as_deref(),
            Some("----abc")
        );
        assert_eq!(
            boundary_of("Multipart/Form-Data; charset=x; boundary=\"q r\"").as_deref(),
            Some("q r")
        );
        assert_eq!(boundary_of("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary_of("multipart/form-data"), None);
        for junk in [&b""[..], b"--a", b"\xff\xfe--a\r\n\r\n", b"--a--"] {
            let (form, files) = parse(junk, "a");
            assert!(form.get("csrf").is_none() && files.is_empty());
        }
    }
}
