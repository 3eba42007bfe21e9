//! SMTP command parsing (RFC 5321 §4.1, with the ESMTP parameters of RFC 1870, 6152,
//! 6531, 3461, 3030 and 4954). Pure: a line in, a [`Command`] or a refusal out.

use super::reply::Refusal;
use crate::address::{parse_path, AddressError, Path};

/// `BODY=` values we accept (BINARYMIME is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    SevenBit,
    EightBitMime,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MailParams {
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub ret: Option<String>,
    pub envid: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RcptParams {
    pub notify: Option<String>,
    pub orcpt: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// The whole argument; the name is its first word.
    Ehlo(&'a str),
    Helo(&'a str),
    Mail(Path, MailParams),
    Rcpt(Path, RcptParams),
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    Auth {
        mechanism: &'a str,
        initial: Option<&'a str>,
    },
    StartTls,
    /// RFC 1985: the node as given (`domain`, `@domain` or `#queue`).
    Etrn(&'a str),
}

/// How a command line was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// 500: not a command we know.
    Unknown,
    /// Any other refusal (syntax 501, unknown parameter 555, ...).
    Refused(Refusal),
}

const fn refused(code: u16, status: &'static str, text: &'static str) -> ParseError {
    ParseError::Refused(Refusal { code, status, text })
}

/// Longest ENVID (RFC 3461 §4.4) and ORCPT (§4.2) values.
const MAX_ENVID: usize = 100;
const MAX_ORCPT: usize = 500;

/// Parse one command line (terminator already removed).
pub(crate) fn parse(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let verb_end = memchr::memchr(b' ', line).unwrap_or(line.len());
    let verb = &line[..verb_end];
    let Ok(args) = std::str::from_utf8(line.get(verb_end + 1..).unwrap_or(&[])) else {
        return if known_verb(verb) {
            Err(refused(501, "5.5.2", "Invalid UTF-8 in command"))
        } else {
            Err(ParseError::Unknown)
        };
    };
    if args.chars().any(|c| c.is_control() && c != '\t') {
        return if known_verb(verb) {
            Err(refused(501, "5.5.2", "Control characters in command"))
        } else {
            Err(ParseError::Unknown)
        };
    }
    let args = args.trim_matches(|c| c == ' ' || c == '\t');
    let is = |name: &str| verb.eq_ignore_ascii_case(name.as_bytes());
    if is("EHLO") || is("HELO") {
        if args.is_empty() {
            return Err(if is("EHLO") {
                refused(501, "5.5.4", "Syntax: EHLO hostname")
            } else {
                refused(501, "5.5.4", "Syntax: HELO hostname")
            });
        }
        return Ok(if is("EHLO") {
            Command::Ehlo(args)
        } else {
            Command::Helo(args)
        });
    }
    if is("MAIL") {
        let rest = strip_keyword(args, "FROM:").ok_or(refused(
            501,
            "5.5.4",
            "Syntax: MAIL FROM:<address>",
        ))?;
        let (path, params) = parse_path(rest).map_err(|e| path_error(e, true))?;
        return Ok(Command::Mail(path, mail_params(params)?));
    }
    if is("RCPT") {
        let rest =
            strip_keyword(args, "TO:").ok_or(refused(501, "5.5.4", "Syntax: RCPT TO:<address>"))?;
        let (path, params) = parse_path(rest).map_err(|e| path_error(e, false))?;
        return Ok(Command::Rcpt(path, rcpt_params(params)?));
    }
    if is("BDAT") {
        let mut words = args.split(' ').filter(|w| !w.is_empty());
        let bad = refused(501, "5.5.4", "Syntax: BDAT size [LAST]");
        let size = words
            .next()
            .filter(|w| w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|w| w.parse::<u64>().ok())
            .ok_or(bad)?;
        let last = match words.next() {
            None => false,
            Some(w) if w.eq_ignore_ascii_case("LAST") => true,
            Some(_) => return Err(refused(501, "5.5.4", "Syntax: BDAT size [LAST]")),
        };
        if words.next().is_some() {
            return Err(refused(501, "5.5.4", "Syntax: BDAT size [LAST]"));
        }
        return Ok(Command::Bdat { size, last });
    }
    if is("AUTH") {
        let mut words = args.split(' ').filter(|w| !w.is_empty());
        let mechanism = words.next().ok_or(refused(
            501,
            "5.5.4",
            "Syntax: AUTH mechanism [initial-response]",
        ))?;
        let initial = words.next();
        if words.next().is_some() {
            return Err(refused(
                501,
                "5.5.4",
                "Syntax: AUTH mechanism [initial-response]",
            ));
        }
        return Ok(Command::Auth { mechanism, initial });
    }
    if is("VRFY") {
        if args.is_empty() {
            return Err(refused(501, "5.5.4", "Syntax: VRFY address"));
        }
        return Ok(Command::Vrfy);
    }
    if is("ETRN") {
        if args.is_empty() || args.contains([' ', '\t']) {
            return Err(refused(501, "5.5.4", "Syntax: ETRN domain"));
        }
        return Ok(Command::Etrn(args));
    }
    if is("EXPN") {
        return Ok(Command::Expn);
    }
    if is("NOOP") {
        return Ok(Command::Noop);
    }
    if is("HELP") {
        return Ok(Command::Help);
    }
    let (cmd, syntax) = if is("DATA") {
        (Command::Data, "Syntax: DATA")
    } else if is("RSET") {
        (Command::Rset, "Syntax: RSET")
    } else if is("QUIT") {
        (Command::Quit, "Syntax: QUIT")
    } else if is("STARTTLS") {
        (Command::StartTls, "Syntax: STARTTLS")
    } else {
        return Err(ParseError::Unknown);
    };
    if !args.is_empty() {
        return Err(refused(501, "5.5.4", syntax));
    }
    Ok(cmd)
}

fn known_verb(verb: &[u8]) -> bool {
    [
        "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN",
        "HELP", "AUTH", "STARTTLS", "ETRN",
    ]
    .iter()
    .any(|v| verb.eq_ignore_ascii_case(v.as_bytes()))
}

/// `FROM:` / `TO:` (any case), then optional spaces (a common client laxity).
fn strip_keyword<'a>(args: &'a str, keyword: &str) -> Option<&'a str> {
    let head = args.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| args[keyword.len()..].trim_start_matches(' '))
}

