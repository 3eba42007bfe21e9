//! ESEARCH (RFC 4731), CONTEXT=SEARCH (RFC 5267), QRESYNC (RFC 7162 §3.2) and NOTIFY
//! (RFC 5465) against the fake store of `imap_support`: INBOX holds UIDs 4, 5, 6
//! (MODSEQ 2, 3, 4; the first `\Seen`), Sent is empty.

mod imap_support;

use imap_support::*;
use mailroom_core::mailbox::{Flag, Flags, MessageMeta, Record};
use mailroom_core::{Input, Machine, Output};
use std::time::Duration;

/// Another session appends message `uid` to Sent.
fn add_to_sent(c: &mut Client, uid: u32) {
    let sent = c.store.folders.get_mut("Sent").unwrap();
    let r = Record::Added(MessageMeta {
        uid,
        modseq: sent.index.next_modseq(),
        size: 3,
        internal_date: 0,
        flags: Flags::NONE,
        keywords: vec![],
        held: false,
        base: format!("s{uid}"),
    });
    sent.index.apply(&r).unwrap();
    sent.index.next_uid = uid + 1;
}

#[test]
fn search_return_options() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a SEARCH RETURN () ALL"),
        "* ESEARCH (TAG \"a\") ALL 1:3\r\na OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("b UID SEARCH RETURN (MIN MAX COUNT) UNSEEN"),
        "* ESEARCH (TAG \"b\") UID MIN 5 MAX 6 COUNT 2\r\nb OK UID SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("c SEARCH RETURN (MIN MAX) DELETED"),
        "* ESEARCH (TAG \"c\")\r\nc OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("d search return (count) deleted"),
        "* ESEARCH (TAG \"d\") COUNT 0\r\nd OK SEARCH completed\r\n"
    );
    // Text keys still go message by message; the criteria after RETURN are intact.
    assert_eq!(
        c.send(b"e SEARCH RETURN (ALL) SUBJECT {3}\r\ntwo\r\n"),
        "+ OK\r\n* ESEARCH (TAG \"e\") ALL 2\r\ne OK SEARCH completed\r\n"
    );
    // MODSEQ: the highest of the messages returned (RFC 7162 §3.1.5).
    assert_eq!(
        c.cmd("f SEARCH RETURN (MIN) MODSEQ \"/flags/\\\\seen\" all 1"),
        "* OK [HIGHESTMODSEQ 4] Highest\r\n\
         * ESEARCH (TAG \"f\") MIN 1 MODSEQ 2\r\nf OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("g SEARCH RETURN (ALL) MODSEQ 3"),
        "* ESEARCH (TAG \"g\") ALL 2:3 MODSEQ 4\r\ng OK SEARCH completed\r\n"
    );
    // PARTIAL (RFC 5267 §4.4): positions in the result, either order.
    assert_eq!(
        c.cmd("h SEARCH RETURN (PARTIAL 3:2) ALL"),
        "* ESEARCH (TAG \"h\") PARTIAL (2:3 2:3)\r\nh OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("i UID SEARCH RETURN (PARTIAL 4:9) ALL"),
        "* ESEARCH (TAG \"i\") UID PARTIAL (4:9 NIL)\r\ni OK UID SEARCH completed\r\n"
    );
    for bad in ["PARTIAL 1", "PARTIAL 1:*", "PARTIAL 0:2", "SAVE", "BOGUS"] {
        let r = c.cmd(&format!("j SEARCH RETURN ({bad}) ALL"));
        assert!(r.starts_with("j BAD "), "{bad}: {r}");
    }
}

