//! IMAP URLs (RFC 5092) naming a message or a part of one on this server, as
//! CATENATE's `URL` parts use them (RFC 4469 §3): `/mailbox;UIDVALIDITY=v/;UID=u
//! /;SECTION=s/;PARTIAL=o.n`, or the same after `imap://[user@]host[:port]`.

use super::fetch::Part;
use crate::mailbox::decode_mutf7;

/// Longest URL taken apart; anything longer is not one of ours.
const MAX_URL: usize = 2048;

/// A message (or part of one) a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MessageUrl {
    /// The `user` of an absolute URL, as written (percent-decoded).
    pub user: Option<String>,
    /// Folder name, decoded from modified UTF-7.
    pub folder: String,
    pub uid_validity: Option<u32>,
    pub uid: u32,
    /// MIME part numbers; empty = the whole message.
    pub path: Vec<u32>,
    pub part: Part,
    pub partial: Option<(u32, u32)>,
}

/// Take `url` apart; `None` if it is not an IMAP message URL.
pub(super) fn parse(url: &str) -> Option<MessageUrl> {
    if url.len() > MAX_URL {
        return None;
    }
    let (user, rest) = match strip_prefix_ci(url, "imap://") {
        Some(after) => {
            let slash = after.find('/')?;
            let authority = &after[..slash];
            let user = authority.rsplit_once('@').map(|(u, _)| {
                let u = u.split(';').next().unwrap_or(u);
                percent_decode(u).unwrap_or_default()
            });
            (user, &after[slash..])
        }
        None => (None, url),
    };
    let rest = rest.strip_prefix('/')?;
    let mut segments = rest.split('/');
    let mailbox_seg = segments.next()?;
    let (mbox, params) = match mailbox_seg.split_once(';') {
        Some((m, p)) => (m, Some(p)),
        None => (mailbox_seg, None),
    };
    let raw = percent_decode(mbox)?;
    if raw.is_empty() {
        return None;
    }
    let folder = if raw.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        decode_mutf7(&raw).ok()?
    };
    let uid_validity = match params {
        Some(p) => Some(param(p, "UIDVALIDITY")?.parse().ok().filter(|&v| v > 0)?),
        None => None,
    };
    let mut uid = None;
    let mut section = None;
    let mut partial = None;
    for seg in segments {
        let seg = seg.strip_prefix(';')?;
        let (name, value) = seg.split_once('=')?;
        let value = percent_decode(value)?;
        if name.eq_ignore_ascii_case("UID") && uid.is_none() {
            uid = Some(value.parse::<u32>().ok().filter(|&u| u > 0)?);
        } else if name.eq_ignore_ascii_case("SECTION") && uid.is_some() && section.is_none() {
            section = Some(value);
        } else if name.eq_ignore_ascii_case("PARTIAL") && uid.is_some() && partial.is_none() {
            let (o, n) = match value.split_once('.') {
                Some((o, n)) => (o.parse().ok()?, n.parse::<u32>().ok().filter(|&n| n > 0)?),
                None => (value.parse().ok()?, u32::MAX),
            };
            partial = Some((o, n));
        } else if name.eq_ignore_ascii_case("EXPIRE") || name.eq_ignore_ascii_case("URLAUTH") {
            // URLAUTH's own parts (RFC 4467) are checked by whoever needs them.
            continue;
        } else {
            return None;
        }
    }
    let (path, part) = match section {
        Some(s) => parse_section(&s)?,
        None => (Vec::new(), Part::Whole),
    };
    Some(MessageUrl {
        user,
        folder,
        uid_validity,
        uid: uid?,
        path,
        part,
        partial,
    })
}

fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    let (n, v) = params.split_once('=')?;
    n.eq_ignore_ascii_case(name).then_some(v)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `%XX` undone; `None` if that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A FETCH section spec (RFC 3501 §6.4.5) as a URL gives it: `1.2`, `HEADER`,
/// `2.TEXT`, `1.MIME`, `HEADER.FIELDS (A B)`.
pub(super) fn parse_section(s: &str) -> Option<(Vec<u32>, Part)> {
    let mut path = Vec::new();
    let mut rest = s.trim();
    while let Some(c) = rest.chars().next() {
        if !c.is_ascii_digit() {
            break;
        }
        let end = rest.find('.').unwrap_or(rest.len());
        path.push(rest[..end].parse::<u32>().ok().filter(|&n| n > 0)?);
        rest = rest.get(end + 1..).unwrap_or("");
        if path.len() > 32 {
            return None;
        }
    }
    let upper = rest.to_ascii_uppercase();
    let part = match upper.as_str() {
        "" => Part::Whole,
        "HEADER" => Part::Header,
        "TEXT" => Part::Text,
        "MIME" if !path.is_empty() => Part::Mime,
        _ => {
            let (not, list) = if let Some(l) = upper.strip_prefix("HEADER.FIELDS.NOT") {
                (true, l)
            } else {
                (false, upper.strip_prefix("HEADER.FIELDS")?)
            };
            let list = list.trim().strip_prefix('(')?.strip_suffix(')')?;
            let names = list
                .split_whitespace()
                .map(|n| n.trim_matches('"').to_ascii_lowercase())
                .collect::<Vec<_>>();
            if names.is_empty() {
                return None;
            }
            Part::Fields { names, not }
        }
    };
    Some((path, part))
}

/// The bytes `url` names in `msg` (its wire form), `None` if the part is not there.
pub(super) fn extract(msg: &[u8], url: &MessageUrl) -> Option<Vec<u8>> {
    let data = if url.path.is_empty() {
        super::fetch::section(msg, &url.part).into_owned()
    } else {
        super::envelope::part_section(msg, &url.path, &url.part)?
    };
    Some(super::binary::partial(&data, url.partial).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute() {
        let u = parse("/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9").unwrap();
        assert_eq!(u.folder, "INBOX");
        assert_eq!(u.uid_validity, Some(785799047));
        assert_eq!(u.uid, 113330);
        assert_eq!(u.path, vec![1, 5, 9]);
        assert_eq!(u.part, Part::Whole);
        let u = parse("imap://fred@example.com/my%20box/;uid=20/;section=header;").is_none();
        assert!(u, "a stray ; after the section is not ours");
        let u = parse("imap://fred@example.com/my%20box/;uid=20/;section=header").unwrap();
        assert_eq!(u.user.as_deref(), Some("fred"));
        assert_eq!(u.folder, "my box");
        assert_eq!(u.part, Part::Header);
        let u = parse("/Drafts/;UID=3/;PARTIAL=100000.1").unwrap();
        assert_eq!(u.partial, Some((100000, 1)));
        assert_eq!(parse("/INBOX/;UID=0"), None);
        assert_eq!(parse("/INBOX;UIDVALIDITY=x/;UID=1"), None);
        assert_eq!(parse("INBOX/;UID=1"), None);
        assert_eq!(parse("/INBOX"), None);
    }

    #[test]
    fn sections() {
        assert_eq!(parse_section("2.TEXT"), Some((vec![2], Part::Text)));
        assert_eq!(parse_section("1.mime"), Some((vec![1], Part::Mime)));
        assert_eq!(parse_section("MIME"), None);
        assert_eq!(
            parse_section("HEADER.FIELDS (Subject From)"),
            Some((
                vec![],
                Part::Fields {
                    names: vec!["subject".into(), "from".into()],
                    not: false
                }
            ))
        );
    }
}
