#![allow(clippy::disallowed_methods)] // tests read the files the store wrote

//! Storing sorted collected mail in a temporary data directory: mailboxes (the "From "
//! line gone), the spool with the Return-Path as sender, the LAN forwarding queue,
//! and mail nobody could be found for.

use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::collect::sort::{sort, NO_RECIPIENTS};
use mailroom_core::config::{parse_config, InMail, Snapshot};
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::services::collect::sort::{store_sorted, StoreSortedError};
use mailroom_std::services::outbound::state;
use mailroom_std::store::{spool, Store};
use std::fs;
use std::path::Path;

fn inmail(keys: &str) -> InMail {
    let text = format!(
        "name = \"isp\"\nconnections = [\"dial\"]\nserver = \"pop.isp.test:110\"\nuser = \"u\"\n\
         password = \"p\"\n{keys}\n"
    );
    toml::from_str(&text).unwrap()
}

fn snapshot(config: &str, users: &[(&str, &str)], m: &InMail) -> Snapshot {
    let text = format!(
        "hostname = \"mail.example.com\"\ndefault_domain = \"example.com\"\n\
         local_domains = [\"example.com\"]\n{config}"
    );
    let mut config = parse_config(&text).unwrap();
    config.inmails.push(m.clone());
    let accounts = users.iter().map(|(name, extra)| -> Account {
        toml::from_str(&format!(
            "name = \"{name}\"\npassword_hash = \"x\"\n{extra}\n"
        ))
        .unwrap()
    });
    Snapshot {
        config,
        accounts: Accounts::new(accounts),
        access: Default::default(),
    }
}

/// Every message file in a user's Maildir.
fn mailbox(dir: &DataDir, user: &str) -> Vec<Vec<u8>> {
    fn walk(p: &Path, out: &mut Vec<Vec<u8>>) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tmp") {
                    walk(&path, out);
                }
            } else if path
                .parent()
                .and_then(|d| d.file_name())
                .is_some_and(|n| n == "new" || n == "cur")
            {
                out.push(fs::read(&path).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.maildir(user), &mut out);
    out
}

const USERS: &[(&str, &str)] = &[
    ("postmaster", "admin = true"),
    ("fred", ""),
    (
        "bob",
        "forward_to = [\"bob@home.test\"]\nuse_forwarding = true",
    ),
];

#[test]
fn routed_mail_is_stored_without_the_from_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let m = inmail("accepted_domains = [\"example.com\"]");
    let s = snapshot("", USERS, &m);
    let msg = b"From isp-sender@remote.test Tue Jan 13 09:20:03 1998\r\nReturn-Path: <rp@remote.test>\r\nFrom: x@remote.test\r\nTo: fred@example.com, bob@example.com\r\n\r\nhello\r\n";
    let sorted = sort(&s, &m, msg);
    let report = store_sorted(&store, &s, &m, msg.to_vec(), &sorted, "isp.1").unwrap();
    assert_eq!(report.mailboxes, vec!["fred"]);
    assert_eq!(report.queued, vec!["bob@home.test"]);

    let fred = mailbox(&dir, "fred");
    assert_eq!(fred.len(), 1);
    assert!(fred[0].starts_with(b"Return-Path: <rp@remote.test>\r\n"));
    assert!(fred[0].ends_with(b"\r\n\r\nhello\r\n"));
    assert!(!fred[0].windows(5).any(|w| w == b"isp-s"));

    // bob forwards: the spool entry's sender is the Return-Path.
    let q = spool::list(&dir).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].from.as_deref(), Some("rp@remote.test"));
    assert_eq!(q[0].recipients, vec!["bob@home.test"]);
    let loaded = state::load(&dir, &q[0].id, mailroom_std::platform::clock::now())
        .unwrap()
        .unwrap();
    assert_eq!(loaded.recipients[0].lan, None);
}

#[test]
fn lan_routing_queues_for_the_lan_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let m =
        inmail("routing = \"lan\"\nlan_server = \"10.0.0.5\"\nlan_recipient = \"joe@lan.test\"");
    let s = snapshot("", USERS, &m);
    let msg = b"Return-Path: <>\r\nTo: joe@isp.test\r\n\r\nx\r\n";
    let sorted = sort(&s, &m, msg);
    let report = store_sorted(&store, &s, &m, msg.to_vec(), &sorted, "isp.2").unwrap();
    assert_eq!(report.queued, vec!["joe@lan.test"]);
    let q = spool::list(&dir).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].from, None, "Return-Path <> is the null sender");
    let env = spool::read_envelope(&dir, &q[0].id).unwrap().unwrap();
    assert_eq!(env.recipients[0].address, "joe@lan.test");
    assert_eq!(env.recipients[0].lan_server.as_deref(), Some("10.0.0.5:25"));
    let loaded = state::load(&dir, &q[0].id, mailroom_std::platform::clock::now())
        .unwrap()
        .unwrap();
    let lan = loaded.recipients[0].lan.clone().expect("a LAN target");
    assert_eq!(lan.server, "10.0.0.5:25");
    assert_eq!(lan.address, "joe@lan.test");
    assert!(mailbox(&dir, "postmaster").is_empty());
}

#[test]
fn no_recipients_gives_the_admin_an_error_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let m = inmail("accepted_domains = [\"example.com\"]");
    let s = snapshot("", USERS, &m);
    let msg =
        b"From: x@remote.test\r\nTo: someone@remote.test\r\nSubject: lost\r\n\r\nbody text\r\n";
    let sorted = sort(&s, &m, msg);
    let report = store_sorted(&store, &s, &m, msg.to_vec(), &sorted, "isp.3").unwrap();
    assert_eq!(report.notices, vec!["postmaster"]);
    let pm = mailbox(&dir, "postmaster");
    assert_eq!(pm.len(), 1);
    let text = String::from_utf8_lossy(&pm[0]);
    assert!(
        text.contains(&format!("Subject: {NO_RECIPIENTS}")),
        "{text}"
    );
    assert!(text.contains("message/rfc822"), "{text}");
    assert!(
        text.contains("Subject: lost"),
        "the message is attached: {text}"
    );
    assert!(spool::list(&dir).unwrap().is_empty());
}

#[test]
fn subject_without_marker_goes_as_it_is_to_the_named_user() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let m = inmail("routing = \"subject\"");
    let s = snapshot(
        "[unknown_recipients]\naction = \"message_to\"\nto = \"fred\"\n",
        USERS,
        &m,
    );
    let msg = b"Subject: hello\r\n\r\nbody\r\n";
    let sorted = sort(&s, &m, msg);
    let report = store_sorted(&store, &s, &m, msg.to_vec(), &sorted, "isp.4").unwrap();
    assert_eq!(report.mailboxes, vec!["fred"]);
    assert_eq!(mailbox(&dir, "fred"), vec![msg.to_vec()]);
}

#[test]
fn nobody_to_tell_leaves_the_message_at_the_isp() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let m = inmail("accepted_domains = [\"example.com\"]");
    let s = snapshot("", &[("fred", "")], &m);
    let msg = b"To: nobody@remote.test\r\n\r\nx\r\n";
    let sorted = sort(&s, &m, msg);
    let err = store_sorted(&store, &s, &m, msg.to_vec(), &sorted, "isp.5").unwrap_err();
    assert!(matches!(err, StoreSortedError::NoAccount(_)), "{err}");
    assert!(mailbox(&dir, "fred").is_empty());
    assert!(spool::list(&dir).unwrap().is_empty());
}
