//! The folder store (docs/STORE.md): index v2 and its journal on disk, shared states,
//! sync between sessions and processes, crash cases, folders, POP3 on top, IDLE.
#![allow(clippy::disallowed_methods)] // tests read and damage the files the store wrote

use mailroom_core::mailbox::{Flag, Flags, Record, Report, SpecialUse};
use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route};
use mailroom_std::platform::datadir::{DataDir, INDEX_FILE, JOURNAL_FILE};
use mailroom_std::store::index::Mailbox;
use mailroom_std::store::{Change, FlagEdit, FolderInfo, Folders, FoldersError, Store};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

fn put(root: &Path, name: &str, data: &[u8]) {
    fs::create_dir_all(root.join("new")).unwrap();
    fs::write(root.join("new").join(name), data).unwrap();
}

fn seen(uid: u32) -> Change {
    Change::Flags {
        uid,
        edit: FlagEdit::Add,
        flags: Flags::NONE.with(Flag::Seen),
        keywords: vec![],
    }
}

fn uids(f: &mailroom_std::store::Folder) -> Vec<u32> {
    f.read(|ix| ix.messages.keys().copied().collect())
}

#[test]
fn version_1_index_becomes_version_2_with_the_same_uids() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("alice");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    fs::write(root.join("cur/1000.a:2,S"), b"x\r\n").unwrap();
    fs::write(root.join("cur/1000.b:2,"), b"yy\r\n").unwrap();
    fs::write(root.join("cur/1000.c:2,"), b"z\r\n").unwrap();
    fs::write(
        root.join(INDEX_FILE),
        "mailroom-index 1\nuidvalidity 1234\nnextuid 9\n2 3 - 1000.a\n5 4 H 1000.b\n7 3 - 1000.c\n",
    )
    .unwrap();
    let m = Mailbox::open(&root).unwrap();
    assert_eq!(m.uidvalidity(), 1234);
    let listed: Vec<(u32, &str, bool)> = m
        .all()
        .iter()
        .map(|l| (l.uid, l.uidl.as_str(), l.held))
        .collect();
    assert_eq!(
        listed,
        [
            (2, "1000.a", false),
            (5, "1000.b", true),
            (7, "1000.c", false)
        ]
    );
    drop(m);
    let text = fs::read_to_string(root.join(INDEX_FILE)).unwrap();
    assert!(
        text.starts_with("mailroom-index 2\nuidvalidity 1234\nnextuid 9\n"),
        "{text}"
    );
    let f = Folders::new().open(&root, "INBOX").unwrap();
    f.read(|ix| {
        assert!(ix.messages[&2].flags.contains(Flag::Seen));
        assert!(ix.messages[&5].held);
    });
    // A new message continues after the old UIDs.
    put(&root, "0999.d", b"new\r\n");
    f.sync().unwrap();
    assert_eq!(uids(&f), [2, 5, 7, 9]);
}

#[test]
fn two_sessions_of_one_process_see_each_others_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bob");
    put(&root, "1.a", b"a\r\n");
    let folders = Folders::new();
    let f1 = folders.open(&root, "INBOX").unwrap();
    let f2 = folders.open(&root, "INBOX").unwrap();
    assert!(std::sync::Arc::ptr_eq(&f1, &f2), "one state per folder");
    let (s1, s2) = (f1.session(), f2.session());
    let added = s1.sync().unwrap();
    assert!(matches!(&added[..], [Record::Added(m)] if m.uid == 1));
    let mut v2 = s2.view();
    assert_eq!(v2.len(), 1);
    // Session 1 marks it read; session 2 learns it at its next sync point.
    f1.write(vec![seen(1)], false).unwrap();
    put(&root, "2.b", b"b\r\n");
    let changes = s2.sync().unwrap();
    for c in &changes {
        v2.note(c);
    }
    assert_eq!(
        v2.report(true),
        [
            Report::Exists { count: 2 },
            Report::Flags { seq: 1, uid: 1 }
        ]
    );
    // And session 1 gets the arrival session 2's sync indexed.
    assert!(s1
        .take()
        .iter()
        .any(|r| matches!(r, Record::Added(m) if m.uid == 2)));
}

