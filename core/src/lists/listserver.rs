//! The ListServer (§14.6.4): commands in a mail's body (or Subscribe/Unsubscribe in
//! its subject), the remote administration block, and one reply summarising them.

use std::collections::BTreeMap;

use super::post::digest_name;
use super::{
    at_domain, automatic, body_text, from_address, header, is_moderator, is_server_address,
    notice_mail, qualify, special_name, Member, Notice, OutMail, Roster, Special, LISTSERVER,
    MAX_MEMBERS,
};
use crate::config::{Config, List, ListKind, Notify, SubscribePolicy};
use crate::time::Instant;

/// Lines of a mail read for commands; the rest is ignored.
pub const MAX_LINES: usize = 500;
/// Unrecognised lines before the ListServer decides the rest is prose.
pub const MAX_UNKNOWN: usize = 10;
/// Days a verification request stays valid ("a few days", §14.6.1.1).
pub const CONFIRM_DAYS: u64 = 7;
/// Pending verifications kept at most (oldest dropped first).
pub const MAX_PENDING: usize = 10_000;

/// A subscription waiting for the subscriber's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub list: String,
    pub address: String,
    pub token: String,
    /// Unix seconds of the request.
    pub since: u64,
}

/// Everything the ListServer reads.
#[derive(Debug, Clone, Copy)]
pub struct LsCtx<'a> {
    pub config: &'a Config,
    pub now: Instant,
    /// Unique per call: Message-IDs.
    pub id: &'a str,
    /// A fresh unguessable token for a verification started by this call.
    pub new_token: &'a str,
    /// `DIR/ls_help.txt` and `DIR/ls_lists.txt`, when they exist.
    pub help_text: Option<&'a str>,
    pub lists_text: Option<&'a str>,
}

/// What one mail to the ListServer changed and sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LsResult {
    pub mails: Vec<OutMail>,
    /// Lists whose roster changed (roster key → whole new roster).
    pub changed: BTreeMap<String, Roster>,
    /// The pending verifications after this mail (unchanged when `None`).
    pub pending: Option<Vec<Pending>>,
    /// Why nothing was done, for the log.
    pub ignored: Option<String>,
}

/// The roster key of a list or digest list: its name in lower case.
pub fn roster_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Every roster the ListServer can change: each mailing list and its digest list.
pub fn roster_names(config: &Config) -> Vec<String> {
    let mut v = Vec::new();
    for l in config.lists.iter().filter(|l| l.kind == ListKind::Mailing) {
        v.push(l.name.clone());
        if l.options.digest {
            v.push(digest_name(l));
        }
    }
    v
}

/// A list (or digest list) the ListServer knows: its settings and roster name.
#[derive(Clone, Copy)]
struct Target<'a> {
    list: &'a List,
    digest: bool,
}

impl Target<'_> {
    fn display(&self) -> String {
        if self.digest {
            digest_name(self.list)
        } else {
            self.list.name.clone()
        }
    }
}

struct Run<'a> {
    ctx: &'a LsCtx<'a>,
    sender: String,
    rosters: BTreeMap<String, Roster>,
    changed: BTreeMap<String, ()>,
    pending: Vec<Pending>,
    pending_changed: bool,
    out: Vec<String>,
    mails: Vec<OutMail>,
    subscribed: Vec<String>,
    quiet: bool,
}

