use super::*;
use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::config::parse_config;
use mailroom_core::router::{Outcome, Source};
use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};

const CONFIG: &str = "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\n\
    local_domains = [\"example.com\"]\n\n[[list]]\nname = \"widgets\"\nkind = \"mailing\"\n\
    post = \"anyone\"\nmoderated = true\nmembers = [\"fred\", \"boss\"]\nmoderators = [\"boss\"]\n\
    subscribe = \"open\"\n";

fn snapshot() -> Snapshot {
    let config = parse_config(CONFIG).unwrap();
    let account = |name: &str| Account {
        name: name.into(),
        ..Default::default()
    };
    Snapshot {
        config,
        accounts: Accounts::new([account("fred"), account("boss"), account("other")]),
        access: Default::default(),
    }
}

fn setup() -> (tempfile::TempDir, DataDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let dd = DataDir::new(tmp.path());
    let store = Store::open(&dd).unwrap();
    (tmp, dd, store)
}

fn inbox(dd: &DataDir, user: &str) -> Vec<String> {
    let Ok(dir) = fs::read_dir(dd.maildir(user).join("new")) else {
        return Vec::new();
    };
    dir.map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

fn delivery(id: &str, from: &str, to: &[&str], data: &str) -> Delivery {
    Delivery {
        id: id.into(),
        envelope: Envelope {
            mail_from: Some(from.into()),
            recipients: to
                .iter()
                .map(|a| Recipient {
                    address: a.to_string(),
                    route: Route::Unknown,
                    dsn_notify: None,
                    dsn_orcpt: None,
                })
                .collect(),
            helo: "client.test".into(),
            client_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            auth_user: None,
            eight_bit: false,
            dsn_ret: None,
            dsn_envid: None,
        },
        data: data.as_bytes().to_vec(),
        junk: false,
    }
}

#[test]
fn a_list_and_a_user_in_one_delivery() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let mut d = delivery(
        "t1",
        "x@remote.test",
        &["widgets@example.com", "other@example.com"],
        "From: x@remote.test\r\nSubject: both\r\n\r\nhello\r\n",
    );
    let plan =
        crate::services::deliver::route_and_store(&store, &snap, &mut d, &Source::Smtp).unwrap();
    assert_eq!(plan.mailboxes, vec!["other"], "the user is routed as usual");
    assert_eq!(
        d.envelope.recipients.len(),
        2,
        "the delivery is given back whole"
    );
    assert_eq!(inbox(&dd, "other").len(), 1);
    let requests = inbox(&dd, "boss");
    assert_eq!(requests.len(), 1, "the moderator's approval request");
    assert!(requests[0].contains("(widgets - "));
    assert!(inbox(&dd, "fred").is_empty(), "held");
    let held: Vec<_> = fs::read_dir(dd.list_held_dir("widgets")).unwrap().collect();
    assert_eq!(held.len(), 1);
}

#[test]
fn collected_mail_for_the_listserver_is_answered() {
    let (_tmp, dd, store) = setup();
    let snap = snapshot();
    let source = Source::Pop3("isp".into());
    let mut d = delivery(
        "c1",
        "other@example.com",
        &[],
        "From: other@example.com\r\nSubject: x\r\n\r\nsubscribe widgets\r\n",
    );
    let plan = crate::services::deliver::plan_for(
        &snap,
        &delivery(
            "p",
            "other@example.com",
            &["listserver@example.com"],
            "From: other@example.com\r\n\r\n",
        ),
        &source,
    );
    assert!(
        matches!(&plan.recipients[0].outcome, Outcome::Discard { reason } if reason == lists::FOR_LIST_SERVER)
    );
    crate::services::deliver::list_routing(&store, &snap, &source, |r| {
        take_collected(&store, &snap, &mut d, &plan, r)
    })
    .unwrap();
    assert!(d.envelope.recipients.is_empty());
    let roster = load_roster(&dd, "widgets", None).unwrap();
    assert_eq!(roster.members.len(), 3, "{roster:?}");
    let answer = inbox(&dd, "other");
    assert_eq!(answer.len(), 1);
    assert!(answer[0].contains("You have been added to widgets."));
}

#[test]
fn a_damaged_roster_is_set_aside() {
    let (_tmp, dd, _store) = setup();
    let snap = snapshot();
    fs::create_dir_all(dd.lists_dir()).unwrap();
    fs::write(dd.list_roster("widgets"), "member = 3").unwrap();
    let r = load_roster(&dd, "widgets", Some(&snap.config.lists[0])).unwrap();
    assert_eq!(r, Roster::from_config(&snap.config.lists[0]));
    assert!(dd.list_roster("widgets").with_extension("damaged").exists());
}

#[test]
fn digest_tick_starts_the_period_then_sends() {
    let tick = |store: &Store, snap: &Snapshot, now: Instant| {
        crate::services::deliver::list_routing(store, snap, &Source::Local, |r| {
            digest_tick(store, snap, now, r)
        })
    };
    let (_tmp, dd, store) = setup();
    let mut snap = snapshot();
    snap.config.lists[0].moderated = false;
    snap.config.lists[0].options.digest = true;
    let day = 86_400;
    let t0 = Instant::from_secs(1_700_000_000);
    tick(&store, &snap, t0).unwrap();
    let dir = dd.list_digest_dir("widgets_digest");
    assert_eq!(fs::read_to_string(dir.join("last")).unwrap(), "1700000000");
    collect(
        &dd,
        &snap.config.lists[0],
        "p1",
        t0,
        b"Subject: a\r\n\r\nx\r\n",
    )
    .unwrap();
    let roster = Roster {
        members: vec![lists::Member::new("fred")],
    };
    save_roster(&dd, "widgets_digest", &roster).unwrap();
    tick(&store, &snap, Instant::from_secs(1_700_000_000 + 100)).unwrap();
    assert!(inbox(&dd, "fred").is_empty(), "not before midnight");
    tick(&store, &snap, Instant::from_secs(1_700_000_000 + day)).unwrap();
    let got = inbox(&dd, "fred");
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("widgets_Digest, "));
    assert_eq!(fs::read_dir(dir.join("sent")).unwrap().count(), 1);
    tick(&store, &snap, Instant::from_secs(1_700_000_000 + 30 * day)).unwrap();
    assert_eq!(
        fs::read_dir(dir.join("sent")).unwrap().count(),
        0,
        "kept 28 days"
    );
    assert_eq!(inbox(&dd, "fred").len(), 1, "no empty digests");
}
