//! URLAUTH (RFC 4467): GENURLAUTH signs an IMAP URL with the owner's mailbox access
//! key, URLFETCH checks such a URL and returns what it names, RESETKEY forgets keys.
//! URLAUTH=BINARY (RFC 5524): `URLFETCH (url BODY|BINARY|BODYPARTSTRUCTURE…)`.
//!
//! The keys are the runtime's (random, kept per user and folder, handed in through
//! [`ImapEvent::UrlAuthKey`]); the signature is computed here: the INTERNAL
//! mechanism's token is HMAC-SHA256 of the URL up to and including its `;URLAUTH=`
//! access, in hex (RFC 4467 §7 leaves the algorithm to the server; Dovecot uses
//! HMAC-SHA1). `;EXPIRE=` is not supported: such URLs are refused.

use super::cursor::{Cursor, SYNTAX};
use super::imapurl::{self, MessageUrl};
use super::{write, ImapEvent};
use crate::mailbox::decode_mutf7;

/// Most URLs in one GENURLAUTH or URLFETCH.
const MAX_URLS: usize = 100;
const MECHANISM: &str = "INTERNAL";

/// A parsed URLAUTH command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Parsed {
    Gen { tag: String, urls: Vec<String> },
    Fetch { tag: String, urls: Vec<FetchUrl> },
    Reset { tag: String, folder: Option<String> },
}

/// One URLFETCH argument: a URL, and for RFC 5524's `(url params)` form what to
/// send for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FetchUrl {
    pub url: String,
    pub want: Option<Want>,
}

/// RFC 5524's fetch parameters; `(url)` alone means BODY, as in Dovecot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Want {
    pub body: bool,
    pub binary: bool,
    pub structure: bool,
}

/// Why the command is refused (BAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refused {
    pub tag: String,
    pub text: &'static str,
}

/// `msg` taken apart if it is GENURLAUTH, URLFETCH or RESETKEY.
pub(super) fn parse(msg: &[u8]) -> Option<Result<Parsed, Refused>> {
    let mut c = Cursor::new(msg);
    let tag = String::from_utf8_lossy(c.atom()?).into_owned();
    if !c.eat(b' ') {
        return None;
    }
    let cmd = c.atom()?.to_ascii_uppercase();
    let r = match cmd.as_slice() {
        b"GENURLAUTH" => gen_list(&mut c).map(|urls| Parsed::Gen {
            tag: tag.clone(),
            urls,
        }),
        b"URLFETCH" => fetch_list(&mut c).map(|urls| Parsed::Fetch {
            tag: tag.clone(),
            urls,
        }),
        b"RESETKEY" => reset(&mut c).map(|folder| Parsed::Reset {
            tag: tag.clone(),
            folder,
        }),
        _ => return None,
    };
    Some(r.map_err(|text| Refused { tag, text }))
}

fn text(raw: Vec<u8>) -> Result<String, &'static str> {
    String::from_utf8(raw).map_err(|_| SYNTAX)
}

