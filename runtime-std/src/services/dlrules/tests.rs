use super::*;
use crate::services::askbook::{divert_reply, is_mailer_daemon, load_book, with_book};
use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::collect::ask::{State, Verdict};
use mailroom_core::collect::dlrules::{Action, Kind, RuleInput};
use mailroom_core::config::parse_config;
use mailroom_core::router::Source;
use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};

fn snapshot() -> Snapshot {
    let config = parse_config(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
    )
    .unwrap();
    let account = |name: &str, admin: bool| Account {
        name: name.into(),
        admin,
        ..Default::default()
    };
    Snapshot {
        config,
        accounts: Accounts::new([
            account("fred", false),
            account("boss", false),
            account("postmaster", true),
        ]),
        access: Default::default(),
    }
}

fn setup() -> (tempfile::TempDir, DataDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let dd = DataDir::new(tmp.path());
    let store = Store::open(&dd).unwrap();
    (tmp, dd, store)
}

/// The messages in `user`'s new/ folder.
fn inbox(dd: &DataDir, user: &str) -> Vec<String> {
    let Ok(dir) = fs::read_dir(dd.maildir(user).join("new")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = dir
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

const HEADER: &[u8] =
    b"From: bob@spammers.net\r\nTo: fred@example.com\r\nSubject: Cheap offer\r\n\r\n";

fn kind_of(rules: &DlRules) -> Option<Kind> {
    let none: Vec<String> = Vec::new();
    rules
        .decide(&RuleInput {
            header: HEADER,
            size: 100,
            recipients: &none,
            inmail_number: 1,
            weekday: 2,
            minutes: 600,
        })
        .map(|f| f.action.kind)
}

#[test]
fn an_edit_between_runs_counts_without_a_restart() {
    let (_tmp, dd, _store) = setup();
    let mut loader = RulesLoader::new();
    // No file: no rules.
    let run = loader.load(&dd);
    assert!(run.rules.is_empty() && run.problem.is_none());

    fs::write(dd.download_rules_file(), "~Leave everything\n").unwrap();
    assert_eq!(kind_of(&loader.load(&dd).rules), Some(Kind::Ignore));

    fs::write(dd.download_rules_file(), "*Spam\nFrom: spammers.net\n").unwrap();
    let run = loader.load(&dd);
    assert_eq!(kind_of(&run.rules), Some(Kind::Delete));
    assert!(run.problem.is_none());

    // A broken edit: the last good rules stay, the administrator is told once.
    fs::write(dd.download_rules_file(), "*Spam\nSize: big\n").unwrap();
    let run = loader.load(&dd);
    assert_eq!(kind_of(&run.rules), Some(Kind::Delete));
    let problem = run.problem.expect("a mail about the broken file");
    assert_eq!(problem.subject, SUBJECT_BAD_RULES);
    assert!(
        problem.text.contains("DLRULES.DAT:2: Size: needs a number"),
        "{}",
        problem.text
    );
    assert!(problem.text.contains("previous version"));
    assert!(
        loader.load(&dd).problem.is_none(),
        "told once per broken version"
    );

    // After a restart there is no last good version: download everything.
    let mut fresh = RulesLoader::new();
    let run = fresh.load(&dd);
    assert!(run.rules.is_empty());
    assert!(run
        .problem
        .is_some_and(|p| p.text.contains("every message is downloaded")));
}

#[test]
fn activations_are_appended_to_the_log() {
    let (_tmp, dd, _store) = setup();
    let fired = Fired {
        rule: "Spam".into(),
        line: 1,
        action: Action {
            kind: Kind::Delete,
            target: Target::Recipient,
        },
    };
    log_activation(&dd, "isp", &fired, HEADER, 1234);
    log_activation(&dd, "isp2", &fired, HEADER, 99);
    let log = fs::read_to_string(dd.download_rules_log()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].ends_with(
            " inmail=\"isp\" rule=\"Spam\" action=\"delete\" from=\"bob@spammers.net\" subject=\"Cheap offer\" size=1234"
        ),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("inmail=\"isp2\""));
    // ISO 8601 with an offset at the start.
    let stamp = lines[0].split(' ').next().unwrap();
    assert_eq!(stamp.len(), 25, "{stamp}");
    assert_eq!(&stamp[10..11], "T");
}

/// Message `uid` of In Mail "isp" (header [`HEADER`]), held by `fired`.
fn held<'a>(uid: &'a str, fired: &'a Fired, size: u64, recipients: &'a [String]) -> Held<'a> {
    Held {
        inmail: "isp",
        uid,
        fired,
        header: HEADER,
        size,
        recipients,
    }
}

