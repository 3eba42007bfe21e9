//! BINARY (RFC 3516): `BINARY[section]<partial>`, `BINARY.PEEK`, `BINARY.SIZE` give a
//! part's content with its Content-Transfer-Encoding undone; APPEND of a `literal8`
//! stores binary parts as base64 so that BODY[…] never carries raw binary (§4.3).
//!
//! Decoding is mail-parser's (base64, quoted-printable); a part whose encoding is none
//! of those RFC 2045 names is `[UNKNOWN-CTE]` (§4.1).

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// The part's transfer encoding is not one this server can undo (`[UNKNOWN-CTE]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnknownCte;

/// The decoded content of part `path` of `raw` (`path` empty: the whole message, as
/// it stands); `Ok(None)` when there is no such part.
pub(super) fn section(raw: &[u8], path: &[u32]) -> Result<Option<Vec<u8>>, UnknownCte> {
    if path.is_empty() {
        return Ok(Some(raw.to_vec()));
    }
    let Some(m) = MessageParser::new().parse(raw) else {
        return Ok(None);
    };
    let Some((msg, id)) = super::envelope::resolve(&m, path) else {
        return Ok(None);
    };
    let Some(p) = msg.parts.get(id) else {
        return Ok(None);
    };
    let body = slice(msg, p.offset_body, p.offset_end);
    // A message or multipart is sent as it stands: its own parts carry the
    // encodings, and RFC 2045 allows only identity encodings around them.
    if matches!(p.body, PartType::Message(_) | PartType::Multipart(_)) {
        return Ok(Some(body.to_vec()));
    }
    decode(p.content_transfer_encoding(), body).map(Some)
}

fn slice<'a>(msg: &'a Message<'_>, start: u32, end: u32) -> &'a [u8] {
    let raw: &[u8] = &msg.raw_message;
    let a = (start as usize).min(raw.len());
    let b = (end as usize).clamp(a, raw.len());
    &raw[a..b]
}

/// Undo a Content-Transfer-Encoding (`None`: 7bit, RFC 2045 §6.1).
fn decode(cte: Option<&str>, body: &[u8]) -> Result<Vec<u8>, UnknownCte> {
    let cte = cte.map(|c| c.trim().to_ascii_lowercase());
    match cte.as_deref() {
        None | Some("7bit" | "8bit" | "binary" | "") => Ok(body.to_vec()),
        Some("base64") => base64_decode(body).ok_or(UnknownCte),
        Some("quoted-printable") => quoted_printable_decode(body).ok_or(UnknownCte),
        Some(_) => Err(UnknownCte),
    }
}

/// What URLFETCH's BINARY (RFC 5524) sends for `url`: the part with every
/// transfer encoding inside it undone (a message or multipart part converted
/// throughout), cut to the URL's PARTIAL; `None` if there is no such part.
pub(super) fn url_section(msg: &[u8], url: &super::imapurl::MessageUrl) -> Option<Vec<u8>> {
    let converted = decode_all(msg, true);
    if url.part != super::fetch::Part::Whole {
        return super::imapurl::extract(&converted, url);
    }
    let data = section(&converted, &url.path).ok().flatten()?;
    Some(partial(&data, url.partial).to_vec())
}

/// Nested messages deeper than this are left as they stand.
const MAX_DECODE_DEPTH: usize = 16;

/// `raw` with the base64 and quoted-printable bodies of its leaf parts (nested
/// messages included) decoded in place; with `rewrite_cte` their
/// Content-Transfer-Encoding fields say `binary`. A body whose encoding cannot be
/// undone is kept as it stands.
pub(super) fn decode_all(raw: &[u8], rewrite_cte: bool) -> Vec<u8> {
    decode_nested(raw, rewrite_cte, 0)
}

/// One part replaced: (header start, body start, body end, new header if it
/// changes, new body).
type Edit = (usize, usize, usize, Option<Vec<u8>>, Vec<u8>);

