//! How one collected message is sorted to local people (§6.3.2.1): the five routing
//! options of an In Mail, the leading "From " line some ISPs add, mail nobody could be
//! found for (§16.3.1.1), and the key that spots the same message twice in one run
//! (§21.16.3). docs/COLLECT.md describes the model for administrators.

use super::{detect, single, subject};
use crate::config::{InMail, InMailRouting, Snapshot, UnknownAction};
use crate::router::headers::{address_spans, fields, header_end, unfold};
use crate::router::names::Names;
use crate::router::{self, HeaderView, Outcome, Plan, Request, Source, UnknownHandling};

/// The subject of the error message about mail with no recipients (§6.3.2).
pub const NO_RECIPIENTS: &str = "There was incoming mail with no recipients";

/// What to do with one collected message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sorted {
    /// Octets at the start of the message to drop: a leading non-compliant "From " line
    /// (with its line end) when `detect.strip_from_line` is on; 0 otherwise.
    pub strip: usize,
    /// The envelope sender to store with it: `Return-Path:`, else the first `From:`
    /// address; `None` = the null sender.
    pub sender: Option<String>,
    /// The recipient addresses found, in order (what was routed, for the name-based
    /// modes; empty for `user` and `lan`).
    pub detected: Vec<String>,
    pub sorting: Sorting,
    /// How the decision was reached, one line each, for the log.
    pub trace: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sorting {
    /// Carry out this routing plan (made with `Source::Pop3(name)`).
    Route(Plan),
    /// `routing = "lan"`: queue the message for `recipient` at the LAN SMTP server
    /// `server` (`host:port`).
    Lan { server: String, recipient: String },
    /// Nobody could be found to route to (no recipients in the header, no subject
    /// marker): `handling` says which account gets an error message (with the message
    /// attached, titled `reason`) or the message itself. `UnknownHandling::None` means
    /// there is no account to give it to: keep the message at the ISP and say so.
    Unrouted {
        handling: UnknownHandling,
        reason: String,
    },
}

/// Sort `message` (as downloaded, whole or at least its complete header) collected by
/// `inmail`.
pub fn sort(snap: &Snapshot, inmail: &InMail, message: &[u8]) -> Sorted {
    let strip = if inmail.detect.strip_from_line {
        from_line_len(message)
    } else {
        0
    };
    let data = &message[strip..];
    let headers = HeaderView::parse(data);
    let sender = envelope_sender(data, &headers);
    let source = Source::Pop3(inmail.name.clone());
    let mut trace = Vec::new();
    if strip > 0 {
        trace.push(format!(
            "leading non-compliant \"From \" line removed ({strip} octets)"
        ));
    }
    let req = |recipients: &'_ [String]| -> Plan {
        router::route(
            snap,
            &Request {
                sender: sender.as_deref(),
                recipients,
                source: &source,
                headers: &headers,
                size: Some(data.len() as u64),
            },
        )
    };
    let (detected, sorting) = match inmail.routing {
        InMailRouting::Detected => {
            let d = detect::detect(inmail, data);
            trace.extend(d.trace);
            if d.recipients.is_empty() {
                let s = unrouted(snap, NO_RECIPIENTS, true, &mut trace);
                (Vec::new(), s)
            } else {
                let plan = req(&d.recipients);
                (d.recipients, Sorting::Route(plan))
            }
        }
        InMailRouting::User => {
            let name = inmail.deliver_to.as_deref().unwrap_or("").trim();
            trace.push(format!("every message to {name} (routing = \"user\")"));
            let plan = router::route_to_name(
                snap,
                &Request {
                    sender: sender.as_deref(),
                    recipients: &[],
                    source: &source,
                    headers: &headers,
                    size: Some(data.len() as u64),
                },
                name,
            );
            (Vec::new(), Sorting::Route(plan))
        }
        InMailRouting::Lan => {
            let server = with_port(inmail.lan_server.as_deref().unwrap_or("").trim());
            let recipient = inmail.lan_recipient.clone().unwrap_or_default();
            trace.push(format!(
                "every message to <{recipient}> at the LAN server {server} (routing = \"lan\")"
            ));
            (Vec::new(), Sorting::Lan { server, recipient })
        }
        InMailRouting::SingleAddress => {
            let found = single_address(snap, inmail, &source, sender.as_deref(), data, &mut trace);
            if found.is_empty() {
                let s = unrouted(snap, NO_RECIPIENTS, true, &mut trace);
                (Vec::new(), s)
            } else {
                let plan = req(&found);
                (found, Sorting::Route(plan))
            }
        }
        InMailRouting::Subject => {
            let line = subject::subject(data).unwrap_or_default();
            let names = subject::names(&inmail.subject_marker, &line);
            if names.is_empty() {
                trace.push(format!(
                    "no {} marker in the subject {line:?}",
                    inmail.subject_marker
                ));
                let reason = format!(
                    "Incoming mail without the {} marker in its subject",
                    inmail.subject_marker
                );
                let s = unrouted(snap, &reason, false, &mut trace);
                (Vec::new(), s)
            } else {
                let domain = local_domain(snap);
                let found: Vec<String> = names.iter().map(|n| format!("{n}@{domain}")).collect();
                trace.push(format!(
                    "subject marker {}: {}",
                    inmail.subject_marker,
                    names.join(", ")
                ));
                let plan = req(&found);
                (found, Sorting::Route(plan))
            }
        }
    };
    Sorted {
        strip,
        sender,
        detected,
        sorting,
        trace,
    }
}