/// Fred's mail `data` to `to`, sent from his mail client (authenticated SMTP).
fn reply_from_fred(id: &str, to: &str, data: String) -> Delivery {
    Delivery {
        id: id.into(),
        envelope: Envelope {
            mail_from: Some("fred@example.com".into()),
            recipients: vec![Recipient {
                address: to.into(),
                route: Route::Unknown,
                dsn_notify: None,
                dsn_orcpt: None,
            }],
            helo: "pc".into(),
            client_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            auth_user: Some("fred".into()),
            eight_bit: false,
            dsn_ret: None,
            dsn_envid: None,
        },
        data: data.into_bytes(),
        junk: false,
    }
}

fn ask_fired(target: Target) -> Fired {
    Fired {
        rule: "Ask about offers".into(),
        line: 1,
        action: Action {
            kind: Kind::Ask,
            target,
        },
    }
}

#[test]
fn ask_mails_the_recipient_once_and_a_reply_downloads_next_run() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let fired = ask_fired(Target::Recipient);
    let rcpts = vec!["fred".to_string()];
    let held = Held {
        inmail: "isp",
        uid: "UID-1",
        fired: &fired,
        header: HEADER,
        size: 5000,
        recipients: &rcpts,
    };
    assert_eq!(ask(&store, &snap, &held), Ok(Asked::New));
    assert_eq!(ask(&store, &snap, &held), Ok(Asked::Already));
    let mail = inbox(&dd, "fred");
    assert_eq!(mail.len(), 1, "one query, not one per run");
    assert!(mail[0].contains("From: Mailer_Daemon <Mailer_Daemon@example.com>"));
    assert!(mail[0].contains("\"Ask about offers\""));
    assert!(mail[0].contains("Subject: Cheap offer"));
    let subject = mail[0]
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap()
        .to_string();
    assert!(subject.starts_with("Download query [DLQ-"), "{subject}");

    // The book survives a restart (it is read from disk each time).
    let delay = query_delay(&snap);
    let book = load_book(&dd).unwrap();
    assert_eq!(book.verdict("isp", "UID-1", now(), delay), Verdict::Waiting);

    // Fred replies from his mail client (authenticated SMTP = local mail).
    let mut reply = reply_from_fred("r1", "Mailer_Daemon@Example.com", format!("From: fred@example.com\r\nTo: Mailer_Daemon@example.com\r\nSubject: Re: {subject}\r\n\r\nyes please\r\n"));
    // The same message by SMTP from outside is not an answer.
    assert_eq!(divert_reply(&store, &snap, &reply, &Source::Smtp), None);
    assert_eq!(
        load_book(&dd)
            .unwrap()
            .verdict("isp", "UID-1", now(), delay),
        Verdict::Waiting
    );
    let plan = crate::services::deliver::route_and_store(&store, &snap, &mut reply, &Source::Local)
        .unwrap();
    assert!(
        plan.recipients.is_empty(),
        "the reply goes nowhere else: {plan:?}"
    );
    assert!(inbox(&dd, "postmaster").is_empty());
    assert_eq!(
        load_book(&dd)
            .unwrap()
            .verdict("isp", "UID-1", now(), delay),
        Verdict::Download
    );
    // Downloaded at the next run: forgotten.
    with_book(&dd, |b| b.done("isp", "UID-1")).unwrap();
    assert!(load_book(&dd).unwrap().is_empty());
}

#[test]
fn a_delete_reply() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let fired = ask_fired(Target::Recipient);
    let rcpts = vec!["fred".to_string()];
    let held = held("U2", &fired, 5000, &rcpts);
    ask(&store, &snap, &held).unwrap();
    let token = load_book(&dd)
        .unwrap()
        .get("isp", "U2")
        .unwrap()
        .token
        .clone();
    let reply = reply_from_fred(
        "r2",
        "mailer_daemon@example.com",
        format!("Subject: Re: Download query [DLQ-{token}]: x\r\n\r\nDELETE\r\n"),
    );
    assert!(divert_reply(&store, &snap, &reply, &Source::Local).is_some());
    let book = load_book(&dd).unwrap();
    assert_eq!(book.get("isp", "U2").map(|q| q.state), Some(State::Delete));
}

