//! Writing: compose, reply, reply-all and forward (with quoted text and attachments),
//! built as MIME by mail-builder, sent through the router exactly as an
//! authenticated SMTP submission from the browser's address would be (relay rights,
//! "Allow sending of Internet mail", the user's outgoing size limit), and saved to
//! Sent. A header field with CR or LF in it is refused, never passed on.

use super::multipart::Upload;
use super::read::{addresses, read_message, when};
use super::{list_link, open, query, respond, special, Ctx, Who};
use crate::services::web::pages::csrf;
use crate::store::{Change, FlagEdit};
use mail_builder::headers::address::Address as BuiltAddress;
use mail_builder::headers::message_id::MessageId;
use mail_builder::MessageBuilder;
use mail_parser::{Message, MessageParser, MimeHeaders};
use mailroom_core::address::Mailbox;
use mailroom_core::http::form::Form;
use mailroom_core::http::Response;
use mailroom_core::mailbox::{Flag, Flags, SpecialUse};
use mailroom_core::smtp::policy::{decide_recipient, size_limit, RcptDecision, SessionFacts};
use mailroom_core::smtp::received::{write_received, Trace};
use mailroom_core::smtp::{Delivery, Envelope, Recipient};
use maud::html;

/// Recipients of one message at most (To, Cc and Bcc together).
const MAX_RECIPIENTS: usize = 100;
/// The largest original whose attachments a forward carries.
const MAX_ORIGINAL: u64 = 32 << 20;

/// What the compose form holds.
#[derive(Default)]
struct Draft {
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    body: String,
    /// The message answered or forwarded: folder and UID.
    reply: Option<(String, u32)>,
    forward: Option<(String, u32)>,
}

fn reference(form_f: Option<&str>, uid: Option<&str>) -> Option<(String, u32)> {
    let uid = uid?.trim().parse().ok()?;
    let f = form_f
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("INBOX");
    Some((f.to_string(), uid))
}

/// `Re: ` / `Fwd: ` once.
fn prefixed(prefix: &str, subject: &str) -> String {
    let s = subject.trim();
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        s.to_string()
    } else {
        format!("{prefix}{s}")
    }
}