fn decode_nested(raw: &[u8], rewrite_cte: bool, depth: usize) -> Vec<u8> {
    let Some(m) = MessageParser::new().parse(raw) else {
        return raw.to_vec();
    };
    let mut edits: Vec<Edit> = Vec::new();
    for p in &m.parts {
        let (h, b, e) = (
            p.offset_header as usize,
            p.offset_body as usize,
            p.offset_end as usize,
        );
        if h > b || b > e || e > raw.len() {
            continue;
        }
        match &p.body {
            PartType::Multipart(_) => continue,
            PartType::Message(_) if depth < MAX_DECODE_DEPTH => {
                let inner = decode_nested(&raw[b..e], rewrite_cte, depth + 1);
                if inner != raw[b..e] {
                    edits.push((h, b, e, None, inner));
                }
            }
            PartType::Message(_) => continue,
            _ => {
                let cte = p
                    .content_transfer_encoding()
                    .map(|c| c.trim().to_ascii_lowercase());
                if !matches!(cte.as_deref(), Some("base64" | "quoted-printable")) {
                    continue;
                }
                let Ok(body) = decode(cte.as_deref(), &raw[b..e]) else {
                    continue;
                };
                let header = rewrite_cte.then(|| {
                    let mut out = Vec::with_capacity(b - h);
                    set_cte(&mut out, &raw[h..b], "binary");
                    out
                });
                edits.push((h, b, e, header, body));
            }
        }
    }
    if edits.is_empty() {
        return raw.to_vec();
    }
    edits.sort_unstable_by_key(|e| e.0);
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for (h, b, e, header, body) in edits {
        if h < at {
            // Overlapping parts (a malformed structure): leave the rest alone.
            continue;
        }
        match header {
            Some(header) => {
                out.extend_from_slice(&raw[at..h]);
                out.extend_from_slice(&header);
            }
            None => out.extend_from_slice(&raw[at..b]),
        }
        out.extend_from_slice(&body);
        at = e;
    }
    out.extend_from_slice(&raw[at..]);
    out
}

/// `data` cut to `<origin.count>`.
pub(super) fn partial(data: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    match partial {
        Some((origin, len)) => {
            let start = usize::try_from(origin)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let end = start
                .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
                .min(data.len());
            &data[start..end]
        }
        None => data,
    }
}