#[test]
fn redirect_and_copy_targets_get_the_query() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let rcpts = vec!["fred".to_string()];
    let redirect = ask_fired(Target::Redirect("boss".into()));
    ask(&store, &snap, &held("A", &redirect, 1, &rcpts)).unwrap();
    assert_eq!(inbox(&dd, "boss").len(), 1);
    assert!(inbox(&dd, "fred").is_empty());
    let copy = ask_fired(Target::Copy("boss".into()));
    ask(&store, &snap, &held("B", &copy, 1, &rcpts)).unwrap();
    assert_eq!(inbox(&dd, "boss").len(), 2);
    assert_eq!(inbox(&dd, "fred").len(), 1);
    // Nobody to ask: the Main Administrator is.
    let none: Vec<String> = Vec::new();
    let plain = ask_fired(Target::Recipient);
    let held = held("C", &plain, 1, &none);
    ask(&store, &snap, &held).unwrap();
    assert_eq!(inbox(&dd, "postmaster").len(), 1);
    tell_deleted(&store, &snap, &held).unwrap();
    let pm = inbox(&dd, "postmaster");
    assert_eq!(pm.len(), 2);
    assert!(pm
        .iter()
        .any(|m| m.contains("Subject: Message deleted by download rule: Cheap offer")));
}

#[test]
fn error_mails_reach_the_main_administrator() {
    use mailroom_core::collect::errors::{admin_mail, Problem};
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let mail = admin_mail(
        "isp",
        "pop.isp.net:110",
        &Problem::Connect {
            detail: "connection refused".into(),
        },
    );
    send_admin_mail(&store, &snap, &mail).unwrap();
    let pm = inbox(&dd, "postmaster");
    assert_eq!(pm.len(), 1);
    assert!(pm[0].contains("Subject: Mailroom - POP3 Client connection problem"));
    assert!(pm[0]
        .contains("Pop3 Client not started - Couldn't connect to server isp (pop.isp.net:110)"));
}

#[test]
fn a_damaged_book_is_moved_aside() {
    let (_tmp, dd, _store) = setup();
    fs::create_dir_all(dd.state_dir()).unwrap();
    fs::write(dd.ask_book_file(), "garbage\n").unwrap();
    assert!(load_book(&dd).unwrap().is_empty());
    assert!(dd.ask_book_file().with_extension("damaged").exists());
    assert!(!dd.ask_book_file().exists());
}

#[test]
fn mailer_daemon_addresses() {
    let snap = snapshot();
    assert!(is_mailer_daemon(&snap, "Mailer_Daemon@example.com"));
    assert!(is_mailer_daemon(&snap, "<mailer-daemon@EXAMPLE.com>"));
    assert!(!is_mailer_daemon(&snap, "mailer_daemon@elsewhere.org"));
    assert!(!is_mailer_daemon(&snap, "fred@example.com"));
}

#[test]
fn local_clock_for_rules() {
    // 1970-01-01 00:00 was a Thursday (5).
    assert_eq!(clock_at(0), (5, 0));
    // 2024-01-07 (a Sunday) 13:45.
    assert_eq!(clock_at(1_704_635_100), (1, 13 * 60 + 45));
    // Saturday 23:59.
    assert_eq!(
        clock_at(1_704_635_100 - 13 * 3600 - 46 * 60),
        (7, 23 * 60 + 59)
    );
    assert_eq!(new_token().len(), 24);
    assert_ne!(new_token(), new_token());
}