#[test]
fn another_processes_journal_lines_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("carol");
    put(&root, "1.a", b"a\r\n");
    put(&root, "2.b", b"b\r\n");
    // Two stores on one directory: two processes as far as the files can tell.
    let (p1, p2) = (Folders::new(), Folders::new());
    let a = p1.open(&root, "INBOX").unwrap();
    a.sync().unwrap();
    let b = p2.open(&root, "INBOX").unwrap();
    let sb = b.session();
    assert_eq!(uids(&b), [1, 2]);
    a.write(vec![seen(2), Change::Expunge { uid: 1 }], true)
        .unwrap();
    assert!(
        !root.join("cur/1.a:2,").exists(),
        "an expunge removes the file"
    );
    let got = sb.sync().unwrap();
    assert!(got
        .iter()
        .any(|r| matches!(r, Record::Flags { uid: 2, flags, .. } if flags.contains(Flag::Seen))));
    assert!(got
        .iter()
        .any(|r| matches!(r, Record::Expunged { uid: 1, .. })));
    // MODSEQ and UIDs stay one sequence: b writes after a.
    put(&root, "3.c", b"c\r\n");
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(uids(&a), [2, 3]);
    assert_eq!(
        a.read(|ix| ix.highest_modseq),
        b.read(|ix| ix.highest_modseq)
    );
    // A checkpoint by one is followed by the other (reload, not a replay).
    a.checkpoint().unwrap();
    b.write(vec![Change::Held { uid: 3, held: true }], false)
        .unwrap();
    a.sync().unwrap();
    assert!(a.read(|ix| ix.messages[&3].held));
}

#[test]
fn a_torn_journal_tail_is_cut_and_the_rest_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("dave");
    put(&root, "1.a", b"a\r\n");
    put(&root, "2.b", b"b\r\n");
    {
        let f = Folders::new().open(&root, "INBOX").unwrap();
        f.sync().unwrap();
        f.write(vec![seen(1)], true).unwrap();
    }
    let journal = root.join(JOURNAL_FILE);
    let good = fs::read(&journal).unwrap();
    assert_eq!(good.iter().filter(|&&b| b == b'\n').count(), 3);
    // A writer died in the middle of a line.
    let mut torn = good.clone();
    torn.extend_from_slice(b"X 2 9 #0000");
    fs::write(&journal, &torn).unwrap();
    let f = Folders::new().open(&root, "INBOX").unwrap();
    assert_eq!(uids(&f), [1, 2]);
    assert!(f.read(|ix| ix.messages[&1].flags.contains(Flag::Seen)));
    assert_eq!(fs::read(&journal).unwrap(), good);
    // The next line follows the good ones.
    f.write(vec![Change::Expunge { uid: 2 }], true).unwrap();
    drop(f);
    let f = Folders::new().open(&root, "INBOX").unwrap();
    assert_eq!(uids(&f), [1]);
}

#[test]
fn uidvalidity_survives_files_deleted_behind_the_stores_back() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("erin");
    put(&root, "1.a", b"a\r\n");
    put(&root, "2.b", b"b\r\n");
    let f = Folders::new().open(&root, "INBOX").unwrap();
    f.sync().unwrap();
    let validity = f.uidvalidity();
    drop(f);
    fs::remove_file(root.join("cur/1.a:2,")).unwrap();
    put(&root, "3.c", b"c\r\n");
    let f = Folders::new().open(&root, "INBOX").unwrap();
    let records = f.sync().unwrap();
    assert!(records
        .iter()
        .any(|r| matches!(r, Record::Expunged { uid: 1, .. })));
    assert_eq!(f.uidvalidity(), validity);
    assert_eq!(uids(&f), [2, 3]);
}

