//! Messages the server writes about other messages: RFC 3464 delivery status
//! notifications (bounces), and error notices that carry a message to an
//! administrator (§16.3). Both come from `Mailer_Daemon@<default domain>` (§12.1) and
//! are built whole here; the runtime supplies the time and a unique id.

use crate::config::Config;
use crate::router::headers::{fields, header_end, unfold};
use crate::smtp::received::write_date;
use crate::Instant;

/// VPOP3's default BOUNCE.MSG (§16.4.1.2); `%1` = the recipient, `%2` = the default
/// domain.
pub const DEFAULT_BOUNCE_MSG: &str = "Delivery Failure Report.\n\
The following message was incorrectly addressed.\n\
Recipient: \"%1\" is unrecognised.\n\
\n\
Please contact \"postmaster@%2\" for further\n\
assistance\n";

/// Longest original message returned whole; a longer one is returned as its header
/// only, so a bounce never costs as much again as a huge message.
pub const MAX_RETURNED: usize = 256 * 1024;

/// Fill a BOUNCE.MSG template (§16.4): `%1` → `recipient`, `%2` → `default_domain`.
pub fn fill_bounce_template(template: &str, recipient: &str, default_domain: &str) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('1')) => {
                out.push_str(recipient);
                chars.next();
            }
            ('%', Some('2')) => {
                out.push_str(default_domain);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// One recipient a DSN reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    pub address: String,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: String,
    /// The `Diagnostic-Code` text (after `smtp; `).
    pub diagnostic: String,
    /// `ORCPT` from the original RCPT, if given (`rfc822;addr`).
    pub original_recipient: Option<String>,
}

/// Who a mail the server writes itself goes to and what identifies it: the header
/// that reports, notices and text mails share (Date, From Mailer_Daemon, To,
/// Message-ID).
#[derive(Debug, Clone, Copy)]
pub struct MailHead<'a> {
    /// This server's name (the Message-ID's right side; a report's `Reporting-MTA`).
    pub hostname: &'a str,
    /// The domain of the `Mailer_Daemon@` sender.
    pub default_domain: &'a str,
    /// The recipient: a report's original sender, a notice's administrator.
    pub to: &'a str,
    pub date: Instant,
    /// Unique per mail; used for the Message-ID (and a report's MIME boundary).
    pub id: &'a str,
}

impl<'a> MailHead<'a> {
    /// A mail from this server as `config` names it.
    pub fn new(config: &'a Config, to: &'a str, date: Instant, id: &'a str) -> MailHead<'a> {
        MailHead {
            hostname: &config.hostname,
            default_domain: &config.default_domain,
            to,
            date,
            id,
        }
    }
}

/// What goes into a bounce.
#[derive(Debug, Clone, Copy)]
pub struct Dsn<'a> {
    pub head: MailHead<'a>,
    /// The human-readable part.
    pub text: &'a str,
    pub recipients: &'a [FailedRecipient],
    pub original: &'a [u8],
    /// RET=HDRS: return only the header of the original.
    pub headers_only: bool,
    pub envelope_id: Option<&'a str>,
    pub arrival: Option<Instant>,
}

/// The DSN as a complete message (CRLF line ends).
pub fn build_dsn(d: &Dsn<'_>) -> Vec<u8> {
    build_report(d, ReportKind::Failed)
}

/// What a DSN reports (RFC 3464 `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A bounce: the recipients were given up.
    Failed,
    /// A delay warning: still being tried, until `retry_until`.
    Delayed { retry_until: Instant },
    /// A success report (RFC 3461 `NOTIFY=SUCCESS` to a server without DSN) or a
    /// transmission receipt (§16.1.2): handed on to the next server (`Action:
    /// relayed`, RFC 3464 §2.3.3).
    Relayed,
    /// A success report (RFC 3461 `NOTIFY=SUCCESS`) for mail stored in a local
    /// mailbox (`Action: delivered`).
    Delivered,
}

