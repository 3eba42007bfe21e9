use super::listserver::{self, LsCtx, LsResult, Pending};
use super::moderation::{self, ModeratorReply};
use super::post::{self, PostCtx, PostDecision};
use super::*;
use crate::config::{Config, List, ListKind, Moderation, Notify, PostPolicy, SubscribePolicy};
use std::collections::BTreeMap;

/// 2003-11-20 00:27:51 UTC, the manual's moderation example.
const NOV_2003: u64 = 1_069_288_071;

fn config(lists: Vec<List>) -> Config {
    Config {
        hostname: "mail.pscs.co.uk".into(),
        default_domain: "pscs.co.uk".into(),
        local_domains: vec!["pscs.co.uk".into()],
        lists,
        ..Config::default()
    }
}

fn mylist() -> List {
    let mut l = List::new(
        "mylist",
        ListKind::Mailing,
        vec![
            "fred".into(),
            "sue@pscs.co.uk".into(),
            "carol@remote.test".into(),
        ],
    );
    l.moderators = vec!["moderator".into()];
    l
}

fn mail(from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Received: from 127.0.0.1 by mail.pscs.co.uk\r\nMessage-ID: <3575DAF3.27DD3458@pscs.co.uk>\r\n\
         From: Fred Bloggs <{from}>\r\nTo: mylist@pscs.co.uk\r\nSubject: {subject}\r\n\
         Reply-To: someone@else.test\r\nReturn-Path: <x@y>\r\n\r\n{body}"
    )
    .into_bytes()
}

fn decide(c: &Config, roster: &Roster, sender: Option<&str>, data: &[u8]) -> PostDecision {
    let list = mailing_list(c, "mylist").unwrap();
    post::post(
        &PostCtx {
            config: c,
            list,
            roster,
            now: Instant::from_secs(NOV_2003),
            id: "t1",
        },
        sender,
        data,
    )
}

fn text(m: &OutMail) -> String {
    String::from_utf8_lossy(&m.data).into_owned()
}

#[test]
fn member_post_reaches_every_member_once_with_list_headers() {
    let mut l = mylist();
    l.options.footer =
        "To unsubscribe from this list, send a message to listserver@pscs.co.uk".into();
    let c = config(vec![l]);
    let roster = Roster::from_config(&c.lists[0]);
    let d = decide(
        &c,
        &roster,
        Some("fred@pscs.co.uk"),
        &mail("fred@pscs.co.uk", "My Message", "This is a sample\r\n"),
    );
    let PostDecision::Distribute { mails, digest } = d else {
        panic!("{d:?}")
    };
    assert!(digest.is_none());
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from.as_deref(), Some("mylist_owner@pscs.co.uk"));
    assert_eq!(
        m.to,
        vec!["fred@pscs.co.uk", "sue@pscs.co.uk", "carol@remote.test"]
    );
    let t = text(m);
    for want in [
        "List-Id: mylist <mylist.pscs.co.uk>\r\n",
        "List-Post: <mailto:mylist@pscs.co.uk>\r\n",
        "List-Unsubscribe: <mailto:listserver@pscs.co.uk?subject=unsubscribe%20mylist>\r\n",
        "List-Owner: <mailto:mylist_owner@pscs.co.uk>\r\n",
        "Precedence: list\r\n",
        "X-BeenThere: mylist@pscs.co.uk\r\n",
        "Sender: mylist_owner@pscs.co.uk\r\n",
        "Reply-To: mylist@pscs.co.uk\r\n",
        "To: mylist@pscs.co.uk\r\n",
        "\r\n\r\nThis is a sample\r\n\r\nTo unsubscribe from this list",
    ] {
        assert!(t.contains(want), "{want:?} missing in\n{t}");
    }
    assert!(
        !t.contains("someone@else.test"),
        "the author's Reply-To is replaced"
    );
    assert!(!t.contains("Return-Path"));
}

