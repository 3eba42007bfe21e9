//! FETCH ENVELOPE (RFC 3501 §7.4.2), from the message's header as mail-parser reads
//! it. Date, subject, In-Reply-To and Message-ID are sent as they stand in the
//! header (unfolded), as Dovecot does; display names are decoded by mail-parser, so
//! a non-ASCII one is sent again as an RFC 2047 encoded word.

use super::write;
use base64::Engine as _;
use mail_parser::{Addr, Address, HeaderName, Message, MessageParser};

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
                        for addr in &g.addresses {
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
    out.extend_from_slice(b" NIL ");
    let address = a.address.as_deref().unwrap_or("");
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
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

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