/// Octets of a leading "From " line that is not an RFC 5322 header field (an mbox
/// separator some ISPs leave in), line end included; 0 if the message does not start
/// with one. `From: x` and the obsolete `From : x` are fields and never removed.
pub fn from_line_len(message: &[u8]) -> usize {
    if !message.starts_with(b"From ") {
        return 0;
    }
    let after = &message[4..];
    let first = after
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|p| after[p]);
    if first == Some(b':') {
        return 0;
    }
    match memchr::memchr(b'\n', message) {
        Some(p) => p + 1,
        // A message that is one line with no end is not a message; keep it whole.
        None => 0,
    }
}

/// `host:port`, port 25 when `server` names none (an IPv6 literal is bracketed).
fn with_port(server: &str) -> String {
    let has_port = match server.rsplit_once(':') {
        Some((h, p)) => {
            (!h.contains(':') || h.ends_with(']'))
                && !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    };
    if has_port {
        server.to_string()
    } else {
        format!("{server}:25")
    }
}

/// `Return-Path:` (`<>` is the null sender), else the first `From:` address.
fn envelope_sender(data: &[u8], headers: &HeaderView) -> Option<String> {
    let end = header_end(data);
    if let Some(rp) = fields(data, end)
        .into_iter()
        .find(|f| f.is(data, "Return-Path"))
    {
        let v = unfold(&String::from_utf8_lossy(rp.value(data)));
        let v = v.trim();
        if v == "<>" {
            return None;
        }
        if let Some(&(s, e)) = address_spans(v.as_bytes()).first() {
            return Some(v[s..e].to_string());
        }
    }
    headers.from.first().cloned()
}

/// The domain a bare name is routed in: the default domain if it is local, else the
/// first Local Domain.
fn local_domain(snap: &Snapshot) -> String {
    let cfg = &snap.config;
    let names = Names::new(snap);
    if !cfg.default_domain.is_empty() && names.is_local_domain(&cfg.default_domain) {
        return cfg.default_domain.clone();
    }
    cfg.local_domains
        .first()
        .cloned()
        .unwrap_or_else(|| cfg.default_domain.clone())
}

/// §6.3.2.3: for each accepted recipient, the first of its names that is a mailbox
/// here, else the address itself.
fn single_address(
    snap: &Snapshot,
    inmail: &InMail,
    source: &Source,
    sender: Option<&str>,
    data: &[u8],
    trace: &mut Vec<String>,
) -> Vec<String> {
    let domain = local_domain(snap);
    let headers = HeaderView::default();
    let mut out: Vec<String> = Vec::new();
    for c in single::candidates(inmail, data) {
        let chosen = c.names.iter().find_map(|n| {
            let address = format!("{n}@{domain}");
            let r = router::route_recipient(snap, source, sender, &headers, None, &address);
            if matches!(r.outcome, Outcome::Deliver { .. }) {
                trace.push(format!("{}: name {n} is a mailbox here", c.address));
                Some(address)
            } else {
                trace.push(format!("{}: name {n} is not a mailbox here", c.address));
                None
            }
        });
        let address = chosen.unwrap_or_else(|| {
            trace.push(format!("{}: routed by its own name", c.address));
            c.address.clone()
        });
        if !out.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
            out.push(address);
        }
    }
    if out.is_empty() {
        trace.push("no recipient for an accepted address in To, Cc, Apparently-To".into());
    }
    out
}

