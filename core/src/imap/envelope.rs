//! FETCH ENVELOPE, BODYSTRUCTURE and BODY (RFC 3501 §7.4.2), from the message as
//! mail-parser reads it. Date, subject, In-Reply-To and Message-ID are sent as they stand in the
//! header (unfolded), as Dovecot does; display names are decoded by mail-parser, so
//! a non-ASCII one is sent again as an RFC 2047 encoded word.

use super::write;
use base64::Engine as _;
use mail_parser::{
    Addr, Address, ContentType, HeaderName, HeaderValue, Message, MessageParser, MimeHeaders,
    PartType,
};

/// Nesting deeper than this is written as an empty text part: a hostile message of
/// nested multiparts must not exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Write `BODYSTRUCTURE (…)` (`ext`) or `BODY (…)` for `raw`.
pub(super) fn structure(out: &mut Vec<u8>, raw: &[u8], ext: bool) {
    out.extend_from_slice(if ext { b"BODYSTRUCTURE " } else { b"BODY " });
    match MessageParser::new().parse(raw) {
        Some(m) => part(out, &m, 0, ext, 0, false),
        None => out.extend_from_slice(
            b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
        ),
    }
}

/// The extended structure of part `path` of `raw` (the whole message when empty),
/// without a leading `BODYSTRUCTURE` (URLFETCH's BODYPARTSTRUCTURE, RFC 5524);
/// `false` if there is no such part. `decoded`: `raw` holds decoded leaf bodies, whose
/// lines are counted as line ends only (Dovecot counts a decoded body that way).
pub(super) fn part_structure(out: &mut Vec<u8>, raw: &[u8], path: &[u32], decoded: bool) -> bool {
    let Some(m) = MessageParser::new().parse(raw) else {
        return false;
    };
    if path.is_empty() {
        part(out, &m, 0, true, 0, decoded);
        return true;
    }
    match resolve(&m, path) {
        Some((msg, id)) => {
            part(out, msg, id, true, 0, decoded);
            true
        }
        None => false,
    }
}

fn part(out: &mut Vec<u8>, m: &Message<'_>, id: usize, ext: bool, depth: usize, decoded: bool) {
    let Some(p) = m.parts.get(id) else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let ct = p.content_type();
    if let (PartType::Multipart(children), true) = (&p.body, depth < MAX_DEPTH) {
        out.push(b'(');
        for &c in children {
            part(out, m, c as usize, ext, depth + 1, decoded);
        }
        out.push(b' ');
        let sub = ct.and_then(|c| c.c_subtype.as_deref()).unwrap_or("mixed");
        write::string(out, sub.as_bytes());
        if ext {
            out.push(b' ');
            params(out, ct);
            extension(out, p);
        }
        out.push(b')');
        return;
    }
    let raw: &[u8] = &m.raw_message;
    let start = (p.offset_body as usize).min(raw.len());
    let end = (p.offset_end as usize).clamp(start, raw.len());
    let body = &raw[start..end];
    let (ty, sub) = match ct {
        Some(c) => (
            c.c_type.as_ref(),
            c.c_subtype
                .as_deref()
                .unwrap_or(if c.c_type.eq_ignore_ascii_case("text") {
                    "plain"
                } else {
                    "octet-stream"
                }),
        ),
        None => ("text", "plain"),
    };
    out.push(b'(');
    write::string(out, ty.as_bytes());
    out.push(b' ');
    write::string(out, sub.as_bytes());
    out.push(b' ');
    if ct.is_none() {
        out.extend_from_slice(b"(\"charset\" \"us-ascii\")");
    } else {
        params(out, ct);
    }
    out.push(b' ');
    nstring(out, p.content_id());
    out.push(b' ');
    nstring(out, p.content_description());
    out.push(b' ');
    write::string(
        out,
        p.content_transfer_encoding().unwrap_or("7bit").as_bytes(),
    );
    out.extend_from_slice(format!(" {}", body.len()).as_bytes());
    // A last line without its line end (before a boundary) still counts.
    let lines = memchr::memchr_iter(b'\n', body).count()
        + usize::from(!decoded && body.last().is_some_and(|&b| b != b'\n'));
    match &p.body {
        PartType::Message(inner) if depth < MAX_DEPTH => {
            out.extend_from_slice(b" (");
            write_envelope(out, inner);
            out.extend_from_slice(b") ");
            part(out, inner, 0, ext, depth + 1, decoded);
            out.extend_from_slice(format!(" {lines}").as_bytes());
        }
        _ if ty.eq_ignore_ascii_case("text") => {
            out.extend_from_slice(format!(" {lines}").as_bytes());
        }
        _ => {}
    }
    if ext {
        out.extend_from_slice(b" NIL");
        extension(out, p);
    }
    out.push(b')');
}

