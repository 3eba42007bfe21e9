//! The global signature (§4.3.4, MAP-6): a footer added to the bottom of the copy of a
//! message a local user sends to the Internet. Not to local copies, mail from the
//! Internet, or mail relayed for a sender who is not a local user.
//!
//! Which signature: a sender who used SMTP AUTH gets the "signature for
//! authenticated users" when one is set, with its `[attribute]` tags filled from the
//! address book entry of the account (`core::directory`); everyone else the default
//! one. An account with `no_signature` (which needs AUTH to be known) gets none.
//!
//! Where it goes: into the message's text, found with `mail-parser`: a single
//! text/plain or text/html body; in `multipart/alternative` every text/plain and
//! text/html alternative; in `multipart/mixed` or `related` the first part, looked
//! into the same way (the body, not an attachment). Plain text gets the text form
//! after an empty line; HTML gets the HTML form before `</body>` (or at the end).
//! Quoted-printable and base64 bodies are decoded, extended and encoded again. A
//! part whose charset is neither UTF-8 nor ASCII gets only an ASCII signature; a
//! message mail-parser cannot read, or without such a part, is left as it is.

use std::borrow::Cow;

use base64::Engine;
use mail_parser::{Encoding, MessageParser, MimeHeaders, PartType};

use crate::address::Mailbox;
use crate::config::{Snapshot, MAX_SIGNATURE};
use crate::router::names::Names;
use crate::router::Source;

/// Multipart levels looked into for the body.
const MAX_DEPTH: usize = 4;

/// The two forms of the signature that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub text: String,
    pub html: String,
}

