//! Autoresponders (§4.2.3.2, issue 15; docs/AUTOMAIL.md): whether a message that
//! arrived in a mailbox is answered, and the answer. A pure function of the message,
//! the account's settings, the server-wide `[autoresponder]` settings, the
//! once-per-sender memory and the time; the runtime reads the text and its files,
//! runs an external program, stores the memory and sends what comes back through the
//! one writer of the server's own mail.
//!
//! Loops cannot happen between two autoresponders (here or elsewhere): replies go
//! from the null sender and carry `Auto-Submitted: auto-replied`, and a message with
//! either is never answered (RFC 3834 §2, §3.3).

pub mod datefmt;
pub mod external;
pub mod sentlog;
pub mod template;

use std::collections::BTreeMap;

use crate::accounts::AutoresponderSettings;
use crate::config::AutoMail;
use crate::dsn::MailHead;
use crate::router::headers::{fields, header_end, unfold};
use crate::servermail::{compose, Attachment, Auto, Compose, ServerMail};
use crate::Instant;

pub use sentlog::SentLog;
pub use template::{Rendered, Target, Template};

/// The message that arrived, and its envelope sender.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub message: &'a [u8],
    /// `None` = the null sender `<>`.
    pub return_path: Option<&'a str>,
}

/// The mailbox it arrived in.
#[derive(Debug, Clone, Copy)]
pub struct Mailbox<'a> {
    pub name: &'a str,
    /// `name@default domain`: the reply's From unless `<From:>` says otherwise.
    pub address: &'a str,
    pub settings: &'a AutoresponderSettings,
}

/// The server and the moment.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub now: Instant,
    /// The local UTC offset in force (dates, `<Valid:>`, clearing periods).
    pub local_offset_secs: i32,
    pub hostname: &'a str,
    pub default_domain: &'a str,
    pub global: &'a AutoMail,
    /// Unique per reply: its Message-ID.
    pub id: &'a str,
}

/// Why a message is not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Silence {
    /// `Auto-Submitted` other than `no` (RFC 3834 §2).
    AutoSubmitted,
    /// The null return path: a report or another automatic message.
    NullSender,
    /// List mail (`List-*` fields, `Precedence: bulk/list/junk`).
    ListMail,
    /// From a mail system or list robot (Mailer_Daemon, `owner-`, `-request` …) or
    /// from the mailbox itself.
    OwnMail,
    /// The global deny list, or not on a non-empty allow list.
    Denied,
    /// A header filter matched.
    Filtered(String),
    /// Triggers are given and none matched.
    NotTriggered,
    /// Already answered in this clearing period (once-per-sender memory).
    AlreadyAnswered,
    /// `<Valid:…>` does not hold now, or the text says nothing.
    NotInForce,
    /// No address to answer.
    NoTarget,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub reply: Option<ServerMail>,
    /// `<CopyTo:>`: the incoming message to another address.
    pub copy: Option<ServerMail>,
    /// Whether the message stays in the mailbox. A message not answered always stays.
    pub keep: bool,
    /// Record this address in the once-per-sender memory.
    pub remember: Option<String>,
    pub silence: Option<Silence>,
}

impl Answer {
    fn silent(why: Silence) -> Answer {
        Answer {
            reply: None,
            copy: None,
            keep: true,
            remember: None,
            silence: Some(why),
        }
    }
}

/// Longest header value read; longer values are cut.
const MAX_FIELD: usize = 4096;

/// The first `name` field, unfolded and cut to a sane length.
pub fn header(message: &[u8], name: &str) -> Option<String> {
    let end = header_end(message);
    let f = fields(message, end)
        .into_iter()
        .find(|f| f.is(message, name))?;
    let v = f.value(message);
    let v = &v[..v.len().min(MAX_FIELD)];
    Some(unfold(&String::from_utf8_lossy(v)).trim().to_string())
}

/// The address in a header field's value (`Name <a@b>` or a bare `a@b`).
pub fn field_address(message: &[u8], name: &str) -> Option<String> {
    crate::dsn::receipt_address(message, &[name.to_string()])
}