fn quoted(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The bare addresses of a header, without `me`.
fn bare(a: Option<&mail_parser::Address<'_>>, me: &str) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .filter(|ad| !ad.eq_ignore_ascii_case(me))
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn my_address(ctx: &Ctx<'_>, who: &Who) -> String {
    format!(
        "{}@{}",
        who.user,
        ctx.shared.snapshot().config.default_domain
    )
}

/// The form filled for a reply or forward of the original the query names.
fn prefill(ctx: &Ctx<'_>, who: &Who) -> Draft {
    let f = query(ctx, "f");
    let (reply, forward) = (
        reference(f.as_deref(), query(ctx, "reply").as_deref()),
        reference(f.as_deref(), query(ctx, "forward").as_deref()),
    );
    let Some((folder_name, uid)) = reply.clone().or(forward.clone()) else {
        return Draft::default();
    };
    let Ok(folder) = open(ctx, who, &folder_name) else {
        return Draft::default();
    };
    let Some(data) = read_message(&folder, uid, MAX_ORIGINAL) else {
        return Draft::default();
    };
    let Some(m) = MessageParser::default().parse(&data[..]) else {
        return Draft::default();
    };
    let me = my_address(ctx, who);
    let subject = m.subject().unwrap_or("");
    let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let date = m
        .date()
        .map(|d| when(u64::try_from(d.to_timestamp()).unwrap_or(0)))
        .unwrap_or_default();
    if reply.is_some() {
        let mut to = bare(m.reply_to().or(m.from()), &me);
        let mut cc = Vec::new();
        if query(ctx, "all").as_deref() == Some("1") {
            to.extend(bare(m.to(), &me));
            cc = bare(m.cc(), &me);
        }
        Draft {
            to: to.join(", "),
            cc: cc.join(", "),
            subject: prefixed("Re: ", subject),
            body: format!(
                "\n\nOn {date}, {} wrote:\n{}\n",
                addresses(m.from()),
                quoted(&text)
            ),
            reply,
            ..Draft::default()
        }
    } else {
        Draft {
            subject: prefixed("Fwd: ", subject),
            body: format!(
                "\n\n---------- Forwarded message ----------\nFrom: {}\nDate: {date}\nSubject: {subject}\nTo: {}\n\n{text}\n",
                addresses(m.from()),
                addresses(m.to()),
            ),
            forward,
            ..Draft::default()
        }
    }
}

pub(super) fn compose_page(ctx: &Ctx<'_>, who: &Who) -> Response {
    form_page(who, &prefill(ctx, who), None)
}

fn form_page(who: &Who, d: &Draft, problem: Option<&str>) -> Response {
    let body = html! {
        @if let Some(p) = problem { div.notice.bad role="alert" { p { (p) } } }
        form.compose method="post" action="/mail/compose" enctype="multipart/form-data" {
            (csrf(who))
            @if let Some((f, uid)) = &d.reply {
                input type="hidden" name="reply_f" value=(f);
                input type="hidden" name="reply_uid" value=(uid);
            }
            @if let Some((f, uid)) = &d.forward {
                input type="hidden" name="fwd_f" value=(f);
                input type="hidden" name="fwd_uid" value=(uid);
            }
            label { "To" input type="text" name="to" value=(d.to) autofocus[d.to.is_empty()]; }
            label { "Cc" input type="text" name="cc" value=(d.cc); }
            label { "Bcc" input type="text" name="bcc" value=(d.bcc); }
            label { "Subject" input type="text" name="subject" value=(d.subject); }
            label { "Message" textarea name="body" rows="16" { (d.body) } }
            @if d.forward.is_some() { p.hint { "The original's attachments go with it." } }
            label { "Attachments" input type="file" name="attachment" multiple; }
            button type="submit" { "Send" }
        }
    };
    let mut r = respond(who, "/mail/compose", "Compose", body);
    if problem.is_some() {
        r.status = 400;
    }
    r
}

/// The recipients typed in one field: `a@b`, `Name <a@b>` or a local user's name,
/// separated by commas or semicolons.
fn recipients(field: &str, domain: &str) -> Result<Vec<Mailbox>, String> {
    let mut out = Vec::new();
    for item in field
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let addr = match (item.rfind('<'), item.rfind('>')) {
            (Some(a), Some(b)) if a < b => &item[a + 1..b],
            _ => item,
        }
        .trim();
        let addr = if addr.contains('@') {
            addr.to_string()
        } else {
            format!("{addr}@{domain}")
        };
        out.push(Mailbox::parse(&addr).map_err(|e| format!("{item}: {e}"))?);
    }
    Ok(out)
}

/// A random id for the Message-ID and the delivery.
fn unique() -> String {
    let mut b = [0u8; 12];
    let _ = getrandom::getrandom(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) fn send(ctx: &Ctx<'_>, who: &Who, form: &Form, files: Vec<Upload>) -> Response {
    let d = Draft {
        to: form.get("to").unwrap_or("").to_string(),
        cc: form.get("cc").unwrap_or("").to_string(),
        bcc: form.get("bcc").unwrap_or("").to_string(),
        subject: form.get("subject").unwrap_or("").to_string(),
        body: form.get("body").unwrap_or("").to_string(),
        reply: reference(form.get("reply_f"), form.get("reply_uid")),
        forward: reference(form.get("fwd_f"), form.get("fwd_uid")),
    };
    // A header field never carries a line break: refused, not cleaned up.
    if [&d.to, &d.cc, &d.bcc, &d.subject]
        .iter()
        .any(|v| v.contains(['\r', '\n']))
    {
        tracing::warn!(user = %who.user, peer = %ctx.client.ip, "webmail: line break in a header field refused");
        return form_page(
            who,
            &d,
            Some("A header field (To, Cc, Bcc, Subject) may not contain a line break."),
        );
    }
    let snap = ctx.shared.snapshot();
    let domain = snap.config.default_domain.clone();
    let parsed = (|| -> Result<_, String> {
        Ok((
            recipients(&d.to, &domain)?,
            recipients(&d.cc, &domain)?,
            recipients(&d.bcc, &domain)?,
        ))
    })();
    let (to, cc, bcc) = match parsed {
        Ok(t) => t,
        Err(e) => return form_page(who, &d, Some(&format!("Not a valid address: {e}"))),
    };
    let all: Vec<&Mailbox> = to.iter().chain(&cc).chain(&bcc).collect();
    if all.is_empty() {
        return form_page(who, &d, Some("Name at least one recipient."));
    }
    if all.len() > MAX_RECIPIENTS {
        return form_page(who, &d, Some("Too many recipients."));
    }
    let me = my_address(ctx, who);
    let Ok(sender) = Mailbox::parse(&me) else {
        return form_page(who, &d, Some("Your account has no valid address."));
    };
    // The checks an authenticated SMTP submission from this address meets.
    let facts = SessionFacts {
        peer_ip: ctx.client.ip,
        auth_user: Some(&who.user),
        pop_before_smtp: false,
        sender: Some(&sender),
    };
    let mut envelope_rcpts = Vec::with_capacity(all.len());
    for r in &all {
        match decide_recipient(&snap, &facts, r) {
            RcptDecision::Accept(route) => envelope_rcpts.push(Recipient {
                address: r.as_str().to_string(),
                route,
                dsn_notify: None,
                dsn_orcpt: None,
            }),
            RcptDecision::Refuse(why) => {
                return form_page(who, &d, Some(&format!("{}: {}", r.as_str(), why.text)))
            }
        }
    }
    let original = d
        .reply
        .as_ref()
        .or(d.forward.as_ref())
        .and_then(|(f, uid)| {
            let folder = open(ctx, who, f).ok()?;
            Some((
                folder.clone(),
                *uid,
                read_message(&folder, *uid, MAX_ORIGINAL)?,
            ))
        });
    let parsed_original = original
        .as_ref()
        .and_then(|(_, _, data)| MessageParser::default().parse(&data[..]));
    let data = match build(
        &d,
        &me,
        &to,
        &cc,
        &files,
        parsed_original.as_ref(),
        &snap.config.hostname,
    ) {
        Ok(b) => b,
        Err(e) => return form_page(who, &d, Some(&e)),
    };
    let limit = size_limit(&snap, Some(&who.user));
    if limit > 0 && data.len() as u64 > limit {
        return form_page(
            who,
            &d,
            Some(&format!(
                "The message is {} bytes; you may send at most {limit}.",
                data.len()
            )),
        );
    }
    // The trace line an SMTP submission gets, naming the browser's address; the copy
    // in Sent is the message without it, as a mail program keeps it.
    let id = format!("web{}", unique());
    let mut data_traced = Vec::with_capacity(data.len() + 256);
    write_received(
        &mut data_traced,
        &Trace {
            helo: "webmail",
            ip: (!snap.config.smtp.hide_ip_addresses).then_some(ctx.client.ip),
            host: &snap.config.hostname,
            protocol: if ctx.client.tls { "HTTPS" } else { "HTTP" },
            id: &id,
            rcpt: match envelope_rcpts.as_slice() {
                [one] => Some(one.address.as_str()),
                _ => None,
            },
            date: ctx.now,
        },
    );
    let trace_len = data_traced.len();
    data_traced.extend_from_slice(&data);
    let mut delivery = Delivery {
        id,
        envelope: Envelope {
            mail_from: Some(me.clone()),
            recipients: envelope_rcpts,
            helo: "webmail".into(),
            client_ip: ctx.client.ip,
            auth_user: Some(who.user.clone()),
            eight_bit: true,
            dsn_ret: None,
            dsn_envid: None,
        },
        data: data_traced,
        junk: false,
    };
    if let Err(e) = ctx.shared.deliver(&mut delivery) {
        tracing::error!(user = %who.user, id = %delivery.id, "webmail: sending failed: {}", e.text);
        return form_page(who, &d, Some(&format!("Not sent: {}", e.text)));
    }
    tracing::info!(user = %who.user, id = %delivery.id, recipients = all.len(), peer = %ctx.client.ip, "webmail: sent");
    let mut lines = vec![format!(
        "Sent to {}.",
        all.iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    let now = crate::platform::clock::unix_secs();
    let saved = special(ctx, who, SpecialUse::Sent)
        .ok()
        .and_then(|name| open(ctx, who, &name).ok())
        .map(|sent| {
            sent.append(
                delivery.data.get(trace_len..).unwrap_or_default(),
                Flags::NONE.with(Flag::Seen),
                Vec::new(),
                now,
            )
        });
    if !matches!(saved, Some(Ok(_))) {
        tracing::warn!(user = %who.user, "webmail: the sent copy was not saved");
        lines.push("The copy in Sent could not be saved.".into());
    }
    if let Some((folder, uid, _)) = &original {
        let (flags, keywords) = if d.reply.is_some() {
            (Flags::NONE.with(Flag::Answered), Vec::new())
        } else {
            (Flags::NONE, vec!["$Forwarded".to_string()])
        };
        let _ = folder.write(
            vec![Change::Flags {
                uid: *uid,
                edit: FlagEdit::Add,
                flags,
                keywords,
            }],
            false,
        );
    }
    ctx.done(who, &list_link("INBOX"), true, lines)
}

/// The message as MIME: never assembled by hand.
fn build(
    d: &Draft,
    me: &str,
    to: &[Mailbox],
    cc: &[Mailbox],
    files: &[Upload],
    original: Option<&Message<'_>>,
    hostname: &str,
) -> Result<Vec<u8>, String> {
    let list = |v: &[Mailbox]| -> BuiltAddress<'static> {
        BuiltAddress::new_list(
            v.iter()
                .map(|m| BuiltAddress::from(m.as_str().to_string()))
                .collect(),
        )
    };
    let host = if hostname.is_empty() {
        "localhost"
    } else {
        hostname
    };
    let mut b = MessageBuilder::new()
        .from(me.to_string())
        .subject(d.subject.trim().to_string())
        .date(crate::platform::clock::unix_secs())
        .message_id(format!("{}@{host}", unique()))
        .header(
            "User-Agent",
            mail_builder::headers::text::Text::new("Mailroom webmail"),
        )
        .text_body(d.body.replace("\r\n", "\n"));
    if !to.is_empty() {
        b = b.to(list(to));
    }
    if !cc.is_empty() {
        b = b.cc(list(cc));
    }
    if let (Some(m), Some(_)) = (original, &d.reply) {
        if let Some(id) = m.message_id() {
            let mut refs: Vec<String> = m
                .references()
                .as_text_list()
                .map(|l| l.iter().map(|r| r.to_string()).collect())
                .or_else(|| m.references().as_text().map(|r| vec![r.to_string()]))
                .unwrap_or_default();
            refs.push(id.to_string());
            b = b
                .in_reply_to(MessageId::new(id.to_string()))
                .references(MessageId::from(refs));
        }
    }
    for f in files {
        let name = if f.name.is_empty() {
            "attachment"
        } else {
            &f.name
        };
        b = b.attachment(f.content_type.clone(), name.to_string(), f.data.clone());
    }
    if let (Some(m), Some(_)) = (original, &d.forward) {
        for (i, p) in m.attachments().enumerate() {
            let name = p
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            b = b.attachment(super::mime_type(p), name, p.contents().to_vec());
        }
    }
    b.write_to_vec().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_message_round_trips() {
        let d = Draft {
            subject: "Grüße, friends".into(),
            body: "Hello\r\nthere\r\n".into(),
            ..Draft::default()
        };
        let to = vec![Mailbox::parse("bob@example.com").unwrap()];
        let file = Upload {
            field: "attachment".into(),
            name: "data.bin".into(),
            content_type: "application/octet-stream".into(),
            data: (0..=255u8).collect(),
        };
        let raw = build(
            &d,
            "alice@example.com",
            &to,
            &[],
            &[file],
            None,
            "h.example",
        )
        .unwrap();
        let m = MessageParser::default().parse(&raw[..]).unwrap();
        assert_eq!(m.subject(), Some("Grüße, friends"));
        // Stored mail has CRLF line ends, as SMTP delivers it.
        assert_eq!(m.body_text(0).unwrap().trim_end(), "Hello\r\nthere");
        let a = m.attachments().next().unwrap();
        assert_eq!(a.contents(), &(0..=255u8).collect::<Vec<_>>()[..]);
        assert!(m.message_id().unwrap().ends_with("@h.example"));
    }

    #[test]
    fn recipients_and_prefixes() {
        let r = recipients("Bob <bob@example.com>; carol, ", "example.com").unwrap();
        let r: Vec<&str> = r.iter().map(Mailbox::as_str).collect();
        assert_eq!(r, ["bob@example.com", "carol@example.com"]);
        assert!(recipients("not an address@", "example.com").is_err());
        assert_eq!(prefixed("Re: ", "RE: x"), "RE: x");
        assert_eq!(prefixed("Re: ", "x"), "Re: x");
        assert_eq!(quoted("a\n\nb"), "> a\n>\n> b");
    }
}
