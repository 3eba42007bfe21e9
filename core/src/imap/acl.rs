//! The ACL commands of RFC 4314 §3 (SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS),
//! which imap-codec does not parse: read here from the framed message (arguments are
//! astrings, literals included) and answered in `server.rs`.

use super::cursor::Cursor;
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
    let mut lx = Cursor::new(msg);
    let tag = lx.atom()?;
    if !lx.eat(b' ') {
        return None;
    }
    let word = lx.atom()?;
    let tag = String::from_utf8(tag.to_vec()).ok()?;
    let op_of = |w: &[u8]| -> Option<u8> {
        ["GETACL", "MYRIGHTS", "LISTRIGHTS", "SETACL", "DELETEACL"]
            .iter()
            .position(|k| k.as_bytes().eq_ignore_ascii_case(w))
            .and_then(|i| u8::try_from(i).ok())
    };
    let kind = op_of(word)?;
    Some((
        tag,
        arguments(&mut lx, kind).unwrap_or(Err("Invalid arguments")),
    ))
}

fn arguments(lx: &mut Cursor<'_>, kind: u8) -> Option<Result<AclRequest, &'static str>> {
    let word = |lx: &mut Cursor<'_>| -> Option<String> {
        lx.eat(b' ').then_some(())?;
        String::from_utf8(lx.astring()?).ok()
    };
    lx.eat(b' ').then_some(())?;
    let folder = mailbox(&lx.astring()?)?;
    let op = match kind {
        0 => AclOp::Get,
        1 => AclOp::MyRights,
        2 => AclOp::ListRights {
            identifier: word(lx)?,
        },
        3 => {
            let identifier = word(lx)?;
            let rights = word(lx)?;
            let Some(change) = RightsChange::parse(&rights) else {
                lx.at_end().then_some(())?;
                return Some(Err("Unknown right"));
            };
            AclOp::Set { identifier, change }
        }
        _ => AclOp::Delete {
            identifier: word(lx)?,
        },
    };
    lx.at_end().then_some(())?;
    Some(Ok(AclRequest { folder, op }))
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
