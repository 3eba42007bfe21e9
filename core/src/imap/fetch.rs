//! FETCH: the data items of one message. Items the index answers (FLAGS, UID,
//! INTERNALDATE, RFC822.SIZE, MODSEQ) are written at once; the body items (BODY[…],
//! BODY.PEEK[…], RFC822, RFC822.HEADER, RFC822.TEXT) need the message's bytes, which
//! the session asks for one message at a time ([`super::ImapEvent::Message`]), so a
//! FETCH of a whole folder never holds more than one message.
//!
//! ENVELOPE, BODYSTRUCTURE, BODY and MIME part sections are `envelope.rs`'s;
//! BINARY[…] and BINARY.SIZE[…] decode with `binary.rs`.

use super::select::Selected;
use super::write;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName, Section,
};

/// A FETCH item this version answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Flags,
    Uid,
    InternalDate,
    Size,
    ModSeq,
    Envelope,
    /// BODYSTRUCTURE (`true`) or BODY (`false`).
    Structure(bool),
    /// A body section; `peek` leaves `\Seen` alone.
    Body {
        /// MIME part numbers (RFC 3501 §6.4.5); empty = the whole message.
        path: Vec<u32>,
        part: Part,
        partial: Option<(u32, u32)>,
        peek: bool,
        /// How the response names it: `BODY[HEADER]`, `RFC822`, …
        label: String,
    },
    /// BINARY[path]<partial> / BINARY.PEEK (RFC 3516).
    Binary {
        path: Vec<u32>,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    /// BINARY.SIZE[path].
    BinarySize(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Whole,
    Header,
    Text,
    /// A part's own MIME header (`n.MIME`).
    Mime,
    /// HEADER.FIELDS (`not` false) or HEADER.FIELDS.NOT, names lower-cased.
    Fields {
        names: Vec<String>,
        not: bool,
    },
}

/// Part numbers deeper than this are refused (no real message nests so deep).
const MAX_PART_DEPTH: usize = 32;

/// An item this version cannot answer yet (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NotYet(pub(super) &'static str);

/// The items asked for, UID first when the command is UID FETCH (RFC 3501 §6.4.8).
pub(super) fn items(
    asked: &MacroOrMessageDataItemNames<'_>,
    uid_cmd: bool,
    modseq: bool,
) -> Result<Vec<Item>, NotYet> {
    let names: Vec<MessageDataItemName<'_>> = match asked {
        MacroOrMessageDataItemNames::Macro(m) => match m {
            Macro::Fast => vec![
                MessageDataItemName::Flags,
                MessageDataItemName::InternalDate,
                MessageDataItemName::Rfc822Size,
            ],
            Macro::All => vec![
                MessageDataItemName::Flags,
                MessageDataItemName::InternalDate,
                MessageDataItemName::Rfc822Size,
                MessageDataItemName::Envelope,
            ],
            Macro::Full => vec![
                MessageDataItemName::Flags,
                MessageDataItemName::InternalDate,
                MessageDataItemName::Rfc822Size,
                MessageDataItemName::Envelope,
                MessageDataItemName::Body,
            ],
            _ => return Err(NotYet("this macro")),
        },
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v.clone(),
    };
    let mut out = Vec::new();
    if uid_cmd {
        out.push(Item::Uid);
    }
    for n in &names {
        let item = match n {
            MessageDataItemName::Flags => Item::Flags,
            MessageDataItemName::Uid => Item::Uid,
            MessageDataItemName::InternalDate => Item::InternalDate,
            MessageDataItemName::Rfc822Size => Item::Size,
            MessageDataItemName::ModSeq => Item::ModSeq,
            MessageDataItemName::Rfc822 => body(Part::Whole, None, false, "RFC822".into()),
            MessageDataItemName::Rfc822Header => {
                body(Part::Header, None, true, "RFC822.HEADER".into())
            }
            MessageDataItemName::Rfc822Text => body(Part::Text, None, false, "RFC822.TEXT".into()),
            MessageDataItemName::BodyExt {
                section,
                partial,
                peek,
            } => {
                let nums = |p: &imap_codec::imap_types::fetch::Part| -> Vec<u32> {
                    p.0.as_ref().iter().map(|n| n.get()).collect()
                };
                let (path, (part, name)) = match section {
                    None => (Vec::new(), (Part::Whole, String::new())),
                    Some(Section::Part(p)) => (nums(p), (Part::Whole, String::new())),
                    Some(Section::Mime(p)) => (nums(p), (Part::Mime, "MIME".into())),
                    Some(Section::Header(p)) => (
                        p.as_ref().map(nums).unwrap_or_default(),
                        (Part::Header, "HEADER".into()),
                    ),
                    Some(Section::Text(p)) => (
                        p.as_ref().map(nums).unwrap_or_default(),
                        (Part::Text, "TEXT".into()),
                    ),
                    Some(Section::HeaderFields(p, names)) => (
                        p.as_ref().map(nums).unwrap_or_default(),
                        fields(names.as_ref(), false),
                    ),
                    Some(Section::HeaderFieldsNot(p, names)) => (
                        p.as_ref().map(nums).unwrap_or_default(),
                        fields(names.as_ref(), true),
                    ),
                };
                if path.len() > MAX_PART_DEPTH {
                    return Err(NotYet("a part nested this deep"));
                }
                let mut numbered: Vec<String> = path.iter().map(u32::to_string).collect();
                if !name.is_empty() {
                    numbered.push(name);
                }
                let name = numbered.join(".");
                let partial = partial.map(|(o, n)| (o, n.get()));
                let origin = partial.map(|(o, _)| format!("<{o}>")).unwrap_or_default();
                let mut item = body(part, partial, *peek, format!("BODY[{name}]{origin}"));
                if let Item::Body { path: p, .. } = &mut item {
                    *p = path;
                }
                item
            }
            MessageDataItemName::Envelope => Item::Envelope,
            MessageDataItemName::BodyStructure => Item::Structure(true),
            MessageDataItemName::Body => Item::Structure(false),
            MessageDataItemName::Binary {
                section,
                partial,
                peek,
            } => Item::Binary {
                path: section.iter().map(|n| n.get()).collect(),
                partial: partial.map(|(o, n)| (o, n.get())),
                peek: *peek,
            },
            MessageDataItemName::BinarySize { section } => {
                Item::BinarySize(section.iter().map(|n| n.get()).collect())
            }
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if modseq && !out.contains(&Item::ModSeq) {
        out.push(Item::ModSeq);
    }
    Ok(out)
}

fn body(part: Part, partial: Option<(u32, u32)>, peek: bool, label: String) -> Item {
    Item::Body {
        path: Vec::new(),
        part,
        partial,
        peek,
        label,
    }
}

fn fields(names: &[imap_codec::imap_types::core::AString<'_>], not: bool) -> (Part, String) {
    let list: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
        .collect();
    let label = format!(
        "HEADER.FIELDS{} ({})",
        if not { ".NOT" } else { "" },
        list.iter()
            .map(|n| n.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let names = list.iter().map(|n| n.to_ascii_lowercase()).collect();
    (Part::Fields { names, not }, label)
}

/// Does any item need the message's bytes?
pub(super) fn needs_bytes(items: &[Item]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            Item::Body { .. }
                | Item::Envelope
                | Item::Structure(_)
                | Item::Binary { .. }
                | Item::BinarySize(_)
        )
    })
}

/// Does any item set `\Seen` (a non-peek body item, RFC 3501 §6.4.5)?
pub(super) fn sets_seen(items: &[Item]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            Item::Body { peek: false, .. } | Item::Binary { peek: false, .. }
        )
    })
}