/// Write `data` as a literal, a `literal8` (`~{n}`) when it holds NUL, which a
/// plain literal may not (RFC 3516 §4.2).
pub(super) fn literal(out: &mut Vec<u8>, data: &[u8]) {
    if memchr::memchr(0, data).is_some() {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

/// Longest base64 line written (RFC 2045 §6.8).
const B64_LINE: usize = 76;

/// A message APPENDed as `literal8`: its leaf parts that are `binary` or hold NUL are
/// re-encoded as base64 (header changed to match), so the stored message is valid
/// RFC 5322 text and BODY[…] never returns NUL (RFC 3516 §4.3). Anything else is
/// kept byte for byte.
pub(super) fn encode_binary_parts(raw: Vec<u8>) -> Vec<u8> {
    let Some(m) = MessageParser::new().parse(&raw) else {
        return raw;
    };
    // (header start, body start, body end), of top-level message parts only:
    // a nested message/rfc822 is left as it is (its outer part is not a leaf).
    let mut edits: Vec<(usize, usize, usize)> = Vec::new();
    for p in &m.parts {
        if matches!(p.body, PartType::Message(_) | PartType::Multipart(_)) {
            continue;
        }
        let (h, b, e) = (
            p.offset_header as usize,
            p.offset_body as usize,
            p.offset_end as usize,
        );
        if h > b || b > e || e > raw.len() {
            continue;
        }
        let cte = p
            .content_transfer_encoding()
            .map(|c| c.trim().to_ascii_lowercase());
        let binary = cte.as_deref() == Some("binary")
            || (memchr::memchr(0, &raw[b..e]).is_some()
                && matches!(cte.as_deref(), None | Some("7bit" | "8bit")));
        if binary {
            edits.push((h, b, e));
        }
    }
    if edits.is_empty() {
        return raw;
    }
    edits.sort_unstable();
    let mut out = Vec::with_capacity(raw.len() * 4 / 3 + 64);
    let mut at = 0;
    for (h, b, e) in edits {
        if h < at {
            // Overlapping parts (a malformed structure): leave the rest alone.
            continue;
        }
        out.extend_from_slice(&raw[at..h]);
        set_cte(&mut out, &raw[h..b], "base64");
        let encoded =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw[b..e]);
        for line in encoded.as_bytes().chunks(B64_LINE) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        at = e;
    }
    out.extend_from_slice(&raw[at..]);
    out
}

/// A part header (with its blank line) with Content-Transfer-Encoding set to
/// `cte`, in place of the old field or added at the end.
fn set_cte(out: &mut Vec<u8>, header: &[u8], cte: &str) {
    let field = format!("Content-Transfer-Encoding: {cte}\r\n");
    let fields = super::fetch::header_fields(header);
    let mut wrote = false;
    for f in &fields {
        let is_cte = f.iter().position(|&c| c == b':').is_some_and(|i| {
            f[..i]
                .trim_ascii()
                .eq_ignore_ascii_case(b"content-transfer-encoding")
        });
        if is_cte {
            if !wrote {
                out.extend_from_slice(field.as_bytes());
                wrote = true;
            }
        } else {
            out.extend_from_slice(f);
        }
    }
    if !wrote {
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64: &[u8] = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Transfer-Encoding: base64\r\n\r\n  aGVs  \r\n bG8g\r\n d29y\r\n bGQ= \r\n\
        --b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nfoo =\r\n=62 \r\nx=3D\r\n\
        --b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n\
        --b--\r\n";

    #[test]
    fn decodes_base64_and_qp() {
        assert_eq!(section(B64, &[1]), Ok(Some(b"hello world".to_vec())));
        assert_eq!(section(B64, &[2]), Ok(Some(b"foo b\r\nx=".to_vec())));
        assert_eq!(section(B64, &[3]), Err(UnknownCte));
        assert_eq!(section(B64, &[4]), Ok(None));
        assert_eq!(section(B64, &[]), Ok(Some(B64.to_vec())));
    }

    /// imaptest's urlauth-binary message: a message/rfc822 part whose two text
    /// parts are base64, the second with stray white space.
    const NESTED: &[u8] = b"From: user@domain.org\r\nMime-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"foo\r\n bar\"\r\n\r\nRoot MIME prologue\r\n\r\n\
        --foo bar\r\nContent-Type: message/rfc822\r\n\r\n\
        From: sub@domain.org\r\nSubject: submsg\r\n\
        Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\nSub MIME prologue\r\n\
        --sub1\r\nContent-Type: text/x-myown; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        aGVs\r\nbG8gd29y\r\nbGQ=\r\n\r\n\
        --sub1\r\nContent-Type: text/x-myown; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        \x20 aGVs    \r\n bG8g  \r\n   d29y  \t \r\n    bGQ= \r\n\r\n\r\n\
        --sub1--\r\nSub MIME epilogue\r\n\r\n--foo bar--\r\nRoot MIME epilogue\r\n";

    #[test]
    fn nested_parts_are_decoded_throughout() {
        let url = |s: &str| super::super::imapurl::parse(s).unwrap();
        let inner = url_section(NESTED, &url("/INBOX/;UID=1/;SECTION=1")).unwrap();
        let text = String::from_utf8(inner).unwrap();
        assert_eq!(
            text,
            "From: sub@domain.org\r\nSubject: submsg\r\n\
             Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\nSub MIME prologue\r\n\
             --sub1\r\nContent-Type: text/x-myown; charset=us-ascii\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             hello world\r\n\
             --sub1\r\nContent-Type: text/x-myown; charset=us-ascii\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             hello world\r\n\
             --sub1--\r\nSub MIME epilogue\r\n"
        );
        let leaf = url_section(NESTED, &url("/INBOX/;UID=1/;SECTION=1.2")).unwrap();
        assert_eq!(leaf, b"hello world");
        assert_eq!(url_section(NESTED, &url("/INBOX/;UID=1/;SECTION=3")), None);
        // Without rewriting, the encodings still say base64 (the structure
        // URLFETCH gives beside BINARY, as Dovecot's).
        let kept = String::from_utf8(decode_all(NESTED, false)).unwrap();
        assert!(
            kept.contains("base64\r\n\r\nhello world\r\n--sub1\r\n"),
            "{kept}"
        );
        // A message with nothing encoded is unchanged.
        let plain = b"Subject: y\r\n\r\nhello\r\n";
        assert_eq!(decode_all(plain, true), plain);
    }

    #[test]
    fn partial_is_cut_on_decoded_bytes() {
        assert_eq!(partial(b"hello world", Some((6, 100))), b"world");
        assert_eq!(partial(b"hello", Some((9, 1))), b"");
        assert_eq!(partial(b"hello", Some((u32::MAX, u32::MAX))), b"");
    }

    #[test]
    fn literal8_only_with_nul() {
        let mut out = Vec::new();
        literal(&mut out, b"a\0");
        literal(&mut out, b"b");
        assert_eq!(out, b"~{2}\r\na\0{1}\r\nb");
    }

    #[test]
    fn binary_append_is_stored_as_base64_and_decodes_back() {
        let raw = b"Subject: x\r\nContent-Type: application/octet-stream\r\n\
            Content-Transfer-Encoding: binary\r\n\r\n\0-\xe4\n\r\n\n"
            .to_vec();
        let stored = encode_binary_parts(raw);
        assert!(memchr::memchr(0, &stored).is_none());
        let text = String::from_utf8_lossy(&stored);
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n"),
            "{text}"
        );
        assert!(!text.contains("binary"), "{text}");
        assert_eq!(
            section(&stored, &[1]),
            Ok(Some(b"\0-\xe4\n\r\n\n".to_vec()))
        );
        // A text message stays byte for byte.
        let plain = b"Subject: y\r\n\r\nhello\r\n".to_vec();
        assert_eq!(encode_binary_parts(plain.clone()), plain);
    }
}
