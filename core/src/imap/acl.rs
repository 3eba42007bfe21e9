//! The ACL commands of RFC 4314 §3 (SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS),
//! which imap-codec does not parse: read here from the framed message (arguments are
//! astrings, literals included) and answered in `server.rs`.

use super::{write, AclAnswer};
use crate::mailbox::{decode_mutf7, Rights, RightsChange};

/// An ACL command, its mailbox decoded from modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRequest {
    pub folder: String,
    pub op: AclOp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclOp {
    Get,
    MyRights,
    ListRights {
        identifier: String,
    },
    Set {
        identifier: String,
        change: RightsChange,
    },
    Delete {
        identifier: String,
    },
}

impl AclOp {
    pub(super) fn name(&self) -> &'static str {
        match self {
            AclOp::Get => "GETACL",
            AclOp::MyRights => "MYRIGHTS",
            AclOp::ListRights { .. } => "LISTRIGHTS",
            AclOp::Set { .. } => "SETACL",
            AclOp::Delete { .. } => "DELETEACL",
        }
    }
}

/// What parsing found: not an ACL command at all (`None`), or the tag and the command
/// or why it is malformed.
pub(super) fn parse(msg: &[u8]) -> Option<(String, Result<AclRequest, &'static str>)> {
    let mut lx = Lexer { b: msg, i: 0 };
    let tag = lx.atom()?;
    lx.sp()?;
    let word = lx.atom()?;
    let tag = String::from_utf8(tag.to_vec()).ok()?;
    let op_of = |w: &[u8]| -> Option<u8> {
        ["GETACL", "MYRIGHTS", "LISTRIGHTS", "SETACL", "DELETEACL"]
            .iter()
            .position(|k| k.as_bytes().eq_ignore_ascii_case(w))
            .and_then(|i| u8::try_from(i).ok())
    };
    let kind = op_of(word)?;
    Some((tag, lx.arguments(kind).unwrap_or(Err("Invalid arguments"))))
}

impl Lexer<'_> {
    fn arguments(&mut self, kind: u8) -> Option<Result<AclRequest, &'static str>> {
        self.sp()?;
        let folder = mailbox(&self.astring()?)?;
        let word = |lx: &mut Self| -> Option<String> {
            lx.sp()?;
            String::from_utf8(lx.astring()?).ok()
        };
        let op = match kind {
            0 => AclOp::Get,
            1 => AclOp::MyRights,
            2 => AclOp::ListRights {
                identifier: word(self)?,
            },
            3 => {
                let identifier = word(self)?;
                let rights = word(self)?;
                let Some(change) = RightsChange::parse(&rights) else {
                    self.end()?;
                    return Some(Err("Unknown right"));
                };
                AclOp::Set { identifier, change }
            }
            _ => AclOp::Delete {
                identifier: word(self)?,
            },
        };
        self.end()?;
        Some(Ok(AclRequest { folder, op }))
    }
}

/// The untagged response to `req` (RFC 4314 §3.6–3.8); SETACL and DELETEACL have none.
pub(super) fn write_answer(out: &mut Vec<u8>, req: &AclRequest, answer: &AclAnswer) {
    let start = |out: &mut Vec<u8>, what: &str| {
        out.extend_from_slice(what.as_bytes());
        write::mailbox(out, &req.folder);
    };
    // Bare letters, as Dovecot and Cyrus send them; `""` for none.
    let rights = |out: &mut Vec<u8>, r: Rights| {
        if r.is_empty() {
            out.extend_from_slice(b"\"\"");
        } else {
            out.extend_from_slice(r.to_string().as_bytes());
        }
    };
    match (answer, &req.op) {
        (AclAnswer::List(entries), _) => {
            start(out, "* ACL ");
            for (id, r) in entries {
                out.push(b' ');
                write::string(out, id.as_bytes());
                out.push(b' ');
                rights(out, *r);
            }
        }
        (AclAnswer::Mine(r), _) => {
            start(out, "* MYRIGHTS ");
            out.push(b' ');
            rights(out, *r);
        }
        (AclAnswer::Required(required), AclOp::ListRights { identifier }) => {
            start(out, "* LISTRIGHTS ");
            out.push(b' ');
            write::string(out, identifier.as_bytes());
            out.push(b' ');
            rights(out, *required);
            // Every other right may be granted on its own.
            for l in Rights::ALL.without(*required).letters() {
                out.push(b' ');
                out.push(l as u8);
            }
        }
        _ => return,
    }
    out.extend_from_slice(b"\r\n");
}