/// `SP url SP mechanism`, repeated.
fn gen_list(c: &mut Cursor<'_>) -> Result<Vec<String>, &'static str> {
    let mut urls = Vec::new();
    while c.eat(b' ') {
        urls.push(text(c.astring().ok_or(SYNTAX)?)?);
        c.expect(b' ')?;
        mechanism(c)?;
        if urls.len() > MAX_URLS {
            return Err("Too many URLs");
        }
    }
    if urls.is_empty() || !c.at_end() {
        return Err(SYNTAX);
    }
    Ok(urls)
}

/// `SP url` or `SP "(" url *(SP param) ")"`, repeated (RFC 5524 §5).
fn fetch_list(c: &mut Cursor<'_>) -> Result<Vec<FetchUrl>, &'static str> {
    let mut urls = Vec::new();
    while c.eat(b' ') {
        let extended = c.eat(b'(');
        let url = text(c.astring().ok_or(SYNTAX)?)?;
        let want = if extended {
            let mut w = Want::default();
            while c.eat(b' ') {
                let param = c.atom().ok_or(SYNTAX)?.to_ascii_uppercase();
                match param.as_slice() {
                    b"BODY" => w.body = true,
                    b"BINARY" => w.binary = true,
                    b"BODYPARTSTRUCTURE" => w.structure = true,
                    _ => return Err("Unknown URL fetch parameter"),
                }
            }
            c.expect(b')')?;
            if w.body && w.binary {
                return Err("URL cannot have both BODY and BINARY fetch parameters");
            }
            if w == Want::default() {
                w.body = true;
            }
            Some(w)
        } else {
            None
        };
        urls.push(FetchUrl { url, want });
        if urls.len() > MAX_URLS {
            return Err("Too many URLs");
        }
    }
    if urls.is_empty() || !c.at_end() {
        return Err(SYNTAX);
    }
    Ok(urls)
}

fn mechanism(c: &mut Cursor<'_>) -> Result<(), &'static str> {
    let mech = c.atom().ok_or(SYNTAX)?;
    if mech.eq_ignore_ascii_case(MECHANISM.as_bytes()) {
        Ok(())
    } else {
        Err("Unknown URLAUTH mechanism")
    }
}

/// `[SP mailbox *(SP mechanism)]`.
fn reset(c: &mut Cursor<'_>) -> Result<Option<String>, &'static str> {
    if !c.eat(b' ') {
        return if c.at_end() { Ok(None) } else { Err(SYNTAX) };
    }
    let raw = text(c.astring().ok_or(SYNTAX)?)?;
    let folder = if raw.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        decode_mutf7(&raw).map_err(|_| "[CANNOT] Invalid mailbox name")?
    };
    while c.eat(b' ') {
        mechanism(c)?;
    }
    if !c.at_end() {
        return Err(SYNTAX);
    }
    Ok(Some(folder))
}

/// Who may fetch a URL (RFC 4467 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    User(String),
    AuthUser,
    Anonymous,
    /// `submit+name`: for a submission server acting for `name`; none here.
    Submit,
}

/// An authorized URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AuthUrl {
    /// The URL up to and including its access identifier: what is signed.
    rump: String,
    access: Access,
    /// The message it names; `user` is the owner.
    target: MessageUrl,
    /// `:mechanism:token` after the rump (URLFETCH), the token in hex.
    token: Option<String>,
}

fn split(url: &str) -> Option<AuthUrl> {
    let upper = url.to_ascii_uppercase();
    let at = upper.rfind(";URLAUTH=")?;
    let base = &url[..at];
    if base.to_ascii_uppercase().contains(";EXPIRE=") {
        return None;
    }
    let after = &url[at + ";URLAUTH=".len()..];
    let (access_text, tail) = match after.find(':') {
        Some(i) => (&after[..i], Some(&after[i + 1..])),
        None => (after, None),
    };
    let access = match access_text.to_ascii_lowercase().as_str() {
        "authuser" => Access::AuthUser,
        "anonymous" => Access::Anonymous,
        a => match a.split_once('+') {
            Some(("user", name)) if !name.is_empty() => Access::User(name.to_owned()),
            Some(("submit", name)) if !name.is_empty() => Access::Submit,
            _ => return None,
        },
    };
    let token = match tail {
        None => None,
        Some(t) => {
            let (mech, token) = t.split_once(':')?;
            if !mech.eq_ignore_ascii_case(MECHANISM) || token.len() < 32 {
                return None;
            }
            Some(token.to_owned())
        }
    };
    // The owner must be named: RFC 4467 §6 wants an absolute URL with a user.
    let target = imapurl::parse(base).filter(|t| t.user.is_some())?;
    let rump = url[..url.len() - tail.map_or(0, |t| t.len() + 1)].to_owned();
    Some(AuthUrl {
        rump,
        access,
        target,
        token,
    })
}

fn sign(key: &[u8], rump: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, rump.as_bytes());
    super::hex(tag.as_ref())
}

fn verify(key: &[u8], rump: &str, token: &str) -> bool {
    let Some(bytes) = super::unhex(token) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::verify(&key, rump.as_bytes(), &bytes).is_ok()
}

/// A GENURLAUTH or URLFETCH under way, one URL at a time.
#[derive(Debug)]
pub(super) struct Job {
    pub tag: String,
    fetch: bool,
    /// The logged-in user.
    me: String,
    todo: std::collections::VecDeque<FetchUrl>,
    /// The URL being worked on and, once its key checked out, `true`.
    current: Option<(FetchUrl, AuthUrl, bool)>,
}

/// What the session does next for a [`Job`].
#[derive(Debug)]
pub(super) enum Step {
    Ask(ImapEvent),
    /// Done: end with this status and text.
    Done(&'static str, String),
}

impl Job {
    pub(super) fn generate(tag: String, me: String, urls: Vec<String>) -> Job {
        let urls = urls.into_iter().map(|url| FetchUrl { url, want: None });
        Job {
            tag,
            fetch: false,
            me,
            todo: urls.collect(),
            current: None,
        }
    }

    pub(super) fn fetch(tag: String, me: String, urls: Vec<FetchUrl>) -> Job {
        Job {
            tag,
            fetch: true,
            me,
            todo: urls.into(),
            current: None,
        }
    }