/// `* seq FETCH (…)` for one message; `bytes` is there when [`needs_bytes`].
/// `Err(UnknownCte)`: a BINARY item met an encoding it cannot undo (written as NIL;
/// the command ends `NO [UNKNOWN-CTE]`, RFC 3516 §4.1).
pub(super) fn write_one(
    out: &mut Vec<u8>,
    sel: &Selected,
    seq: u32,
    uid: u32,
    items: &[Item],
    bytes: Option<&[u8]>,
) -> Result<(), super::binary::UnknownCte> {
    let mut result = Ok(());
    let Some(m) = sel.meta(uid) else {
        return result;
    };
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match item {
            Item::Flags => {
                out.extend_from_slice(b"FLAGS ");
                sel.flags(out, uid);
            }
            Item::Uid => out.extend_from_slice(format!("UID {uid}").as_bytes()),
            Item::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE ");
                write::date_time(out, m.internal_date);
            }
            Item::Size => out.extend_from_slice(format!("RFC822.SIZE {}", m.size).as_bytes()),
            Item::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes()),
            Item::Envelope => super::envelope::envelope(out, bytes.unwrap_or_default()),
            Item::Structure(ext) => {
                super::envelope::structure(out, bytes.unwrap_or_default(), *ext)
            }
            Item::Body {
                path,
                part,
                partial,
                label,
                ..
            } => {
                out.extend_from_slice(label.as_bytes());
                out.push(b' ');
                let whole = bytes.unwrap_or_default();
                let data = if path.is_empty() {
                    section(whole, part)
                } else {
                    match super::envelope::part_section(whole, path, part) {
                        Some(d) => std::borrow::Cow::Owned(d),
                        None => {
                            // RFC 3501 §6.4.5 leaves a missing part to the server;
                            // NIL is what Dovecot sends.
                            out.extend_from_slice(b"NIL");
                            continue;
                        }
                    }
                };
                let data = match partial {
                    Some((origin, len)) => {
                        let start = usize::try_from(*origin)
                            .unwrap_or(usize::MAX)
                            .min(data.len());
                        let end = start
                            .saturating_add(usize::try_from(*len).unwrap_or(usize::MAX))
                            .min(data.len());
                        std::borrow::Cow::Owned(data[start..end].to_vec())
                    }
                    None => data,
                };
                write::literal(out, &data);
            }
            Item::Binary { path, partial, .. } => {
                out.extend_from_slice(format!("BINARY[{}]", dotted(path)).as_bytes());
                if let Some((origin, _)) = partial {
                    out.extend_from_slice(format!("<{origin}>").as_bytes());
                }
                out.push(b' ');
                match super::binary::section(bytes.unwrap_or_default(), path) {
                    Ok(Some(d)) => {
                        super::binary::literal(out, super::binary::partial(&d, *partial))
                    }
                    Ok(None) => out.extend_from_slice(b"NIL"),
                    Err(e) => {
                        out.extend_from_slice(b"NIL");
                        result = Err(e);
                    }
                }
            }
            Item::BinarySize(path) => {
                out.extend_from_slice(format!("BINARY.SIZE[{}] ", dotted(path)).as_bytes());
                match super::binary::section(bytes.unwrap_or_default(), path) {
                    Ok(Some(d)) => out.extend_from_slice(d.len().to_string().as_bytes()),
                    Ok(None) => out.extend_from_slice(b"NIL"),
                    Err(e) => {
                        out.extend_from_slice(b"NIL");
                        result = Err(e);
                    }
                }
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    result
}