#[test]
fn an_expunge_is_durable_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fred");
    put(&root, "1.a", b"a\r\n");
    put(&root, "2.b", b"b\r\n");
    {
        let mut m = Mailbox::open(&root).unwrap();
        let first = m.visible().next().unwrap().clone();
        m.commit(&[&first], &[]).unwrap();
    }
    let text = fs::read_to_string(root.join(JOURNAL_FILE)).unwrap();
    assert!(text.lines().any(|l| l.starts_with("X 1 ")), "{text}");
    let f = Folders::new().open(&root, "INBOX").unwrap();
    assert_eq!(uids(&f), [2]);
    f.sync().unwrap();
    assert_eq!(uids(&f), [2]);
}

#[test]
fn checkpoint_then_crash_before_truncate_replays_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gina");
    put(&root, "1.a", b"a\r\n");
    put(&root, "2.b", b"b\r\n");
    let folders = Folders::new();
    let f = folders.open(&root, "INBOX").unwrap();
    f.sync().unwrap();
    f.write(
        vec![
            seen(1),
            Change::Flags {
                uid: 2,
                edit: FlagEdit::Set,
                flags: Flags::NONE.with(Flag::Flagged),
                keywords: vec!["$Forwarded".into()],
            },
            Change::Expunge { uid: 1 },
        ],
        true,
    )
    .unwrap();
    let journal = fs::read(root.join(JOURNAL_FILE)).unwrap();
    let state = f.read(|ix| ix.clone());
    f.checkpoint().unwrap();
    drop(f);
    assert_eq!(fs::read(root.join(JOURNAL_FILE)).unwrap(), b"");
    // The crash: the snapshot was replaced, the journal not yet emptied.
    fs::write(root.join(JOURNAL_FILE), &journal).unwrap();
    let f = Folders::new().open(&root, "INBOX").unwrap();
    assert_eq!(f.read(|ix| ix.clone()), state);
    // And the next change follows on.
    f.write(vec![seen(2)], true).unwrap();
    assert_eq!(f.read(|ix| ix.highest_modseq), state.highest_modseq + 1);
    // Flags were written back into the file names at the checkpoint.
    assert!(root.join("cur/2.b:2,F").is_file());
}

#[test]
fn append_stores_indexes_and_syncs_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let account = tmp.path().join("lena");
    let folders = Folders::new();
    folders.create_defaults(&account).unwrap();
    let sent = folders.open(&account, "Sent").unwrap();
    let watcher = sent.session();
    let flags = Flags::NONE.with(Flag::Seen);
    let uid = sent
        .append(
            b"Subject: x\n\nbody\n",
            flags,
            vec!["$Forwarded".into()],
            1_700_000_000,
        )
        .unwrap();
    assert_eq!(uid, 1);
    assert!(matches!(&watcher.take()[..], [Record::Keyword(_), Record::Added(m)] if m.uid == 1));
    let (size, date, kw) = sent.read(|ix| {
        let m = &ix.messages[&1];
        (m.size, m.internal_date, ix.keywords.clone())
    });
    // Counted with CRLF line ends, as FETCH and RETR send it.
    assert_eq!((size, date), (20, 1_700_000_000));
    assert_eq!(kw, ["$Forwarded"]);
    let path = sent.message_path(1).unwrap();
    assert!(path.to_str().unwrap().ends_with(":2,S"), "{path:?}");
    assert_eq!(fs::read(&path).unwrap(), b"Subject: x\n\nbody\n");
    // Another process sees it, and a sync does not index it twice.
    let other = Folders::new().open(&account, "Sent").unwrap();
    other.sync().unwrap();
    sent.sync().unwrap();
    assert_eq!(uids(&other), [1]);
    assert_eq!(uids(&sent), [1]);
}

