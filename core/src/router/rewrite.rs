//! The copy of a message that leaves for the Internet (MAP-6): users' Internet reply
//! addresses (§4.2.3.4.2) in every outbound copy, and for mail local users send, the
//! domain mappings (§12.2) and the global header modifiers (§4.3.5). Local copies are
//! never changed.

use super::expand::domain_mapped;
use super::headers::{address_spans, fields, header_end, HeaderView};
use super::names::{address_part, Names};
use super::Source;
use crate::address::Mailbox;
use crate::config::Snapshot;
use std::borrow::Cow;

/// The header fields whose addresses are rewritten (§4.2.3.4.2).
const ADDRESS_FIELDS: [&str; 6] = [
    "To",
    "From",
    "Reply-To",
    "Cc",
    "Sender",
    "Return-Receipt-To",
];

/// One parsed global header modifier: set `name` to `value`, or remove it (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEdit {
    pub name: String,
    pub value: Option<String>,
}

/// Parse `"Field: data"` / `"Field:"` (§4.3.5).
pub fn parse_header_edit(s: &str) -> Result<HeaderEdit, String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(format!(
            "{s:?} has no ':'; write \"Field: data\" to set a field or \"Field:\" to remove it"
        ));
    };
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(format!(
            "{name:?} is not a header field name (printable ASCII without spaces)"
        ));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!("the value of {name} contains a line break"));
    }
    let value = value.trim();
    Ok(HeaderEdit {
        name: name.to_string(),
        value: (!value.is_empty()).then(|| value.to_string()),
    })
}

/// `%O` = originator's address, `%N` = originator's name, `%%` = `%` (§4.3.5).
pub fn expand_header_value(value: &str, address: &str, name: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('O') => {
                out.push_str(address);
                chars.next();
            }
            Some('N') => {
                out.push_str(name);
                chars.next();
            }
            Some('%') => {
                out.push('%');
                chars.next();
            }
            _ => out.push('%'),
        }
    }
    out.replace(['\r', '\n'], " ")
}

/// The outbound copy of `data`; borrowed unchanged when nothing applies, so the common
/// case costs no copy of a large message.
pub fn outbound_message<'d>(
    snap: &Snapshot,
    source: &Source,
    sender: Option<&str>,
    data: &'d [u8],
) -> Cow<'d, [u8]> {
    let names = Names::new(snap);
    let local = *source == Source::Local;
    let edits: Vec<HeaderEdit> = if local {
        snap.config
            .local_mail
            .global_headers
            .iter()
            .filter_map(|h| parse_header_edit(h).ok())
            .collect()
    } else {
        Vec::new()
    };
    let any_reply = snap
        .accounts
        .iter()
        .any(|a| names.effective(a).reply_address.is_some());
    let any_domain_map = local && !snap.config.local_mail.domain_mappings.is_empty();
    if edits.is_empty() && !any_reply && !any_domain_map {
        return Cow::Borrowed(data);
    }

    let end = header_end(data);
    let block_end = blank_line_start(data, end);
    let rewrite = |addr: &str| -> Option<String> {
        let m = Mailbox::parse(addr).ok()?;
        let mut out: Option<String> = names
            .local_account_of(&m)
            .and_then(|a| names.effective(a).reply_address)
            .map(|r| address_part(&r).to_string());
        if local {
            let base = out.clone().unwrap_or_else(|| addr.to_string());
            if let Some(mapped) = domain_mapped(snap, &base) {
                out = Some(mapped);
            }
        }
        out.filter(|o| o != addr)
    };

    let view = HeaderView::parse(data);
    let originator = view
        .from
        .first()
        .cloned()
        .or_else(|| sender.map(str::to_string))
        .unwrap_or_default();
    let originator_name = view.from_name.clone().unwrap_or_else(|| originator.clone());

    let mut out = Vec::with_capacity(data.len() + 256);
    let mut pos = 0;
    let mut applied = vec![false; edits.len()];
    for f in fields(data, block_end) {
        out.extend_from_slice(&data[pos..f.start]);
        pos = f.end;
        if let Some(i) = edits.iter().position(|e| f.is(data, &e.name)) {
            // The first occurrence is modified in place; any others go.
            if !applied[i] {
                applied[i] = true;
                if let Some(v) = &edits[i].value {
                    let v = expand_header_value(v, &originator, &originator_name);
                    out.extend_from_slice(format!("{}: {v}\r\n", edits[i].name).as_bytes());
                }
            }
            continue;
        }
        if ADDRESS_FIELDS.iter().any(|n| f.is(data, n)) {
            let value_start = f.start + f.name_len + 1;
            out.extend_from_slice(&data[f.start..value_start]);
            let value = &data[value_start..f.end];
            let mut last = 0;
            for (s, e) in address_spans(value) {
                let addr = String::from_utf8_lossy(&value[s..e]);
                if let Some(new) = rewrite(&addr) {
                    out.extend_from_slice(&value[last..s]);
                    out.extend_from_slice(new.as_bytes());
                    last = e;
                }
            }
            out.extend_from_slice(&value[last..]);
        } else {
            out.extend_from_slice(&data[f.start..f.end]);
        }
    }
    out.extend_from_slice(&data[pos..block_end]);
    for (e, done) in edits.iter().zip(&applied) {
        if let (false, Some(v)) = (done, &e.value) {
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
            let v = expand_header_value(v, &originator, &originator_name);
            out.extend_from_slice(format!("{}: {v}\r\n", e.name).as_bytes());
        }
    }
    out.extend_from_slice(&data[block_end..]);
    if out == data {
        Cow::Borrowed(data)
    } else {
        Cow::Owned(out)
    }
}

/// Where the empty line that ends the header starts (`end` is just after it), or
/// `end` itself when there is no empty line.
fn blank_line_start(data: &[u8], end: usize) -> usize {
    if data[..end].ends_with(b"\r\n\r\n") {
        end - 2
    } else if data[..end].ends_with(b"\n\n") {
        end - 1
    } else if (end == 2 && data.starts_with(b"\r\n")) || (end == 1 && data.starts_with(b"\n")) {
        0
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_edits_parse() {
        assert_eq!(
            parse_header_edit("Organisation: Paul Smith Computer Services"),
            Ok(HeaderEdit {
                name: "Organisation".into(),
                value: Some("Paul Smith Computer Services".into())
            })
        );
        assert_eq!(
            parse_header_edit("Organisation:"),
            Ok(HeaderEdit {
                name: "Organisation".into(),
                value: None
            })
        );
        assert!(parse_header_edit("no colon").is_err());
        assert!(parse_header_edit("Two words: x").is_err());
        assert!(parse_header_edit(": x").is_err());
    }

    #[test]
    fn percent_expansion() {
        assert_eq!(
            expand_header_value("%N <%O> 100%% %x", "fred@x.com", "Fred"),
            "Fred <fred@x.com> 100% %x"
        );
        assert_eq!(expand_header_value("50%", "a", "b"), "50%");
    }

    #[test]
    fn blank_line() {
        assert_eq!(blank_line_start(b"A: b\r\n\r\nbody", 8), 6);
        assert_eq!(blank_line_start(b"A: b\n\nbody", 6), 5);
        assert_eq!(blank_line_start(b"A: b\r\n", 6), 6);
        assert_eq!(blank_line_start(b"\r\nbody", 2), 0);
    }
}