/// The signature for mail from `sender` (`auth_user` if the session used SMTP
/// AUTH) arriving by `source`, or `None` when none applies.
pub fn choose(
    snap: &Snapshot,
    source: &Source,
    sender: Option<&str>,
    auth_user: Option<&str>,
) -> Option<Chosen> {
    if *source != Source::Local {
        return None;
    }
    let names = Names::new(snap);
    // Only for a local user's mail: the authenticated account, else the sender's.
    let account = match auth_user {
        Some(u) => Some(snap.accounts.get(u)?),
        None => None,
    };
    let local_sender = sender
        .and_then(|s| Mailbox::parse(s).ok())
        .and_then(|m| names.local_account_of(&m).map(|a| a.name.clone()));
    if account.is_none() && local_sender.is_none() {
        return None;
    }
    if account.is_some_and(|a| a.no_signature) {
        return None;
    }
    let sig = &snap.config.signature;
    let (text, html) = match account {
        Some(a) if !(sig.auth_text.trim().is_empty() && sig.auth_html.trim().is_empty()) => {
            let attrs = crate::directory::attributes(a, &snap.config.default_domain);
            (
                fill_tags(&sig.auth_text, &attrs, false),
                fill_tags(&sig.auth_html, &attrs, true),
            )
        }
        _ => (sig.text.clone(), sig.html.clone()),
    };
    let bound = |s: String| -> String {
        let mut s = s;
        if s.len() > MAX_SIGNATURE {
            let mut cut = MAX_SIGNATURE;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        s.trim_end().to_string()
    };
    let (text, html) = (bound(text), bound(html));
    match (text.is_empty(), html.is_empty()) {
        (true, true) => None,
        (false, true) => Some(Chosen {
            html: text_to_html(&text),
            text,
        }),
        (true, false) => Some(Chosen {
            text: html_to_text(&html),
            html,
        }),
        (false, false) => Some(Chosen { text, html }),
    }
}

/// `[attribute]` tags (case-insensitive names) replaced by the entry's values; an
/// unknown attribute becomes empty. Values are escaped for HTML.
fn fill_tags(template: &str, attrs: &[(String, String)], html: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                let name = after[..close].to_ascii_lowercase();
                let value = attrs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                if html {
                    out.push_str(&escape_html(value));
                } else {
                    out.push_str(value);
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML form of a plain-text signature.
pub fn text_to_html(text: &str) -> String {
    format!(
        "<div>{}</div>",
        text.lines()
            .map(escape_html)
            .collect::<Vec<_>>()
            .join("<br>\r\n")
    )
}

/// The text form of an HTML signature: tags dropped, `<br>`, `</p>` and `</div>` as
/// line ends, the common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim()
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if matches!(tag.as_str(), "br" | "p" | "div" | "tr" | "li") && !out.ends_with('\n') {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Html,
}

/// A body to extend: its byte range in the message and how it is written.
struct Target {
    start: usize,
    end: usize,
    kind: Kind,
    encoding: Encoding,
    /// The charset allows UTF-8 (utf-8, us-ascii or none given).
    utf8: bool,
}

fn collect(msg: &mail_parser::Message<'_>, id: usize, depth: usize, out: &mut Vec<Target>) {
    let Some(part) = msg.parts.get(id) else {
        return;
    };
    match &part.body {
        PartType::Text(_) | PartType::Html(_) => {
            let kind = if matches!(part.body, PartType::Html(_)) {
                Kind::Html
            } else {
                Kind::Text
            };
            // An attachment that happens to be text is not the body.
            let attached = part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
            if attached {
                return;
            }
            let charset = part
                .content_type()
                .and_then(|c| c.attribute("charset"))
                .map(|c| c.to_ascii_lowercase());
            out.push(Target {
                start: part.offset_body as usize,
                end: part.offset_end as usize,
                kind,
                encoding: part.encoding,
                utf8: matches!(
                    charset.as_deref(),
                    None | Some("utf-8" | "utf8" | "us-ascii" | "ascii")
                ),
            });
        }
        PartType::Multipart(children) if depth < MAX_DEPTH => {
            let alternative = part
                .content_type()
                .and_then(|c| c.subtype())
                .is_some_and(|s| s.eq_ignore_ascii_case("alternative"));
            if alternative {
                for &c in children {
                    collect(msg, c as usize, depth + 1, out);
                }
            } else if let Some(&first) = children.first() {
                collect(msg, first as usize, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// The message with `sig` added; borrowed unchanged when there is nowhere to add it.
pub fn add_signature<'d>(data: &'d [u8], sig: &Chosen) -> Cow<'d, [u8]> {
    let Some(msg) = MessageParser::default().parse(data) else {
        return Cow::Borrowed(data);
    };
    let mut targets = Vec::new();
    collect(&msg, 0, 0, &mut targets);
    targets.retain(|t| t.start <= t.end && t.end <= data.len());
    if targets.is_empty() {
        return Cow::Borrowed(data);
    }
    // From the end backwards, so earlier offsets stay true.
    targets.sort_by_key(|t| std::cmp::Reverse(t.start));
    let mut out = data.to_vec();
    let mut changed = false;
    for t in &targets {
        let add = match t.kind {
            Kind::Text => &sig.text,
            Kind::Html => &sig.html,
        };
        if !t.utf8 && !add.is_ascii() {
            continue;
        }
        let at_end = t.end == data.len();
        if let Some(new) = extend_body(&data[t.start..t.end], t, add, at_end) {
            out.splice(t.start..t.end, new);
            changed = true;
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(data)
    }
}

/// The body's text and the line ends after it (which belong to the boundary that
/// follows, or end the message).
fn split_tail(body: &[u8]) -> (&[u8], &[u8]) {
    let mut end = body.len();
    while end > 0 && matches!(body[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    (&body[..end], &body[end..])
}

fn crlf_lines(s: &str) -> String {
    s.lines().collect::<Vec<_>>().join("\r\n")
}

/// `content` (decoded) with the signature in place.
fn insert(content: &str, kind: Kind, add: &str) -> String {
    match kind {
        Kind::Text => format!("{content}\r\n\r\n{}", crlf_lines(add)),
        Kind::Html => {
            let lower = content.to_ascii_lowercase();
            match lower.rfind("</body") {
                Some(at) => format!("{}{}\r\n{}", &content[..at], add, &content[at..]),
                None => format!("{content}\r\n{add}"),
            }
        }
    }
}

/// `at_end`: the body ends the message (else the line end before the next boundary
/// is the boundary's, outside `body`).
fn extend_body(body: &[u8], t: &Target, add: &str, at_end: bool) -> Option<Vec<u8>> {
    let (content, tail) = split_tail(body);
    let tail = if tail.is_empty() && at_end {
        &b"\r\n"[..]
    } else {
        tail
    };
    let mut out = match t.encoding {
        Encoding::None => {
            let text = std::str::from_utf8(content).ok()?;
            insert(text, t.kind, add).into_bytes()
        }
        Encoding::QuotedPrintable => {
            let decoded =
                mail_parser::decoders::quoted_printable::quoted_printable_decode(content)?;
            let text = String::from_utf8(decoded).ok()?;
            let new = insert(&text, t.kind, add);
            qp_encode(new.as_bytes())
        }
        Encoding::Base64 => {
            let compact: Vec<u8> = content
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let new = insert(&text, t.kind, add);
            let encoded = base64::engine::general_purpose::STANDARD.encode(new.as_bytes());
            encoded
                .as_bytes()
                .chunks(76)
                .collect::<Vec<_>>()
                .join(&b"\r\n"[..])
        }
    };
    out.extend_from_slice(tail);
    Some(out)
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF line ends kept as line ends and lines
/// of at most 76 characters (soft breaks `=`).
fn qp_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split("\r\n").collect();
    for (i, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let mut width = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let plain = (b == b'\t' || b == b' ') && !last || (b.is_ascii_graphic() && b != b'=');
            let piece: Vec<u8> = if plain {
                vec![b]
            } else {
                format!("={b:02X}").into_bytes()
            };
            if width + piece.len() > 75 {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            width += piece.len();
            out.extend_from_slice(&piece);
        }
        if i + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The outbound copy with the signature that applies, if any.
pub fn signed_copy<'d>(
    snap: &Snapshot,
    source: &Source,
    sender: Option<&str>,
    auth_user: Option<&str>,
    data: &'d [u8],
) -> Cow<'d, [u8]> {
    match choose(snap, source, sender, auth_user) {
        Some(sig) => add_signature(data, &sig),
        None => Cow::Borrowed(data),
    }
}