#[test]
fn update_contexts_follow_the_folder() {
    let mut c = Client::plain();
    c.select();
    // Subjects with a "t": two (seq 2) and three (seq 3); none is \Seen yet.
    assert_eq!(
        c.cmd("u SEARCH RETURN (UPDATE) SUBJECT t SEEN"),
        "* ESEARCH (TAG \"u\")\r\nu OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("v UID SEARCH RETURN (UPDATE ALL) UNSEEN"),
        "* ESEARCH (TAG \"v\") UID ALL 5:6\r\nv OK UID SEARCH completed\r\n"
    );
    // The session's own STORE.
    assert_eq!(
        c.cmd("a STORE 2 +FLAGS.SILENT (\\Seen)"),
        "* ESEARCH (TAG \"v\") UID REMOVEFROM (0 5)\r\n\
         * ESEARCH (TAG \"u\") ADDTO (0 2)\r\na OK STORE completed\r\n"
    );
    // New mail: its text is fetched once, at the sync point, before it is reported.
    c.store.deliver(b"Subject: ten\r\n\r\nten\r\n");
    let asked_before = c.store.log.iter().filter(|l| l.contains("Message")).count();
    assert_eq!(
        c.cmd("b NOOP"),
        "* 4 EXISTS\r\n* 2 RECENT\r\n* ESEARCH (TAG \"v\") UID ADDTO (0 7)\r\nb OK NOOP completed\r\n"
    );
    assert_eq!(
        c.store.log.iter().filter(|l| l.contains("Message")).count(),
        asked_before + 1
    );
    c.store.other(|ix| Record::Flags {
        uid: 7,
        modseq: ix.next_modseq(),
        flags: Flags::NONE.with(Flag::Seen),
        keywords: vec![],
    });
    let r = c.cmd("c NOOP");
    assert!(r.contains("* ESEARCH (TAG \"u\") ADDTO (0 4)\r\n"), "{r}");
    assert!(
        r.contains("* ESEARCH (TAG \"v\") UID REMOVEFROM (0 7)\r\n"),
        "{r}"
    );
    // Another session's expunge: REMOVEFROM first, numbered as the client still has it.
    c.store.other(|ix| Record::Expunged {
        uid: 5,
        modseq: ix.next_modseq(),
    });
    assert_eq!(
        c.cmd("d NOOP"),
        "* ESEARCH (TAG \"u\") REMOVEFROM (0 2)\r\n* 2 EXPUNGE\r\nd OK NOOP completed\r\n"
    );
    // A FETCH of a body sets \Seen: the context hears of it with the FETCH.
    let r = c.cmd("d2 UID FETCH 6 (BODY[TEXT])");
    assert!(
        r.ends_with(
            "* 2 FETCH (UID 6 FLAGS (\\Seen \\Recent))\r\n\
             * ESEARCH (TAG \"u\") ADDTO (0 2)\r\n\
             * ESEARCH (TAG \"v\") UID REMOVEFROM (0 6)\r\nd2 OK UID FETCH completed\r\n"
        ),
        "{r}"
    );
    assert_eq!(
        c.cmd("e CANCELUPDATE \"u\" \"v\""),
        "e OK CANCELUPDATE completed\r\n"
    );
    assert_eq!(
        c.cmd("f STORE 1:3 -FLAGS.SILENT (\\Seen)"),
        "f OK STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("g CANCELUPDATE u"),
        "g BAD Invalid CANCELUPDATE arguments\r\n"
    );
    // Contexts go with the folder.
    c.cmd("h SEARCH RETURN (UPDATE) SEEN");
    c.cmd("i UNSELECT");
    c.cmd("j SELECT INBOX");
    assert_eq!(
        c.cmd("k STORE 1 +FLAGS.SILENT (\\Seen)"),
        "k OK STORE completed\r\n"
    );
}

