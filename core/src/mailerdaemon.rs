//! Mailer_Daemon control messages (§17, issue 15; docs/AUTOMAIL.md): a message to
//! `Mailer_Daemon@` a local domain whose subject is a command sets or queries a
//! user's finger plan, assistant or forwarding, enables or disables In Mail methods,
//! or asks for the server's status. Pure: the message, the snapshot and who sent it
//! in, the change to make and the answer out; the runtime applies the change and
//! sends the answer through the one writer of the server's own mail.
//!
//! Permission rules (the manual's, made explicit):
//! - Assistant, Forwarding and In Mail commands need `USERNAME` and `PASSWORD`
//!   lines that check out; they act on `USERNAME`. When the sender (the From
//!   address) is not that user, the user is told.
//! - In Mail: an administrator may name any method; anyone else only methods that
//!   send all their mail to them ("Send all messages to a specified user/list").
//!   Without a name: every method that sends all its mail to `USERNAME`.
//! - Plan commands act on the user of the From address; since From is easily
//!   forged, the sender must also have logged in as that user (SMTP AUTH) or give
//!   that user's `USERNAME`/`PASSWORD` lines.
//! - Status: anyone.

use crate::accounts::{verify_password, Account};
use crate::config::{InMailRouting, Snapshot};

/// Longest plan text kept.
pub const MAX_PLAN: usize = 16 * 1024;
/// Body bytes read for the command lines.
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    SetPlan,
    QueryPlan,
    SetAssistant,
    QueryAssistant,
    SetForwarding,
    QueryForwarding,
    /// `Enable InMail [name]` (true) or `Disable InMail [name]` (false).
    InMail {
        enable: bool,
        name: Option<String>,
    },
    Status,
}

/// A control message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: Command,
    pub subject: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `ASSISTANT [ONLY] name`: (only, name).
    pub assistant: Option<(bool, String)>,
    pub forward: Option<Forward>,
    /// The body, for `Set Plan`.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    To(String),
    On,
    Off,
}

/// What to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Plan { user: String, text: String },
    Account(Box<Account>),
    InMail { names: Vec<String>, enable: bool },
}

/// The answer to a control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub change: Option<Change>,
    /// The reply's text (to the sender).
    pub reply: String,
    /// (user, text): a user acted on by somebody else is told.
    pub notify: Option<(String, String)>,
    /// The reply should carry the server status (the runtime fills it in).
    pub status: bool,
    /// A `Query Plan`: the runtime adds the plan of this user.
    pub plan_of: Option<String>,
}

impl Decision {
    fn reply(text: impl Into<String>) -> Decision {
        Decision {
            change: None,
            reply: text.into(),
            notify: None,
            status: false,
            plan_of: None,
        }
    }
}

/// The command a message carries in its subject, if any.
pub fn parse(message: &[u8]) -> Option<Request> {
    let subject = crate::autoresponder::header(message, "Subject")?;
    let words: Vec<&str> = subject.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let rest = |n: usize| (words.len() > n).then(|| words[n..].join(" "));
    let command = match l.as_slice() {
        ["set", "plan"] => Command::SetPlan,
        ["query", "plan"] => Command::QueryPlan,
        ["set", "assistant"] => Command::SetAssistant,
        ["query", "assistant"] => Command::QueryAssistant,
        ["set", "forwarding"] => Command::SetForwarding,
        ["query", "forwarding"] => Command::QueryForwarding,
        ["enable", "inmail", ..] => Command::InMail {
            enable: true,
            name: rest(2),
        },
        ["disable", "inmail", ..] => Command::InMail {
            enable: false,
            name: rest(2),
        },
        ["status"] => Command::Status,
        _ => return None,
    };
    let end = crate::router::headers::header_end(message);
    let body = &message[end..message.len().min(end + MAX_BODY)];
    let body = String::from_utf8_lossy(body)
        .trim_start_matches(['\r', '\n'])
        .replace("\r\n", "\n");
    let mut r = Request {
        command,
        subject: subject.clone(),
        username: None,
        password: None,
        assistant: None,
        forward: None,
        body: body.clone(),
    };
    for line in body.lines() {
        let line = line.trim();
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k.to_ascii_uppercase(), v.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        match key.as_str() {
            "USERNAME" if r.username.is_none() => r.username = Some(value.to_ascii_lowercase()),
            "PASSWORD" if r.password.is_none() => r.password = Some(value.to_string()),
            "ASSISTANT" => {
                r.assistant = match value.split_once(char::is_whitespace) {
                    Some((o, name)) if o.eq_ignore_ascii_case("only") => {
                        Some((true, name.trim().to_string()))
                    }
                    _ if !value.is_empty() => Some((false, value.to_string())),
                    _ => None,
                }
            }
            "FORWARD" => {
                let v = value.to_ascii_lowercase();
                r.forward = if v == "on" {
                    Some(Forward::On)
                } else if v == "off" {
                    Some(Forward::Off)
                } else {
                    value
                        .split_once(char::is_whitespace)
                        .filter(|(to, _)| to.eq_ignore_ascii_case("to"))
                        .map(|(_, a)| Forward::To(a.trim().to_string()))
                        .filter(|f| !matches!(f, Forward::To(a) if a.is_empty()))
                };
            }
            _ => {}
        }
    }
    Some(r)
}