/// INBOX in any case is INBOX; other names are modified UTF-7.
fn mailbox(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?;
    if s.eq_ignore_ascii_case("INBOX") {
        return Some("INBOX".to_owned());
    }
    decode_mutf7(s).ok()
}

/// RFC 3501's `astring` and friends over one framed message.
struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn sp(&mut self) -> Option<()> {
        (self.peek()? == b' ').then(|| self.i += 1)
    }

    /// ASTRING-CHAR+ (atoms and `]`).
    fn atom(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let special = matches!(c, b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\');
            if special || !(0x21..=0x7e).contains(&c) {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| &self.b[start..self.i])
    }

    fn astring(&mut self) -> Option<Vec<u8>> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.i += 1;
                            return Some(out);
                        }
                        b'\\' => {
                            let c = *self.b.get(self.i + 1)?;
                            if c != b'"' && c != b'\\' {
                                return None;
                            }
                            out.push(c);
                            self.i += 2;
                        }
                        b'\r' | b'\n' => return None,
                        c => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            b'{' => {
                let close = self.i + self.b[self.i..].iter().position(|&c| c == b'}')?;
                let inner = std::str::from_utf8(&self.b[self.i + 1..close]).ok()?;
                let n: usize = inner.strip_suffix('+').unwrap_or(inner).parse().ok()?;
                let rest = self.b.get(close + 1..)?;
                let skip = if rest.starts_with(b"\r\n") {
                    2
                } else if rest.starts_with(b"\n") {
                    1
                } else {
                    return None;
                };
                let start = close + 1 + skip;
                let data = self.b.get(start..start.checked_add(n)?)?;
                self.i = start + n;
                Some(data.to_vec())
            }
            _ => self.atom().map(<[u8]>::to_vec),
        }
    }

    fn end(&mut self) -> Option<()> {
        let rest = &self.b[self.i..];
        (rest == b"\r\n" || rest == b"\n").then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::Rights;

    fn ok(line: &str) -> AclRequest {
        match parse(line.as_bytes()) {
            Some((_, Ok(r))) => r,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn commands() {
        assert_eq!(
            ok("a GETACL INBOX\r\n"),
            AclRequest {
                folder: "INBOX".into(),
                op: AclOp::Get
            }
        );
        assert_eq!(ok("a myrights \"Sales\"\r\n").op, AclOp::MyRights);
        assert_eq!(
            ok("a SETACL {5}\r\nSales bob +lr\r\n"),
            AclRequest {
                folder: "Sales".into(),
                op: AclOp::Set {
                    identifier: "bob".into(),
                    change: RightsChange::Add(Rights::parse("lr").unwrap_or_default())
                }
            }
        );
        assert_eq!(
            ok("a DELETEACL &AOk-t&AOk- \"-bob\"\r\n"),
            AclRequest {
                folder: "été".into(),
                op: AclOp::Delete {
                    identifier: "-bob".into()
                }
            }
        );
        assert_eq!(
            ok("a LISTRIGHTS inbox anyone\r\n").op,
            AclOp::ListRights {
                identifier: "anyone".into()
            }
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b"a SELECT INBOX\r\n"), None);
        assert!(matches!(
            parse(b"a SETACL INBOX bob +z\r\n"),
            Some((t, Err(_))) if t == "a"
        ));
        for bad in [
            "a SETACL INBOX bob\r\n",
            "a GETACL\r\n",
            "a GETACL INBOX extra\r\n",
            "a GETACL {99}\r\nINBOX\r\n",
            "a GETACL \"unterminated\r\n",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Some((_, Err(_)))),
                "{bad:?}"
            );
        }
    }
}
