//! Name expansion (§21.13): mappings → lists and groups → mailbox → assistants →
//! forwarding, never backwards.
//!
//! Termination: mapping targets and list members are never mapped again; assistants,
//! forwarding and size rules go straight to a mailbox or out; a list is expanded at
//! most once per recipient at any level, and not below [`MAX_LIST_DEPTH`] levels. So
//! every walk is bounded by the configuration's size.

use std::collections::HashMap;

use super::names::{address_part, parse_target, GroupRef, Names, Target};
use super::{
    Discard, HeaderView, Origin, Outcome, Plan, RecipientPlan, Request, Source, Step,
    UnknownHandling, UnknownRecipientNotice,
};
use crate::accounts::{Account, SizeAction, SizeRule};
use crate::address::Mailbox;
use crate::collect::detect::accepts;
use crate::config::{InMail, List, Mapping, MappingMode, Snapshot, UnknownAction, MAX_LIST_DEPTH};
use crate::wildcard;

/// Most trace steps kept for one recipient (a list of every user can be long); the
/// expansion itself is never cut short by this.
const MAX_TRACE: usize = 1000;

struct Ctx<'a> {
    names: Names<'a>,
    snap: &'a Snapshot,
    source: &'a Source,
    sender: Option<Mailbox>,
    /// The envelope sender and the `From:` addresses, for the assistant rule.
    senders: Vec<Mailbox>,
    size: Option<u64>,
    /// The In Mail collected mail came through, if it is configured.
    inmail: Option<&'a InMail>,
}

impl<'a> Ctx<'a> {
    fn new(
        snap: &'a Snapshot,
        source: &'a Source,
        sender: Option<&str>,
        headers: &HeaderView,
        size: Option<u64>,
    ) -> Self {
        let sender = sender.and_then(|s| Mailbox::parse(s).ok());
        let mut senders: Vec<Mailbox> = sender.iter().cloned().collect();
        senders.extend(headers.from.iter().filter_map(|a| Mailbox::parse(a).ok()));
        let inmail = match source {
            Source::Pop3(name) => snap
                .config
                .inmails
                .iter()
                .find(|m| m.name.trim().eq_ignore_ascii_case(name.trim())),
            _ => None,
        };
        Ctx {
            names: Names::new(snap),
            snap,
            source,
            sender,
            senders,
            size,
            inmail,
        }
    }

    /// An address this source may deliver here: one in the Local Domains, or, for mail
    /// collected by an In Mail, one its Accepted Domains take (§6.3.6: a domain or a
    /// single address).
    fn valid_address(&self, local: &str, domain: &str) -> bool {
        self.names.is_local_domain(domain) || self.inmail.is_some_and(|m| accepts(m, local, domain))
    }

    /// Whether the default `user@domain -> user` mapping applies; why not, if it does
    /// not (§5.8 for all mail, MAP-5 per In Mail).
    fn default_mapping(&self) -> Result<(), String> {
        if !self.snap.config.local_mail.default_user_mapping {
            return Err(
                "default user mapping is off ([local_mail] default_user_mapping = false)".into(),
            );
        }
        match self.inmail {
            Some(m) if m.detect.disable_default_mappings => Err(format!(
                "default user mapping is off for In Mail {} (detect.disable_default_mappings)",
                m.name
            )),
            _ => Ok(()),
        }
    }
}

/// What one recipient's walk collected.
#[derive(Default)]
struct Walk {
    mailboxes: Vec<String>,
    remote: Vec<String>,
    discards: Vec<String>,
    trace: Vec<Step>,
    omitted: usize,
    /// Lists and groups expanded so far (lower-case name → level).
    expanded: HashMap<String, usize>,
    /// The lists and groups being expanded right now, outermost first.
    chain: Vec<String>,
    via_remote: bool,
}

impl Walk {
    fn step(&mut self, depth: usize, text: impl Into<String>) {
        if self.trace.len() < MAX_TRACE {
            self.trace.push(Step {
                depth,
                text: text.into(),
            });
        } else {
            self.omitted += 1;
        }
    }