/// Who gets mail nobody could be found for: the account `[unknown_recipients]` names
/// (the Main Administrator unless `error_to`/`message_to` name another). With
/// `as_error` (no recipients at all, §6.3.2) always an error message; otherwise the
/// action decides between an error message and the message itself. "Treat as
/// *REMOTE" cannot apply to nobody: the Main Administrator gets an error message, so
/// the mail is never silently dropped.
fn unrouted(snap: &Snapshot, reason: &str, as_error: bool, trace: &mut Vec<String>) -> Sorting {
    let names = Names::new(snap);
    let ur = &snap.config.unknown_recipients;
    let admin = names.main_admin().map(|a| a.name.clone());
    let named = ur
        .to
        .as_deref()
        .and_then(|t| names.account(t))
        .map(|a| a.name.clone());
    let (who, error) = match ur.action {
        UnknownAction::ErrorToAdmin | UnknownAction::Remote => (admin, true),
        UnknownAction::MessageToAdmin => (admin, as_error),
        UnknownAction::ErrorTo => (named.or(admin), true),
        UnknownAction::MessageTo => (named.or(admin), as_error),
    };
    let handling = match (who, error) {
        (Some(a), true) => UnknownHandling::ErrorTo(a),
        (Some(a), false) => UnknownHandling::MessageTo(a),
        (None, _) => UnknownHandling::None,
    };
    match &handling {
        UnknownHandling::ErrorTo(a) => trace.push(format!("{reason}: error message to {a}")),
        UnknownHandling::MessageTo(a) => trace.push(format!("{reason}: message to {a}")),
        UnknownHandling::None => trace.push(format!(
            "{reason}: no account to give it to (no Main Administrator): left at the ISP"
        )),
    }
    Sorting::Unrouted {
        handling,
        reason: reason.to_string(),
    }
}

/// What §21.16.3 compares to spot the same message twice in one collection run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DupKey {
    from: Option<String>,
    date: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
    recipients: Vec<String>,
}

/// The duplicate key of `message` with the recipients `detected` (from [`Sorted`]):
/// From, Date, Subject and Message-Id as written (folding undone), and the recipient
/// list. `None` when the message has none of those four fields: such a message is
/// never a duplicate (dropping a real message is worse than delivering one twice).
pub fn duplicate_key(message: &[u8], detected: &[String]) -> Option<DupKey> {
    let data = &message[from_line_len(message)..];
    let end = header_end(data);
    let all = fields(data, end);
    let get = |name: &str| {
        all.iter().find(|f| f.is(data, name)).map(|f| {
            unfold(&String::from_utf8_lossy(f.value(data)))
                .trim()
                .to_string()
        })
    };
    let key = DupKey {
        from: get("From"),
        date: get("Date"),
        subject: get("Subject"),
        message_id: get("Message-Id"),
        recipients: detected.iter().map(|r| r.to_ascii_lowercase()).collect(),
    };
    if key.from.is_none() && key.date.is_none() && key.subject.is_none() && key.message_id.is_none()
    {
        return None;
    }
    Some(key)
}