#[test]
fn a_long_journal_is_checkpointed_and_reloads_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("kim");
    put(&root, "1.a", b"a\r\n");
    let f = Folders::new().open(&root, "INBOX").unwrap();
    f.sync().unwrap();
    for i in 0..1100 {
        let edit = if i % 2 == 0 {
            FlagEdit::Add
        } else {
            FlagEdit::Remove
        };
        let change = Change::Flags {
            uid: 1,
            edit,
            flags: Flags::NONE.with(Flag::Flagged),
            keywords: vec![],
        };
        f.write(vec![change], false).unwrap();
    }
    let lines = fs::read_to_string(root.join(JOURNAL_FILE))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 1000, "checkpointed: {lines} lines left");
    let state = f.read(|ix| ix.clone());
    assert_eq!(state.highest_modseq, 1 + 1 + 1100);
    drop(f);
    let f = Folders::new().open(&root, "INBOX").unwrap();
    assert_eq!(f.read(|ix| ix.clone()), state);
}

#[test]
fn folders_are_created_renamed_listed_and_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let account = tmp.path().join("hugo");
    let folders = Folders::new();
    folders.create_defaults(&account).unwrap();
    folders
        .create(&account, "Entwürfe", Some(SpecialUse::Drafts))
        .unwrap();
    folders.create(&account, "Archive", None).unwrap();
    folders.create(&account, "Archive/2026", None).unwrap();
    folders.create(&account, "Mr. Smith", None).unwrap();
    assert!(account.join(".Entw&APw-rfe/cur").is_dir());
    assert!(account.join(".Archive.2026/cur").is_dir());
    assert!(account.join(".Mr&AC4- Smith/cur").is_dir());
    assert!(matches!(
        folders.create(&account, "Archive", None),
        Err(FoldersError::Exists)
    ));
    assert!(matches!(
        folders.create(&account, "a//b", None),
        Err(FoldersError::Name(_))
    ));
    folders.set_subscribed(&account, "Entwürfe", true).unwrap();
    let names = |l: Vec<FolderInfo>| -> Vec<(String, Option<SpecialUse>, bool)> {
        l.into_iter()
            .map(|i| (i.name, i.special_use, i.subscribed))
            .collect()
    };
    assert_eq!(
        names(folders.list(&account).unwrap()),
        [
            ("INBOX".to_string(), None, false),
            ("Archive".into(), None, false),
            ("Archive/2026".into(), None, false),
            ("Drafts".into(), Some(SpecialUse::Drafts), false),
            ("Entwürfe".into(), Some(SpecialUse::Drafts), true),
            ("Junk".into(), Some(SpecialUse::Junk), false),
            ("Mr. Smith".into(), None, false),
            ("Sent".into(), Some(SpecialUse::Sent), false),
            ("Trash".into(), Some(SpecialUse::Trash), false),
        ]
    );
    assert_eq!(
        fs::read_to_string(account.join("subscriptions")).unwrap(),
        "Entw&APw-rfe\n"
    );

    // A renamed folder keeps its messages, UIDVALIDITY and use; its children move.
    put(&account.join(".Sent"), "1.a", b"a\r\n");
    let sent = folders.open(&account, "Sent").unwrap();
    sent.sync().unwrap();
    let validity = sent.uidvalidity();
    folders.rename(&account, "Sent", "Sent Items").unwrap();
    assert!(sent.sync().is_err(), "the old state is gone");
    let moved = folders.open(&account, "Sent Items").unwrap();
    assert_eq!(
        (moved.uidvalidity(), uids(&moved), moved.special_use()),
        (validity, vec![1], Some(SpecialUse::Sent))
    );
    folders.rename(&account, "Archive", "Old/Archive").unwrap();
    assert!(account.join(".Old.Archive.2026/cur").is_dir());
    assert!(matches!(
        folders.rename(&account, "INBOX", "X"),
        Err(FoldersError::Inbox)
    ));
    assert!(matches!(
        folders.open(&account, "Sent"),
        Err(FoldersError::NotFound)
    ));

    folders.delete(&account, "Mr. Smith").unwrap();
    folders.set_subscribed(&account, "Entwürfe", false).unwrap();
    let left: Vec<String> = folders
        .list(&account)
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(
        left,
        [
            "INBOX",
            "Drafts",
            "Entwürfe",
            "Junk",
            "Old/Archive",
            "Old/Archive/2026",
            "Sent Items",
            "Trash"
        ]
    );
    assert!(matches!(
        folders.delete(&account, "Mr. Smith"),
        Err(FoldersError::NotFound)
    ));
    assert_eq!(
        folders.subscriptions(&account).unwrap(),
        Vec::<String>::new()
    );

    // Deleted by another process: the open state says so and does not make it again.
    let junk = folders.open(&account, "Junk").unwrap();
    Folders::new().delete(&account, "Junk").unwrap();
    assert!(matches!(
        junk.sync(),
        Err(mailroom_std::store::FolderError::Gone)
    ));
    assert!(!account.join(".Junk").exists());
}