/// Answer one mail to the ListServer. `rosters` holds the current roster of every
/// name in [`roster_names`] (by [`roster_key`]).
pub fn handle(
    ctx: &LsCtx<'_>,
    envelope_sender: Option<&str>,
    data: &[u8],
    rosters: &BTreeMap<String, Roster>,
    pending: &[Pending],
) -> LsResult {
    let ignored = |why: &str| LsResult {
        ignored: Some(why.to_string()),
        ..LsResult::default()
    };
    if let Some(why) = automatic(data, envelope_sender) {
        return ignored(why);
    }
    if header(data, "List-Id").is_some() || header(data, "X-BeenThere").is_some() {
        return ignored("list mail");
    }
    let Some(sender) = from_address(data).or_else(|| envelope_sender.map(str::to_string)) else {
        return ignored("no sender");
    };
    if is_server_address(ctx.config, &sender) {
        return ignored("From: is one of the list server's own addresses");
    }
    let now_secs = ctx.now.unix_secs();
    let mut run = Run {
        ctx,
        sender,
        rosters: rosters.clone(),
        changed: BTreeMap::new(),
        pending: pending
            .iter()
            .filter(|p| now_secs.saturating_sub(p.since) <= CONFIRM_DAYS * 86_400)
            .cloned()
            .collect(),
        pending_changed: false,
        out: Vec::new(),
        mails: Vec::new(),
        subscribed: Vec::new(),
        quiet: false,
    };
    run.pending_changed = run.pending.len() != pending.len();

    let subject = header(data, "Subject").unwrap_or_default();
    let subject_cmd = strip_reply_prefixes(&subject);
    let first = subject_cmd
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(
        first.as_str(),
        "subscribe" | "sub" | "unsubscribe" | "uns" | "confirm"
    ) {
        // Commands in the subject: the body is ignored (§14.6.4.1).
        run.lines(std::iter::once(subject_cmd));
    } else {
        let body = body_text(data);
        run.lines(body.lines());
    }
    run.finish(data)
}

/// The subject without `Re:`, `Fwd:` and similar prefixes.
fn strip_reply_prefixes(s: &str) -> &str {
    let mut s = s.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fwd:", "fw:", "aw:", "sv:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => return s,
        }
    }
}

enum Block {
    Normal,
    /// Inside Moderate … EndModerate: the list, and whether the password was right.
    Moderate {
        target: Option<String>,
        ok: bool,
    },
    Add {
        target: Option<String>,
        ok: bool,
    },
    Remove {
        target: Option<String>,
        ok: bool,
    },
}