    /// Start on the next URL (writing `* URLFETCH url NIL` for those refused at
    /// once), or finish.
    pub(super) fn next(&mut self, out: &mut Vec<u8>) -> Step {
        while let Some(url) = self.todo.pop_front() {
            let parsed = split(&url.url);
            let owner = parsed.as_ref().and_then(|p| p.target.user.clone());
            let ok = match (&parsed, self.fetch) {
                (Some(p), false) => {
                    p.token.is_none()
                        && owner
                            .as_deref()
                            .is_some_and(|o| o.eq_ignore_ascii_case(&self.me))
                }
                (Some(p), true) => p.token.is_some() && self.may_fetch(&p.access),
                (None, _) => false,
            };
            let (Some(p), Some(owner), true) = (parsed, owner, ok) else {
                if !self.fetch {
                    return Step::Done("BAD", "Invalid URL for GENURLAUTH".into());
                }
                nil(out, &url.url);
                continue;
            };
            let event = ImapEvent::UrlAuthKey {
                owner,
                folder: p.target.folder.clone(),
                create: !self.fetch,
            };
            self.current = Some((url, p, false));
            return Step::Ask(event);
        }
        let what = if self.fetch { "URLFETCH" } else { "GENURLAUTH" };
        Step::Done("OK", format!("{what} completed"))
    }

    fn may_fetch(&self, access: &Access) -> bool {
        match access {
            Access::User(u) => u.eq_ignore_ascii_case(&self.me),
            Access::AuthUser | Access::Anonymous => true,
            Access::Submit => false,
        }
    }

    /// The owner's key for the URL's folder (`None`: none, or no such folder).
    pub(super) fn key(&mut self, out: &mut Vec<u8>, key: Option<super::UrlKey>) -> Step {
        let Some((url, p, _)) = self.current.take() else {
            return self.next(out);
        };
        let Some(super::UrlKey(key)) = key else {
            if !self.fetch {
                return Step::Done("NO", "[TRYCREATE] No such mailbox".into());
            }
            nil(out, &url.url);
            return self.next(out);
        };
        if !self.fetch {
            let signed = format!("{}:{MECHANISM}:{}", p.rump, sign(&key, &p.rump));
            out.extend_from_slice(b"* GENURLAUTH ");
            write::string(out, signed.as_bytes());
            out.extend_from_slice(b"\r\n");
            return self.next(out);
        }
        if !p.token.as_deref().is_some_and(|t| verify(&key, &p.rump, t)) {
            nil(out, &url.url);
            return self.next(out);
        }
        let event = ImapEvent::UrlMessage {
            owner: p.target.user.clone(),
            folder: p.target.folder.clone(),
            uid_validity: p.target.uid_validity,
            uid: p.target.uid,
        };
        self.current = Some((url, p, true));
        Step::Ask(event)
    }