#[test]
fn a_pop3_quit_is_seen_as_expunge_and_seen_by_another_session() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ivy");
    put(&root, "1.a", b"a\r\n");
    put(&root, "2.b", b"b\r\n");
    put(&root, "3.c", b"c\r\n");
    let folders = Folders::new();
    let imap = folders.open(&root, "INBOX").unwrap().session();
    imap.sync().unwrap();
    let mut view = imap.view();
    assert_eq!(view.len(), 3);
    let mut pop = Mailbox::open_in(&folders, &root).unwrap();
    // A second POP3 session is refused; IMAP goes on.
    assert!(Mailbox::open_in(&folders, &root).is_err());
    assert!(Mailbox::open(&root).is_err(), "other processes too");
    let list: Vec<_> = pop.visible().cloned().collect();
    pop.commit(&[&list[1]], &[&list[0]]).unwrap();
    drop(pop);
    for c in imap.sync().unwrap() {
        view.note(&c);
    }
    let mut reports = view.report(true);
    reports.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        reports,
        [Report::Expunge { seq: 2 }, Report::Flags { seq: 1, uid: 1 }]
    );
    assert_eq!(view.uids(), [1, 3]);
    assert!(imap
        .folder()
        .read(|ix| ix.messages[&1].flags.contains(Flag::Seen)));
    assert!(root.join("cur/1.a:2,S").is_file());
    assert!(Mailbox::open_in(&folders, &root).is_ok(), "lock released");
}

fn delivery(data: &[u8]) -> Delivery {
    Delivery {
        id: "t1".into(),
        envelope: Envelope {
            mail_from: Some("bob@example.com".into()),
            recipients: vec![Recipient {
                address: "jack@example.com".into(),
                route: Route::Local("jack".into()),
                dsn_notify: None,
                dsn_orcpt: None,
            }],
            helo: "client.test".into(),
            client_ip: "127.0.0.1".parse().unwrap(),
            auth_user: None,
            eight_bit: false,
            dsn_ret: None,
            dsn_envid: None,
        },
        data: data.to_vec(),
        junk: false,
    }
}

#[test]
fn delivery_wakes_an_idler_within_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(&DataDir::new(tmp.path())).unwrap());
    let account = store.account_dir("jack").unwrap();
    let session = store.folders().open(&account, "INBOX").unwrap().session();
    session.sync().unwrap();
    let mut view = session.view();
    let waiter = std::thread::spawn(move || {
        let start = Instant::now();
        let woke = session.wait(Duration::from_secs(10));
        (woke, start.elapsed(), session)
    });
    std::thread::sleep(Duration::from_millis(100));
    store
        .deliver(&delivery(b"Subject: hi\r\n\r\nhello\r\n"))
        .unwrap();
    let (woke, took, session) = waiter.join().unwrap();
    assert!(woke && took < Duration::from_secs(1), "{took:?}");
    for c in session.sync().unwrap() {
        view.note(&c);
    }
    assert_eq!(view.report(true), [Report::Exists { count: 1 }]);

    // Mail dropped by another program is seen by the once-a-second look.
    let waiter = std::thread::spawn(move || {
        let start = Instant::now();
        (session.wait(Duration::from_secs(10)), start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    put(&account, "9.z", b"z\r\n");
    let (woke, took) = waiter.join().unwrap();
    assert!(woke && took < Duration::from_millis(2500), "{took:?}");
}
