//! A mail to a list's address (§14.6.2): distributed, held for the moderator, a
//! moderator's decision, refused, or dropped.

use super::moderation::{self, ModeratorReply};
use super::{
    at_domain, automatic, from_address, header, is_moderator, is_server_address, notice_mail,
    qualify, return_address, Notice, OutMail, Roster, DIGEST_SUFFIX, LISTSERVER, OWNER_SUFFIX,
};
use crate::config::{Config, List, PostPolicy, ReplyTo};
use crate::router::headers::{fields, header_end};
use crate::time::Instant;

/// What a list does with one mail to its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostDecision {
    /// Send `mails`; keep `digest` for the list's digest when it has one.
    Distribute {
        mails: Vec<OutMail>,
        digest: Option<Vec<u8>>,
    },
    /// Keep `post` under `token` until a moderator decides (simple moderation), and
    /// send `mails` (the approval requests).
    Hold {
        token: String,
        post: Option<Vec<u8>>,
        mails: Vec<OutMail>,
    },
    /// A moderator answered the approval request for held post `token`: the runtime
    /// loads it and calls [`distribute`] (approve) or deletes it.
    Decided { token: String, approve: bool },
    /// Not distributed; `mails` tells the sender why.
    Refuse { reason: String, mails: Vec<OutMail> },
    /// Dropped without a word (a loop, automatic mail).
    Drop { reason: String },
}

/// Everything one list decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct PostCtx<'a> {
    pub config: &'a Config,
    pub list: &'a List,
    pub roster: &'a Roster,
    pub now: Instant,
    /// Unique per call: Message-IDs of the notices, and a held post's token suffix.
    pub id: &'a str,
}

/// The list's own address.
pub fn list_address(config: &Config, list: &List) -> String {
    at_domain(config, &list.name)
}

/// Decide what happens to `data`, sent to the list by `envelope_sender`.
pub fn post(ctx: &PostCtx<'_>, envelope_sender: Option<&str>, data: &[u8]) -> PostDecision {
    let list_addr = list_address(ctx.config, ctx.list);
    if been_there(data, &list_addr) {
        return drop("a loop: the mail carries this list's X-BeenThere");
    }
    let author = from_address(data)
        .or_else(|| envelope_sender.map(str::to_string))
        .unwrap_or_default();
    if author.is_empty() {
        return drop("no From: address");
    }
    if is_server_address(ctx.config, &author) {
        return drop("From: is one of the list server's own addresses");
    }
    if let Some(why) = automatic(data, envelope_sender) {
        return drop(why);
    }
    let moderator = is_moderator(ctx.config, ctx.list, &author);
    if moderator {
        match moderation::moderator_reply(ctx.list, data) {
            Some(ModeratorReply::Simple { token, reject }) => {
                return PostDecision::Decided {
                    token,
                    approve: !reject,
                }
            }
            Some(ModeratorReply::Flexible { post }) => {
                return distribute_decision(ctx, &post);
            }
            None => {}
        }
    }
    let allowed = moderator
        || match ctx.list.post {
            PostPolicy::Anyone => true,
            PostPolicy::Members => ctx.roster.contains(ctx.config, &author),
            PostPolicy::Moderators => false,
        };
    if !allowed {
        let who = match ctx.list.post {
            PostPolicy::Members => "members",
            _ => "moderators",
        };
        return refuse(
            ctx,
            envelope_sender,
            format!("only {who} of the list may post to it"),
        );
    }
    let opts = &ctx.list.options;
    if opts.post_password
        && !header(data, "Approved")
            .is_some_and(|p| !opts.password.is_empty() && p == opts.password)
    {
        return refuse(
            ctx,
            envelope_sender,
            "posting needs the list password (an \"Approved: PASSWORD\" header line)".into(),
        );
    }
    if ctx.list.moderated && !moderator {
        return moderation::hold(ctx, &author, data);
    }
    distribute_decision(ctx, data)
}

fn drop(reason: &str) -> PostDecision {
    PostDecision::Drop {
        reason: reason.to_string(),
    }
}

fn distribute_decision(ctx: &PostCtx<'_>, data: &[u8]) -> PostDecision {
    let (mails, digest) = distribute(ctx, data);
    PostDecision::Distribute { mails, digest }
}

fn refuse(ctx: &PostCtx<'_>, envelope_sender: Option<&str>, reason: String) -> PostDecision {
    let mut mails = Vec::new();
    if let Some(to) = envelope_sender {
        let to = vec![to.to_string()];
        let from = return_address(ctx.config, ctx.list);
        let text = format!(
            "Your message to the mailing list \"{}\" was not distributed: {reason}.\n",
            ctx.list.name
        );
        mails.push(notice_mail(
            ctx.config,
            &Notice {
                from: &from,
                to: &to,
                subject: &format!("Your message to {} was not distributed", ctx.list.name),
                text: &text,
                id: ctx.id,
                auto: "auto-replied",
                in_reply_to: None,
            },
            ctx.now,
        ));
    }
    PostDecision::Refuse { reason, mails }
}