#[test]
fn reply_to_sender_and_no_sender_header_keep_the_authors() {
    let mut l = mylist();
    l.options.reply_to = crate::config::ReplyTo::Sender;
    l.options.sender_header = false;
    l.options.return_address = Some("bounces@pscs.co.uk".into());
    let c = config(vec![l]);
    let roster = Roster::from_config(&c.lists[0]);
    let PostDecision::Distribute { mails, .. } = decide(
        &c,
        &roster,
        Some("fred@pscs.co.uk"),
        &mail("fred@pscs.co.uk", "s", "b\r\n"),
    ) else {
        panic!()
    };
    let t = text(&mails[0]);
    assert!(t.contains("Reply-To: someone@else.test"));
    assert!(!t.contains("Sender:"));
    assert_eq!(mails[0].from.as_deref(), Some("bounces@pscs.co.uk"));
}

#[test]
fn slow_posting_sends_one_copy_per_member_addressed_to_it() {
    let mut l = mylist();
    l.options.slow = true;
    let c = config(vec![l]);
    let roster = Roster::from_config(&c.lists[0]);
    let PostDecision::Distribute { mails, .. } = decide(
        &c,
        &roster,
        Some("fred@pscs.co.uk"),
        &mail("fred@pscs.co.uk", "s", "b\r\n"),
    ) else {
        panic!()
    };
    assert_eq!(mails.len(), 3);
    for m in &mails {
        assert_eq!(m.to.len(), 1);
        let t = text(m);
        assert!(t.contains(&format!("To: {}\r\n", m.to[0])), "{t}");
        assert!(!t.contains("\r\nTo: mylist@"));
    }
}

#[test]
fn who_may_post() {
    let outsider = mail("out@side.test", "s", "b\r\n");
    let member = mail("sue@pscs.co.uk", "s", "b\r\n");
    let moderator = mail("Moderator@PSCS.co.uk", "s", "b\r\n");
    for (policy, out_ok, member_ok) in [
        (PostPolicy::Anyone, true, true),
        (PostPolicy::Members, false, true),
        (PostPolicy::Moderators, false, false),
    ] {
        let mut l = mylist();
        l.post = policy;
        let c = config(vec![l]);
        let r = Roster::from_config(&c.lists[0]);
        let ok = |d: &PostDecision| matches!(d, PostDecision::Distribute { .. });
        assert_eq!(
            ok(&decide(&c, &r, Some("out@side.test"), &outsider)),
            out_ok,
            "{policy:?}"
        );
        assert_eq!(
            ok(&decide(&c, &r, Some("sue@pscs.co.uk"), &member)),
            member_ok,
            "{policy:?}"
        );
        assert!(
            ok(&decide(&c, &r, Some("m@x"), &moderator)),
            "moderators always may"
        );
    }
    let c = config(vec![mylist()]);
    let r = Roster::from_config(&c.lists[0]);
    let PostDecision::Refuse { mails, .. } = decide(&c, &r, Some("out@side.test"), &outsider)
    else {
        panic!()
    };
    assert_eq!(mails[0].to, vec!["out@side.test"]);
    assert_eq!(mails[0].from, None);
    assert!(text(&mails[0]).contains("Auto-Submitted: auto-replied"));
}

#[test]
fn password_posting_needs_the_approved_line() {
    let mut l = mylist();
    l.options.post_password = true;
    l.options.password = "12345".into();
    let c = config(vec![l]);
    let r = Roster::from_config(&c.lists[0]);
    let plain = mail("fred@pscs.co.uk", "s", "b\r\n");
    assert!(matches!(
        decide(&c, &r, Some("fred@pscs.co.uk"), &plain),
        PostDecision::Refuse { .. }
    ));
    let mut with = b"Approved: 12345\r\n".to_vec();
    with.extend_from_slice(&plain);
    let PostDecision::Distribute { mails, .. } = decide(&c, &r, Some("fred@pscs.co.uk"), &with)
    else {
        panic!()
    };
    assert!(
        !text(&mails[0]).contains("12345"),
        "the password is not passed on"
    );
}