/// The built-in and configured reasons not to answer, before any text is read
/// (§4.2.3.2.3, RFC 3834 §2). The once-per-sender check comes later: it needs the
/// reply's address.
pub fn suppressed(inc: &Incoming<'_>, mb: &Mailbox<'_>, env: &Env<'_>) -> Option<Silence> {
    let m = inc.message;
    if crate::servermail::is_auto_submitted(m) {
        return Some(Silence::AutoSubmitted);
    }
    let Some(sender) = inc.return_path.filter(|s| !s.trim().is_empty()) else {
        return Some(Silence::NullSender);
    };
    let end = header_end(m);
    let fs = fields(m, end);
    let list = fs.iter().any(|f| {
        let n = f.name(m);
        n.len() > 5 && n[..5].eq_ignore_ascii_case(b"list-")
    });
    let bulk = header(m, "Precedence")
        .is_some_and(|p| matches!(p.to_ascii_lowercase().as_str(), "bulk" | "list" | "junk"));
    if list || bulk {
        return Some(Silence::ListMail);
    }
    if is_robot(sender) || sender.eq_ignore_ascii_case(mb.address) {
        return Some(Silence::OwnMail);
    }
    if field_address(m, "From").is_some_and(|f| is_robot(&f)) {
        return Some(Silence::OwnMail);
    }
    let g = env.global;
    if g.deny.iter().any(|p| crate::wildcard::matches(p, sender))
        || (!g.allow.is_empty() && !g.allow.iter().any(|p| crate::wildcard::matches(p, sender)))
    {
        return Some(Silence::Denied);
    }
    let filters = g.filters.iter().chain(&mb.settings.filters);
    for f in filters {
        if header_rule_matches(m, f) {
            return Some(Silence::Filtered(f.clone()));
        }
    }
    let triggers = &mb.settings.triggers;
    if !triggers.is_empty() && !triggers.iter().any(|t| header_rule_matches(m, t)) {
        return Some(Silence::NotTriggered);
    }
    None
}

/// Senders no vacation program answers (vacation(1), RFC 3834 §3.1.1): mail
/// systems and list robots.
fn is_robot(address: &str) -> bool {
    let local = address
        .rsplit_once('@')
        .map_or(address, |(l, _)| l)
        .trim_matches(['<', '"'])
        .to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer_daemon"
            | "mailer-daemon"
            | "postmaster"
            | "listserv"
            | "listserver"
            | "majordomo"
            | "mailer"
            | "uucp"
    ) || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.ends_with("-owner")
        || local.ends_with("-bounces")
}

/// `Field: pattern` against every field of that name (wildcards, any case).
pub fn header_rule_matches(message: &[u8], rule: &str) -> bool {
    let Some((name, pattern)) = rule.split_once(':') else {
        return false;
    };
    let (name, pattern) = (name.trim(), pattern.trim());
    let end = header_end(message);
    fields(message, end)
        .iter()
        .filter(|f| f.is(message, name))
        .any(|f| {
            let v = f.value(message);
            let v = unfold(&String::from_utf8_lossy(&v[..v.len().min(MAX_FIELD)]));
            crate::wildcard::matches(pattern, v.trim())
        })
}