    /// The message the URL names (URLFETCH, after its key checked out).
    pub(super) fn message(&mut self, out: &mut Vec<u8>, msg: Option<Vec<u8>>) -> Step {
        let Some((url, p, true)) = self.current.take() else {
            return self.next(out);
        };
        let Some(msg) = msg else {
            nil(out, &url.url);
            return self.next(out);
        };
        match url.want {
            None => match imapurl::extract(&msg, &p.target) {
                Some(data) => {
                    out.extend_from_slice(b"* URLFETCH ");
                    write::string(out, url.url.as_bytes());
                    out.push(b' ');
                    write::literal(out, &data);
                    out.extend_from_slice(b"\r\n");
                }
                None => nil(out, &url.url),
            },
            Some(want) => extended(out, &url.url, want, &msg, &p.target),
        }
        self.next(out)
    }
}

/// The RFC 5524 answer, in Dovecot's form (which imaptest's urlauth-binary expects):
/// one list, BODYPARTSTRUCTURE first, then BODY or BINARY; with BINARY the
/// structure describes the decoded part (sizes and lines of the decoded content,
/// its Content-Transfer-Encoding as stored). `NIL` when the part is not there or
/// its encoding cannot be undone.
fn extended(out: &mut Vec<u8>, url: &str, want: Want, msg: &[u8], target: &MessageUrl) {
    let data = if want.binary {
        match super::binary::url_section(msg, target) {
            Some(d) => Some(d),
            None => return nil(out, url),
        }
    } else if want.body {
        match imapurl::extract(msg, target) {
            Some(d) => Some(d),
            None => return nil(out, url),
        }
    } else {
        None
    };
    let mut structure = Vec::new();
    if want.structure {
        let decoded = want.binary.then(|| super::binary::decode_all(msg, false));
        let source = decoded.as_deref().unwrap_or(msg);
        if !super::envelope::part_structure(&mut structure, source, &target.path, want.binary) {
            return nil(out, url);
        }
    }
    out.extend_from_slice(b"* URLFETCH ");
    write::string(out, url.as_bytes());
    out.extend_from_slice(b" (");
    if want.structure {
        out.extend_from_slice(b"BODYPARTSTRUCTURE ");
        out.extend_from_slice(&structure);
    }
    if let Some(data) = data {
        if want.structure {
            out.push(b' ');
        }
        if want.binary {
            out.extend_from_slice(b"BINARY ");
            super::binary::literal(out, &data);
        } else {
            out.extend_from_slice(b"BODY ");
            write::literal(out, &data);
        }
    }
    out.extend_from_slice(b")\r\n");
}

fn nil(out: &mut Vec<u8>, url: &str) {
    out.extend_from_slice(b"* URLFETCH ");
    write::string(out, url.as_bytes());
    out.extend_from_slice(b" NIL\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4467_forms() {
        let u =
            split("imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred").unwrap();
        assert_eq!(
            u.rump,
            "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"
        );
        assert_eq!(u.access, Access::Submit);
        assert_eq!(u.target.user.as_deref(), Some("joe"));
        assert_eq!(u.target.path, vec![1, 2]);
        let u = split(
            "imap://joe@example.com/INBOX/;uid=20;urlauth=user+fred:internal:91354a473744909de610943775f92038",
        )
        .unwrap();
        assert_eq!(u.target.uid, 20);
        assert_eq!(
            u.rump,
            "imap://joe@example.com/INBOX/;uid=20;urlauth=user+fred"
        );
        assert_eq!(u.access, Access::User("fred".into()));
        assert_eq!(u.token.as_deref(), Some("91354a473744909de610943775f92038"));
        // Relative URLs, EXPIRE, short tokens: refused.
        assert!(split("/INBOX/;uid=20;urlauth=authuser").is_none());
        assert!(
            split("imap://joe@x/INBOX/;uid=20;expire=2030-01-01T00:00:00Z;urlauth=authuser")
                .is_none()
        );
        assert!(split("imap://joe@x/INBOX/;uid=20;urlauth=authuser:internal:00").is_none());
    }

    #[test]
    fn sign_and_verify() {
        let rump = "imap://joe@x/INBOX/;uid=1;urlauth=authuser";
        let t = sign(b"key", rump);
        assert_eq!(t.len(), 64);
        assert!(verify(b"key", rump, &t));
        assert!(!verify(b"other", rump, &t));
        assert!(!verify(
            b"key",
            "imap://joe@x/INBOX/;uid=2;urlauth=authuser",
            &t
        ));
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse(b"a GENURLAUTH \"imap://a@b/I/;uid=1;urlauth=authuser\" INTERNAL\r\n"),
            Some(Ok(Parsed::Gen {
                tag: "a".into(),
                urls: vec!["imap://a@b/I/;uid=1;urlauth=authuser".into()]
            }))
        );
        assert_eq!(
            parse(b"b RESETKEY\r\n"),
            Some(Ok(Parsed::Reset {
                tag: "b".into(),
                folder: None
            }))
        );
        assert!(parse(b"c URLFETCH\r\n").unwrap().is_err());
        // RFC 5524's form beside the plain one; `(url)` alone is BODY.
        let want = |body, binary, structure| {
            Some(Want {
                body,
                binary,
                structure,
            })
        };
        assert_eq!(
            parse(b"f URLFETCH u1 (u2 binary BODYPARTSTRUCTURE) (u3)\r\n"),
            Some(Ok(Parsed::Fetch {
                tag: "f".into(),
                urls: vec![
                    FetchUrl {
                        url: "u1".into(),
                        want: None
                    },
                    FetchUrl {
                        url: "u2".into(),
                        want: want(false, true, true)
                    },
                    FetchUrl {
                        url: "u3".into(),
                        want: want(true, false, false)
                    },
                ]
            }))
        );
        assert!(parse(b"g URLFETCH (u BODY BINARY)\r\n").unwrap().is_err());
        assert!(parse(b"h URLFETCH (u PARTS)\r\n").unwrap().is_err());
        assert!(parse(b"i URLFETCH (u BODY\r\n").unwrap().is_err());
        assert!(parse(b"d GENURLAUTH \"x\" XYZ\r\n").unwrap().is_err());
        assert!(parse(b"e NOOP\r\n").is_none());
    }
}