#[test]
fn loops_and_automatic_mail_are_dropped() {
    let c = config(vec![mylist()]);
    let r = Roster::from_config(&c.lists[0]);
    let base = mail("fred@pscs.co.uk", "s", "b\r\n");
    let with = |h: &str| {
        let mut m = h.as_bytes().to_vec();
        m.extend_from_slice(&base);
        m
    };
    for (sender, data) in [
        (
            Some("fred@pscs.co.uk"),
            with("X-BeenThere: mylist@pscs.co.uk\r\n"),
        ),
        (
            Some("fred@pscs.co.uk"),
            with("Auto-Submitted: auto-replied\r\n"),
        ),
        (Some("fred@pscs.co.uk"), with("Precedence: bulk\r\n")),
        (None, base.clone()),
        (Some("x@y"), mail("listserver@pscs.co.uk", "s", "b")),
        (Some("x@y"), mail("mylist@pscs.co.uk", "s", "b")),
    ] {
        assert!(
            matches!(decide(&c, &r, sender, &data), PostDecision::Drop { .. }),
            "{}",
            String::from_utf8_lossy(&data)
        );
    }
    // A list copy from another list may be posted on (nested lists), once.
    let PostDecision::Distribute { mails, .. } = decide(
        &c,
        &r,
        Some("fred@pscs.co.uk"),
        &with("Auto-Submitted: no\r\n"),
    ) else {
        panic!()
    };
    assert!(matches!(
        decide(&c, &r, Some("mylist_owner@pscs.co.uk"), &mails[0].data),
        PostDecision::Drop { .. }
    ));
}

#[test]
fn nomail_members_get_nothing_until_the_date() {
    let c = config(vec![mylist()]);
    let mut r = Roster::from_config(&c.lists[0]);
    r.members[1].nomail = true;
    r.members[2].nomail = true;
    r.members[2].nomail_until = Some("2003-11-20".into());
    let PostDecision::Distribute { mails, .. } = decide(
        &c,
        &r,
        Some("fred@pscs.co.uk"),
        &mail("fred@pscs.co.uk", "s", "b"),
    ) else {
        panic!()
    };
    assert_eq!(mails[0].to, vec!["fred@pscs.co.uk", "carol@remote.test"]);
    assert!(!r.members[2].receives(Instant::from_secs(NOV_2003 - 86_400)));
}

#[test]
fn simple_moderation_as_in_the_manual() {
    assert_eq!(
        moderation::token(Instant::from_secs(NOV_2003), 0),
        "200311200027510000"
    );
    let mut l = mylist();
    l.name = "VPOP3_Discuss".into();
    l.moderated = true;
    let c = config(vec![l]);
    let list = &c.lists[0];
    let r = Roster::from_config(list);
    let ctx = PostCtx {
        config: &c,
        list,
        roster: &r,
        now: Instant::from_secs(NOV_2003),
        id: "t1",
    };
    let post = mail(
        "fred@pscs.co.uk",
        "My Message",
        "This is a sample moderated message\r\n",
    );
    let PostDecision::Hold {
        token,
        post: Some(kept),
        mails,
    } = post::post(&ctx, Some("fred@pscs.co.uk"), &post)
    else {
        panic!()
    };
    assert_eq!(kept, post);
    assert_eq!(mails[0].to, vec!["moderator@pscs.co.uk"]);
    let t = text(&mails[0]);
    let subject = format!("Mailing List Moderation Message Approval (VPOP3_Discuss - {token})");
    assert!(t.contains(&format!("Subject: {subject}\r\n")), "{t}");
    assert!(t.contains("From: VPOP3_Discuss@pscs.co.uk\r\n"));
    assert!(t.contains("The following message has been sent to the mailing list \"VPOP3_Discuss\""));
    assert!(t.contains("You must reply within 14 days to approve this message."));
    assert!(t.contains("This is a sample moderated message"));

    let reply = |subj: &str| mail("moderator@pscs.co.uk", subj, "> quoted\r\n");
    assert_eq!(
        post::post(
            &ctx,
            Some("moderator@pscs.co.uk"),
            &reply(&format!("Re: {subject}"))
        ),
        PostDecision::Decided {
            token: token.clone(),
            approve: true
        }
    );
    assert_eq!(
        post::post(
            &ctx,
            Some("moderator@pscs.co.uk"),
            &reply(&format!("REJECT Re: {subject}"))
        ),
        PostDecision::Decided {
            token: token.clone(),
            approve: false
        }
    );
    // Only a moderator decides; anyone else's "reply" is just a post to hold.
    assert!(matches!(
        post::post(
            &ctx,
            Some("fred@pscs.co.uk"),
            &mail("fred@pscs.co.uk", &format!("Re: {subject}"), "x")
        ),
        PostDecision::Hold { .. }
    ));
    assert!(!moderation::expired(
        &token,
        Instant::from_secs(NOV_2003 + 14 * 86_400)
    ));
    assert!(moderation::expired(
        &token,
        Instant::from_secs(NOV_2003 + 14 * 86_400 + 1)
    ));
}

