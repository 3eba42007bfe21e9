#![allow(clippy::disallowed_methods)] // tests read the files the store wrote

use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::store::Store;
use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

fn delivery(id: &str, data: &[u8], routes: &[(&str, Route)]) -> Delivery {
    Delivery {
        id: id.into(),
        envelope: Envelope {
            mail_from: Some("alice@example.com".into()),
            recipients: routes
                .iter()
                .map(|(a, r)| Recipient {
                    address: (*a).into(),
                    route: r.clone(),
                    dsn_notify: None,
                    dsn_orcpt: None,
                })
                .collect(),
            helo: "client.test".into(),
            client_ip: "127.0.0.1".parse().unwrap(),
            auth_user: Some("alice".into()),
            eight_bit: false,
            dsn_ret: None,
            dsn_envid: None,
        },
        data: data.to_vec(),
        junk: false,
    }
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = match fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn delivered_file_equals_the_data_and_tmp_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let mut data = b"Received: from client.test\r\nSubject: hi\r\n\r\n.leading dot\r\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 998));
    data.extend_from_slice(b"\r\n\0\xff binary-ish\r\n");
    store
        .deliver(&delivery(
            "S1.1",
            &data,
            &[("bob@example.com", Route::Local("bob".into()))],
        ))
        .unwrap();

    let md = dir.maildir("bob");
    let new = files(&md.join("new"));
    assert_eq!(new.len(), 1);
    assert_eq!(fs::read(&new[0]).unwrap(), data);
    let name = new[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.ends_with(&format!(",S={}", data.len())), "{name}");
    assert!(!name.contains(':') && !name.contains('/'));
    assert!(files(&md.join("tmp")).is_empty());
    assert!(md.join("cur").is_dir());
}

#[test]
fn several_local_users_each_get_one_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    let data = b"Subject: team\r\n\r\nhello all\r\n";
    store
        .deliver(&delivery(
            "S2.1",
            data,
            &[
                ("bob@example.com", Route::Local("bob".into())),
                ("carol@example.com", Route::Local("carol".into())),
                // The same account under another address gets the message once.
                ("Bob@Example.com", Route::Local("Bob".into())),
                ("dave@example.com", Route::Local("dave".into())),
            ],
        ))
        .unwrap();
    for user in ["bob", "carol", "dave"] {
        let md = dir.maildir(user);
        let new = files(&md.join("new"));
        assert_eq!(new.len(), 1, "{user}");
        assert_eq!(fs::read(&new[0]).unwrap(), data);
        assert!(files(&md.join("tmp")).is_empty(), "{user}");
    }
    assert_eq!(files(&dir.mail_dir()).len(), 3);
}

#[test]
fn unknown_recipients_are_skipped_and_remote_ones_spooled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    store
        .deliver(&delivery(
            "S3.1",
            b"x\r\n",
            &[
                ("nobody@example.com", Route::Unknown),
                ("bob@example.com", Route::Local("bob".into())),
                ("far@remote.test", Route::Remote),
            ],
        ))
        .unwrap();
    assert_eq!(files(&dir.maildir("bob").join("new")).len(), 1);
    assert!(!dir.maildir("nobody").exists());
    let queue = mailroom_std::store::spool::list(&dir).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].recipients, vec!["far@remote.test".to_string()]);
}

#[test]
fn unsafe_mailbox_names_are_refused_permanently() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    for bad in ["../evil", "a/b", "", ".hidden"] {
        let err = store
            .deliver(&delivery(
                "S4.1",
                b"x\r\n",
                &[("x@example.com", Route::Local(bad.into()))],
            ))
            .unwrap_err();
        assert!(!err.temporary, "{bad}");
    }
    assert!(files(&dir.mail_dir()).is_empty());
}

#[test]
fn storage_failure_is_temporary_and_leaves_nothing_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Store::open(&dir).unwrap();
    // A plain file where carol's Maildir should be makes her delivery fail after
    // bob's copy was linked; bob must not keep a copy the client will resend.
    fs::write(dir.maildir("carol"), b"in the way").unwrap();
    let err = store
        .deliver(&delivery(
            "S5.1",
            b"x\r\n",
            &[
                ("bob@example.com", Route::Local("bob".into())),
                ("carol@example.com", Route::Local("carol".into())),
            ],
        ))
        .unwrap_err();
    assert!(err.temporary);
    assert!(files(&dir.maildir("bob").join("new")).is_empty());
    assert!(files(&dir.maildir("bob").join("tmp")).is_empty());
}

#[test]
fn concurrent_deliveries_get_distinct_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = Arc::new(Store::open(&dir).unwrap());
    let threads = 8;
    let per_thread = 25;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let body = format!("Subject: {t}-{i}\r\n\r\nbody\r\n");
                    store
                        .deliver(&delivery(
                            &format!("T{t}.{i}"),
                            body.as_bytes(),
                            &[("bob@example.com", Route::Local("bob".into()))],
                        ))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let new = files(&dir.maildir("bob").join("new"));
    assert_eq!(new.len(), threads * per_thread);
    let bodies: HashSet<Vec<u8>> = new.iter().map(|p| fs::read(p).unwrap()).collect();
    assert_eq!(bodies.len(), threads * per_thread);
    assert!(files(&dir.maildir("bob").join("tmp")).is_empty());
}
