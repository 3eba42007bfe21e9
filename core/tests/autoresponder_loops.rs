//! No sequence of messages makes an autoresponder answer itself or two local
//! autoresponders answer each other for ever (issue 15, RFC 3834).

use std::collections::{BTreeMap, VecDeque};

use mailroom_core::accounts::AutoresponderSettings;
use mailroom_core::autoresponder::{answer, Env, Incoming, Mailbox, SentLog, Template};
use mailroom_core::config::AutoMail;
use mailroom_core::Instant;
use proptest::prelude::*;

const ACCOUNTS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
struct First {
    from: String,
    to: usize,
    null_sender: bool,
    extra: &'static str,
}

fn first() -> impl Strategy<Value = First> {
    (
        prop_oneof![
            Just("a@company.com".to_string()),
            Just("b@company.com".to_string()),
            Just("c@company.com".to_string()),
            Just("joe@example.org".to_string()),
        ],
        0..3usize,
        any::<bool>(),
        prop_oneof![
            Just(""),
            Just("Auto-Submitted: auto-replied\r\n"),
            Just("Auto-Submitted: no\r\n"),
            Just("Precedence: bulk\r\n"),
            Just("List-Id: <x.example.org>\r\n"),
        ],
    )
        .prop_map(|(from, to, null_sender, extra)| First {
            from,
            to,
            null_sender,
            extra,
        })
}

fn text() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("Away"),
        Just("<To:From>\nAway"),
        Just("<To:a@company.com>\nAway"),
        Just("<OnlyOnce>\nAway"),
        Just("<From:b@company.com>\n<ReplyTo:c@company.com>\nAway"),
    ]
}

proptest! {
    #[test]
    fn local_autoresponders_never_loop(
        firsts in proptest::collection::vec(first(), 1..20),
        texts in proptest::collection::vec(text(), 3),
        once in proptest::collection::vec(any::<bool>(), 3),
    ) {
        let global = AutoMail::default();
        let settings: Vec<AutoresponderSettings> = once
            .iter()
            .map(|&o| AutoresponderSettings { enabled: true, once: o, ..Default::default() })
            .collect();
        let templates: Vec<Template> = texts.iter().map(|t| Template::parse(t)).collect();
        let mut logs = vec![SentLog::default(); 3];
        // (recipient, envelope sender, message, is a reply)
        let mut queue: VecDeque<(usize, Option<String>, Vec<u8>, bool)> = firsts
            .iter()
            .map(|f| {
                let m = format!(
                    "From: {}\r\nTo: {}@company.com\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n{}\r\nbody\r\n",
                    f.from, ACCOUNTS[f.to], f.extra
                );
                (f.to, (!f.null_sender).then(|| f.from.clone()), m.into_bytes(), false)
            })
            .collect();
        let mut replies = 0usize;
        let mut steps = 0usize;
        while let Some((to, sender, message, is_reply)) = queue.pop_front() {
            steps += 1;
            prop_assert!(steps < 1000, "the mail never stops");
            let address = format!("{}@company.com", ACCOUNTS[to]);
            let a = answer(
                &Incoming { message: &message, return_path: sender.as_deref() },
                &Mailbox { name: ACCOUNTS[to], address: &address, settings: &settings[to] },
                &Env {
                    now: Instant::from_secs(1_700_000_000 + steps as u64),
                    local_offset_secs: 0,
                    hostname: "mail.company.com",
                    default_domain: "company.com",
                    global: &global,
                    id: &format!("r{steps}"),
                },
                &templates[to],
                &BTreeMap::new(),
                &logs[to],
            );
            if let Some(r) = &a.remember {
                logs[to].record(r, Instant::from_secs(1_700_000_000));
            }
            if let Some(reply) = a.reply {
                prop_assert!(!is_reply, "a reply was answered");
                replies += 1;
                for t in &reply.to {
                    if let Some(i) = ACCOUNTS.iter().position(|n| format!("{n}@company.com") == *t) {
                        queue.push_back((i, reply.sender.clone(), reply.data.clone(), true));
                    }
                }
            }
        }
        prop_assert!(replies <= firsts.len());
    }
}