/// The local account an address names (local part at one of our domains).
pub fn local_account<'s>(snap: &'s Snapshot, address: &str) -> Option<&'s Account> {
    let (local, domain) = address.rsplit_once('@')?;
    let ours = domain.eq_ignore_ascii_case(&snap.config.default_domain)
        || snap
            .config
            .local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain));
    if !ours {
        return None;
    }
    snap.accounts.get(&local.to_ascii_lowercase())
}

/// The account `USERNAME`/`PASSWORD` name, if the password is right.
fn login<'s>(snap: &'s Snapshot, r: &Request) -> Result<&'s Account, &'static str> {
    let (Some(user), Some(pw)) = (&r.username, &r.password) else {
        return Err("This command needs USERNAME and PASSWORD lines in the message text.");
    };
    match snap.accounts.get(user) {
        Some(a) if verify_password(&a.password_hash, pw) => Ok(a),
        _ => Err("The user name or password is wrong; nothing was changed."),
    }
}

/// Decide what `r` does. `from` is the message's From address; `auth_user` the
/// account the sender logged in as (SMTP AUTH), if any.
pub fn decide(
    snap: &Snapshot,
    r: &Request,
    from: Option<&str>,
    auth_user: Option<&str>,
) -> Decision {
    let sender = from.and_then(|f| local_account(snap, f));
    let told = |a: &Account, what: &str| {
        (sender.map(|s| s.name.as_str()) != Some(a.name.as_str())).then(|| {
            (
                a.name.clone(),
                format!(
                    "A \"{what}\" command for your account was sent to Mailer_Daemon by <{}>.\n",
                    from.unwrap_or("")
                ),
            )
        })
    };
    match &r.command {
        Command::Status => Decision {
            status: true,
            ..Decision::reply("Mailroom status\n===============\n")
        },
        Command::SetPlan | Command::QueryPlan => {
            let Some(user) = sender else {
                return Decision::reply(
                    "The From address of your message is not a user of this server.",
                );
            };
            let logged_in = auth_user.is_some_and(|u| u.eq_ignore_ascii_case(&user.name))
                || login(snap, r).is_ok_and(|a| a.name == user.name);
            if !logged_in {
                return Decision::reply(
                    "Plan commands need a login: send while logged in (SMTP AUTH) as the \
                     user, or add USERNAME and PASSWORD lines.",
                );
            }
            if r.command == Command::QueryPlan {
                return Decision {
                    plan_of: Some(user.name.clone()),
                    ..Decision::reply(format!("The finger plan of {}:\n", user.name))
                };
            }
            let text: String = r
                .body
                .lines()
                .filter(|l| {
                    let u = l.trim_start().to_ascii_uppercase();
                    !u.starts_with("USERNAME ") && !u.starts_with("PASSWORD ")
                })
                .collect::<Vec<_>>()
                .join("\n");
            let text: String = text.chars().take(MAX_PLAN).collect();
            Decision {
                change: Some(Change::Plan {
                    user: user.name.clone(),
                    text: text.trim_end().to_string() + "\n",
                }),
                ..Decision::reply(format!("The finger plan of {} was set.", user.name))
            }
        }
        Command::QueryAssistant | Command::QueryForwarding => {
            let a = match login(snap, r) {
                Ok(a) => a,
                Err(e) => return Decision::reply(e),
            };
            let (what, text) = if r.command == Command::QueryAssistant {
                ("Query Assistant", describe_assistant(a))
            } else {
                ("Query Forwarding", describe_forwarding(a))
            };
            Decision {
                notify: told(a, what),
                ..Decision::reply(text)
            }
        }
        Command::SetAssistant => {
            let a = match login(snap, r) {
                Ok(a) => a,
                Err(e) => return Decision::reply(e),
            };
            let Some((only, name)) = &r.assistant else {
                return Decision::reply("Set Assistant needs an ASSISTANT [ONLY] <name> line.");
            };
            let mut new = a.clone();
            new.assistants = vec![name.clone()];
            new.assistant_redirect = *only;
            Decision {
                notify: told(a, "Set Assistant"),
                reply: format!("The assistant was set.\n{}", describe_assistant(&new)),
                change: Some(Change::Account(Box::new(new))),
                status: false,
                plan_of: None,
            }
        }
        Command::SetForwarding => {
            let a = match login(snap, r) {
                Ok(a) => a,
                Err(e) => return Decision::reply(e),
            };
            let mut new = a.clone();
            match &r.forward {
                Some(Forward::To(to)) => {
                    new.forward_to = to
                        .split([';', ',', ' '])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    new.use_forwarding = true;
                }
                Some(Forward::On) if a.forward_to.is_empty() => return Decision::reply(
                    "FORWARD ON needs a forwarding address set before; use FORWARD TO <address>.",
                ),
                Some(Forward::On) => new.use_forwarding = true,
                Some(Forward::Off) => new.use_forwarding = false,
                None => return Decision::reply(
                    "Set Forwarding needs a FORWARD TO <address>, FORWARD ON or FORWARD OFF line.",
                ),
            }
            Decision {
                notify: told(a, "Set Forwarding"),
                reply: format!(
                    "The forwarding settings were changed.\n{}",
                    describe_forwarding(&new)
                ),
                change: Some(Change::Account(Box::new(new))),
                status: false,
                plan_of: None,
            }
        }
        Command::InMail { enable, name } => {
            let a = match login(snap, r) {
                Ok(a) => a,
                Err(e) => return Decision::reply(e),
            };
            let to_them = |m: &crate::config::InMail| {
                m.routing == InMailRouting::User
                    && m.deliver_to.as_deref().is_some_and(|d| {
                        d.eq_ignore_ascii_case(&a.name)
                            || d.split_once('@')
                                .is_some_and(|(l, _)| l.eq_ignore_ascii_case(&a.name))
                    })
            };
            let names: Vec<String> = snap
                .config
                .inmails
                .iter()
                .filter(|m| match name {
                    Some(n) => m.name.eq_ignore_ascii_case(n) && (a.admin || to_them(m)),
                    None => to_them(m),
                })
                .map(|m| m.name.clone())
                .collect();
            let verb = if *enable { "enabled" } else { "disabled" };
            if names.is_empty() {
                return Decision::reply(format!(
                    "No In Mail method was {verb}: none {} that you may change.",
                    match name {
                        Some(n) => format!("is called \"{n}\""),
                        None => "sends all its mail to you".to_string(),
                    }
                ));
            }
            Decision {
                reply: format!("In Mail methods {verb}: {}", names.join(", ")),
                change: Some(Change::InMail {
                    names,
                    enable: *enable,
                }),
                notify: None,
                status: false,
                plan_of: None,
            }
        }
    }
}

