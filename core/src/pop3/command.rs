//! POP3 command parsing (RFC 1939 §3, RFC 2449, RFC 2595, RFC 5034).
//!
//! Keywords are case-insensitive; arguments are separated by spaces. PASS takes the
//! rest of the line as is, since a password may contain spaces.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    User(String),
    Pass(String),
    Apop {
        user: String,
        digest: String,
    },
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Capa,
    Stls,
    Quit,
    Stat,
    List(Option<u64>),
    Uidl(Option<u64>),
    Retr(u64),
    Top {
        msg: u64,
        lines: u64,
    },
    Dele(u64),
    Noop,
    Rset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    Unknown,
    /// A known command with missing, extra or malformed arguments.
    Syntax(&'static str),
}

pub(crate) fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(ParseError::Unknown);
    };
    let (keyword, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let args: Vec<&str> = rest.split_ascii_whitespace().collect();
    let kw = keyword.to_ascii_uppercase();
    let none = |cmd: Command| {
        if args.is_empty() {
            Ok(cmd)
        } else {
            Err(ParseError::Syntax("this command takes no arguments"))
        }
    };
    match kw.as_str() {
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User((*name).to_string())),
            _ => Err(ParseError::Syntax("usage: USER name")),
        },
        "PASS" => {
            if rest.is_empty() {
                Err(ParseError::Syntax("usage: PASS password"))
            } else {
                Ok(Command::Pass(rest.to_string()))
            }
        }
        "APOP" => match args.as_slice() {
            [user, digest] => Ok(Command::Apop {
                user: (*user).to_string(),
                digest: (*digest).to_string(),
            }),
            _ => Err(ParseError::Syntax("usage: APOP name digest")),
        },
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [m] => Ok(Command::Auth {
                mechanism: Some((*m).to_string()),
                initial: None,
            }),
            [m, i] => Ok(Command::Auth {
                mechanism: Some((*m).to_string()),
                initial: Some((*i).to_string()),
            }),
            _ => Err(ParseError::Syntax(
                "usage: AUTH mechanism [initial-response]",
            )),
        },
        "CAPA" => none(Command::Capa),
        "STLS" => none(Command::Stls),
        "QUIT" => none(Command::Quit),
        "STAT" => none(Command::Stat),
        "NOOP" => none(Command::Noop),
        "RSET" => none(Command::Rset),
        "LIST" => optional_number(&args).map(Command::List),
        "UIDL" => optional_number(&args).map(Command::Uidl),
        "RETR" => one_number(&args).map(Command::Retr),
        "DELE" => one_number(&args).map(Command::Dele),
        "TOP" => match args.as_slice() {
            [m, n] => match (number(m), number(n)) {
                (Some(msg), Some(lines)) => Ok(Command::Top { msg, lines }),
                _ => Err(ParseError::Syntax("usage: TOP msg lines")),
            },
            _ => Err(ParseError::Syntax("usage: TOP msg lines")),
        },
        _ => Err(ParseError::Unknown),
    }
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn one_number(args: &[&str]) -> Result<u64, ParseError> {
    match args {
        [n] => number(n).ok_or(ParseError::Syntax("a message number is required")),
        _ => Err(ParseError::Syntax("a message number is required")),
    }
}

fn optional_number(args: &[&str]) -> Result<Option<u64>, ParseError> {
    match args {
        [] => Ok(None),
        [n] => number(n)
            .map(Some)
            .ok_or(ParseError::Syntax("not a message number")),
        _ => Err(ParseError::Syntax("at most one message number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse(b"user Alice"), Ok(Command::User("Alice".into())));
        assert_eq!(parse(b"PASS a b "), Ok(Command::Pass("a b ".into())));
        assert_eq!(parse(b"top 1 10"), Ok(Command::Top { msg: 1, lines: 10 }));
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 2"), Ok(Command::List(Some(2))));
        assert!(matches!(parse(b"LIST x"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse(b"RETR"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse(b"RETR -1"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse(b"STAT 1"), Err(ParseError::Syntax(_))));
        assert_eq!(parse(b"XTND"), Err(ParseError::Unknown));
        assert_eq!(parse(b"\xff"), Err(ParseError::Unknown));
        assert_eq!(
            parse(b"AUTH PLAIN AGEAYg=="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGEAYg==".into())
            })
        );
    }
}
