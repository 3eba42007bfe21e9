#![allow(clippy::disallowed_methods)] // tests read the files the store wrote

use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::store::{spool, Store};
use std::fs;

fn remote_delivery(id: &str, from: Option<&str>, rcpts: &[&str]) -> Delivery {
    Delivery {
        id: id.into(),
        envelope: Envelope {
            mail_from: from.map(Into::into),
            recipients: rcpts
                .iter()
                .map(|a| Recipient {
                    address: (*a).into(),
                    route: Route::Remote,
                    dsn_notify: Some("SUCCESS,FAILURE".into()),
                    dsn_orcpt: Some(format!("rfc822;{a}")),
                })
                .collect(),
            helo: "client.test".into(),
            client_ip: "2001:db8::7".parse().unwrap(),
            auth_user: Some("alice".into()),
            eight_bit: true,
            dsn_ret: Some("HDRS".into()),
            dsn_envid: Some("env \"quoted\" id".into()),
        },
        data: format!("Subject: for {rcpts:?}\r\n\r\nbody\r\n").into_bytes(),
        junk: false,
    }
}

#[test]
fn spool_entry_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let d = remote_delivery(
        "S1.1",
        Some("alice@example.com"),
        &["x@far.test", "\"odd name\"@far.test"],
    );
    store.deliver(&d).unwrap();

    let list = spool::list(&dir).unwrap();
    assert_eq!(list.len(), 1);
    let entry = &list[0];
    assert!(spool::is_valid_id(&entry.id));
    assert_eq!(entry.from.as_deref(), Some("alice@example.com"));
    assert_eq!(
        entry.recipients,
        vec!["x@far.test", "\"odd name\"@far.test"]
    );
    assert_eq!(entry.size, d.data.len() as u64);
    assert!(entry.arrival > 1_600_000_000);

    let env = spool::read_envelope(&dir, &entry.id).unwrap().unwrap();
    assert_eq!(env.version, spool::ENVELOPE_VERSION);
    assert_eq!(env.received_id, "S1.1");
    assert_eq!(env.client_ip, "2001:db8::7");
    assert_eq!(env.auth_user.as_deref(), Some("alice"));
    assert!(env.eight_bit);
    assert_eq!(env.dsn_ret.as_deref(), Some("HDRS"));
    assert_eq!(env.dsn_envid.as_deref(), Some("env \"quoted\" id"));
    assert_eq!(
        env.recipients[1].orcpt.as_deref(),
        Some("rfc822;\"odd name\"@far.test")
    );
    assert_eq!(env.recipients[0].notify.as_deref(), Some("SUCCESS,FAILURE"));
    assert_eq!(
        fs::read(spool::message_path(&dir, &entry.id).unwrap()).unwrap(),
        d.data
    );
    assert_eq!(
        fs::read_dir(dir.spool_dir().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn null_sender_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    store
        .deliver(&remote_delivery("S2.1", None, &["x@far.test"]))
        .unwrap();
    let list = spool::list(&dir).unwrap();
    assert_eq!(list[0].from, None);
}

#[test]
fn list_and_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    assert!(
        spool::list(&dir).unwrap().is_empty(),
        "no spool yet is an empty queue"
    );
    let store = Store::open(&dir).unwrap();
    for i in 0..3 {
        store
            .deliver(&remote_delivery(
                &format!("S3.{i}"),
                Some("a@example.com"),
                &["x@far.test"],
            ))
            .unwrap();
    }
    let list = spool::list(&dir).unwrap();
    assert_eq!(list.len(), 3);
    assert!(spool::delete(&dir, &list[1].id).unwrap());
    assert!(!spool::delete(&dir, &list[1].id).unwrap());
    let after: Vec<_> = spool::list(&dir)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(after, vec![list[0].id.clone(), list[2].id.clone()]);
    assert!(!spool::message_path(&dir, &list[1].id).unwrap().exists());
}

#[test]
fn bad_ids_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    Store::open(&dir).unwrap();
    fs::write(tmp.path().join("victim.env"), b"keep me").unwrap();
    for bad in ["../victim", "..", ".", "", "a/b", "x y", &"a".repeat(200)] {
        assert!(!spool::is_valid_id(bad), "{bad}");
        let err = spool::delete(&dir, bad).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert!(tmp.path().join("victim.env").exists());
}

#[test]
fn incomplete_and_damaged_entries_are_not_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    store
        .deliver(&remote_delivery(
            "S4.1",
            Some("a@example.com"),
            &["x@far.test"],
        ))
        .unwrap();
    let queue = dir.spool_dir().join("queue");
    // A message whose envelope never arrived, and an envelope that is not TOML.
    fs::write(queue.join("orphan.eml"), b"x").unwrap();
    fs::write(queue.join("broken.env"), b"not = [toml").unwrap();
    fs::write(queue.join("broken.eml"), b"x").unwrap();
    let list = spool::list(&dir).unwrap();
    assert_eq!(list.len(), 1);
}
