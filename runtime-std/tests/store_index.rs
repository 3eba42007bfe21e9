//! The mailbox index: UIDs stable across opens and restarts, locking, held messages,
//! deletion at commit, and Maildir compatibility with other programs.
#![allow(clippy::disallowed_methods)]

use mailroom_core::mailbox::{replay, FolderIndex};
use mailroom_std::platform::datadir::{DataDir, JOURNAL_FILE};
use mailroom_std::store::index::{Mailbox, MailboxError, INDEX_FILE};
use mailroom_std::store::Store;
use std::fs;
use std::path::Path;

fn put(root: &Path, name: &str, data: &[u8]) {
    fs::create_dir_all(root.join("new")).unwrap();
    fs::write(root.join("new").join(name), data).unwrap();
}

fn uids(m: &Mailbox) -> Vec<(u32, String)> {
    m.visible().map(|l| (l.uid, l.uidl.clone())).collect()
}

#[test]
fn uids_are_stable_across_opens_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("alice");
    put(&root, "1000.M1P1Q1.host,S=10", b"A: 1\r\n\r\nx\r\n");
    put(&root, "1000.M2P1Q2.host,S=10", b"A: 2\r\n\r\ny\r\n");
    let (first, validity) = {
        let m = Mailbox::open(&root).unwrap();
        (uids(&m), m.uidvalidity())
    };
    assert_eq!(
        first,
        [
            (1, "1000.M1P1Q1.host,S=10".to_string()),
            (2, "1000.M2P1Q2.host,S=10".to_string())
        ]
    );
    // Read mail moved to cur/ the Maildir way.
    assert!(fs::read_dir(root.join("new")).unwrap().next().is_none());
    assert!(root.join("cur/1000.M1P1Q1.host,S=10:2,").is_file());

    // A new message (named to sort first) gets the next UID; old ones keep theirs.
    put(&root, "0999.M9P1Q9.host,S=10", b"A: 0\r\n\r\nz\r\n");
    let m = Mailbox::open(&root).unwrap();
    assert_eq!(m.uidvalidity(), validity);
    let now = uids(&m);
    assert_eq!(now[..2], first[..]);
    assert_eq!(now[2], (3, "0999.M9P1Q9.host,S=10".to_string()));
    drop(m);

    // A message removed by another program disappears; UIDs are never reused.
    fs::remove_file(root.join("cur/1000.M1P1Q1.host,S=10:2,")).unwrap();
    put(&root, "1001.M1P1Q1.host,S=10", b"A: 4\r\n\r\nw\r\n");
    let m = Mailbox::open(&root).unwrap();
    assert_eq!(m.visible().map(|l| l.uid).collect::<Vec<_>>(), [2, 3, 4]);
    drop(m);

    // Losing the index changes UIDVALIDITY but not the POP3 UIDLs.
    let before: Vec<String> = uids(&Mailbox::open(&root).unwrap())
        .into_iter()
        .map(|x| x.1)
        .collect();
    fs::remove_file(root.join(INDEX_FILE)).unwrap();
    let m = Mailbox::open(&root).unwrap();
    let mut after: Vec<String> = uids(&m).into_iter().map(|x| x.1).collect();
    let mut sorted_before = before.clone();
    sorted_before.sort();
    after.sort();
    assert_eq!(after, sorted_before);
}

#[test]
fn the_lock_excludes_a_second_reader_until_released() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bob");
    let first = Mailbox::open(&root).unwrap();
    assert!(matches!(Mailbox::open(&root), Err(MailboxError::InUse)));
    drop(first);
    assert!(Mailbox::open(&root).is_ok());
}

#[test]
fn sizes_count_crlf_line_ends_and_messages_follow_renames() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("carol");
    put(&root, "2000.a", b"Subject: lf\n\nbody\n");
    put(&root, "2000.b", b"Subject: crlf\r\n\r\nbody\r\n");
    let m = Mailbox::open(&root).unwrap();
    let sizes: Vec<u64> = m.visible().map(|l| l.size).collect();
    assert_eq!(sizes, [21, 23]);
    // mutt marks the message replied: the name changes, the message is still found.
    let first = m.visible().next().unwrap().clone();
    fs::rename(&first.path, root.join("cur/2000.a:2,R")).unwrap();
    let mut f = m.open_message(&first).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut f, &mut s).unwrap();
    assert_eq!(s, "Subject: lf\n\nbody\n");
}

#[test]
fn commit_deletes_and_marks_seen_and_held_mail_is_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("dave");
    for n in ["3000.a", "3000.b", "3000.c"] {
        put(&root, n, b"x\r\n");
    }
    let mut m = Mailbox::open(&root).unwrap();
    let all: Vec<_> = m.visible().cloned().collect();
    m.commit(&[&all[0]], &[&all[1]]).unwrap();
    drop(m);
    assert!(!root.join("cur/3000.a:2,").exists());
    assert!(root.join("cur/3000.b:2,S").is_file());
    let mut m = Mailbox::open(&root).unwrap();
    assert_eq!(m.visible().map(|l| l.uid).collect::<Vec<_>>(), [2, 3]);
    assert!(m.set_held(3, true).unwrap());
    assert!(!m.set_held(99, true).unwrap());
    drop(m);
    let m = Mailbox::open(&root).unwrap();
    assert_eq!(m.visible().map(|l| l.uid).collect::<Vec<_>>(), [2]);
    assert_eq!(m.all().len(), 2);
    // The held mark is on disk in the index: in version 2, the snapshot plus its
    // journal (the mark stays in the journal until the next checkpoint).
    let mut on_disk =
        FolderIndex::parse(&fs::read_to_string(root.join(INDEX_FILE)).unwrap()).unwrap();
    replay(&mut on_disk, &fs::read(root.join(JOURNAL_FILE)).unwrap());
    let m3 = &on_disk.messages[&3];
    assert!(m3.held && m3.size == 3 && m3.base == "3000.c");
}

#[test]
fn store_opens_mailboxes_by_account_name_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&DataDir::new(tmp.path())).unwrap();
    assert!(store.open_mailbox("Alice").is_ok());
    assert!(tmp.path().join("mail/alice/cur").is_dir());
    assert!(matches!(
        store.open_mailbox("../x"),
        Err(MailboxError::Io(_))
    ));
}