fn dotted(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Where the header ends (after its blank line) and the body starts.
pub(super) fn header_end(msg: &[u8]) -> usize {
    split(msg)
}

fn split(msg: &[u8]) -> usize {
    if let Some(i) = memchr::memmem::find(msg, b"\r\n\r\n") {
        return i + 4;
    }
    if msg.starts_with(b"\r\n") {
        return 2;
    }
    // No blank line: all header (RFC 3501 §6.4.5 leaves it to the server).
    msg.len()
}

pub(super) fn section<'m>(msg: &'m [u8], part: &Part) -> std::borrow::Cow<'m, [u8]> {
    use std::borrow::Cow;
    let cut = split(msg);
    match part {
        Part::Whole | Part::Mime => Cow::Borrowed(msg),
        Part::Header => Cow::Borrowed(&msg[..cut]),
        Part::Text => Cow::Borrowed(&msg[cut..]),
        Part::Fields { names, not } => {
            let mut out = Vec::new();
            for field in header_fields(&msg[..cut]) {
                let name = field.iter().position(|&b| b == b':').map(|i| {
                    String::from_utf8_lossy(&field[..i])
                        .trim()
                        .to_ascii_lowercase()
                });
                let listed = name.is_some_and(|n| names.contains(&n));
                if listed != *not {
                    out.extend_from_slice(field);
                }
            }
            out.extend_from_slice(b"\r\n");
            Cow::Owned(out)
        }
    }
}

/// The header's fields, each with its continuation lines and final CRLF.
pub(super) fn header_fields(header: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < header.len() {
        let end = memchr::memchr(b'\n', &header[pos..]).map_or(header.len(), |i| pos + i + 1);
        let line = &header[pos..end];
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        if !continues && pos > start {
            fields.push(&header[start..pos]);
            start = pos;
        }
        if line == b"\r\n" || line == b"\n" {
            // The blank line ending the header is not a field.
            start = end;
        }
        pos = end;
    }
    if pos > start {
        fields.push(&header[start..pos]);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_keep_continuations() {
        let msg = b"From: a\r\nSubject: x\r\n y\r\nTo: b\r\n\r\nbody\r\n";
        let part = Part::Fields {
            names: vec!["subject".into()],
            not: false,
        };
        assert_eq!(&*section(msg, &part), b"Subject: x\r\n y\r\n\r\n");
        let not = Part::Fields {
            names: vec!["subject".into()],
            not: true,
        };
        assert_eq!(&*section(msg, &not), b"From: a\r\nTo: b\r\n\r\n");
        assert_eq!(&*section(msg, &Part::Text), b"body\r\n");
        assert_eq!(
            &*section(msg, &Part::Header),
            b"From: a\r\nSubject: x\r\n y\r\nTo: b\r\n\r\n"
        );
    }
}