/// The local time of `env` as a calendar reading.
pub fn local_time(env: &Env<'_>) -> chrono::NaiveDateTime {
    let secs = i64::try_from(env.now.unix_secs()).unwrap_or(0) + i64::from(env.local_offset_secs);
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// The simple autoresponder's answer to `inc`. `files` holds the contents of the
/// files the template names (`Template::files`), as far as they could be read.
pub fn answer(
    inc: &Incoming<'_>,
    mb: &Mailbox<'_>,
    env: &Env<'_>,
    template: &Template,
    files: &BTreeMap<String, Vec<u8>>,
    log: &SentLog,
) -> Answer {
    if let Some(why) = suppressed(inc, mb, env) {
        return Answer::silent(why);
    }
    let local = local_time(env);
    if !template.in_force(&local, env.global.date_order) {
        return Answer::silent(Silence::NotInForce);
    }
    let subject = header(inc.message, "Subject").unwrap_or_default();
    let originator = field_address(inc.message, "From").unwrap_or_default();
    let r = template::render(
        template,
        &template::Facts {
            subject: &subject,
            originator: &originator,
            local,
            order: env.global.date_order,
        },
        files,
    );
    if r.text.trim().is_empty() && r.attach.is_empty() && !r.append_msg {
        return Answer::silent(Silence::NotInForce);
    }
    let Some(to) = target(inc, &r.to) else {
        return Answer::silent(Silence::NoTarget);
    };
    let once = mb.settings.once || r.only_once;
    if once && log.answered(&to, env.now, env.local_offset_secs, mb.settings.clear) {
        return Answer::silent(Silence::AlreadyAnswered);
    }
    let mut attachments: Vec<Attachment> = r
        .attach
        .iter()
        .filter_map(|f| {
            Some(Attachment {
                name: base_name(f).to_string(),
                content_type: "application/octet-stream".into(),
                data: files.get(f)?.clone(),
            })
        })
        .collect();
    if r.append_msg {
        attachments.push(Attachment {
            name: "original".into(),
            content_type: "message/rfc822".into(),
            data: inc.message.to_vec(),
        });
    } else if r.append_hdr {
        attachments.push(Attachment {
            name: "original".into(),
            content_type: "text/rfc822-headers".into(),
            data: inc.message[..header_end(inc.message)].to_vec(),
        });
    }
    let mut extra = threading(inc.message);
    if let Some(rt) = &r.reply_to {
        extra.push(("Reply-To", rt.clone()));
    }
    let data = compose(&Compose {
        head: MailHead {
            hostname: env.hostname,
            default_domain: env.default_domain,
            to: &to,
            date: env.now,
            id: env.id,
        },
        from: Some(r.from.as_deref().unwrap_or(mb.address)),
        subject: &r.subject,
        auto: Auto::Replied,
        extra,
        text: &r.text,
        html: r.html,
        attachments: &attachments,
    });
    let copy = r
        .copy_to
        .as_deref()
        .and_then(plain_address)
        .map(|a| ServerMail {
            sender: None,
            to: vec![a],
            data: inc.message.to_vec(),
        });
    Answer {
        reply: Some(ServerMail {
            sender: None,
            to: vec![to.clone()],
            data,
        }),
        copy,
        keep: r.keep.unwrap_or(mb.settings.keep),
        remember: once.then_some(to),
        silence: None,
    }
}

/// `In-Reply-To` and `References` for an answer to `message` (RFC 5322 §3.6.4).
pub fn threading(message: &[u8]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(id) = header(message, "Message-ID").filter(|s| s.starts_with('<')) {
        let refs = header(message, "References")
            .or_else(|| header(message, "In-Reply-To"))
            .unwrap_or_default();
        // Bounded: the oldest references go first, the thread's root stays.
        let mut r: Vec<&str> = refs.split_whitespace().collect();
        if r.len() > 20 {
            r.drain(1..r.len() - 19);
        }
        r.push(&id);
        out.push(("In-Reply-To", id.clone()));
        out.push(("References", r.join(" ")));
    }
    out
}

/// The reply's address: the return path (RFC 3834), the From address, or the
/// address a tag names.
fn target(inc: &Incoming<'_>, to: &Target) -> Option<String> {
    match to {
        Target::ReturnPath => inc.return_path.and_then(plain_address),
        Target::From => field_address(inc.message, "From"),
        Target::Address(a) => plain_address(a),
    }
}

/// `a@b` (angle brackets allowed) if it is a usable mailbox address.
pub fn plain_address(a: &str) -> Option<String> {
    let a = a
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let ok = a.len() <= 254
        && a.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !a
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b',');
    ok.then(|| a.to_string())
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests;
