//! The server's own mail: what every mail the server writes by itself is made of
//! (autoreplies, Mailer_Daemon answers, quota warnings, receipts, list mail), before
//! the runtime's one writer (`runtime-std/src/services/server_mail.rs`) routes it
//! like locally sent mail, so local addresses get it in their mailbox and remote ones
//! through the outbound queue.
//!
//! Every such mail carries `Auto-Submitted` (RFC 3834), so no autoresponder here or
//! elsewhere answers it, and is sent from the null sender unless a sender is given,
//! so it is never bounced back to the server.

use crate::dsn::{one_line, safe_token as token, MailHead};
use crate::smtp::received::write_date;
use crate::smtp::{Delivery, Envelope, Recipient, Route};

/// A finished mail and its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMail {
    /// The envelope sender; `None` = `<>` (RFC 3834 §3.3: what auto-replies use).
    pub sender: Option<String>,
    /// The envelope recipients (addresses or local user names).
    pub to: Vec<String>,
    /// The whole message, CRLF line ends.
    pub data: Vec<u8>,
}

impl ServerMail {
    /// The mail as a locally submitted delivery with id `id`, routed by the runtime.
    pub fn delivery(&self, id: String, helo: &str) -> Delivery {
        Delivery {
            id,
            envelope: Envelope {
                mail_from: self.sender.clone(),
                recipients: self
                    .to
                    .iter()
                    .map(|a| Recipient {
                        address: a.clone(),
                        route: Route::Remote,
                        dsn_notify: None,
                        dsn_orcpt: None,
                    })
                    .collect(),
                helo: helo.to_string(),
                client_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                auth_user: None,
                eight_bit: true,
                dsn_ret: None,
                dsn_envid: None,
            },
            data: self.data.clone(),
            junk: false,
        }
    }
}

/// RFC 3834's `Auto-Submitted` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auto {
    /// An answer to a message (autoresponders, Mailer_Daemon replies).
    Replied,
    /// Written on the server's own initiative (warnings, notices).
    Generated,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    /// e.g. `application/octet-stream`, `message/rfc822`.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// What a mail the server writes says.
#[derive(Debug, Clone)]
pub struct Compose<'a> {
    /// Date, To, Message-ID, and the default domain of `Mailer_Daemon@`.
    pub head: MailHead<'a>,
    /// The whole `From:` value; `None` = `Mailer_Daemon <Mailer_Daemon@default domain>`.
    pub from: Option<&'a str>,
    pub subject: &'a str,
    pub auto: Auto,
    /// More header fields (name, value), e.g. `In-Reply-To`, `References`, `Reply-To`.
    pub extra: Vec<(&'static str, String)>,
    /// The text; `html` when it is an HTML body.
    pub text: &'a str,
    pub html: bool,
    pub attachments: &'a [Attachment],
}

/// The mail `c` describes, complete, CRLF line ends.
pub fn compose(c: &Compose<'_>) -> Vec<u8> {
    let mut m = Vec::with_capacity(c.text.len() + 1024);
    m.extend_from_slice(b"Date: ");
    write_date(&mut m, c.head.date);
    m.extend_from_slice(b"\r\n");
    let from = match c.from {
        Some(f) => one_line(f),
        None => format!(
            "Mailer_Daemon <Mailer_Daemon@{}>",
            one_line(c.head.default_domain)
        ),
    };
    line(&mut m, &format!("From: {from}"));
    line(&mut m, &format!("To: {}", one_line(c.head.to)));
    line(&mut m, &format!("Subject: {}", one_line(c.subject)));
    line(
        &mut m,
        &format!(
            "Message-ID: <{}@{}>",
            token(c.head.id),
            one_line(c.head.hostname)
        ),
    );
    line(
        &mut m,
        match c.auto {
            Auto::Replied => "Auto-Submitted: auto-replied",
            Auto::Generated => "Auto-Submitted: auto-generated",
        },
    );
    for (name, value) in &c.extra {
        line(&mut m, &format!("{name}: {}", one_line(value)));
    }
    line(&mut m, "MIME-Version: 1.0");
    let kind = if c.html { "text/html" } else { "text/plain" };
    if c.attachments.is_empty() {
        line(&mut m, &format!("Content-Type: {kind}; charset=utf-8"));
        line(&mut m, "Content-Transfer-Encoding: 8bit");
        line(&mut m, "");
        body(&mut m, c.text);
        return m;
    }
    let boundary = boundary(c.head.id, c.attachments);
    line(
        &mut m,
        &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\""),
    );
    line(&mut m, "");
    line(&mut m, &format!("--{boundary}"));
    line(&mut m, &format!("Content-Type: {kind}; charset=utf-8"));
    line(&mut m, "Content-Transfer-Encoding: 8bit");
    line(&mut m, "");
    body(&mut m, c.text);
    for a in c.attachments {
        line(&mut m, &format!("--{boundary}"));
        let name = quoted(&a.name);
        if a.content_type.eq_ignore_ascii_case("message/rfc822")
            || a.content_type.eq_ignore_ascii_case("text/rfc822-headers")
        {
            line(
                &mut m,
                &format!("Content-Type: {}", one_line(&a.content_type)),
            );
            line(&mut m, "Content-Transfer-Encoding: 8bit");
            line(&mut m, "");
            m.extend_from_slice(&a.data);
            if !a.data.ends_with(b"\n") {
                m.extend_from_slice(b"\r\n");
            }
        } else {
            use base64::Engine as _;
            line(
                &mut m,
                &format!(
                    "Content-Type: {}; name=\"{name}\"",
                    one_line(&a.content_type)
                ),
            );
            line(&mut m, "Content-Transfer-Encoding: base64");
            line(
                &mut m,
                &format!("Content-Disposition: attachment; filename=\"{name}\""),
            );
            line(&mut m, "");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&a.data);
            for chunk in b64.as_bytes().chunks(76) {
                m.extend_from_slice(chunk);
                m.extend_from_slice(b"\r\n");
            }
        }
    }
    line(&mut m, &format!("--{boundary}--"));
    m
}

