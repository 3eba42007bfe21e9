use super::*;
use crate::accounts::{hash_password, Accounts};
use crate::config::{Config, InMail};

fn account(name: &str, pw: &str, admin: bool) -> Account {
    Account {
        name: name.into(),
        password_hash: hash_password(pw, &[7u8; 16]).unwrap(),
        admin,
        ..Default::default()
    }
}

fn inmail(name: &str, routing: &str, to: &str) -> InMail {
    toml::from_str(&format!(
        "name = \"{name}\"\nconnections = [\"isp\"]\nserver = \"pop.isp.example:110\"\nuser = \"u\"\npassword = \"p\"\nrouting = \"{routing}\"\ndeliver_to = \"{to}\"\n"
    ))
    .unwrap()
}

fn snap() -> Snapshot {
    let mut config = Config {
        hostname: "mail.company.com".into(),
        default_domain: "company.com".into(),
        local_domains: vec!["company.com".into()],
        ..Config::default()
    };
    config.inmails = vec![
        inmail("bills-isp", "user", "bill"),
        inmail("office", "user", "simon"),
        inmail("sorted", "detected", "bill"),
    ];
    Snapshot {
        config,
        accounts: Accounts::new([
            account("bill", "semolina", false),
            account("simon", "custard", false),
            account("boss", "rhubarb", true),
        ]),
        access: Default::default(),
    }
}

fn msg(subject: &str, body: &str) -> Vec<u8> {
    format!("From: bill@company.com\r\nTo: Mailer_Daemon@company.com\r\nSubject: {subject}\r\n\r\n{body}").into_bytes()
}

fn run(subject: &str, body: &str, from: &str, auth: Option<&str>) -> Decision {
    let s = snap();
    let r = parse(&msg(subject, body)).expect("a command");
    decide(&s, &r, Some(from), auth)
}

#[test]
fn subjects_name_the_commands() {
    for (s, c) in [
        ("Set Plan", Command::SetPlan),
        ("query plan", Command::QueryPlan),
        ("Set Assistant", Command::SetAssistant),
        ("Query Assistant", Command::QueryAssistant),
        ("Set Forwarding", Command::SetForwarding),
        ("Query Forwarding", Command::QueryForwarding),
        ("Status", Command::Status),
        (
            "Enable InMail",
            Command::InMail {
                enable: true,
                name: None,
            },
        ),
        (
            "Disable InMail bills-isp",
            Command::InMail {
                enable: false,
                name: Some("bills-isp".into()),
            },
        ),
    ] {
        assert_eq!(parse(&msg(s, "")).unwrap().command, c, "{s}");
    }
    assert_eq!(parse(&msg("Hello", "")), None);
    assert_eq!(parse(b"To: x\r\n\r\nno subject"), None);
}

#[test]
fn the_manuals_set_assistant_example() {
    let d = run(
        "Set Assistant",
        "USERNAME bill\nPASSWORD semolina\nASSISTANT simon\n",
        "bill@company.com",
        None,
    );
    match d.change {
        Some(Change::Account(a)) => {
            assert_eq!(a.name, "bill");
            assert_eq!(a.assistants, vec!["simon".to_string()]);
            assert!(!a.assistant_redirect);
        }
        other => panic!("{other:?}"),
    }
    assert!(d.reply.contains("Assistant of bill: simon"));
    assert_eq!(d.notify, None);
    let d = run(
        "Set Assistant",
        "USERNAME bill\nPASSWORD semolina\nASSISTANT ONLY simon\n",
        "x@elsewhere.example",
        None,
    );
    match d.change {
        Some(Change::Account(a)) => assert!(a.assistant_redirect),
        other => panic!("{other:?}"),
    }
    // Somebody else acted for bill: bill is told.
    assert_eq!(d.notify.as_ref().map(|n| n.0.as_str()), Some("bill"));
}

#[test]
fn wrong_passwords_change_nothing() {
    let d = run(
        "Set Forwarding",
        "USERNAME bill\nPASSWORD wrong\nFORWARD TO x@example.org\n",
        "bill@company.com",
        None,
    );
    assert_eq!(d.change, None);
    assert!(d.reply.contains("wrong"));
    let d = run(
        "Set Forwarding",
        "FORWARD TO x@example.org\n",
        "bill@company.com",
        None,
    );
    assert_eq!(d.change, None);
    assert!(d.reply.contains("USERNAME and PASSWORD"));
}