#[test]
fn qresync_select_fetch_and_vanished() {
    let mut c = Client::plain();
    c.login();
    assert_eq!(
        c.cmd("a SELECT INBOX (QRESYNC (3857529045 2))"),
        "a BAD QRESYNC is not enabled\r\n"
    );
    assert_eq!(
        c.cmd("b ENABLE QRESYNC"),
        "* ENABLED QRESYNC\r\nb OK ENABLE completed\r\n"
    );
    let r = c.cmd("c SELECT INBOX (QRESYNC (3857529045 3 1:10))");
    // UIDs 1..3 were never here or are gone; UID 6 changed after MODSEQ 3.
    assert!(
        r.contains("* VANISHED (EARLIER) 1:3\r\n* 3 FETCH (UID 6 FLAGS (\\Recent) MODSEQ (4))\r\n"),
        "{r}"
    );
    assert!(r.ends_with("c OK [READ-WRITE] SELECT completed\r\n"), "{r}");
    // A stale UIDVALIDITY: no resync data.
    let r = c.cmd("d EXAMINE INBOX (QRESYNC (1 2))");
    assert!(
        r.starts_with("* OK [CLOSED] Previous mailbox closed\r\n"),
        "{r}"
    );
    assert!(!r.contains("VANISHED") && !r.contains("FETCH"), "{r}");
    c.cmd("e SELECT INBOX");
    c.store.other(|ix| Record::Expunged {
        uid: 5,
        modseq: ix.next_modseq(),
    });
    // Deferred during FETCH as EXPUNGE is (RFC 2180), then VANISHED, not EXPUNGE.
    assert_eq!(
        c.cmd("f FETCH 1 UID"),
        "* 1 FETCH (UID 4)\r\nf OK FETCH completed\r\n"
    );
    assert_eq!(c.cmd("g NOOP"), "* VANISHED 5\r\ng OK NOOP completed\r\n");
    assert_eq!(
        c.cmd("h UID FETCH 1:* (FLAGS) (CHANGEDSINCE 4 VANISHED)"),
        "* VANISHED (EARLIER) 1:3,5\r\nh OK UID FETCH completed\r\n"
    );
    assert!(c
        .cmd("i FETCH 1:* (FLAGS) (CHANGEDSINCE 3 VANISHED)")
        .starts_with("i BAD "));
    assert!(c
        .cmd("j UID FETCH 1:* (FLAGS) (VANISHED)")
        .starts_with("j BAD "));
}

#[test]
fn condstore_turned_on_by_a_command_reports_highestmodseq() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a FETCH 1 (MODSEQ)"),
        "* OK [HIGHESTMODSEQ 4] Highest\r\n* 1 FETCH (MODSEQ (2))\r\na OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("b FETCH 1 (MODSEQ)"),
        "* 1 FETCH (MODSEQ (2))\r\nb OK FETCH completed\r\n"
    );
}

#[test]
fn notify_status_of_other_mailboxes() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a NOTIFY SET STATUS (mailboxes Sent (MessageNew MessageExpunge))"),
        "* STATUS \"Sent\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 77)\r\na OK NOTIFY completed\r\n"
    );
    assert_eq!(c.cmd("b NOOP"), "b OK NOOP completed\r\n");
    add_to_sent(&mut c, 1);
    assert_eq!(
        c.cmd("c NOOP"),
        "* STATUS \"Sent\" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 77)\r\nc OK NOOP completed\r\n"
    );
    // During IDLE the watched mailboxes are looked at every few seconds (the driver
    // ticks at the deadline the session gives); then a sync point re-arms IDLE.
    assert_eq!(c.cmd("i IDLE"), "+ idling\r\n");
    let due = match c.server.poll_output(&mut Vec::new()) {
        Output::Wait(Some(d)) => d,
        o => panic!("{o:?}"),
    };
    assert!(due < c.now + Duration::from_secs(60));
    c.server.handle_input(due, Input::Tick);
    assert_eq!(c.drain(), "");
    add_to_sent(&mut c, 2);
    let due = match c.server.poll_output(&mut Vec::new()) {
        Output::Wait(Some(d)) => d,
        o => panic!("{o:?}"),
    };
    c.now = due;
    c.server.handle_input(due, Input::Tick);
    assert_eq!(
        c.drain(),
        "* STATUS \"Sent\" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 77)\r\n"
    );
    assert!(c.store.log.iter().filter(|l| *l == "Idle").count() >= 2);
    assert_eq!(c.cmd("DONE"), "i OK IDLE terminated\r\n");
    // Without STATUS: nothing at once.
    assert_eq!(
        c.cmd("d NOTIFY SET (selected (MessageNew MessageExpunge)) (mailboxes (Sent nowhere) (FlagChange))"),
        "d OK NOTIFY completed\r\n"
    );
    assert_eq!(c.cmd("e NOTIFY NONE"), "e OK NOTIFY completed\r\n");
    assert_eq!(c.cmd("f NOOP"), "f OK NOOP completed\r\n");
    assert!(c
        .cmd("g NOTIFY SET (mailboxes Sent (Bogus))")
        .starts_with("g BAD "));
}