fn describe_assistant(a: &Account) -> String {
    if a.assistants.is_empty() {
        return format!("{} has no assistant.\n", a.name);
    }
    format!(
        "Assistant of {}: {}{}\n",
        a.name,
        a.assistants.join("; "),
        if a.assistant_redirect {
            " (only: no local copy)"
        } else {
            ""
        }
    )
}

fn describe_forwarding(a: &Account) -> String {
    format!(
        "Forwarding of {}: {} (forward to: {})\n",
        a.name,
        if a.use_forwarding { "on" } else { "off" },
        if a.forward_to.is_empty() {
            "-".to_string()
        } else {
            a.forward_to.join("; ")
        }
    )
}

#[cfg(test)]
mod tests;

/// The facts of the Status answer (§17.10): the queue, the last connection and the
/// next one scheduled, times as local stamps in microseconds shown as the manual's
/// example shows them (`23/03/99 16:00:26`).
pub fn status_lines(queued: usize, last: Option<i64>, next: Option<i64>) -> String {
    let when = |stamp: i64| {
        chrono::DateTime::from_timestamp(stamp.div_euclid(1_000_000), 0)
            .map(|t| t.format("%d/%m/%y %H:%M:%S").to_string())
            .unwrap_or_else(|| "an unknown time".into())
    };
    let mut s = format!("\nThere are {queued} messages waiting to be sent onto the Internet\n");
    s.push_str(&match last {
        Some(t) => format!("The last connection to the Internet was at {}\n", when(t)),
        None => "There has been no connection to the Internet since the server started\n".into(),
    });
    s.push_str(&match next {
        Some(t) => format!(
            "The next connection is currently scheduled for {}\n",
            when(t)
        ),
        None => "No connection is scheduled\n".into(),
    });
    s
}
