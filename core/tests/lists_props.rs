//! No sequence of mails makes a mailing list or the ListServer answer itself or loop
//! with another local list or account: lists that are members of each other (and of
//! themselves), the ListServer as a member, and an account that forwards everything
//! to a list, fed arbitrary mails; every chain of mails they write ends.

use std::collections::{BTreeMap, VecDeque};

use mailroom_core::config::{Config, List, ListKind, Moderation, PostPolicy, SubscribePolicy};
use mailroom_core::lists::listserver::{self, LsCtx};
use mailroom_core::lists::post::{self, PostCtx, PostDecision};
use mailroom_core::lists::{self, OutMail, Roster, Special};
use mailroom_core::Instant;
use proptest::prelude::*;

const D: &str = "example.com";

fn world(moderated: bool, flexible: bool) -> Config {
    let mut a = List::new(
        "a",
        ListKind::Mailing,
        vec![
            "a".into(),
            "b".into(),
            "listserver".into(),
            "fwd".into(),
            "u".into(),
            "a_owner".into(),
        ],
    );
    a.post = PostPolicy::Anyone;
    a.moderators = vec!["u".into(), "a@example.com".into()];
    a.moderated = moderated;
    if flexible {
        a.options.moderation = Moderation::Flexible;
    }
    a.subscribe = SubscribePolicy::Open;
    let mut b = List::new(
        "b",
        ListKind::Mailing,
        vec!["a@example.com".into(), "b".into()],
    );
    b.post = PostPolicy::Members;
    b.moderators = vec!["b".into()];
    b.subscribe = SubscribePolicy::Open;
    Config {
        hostname: "mail.example.com".into(),
        default_domain: D.into(),
        local_domains: vec![D.into()],
        lists: vec![a, b],
        ..Config::default()
    }
}

#[derive(Debug, Clone)]
struct Start {
    to: usize,
    from: usize,
    null_sender: bool,
    headers: Vec<usize>,
    subject: usize,
    body: usize,
}

const ADDRS: [&str; 7] = [
    "a@example.com",
    "b@example.com",
    "listserver@example.com",
    "fwd@example.com",
    "u@example.com",
    "r@remote.test",
    "a_owner@example.com",
];
const HEADERS: [&str; 5] = [
    "Auto-Submitted: no",
    "Precedence: junk",
    "X-BeenThere: b@example.com",
    "List-Id: a <a.example.com>",
    "Reply-To: a@example.com",
];
const SUBJECTS: [&str; 5] = [
    "hello",
    "sub a",
    "Re: Mailing List Moderation Message Approval (a - 200311200027510000)",
    "Re: Message post to moderated list {Mod:a}",
    "REJECT Re: x (a - 200311200027510000)",
];
const BODIES: [&str; 4] = [
    "just text\r\n",
    "sub a\r\nsub b\r\nwhich\r\nusers a\r\nuns *\r\n",
    "-----\r\n> From: a@example.com\r\n> To: a@example.com\r\n>\r\n> loop?\r\n",
    "Moderate a\r\nPassword \r\nAdd\r\nlistserver@example.com\r\nEndAdd\r\nEndModerate\r\n",
];

fn start() -> impl Strategy<Value = Start> {
    (
        0..ADDRS.len(),
        0..ADDRS.len(),
        any::<bool>(),
        proptest::collection::vec(0..HEADERS.len(), 0..3),
        0..SUBJECTS.len(),
        0..BODIES.len(),
    )
        .prop_map(|(to, from, null_sender, headers, subject, body)| Start {
            to,
            from,
            null_sender,
            headers,
            subject,
            body,
        })
}