#[test]
fn flexible_moderation_as_in_the_manual() {
    let mut l = mylist();
    l.moderated = true;
    l.options.moderation = Moderation::Flexible;
    let c = config(vec![l]);
    let r = Roster::from_config(&c.lists[0]);
    let post = mail(
        "fred@pscs.co.uk",
        "My Message",
        "This is a sample moderated message\r\n",
    );
    let PostDecision::Hold {
        post: None, mails, ..
    } = decide(&c, &r, Some("fred@pscs.co.uk"), &post)
    else {
        panic!()
    };
    let t = text(&mails[0]);
    for want in [
        "Subject: Message post to moderated list {Mod:mylist}\r\n",
        "Mailing List: mylist\r\nMessage Originator: fred@pscs.co.uk\r\nOriginal Subject: My Message\r\n\r\n-----\r\n",
    ] {
        assert!(t.contains(want), "{want:?} in\n{t}");
    }
    // The moderator replies quoting the request and edits the text.
    let body =
        "Fine by me.\r\n\r\n> Mailing List: mylist\r\n> Message Originator: fred@pscs.co.uk\r\n\
                > -----\r\n> From: Fred Bloggs <fred@pscs.co.uk>\r\n> To: mylist@pscs.co.uk\r\n\
                > Subject: My Message\r\n>\r\n> This is an edited moderated message\r\n";
    let reply = mail(
        "moderator@pscs.co.uk",
        "Re: Message post to moderated list {Mod: mylist}",
        body,
    );
    assert_eq!(
        moderation::moderator_reply(&c.lists[0], &reply),
        Some(ModeratorReply::Flexible {
            post: b"From: Fred Bloggs <fred@pscs.co.uk>\r\nTo: mylist@pscs.co.uk\r\nSubject: My Message\r\n\r\nThis is an edited moderated message\r\n".to_vec()
        })
    );
    let PostDecision::Distribute { mails, .. } =
        decide(&c, &r, Some("moderator@pscs.co.uk"), &reply)
    else {
        panic!()
    };
    let t = text(&mails[0]);
    assert!(t.contains("From: Fred Bloggs <fred@pscs.co.uk>\r\n"));
    assert!(t.contains("\r\n\r\nThis is an edited moderated message\r\n"));
    assert!(!t.contains("Fine by me"));
}

// ---- ListServer ----

struct World {
    c: Config,
    rosters: BTreeMap<String, Roster>,
    pending: Vec<Pending>,
}

