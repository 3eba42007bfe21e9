//! Answers to download queries (§8.1.1) are sent by local users to Mailer_Daemon,
//! which has no account: RCPT must take them from local users only.

use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::address::Mailbox;
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_core::smtp::policy::{decide_recipient, RcptDecision, SessionFacts};

fn snapshot() -> Snapshot {
    let config = parse_config(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
    )
    .unwrap();
    Snapshot {
        config,
        accounts: Accounts::new([Account {
            name: "fred".into(),
            ..Default::default()
        }]),
        access: Default::default(),
    }
}

fn decide(auth_user: Option<&str>, rcpt: &str) -> RcptDecision {
    let snap = snapshot();
    let sender = Mailbox::parse("fred@example.com").unwrap();
    let facts = SessionFacts {
        peer_ip: "192.168.1.20".parse().unwrap(),
        auth_user,
        pop_before_smtp: false,
        sender: Some(&sender),
    };
    decide_recipient(&snap, &facts, &Mailbox::parse(rcpt).unwrap())
}

#[test]
fn mailer_daemon_takes_local_users_mail_only() {
    assert!(matches!(
        decide(Some("fred"), "Mailer_Daemon@example.com"),
        RcptDecision::Accept(_)
    ));
    assert!(matches!(
        decide(None, "Mailer_Daemon@example.com"),
        RcptDecision::Refuse(_)
    ));
    // Other unknown names stay refused for local users too.
    assert!(matches!(
        decide(Some("fred"), "nobody@example.com"),
        RcptDecision::Refuse(_)
    ));
}