/// The bytes of section `part` of MIME part `path` (RFC 3501 §6.4.5), or `None` if
/// the message has no such part.
pub(super) fn part_section(raw: &[u8], path: &[u32], part: &super::fetch::Part) -> Option<Vec<u8>> {
    use super::fetch::Part;
    let m = MessageParser::new().parse(raw)?;
    let (msg, id) = resolve(&m, path)?;
    let p = msg.parts.get(id)?;
    let raw: &[u8] = &msg.raw_message;
    let range = |a: u32, b: u32| {
        let a = (a as usize).min(raw.len());
        let b = (b as usize).clamp(a, raw.len());
        raw[a..b].to_vec()
    };
    match part {
        Part::Whole => Some(range(p.offset_body, p.offset_end)),
        Part::Mime => Some(range(p.offset_header, p.offset_body)),
        // HEADER, TEXT and HEADER.FIELDS of a part are those of the message it holds.
        _ => match &p.body {
            PartType::Message(_) => {
                // The nested message is this part's whole body, epilogue of its own
                // multipart included (its root part's offsets stop at the last
                // boundary).
                let nested = range(p.offset_body, p.offset_end);
                Some(super::fetch::section(&nested, part).into_owned())
            }
            _ => None,
        },
    }
}

/// Walk part numbers: in a message, 1.. number the parts of its multipart body, or
/// 1 is its only body; a message/rfc822 part is entered.
pub(super) fn resolve<'m, 'x>(
    m: &'m Message<'x>,
    path: &[u32],
) -> Option<(&'m Message<'x>, usize)> {
    let mut msg = m;
    let mut id: Option<usize> = None;
    for &n in path {
        let n = usize::try_from(n).ok()?.checked_sub(1)?;
        let current = match id {
            None => 0,
            Some(i) => match &msg.parts.get(i)?.body {
                PartType::Message(inner) => {
                    msg = inner;
                    0
                }
                PartType::Multipart(children) => {
                    id = Some(*children.get(n)? as usize);
                    continue;
                }
                _ => return None,
            },
        };
        // At a message's root: its multipart's children, or itself as part 1.
        id = Some(match &msg.parts.get(current)?.body {
            PartType::Multipart(children) => *children.get(n)? as usize,
            _ if n == 0 => current,
            _ => return None,
        });
    }
    Some((msg, id?))
}

