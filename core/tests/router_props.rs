//! Property: for any configuration and any recipients, every recipient ends in exactly
//! one outcome, the plan's totals are exactly the recipients' outcomes, no mailbox or
//! outbound address appears twice, and routing is deterministic. Configurations are
//! generated without validation (loops, dangling names, self-references included): the
//! router must hold up even where `mailroom check` would object.

use mailroom_core::accounts::{Account, Accounts, SizeAction, SizeRule};
use mailroom_core::config::{
    Config, Group, List, ListKind, Mapping, MappingMode, Snapshot, UnknownAction,
};
use mailroom_core::router::{route, HeaderView, Origin, Outcome, Request, Source, UnknownHandling};
use proptest::prelude::*;
use std::collections::BTreeSet;

const USERS: [&str; 6] = ["u0", "u1", "u2", "u3", "u4", "postmaster"];
const LISTS: [&str; 5] = ["l0", "l1", "l2", "l3", "l4"];

fn target_pool() -> Vec<String> {
    let mut v: Vec<String> = USERS.iter().map(|s| s.to_string()).collect();
    v.extend(LISTS.iter().map(|s| s.to_string()));
    v.extend(
        [
            "Everyone",
            "Admins",
            "No-one",
            "g0",
            "*REMOTE",
            "r0@remote.test",
            "R0@Remote.TEST",
            "r1@remote.test",
            "u1@example.com",
            "l2@example.org",
            "l0@example.com",
            "ghost@example.com",
            "nothing",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

fn pick() -> impl Strategy<Value = String> {
    proptest::sample::select(target_pool())
}

fn picks(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(pick(), 0..=max)
}

/// admin, in_everyone, receive_internet, assistants, redirect, forward_to,
/// use_forwarding, in group g0, size rule kB.
type AccountParts = (
    bool,
    Option<bool>,
    Option<bool>,
    Vec<String>,
    bool,
    Vec<String>,
    bool,
    bool,
    Option<u64>,
);

fn account() -> impl Strategy<Value = AccountParts> {
    (
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        picks(2),
        any::<bool>(),
        picks(2),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(0u64..4),
    )
}

fn mapping() -> impl Strategy<Value = Mapping> {
    let address = proptest::sample::select(vec![
        "u0",
        "l1",
        "x*",
        "*",
        "~@example.com",
        "m?@example.com",
        "*@remote.test",
        "U1",
        "ghost",
        "postmaster",
        "*@*.org",
    ]);
    let mode = proptest::sample::select(vec![
        MappingMode::Always,
        MappingMode::Pop3,
        MappingMode::Smtp,
        MappingMode::Sender,
    ]);
    let inmail = proptest::option::of(proptest::sample::select(vec!["isp", "other"]));
    (address, pick(), mode, inmail).prop_map(|(a, t, mode, inmail)| Mapping {
        address: a.to_string(),
        target: t,
        mode,
        inmail: inmail.map(str::to_string),
        comment: String::new(),
        line: 0,
    })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let accounts = proptest::collection::vec(account(), USERS.len());
    let lists = proptest::collection::vec(picks(4), 0..=LISTS.len());
    let mappings = proptest::collection::vec(mapping(), 0..6);
    let unknown = (0usize..5, any::<bool>());
    (accounts, lists, mappings, unknown, any::<bool>()).prop_map(
        |(accounts, lists, mappings, (action, bounce), default_mapping)| {
            let accounts = USERS.iter().zip(accounts).map(
                |(
                    name,
                    (
                        admin,
                        in_everyone,
                        receive,
                        assistants,
                        redirect,
                        forward,
                        use_fwd,
                        in_group,
                        size,
                    ),
                )| {
                    Account {
                        name: name.to_string(),
                        password_hash: String::new(),
                        admin,
                        in_everyone,
                        receive_internet: receive,
                        assistants: assistants.clone(),
                        assistant_redirect: redirect,
                        forward_to: forward,
                        use_forwarding: use_fwd,
                        group: if in_group { "g0".into() } else { String::new() },
                        size_at_least: size.map(|kb| SizeRule {
                            kb,
                            action: if redirect {
                                SizeAction::Redirect
                            } else {
                                SizeAction::Copy
                            },
                            to: assistants,
                        }),
                        ..Default::default()
                    }
                },
            );
            let action = [
                UnknownAction::ErrorToAdmin,
                UnknownAction::MessageToAdmin,
                UnknownAction::ErrorTo,
                UnknownAction::MessageTo,
                UnknownAction::Remote,
            ][action];
            let mut config = Config {
                hostname: "mail.example.com".into(),
                default_domain: "example.com".into(),
                local_domains: vec!["example.com".into(), "example.org".into()],
                mappings,
                lists: lists
                    .into_iter()
                    .enumerate()
                    .map(|(i, members)| List::new(LISTS[i], ListKind::Distribution, members))
                    .collect(),
                groups: vec![Group {
                    name: "g0".into(),
                    ..Default::default()
                }],
                ..Config::default()
            };
            config.local_mail.default_user_mapping = default_mapping;
            config.unknown_recipients.action = action;
            config.unknown_recipients.to = Some("u2".into());
            config.unknown_recipients.bounce = bounce;
            Snapshot {
                config,
                accounts: Accounts::new(accounts),
                access: Default::default(),
            }
        },
    )
}

fn recipients() -> impl Strategy<Value = Vec<String>> {
    let pool = vec![
        "u0@example.com",
        "U1@EXAMPLE.ORG",
        "u2@example.com",
        "u3@example.com",
        "postmaster@example.com",
        "l0@example.com",
        "l1@example.org",
        "l2@example.com",
        "l3@example.com",
        "l4@example.com",
        "everyone@example.com",
        "admins@example.com",
        "no-one@example.com",
        "g0@example.com",
        "ghost@example.com",
        "m1@example.com",
        "x9@example.org",
        "r0@remote.test",
        "someone@sub.example.org",
    ];
    proptest::collection::vec(
        proptest::sample::select(pool).prop_map(str::to_string),
        1..8,
    )
}

fn source() -> impl Strategy<Value = Source> {
    proptest::sample::select(vec![
        Source::Local,
        Source::Smtp,
        Source::Pop3("isp".into()),
        Source::Pop3("other".into()),
    ])
}

fn sender() -> impl Strategy<Value = Option<String>> {
    proptest::sample::select(vec![
        None,
        Some("u0@example.com".to_string()),
        Some("u3@example.org".to_string()),
        Some("r0@remote.test".to_string()),
    ])
}

fn lower_set(v: &[String]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_ascii_lowercase()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_recipient_has_one_outcome_and_no_mailbox_gets_two_copies(
        snap in snapshot(),
        rcpts in recipients(),
        source in source(),
        sender in sender(),
        size in proptest::option::of(0u64..8192),
    ) {
        let headers = HeaderView::parse(b"From: Someone <u1@example.com>\r\n\r\nbody\r\n");
        let req = Request {
            sender: sender.as_deref(),
            recipients: &rcpts,
            source: &source,
            headers: &headers,
            size,
        };
        let plan = route(&snap, &req);
        prop_assert_eq!(&plan, &route(&snap, &req), "routing is deterministic");

        // One entry per envelope recipient, in order.
        let env: Vec<_> = plan.envelope_recipients().collect();
        prop_assert_eq!(env.len(), rcpts.len());
        for (r, want) in env.iter().zip(&rcpts) {
            prop_assert_eq!(&r.address, want);
        }
        prop_assert!(plan.recipients.iter().skip(rcpts.len()).all(|r| r.origin == Origin::SenderMapping));

        // No duplicates, and only real accounts.
        prop_assert_eq!(lower_set(&plan.mailboxes).len(), plan.mailboxes.len(), "{:?}", plan.mailboxes);
        prop_assert_eq!(lower_set(&plan.remote).len(), plan.remote.len(), "{:?}", plan.remote);
        for m in &plan.mailboxes {
            prop_assert!(snap.accounts.get(m).is_some(), "{} is not an account", m);
        }

        // The totals are exactly the outcomes.
        let mut mailboxes = BTreeSet::new();
        let mut remote = BTreeSet::new();
        let mut bounces = BTreeSet::new();
        let mut noticed = Vec::new();
        for r in &plan.recipients {
            match &r.outcome {
                Outcome::Deliver { mailboxes: m, remote: x } => {
                    prop_assert!(!m.is_empty() || !x.is_empty(), "empty delivery for {}", r.address);
                    mailboxes.extend(m.iter().map(|s| s.to_ascii_lowercase()));
                    remote.extend(x.iter().map(|s| s.to_ascii_lowercase()));
                }
                Outcome::Unknown { handling, bounce } => {
                    prop_assert_eq!(r.origin, Origin::Envelope);
                    match handling {
                        UnknownHandling::MessageTo(a) => { mailboxes.insert(a.to_ascii_lowercase()); }
                        UnknownHandling::ErrorTo(a) => noticed.push((a.clone(), r.address.clone())),
                        UnknownHandling::None => {}
                    }
                    if *bounce {
                        prop_assert!(sender.is_some(), "a bounce needs a sender");
                        bounces.insert(r.address.clone());
                    }
                }
                Outcome::Discard { reason } => prop_assert!(!reason.is_empty()),
            }
        }
        prop_assert_eq!(mailboxes, lower_set(&plan.mailboxes));
        prop_assert_eq!(remote, lower_set(&plan.remote));
        prop_assert_eq!(bounces, plan.bounces.iter().cloned().collect::<BTreeSet<_>>());
        let mut from_notices: Vec<(String, String)> = plan
            .notices
            .iter()
            .flat_map(|n| n.recipients.iter().map(move |r| (n.to.clone(), r.clone())))
            .collect();
        from_notices.sort();
        noticed.sort();
        prop_assert_eq!(from_notices, noticed);
        let discarded = plan.recipients.iter().filter(|r| matches!(r.outcome, Outcome::Discard { .. })).count();
        prop_assert_eq!(discarded, plan.discards.len());
    }
}