/// A bounce or a delay warning as a complete message (CRLF line ends).
pub fn build_report(d: &Dsn<'_>, kind: ReportKind) -> Vec<u8> {
    let boundary = boundary_for(d.head.id, d.original);
    let mut m = Vec::with_capacity(d.original.len().min(MAX_RETURNED) + 2048);
    common_header(&mut m, DELIVERY_SYSTEM, &d.head);
    let what = match kind {
        ReportKind::Failed => "Undelivered Mail Returned to Sender",
        ReportKind::Delayed { .. } => "Delayed Mail (still being retried)",
        ReportKind::Relayed | ReportKind::Delivered => "Successful Mail Delivery Report",
    };
    let subject = match original_subject(d.original) {
        Some(s) => format!("{what}: {s}"),
        None => what.to_string(),
    };
    push_line(&mut m, &format!("Subject: {subject}"));
    push_line(&mut m, "Auto-Submitted: auto-replied");
    push_line(&mut m, "MIME-Version: 1.0");
    push_line(
        &mut m,
        &format!(
            "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\""
        ),
    );
    push_line(&mut m, "");
    push_line(&mut m, "This is a MIME-encapsulated message.");
    push_line(&mut m, "");

    push_line(&mut m, &format!("--{boundary}"));
    push_line(&mut m, "Content-Type: text/plain; charset=utf-8");
    push_line(&mut m, "Content-Transfer-Encoding: 8bit");
    push_line(&mut m, "");
    push_text(&mut m, d.text);

    push_line(&mut m, &format!("--{boundary}"));
    push_line(&mut m, "Content-Type: message/delivery-status");
    push_line(&mut m, "");
    push_line(&mut m, &format!("Reporting-MTA: dns; {}", d.head.hostname));
    if let Some(envid) = d.envelope_id {
        push_line(
            &mut m,
            &format!("Original-Envelope-Id: {}", one_line(envid)),
        );
    }
    if let Some(arrival) = d.arrival {
        let mut date = Vec::new();
        write_date(&mut date, arrival);
        m.extend_from_slice(b"Arrival-Date: ");
        m.extend_from_slice(&date);
        m.extend_from_slice(b"\r\n");
    }
    for r in d.recipients {
        push_line(&mut m, "");
        if let Some(o) = &r.original_recipient {
            push_line(&mut m, &format!("Original-Recipient: {}", one_line(o)));
        }
        push_line(
            &mut m,
            &format!("Final-Recipient: rfc822; {}", one_line(&r.address)),
        );
        match kind {
            ReportKind::Failed => push_line(&mut m, "Action: failed"),
            ReportKind::Delayed { .. } => push_line(&mut m, "Action: delayed"),
            ReportKind::Relayed => push_line(&mut m, "Action: relayed"),
            ReportKind::Delivered => push_line(&mut m, "Action: delivered"),
        }
        push_line(&mut m, &format!("Status: {}", one_line(&r.status)));
        push_line(
            &mut m,
            &format!("Diagnostic-Code: smtp; {}", one_line(&r.diagnostic)),
        );
        if let ReportKind::Delayed { retry_until } = kind {
            m.extend_from_slice(b"Will-Retry-Until: ");
            write_date(&mut m, retry_until);
            m.extend_from_slice(b"\r\n");
        }
    }
    push_line(&mut m, "");

    push_line(&mut m, &format!("--{boundary}"));
    attach_original(&mut m, d.original, d.headers_only);
    push_line(&mut m, &format!("--{boundary}--"));
    m
}

/// The address a transmission receipt goes to (§16.1.2): the first of `names` (header
/// field names, any case) present in the header of `message`, its value's address
/// (`Name <a@b>` or a bare `a@b`). `None` when no such field holds an address.
pub fn receipt_address(message: &[u8], names: &[String]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let end = header_end(message);
    let fs = fields(message, end);
    names.iter().find_map(|name| {
        let f = fs.iter().find(|f| f.is(message, name.trim()))?;
        let value = unfold(&String::from_utf8_lossy(f.value(message)));
        let v = value.trim();
        let addr = match (v.rfind('<'), v.rfind('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].trim(),
            _ => v.split([',', ' ']).next().unwrap_or("").trim(),
        };
        let ok = addr.len() <= 254
            && addr
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
            && !addr.bytes().any(|b| b.is_ascii_control() || b == b' ');
        ok.then(|| addr.to_string())
    })
}

/// An error message to an account (`mail`, to the administrator's address), with
/// the message it is about attached.
#[derive(Debug, Clone, Copy)]
pub struct ErrorMail<'a> {
    pub mail: TextMail<'a>,
    pub original: &'a [u8],
}

pub fn build_error_mail(n: &ErrorMail<'_>) -> Vec<u8> {
    let boundary = boundary_for(n.mail.head.id, n.original);
    let mut m = Vec::with_capacity(n.original.len().min(MAX_RETURNED) + 1024);
    common_header(&mut m, DELIVERY_SYSTEM, &n.mail.head);
    push_line(&mut m, &format!("Subject: {}", one_line(n.mail.subject)));
    push_line(&mut m, "Auto-Submitted: auto-generated");
    push_line(&mut m, "MIME-Version: 1.0");
    push_line(
        &mut m,
        &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\""),
    );
    push_line(&mut m, "");
    push_line(&mut m, &format!("--{boundary}"));
    push_line(&mut m, "Content-Type: text/plain; charset=utf-8");
    push_line(&mut m, "Content-Transfer-Encoding: 8bit");
    push_line(&mut m, "");
    push_text(&mut m, n.mail.text);
    push_line(&mut m, &format!("--{boundary}"));
    attach_original(&mut m, n.original, false);
    push_line(&mut m, &format!("--{boundary}--"));
    m
}

/// The sender's display name on bounces, warnings, reports and notices.
const DELIVERY_SYSTEM: &str = "Mail Delivery System";