/// ` disposition language location` of a part (BODYSTRUCTURE's extension data).
fn extension(out: &mut Vec<u8>, p: &mail_parser::MessagePart<'_>) {
    out.push(b' ');
    match p.content_disposition() {
        Some(d) => {
            out.push(b'(');
            write::string(out, d.c_type.as_bytes());
            out.push(b' ');
            params(out, Some(d));
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match p.content_language() {
        HeaderValue::Text(t) => write::string(out, t.as_bytes()),
        HeaderValue::TextList(list) if !list.is_empty() => {
            out.push(b'(');
            for (i, t) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write::string(out, t.as_bytes());
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstring(out, p.content_location());
}

fn params(out: &mut Vec<u8>, ct: Option<&ContentType<'_>>) {
    match ct
        .and_then(|c| c.attributes.as_ref())
        .filter(|a| !a.is_empty())
    {
        Some(attrs) => {
            out.push(b'(');
            for (i, a) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write::string(out, a.name.as_bytes());
                out.push(b' ');
                write::string(out, a.value.as_bytes());
            }
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

fn nstring(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write::string(out, s.as_bytes()),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Write `ENVELOPE (…)` for `raw`.
pub(super) fn envelope(out: &mut Vec<u8>, raw: &[u8]) {
    let parsed = MessageParser::new().parse_headers(raw);
    out.extend_from_slice(b"ENVELOPE (");
    match &parsed {
        Some(m) => write_envelope(out, m),
        None => out.extend_from_slice(b"NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL"),
    }
    out.push(b')');
}

fn write_envelope(out: &mut Vec<u8>, m: &Message<'_>) {
    raw_field(out, m, HeaderName::Date);
    out.push(b' ');
    raw_field(out, m, HeaderName::Subject);
    out.push(b' ');
    let from = m.from();
    addresses(out, from);
    out.push(b' ');
    // RFC 3501 §7.4.2: Sender and Reply-To default to From.
    addresses(out, m.sender().or(from));
    out.push(b' ');
    addresses(out, m.reply_to().or(from));
    out.push(b' ');
    addresses(out, m.to());
    out.push(b' ');
    addresses(out, m.cc());
    out.push(b' ');
    addresses(out, m.bcc());
    out.push(b' ');
    raw_field(out, m, HeaderName::InReplyTo);
    out.push(b' ');
    raw_field(out, m, HeaderName::MessageId);
}

/// A header's text as it stands (unfolded, trimmed), or NIL.
fn raw_field(out: &mut Vec<u8>, m: &Message<'_>, name: HeaderName<'_>) {
    match m.header_raw(name) {
        Some(v) => {
            let text: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            write::string(out, text.trim().as_bytes());
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

fn addresses(out: &mut Vec<u8>, a: Option<&Address<'_>>) {
    let Some(a) = a else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let mut items = Vec::new();
    match a {
        Address::List(list) => {
            for addr in list {
                one(&mut items, addr);
            }
        }
        Address::Group(groups) => {
            for g in groups {
                match &g.name {
                    // RFC 3501 §7.4.2: a group is marked by (NIL NIL name NIL) …
                    // (NIL NIL NIL NIL).
                    Some(name) => {
                        items.extend_from_slice(b"(NIL NIL ");
                        write::string(&mut items, name.as_bytes());
                        items.extend_from_slice(b" NIL)");
                        // A comment alone (`group: (foo) ;`) is no member.
                        for addr in g.addresses.iter().filter(|a| a.address.is_some()) {
                            one(&mut items, addr);
                        }
                        items.extend_from_slice(b"(NIL NIL NIL NIL)");
                    }
                    None => {
                        for addr in &g.addresses {
                            one(&mut items, addr);
                        }
                    }
                }
            }
        }
    }
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        out.extend_from_slice(&items);
        out.push(b')');
    }
}

fn one(out: &mut Vec<u8>, a: &Addr<'_>) {
    out.push(b'(');
    match a.name.as_deref() {
        Some(n) if n.is_ascii() => write::string(out, n.as_bytes()),
        Some(n) => {
            let word = format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(n.as_bytes())
            );
            write::string(out, word.as_bytes());
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let address = a.address.as_deref().unwrap_or("");
    // An obsolete source route (`<@route:user@domain>`) has a field of its own.
    match address.split_once(':') {
        Some((route, rest)) if route.starts_with('@') => {
            write::string(out, route.as_bytes());
            address_parts(out, rest);
        }
        _ => {
            out.extend_from_slice(b"NIL");
            address_parts(out, address);
        }
    }
    out.push(b')');
}

/// ` mailbox host` of an address.
fn address_parts(out: &mut Vec<u8>, address: &str) {
    out.push(b' ');
    match address.rsplit_once('@') {
        Some((local, host)) => {
            write::string(out, local.as_bytes());
            out.push(b' ');
            write::string(out, host.as_bytes());
        }
        None if address.is_empty() => out.extend_from_slice(b"NIL NIL"),
        None => {
            write::string(out, address.as_bytes());
            out.extend_from_slice(b" NIL");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures() {
        let mut out = Vec::new();
        structure(&mut out, b"Subject: x\r\n\r\nline 1\r\nline 2\r\n", true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 2 \
             NIL NIL NIL NIL)"
        );
        let msg = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n\
            --b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n\
            Content-Transfer-Encoding: base64\r\n\
            Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nAAAA\r\n--b--\r\n";
        let mut out = Vec::new();
        structure(&mut out, msg, false);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" "),
            "{s}"
        );
        assert!(
            s.contains(")(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"base64\" "),
            "{s}"
        );
        assert!(s.ends_with(") \"mixed\")"), "{s}");
        let mut out = Vec::new();
        structure(&mut out, msg, true);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.contains("(\"attachment\" (\"filename\" \"a.pdf\"))"),
            "{s}"
        );
        assert!(
            s.ends_with(" \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"),
            "{s}"
        );
    }

    #[test]
    fn part_sections() {
        use crate::imap::fetch::Part;
        let msg = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
            --b\r\nContent-Type: message/rfc822\r\n\r\n\
            Subject: inner\r\n\r\ninner body\r\n--b--\r\n";
        let get = |path: &[u32], part: Part| part_section(msg, path, &part).map(String::from_utf8);
        assert_eq!(get(&[1], Part::Whole), Some(Ok("hello".into())));
        assert_eq!(
            get(&[1], Part::Mime),
            Some(Ok("Content-Type: text/plain\r\n\r\n".into()))
        );
        assert_eq!(
            get(&[2], Part::Header),
            Some(Ok("Subject: inner\r\n\r\n".into()))
        );
        assert_eq!(get(&[2], Part::Text), Some(Ok("inner body".into())));
        assert_eq!(get(&[2, 1], Part::Whole), Some(Ok("inner body".into())));
        assert_eq!(get(&[3], Part::Whole), None);
        assert_eq!(get(&[1], Part::Header), None);
        // A single-part message: part 1 is its body.
        let single = b"Subject: s\r\n\r\nonly\r\n";
        assert_eq!(
            part_section(single, &[1], &Part::Whole).map(String::from_utf8),
            Some(Ok("only\r\n".into()))
        );
        assert_eq!(part_section(single, &[2], &Part::Whole), None);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut msg = String::new();
        for i in 0..200 {
            msg.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        msg.push_str("\r\nx\r\n");
        let mut out = Vec::new();
        structure(&mut out, msg.as_bytes(), true);
        assert!(out.starts_with(b"BODYSTRUCTURE ("));
    }

    #[test]
    fn rfc_3501_shape() {
        let msg = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
            From: Terry Gray <gray@cac.washington.edu>\r\n\
            Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
            To: imap@cac.washington.edu\r\n\
            cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
            Message-Id: <B27397-0100000@cac.washington.edu>\r\n\r\nbody\r\n";
        let mut out = Vec::new();
        envelope(&mut out, msg);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
             \"IMAP4rev1 WG mtg summary and minutes\" \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((NIL NIL \"imap\" \"cac.washington.edu\")) \
             ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")\
             (\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
             \"<B27397-0100000@cac.washington.edu>\")"
        );
    }

    #[test]
    fn missing_header_and_non_ascii_name() {
        let mut out = Vec::new();
        envelope(&mut out, "From: Jürgen <j@example.com>\r\n\r\n".as_bytes());
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "ENVELOPE (NIL NIL ((\"=?utf-8?b?SsO8cmdlbg==?=\" NIL \"j\" \"example.com\")) \
             ((\"=?utf-8?b?SsO8cmdlbg==?=\" NIL \"j\" \"example.com\")) \
             ((\"=?utf-8?b?SsO8cmdlbg==?=\" NIL \"j\" \"example.com\")) NIL NIL NIL NIL NIL)"
        );
    }
}