impl<'a> Run<'a> {
    fn config(&self) -> &'a Config {
        self.ctx.config
    }

    fn target(&self, name: &str) -> Option<Target<'a>> {
        match special_name(self.config(), name)? {
            Special::Post(l) => Some(Target {
                list: l,
                digest: false,
            }),
            Special::Digest(l) => Some(Target {
                list: l,
                digest: true,
            }),
            _ => None,
        }
    }

    fn roster(&mut self, t: &Target<'_>) -> &mut Roster {
        let key = roster_key(&t.display());
        let list = t.list;
        self.rosters.entry(key).or_insert_with(|| {
            if t.digest {
                Roster::default()
            } else {
                Roster::from_config(list)
            }
        })
    }

    fn mark(&mut self, t: &Target<'_>) {
        self.changed.insert(roster_key(&t.display()), ());
    }

    fn say(&mut self, s: impl Into<String>) {
        self.out.push(s.into());
    }

    fn lines<'l>(&mut self, lines: impl Iterator<Item = &'l str>) {
        let mut block = Block::Normal;
        let mut unknown = 0usize;
        for raw in lines.take(MAX_LINES) {
            let line = raw.trim();
            if raw.trim_end() == "--" || raw.starts_with("-- ") {
                break;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let cmd = words.next().unwrap_or("").to_ascii_lowercase();
            let args: Vec<&str> = words.collect();
            block = match block {
                Block::Add { target, ok } => {
                    if cmd == "endadd" {
                        Block::Moderate { target, ok }
                    } else {
                        self.admin_change(target.as_deref(), ok, line, true);
                        Block::Add { target, ok }
                    }
                }
                Block::Remove { target, ok } => {
                    if cmd == "endremove" {
                        Block::Moderate { target, ok }
                    } else {
                        self.admin_change(target.as_deref(), ok, line, false);
                        Block::Remove { target, ok }
                    }
                }
                Block::Moderate { target, ok } => match cmd.as_str() {
                    "password" => {
                        let ok = self.check_password(target.as_deref(), args.first().copied());
                        Block::Moderate { target, ok }
                    }
                    "add" => Block::Add { target, ok },
                    "remove" => Block::Remove { target, ok },
                    "quiet" => {
                        self.quiet = true;
                        Block::Moderate { target, ok }
                    }
                    "endmoderate" => Block::Normal,
                    "quit" | "stop" => break,
                    _ => {
                        self.say(format!("> {line}\nNot a remote administration command."));
                        Block::Moderate { target, ok }
                    }
                },
                Block::Normal => {
                    if matches!(cmd.as_str(), "quit" | "stop") {
                        self.say(format!("> {line}\nStopped."));
                        break;
                    }
                    if cmd == "moderate" {
                        let target = self.start_moderate(line, args.first().copied());
                        Block::Moderate { target, ok: false }
                    } else if cmd == "quiet" {
                        self.quiet = true;
                        Block::Normal
                    } else if self.command(line, &cmd, &args) {
                        Block::Normal
                    } else {
                        unknown += 1;
                        self.say(format!("> {line}\nUnknown command (send Help for a list)."));
                        if unknown >= MAX_UNKNOWN {
                            self.say("Too many unrecognised lines: the rest is ignored.");
                            break;
                        }
                        Block::Normal
                    }
                }
            };
        }
    }

    /// One general command (§14.6.4.1); false if `cmd` is not one.
    fn command(&mut self, line: &str, cmd: &str, args: &[&str]) -> bool {
        let arg = args.first().copied().unwrap_or("");
        let head = format!("> {line}");
        let text = match cmd {
            "help" => self.ctx.help_text.map_or_else(default_help, str::to_string),
            "lists" => self
                .ctx
                .lists_text
                .map_or_else(|| self.lists(), str::to_string),
            "subscribe" | "sub" => self.subscribe(arg),
            "confirm" => self.confirm(arg, args.get(1).copied().unwrap_or("")),
            "unsubscribe" | "uns" => self.each(arg, |r, t| r.unsubscribe(t)),
            "users" => self.users(arg),
            "which" => self.which(),
            "nomail" => {
                let until = match args.get(1) {
                    None => None,
                    Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                        Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
                        Err(_) => {
                            self.say(format!("{head}\n{d} is not a date (YYYY-MM-DD)."));
                            return true;
                        }
                    },
                };
                self.each(arg, |r, t| r.set_mail(t, Some(until.clone())))
            }
            "mail" => self.each(arg, |r, t| r.set_mail(t, None)),
            _ => return false,
        };
        self.say(format!("{head}\n{}", text.trim_end()));
        true
    }

    fn lists(&self) -> String {
        let mut s = String::from("Mailing lists here:\n");
        let mut any = false;
        for l in self
            .config()
            .lists
            .iter()
            .filter(|l| l.kind == ListKind::Mailing && !l.confidential)
        {
            any = true;
            s.push_str(&format!("  {}", l.name));
            if !l.comment.is_empty() {
                s.push_str(&format!(" - {}", l.comment));
            }
            s.push('\n');
            if l.options.digest {
                s.push_str(&format!("  {} - digest of {}\n", digest_name(l), l.name));
            }
        }
        if !any {
            s.push_str("  (none)\n");
        }
        s
    }

    /// A list name or `*` (every list the sender is on): `f` for each.
    fn each(&mut self, arg: &str, mut f: impl FnMut(&mut Self, Target<'a>) -> String) -> String {
        if arg == "*" {
            let mine: Vec<Target<'a>> = self.member_of();
            if mine.is_empty() {
                return "You are not a member of any list.".into();
            }
            return mine
                .into_iter()
                .map(|t| f(self, t))
                .collect::<Vec<_>>()
                .join("\n");
        }
        match self.target(arg) {
            Some(t) => f(self, t),
            None => no_such_list(arg),
        }
    }

    fn all_targets(&self) -> Vec<Target<'a>> {
        let mut v = Vec::new();
        for l in self
            .config()
            .lists
            .iter()
            .filter(|l| l.kind == ListKind::Mailing)
        {
            v.push(Target {
                list: l,
                digest: false,
            });
            if l.options.digest {
                v.push(Target {
                    list: l,
                    digest: true,
                });
            }
        }
        v
    }

    fn member_of(&mut self) -> Vec<Target<'a>> {
        let config = self.config();
        let sender = self.sender.clone();
        self.all_targets()
            .into_iter()
            .filter(|t| self.roster(t).contains(config, &sender))
            .collect()
    }

    fn subscribe(&mut self, name: &str) -> String {
        let Some(t) = self.target(name) else {
            return no_such_list(name);
        };
        let l = t.list;
        let open = l.subscribe == SubscribePolicy::Open;
        if l.confidential && !open && l.options.notify == Notify::None {
            return no_such_list(name);
        }
        let config = self.config();
        let sender = self.sender.clone();
        if self.roster(&t).contains(config, &sender) {
            return format!("You are already a member of {}.", t.display());
        }
        if !open {
            if l.options.notify == Notify::All {
                self.notify(l, &format!("{} asks to join {}", sender, t.display()));
                return format!(
                    "{} does not take subscriptions by mail; its moderators have been told \
                     of your request.",
                    t.display()
                );
            }
            return format!("{} does not take subscriptions by mail.", t.display());
        }
        if self.roster(&t).members.len() >= MAX_MEMBERS {
            return format!("{} is full.", t.display());
        }
        if l.options.verify {
            let token = self.ctx.new_token.to_string();
            self.pending
                .retain(|p| !(p.list.eq_ignore_ascii_case(&t.display()) && p.address == sender));
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push(Pending {
                list: t.display(),
                address: sender.clone(),
                token: token.clone(),
                since: self.ctx.now.unix_secs(),
            });
            self.pending_changed = true;
            self.confirmation(&t, &token);
            return format!(
                "A confirmation request has been sent to {sender}: reply to it to join {}.",
                t.display()
            );
        }
        self.join(t)
    }

    fn confirmation(&mut self, t: &Target<'_>, token: &str) {
        let from = at_domain(self.config(), LISTSERVER);
        let to = vec![self.sender.clone()];
        let subject = format!("confirm {} {token}", t.display());
        let text = format!(
            "Somebody (perhaps you) asked to join the mailing list \"{}\" with this \
             address.\nTo confirm, reply to this message keeping the subject line, or send \
             a message to {from} with the line\n\n{subject}\n\nIf you did not ask, ignore \
             this message: nothing will happen.\n",
            t.display()
        );
        let mail = notice_mail(
            self.config(),
            &Notice {
                from: &from,
                to: &to,
                subject: &subject,
                text: &text,
                id: &format!("{}.confirm", self.ctx.id),
                auto: "auto-replied",
                in_reply_to: None,
            },
            self.ctx.now,
        );
        self.mails.push(mail);
    }

    fn confirm(&mut self, name: &str, token: &str) -> String {
        let Some(t) = self.target(name) else {
            return no_such_list(name);
        };
        let sender = self.sender.clone();
        let config = self.config();
        let at = self.pending.iter().position(|p| {
            p.list.eq_ignore_ascii_case(&t.display())
                && super::same_person(config, &p.address, &sender)
                && !token.is_empty()
                && p.token == token
        });
        match at {
            Some(i) => {
                self.pending.remove(i);
                self.pending_changed = true;
                if self.roster(&t).contains(config, &sender) {
                    return format!("You are already a member of {}.", t.display());
                }
                self.join(t)
            }
            None => format!(
                "No subscription to {} is waiting for that confirmation (they expire after \
                 {CONFIRM_DAYS} days).",
                t.display()
            ),
        }
    }

    fn join(&mut self, t: Target<'a>) -> String {
        let sender = self.sender.clone();
        self.roster(&t).members.push(Member::new(&sender));
        self.mark(&t);
        self.subscribed.push(t.display());
        if t.list.options.notify == Notify::All {
            self.notify(t.list, &format!("{sender} has joined {}", t.display()));
        }
        let welcome = &t.list.options.welcome;
        let mut s = format!("You have been added to {}.", t.display());
        if !welcome.trim().is_empty() {
            s.push('\n');
            s.push_str(welcome.trim_end());
        }
        s
    }

    fn unsubscribe(&mut self, t: Target<'a>) -> String {
        let config = self.config();
        let sender = self.sender.clone();
        let Some(i) = self.roster(&t).find(config, &sender) else {
            return format!("You are not a member of {}.", t.display());
        };
        self.roster(&t).members.remove(i);
        self.mark(&t);
        if t.list.options.notify != Notify::None {
            self.notify(t.list, &format!("{sender} has left {}", t.display()));
        }
        let mut s = format!("You have been removed from {}.", t.display());
        let goodbye = &t.list.options.goodbye;
        if !goodbye.trim().is_empty() {
            s.push('\n');
            s.push_str(goodbye.trim_end());
        }
        s
    }

    /// NoMail (`until` = Some) or Mail (`until` = None).
    fn set_mail(&mut self, t: Target<'a>, until: Option<Option<String>>) -> String {
        let config = self.config();
        let sender = self.sender.clone();
        let Some(i) = self.roster(&t).find(config, &sender) else {
            return format!("You are not a member of {}.", t.display());
        };
        let m = &mut self.roster(&t).members[i];
        let text = match &until {
            Some(Some(d)) => format!("No mail from {} until {d}.", t.display()),
            Some(None) => format!("No mail from {} until you send Mail.", t.display()),
            None => format!("Mail from {} will be sent to you again.", t.display()),
        };
        match until {
            Some(u) => {
                m.nomail = true;
                m.nomail_until = u;
            }
            None => {
                m.nomail = false;
                m.nomail_until = None;
            }
        }
        self.mark(&t);
        text
    }

    fn users(&mut self, name: &str) -> String {
        let Some(t) = self.target(name) else {
            return no_such_list(name);
        };
        let config = self.config();
        let sender = self.sender.clone();
        let moderator = is_moderator(config, t.list, &sender);
        let member = self.roster(&t).contains(config, &sender);
        if !(moderator || (member && t.list.options.members_see_members)) {
            return format!("The members of {} are not shown to you.", t.display());
        }
        let mut s = format!("Members of {}:\n", t.display());
        for m in &self.roster(&t).members {
            s.push_str(&format!("  {}", qualify(config, &m.address)));
            if m.nomail {
                s.push_str(" (nomail)");
            }
            s.push('\n');
        }
        s
    }

    fn which(&mut self) -> String {
        let mine = self.member_of();
        if mine.is_empty() {
            return "You are not a member of any list.".into();
        }
        let mut s = String::from("You are a member of:\n");
        for t in mine {
            s.push_str(&format!("  {}\n", t.display()));
        }
        s
    }

    fn start_moderate(&mut self, line: &str, name: Option<&str>) -> Option<String> {
        let name = name.unwrap_or("");
        match self.target(name) {
            Some(t) if t.list.options.remote_admin && !t.digest => Some(t.list.name.clone()),
            Some(t) => {
                self.say(format!(
                    "> {line}\nRemote administration is not enabled for {}.",
                    t.display()
                ));
                None
            }
            None => {
                self.say(format!("> {line}\n{}", no_such_list(name)));
                None
            }
        }
    }

    fn check_password(&mut self, list: Option<&str>, given: Option<&str>) -> bool {
        let Some(t) = list.and_then(|n| self.target(n)) else {
            return false;
        };
        let want = &t.list.options.password;
        let ok = !want.is_empty() && given == Some(want.as_str());
        self.say(if ok {
            format!("> Password ...\nModerating {}.", t.display())
        } else {
            "> Password ...\nWrong password: the administration commands are ignored.".into()
        });
        ok
    }

    fn admin_change(&mut self, list: Option<&str>, ok: bool, entry: &str, add: bool) {
        let Some(t) = list.and_then(|n| self.target(n)).filter(|_| ok) else {
            return;
        };
        let config = self.config();
        let valid = if entry.contains('@') {
            crate::address::Mailbox::parse(entry).is_ok()
        } else {
            !entry.contains(char::is_whitespace)
        };
        let text = if !valid {
            format!("{entry}: not an address.")
        } else if add {
            if self.roster(&t).contains(config, entry) {
                format!("{entry} is already a member.")
            } else if self.roster(&t).members.len() >= MAX_MEMBERS {
                format!("{entry}: the list is full.")
            } else {
                self.roster(&t).members.push(Member::new(entry));
                self.mark(&t);
                format!("{entry} added.")
            }
        } else {
            match self.roster(&t).find(config, entry) {
                Some(i) => {
                    self.roster(&t).members.remove(i);
                    self.mark(&t);
                    format!("{entry} removed.")
                }
                None => format!("{entry} is not a member."),
            }
        };
        self.say(text);
    }

    /// A notification to the moderators that appears to come from the subscriber, so
    /// that they can answer them directly (§14.6.4.1).
    fn notify(&mut self, l: &List, what: &str) {
        let to: Vec<String> = l
            .moderators
            .iter()
            .map(|m| qualify(self.config(), m))
            .collect();
        if to.is_empty() {
            return;
        }
        let n = self.mails.len();
        let mail = notice_mail(
            self.config(),
            &Notice {
                from: &self.sender,
                to: &to,
                subject: what,
                text: &format!("{what}.\n"),
                id: &format!("{}.notify{n}", self.ctx.id),
                auto: "auto-generated",
                in_reply_to: None,
            },
            self.ctx.now,
        );
        self.mails.push(mail);
    }

    fn finish(mut self, data: &[u8]) -> LsResult {
        let ctx = self.ctx;
        if !self.quiet {
            let mut text = String::from("Results of your commands to the ListServer:\n\n");
            if self.out.is_empty() {
                text.push_str("No commands found. Send Help for the list of commands.\n");
            }
            for o in &self.out {
                text.push_str(o);
                text.push_str("\n\n");
            }
            for name in &self.subscribed {
                text.push_str(&format!(
                    "To unsubscribe from {name}, send a message to {} with a single line in \
                     the message body:\nunsubscribe {name}\n\n",
                    at_domain(ctx.config, LISTSERVER)
                ));
            }
            let from = at_domain(ctx.config, LISTSERVER);
            let to = vec![self.sender.clone()];
            let mid = header(data, "Message-ID");
            let reply = notice_mail(
                ctx.config,
                &Notice {
                    from: &from,
                    to: &to,
                    subject: "ListServer results",
                    text: &text,
                    id: &format!("{}.reply", ctx.id),
                    auto: "auto-replied",
                    in_reply_to: mid.as_deref(),
                },
                ctx.now,
            );
            self.mails.insert(0, reply);
        }
        let changed = self
            .changed
            .keys()
            .filter_map(|k| self.rosters.get(k).map(|r| (k.clone(), r.clone())))
            .collect();
        LsResult {
            mails: self.mails,
            changed,
            pending: self.pending_changed.then_some(self.pending),
            ignored: None,
        }
    }
}

fn no_such_list(name: &str) -> String {
    format!("There is no list {name}.")
}

/// The standard answer to Help (replaced by `DIR/ls_help.txt`).
pub fn default_help() -> String {
    "ListServer commands (one per line, in the message body):\n\
     Help                    this text\n\
     Lists                   the mailing lists here\n\
     Subscribe LIST          join LIST (short: Sub)\n\
     Unsubscribe LIST|*      leave LIST, or every list (short: Uns)\n\
     Users LIST              the members of LIST, if you may see them\n\
     Which                   the lists you are a member of\n\
     NoMail LIST|* [DATE]    stop mail from LIST until DATE (YYYY-MM-DD) or Mail\n\
     Mail LIST|*             start mail again\n\
     Quit (or Stop)          ignore the rest of the message\n\
     Subscribe and Unsubscribe may also be sent as the subject (the body is then \
     ignored).\n"
        .to_string()
}