    fn mailbox(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        if !self.mailboxes.contains(&name) {
            self.mailboxes.push(name);
        }
    }

    fn finish(mut self, address: &str, origin: Origin) -> RecipientPlan {
        if self.omitted > 0 {
            let n = self.omitted;
            self.trace.push(Step {
                depth: 1,
                text: format!("({n} more steps not shown)"),
            });
        }
        let outcome = if !self.mailboxes.is_empty() || !self.remote.is_empty() {
            Outcome::Deliver {
                mailboxes: self.mailboxes,
                remote: self.remote,
            }
        } else if !self.discards.is_empty() {
            self.discards.dedup();
            Outcome::Discard {
                reason: self.discards.join("; "),
            }
        } else {
            Outcome::Discard {
                reason: "nothing to deliver to".into(),
            }
        };
        RecipientPlan {
            address: address.to_string(),
            origin,
            outcome,
            trace: self.trace,
            via_remote: self.via_remote,
        }
    }
}

/// How a mapping's address part is written (§5.1.1).
enum Pattern<'m> {
    /// `user`: that user name at any valid domain.
    Name(&'m str),
    /// `user@domain`: that exact address (wildcards allowed in both parts).
    Address(&'m str, &'m str),
    /// `~@domain`: any unrecognised address at the domain.
    Unrecognised(&'m str),
}

fn pattern(m: &Mapping) -> Pattern<'_> {
    let a = m.address.trim();
    if let Some(domain) = a.strip_prefix("~@") {
        return Pattern::Unrecognised(domain);
    }
    match a.rsplit_once('@') {
        Some((local, domain)) => Pattern::Address(local, domain),
        None => Pattern::Name(a),
    }
}

fn mode_applies(m: &Mapping, source: &Source) -> bool {
    match (m.mode, source) {
        (MappingMode::Always, _) => true,
        (MappingMode::Pop3, Source::Pop3(name)) => m
            .inmail
            .as_deref()
            .is_none_or(|want| want.eq_ignore_ascii_case(name)),
        (MappingMode::Pop3, _) => false,
        (MappingMode::Smtp, s) => matches!(s, Source::Local | Source::Smtp),
        (MappingMode::Sender, _) => false,
    }
}

fn describe(m: &Mapping) -> String {
    let mut s = format!("mapping {} -> {} ({}", m.address, m.target, m.mode.as_str());
    if let Some(i) = &m.inmail {
        s.push_str(&format!(", In Mail {i}"));
    }
    if m.line > 0 {
        s.push_str(&format!(", mailroom.toml line {}", m.line));
    }
    s.push(')');
    s
}

/// Route one recipient. Used for the whole message and alone at RCPT time (where
/// the header and size are not known yet).
pub fn route_recipient(
    snap: &Snapshot,
    source: &Source,
    sender: Option<&str>,
    headers: &HeaderView,
    size: Option<u64>,
    address: &str,
) -> RecipientPlan {
    let ctx = Ctx::new(snap, source, sender, headers, size);
    route_one(&ctx, address)
}