fn path_error(e: AddressError, sender: bool) -> ParseError {
    match (e, sender) {
        (AddressError::NoBrackets | AddressError::Empty, true) => {
            refused(501, "5.5.4", "Syntax: MAIL FROM:<address>")
        }
        (AddressError::NoBrackets | AddressError::Empty, false) => {
            refused(501, "5.5.4", "Syntax: RCPT TO:<address>")
        }
        (
            AddressError::PathTooLong | AddressError::LocalTooLong | AddressError::DomainTooLong,
            _,
        ) => refused(501, "5.5.4", "Address too long"),
        (_, true) => refused(501, "5.1.7", "Bad sender address syntax"),
        (_, false) => refused(501, "5.1.3", "Bad recipient address syntax"),
    }
}

/// Split the text after a path into `KEY[=VALUE]` parameters. The text must start
/// with a space when not empty.
fn params(text: &str) -> Result<impl Iterator<Item = (&str, Option<&str>)>, ParseError> {
    if !text.is_empty() && !text.starts_with(' ') {
        return Err(refused(501, "5.5.4", "Syntax error in parameters"));
    }
    Ok(text
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (w, None),
        }))
}

fn duplicate() -> ParseError {
    refused(501, "5.5.4", "Duplicate parameter")
}

fn mail_params(text: &str) -> Result<MailParams, ParseError> {
    let mut p = MailParams::default();
    let mut seen_auth = false;
    for (key, value) in params(text)? {
        let is = |k: &str| key.eq_ignore_ascii_case(k);
        if is("SIZE") {
            let v = value
                .filter(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(refused(501, "5.5.4", "Syntax: SIZE=octets"))?;
            // More digits than u64 holds is simply "too big".
            let n = v.parse::<u64>().unwrap_or(u64::MAX);
            if p.size.replace(n).is_some() {
                return Err(duplicate());
            }
        } else if is("BODY") {
            let body = match value {
                Some(v) if v.eq_ignore_ascii_case("7BIT") => Body::SevenBit,
                Some(v) if v.eq_ignore_ascii_case("8BITMIME") => Body::EightBitMime,
                _ => return Err(refused(501, "5.5.4", "Syntax: BODY=7BIT|8BITMIME")),
            };
            if p.body.replace(body).is_some() {
                return Err(duplicate());
            }
        } else if is("SMTPUTF8") {
            if value.is_some() {
                return Err(refused(501, "5.5.4", "SMTPUTF8 takes no value"));
            }
            if std::mem::replace(&mut p.smtputf8, true) {
                return Err(duplicate());
            }
        } else if is("RET") {
            let v = value
                .filter(|v| v.eq_ignore_ascii_case("FULL") || v.eq_ignore_ascii_case("HDRS"))
                .ok_or(refused(501, "5.5.4", "Syntax: RET=FULL|HDRS"))?;
            if p.ret.replace(v.to_owned()).is_some() {
                return Err(duplicate());
            }
        } else if is("ENVID") {
            let v = value
                .filter(|v| is_xtext(v) && v.len() <= MAX_ENVID)
                .ok_or(refused(501, "5.5.4", "Syntax: ENVID=xtext"))?;
            if p.envid.replace(v.to_owned()).is_some() {
                return Err(duplicate());
            }
        } else if is("AUTH") {
            // RFC 4954 §5: accepted and ignored; we never trust a client's claim.
            if std::mem::replace(&mut seen_auth, true) {
                return Err(duplicate());
            }
        } else {
            return Err(refused(555, "5.5.4", "Unsupported MAIL parameter"));
        }
    }
    Ok(p)
}

fn rcpt_params(text: &str) -> Result<RcptParams, ParseError> {
    let mut p = RcptParams::default();
    for (key, value) in params(text)? {
        if key.eq_ignore_ascii_case("NOTIFY") {
            let v = value.filter(|v| valid_notify(v)).ok_or(refused(
                501,
                "5.5.4",
                "Syntax: NOTIFY=NEVER|SUCCESS,FAILURE,DELAY",
            ))?;
            if p.notify.replace(v.to_owned()).is_some() {
                return Err(duplicate());
            }
        } else if key.eq_ignore_ascii_case("ORCPT") {
            let v = value
                .filter(|v| v.len() <= MAX_ORCPT && valid_orcpt(v))
                .ok_or(refused(501, "5.5.4", "Syntax: ORCPT=addr-type;xtext"))?;
            if p.orcpt.replace(v.to_owned()).is_some() {
                return Err(duplicate());
            }
        } else {
            return Err(refused(555, "5.5.4", "Unsupported RCPT parameter"));
        }
    }
    Ok(p)
}

/// RFC 3461 §4.1: NEVER alone, or a list of SUCCESS, FAILURE, DELAY.
fn valid_notify(v: &str) -> bool {
    if v.eq_ignore_ascii_case("NEVER") {
        return true;
    }
    !v.is_empty()
        && v.split(',').all(|w| {
            w.eq_ignore_ascii_case("SUCCESS")
                || w.eq_ignore_ascii_case("FAILURE")
                || w.eq_ignore_ascii_case("DELAY")
        })
}

/// RFC 3461 §4.2: `addr-type ";" xtext`, addr-type an atom such as `rfc822`.
fn valid_orcpt(v: &str) -> bool {
    let Some((kind, addr)) = v.split_once(';') else {
        return false;
    };
    !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !addr.is_empty()
        && (is_xtext(addr) || kind.eq_ignore_ascii_case("utf-8"))
}

/// RFC 3461 §4: printable ASCII except `+` and `=`, or `+XX` hex escapes.
fn is_xtext(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = |j: usize| b.get(j).is_some_and(|c| c.is_ascii_hexdigit());
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            }
            b'!'..=b'~' if b[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    !b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Mailbox;

    fn mb(s: &str) -> Path {
        Path::Mailbox(Mailbox::parse(s).unwrap())
    }

    #[test]
    fn verbs() {
        assert_eq!(
            parse(b"ehlo client.example"),
            Ok(Command::Ehlo("client.example"))
        );
        assert_eq!(parse(b"HELO  x  y"), Ok(Command::Helo("x  y")));
        assert_eq!(parse(b"DATA"), Ok(Command::Data));
        assert_eq!(parse(b"noop anything"), Ok(Command::Noop));
        assert_eq!(parse(b"QUIT"), Ok(Command::Quit));
        assert_eq!(parse(b"StartTLS"), Ok(Command::StartTls));
        assert_eq!(
            parse(b"BDAT 0 last"),
            Ok(Command::Bdat {
                size: 0,
                last: true
            })
        );
        assert_eq!(
            parse(b"BDAT 12"),
            Ok(Command::Bdat {
                size: 12,
                last: false
            })
        );
        assert_eq!(
            parse(b"AUTH PLAIN AGE="),
            Ok(Command::Auth {
                mechanism: "PLAIN",
                initial: Some("AGE=")
            })
        );
        assert_eq!(parse(b"FOO"), Err(ParseError::Unknown));
        assert_eq!(parse(b""), Err(ParseError::Unknown));
        assert_eq!(parse(b"\xff\xfe bar"), Err(ParseError::Unknown));
    }

    fn code(r: Result<Command<'_>, ParseError>) -> u16 {
        match r {
            Err(ParseError::Refused(r)) => r.code,
            Err(ParseError::Unknown) => 500,
            Ok(_) => 0,
        }
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(code(parse(b"EHLO")), 501);
        assert_eq!(code(parse(b"DATA x")), 501);
        assert_eq!(code(parse(b"MAIL bob@example.com")), 501);
        assert_eq!(code(parse(b"MAIL FROM:bob@example.com")), 501);
        assert_eq!(code(parse(b"RCPT TO:<bob@@example.com>")), 501);
        assert_eq!(code(parse(b"BDAT x")), 501);
        assert_eq!(code(parse(b"BDAT 1 FIRST")), 501);
        assert_eq!(code(parse(b"BDAT 99999999999999999999")), 501);
        assert_eq!(code(parse(b"MAIL FROM:<a@b> FOO=1")), 555);
        assert_eq!(code(parse(b"RCPT TO:<a@b> FOO")), 555);
        assert_eq!(code(parse(b"MAIL FROM:<a@b> SIZE=1 SIZE=2")), 501);
        assert_eq!(code(parse(b"MAIL FROM:<a@b>SIZE=1")), 501);
        assert_eq!(code(parse(b"MAIL FROM:<a@b> BODY=BINARYMIME")), 501);
        assert_eq!(code(parse(b"MAIL FROM:<a\x01@b>")), 501);
        assert_eq!(code(parse(b"MAIL FROM:<\xff@b>")), 501);
    }

    #[test]
    fn mail_and_params() {
        let c = parse(b"MAIL FROM: <Alice@Example.com> size=123 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=ab+2Bc AUTH=<>")
            .unwrap();
        assert_eq!(
            c,
            Command::Mail(
                mb("Alice@Example.com"),
                MailParams {
                    size: Some(123),
                    body: Some(Body::EightBitMime),
                    smtputf8: true,
                    ret: Some("HDRS".into()),
                    envid: Some("ab+2Bc".into()),
                }
            )
        );
        assert_eq!(
            parse(b"MAIL FROM:<>"),
            Ok(Command::Mail(Path::Null, MailParams::default()))
        );
        let c = parse(b"MAIL FROM:<a@b> SIZE=99999999999999999999").unwrap();
        assert!(matches!(
            c,
            Command::Mail(
                _,
                MailParams {
                    size: Some(u64::MAX),
                    ..
                }
            )
        ));
    }

    #[test]
    fn rcpt_params_dsn() {
        let c =
            parse(b"RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com")
                .unwrap();
        assert_eq!(
            c,
            Command::Rcpt(
                mb("bob@example.com"),
                RcptParams {
                    notify: Some("SUCCESS,FAILURE".into()),
                    orcpt: Some("rfc822;bob@example.com".into()),
                }
            )
        );
        assert_eq!(code(parse(b"RCPT TO:<b@x> NOTIFY=NEVER,DELAY")), 501);
        assert_eq!(code(parse(b"RCPT TO:<b@x> ORCPT=bob")), 501);
        assert_eq!(
            parse(b"RCPT TO:<postmaster>"),
            Ok(Command::Rcpt(Path::Postmaster, RcptParams::default()))
        );
    }
}