/// Feed the mails through the world; the number of list and ListServer steps taken.
fn run(config: &Config, starts: &[Start]) -> usize {
    let now = Instant::from_secs(1_069_288_071);
    let mut rosters: BTreeMap<String, Roster> = config
        .lists
        .iter()
        .map(|l| (l.name.clone(), Roster::from_config(l)))
        .collect();
    let mut queue: VecDeque<(String, OutMail)> = VecDeque::new();
    for s in starts {
        let mut data = String::new();
        for h in &s.headers {
            data.push_str(HEADERS[*h]);
            data.push_str("\r\n");
        }
        data.push_str(&format!(
            "From: <{}>\r\nTo: <{}>\r\nSubject: {}\r\n\r\n{}",
            ADDRS[s.from], ADDRS[s.to], SUBJECTS[s.subject], BODIES[s.body]
        ));
        let from = (!s.null_sender).then(|| ADDRS[s.from].to_string());
        queue.push_back((
            ADDRS[s.to].to_string(),
            OutMail {
                from,
                to: vec![ADDRS[s.to].to_string()],
                data: data.into_bytes(),
            },
        ));
    }
    let mut steps = 0;
    while let Some((rcpt, m)) = queue.pop_front() {
        steps += 1;
        assert!(steps < 500, "a loop: still going after {steps} mails");
        let id = format!("m{steps}");
        let out: Vec<OutMail> = match lists::special(config, &rcpt) {
            Some(Special::Post(l)) => {
                let roster = rosters[&l.name].clone();
                let ctx = PostCtx {
                    config,
                    list: l,
                    roster: &roster,
                    now,
                    id: &id,
                };
                match post::post(&ctx, m.from.as_deref(), &m.data) {
                    PostDecision::Distribute { mails, .. } => mails,
                    PostDecision::Hold { mails, post, .. } => {
                        // An approved held post is distributed at most once.
                        match post {
                            Some(p) => {
                                let (mut d, _) = post::distribute(&ctx, &p);
                                d.extend(mails);
                                d
                            }
                            None => mails,
                        }
                    }
                    PostDecision::Refuse { mails, .. } => mails,
                    PostDecision::Decided { .. } | PostDecision::Drop { .. } => Vec::new(),
                }
            }
            Some(Special::ListServer) => {
                let ctx = LsCtx {
                    config,
                    now,
                    id: &id,
                    new_token: "t",
                    help_text: None,
                    lists_text: None,
                };
                let rs: BTreeMap<String, Roster> = rosters
                    .iter()
                    .map(|(k, v)| (listserver::roster_key(k), v.clone()))
                    .collect();
                let r = listserver::handle(&ctx, m.from.as_deref(), &m.data, &rs, &[]);
                for (k, v) in r.changed {
                    if let Some(l) = config
                        .lists
                        .iter()
                        .find(|l| l.name.eq_ignore_ascii_case(&k))
                    {
                        rosters.insert(l.name.clone(), v);
                    }
                }
                r.mails
            }
            Some(Special::Owner(l)) => l
                .moderators
                .iter()
                .map(|md| OutMail {
                    to: vec![lists::qualify(config, md)],
                    ..m.clone()
                })
                .collect(),
            // The forwarding account sends everything on to list b, as it is.
            _ if rcpt == "fwd@example.com" => vec![OutMail {
                from: m.from.clone(),
                to: vec!["b@example.com".into()],
                data: m.data.clone(),
            }],
            _ => Vec::new(),
        };
        for o in out {
            for t in &o.to {
                queue.push_back((t.clone(), o.clone()));
            }
        }
    }
    steps
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn list_mail_always_ends(
        starts in proptest::collection::vec(start(), 1..4),
        moderated in any::<bool>(),
        flexible in any::<bool>(),
    ) {
        let config = world(moderated, flexible);
        let steps = run(&config, &starts);
        prop_assert!(steps < 500);
    }
}

/// The world does pass mail around: a post from a user travels through both lists,
/// the ListServer and the forwarding account before it ends.
#[test]
fn a_plain_post_travels_and_ends() {
    let config = world(false, false);
    let start = Start {
        to: 0,
        from: 4,
        null_sender: false,
        headers: Vec::new(),
        subject: 0,
        body: 0,
    };
    let steps = run(&config, &[start]);
    assert!(steps >= 8, "{steps}");
}