/// Whether the mail already went through the list `address`.
fn been_there(data: &[u8], address: &str) -> bool {
    let end = header_end(data);
    fields(data, end).into_iter().any(|f| {
        f.is(data, "X-BeenThere")
            && String::from_utf8_lossy(f.value(data))
                .trim()
                .eq_ignore_ascii_case(address)
    })
}

/// Fields the list replaces or must not pass on.
fn drops_field(name: &str, ctx: &PostCtx<'_>, slow: bool) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("list-")
        || matches!(
            n.as_str(),
            "return-path" | "approved" | "precedence" | "errors-to" | "delivered-to"
        )
        || (n == "sender" && ctx.list.options.sender_header)
        || (n == "reply-to" && ctx.list.options.reply_to == ReplyTo::List)
        || (n == "to" && slow)
}

/// The list's copy of `data`: the header with the list's fields (RFC 2369, RFC 2919,
/// the manual's Sender and Reply-To) and the footer. `to` replaces `To:` (slow
/// posting).
fn list_copy(ctx: &PostCtx<'_>, data: &[u8], to: Option<&str>) -> Vec<u8> {
    let c = ctx.config;
    let list = ctx.list;
    let addr = list_address(c, list);
    let ls = at_domain(c, LISTSERVER);
    let end = header_end(data);
    let mut m = Vec::with_capacity(data.len() + 1024);
    for f in fields(data, end) {
        let name = String::from_utf8_lossy(f.name(data)).into_owned();
        if !drops_field(name.trim(), ctx, to.is_some()) {
            m.extend_from_slice(&data[f.start..f.end]);
            if !m.ends_with(b"\n") {
                m.extend_from_slice(b"\r\n");
            }
        }
    }
    let mut field = |n: &str, v: &str| {
        m.extend_from_slice(n.as_bytes());
        m.extend_from_slice(b": ");
        m.extend_from_slice(v.replace(['\r', '\n'], " ").as_bytes());
        m.extend_from_slice(b"\r\n");
    };
    if let Some(to) = to {
        field("To", to);
    }
    field(
        "List-Id",
        &format!(
            "{} <{}.{}>",
            list.name,
            list.name.to_ascii_lowercase(),
            c.default_domain.to_ascii_lowercase()
        ),
    );
    field("List-Post", &format!("<mailto:{addr}>"));
    field("List-Help", &format!("<mailto:{ls}?subject=help>"));
    field(
        "List-Subscribe",
        &format!("<mailto:{ls}?subject=subscribe%20{}>", list.name),
    );
    field(
        "List-Unsubscribe",
        &format!("<mailto:{ls}?subject=unsubscribe%20{}>", list.name),
    );
    field(
        "List-Owner",
        &format!(
            "<mailto:{}>",
            at_domain(c, &format!("{}{OWNER_SUFFIX}", list.name))
        ),
    );
    field("Precedence", "list");
    field("X-BeenThere", &addr);
    if list.options.sender_header {
        field("Sender", &return_address(c, list));
    }
    if list.options.reply_to == ReplyTo::List {
        field("Reply-To", &addr);
    }
    m.extend_from_slice(b"\r\n");
    let body = &data[end.min(data.len())..];
    m.extend_from_slice(body);
    let footer = list.options.footer.trim_end();
    if !footer.is_empty() && plain_single_part(data) {
        if !body.is_empty() && !body.ends_with(b"\n") {
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(b"\r\n");
        for l in footer.lines() {
            m.extend_from_slice(l.as_bytes());
            m.extend_from_slice(b"\r\n");
        }
    }
    m
}

/// A footer can be appended as text only to a single-part, plain-text body that is not
/// base64 or quoted-printable encoded (Mailman's rule for its plain footers).
fn plain_single_part(data: &[u8]) -> bool {
    let ct = header(data, "Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let cte = header(data, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    (ct.is_empty() || ct.starts_with("text/plain"))
        && !cte.contains("base64")
        && !cte.contains("quoted-printable")
}

/// The mails that distribute `data` to the members, and the copy kept for the digest.
pub fn distribute(ctx: &PostCtx<'_>, data: &[u8]) -> (Vec<OutMail>, Option<Vec<u8>>) {
    let mut to: Vec<String> = Vec::new();
    for m in &ctx.roster.members {
        if m.receives(ctx.now) {
            let a = qualify(ctx.config, &m.address);
            if !to.iter().any(|t| t.eq_ignore_ascii_case(&a)) {
                to.push(a);
            }
        }
    }
    let from = Some(return_address(ctx.config, ctx.list));
    let mails = if to.is_empty() {
        Vec::new()
    } else if ctx.list.options.slow {
        to.iter()
            .map(|a| OutMail {
                from: from.clone(),
                to: vec![a.clone()],
                data: list_copy(ctx, data, Some(a)),
            })
            .collect()
    } else {
        vec![OutMail {
            from,
            to,
            data: list_copy(ctx, data, None),
        }]
    };
    let digest = ctx.list.options.digest.then(|| list_copy(ctx, data, None));
    (mails, digest)
}

/// The name of a list's digest list.
pub fn digest_name(list: &List) -> String {
    format!("{}{DIGEST_SUFFIX}", list.name)
}