impl World {
    fn new(lists: Vec<List>) -> World {
        let c = config(lists);
        let mut rosters = BTreeMap::new();
        for name in listserver::roster_names(&c) {
            let r = mailing_list(&c, &name)
                .map(Roster::from_config)
                .unwrap_or_default();
            rosters.insert(listserver::roster_key(&name), r);
        }
        World {
            c,
            rosters,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, from: &str, subject: &str, body: &str) -> LsResult {
        let data =
            format!("From: <{from}>\r\nSubject: {subject}\r\nMessage-ID: <q@x>\r\n\r\n{body}");
        let ctx = LsCtx {
            config: &self.c,
            now: Instant::from_secs(NOV_2003),
            id: "ls1",
            new_token: "tok123",
            help_text: None,
            lists_text: None,
        };
        let r = listserver::handle(
            &ctx,
            Some(from),
            data.as_bytes(),
            &self.rosters,
            &self.pending,
        );
        for (k, v) in &r.changed {
            self.rosters.insert(k.clone(), v.clone());
        }
        if let Some(p) = &r.pending {
            self.pending = p.clone();
        }
        r
    }

    fn members(&self, list: &str) -> Vec<String> {
        self.rosters[&list.to_ascii_lowercase()]
            .members
            .iter()
            .map(|m| m.address.clone())
            .collect()
    }
}

fn reply(r: &LsResult) -> String {
    text(&r.mails[0])
}

fn open_list(name: &str) -> List {
    let mut l = List::new(name, ListKind::Mailing, vec!["fred".into()]);
    l.subscribe = SubscribePolicy::Open;
    l.moderators = vec!["moderator".into()];
    l
}

#[test]
fn subscribe_and_unsubscribe_in_body_or_subject() {
    let mut w = World::new(vec![open_list("VPOP3_Discuss"), open_list("other")]);
    let r = w.send(
        "ann@remote.test",
        "hello",
        "Subscribe VPOP3_Discuss\r\nsub other\r\n",
    );
    assert_eq!(w.members("VPOP3_Discuss"), vec!["fred", "ann@remote.test"]);
    assert_eq!(w.members("other"), vec!["fred", "ann@remote.test"]);
    assert_eq!(r.mails.len(), 1, "one reply summarising");
    let t = reply(&r);
    assert!(t.contains("From: listserver@pscs.co.uk\r\n"));
    assert!(t.contains("To: ann@remote.test\r\n"));
    assert!(t.contains("In-Reply-To: <q@x>\r\n"));
    assert!(t.contains("Auto-Submitted: auto-replied\r\n"));
    assert!(t.contains("> Subscribe VPOP3_Discuss\r\nYou have been added to VPOP3_Discuss."));
    assert!(
        t.contains("with a single line in the message body:\r\nunsubscribe VPOP3_Discuss"),
        "{t}"
    );
    let r = w.send(
        "ann@remote.test",
        "Re: Uns VPOP3_Discuss",
        "Subscribe other\r\nignored\r\n",
    );
    assert_eq!(w.members("VPOP3_Discuss"), vec!["fred"]);
    assert!(reply(&r).contains("You have been removed from VPOP3_Discuss."));
    assert!(
        !reply(&r).contains("already"),
        "the body is ignored with a subject command"
    );
    let r = w.send("ann@remote.test", "x", "Which\r\nUns *\r\nWhich\r\n");
    let t = reply(&r);
    assert!(t.contains("You are a member of:\r\n  other"), "{t}");
    assert!(t.contains("You have been removed from other."));
    assert!(t.contains("You are not a member of any list."));
    assert_eq!(w.members("other"), vec!["fred"]);
}

#[test]
fn closed_and_confidential_lists() {
    let mut closed = open_list("closed");
    closed.subscribe = SubscribePolicy::Closed;
    let mut secret = closed.clone();
    secret.name = "secret".into();
    secret.confidential = true;
    let mut w = World::new(vec![closed, secret, open_list("open")]);
    let t = reply(&w.send("ann@x.test", "", "sub closed\r\nsub secret\r\nlists\r\n"));
    assert!(t.contains("closed does not take subscriptions by mail."));
    assert!(t.contains("There is no list secret."));
    assert!(
        t.contains("Mailing lists here:\r\n  closed\r\n  open\r\n"),
        "{t}"
    );
    assert!(!t.contains("  secret"));
    assert_eq!(w.members("closed"), vec!["fred"]);
}

#[test]
fn moderators_are_told_of_changes() {
    let mut l = open_list("l");
    l.options.notify = Notify::All;
    l.options.welcome = "Welcome to the widgets list!".into();
    l.options.goodbye = "Sorry to see you go.".into();
    let mut w = World::new(vec![l]);
    let r = w.send("ann@x.test", "", "sub l\r\nuns l\r\n");
    assert_eq!(r.mails.len(), 3);
    assert!(reply(&r).contains("Welcome to the widgets list!"));
    assert!(reply(&r).contains("Sorry to see you go."));
    let n = text(&r.mails[1]);
    assert!(
        n.contains("From: ann@x.test\r\n"),
        "appears to come from the subscriber: {n}"
    );
    assert!(n.contains("To: moderator@pscs.co.uk\r\n"));
    assert!(n.contains("Subject: ann@x.test has joined l"));
}

#[test]
fn users_nomail_mail_help_quit() {
    let mut l = open_list("l");
    l.options.members_see_members = false;
    let mut w = World::new(vec![l]);
    assert!(reply(&w.send("fred@pscs.co.uk", "", "users l")).contains("are not shown to you"));
    assert!(reply(&w.send("moderator@pscs.co.uk", "", "users l"))
        .contains("Members of l:\r\n  fred@pscs.co.uk"));
    let t = reply(&w.send(
        "fred@pscs.co.uk",
        "",
        "NoMail l 2001-12-31\r\nnomail l someday",
    ));
    assert!(t.contains("No mail from l until 2001-12-31."));
    assert!(t.contains("someday is not a date"));
    assert_eq!(
        w.rosters["l"].members[0].nomail_until.as_deref(),
        Some("2001-12-31")
    );
    reply(&w.send("fred@pscs.co.uk", "", "nomail *"));
    assert!(w.rosters["l"].members[0].nomail);
    assert!(w.rosters["l"].members[0].nomail_until.is_none());
    reply(&w.send("fred@pscs.co.uk", "", "Mail l"));
    assert!(!w.rosters["l"].members[0].nomail);
    let t = reply(&w.send("fred@pscs.co.uk", "", "help\r\nquit\r\nsub l\r\n"));
    assert!(t.contains("ListServer commands"));
    assert!(t.contains("Stopped."));
    assert!(!t.contains("already a member"));
    // A signature ends the commands too.
    let t = reply(&w.send("fred@pscs.co.uk", "", "which\r\n-- \r\nFred\r\nsub l\r\n"));
    assert!(!t.contains("already"));
}

#[test]
fn remote_administration_as_in_the_manual() {
    let mut l = open_list("Mylist");
    l.options.remote_admin = true;
    l.options.password = "passwd".into();
    l.members.push("a.naughty@user".into());
    let body = "Moderate Mylist\r\nPassword passwd\r\n\r\nAdd\r\n#this is a comment\r\n\
                simon@brown.com\r\nkaren@bobble.org\r\nEndAdd\r\n\r\nRemove\r\n\r\n\
                a.naughty@user\r\n\r\nEndRemove\r\n\r\n \r\nEndModerate\r\n";
    let mut w = World::new(vec![l.clone()]);
    let r = w.send("moderator@pscs.co.uk", "", body);
    assert_eq!(
        w.members("Mylist"),
        vec!["fred", "simon@brown.com", "karen@bobble.org"]
    );
    let t = reply(&r);
    assert!(t.contains("simon@brown.com added."));
    assert!(t.contains("a.naughty@user removed."));
    // Wrong password: nothing changes.
    let mut w = World::new(vec![l.clone()]);
    let r = w.send("moderator@pscs.co.uk", "", &body.replace("passwd", "guess"));
    assert!(reply(&r).contains("Wrong password"));
    assert!(r.changed.is_empty());
    // Quiet: no acknowledgement.
    let mut w = World::new(vec![l]);
    let r = w.send("moderator@pscs.co.uk", "", &format!("Quiet\r\n{body}"));
    assert!(r.mails.is_empty());
    assert_eq!(w.members("Mylist").len(), 3);
}

#[test]
fn verified_subscription_waits_for_the_confirmation() {
    let mut l = open_list("l");
    l.options.verify = true;
    let mut w = World::new(vec![l]);
    let r = w.send("ann@x.test", "", "sub l");
    assert_eq!(w.members("l"), vec!["fred"]);
    assert_eq!(r.mails.len(), 2);
    assert!(text(&r.mails[1]).contains("Subject: confirm l tok123\r\n"));
    assert!(reply(&w.send("bob@x.test", "Re: confirm l tok123", "")).contains("No subscription"));
    assert!(reply(&w.send("ann@x.test", "Re: confirm l wrong", "")).contains("No subscription"));
    let r = w.send("ann@x.test", "Re: confirm l tok123", "");
    assert!(reply(&r).contains("You have been added to l."));
    assert_eq!(w.members("l"), vec!["fred", "ann@x.test"]);
    assert!(w.pending.is_empty());
}

#[test]
fn listserver_ignores_automatic_and_list_mail() {
    let mut w = World::new(vec![open_list("l")]);
    let ctx = LsCtx {
        config: &w.c,
        now: Instant::from_secs(NOV_2003),
        id: "x",
        new_token: "t",
        help_text: None,
        lists_text: None,
    };
    for (sender, data) in [
        (None, "From: a@b\r\n\r\nsub l"),
        (
            Some("a@b"),
            "From: a@b\r\nAuto-Submitted: auto-replied\r\n\r\nsub l",
        ),
        (Some("a@b"), "From: a@b\r\nList-Id: x <x.y>\r\n\r\nsub l"),
        (Some("a@b"), "From: l@pscs.co.uk\r\n\r\nsub l"),
    ] {
        let r = listserver::handle(&ctx, sender, data.as_bytes(), &w.rosters, &[]);
        assert!(r.mails.is_empty() && r.changed.is_empty(), "{data}");
    }
    w.pending.clear();
}

#[test]
fn router_takes_owner_and_accepts_list_server_addresses() {
    use crate::router::{route_recipient, HeaderView, Outcome, Source};
    let c = config(vec![mylist()]);
    let snap = crate::config::Snapshot {
        config: c,
        accounts: crate::accounts::Accounts::default(),
        access: crate::access::AccessFiles::default(),
    };
    let plan = |a: &str| {
        route_recipient(
            &snap,
            &Source::Smtp,
            Some("x@y"),
            &HeaderView::default(),
            None,
            a,
        )
    };
    for a in ["listserver@pscs.co.uk", "mylist@pscs.co.uk"] {
        assert_eq!(
            plan(a).outcome,
            Outcome::Discard {
                reason: FOR_LIST_SERVER.into()
            },
            "{a}"
        );
    }
    assert!(matches!(
        plan("nolist_owner@pscs.co.uk").outcome,
        Outcome::Unknown { .. }
    ));
    assert_eq!(
        special(&snap.config, "MyList_Owner@pscs.co.uk"),
        Some(Special::Owner(&snap.config.lists[0]))
    );
}

// ---- digests ----

#[test]
fn digest_is_due_every_n_days_at_midnight_and_keeps_28_days() {
    use super::digest::{due, expired};
    let day = 86_400;
    let midnight = (NOV_2003 / day + 1) * day;
    assert!(!due(NOV_2003, Instant::from_secs(midnight - 1), 1));
    assert!(due(NOV_2003, Instant::from_secs(midnight), 1));
    assert!(!due(NOV_2003, Instant::from_secs(midnight), 2));
    assert!(due(NOV_2003, Instant::from_secs(midnight + day), 2));
    assert!(!expired(
        NOV_2003,
        Instant::from_secs(NOV_2003 + 28 * day),
        28
    ));
    assert!(expired(
        NOV_2003,
        Instant::from_secs(NOV_2003 + 28 * day + 1),
        28
    ));
}

#[test]
fn digest_sorts_by_subject_then_time() {
    use super::digest::{build, Collected};
    let mut l = mylist();
    l.options.digest = true;
    let c = config(vec![l]);
    let list = &c.lists[0];
    let roster = Roster {
        members: vec![Member::new("ann@x.test")],
    };
    let post = |subject: &str, body: &str| mail("fred@pscs.co.uk", subject, body);
    let posts = vec![
        Collected {
            at: 3,
            data: post("Re: Widgets", "third"),
        },
        Collected {
            at: 1,
            data: post("Widgets", "first"),
        },
        Collected {
            at: 2,
            data: post("Apples", "second"),
        },
    ];
    assert!(build(
        &c,
        list,
        &Roster::default(),
        posts.clone(),
        Instant::from_secs(NOV_2003),
        "d"
    )
    .is_none());
    let m = build(&c, list, &roster, posts, Instant::from_secs(NOV_2003), "d1").unwrap();
    assert_eq!(m.to, vec!["ann@x.test"]);
    assert_eq!(m.from.as_deref(), Some("mylist_owner@pscs.co.uk"));
    let t = text(&m);
    assert!(
        t.contains("Subject: mylist_Digest, 2003-11-20 (3 messages)\r\n"),
        "{t}"
    );
    assert!(t.contains("Content-Type: multipart/digest; boundary=\"=_mailroom_digest_d1\""));
    assert!(t.contains("X-BeenThere: mylist_Digest@pscs.co.uk\r\n"));
    let (a, f, r) = (
        t.find("second").unwrap(),
        t.find("first").unwrap(),
        t.find("third").unwrap(),
    );
    assert!(a < f && f < r, "Apples, then Widgets in time order");
    assert!(t.ends_with("\r\n--=_mailroom_digest_d1--\r\n"));
}