fn line(m: &mut Vec<u8>, l: &str) {
    m.extend_from_slice(l.as_bytes());
    m.extend_from_slice(b"\r\n");
}

/// Text with any line ends as CRLF lines. A lone "." gets a space: harmless in a
/// file, but not when relayed by a client that does not dot-stuff.
fn body(m: &mut Vec<u8>, text: &str) {
    for l in text.lines() {
        line(m, if l == "." { " ." } else { l });
    }
}

fn quoted(s: &str) -> String {
    one_line(s).replace(['"', '\\'], "_")
}

/// A MIME boundary found in no attachment.
fn boundary(id: &str, attachments: &[Attachment]) -> String {
    let base = format!("=_mailroom_{}", token(id));
    let mut b = base.clone();
    let mut n = 0u32;
    while attachments
        .iter()
        .any(|a| memchr::memmem::find(&a.data, b.as_bytes()).is_some())
    {
        n += 1;
        b = format!("{base}_{n}");
    }
    b
}

/// Whether `message` says it was written by an automatic process (RFC 3834 §2:
/// `Auto-Submitted` other than `no`).
pub fn is_auto_submitted(message: &[u8]) -> bool {
    let end = crate::router::headers::header_end(message);
    crate::router::headers::fields(message, end)
        .iter()
        .filter(|f| f.is(message, "Auto-Submitted"))
        .any(|f| {
            let v = String::from_utf8_lossy(f.value(message));
            let v = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            v != "no"
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Instant;

    fn head<'a>() -> MailHead<'a> {
        MailHead {
            hostname: "mail.company.com",
            default_domain: "company.com",
            to: "fred@example.org",
            date: Instant::from_secs(1_700_000_000),
            id: "t1",
        }
    }

    #[test]
    fn plain_mail_is_from_mailer_daemon_and_auto_submitted() {
        let m = compose(&Compose {
            head: head(),
            from: None,
            subject: "Hello\r\nBcc: x",
            auto: Auto::Replied,
            extra: vec![("In-Reply-To", "<a@b>".into())],
            text: "line one\n.\nline three",
            html: false,
            attachments: &[],
        });
        let s = String::from_utf8(m.clone()).unwrap();
        assert!(s.contains("From: Mailer_Daemon <Mailer_Daemon@company.com>\r\n"));
        assert!(s.contains("Subject: Hello  Bcc: x\r\n"));
        assert!(s.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(s.contains("In-Reply-To: <a@b>\r\n"));
        assert!(s.ends_with("\r\n\r\nline one\r\n .\r\nline three\r\n"));
        assert!(is_auto_submitted(&m));
    }

    #[test]
    fn attachments_make_a_multipart_mail() {
        let files = [
            Attachment {
                name: "a.txt".into(),
                content_type: "application/octet-stream".into(),
                data: b"hello".to_vec(),
            },
            Attachment {
                name: "original".into(),
                content_type: "message/rfc822".into(),
                data: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            },
        ];
        let m = compose(&Compose {
            head: head(),
            from: Some("Fred <fred@company.com>"),
            subject: "s",
            auto: Auto::Generated,
            extra: Vec::new(),
            text: "see attached",
            html: false,
            attachments: &files,
        });
        let s = String::from_utf8(m).unwrap();
        assert!(s.contains("From: Fred <fred@company.com>\r\n"));
        assert!(s.contains("multipart/mixed; boundary=\"=_mailroom_t1\""));
        assert!(s.contains("aGVsbG8=\r\n"));
        assert!(s.contains(
            "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: x\r\n"
        ));
        assert!(s.ends_with("--=_mailroom_t1--\r\n"));
    }

    #[test]
    fn auto_submitted_no_is_a_person() {
        assert!(!is_auto_submitted(b"Auto-Submitted: no\r\n\r\nx"));
        assert!(!is_auto_submitted(b"Subject: x\r\n\r\nAuto-Submitted: yes"));
        assert!(is_auto_submitted(
            b"auto-submitted: auto-generated; x=y\r\n\r\n"
        ));
    }

    #[test]
    fn a_delivery_carries_the_envelope() {
        let m = ServerMail {
            sender: None,
            to: vec!["a@b".into(), "fred".into()],
            data: b"x".to_vec(),
        };
        let d = m.delivery("id1".into(), "mail.company.com");
        assert_eq!(d.envelope.mail_from, None);
        assert_eq!(d.envelope.recipients.len(), 2);
        assert_eq!(d.data, b"x");
    }
}