/// A plain-text mail from `Mailer_Daemon@<default domain>` (download queries, rule
/// notices, the §21.4 error mails): no attachment, 8-bit UTF-8 text.
#[derive(Debug, Clone, Copy)]
pub struct TextMail<'a> {
    pub head: MailHead<'a>,
    pub subject: &'a str,
    pub text: &'a str,
}

pub fn build_text(t: &TextMail<'_>) -> Vec<u8> {
    let mut m = Vec::with_capacity(t.text.len() + 512);
    common_header(&mut m, "Mailer_Daemon", &t.head);
    push_line(&mut m, &format!("Subject: {}", one_line(t.subject)));
    push_line(&mut m, "Auto-Submitted: auto-generated");
    push_line(&mut m, "MIME-Version: 1.0");
    push_line(&mut m, "Content-Type: text/plain; charset=utf-8");
    push_line(&mut m, "Content-Transfer-Encoding: 8bit");
    push_line(&mut m, "");
    for l in t.text.lines() {
        // A lone "." is harmless in a file but not when relayed over SMTP by a client
        // that does not dot-stuff; a space keeps it readable.
        push_line(&mut m, if l == "." { " ." } else { l });
    }
    m
}

fn common_header(m: &mut Vec<u8>, from_name: &str, head: &MailHead<'_>) {
    m.extend_from_slice(b"Date: ");
    write_date(m, head.date);
    m.extend_from_slice(b"\r\n");
    push_line(
        m,
        &format!(
            "From: {from_name} <Mailer_Daemon@{}>",
            one_line(head.default_domain)
        ),
    );
    push_line(m, &format!("To: <{}>", one_line(head.to)));
    push_line(
        m,
        &format!(
            "Message-ID: <{}@{}>",
            safe_token(head.id),
            one_line(head.hostname)
        ),
    );
}

fn attach_original(m: &mut Vec<u8>, original: &[u8], headers_only: bool) {
    let whole = !headers_only && original.len() <= MAX_RETURNED;
    if whole {
        push_line(m, "Content-Type: message/rfc822");
        push_line(m, "Content-Transfer-Encoding: 8bit");
        push_line(m, "");
        m.extend_from_slice(original);
        if !original.ends_with(b"\n") {
            m.extend_from_slice(b"\r\n");
        }
    } else {
        push_line(m, "Content-Type: text/rfc822-headers");
        push_line(m, "Content-Transfer-Encoding: 8bit");
        push_line(m, "");
        let end = header_end(original);
        let head = &original[..end];
        m.extend_from_slice(head);
        if !head.ends_with(b"\n") {
            m.extend_from_slice(b"\r\n");
        }
    }
}

fn push_line(m: &mut Vec<u8>, line: &str) {
    m.extend_from_slice(line.as_bytes());
    m.extend_from_slice(b"\r\n");
}

/// Text with any line ends, as CRLF lines ending in CRLF.
fn push_text(m: &mut Vec<u8>, text: &str) {
    for line in text.lines() {
        push_line(m, line);
    }
    if text.is_empty() {
        push_line(m, "");
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// `id` made safe for a Message-ID or a MIME boundary.
pub(crate) fn safe_token(id: &str) -> String {
    let t: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if t.is_empty() {
        "report".into()
    } else {
        t
    }
}

/// A MIME boundary that does not occur in the attached message.
fn boundary_for(id: &str, original: &[u8]) -> String {
    let base = format!("=_mailroom_{}", safe_token(id));
    let mut b = base.clone();
    let mut n = 0u32;
    while memchr::memmem::find(original, b.as_bytes()).is_some() {
        n += 1;
        b = format!("{base}_{n}");
    }
    b
}

/// The original's Subject, if it is printable ASCII (keeps the report's header
/// 7-bit clean).
fn original_subject(original: &[u8]) -> Option<String> {
    let end = header_end(original);
    let f = fields(original, end)
        .into_iter()
        .find(|f| f.is(original, "Subject"))?;
    let v = std::str::from_utf8(f.value(original)).ok()?;
    let v = unfold(v);
    let v = v.trim();
    (!v.is_empty() && v.bytes().all(|b| (32..127).contains(&b)))
        .then(|| v.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_fills_recipient_and_domain() {
        let t = fill_bounce_template(DEFAULT_BOUNCE_MSG, "ghost@example.com", "example.com");
        assert!(t.contains("Recipient: \"ghost@example.com\" is unrecognised."));
        assert!(t.contains("\"postmaster@example.com\""));
        assert_eq!(fill_bounce_template("100% %1%2 %3", "a", "b"), "100% ab %3");
    }

    #[test]
    fn boundary_avoids_the_content() {
        let b = boundary_for("x", b"--=_mailroom_x\r\n");
        assert_eq!(b, "=_mailroom_x_1");
        assert_eq!(safe_token("a b/c"), "a_b_c");
    }
}