#[test]
fn set_and_query_forwarding() {
    let d = run(
        "Set Forwarding",
        "USERNAME bill\nPASSWORD semolina\nFORWARD TO bill@home.example\n",
        "bill@company.com",
        None,
    );
    let Some(Change::Account(a)) = d.change else {
        panic!()
    };
    assert_eq!(a.forward_to, vec!["bill@home.example".to_string()]);
    assert!(a.use_forwarding);
    let d = run(
        "Set Forwarding",
        "USERNAME bill\nPASSWORD semolina\nFORWARD OFF\n",
        "bill@company.com",
        None,
    );
    let Some(Change::Account(a)) = d.change else {
        panic!()
    };
    assert!(!a.use_forwarding);
    let d = run(
        "Set Forwarding",
        "USERNAME bill\nPASSWORD semolina\nFORWARD ON\n",
        "bill@company.com",
        None,
    );
    assert_eq!(d.change, None, "no address was set before");
    let d = run(
        "Query Forwarding",
        "USERNAME bill\nPASSWORD semolina\n",
        "simon@company.com",
        None,
    );
    assert!(d.reply.contains("Forwarding of bill: off"));
    assert_eq!(d.notify.as_ref().map(|n| n.0.as_str()), Some("bill"));
    let d = run(
        "Query Assistant",
        "USERNAME bill\nPASSWORD semolina\n",
        "bill@company.com",
        None,
    );
    assert!(d.reply.contains("bill has no assistant"));
}

#[test]
fn plans_need_the_from_user_logged_in() {
    let d = run(
        "Set Plan",
        "Gone fishing.\n",
        "bill@company.com",
        Some("bill"),
    );
    assert_eq!(
        d.change,
        Some(Change::Plan {
            user: "bill".into(),
            text: "Gone fishing.\n".into()
        })
    );
    let d = run("Set Plan", "Gone fishing.\n", "bill@company.com", None);
    assert_eq!(d.change, None);
    let d = run(
        "Set Plan",
        "USERNAME bill\nPASSWORD semolina\nAt lunch.\n",
        "bill@company.com",
        None,
    );
    assert_eq!(
        d.change,
        Some(Change::Plan {
            user: "bill".into(),
            text: "At lunch.\n".into()
        })
    );
    let d = run("Query Plan", "", "bill@company.com", Some("bill"));
    assert_eq!(d.plan_of.as_deref(), Some("bill"));
    let d = run("Query Plan", "", "joe@example.org", None);
    assert!(d.reply.contains("not a user"));
}

#[test]
fn inmail_permissions() {
    let d = run(
        "Disable InMail",
        "USERNAME bill\nPASSWORD semolina\n",
        "bill@company.com",
        None,
    );
    assert_eq!(
        d.change,
        Some(Change::InMail {
            names: vec!["bills-isp".into()],
            enable: false
        })
    );
    // Not bill's: refused; an administrator may.
    let d = run(
        "Disable InMail office",
        "USERNAME bill\nPASSWORD semolina\n",
        "bill@company.com",
        None,
    );
    assert_eq!(d.change, None);
    let d = run(
        "Enable InMail office",
        "USERNAME boss\nPASSWORD rhubarb\n",
        "boss@company.com",
        None,
    );
    assert_eq!(
        d.change,
        Some(Change::InMail {
            names: vec!["office".into()],
            enable: true
        })
    );
    // "sorted" is not a send-all-to-a-user method: not bill's to change.
    let d = run(
        "Enable InMail sorted",
        "USERNAME bill\nPASSWORD semolina\n",
        "bill@company.com",
        None,
    );
    assert_eq!(d.change, None);
}

#[test]
fn status_lines_as_the_manual_shows_them() {
    // §17.10's example: 23/03/99 16:00:26 and 17:00:00, local time.
    let at = |h: i64, m: i64, s: i64| (922_147_200 + h * 3600 + m * 60 + s) * 1_000_000;
    assert_eq!(
        status_lines(2, Some(at(16, 0, 26)), Some(at(17, 0, 0))),
        "\nThere are 2 messages waiting to be sent onto the Internet\n\
         The last connection to the Internet was at 23/03/99 16:00:26\n\
         The next connection is currently scheduled for 23/03/99 17:00:00\n"
    );
    let none = status_lines(0, None, None);
    assert!(
        none.contains("no connection to the Internet since the server started"),
        "{none}"
    );
    assert!(none.contains("No connection is scheduled"), "{none}");
}

#[test]
fn status_for_anyone() {
    let d = run("Status", "", "joe@example.org", None);
    assert!(d.status && d.change.is_none());
}