fn snapshot_with_inmail() -> Snapshot {
    let config = parse_config(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\n\
         local_domains = [\"example.com\"]\n\
         [[connection]]\nname = \"isp\"\n\
         [[inmail]]\nname = \"isp\"\nconnections = [\"isp\"]\nserver = \"pop.isp.net\"\n\
         user = \"u\"\npassword = \"p\"\naccepted_domains = [\"example.com\"]\n\
         download_rules = true\n",
    )
    .unwrap();
    Snapshot {
        config,
        ..snapshot()
    }
}

fn decide_with(store: &Store, snap: &Snapshot, rules: Option<&str>, uid: &str) -> Decided {
    let rules = rules.map(|r| DlRules::parse(r).unwrap());
    decide(
        &DecideFor {
            store,
            snap,
            inmail: &snap.config.inmails[0],
            inmail_number: 1,
            rules: rules.as_ref(),
        },
        Some(uid),
        5000,
        HEADER,
    )
}

#[test]
fn decide_answers_the_runner() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot_with_inmail();
    let d = decide_with(&store, &snap, None, "m1");
    assert_eq!((d.decision, d.fired), (Decision::Download, None));
    let d = decide_with(&store, &snap, Some("<Boss\nFrom: boss@\n"), "m1");
    assert_eq!((d.decision, d.fired), (Decision::Download, None));
    assert!(
        !dd.download_rules_log().exists(),
        "nothing fired, nothing logged"
    );

    let d = decide_with(&store, &snap, Some("~Leave\nSubject: cheap\n"), "m1");
    assert_eq!(d.decision, Decision::Leave);
    let d = decide_with(&store, &snap, Some("@Quiet\n"), "m1");
    assert_eq!(d.decision, Decision::Delete);
    assert!(inbox(&dd, "fred").is_empty(), "silently");
    let d = decide_with(&store, &snap, Some("*Spam\nFrom: spammers\n"), "m1");
    assert_eq!(d.decision, Decision::Delete);
    let fred = inbox(&dd, "fred");
    assert_eq!(fred.len(), 1, "the intended recipient is told");
    assert!(fred[0].contains("\"Spam\""));
    let d = decide_with(&store, &snap, Some(">boss%Boss gets it\n"), "m1");
    assert_eq!(
        (d.decision, d.target),
        (Decision::DownloadDelete, Target::Redirect("boss".into()))
    );
    let log = fs::read_to_string(dd.download_rules_log()).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    assert!(log
        .lines()
        .last()
        .unwrap()
        .contains("rule=\"Boss gets it\" action=\"redirect to boss, download and delete\""));
}

#[test]
fn decide_asks_once_then_follows_the_answer() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot_with_inmail();
    let rules = Some("?Ask about offers\nSubject: offer\n");
    assert_eq!(
        decide_with(&store, &snap, rules, "m2").decision,
        Decision::Leave
    );
    assert_eq!(
        decide_with(&store, &snap, rules, "m2").decision,
        Decision::Leave
    );
    let fred = inbox(&dd, "fred");
    assert_eq!(fred.len(), 1, "asked once");
    let token = load_book(&dd)
        .unwrap()
        .get("isp", "m2")
        .unwrap()
        .token
        .clone();
    let reply = format!("Subject: Re: Download query [DLQ-{token}]: Cheap offer\r\n\r\nok\r\n");
    with_book(&dd, |b| b.answer(reply.as_bytes())).unwrap();
    let d = decide_with(&store, &snap, rules, "m2");
    assert_eq!(
        (d.decision, d.target),
        (Decision::Download, Target::Recipient)
    );
    // Still known if the download failed and the message is decided again.
    assert_eq!(
        decide_with(&store, &snap, rules, "m2").decision,
        Decision::Download
    );

    // An unanswered query older than the delay: delete it at the ISP.
    let long_ago = now() - (query_delay(&snap) + Duration::from_secs(60));
    with_book(&dd, |b| {
        b.ask("isp", "m3", "oldtoken", "Ask about offers", long_ago)
    })
    .unwrap();
    assert_eq!(
        decide_with(&store, &snap, rules, "m3").decision,
        Decision::Delete
    );
    // Older than the retention: forgotten, so the rules decide afresh.
    let ancient = now() - (book_retention(&snap) + Duration::from_secs(60));
    with_book(&dd, |b| b.ask("isp", "m4", "ancient", "r", ancient)).unwrap();
    assert_eq!(
        decide_with(&store, &snap, None, "m4").decision,
        Decision::Download
    );
    assert!(load_book(&dd).unwrap().get("isp", "m4").is_none());
}

#[test]
fn a_query_for_mailer_daemon_does_not_answer_itself() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let fired = ask_fired(Target::Recipient);
    let rcpts = vec!["Mailer_Daemon@example.com".to_string()];
    let held = held("X", &fired, 1, &rcpts);
    ask(&store, &snap, &held).unwrap();
    assert_eq!(
        inbox(&dd, "postmaster").len(),
        1,
        "asked the administrator instead"
    );
    let book = load_book(&dd).unwrap();
    assert_eq!(book.get("isp", "X").map(|q| q.state), Some(State::Pending));
}