/// The mappings that apply to this source and whose pattern `hit` accepts, in order.
fn mappings_where<'a>(ctx: &Ctx<'a>, hit: impl Fn(Pattern<'_>) -> bool) -> Vec<&'a Mapping> {
    ctx.snap
        .config
        .mappings
        .iter()
        .filter(|m| mode_applies(m, ctx.source) && hit(pattern(m)))
        .collect()
}

/// Route `rcpt` to the target of every mapping in `hits`; false when there are none.
fn follow_mappings(ctx: &Ctx<'_>, w: &mut Walk, hits: &[&Mapping], rcpt: &Mailbox) -> bool {
    for m in hits {
        w.step(1, describe(m));
        target(ctx, w, &m.target, rcpt, 2);
    }
    !hits.is_empty()
}

fn route_one(ctx: &Ctx<'_>, address: &str) -> RecipientPlan {
    let mut w = Walk::default();
    w.step(0, address);
    let Ok(rcpt) = Mailbox::parse(address) else {
        w.step(1, "not a valid address");
        return unknown(ctx, w, address);
    };
    let local = rcpt.local_part_unquoted().into_owned();
    let domain = rcpt.domain().to_string();
    let valid = ctx.valid_address(&local, &domain);

    // 1. Mappings: every match is used (§5.1.1).
    let hits = mappings_where(ctx, |p| match p {
        Pattern::Name(p) => valid && wildcard::matches(p, &local),
        Pattern::Address(lp, dp) => wildcard::matches(lp, &local) && wildcard::matches(dp, &domain),
        Pattern::Unrecognised(_) => false,
    });
    if follow_mappings(ctx, &mut w, &hits, &rcpt) {
        return w.finish(address, Origin::Envelope);
    }

    if !valid {
        return match ctx.source {
            Source::Pop3(_) => {
                w.step(1, "not in a local domain: collected mail for it is ignored");
                w.discards.push("not a local address".into());
                w.finish(address, Origin::Envelope)
            }
            _ => {
                w.step(1, "not in a local domain: queued for the Internet");
                push_remote(ctx, &mut w, rcpt.as_str(), 2);
                w.finish(address, Origin::Envelope)
            }
        };
    }

    // 2. Default user → user mapping: a list or group, else a mailbox (§5, §21.13).
    let default_mapping = ctx.default_mapping();
    if default_mapping.is_ok() {
        if let Some(s) = crate::lists::special_name(&ctx.snap.config, &local) {
            mailing_address(ctx, &mut w, s);
            return w.finish(address, Origin::Envelope);
        }
        if let Some(list) = ctx.names.list(&local) {
            w.step(1, format!("list {}", list.name));
            expand_list(ctx, &mut w, list, 1, 2);
            return w.finish(address, Origin::Envelope);
        }
        if let Some(g) = ctx.names.group(&local) {
            if ctx.source.is_internet() {
                w.step(
                    1,
                    format!(
                        "group {}: groups cannot be reached from outside (map or list it \
                         to allow that)",
                        g.name()
                    ),
                );
            } else {
                w.step(1, format!("group {}", g.name()));
                expand_group(ctx, &mut w, g, 1, 2);
                return w.finish(address, Origin::Envelope);
            }
        } else if let Some(account) = ctx.names.account(&local) {
            if ctx.source.is_internet() && !ctx.names.effective(account).receive_internet {
                w.step(
                    1,
                    format!(
                        "user {}: may not receive Internet mail, so unrecognised here",
                        account.name
                    ),
                );
            } else {
                w.step(1, format!("user {}", account.name));
                mailbox(ctx, &mut w, account, 2);
                return w.finish(address, Origin::Envelope);
            }
        }
    } else if let Err(why) = default_mapping {
        w.step(1, why);
    }

    // 3. `~@domain`: only when nothing else knew the address.
    let hits = mappings_where(
        ctx,
        |p| matches!(p, Pattern::Unrecognised(d) if wildcard::matches(d, &domain)),
    );
    if follow_mappings(ctx, &mut w, &hits, &rcpt) {
        return w.finish(address, Origin::Envelope);
    }

    // RFC 5321 §4.5.1: postmaster must always be deliverable.
    if local.eq_ignore_ascii_case("postmaster") {
        if let Some(admin) = ctx.names.main_admin() {
            w.step(
                1,
                format!("postmaster: the Main Administrator, {}", admin.name),
            );
            w.mailbox(&admin.name);
            return w.finish(address, Origin::Envelope);
        }
    }

    // MAP-7: an address nothing here knows may live on a LAN mail server (§13.3).
    if let Some(why) = super::lan::explain(ctx.snap, ctx.source, rcpt.as_str()) {
        w.step(1, why);
        w.remote.push(rcpt.as_str().to_string());
        return w.finish(address, Origin::Envelope);
    }

    unknown(ctx, w, address)
}

/// §16.3 for an address nothing recognised.
fn unknown(ctx: &Ctx<'_>, mut w: Walk, address: &str) -> RecipientPlan {
    let ur = &ctx.snap.config.unknown_recipients;
    if ur.action == UnknownAction::Remote {
        w.step(
            1,
            "unrecognised: treated as *REMOTE ([unknown_recipients] action = \"remote\")",
        );
        match Mailbox::parse(address) {
            Ok(m) => remote_target(ctx, &mut w, &m, 2),
            Err(_) => w.discards.push("not a valid address".into()),
        }
        return w.finish(address, Origin::Envelope);
    }
    let (handling, mut bounce) = match ctx.source {
        Source::Local | Source::Smtp => {
            w.step(1, "unrecognised local address: the sender gets a bounce");
            (UnknownHandling::None, true)
        }
        Source::Pop3(_) => {
            let admin = ctx.names.main_admin().map(|a| a.name.clone());
            let named = ur
                .to
                .as_deref()
                .and_then(|t| ctx.names.account(t))
                .map(|a| a.name.clone());
            let handling = match ur.action {
                UnknownAction::ErrorToAdmin => admin.map(UnknownHandling::ErrorTo),
                UnknownAction::MessageToAdmin => admin.map(UnknownHandling::MessageTo),
                UnknownAction::ErrorTo => named.map(UnknownHandling::ErrorTo),
                UnknownAction::MessageTo => named.map(UnknownHandling::MessageTo),
                UnknownAction::Remote => None,
            };
            w.step(
                1,
                format!(
                    "unrecognised local address in collected mail: [unknown_recipients] \
                     action = \"{}\"{}",
                    ur.action.as_str(),
                    if ur.bounce { ", bounce = true" } else { "" }
                ),
            );
            match handling {
                Some(h) => (h, ur.bounce),
                None => {
                    w.step(
                        2,
                        "no such account (no Main Administrator?): the sender gets a bounce instead",
                    );
                    (UnknownHandling::None, true)
                }
            }
        }
    };
    match &handling {
        UnknownHandling::ErrorTo(a) => w.step(2, format!("error message to {a}")),
        UnknownHandling::MessageTo(a) => w.step(2, format!("message to {a}")),
        UnknownHandling::None => {}
    }
    if bounce && ctx.sender.is_none() {
        w.step(2, "the sender is <>: no bounce is sent");
        bounce = false;
    }
    if !bounce && handling == UnknownHandling::None {
        w.step(2, "nobody is told");
    }
    let mut plan = w.finish(address, Origin::Envelope);
    plan.outcome = Outcome::Unknown { handling, bounce };
    plan
}

/// A mapping's target (§5.1.2): `*REMOTE`, a name, or an address. Names resolve to a
/// list, group or mailbox; mappings are not consulted again.
fn target(ctx: &Ctx<'_>, w: &mut Walk, t: &str, rcpt: &Mailbox, depth: usize) {
    match parse_target(t) {
        Ok(Target::Remote) => remote_target(ctx, w, rcpt, depth),
        Ok(Target::Name(n)) => resolve_name(ctx, w, &n, 0, depth),
        Ok(Target::Address(a)) => resolve_address(ctx, w, &a, 0, depth),
        Err(why) => w.step(depth, format!("unusable target: {why}")),
    }
}

/// `*REMOTE` (§5.5): local mail goes out; collected mail for it is ignored.
fn remote_target(ctx: &Ctx<'_>, w: &mut Walk, rcpt: &Mailbox, depth: usize) {
    match ctx.source {
        Source::Pop3(_) => {
            w.step(
                depth,
                "*REMOTE: a remote user; collected mail for it is ignored",
            );
            w.discards.push(super::REMOTE_IGNORED.into());
        }
        _ => {
            w.step(depth, "*REMOTE: a remote user; queued for the Internet");
            w.via_remote = true;
            push_remote(ctx, w, rcpt.as_str(), depth + 1);
        }
    }
}

/// A mailing list's addresses (§14.6): `LIST_owner` is its moderators; the list,
/// its digest and the ListServer are handled by the list server before routing
/// (runtime `services::lists`), so here they only need to be accepted.
fn mailing_address(ctx: &Ctx<'_>, w: &mut Walk, s: crate::lists::Special<'_>) {
    use crate::lists::Special;
    match s {
        Special::Owner(list) => {
            w.step(
                1,
                format!("owner of mailing list {}: its moderators", list.name),
            );
            if list.moderators.is_empty() {
                w.discards
                    .push(format!("mailing list {} has no moderators", list.name));
            }
            for m in &list.moderators {
                match parse_target(m) {
                    Ok(Target::Name(n)) => resolve_name(ctx, w, &n, 1, 2),
                    Ok(Target::Address(a)) => resolve_address(ctx, w, &a, 1, 2),
                    Ok(Target::Remote) | Err(_) => {
                        w.step(2, format!("unusable moderator {m}: skipped"))
                    }
                }
            }
        }
        Special::Post(list) | Special::Digest(list) => {
            w.step(
                1,
                format!("mailing list {}: the list server takes it", list.name),
            );
            w.discards.push(crate::lists::FOR_LIST_SERVER.into());
        }
        Special::ListServer => {
            w.step(1, "the ListServer: the list server takes it");
            w.discards.push(crate::lists::FOR_LIST_SERVER.into());
        }
    }
}

/// A name from a target or list member: list, then group, then mailbox.
fn resolve_name(ctx: &Ctx<'_>, w: &mut Walk, name: &str, level: usize, depth: usize) {
    if let Some(list) = crate::lists::mailing_list(&ctx.snap.config, name) {
        // Only mail to the list's own address is a post; expanding its members here
        // would bypass who-may-post, moderation and the list headers.
        w.step(
            depth,
            format!(
                "mailing list {}: reached only at its own address; not expanded",
                list.name
            ),
        );
        w.discards.push(format!(
            "mailing list {} is not expanded as a member",
            list.name
        ));
    } else if let Some(list) = ctx.names.list(name) {
        w.step(depth, format!("list {}", list.name));
        expand_list(ctx, w, list, level + 1, depth + 1);
    } else if let Some(g) = ctx.names.group(name) {
        w.step(depth, format!("group {}", g.name()));
        expand_group(ctx, w, g, level + 1, depth + 1);
    } else if let Some(account) = ctx.names.account(name) {
        w.step(depth, format!("user {}", account.name));
        mailbox(ctx, w, account, depth + 1);
    } else {
        w.step(
            depth,
            format!("no user, list or group named {name}: skipped (run `mailroom check`)"),
        );
    }
}

/// An address from a target or list member: local ones by their name, others out.
///
/// A list whose member is the list's own address is how sites sharing a domain pass
/// mail for each other's users (§7.7.2: at office 2, list `sue` has the member
/// `sue@cybercamels.co.uk`): that member is sent out, not expanded again.
fn resolve_address(ctx: &Ctx<'_>, w: &mut Walk, a: &Mailbox, level: usize, depth: usize) {
    let name = a.local_part_unquoted();
    if !ctx.names.is_local_domain(a.domain()) {
        push_remote(ctx, w, a.as_str(), depth);
    } else if w
        .chain
        .last()
        .is_some_and(|c| c.eq_ignore_ascii_case(&name))
    {
        w.step(
            depth,
            format!("{a} is this list's own address: sent out as a remote member"),
        );
        push_remote(ctx, w, a.as_str(), depth + 1);
    } else {
        resolve_name(ctx, w, &name, level, depth);
    }
}

fn expand_list(ctx: &Ctx<'_>, w: &mut Walk, list: &List, level: usize, depth: usize) {
    if !enter(w, &list.name, level, depth) {
        return;
    }
    members(ctx, w, list, level, depth);
    w.chain.pop();
}

fn members(ctx: &Ctx<'_>, w: &mut Walk, list: &List, level: usize, depth: usize) {
    if list.members.is_empty() {
        w.step(depth, "no members");
        w.discards
            .push(format!("list {} has no members", list.name));
    }
    for m in &list.members {
        match parse_target(m) {
            Ok(Target::Name(n)) => resolve_name(ctx, w, &n, level, depth),
            Ok(Target::Address(a)) => resolve_address(ctx, w, &a, level, depth),
            Ok(Target::Remote) => w.step(depth, "*REMOTE is not a list member: skipped"),
            Err(why) => w.step(depth, format!("unusable member: {why}")),
        }
    }
}

fn expand_group(ctx: &Ctx<'_>, w: &mut Walk, g: GroupRef<'_>, level: usize, depth: usize) {
    if !enter(w, g.name(), level, depth) {
        return;
    }
    group_members(ctx, w, g, depth);
    w.chain.pop();
}

fn group_members(ctx: &Ctx<'_>, w: &mut Walk, g: GroupRef<'_>, depth: usize) {
    let members = ctx.names.group_members(g);
    if members.is_empty() {
        if matches!(g, GroupRef::NoOne) {
            w.step(depth, "No-one: discarded on purpose");
            w.discards.push("sent to No-one".into());
        } else {
            w.step(depth, "no members");
            w.discards
                .push(format!("group {} has no members", g.name()));
        }
    }
    for a in members {
        w.step(depth, format!("user {}", a.name));
        mailbox(ctx, w, a, depth + 1);
    }
}

/// Start expanding a list or group at `level` (pushing it on the chain); false if it
/// must not be: too deep, a loop, or already expanded at this level or above (its
/// members are already in).
fn enter(w: &mut Walk, name: &str, level: usize, depth: usize) -> bool {
    if level > MAX_LIST_DEPTH {
        w.step(
            depth,
            format!("nested more than {MAX_LIST_DEPTH} levels deep: not expanded (§14.2)"),
        );
        return false;
    }
    let key = name.to_ascii_lowercase();
    if w.chain.contains(&key) {
        w.step(depth, "a loop: this list is already being expanded");
        return false;
    }
    match w.expanded.get(&key) {
        Some(&seen) if seen <= level => {
            w.step(depth, "already expanded for this recipient");
            false
        }
        _ => {
            w.expanded.insert(key.clone(), level);
            w.chain.push(key);
            true
        }
    }
}

/// A user's mailbox, with assistants, forwarding and size rules (§4.2.3.1.6).
fn mailbox(ctx: &Ctx<'_>, w: &mut Walk, account: &Account, depth: usize) {
    let mut keep = true;
    let mut sent_elsewhere = false;

    if !account.assistants.is_empty() {
        let from_assistant = account
            .assistants
            .iter()
            .any(|a| ctx.senders.iter().any(|s| same_party(ctx, a, s)));
        if from_assistant {
            w.step(depth, "from an assistant: assistants are not sent a copy");
        } else {
            let how = if account.assistant_redirect {
                "redirect"
            } else {
                "copy"
            };
            for a in &account.assistants {
                w.step(depth, format!("assistant {a} ({how})"));
                sent_elsewhere |= direct(ctx, w, a, depth + 1);
            }
            if account.assistant_redirect {
                keep = false;
            }
        }
    }

    if !account.forward_to.is_empty() {
        if account.use_forwarding {
            for f in &account.forward_to {
                w.step(depth, format!("forwarding to {f} (no local copy)"));
                sent_elsewhere |= direct(ctx, w, f, depth + 1);
            }
            keep = false;
        } else {
            w.step(depth, "forwarding is set but off (use_forwarding = false)");
        }
    }

    for (rule, at_least) in [
        (&account.size_at_least, true),
        (&account.size_at_most, false),
    ] {
        let Some(rule) = rule else { continue };
        if rule.kb == 0 || rule.to.is_empty() {
            continue;
        }
        let cmp = if at_least { ">=" } else { "<=" };
        let Some(size) = ctx.size else {
            w.step(
                depth,
                format!(
                    "size rule (message {cmp} {} kB) not evaluated: size not known",
                    rule.kb
                ),
            );
            continue;
        };
        if !size_rule_applies(rule, size, at_least) {
            continue;
        }
        let how = match rule.action {
            SizeAction::Copy => "copy",
            SizeAction::Redirect => "redirect",
        };
        w.step(
            depth,
            format!(
                "message {cmp} {} kB: {how} to {}",
                rule.kb,
                rule.to.join(", ")
            ),
        );
        for t in &rule.to {
            sent_elsewhere |= direct(ctx, w, t, depth + 1);
        }
        if rule.action == SizeAction::Redirect {
            keep = false;
        }
    }

    if !keep && !sent_elsewhere {
        w.step(
            depth,
            "no usable forwarding target: kept in the mailbox instead",
        );
        keep = true;
    }
    if keep {
        w.step(depth, format!("mailbox {}", account.name));
        w.mailbox(&account.name);
    }
}

fn size_rule_applies(rule: &SizeRule, size: u64, at_least: bool) -> bool {
    let limit = rule.kb.saturating_mul(1024);
    if at_least {
        size >= limit
    } else {
        size <= limit
    }
}

/// An assistant, forwarding or size-rule target: a local user's mailbox (no further
/// routing: "never backwards") or an address out. True if the message goes somewhere.
fn direct(ctx: &Ctx<'_>, w: &mut Walk, t: &str, depth: usize) -> bool {
    let account = match parse_target(t) {
        Ok(Target::Name(n)) => ctx.names.account(&n),
        Ok(Target::Address(a)) if ctx.names.is_local_domain(a.domain()) => {
            ctx.names.account(&a.local_part_unquoted())
        }
        Ok(Target::Address(a)) => {
            push_remote(ctx, w, a.as_str(), depth);
            return true;
        }
        Ok(Target::Remote) | Err(_) => None,
    };
    match account {
        Some(a) => {
            w.step(depth, format!("mailbox {}", a.name));
            w.mailbox(&a.name);
            true
        }
        None => {
            w.step(
                depth,
                format!("{t} is not a local user or a remote address: skipped"),
            );
            false
        }
    }
}

/// Whether assistant entry `entry` (a name or address) is the sender `s`.
fn same_party(ctx: &Ctx<'_>, entry: &str, s: &Mailbox) -> bool {
    let sender_account = ctx.names.local_account_of(s).map(|a| a.name.as_str());
    match parse_target(entry) {
        Ok(Target::Name(n)) => sender_account.is_some_and(|a| a.eq_ignore_ascii_case(&n)),
        Ok(Target::Address(a)) => {
            a.as_str().eq_ignore_ascii_case(s.as_str())
                || (sender_account.is_some()
                    && ctx.names.local_account_of(&a).map(|x| x.name.as_str()) == sender_account)
        }
        _ => false,
    }
}

/// Queue `address` for the outside, once; mail from local users gets the domain
/// mappings (§12.2).
fn push_remote(ctx: &Ctx<'_>, w: &mut Walk, address: &str, depth: usize) {
    let mut out = address.to_string();
    if *ctx.source == Source::Local {
        if let Some(mapped) = domain_mapped(ctx.snap, address) {
            w.step(depth, format!("domain mapping: {address} -> {mapped}"));
            out = mapped;
        }
    }
    w.step(depth, format!("queued for {out}"));
    if !w.remote.iter().any(|r| r.eq_ignore_ascii_case(&out)) {
        w.remote.push(out);
    }
}

/// `address` with its domain replaced by the first matching domain mapping.
pub(crate) fn domain_mapped(snap: &Snapshot, address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    snap.config
        .local_mail
        .domain_mappings
        .iter()
        .find(|d| d.from.eq_ignore_ascii_case(domain))
        .map(|d| format!("{local}@{}", d.to))
}

/// The whole message: every recipient, the sender mappings, then one plan.
pub(super) fn route_message(snap: &Snapshot, req: &Request<'_>) -> Plan {
    let ctx = Ctx::new(snap, req.source, req.sender, req.headers, req.size);
    let recipients: Vec<RecipientPlan> =
        req.recipients.iter().map(|r| route_one(&ctx, r)).collect();
    assemble(&ctx, req, recipients)
}

/// The whole message to one user, list or group name, whatever its recipients
/// (§6.3.2.1 "Send all messages to a specified user/list"). Mappings are not
/// consulted: the name is what the administrator chose. A name that does not exist is
/// an unknown recipient (§16.3).
pub(super) fn route_name(snap: &Snapshot, req: &Request<'_>, name: &str) -> Plan {
    let ctx = Ctx::new(snap, req.source, req.sender, req.headers, req.size);
    let mut w = Walk::default();
    w.step(0, name);
    let plan = if ctx.names.exists(name) {
        resolve_name(&ctx, &mut w, name, 0, 1);
        w.finish(name, Origin::Envelope)
    } else {
        w.step(1, format!("no user, list or group named {name}"));
        unknown(&ctx, w, name)
    };
    assemble(&ctx, req, vec![plan])
}

/// The sender mappings, then one plan from every recipient's outcome.
fn assemble(ctx: &Ctx<'_>, req: &Request<'_>, mut recipients: Vec<RecipientPlan>) -> Plan {
    let snap = ctx.snap;

    // §5.1.3.4: "check the sender's address instead of the recipient's".
    for m in snap
        .config
        .mappings
        .iter()
        .filter(|m| m.mode == MappingMode::Sender)
    {
        let hit = ctx.senders.iter().find(|s| match pattern(m) {
            Pattern::Name(p) => {
                ctx.names.is_local_domain(s.domain())
                    && wildcard::matches(p, &s.local_part_unquoted())
            }
            Pattern::Address(lp, dp) => {
                wildcard::matches(lp, &s.local_part_unquoted()) && wildcard::matches(dp, s.domain())
            }
            Pattern::Unrecognised(_) => false,
        });
        let Some(s) = hit.cloned() else { continue };
        let mut w = Walk::default();
        w.step(0, format!("sender {s}"));
        w.step(1, describe(m));
        target(ctx, &mut w, &m.target, &s, 2);
        recipients.push(w.finish(&m.address, Origin::SenderMapping));
    }

    let mut plan = Plan {
        recipients: Vec::new(),
        mailboxes: Vec::new(),
        remote: Vec::new(),
        outbound_sender: req.sender.map(str::to_string),
        notices: Vec::new(),
        bounces: Vec::new(),
        discards: Vec::new(),
    };
    let add = |list: &mut Vec<String>, v: &str, fold: bool| {
        let present = list.iter().any(|x| {
            if fold {
                x.eq_ignore_ascii_case(v)
            } else {
                x == v
            }
        });
        if !present {
            list.push(v.to_string());
        }
    };
    for r in &recipients {
        match &r.outcome {
            Outcome::Deliver { mailboxes, remote } => {
                for m in mailboxes {
                    add(&mut plan.mailboxes, m, true);
                }
                for a in remote {
                    add(&mut plan.remote, a, true);
                }
            }
            Outcome::Unknown { handling, bounce } => {
                match handling {
                    UnknownHandling::MessageTo(a) => add(&mut plan.mailboxes, a, true),
                    UnknownHandling::ErrorTo(a) => {
                        match plan
                            .notices
                            .iter_mut()
                            .find(|n| n.to.eq_ignore_ascii_case(a))
                        {
                            Some(n) => n.recipients.push(r.address.clone()),
                            None => plan.notices.push(UnknownRecipientNotice {
                                to: a.clone(),
                                recipients: vec![r.address.clone()],
                            }),
                        }
                    }
                    UnknownHandling::None => {}
                }
                if *bounce {
                    add(&mut plan.bounces, &r.address, false);
                }
            }
            Outcome::Discard { reason } => plan.discards.push(Discard {
                recipient: r.address.clone(),
                reason: reason.clone(),
            }),
        }
    }
    if *req.source == Source::Local {
        plan.outbound_sender = ctx.sender.as_ref().map(|s| outbound_sender(ctx, s));
    }
    plan.recipients = recipients;
    plan
}

/// A local user's envelope sender as the outside should see it: their Internet reply
/// address (§4.2.3.4.2), then the domain mappings (§12.2).
fn outbound_sender(ctx: &Ctx<'_>, sender: &Mailbox) -> String {
    let mut s = sender.as_str().to_string();
    if let Some(account) = ctx.names.local_account_of(sender) {
        if let Some(reply) = ctx.names.effective(account).reply_address {
            s = address_part(&reply).to_string();
        }
    }
    domain_mapped(ctx.snap, &s).unwrap_or(s)
}
