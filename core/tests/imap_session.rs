//! IMAP session behaviour against a fake store, one test per command family, with the
//! exact bytes the client sees (RFC 3501's examples where they apply).

mod imap_support;

use imap_support::*;
use mailroom_core::config::PlaintextAuth;
use mailroom_core::imap::ImapCommand;
use mailroom_core::mailbox::{Flag, Flags, Record};
use mailroom_core::{Input, Machine, Output};

const PRE_AUTH_CAPS: &str = "IMAP4rev1 LITERAL+ SASL-IR ID STARTTLS AUTH=PLAIN";
const CAPS: &str = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE \
                    SPECIAL-USE CONDSTORE ACL RIGHTS=texk SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT \
                    THREAD=REFERENCES QRESYNC ESEARCH CONTEXT=SEARCH ESORT CONTEXT=SORT NOTIFY \
                    BINARY MULTIAPPEND CATENATE LIST-EXTENDED URLAUTH URLAUTH=BINARY";

#[test]
fn greeting_capability_noop_logout() {
    let mut c = Client::plain();
    assert_eq!(
        c.greeting,
        format!("* OK [CAPABILITY {PRE_AUTH_CAPS}] Mailroom IMAP4rev1 ready\r\n")
    );
    assert_eq!(
        c.cmd("abcd CAPABILITY"),
        format!("* CAPABILITY {PRE_AUTH_CAPS}\r\nabcd OK CAPABILITY completed\r\n")
    );
    assert_eq!(c.cmd("a002 NOOP"), "a002 OK NOOP completed\r\n");
    assert_eq!(
        c.cmd("A023 LOGOUT"),
        "* BYE Logging out\r\nA023 OK LOGOUT completed\r\n"
    );
    assert!(c.closed);
}

#[test]
fn login_and_authenticate_plain() {
    let mut c = Client::plain();
    assert_eq!(
        c.cmd("a001 LOGIN alice wrong"),
        "a001 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    );
    assert_eq!(
        c.cmd("a002 LOGIN alice secret"),
        format!("a002 OK [CAPABILITY {CAPS}] Logged in\r\n")
    );
    assert_eq!(
        c.cmd("a003 LOGIN alice secret"),
        "a003 BAD LOGIN not allowed now\r\n"
    );
    assert_eq!(
        c.cmd("a004 CAPABILITY"),
        format!("* CAPABILITY {CAPS}\r\na004 OK CAPABILITY completed\r\n")
    );

    // AUTHENTICATE PLAIN with a continuation, then with SASL-IR; `\0alice\0secret`.
    let mut c = Client::plain();
    assert_eq!(c.cmd("b1 AUTHENTICATE PLAIN"), "+ \r\n");
    assert!(c
        .cmd("AGFsaWNlAHNlY3JldA==")
        .starts_with("b1 OK [CAPABILITY"));
    let mut c = Client::plain();
    assert!(c
        .cmd("b2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==")
        .starts_with("b2 OK [CAPABILITY"));
    let mut c = Client::plain();
    assert_eq!(c.cmd("b3 AUTHENTICATE PLAIN"), "+ \r\n");
    assert_eq!(c.cmd("*"), "b3 BAD Authentication cancelled\r\n");
    // `bob\0alice\0secret`: alice's password to act as bob.
    assert_eq!(
        c.cmd("b5 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA=="),
        "b5 NO [AUTHORIZATIONFAILED] Authorization identity refused\r\n"
    );
    assert_eq!(
        c.cmd("b4 AUTHENTICATE CRAM-MD5"),
        "b4 NO [CANNOT] Unsupported authentication mechanism\r\n"
    );
    // Passwords never reach the log.
    assert!(c.store.log.iter().all(|l| !l.contains("secret")));
}

#[test]
fn plaintext_policy_and_starttls() {
    let mut c = Client::new(
        snapshot("[imap]\nplaintext_auth = \"never\"\n"),
        info("8.8.8.8", true),
    );
    assert_eq!(
        c.greeting,
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID STARTTLS LOGINDISABLED] Mailroom \
         IMAP4rev1 ready\r\n"
    );
    assert_eq!(
        c.cmd("a LOGIN alice secret"),
        "a NO [PRIVACYREQUIRED] LOGIN is disabled without TLS\r\n"
    );
    // STARTTLS: the rest of the read is dropped (possible injection).
    assert_eq!(
        c.send(b"b STARTTLS\r\nc LOGIN alice secret\r\n"),
        "b OK Begin TLS negotiation now\r\n"
    );
    assert_eq!(c.start_tls, 1);
    assert_eq!(
        c.cmd("d CAPABILITY"),
        "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID AUTH=PLAIN\r\nd OK CAPABILITY completed\r\n"
    );
    assert!(c.cmd("e LOGIN alice secret").starts_with("e OK"));
    assert_eq!(PlaintextAuth::Lan, PlaintextAuth::Lan);
}

#[test]
fn list_status_and_folder_operations() {
    let mut c = Client::plain();
    c.login();
    assert_eq!(
        c.cmd("a LIST \"\" \"\""),
        "* LIST (\\Noselect) \"/\" \"\"\r\na OK LIST completed\r\n"
    );
    assert_eq!(
        c.cmd("b LIST \"\" *"),
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
         * LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\nb OK LIST completed\r\n"
    );
    // RFC 6154's LIST-EXTENDED forms.
    assert_eq!(
        c.cmd("b1 LIST (SPECIAL-USE) \"\" *"),
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\nb1 OK LIST completed\r\n"
    );
    assert_eq!(
        c.cmd("b2 LIST \"\" % RETURN (SPECIAL-USE)"),
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
         * LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\nb2 OK LIST completed\r\n"
    );
    // RFC 5258: REMOTE changes nothing here; without RETURN (CHILDREN) no child
    // attributes.
    assert_eq!(
        c.cmd("b3 LIST (REMOTE) \"\" *"),
        "* LIST () \"/\" INBOX\r\n* LIST (\\Sent) \"/\" \"Sent\"\r\nb3 OK LIST completed\r\n"
    );
    assert_eq!(
        c.cmd("c STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"),
        "* STATUS INBOX (MESSAGES 3 UIDNEXT 7 UNSEEN 2)\r\nc OK STATUS completed\r\n"
    );
    assert_eq!(
        c.cmd("d STATUS nowhere (MESSAGES)"),
        "d NO [NONEXISTENT] No such mailbox\r\n"
    );
    // Modified UTF-7 in, decoded name to the store, encoded name out.
    assert_eq!(c.cmd("e CREATE Entw&APw-rfe"), "e OK CREATE completed\r\n");
    assert!(c.store.folders.contains_key("Entwürfe"));
    assert_eq!(
        c.cmd("f CREATE Entw&APw-rfe"),
        "f NO [ALREADYEXISTS] Mailbox already exists\r\n"
    );
    assert!(c
        .cmd("g LIST \"\" Entw&APw-rfe")
        .starts_with("* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\n"));
    assert_eq!(
        c.cmd("h RENAME Entw&APw-rfe Drafts"),
        "h OK RENAME completed\r\n"
    );
    assert_eq!(c.cmd("i SUBSCRIBE Drafts"), "i OK SUBSCRIBE completed\r\n");
    assert_eq!(c.cmd("j DELETE Drafts"), "j OK DELETE completed\r\n");
    assert_eq!(
        c.cmd("k DELETE INBOX"),
        "k NO [CANNOT] INBOX cannot be deleted\r\n"
    );
    assert_eq!(
        c.cmd("l CREATE &Jjo"),
        "l NO [CANNOT] Invalid mailbox name\r\n"
    );
    assert_eq!(
        c.cmd("m NAMESPACE"),
        "* NAMESPACE ((\"\" \"/\")) ((\"shared/\" \"/\")) NIL\r\nm OK NAMESPACE completed\r\n"
    );
    assert_eq!(
        c.cmd("n ENABLE CONDSTORE"),
        "* ENABLED CONDSTORE\r\nn OK ENABLE completed\r\n"
    );
}

#[test]
fn select_and_examine() {
    let mut c = Client::plain();
    assert_eq!(
        c.select(),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
         * 3 EXISTS\r\n\
         * 1 RECENT\r\n\
         * OK [UNSEEN 2] Message 2 is first unseen\r\n\
         * OK [UIDVALIDITY 3857529045] UIDs valid\r\n\
         * OK [UIDNEXT 7] Predicted next UID\r\n\
         * OK [HIGHESTMODSEQ 4] Highest\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n\
         s OK [READ-WRITE] SELECT completed\r\n"
    );
    // The store moved first_recent: a second SELECT sees no \Recent.
    let r = c.cmd("t EXAMINE INBOX");
    assert!(r.contains("* 0 RECENT\r\n"), "{r}");
    assert!(r.contains("* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"));
    assert!(r.ends_with("t OK [READ-ONLY] EXAMINE completed\r\n"));
    assert_eq!(
        c.cmd("u STORE 1 +FLAGS (\\Seen)"),
        "u NO [READ-ONLY] Mailbox is read-only\r\n"
    );
    assert_eq!(
        c.cmd("v SELECT nowhere"),
        "v NO [NONEXISTENT] No such mailbox\r\n"
    );
    // A failed SELECT leaves the session unselected (RFC 3501 §6.3.1).
    assert_eq!(c.cmd("w FETCH 1 FLAGS"), "w BAD FETCH not allowed now\r\n");
    assert!(c.store.log.iter().any(|l| l == "Deselect"));
}

#[test]
fn fetch_items_and_bodies() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)"),
        "* 1 FETCH (FLAGS (\\Seen) UID 4 RFC822.SIZE 49 INTERNALDATE \"17-Jul-1996 02:44:25 +0000\")\r\n\
         * 2 FETCH (FLAGS () UID 5 RFC822.SIZE 64 INTERNALDATE \"18-Jul-1996 02:44:25 +0000\")\r\n\
         * 3 FETCH (FLAGS (\\Recent) UID 6 RFC822.SIZE 25 INTERNALDATE \"19-Jul-1996 02:44:25 +0000\")\r\n\
         a OK FETCH completed\r\n"
    );
    // UID FETCH always answers UID; PEEK leaves \Seen alone; partial <origin.len>.
    assert_eq!(
        c.cmd("b UID FETCH 5 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<1.3>)"),
        "* 2 FETCH (UID 5 BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: two\r\n\r\n \
         BODY[TEXT]<1> {3}\r\necoub OK UID FETCH completed\r\n"
            .replace("ecoub", "eco)\r\nb")
    );
    // BODY[] sets \Seen, reported after the data.
    assert_eq!(
        c.cmd("c FETCH 3 BODY[]"),
        "* 3 FETCH (BODY[] {25}\r\nSubject: three\r\n\r\nthird\r\n)\r\n\
         * 3 FETCH (UID 6 FLAGS (\\Seen \\Recent))\r\nc OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("d FETCH 1 (RFC822.HEADER FAST)"),
        "d BAD Error in IMAP command\r\n"
    );
    assert_eq!(
        c.cmd("e FETCH 1 FAST"),
        "* 1 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 +0000\" RFC822.SIZE 49)\r\n\
         e OK FETCH completed\r\n"
    );
    assert_eq!(c.cmd("f FETCH 4 FLAGS"), "f BAD Invalid message set\r\n");
    assert_eq!(
        c.cmd("g UID FETCH 100:200 FLAGS"),
        "g OK UID FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("h FETCH 1 BODYSTRUCTURE"),
        "* 1 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \
         \"7bit\" 12 1 NIL NIL NIL NIL))\r\nh OK FETCH completed\r\n"
    );
    // A single-part message: part 1 is its body; part 2 does not exist.
    assert_eq!(
        c.cmd("h1 FETCH 1 (BODY.PEEK[1] BODY.PEEK[2])"),
        "* 1 FETCH (BODY[1] {12}\r\nfirst body\r\n BODY[2] NIL)\r\nh1 OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("h2 FETCH 2 ENVELOPE"),
        "* 2 FETCH (ENVELOPE (NIL \"two\" ((NIL NIL \"b\" \"example.com\")) \
         ((NIL NIL \"b\" \"example.com\")) ((NIL NIL \"b\" \"example.com\")) \
         ((NIL NIL \"c\" \"example.com\")) NIL NIL NIL NIL))\r\nh2 OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("i FETCH 1 RFC822.HEADER"),
        "* 1 FETCH (RFC822.HEADER {37}\r\nFrom: a@example.com\r\nSubject: one\r\n\r\n)\r\n\
         i OK FETCH completed\r\n"
    );
    // One message's bytes asked for at a time.
    let asked = c
        .store
        .log
        .iter()
        .filter(|l| l.starts_with("Message"))
        .count();
    assert_eq!(asked, 6);
}

#[test]
fn store_flags_silent_and_unchangedsince() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a STORE 2:3 +FLAGS (\\Deleted)"),
        "* 2 FETCH (FLAGS (\\Deleted))\r\n\
         * 3 FETCH (FLAGS (\\Deleted \\Recent))\r\n\
         a OK STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("b STORE 2 -FLAGS.SILENT (\\Deleted)"),
        "b OK STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("c UID STORE 4 FLAGS (\\Flagged \\Answered)"),
        "* 1 FETCH (UID 4 FLAGS (\\Answered \\Flagged))\r\nc OK UID STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("d STORE 1 +FLAGS (\\Recent)"),
        "d BAD Invalid flags\r\n"
    );
    // CONDSTORE: MODSEQs 2..=4 at the start, 5 and 6 (a), 7 (b), 8 (c): message 1
    // changed after 6, message 3 did not.
    assert_eq!(
        c.cmd("e STORE 1,3 (UNCHANGEDSINCE 6) +FLAGS (\\Seen)"),
        // The first command to use CONDSTORE tells HIGHESTMODSEQ (RFC 7162 §3.1.2.1).
        "* OK [HIGHESTMODSEQ 8] Highest\r\n\
         * 3 FETCH (FLAGS (\\Deleted \\Seen \\Recent) MODSEQ (9))\r\n\
         e OK [MODIFIED 1] Conditional STORE failed\r\n"
    );
    assert_eq!(
        c.cmd("f FETCH 1 (MODSEQ)"),
        "* 1 FETCH (MODSEQ (8))\r\nf OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("g FETCH 1:* (FLAGS) (CHANGEDSINCE 8)"),
        "* 3 FETCH (FLAGS (\\Deleted \\Seen \\Recent) MODSEQ (9))\r\ng OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("h UID STORE 4 (UNCHANGEDSINCE 1) -FLAGS (\\Flagged)"),
        "h OK [MODIFIED 4] Conditional UID STORE failed\r\n"
    );
    // Keywords: a new one is announced with FLAGS and PERMANENTFLAGS first.
    assert_eq!(
        c.cmd("i STORE 1 +FLAGS ($Junk $label1)"),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk $label1)\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk $label1 \\*)] Flags \
         permitted\r\n\
         * 1 FETCH (FLAGS (\\Answered \\Flagged $Junk $label1) MODSEQ (10))\r\ni OK STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("j STORE 1 -FLAGS ($junk)"),
        "* 1 FETCH (FLAGS (\\Answered \\Flagged $label1) MODSEQ (11))\r\nj OK STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("k SEARCH KEYWORD $LABEL1 UNKEYWORD $Junk"),
        "* SEARCH 1\r\nk OK SEARCH completed\r\n"
    );
}

#[test]
fn search_subset() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a SEARCH ALL"),
        "* SEARCH 1 2 3\r\na OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("b SEARCH UNSEEN"),
        "* SEARCH 2 3\r\nb OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("c UID SEARCH SEEN"),
        "* SEARCH 4\r\nc OK UID SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("d SEARCH OR RECENT SEEN"),
        "* SEARCH 1 3\r\nd OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("e SEARCH NOT LARGER 30"),
        "* SEARCH 3\r\ne OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("f SEARCH SINCE 18-Jul-1996 BEFORE 19-Jul-1996"),
        "* SEARCH 2\r\nf OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("g SEARCH 2:3 UID 4:5"),
        "* SEARCH 2\r\ng OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("h SEARCH MODSEQ 3"),
        "* OK [HIGHESTMODSEQ 4] Highest\r\n* SEARCH 2 3 (MODSEQ 4)\r\nh OK SEARCH completed\r\n"
    );
    // Text keys: one message's bytes at a time.
    let asked = |c: &Client| {
        c.store
            .log
            .iter()
            .filter(|l| l.starts_with("Message"))
            .count()
    };
    assert_eq!(asked(&c), 0);
    assert_eq!(
        c.cmd("i SEARCH SUBJECT two"),
        "* SEARCH 2\r\ni OK SEARCH completed\r\n"
    );
    assert_eq!(asked(&c), 3);
    assert_eq!(
        c.cmd("i2 SEARCH FROM example.com NOT BODY first"),
        "* SEARCH 2\r\ni2 OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("i3 UID SEARCH TEXT THIRD"),
        "* SEARCH 6\r\ni3 OK UID SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("i4 SEARCH HEADER To c@ OR SEEN UNSEEN"),
        "* SEARCH 2\r\ni4 OK SEARCH completed\r\n"
    );
    // No Date field: no SENT* key matches.
    assert_eq!(
        c.cmd("i5 SEARCH SENTBEFORE 1-Jan-2030"),
        "* SEARCH\r\ni5 OK SEARCH completed\r\n"
    );
    // A flag's entry is matched by the message's MODSEQ (RFC 7162 §3.1.5).
    assert_eq!(
        c.cmd("i6 SEARCH MODSEQ \"/flags/\\\\draft\" all 4"),
        "* SEARCH 3 (MODSEQ 4)\r\ni6 OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.cmd("j SEARCH CHARSET KOI8-R ALL"),
        "j NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n"
    );
    assert_eq!(
        c.cmd("k SEARCH DELETED"),
        "* SEARCH\r\nk OK SEARCH completed\r\n"
    );
}

/// RFC 2180 §4.1: another session's expunge is not reported during FETCH, STORE or
/// SEARCH (sequence numbers stay), and is reported at the next NOOP.
#[test]
fn sync_points_defer_expunges() {
    let mut c = Client::plain();
    c.select();
    c.store.other(|ix| Record::Expunged {
        uid: 5,
        modseq: ix.next_modseq(),
    });
    c.store.other(|ix| Record::Flags {
        uid: 6,
        modseq: ix.next_modseq(),
        flags: Flags::NONE.with(Flag::Flagged),
        keywords: vec![],
    });
    c.store.deliver(b"Subject: four\r\n\r\n4\r\n");
    assert_eq!(
        c.cmd("a FETCH 3 UID"),
        "* 4 EXISTS\r\n* 2 RECENT\r\n* 3 FETCH (UID 6 FLAGS (\\Flagged \\Recent))\r\n\
         * 3 FETCH (UID 6)\r\na OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("b SEARCH ALL"),
        "* SEARCH 1 3 4\r\nb OK SEARCH completed\r\n"
    );
    // The expunged message is still number 2 but has no data (RFC 2180 §4.1.2, §4.2.1,
    // §4.4.1).
    assert_eq!(
        c.cmd("b1 FETCH 1:2 UID"),
        "* 1 FETCH (UID 4)\r\n\
         b1 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n"
    );
    assert_eq!(
        c.cmd("b2 STORE 2 +FLAGS (\\Seen)"),
        "b2 OK STORE completed\r\n"
    );
    assert_eq!(
        c.cmd("b3 MOVE 2 Sent"),
        "b3 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n"
    );
    assert_eq!(c.cmd("c NOOP"), "* 2 EXPUNGE\r\nc OK NOOP completed\r\n");
    assert_eq!(
        c.cmd("d SEARCH ALL"),
        "* SEARCH 1 2 3\r\nd OK SEARCH completed\r\n"
    );
}

#[test]
fn expunge_close_unselect() {
    let mut c = Client::plain();
    c.select();
    c.cmd("a STORE 1:2 +FLAGS.SILENT (\\Deleted)");
    // RFC 3501 §6.4.3's example shape: each EXPUNGE numbered as the client sees it.
    assert_eq!(
        c.cmd("b EXPUNGE"),
        "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nb OK EXPUNGE completed\r\n"
    );
    assert_eq!(
        c.cmd("c SEARCH ALL"),
        "* SEARCH 1\r\nc OK SEARCH completed\r\n"
    );
    c.cmd("d STORE 1 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(c.cmd("e UID EXPUNGE 1:5"), "e OK UID EXPUNGE completed\r\n");
    assert_eq!(
        c.cmd("f UID EXPUNGE 6"),
        "* 1 EXPUNGE\r\nf OK UID EXPUNGE completed\r\n"
    );
    // CLOSE expunges silently and leaves the selected state.
    c.store.deliver(b"Subject: x\r\n\r\nx\r\n");
    c.cmd("g NOOP");
    c.cmd("h STORE 1 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(c.cmd("i CLOSE"), "i OK CLOSE completed\r\n");
    assert!(c.store.folders["INBOX"].index.messages.is_empty());
    assert_eq!(c.cmd("j EXPUNGE"), "j BAD EXPUNGE not allowed now\r\n");
    c.cmd("k SELECT INBOX");
    assert_eq!(c.cmd("l UNSELECT"), "l OK UNSELECT completed\r\n");
    assert_eq!(c.cmd("m CHECK"), "m BAD CHECK not allowed now\r\n");
}

#[test]
fn copy_move_append() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(
        c.cmd("a COPY 1:2 Sent"),
        "a OK [COPYUID 77 4,5 1,2] COPY completed\r\n"
    );
    assert_eq!(
        c.cmd("b UID MOVE 6 Sent"),
        "* OK [COPYUID 77 6 3] Moved\r\n* 3 EXPUNGE\r\nb OK MOVE completed\r\n"
    );
    assert_eq!(
        c.cmd("c COPY 1 nowhere"),
        "c NO [TRYCREATE] No such mailbox\r\n"
    );
    // APPEND with a synchronizing literal: `+ OK` only once the size is accepted.
    assert_eq!(c.send(b"d APPEND INBOX (\\Seen) {14}\r\n"), "+ OK\r\n");
    // Appended to the selected folder: reported before the tagged OK (RFC 3501
    // §6.3.11), recent in this session.
    assert_eq!(
        c.send(b"Subject: a\r\n\r\n\r\n"),
        "* 3 EXISTS\r\n* 1 RECENT\r\nd OK [APPENDUID 3857529045 7] APPEND completed\r\n"
    );
    // LITERAL+: no continuation.
    assert_eq!(
        c.send(b"e APPEND Sent {3+}\r\nabc\r\n"),
        "e OK [APPENDUID 77 4] APPEND completed\r\n"
    );
    assert_eq!(c.cmd("f NOOP"), "f OK NOOP completed\r\n");
}

#[test]
fn idle_reports_changes_until_done() {
    let mut c = Client::plain();
    c.select();
    assert_eq!(c.cmd("a IDLE"), "+ idling\r\n");
    assert!(c.store.idle);
    c.store.deliver(b"Subject: new\r\n\r\nn\r\n");
    // Arrivals after SELECT are \\Recent in this session (docs/IMAP.md).
    assert_eq!(c.wake(), "* 4 EXISTS\r\n* 2 RECENT\r\n");
    assert!(c.store.idle, "the session asks again");
    c.store.other(|ix| Record::Expunged {
        uid: 4,
        modseq: ix.next_modseq(),
    });
    assert_eq!(c.wake(), "* 1 EXPUNGE\r\n");
    assert_eq!(c.cmd("DONE"), "a OK IDLE terminated\r\n");
    // A late Wake after DONE is ignored.
    c.server.handle_command(c.now, ImapCommand::Wake);
    assert_eq!(c.drain(), "");
    assert_eq!(c.cmd("b NOOP"), "b OK NOOP completed\r\n");
}

#[test]
fn literals_are_bounded_and_refused_before_they_arrive() {
    let mut c = Client::new(
        snapshot("[imap]\nmax_literal = 2048\nmax_command_line = 1000\n"),
        info("192.168.1.20", false),
    );
    c.login();
    assert_eq!(
        c.send(b"a APPEND INBOX {4294967295}\r\n"),
        "a NO [TOOBIG] Literal too large\r\n"
    );
    // The session goes on: the client never sent the literal.
    assert_eq!(c.cmd("b NOOP"), "b OK NOOP completed\r\n");
    assert_eq!(
        c.send(b"c APPEND INBOX {2049+}\r\n"),
        "c BAD [TOOBIG] Literal too large\r\n* BYE Literal too large, closing connection\r\n"
    );
    assert!(c.closed);

    // Literals that each pass but together overflow one command's bound
    // (max_literal + 4 lines): refused when the command ends, and the session goes on.
    let mut c = Client::new(
        snapshot("[imap]\nmax_literal = 2048\nmax_command_line = 1000\n"),
        info("192.168.1.20", false),
    );
    c.login();
    let mut big = b"m NOOP".to_vec();
    for _ in 0..4 {
        big.extend_from_slice(b" {2000+}\r\n");
        big.extend_from_slice(&[b'x'; 2000]);
    }
    big.extend_from_slice(b"\r\n");
    assert_eq!(c.send(&big), "m BAD [TOOBIG] Command too long\r\n");
    assert_eq!(c.cmd("n NOOP"), "n OK NOOP completed\r\n");

    let mut c = Client::new(
        snapshot("[imap]\nmax_command_line = 1000\n"),
        info("192.168.1.20", false),
    );
    let long = format!("x NOOP {}", "a".repeat(2000));
    assert_eq!(
        c.send(long.as_bytes()),
        "x BAD [TOOBIG] Command line too long\r\n\
         * BYE Command line too long, closing connection\r\n"
    );
    assert!(c.closed);
}

#[test]
fn errors_timeout_and_eof() {
    let mut c = Client::new(
        snapshot("[imap]\nmax_errors = 2\n"),
        info("192.168.1.20", false),
    );
    assert_eq!(c.cmd("a FOO"), "a BAD Error in IMAP command\r\n");
    assert_eq!(
        c.cmd("b SELECT INBOX"),
        "b BAD SELECT not allowed now\r\n* BYE Too many invalid commands, closing connection\r\n"
    );
    assert!(c.closed);

    let mut c = Client::plain();
    c.login();
    let deadline = match c.server.poll_output(&mut Vec::new()) {
        Output::Wait(Some(d)) => d,
        o => panic!("{o:?}"),
    };
    assert_eq!(deadline, c.now + std::time::Duration::from_secs(1800));
    c.server.handle_input(deadline, Input::Tick);
    assert_eq!(c.drain(), "* BYE Autologout; idle for too long\r\n");
    assert!(c.closed);

    let mut c = Client::plain();
    c.server.handle_input(c.now, Input::Eof);
    assert_eq!(c.drain(), "");
    assert!(c.closed);
}

/// While the runtime has not answered, input is kept up to a bound, then the session
/// ends; once answered, what was kept is read in order.
#[test]
fn pipelined_input_is_bounded_while_an_event_is_outstanding() {
    use mailroom_core::auth::AuthOutcome;
    use mailroom_core::imap::{ImapEvent, ImapServer, MAX_PENDING_INPUT};
    let now = mailroom_core::Instant::from_secs(T0);
    let mut s = ImapServer::new(now, snapshot(""), info("192.168.1.20", false));
    let mut out = Vec::new();
    let poll = |s: &mut ImapServer, out: &mut Vec<u8>| {
        let mut events = Vec::new();
        loop {
            match s.poll_output(out) {
                Output::Event(e) => events.push(e),
                Output::Wait(_) => return (events, false),
                Output::Close => return (events, true),
                Output::StartTls => {}
            }
        }
    };
    poll(&mut s, &mut out);
    s.handle_input(now, Input::Bytes(b"a LOGIN alice secret\r\nb NOOP\r\n"));
    let (events, _) = poll(&mut s, &mut out);
    assert!(matches!(events[..], [ImapEvent::Authenticate { .. }]));
    s.handle_input(now, Input::Bytes(b"c NOOP\r\n"));
    out.clear();
    s.handle_command(
        now,
        ImapCommand::AuthResult(AuthOutcome::Ok("alice".into())),
    );
    poll(&mut s, &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.ends_with("b OK NOOP completed\r\nc OK NOOP completed\r\n"),
        "{text}"
    );

    s.handle_input(now, Input::Bytes(b"d STATUS INBOX (MESSAGES)\r\n"));
    let (events, _) = poll(&mut s, &mut out);
    assert!(matches!(events[..], [ImapEvent::Status { .. }]));
    out.clear();
    let flood = vec![b'x'; MAX_PENDING_INPUT + 1];
    s.handle_input(now, Input::Bytes(&flood));
    let (_, closed) = poll(&mut s, &mut out);
    assert!(closed);
    assert_eq!(
        out,
        b"* BYE Too much pipelined input, closing connection\r\n"
    );
}

/// CRAM-MD5 (RFC 2195) when challenge-response secrets are kept, and the manual's
/// "Require CRAM-MD5 authentication" (§11.8.2) refusing the plain-text methods.
#[test]
fn cram_md5_and_require_cram_md5() {
    let cfg = "[accounts]\nchallenge_response = true\n";
    let mut c = Client::new(snapshot(cfg), info("192.168.1.20", true));
    assert!(
        c.greeting.contains(" AUTH=PLAIN AUTH=CRAM-MD5]"),
        "{}",
        c.greeting
    );
    let challenge = c.cmd("a AUTHENTICATE CRAM-MD5");
    let encoded = challenge
        .strip_prefix("+ ")
        .and_then(|l| l.strip_suffix("\r\n"))
        .expect("a challenge");
    // "alice <digest>" in base64; the fake store has no secrets, so the method is
    // unavailable, but the event carries the challenge that was sent.
    assert_eq!(
        c.cmd("YWxpY2UgYjkxM2E2MDJjN2VkYTdhNDk1YjRlNmU3MzM0ZDM4OTA="),
        "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    );
    let event = c.store.log.last().expect("an event").clone();
    assert!(event.starts_with("AuthenticateCram"), "{event}");
    assert!(!event.contains("b913a602"), "no digest in logs: {event}");
    assert!(encoded.len() > 10);
    assert_eq!(
        c.cmd("b AUTHENTICATE CRAM-MD5 AAAA"),
        "b BAD CRAM-MD5 takes no initial response\r\n"
    );
    assert!(c.cmd("c AUTHENTICATE CRAM-MD5").starts_with("+ "));
    assert_eq!(c.cmd("*"), "c BAD Authentication cancelled\r\n");

    let cfg = "[accounts]\nchallenge_response = true\n[imap]\nrequire_cram_md5 = true\n";
    let mut c = Client::new(snapshot(cfg), info("192.168.1.20", true));
    assert!(
        c.greeting.contains(" LOGINDISABLED AUTH=CRAM-MD5]"),
        "{}",
        c.greeting
    );
    assert!(c
        .cmd("d LOGIN alice secret")
        .starts_with("d NO [PRIVACYREQUIRED]"));
    assert!(c
        .cmd("e AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==")
        .starts_with("e NO [PRIVACYREQUIRED]"));
}

/// MAILIMAPALLOWED.DAT (§11.9): an address not allowed gets `* BYE`, and a line naming
/// users admits only them.
#[test]
fn access_restrictions() {
    use mailroom_core::access::AccessList;
    let mut snap = (*snapshot("")).clone();
    let (list, _) = AccessList::parse("!10.0.0.0 255.0.0.0\n192.168.1.0 255.255.255.0 bob\n")
        .expect("access file");
    snap.access.imap = list;
    let snap = std::sync::Arc::new(snap);
    let c = Client::new(snap.clone(), info("10.1.2.3", true));
    assert_eq!(c.greeting, "* BYE Access denied\r\n");
    assert!(c.closed);
    let mut c = Client::new(snap, info("192.168.1.20", true));
    assert!(c.greeting.starts_with("* OK"));
    assert_eq!(
        c.cmd("a LOGIN alice secret"),
        "a NO [AUTHORIZATIONFAILED] Access denied for this user from this address\r\n\
         * BYE Access denied\r\n"
    );
    assert!(c.closed);
}

/// RFC 4314: the ACL commands, and a folder selected with fewer rights than all
/// (as another user's shared folder is) limits what the session lets the user do.
#[test]
fn acl_commands_and_rights() {
    use mailroom_core::mailbox::Rights;
    let mut c = Client::plain();
    c.login();
    let caps = c.cmd("a CAPABILITY");
    assert!(caps.contains(" ACL RIGHTS=texk"), "{caps}");
    assert_eq!(
        c.cmd("b NAMESPACE"),
        "* NAMESPACE ((\"\" \"/\")) ((\"shared/\" \"/\")) NIL\r\nb OK NAMESPACE completed\r\n"
    );
    assert_eq!(c.cmd("c SETACL Sent bob lrs"), "c OK SETACL completed\r\n");
    assert_eq!(
        c.cmd("d SETACL Sent anyone +l"),
        "d OK SETACL completed\r\n"
    );
    assert_eq!(
        c.cmd("e GETACL Sent"),
        "* ACL \"Sent\" \"alice\" lrswipkxtea \"bob\" lrs \"anyone\" l\r\n\
         e OK GETACL completed\r\n"
    );
    assert_eq!(
        c.cmd("f DELETEACL Sent anyone"),
        "f OK DELETEACL completed\r\n"
    );
    assert_eq!(
        c.cmd("g MYRIGHTS INBOX"),
        "* MYRIGHTS INBOX lrswipkxtea\r\ng OK MYRIGHTS completed\r\n"
    );
    assert_eq!(
        c.cmd("h LISTRIGHTS Sent bob"),
        "* LISTRIGHTS \"Sent\" \"bob\" \"\" l r s w i p k x t e a\r\nh OK LISTRIGHTS completed\r\n"
    );
    assert_eq!(c.cmd("i SETACL Sent bob +z"), "i BAD Unknown right\r\n");
    assert_eq!(
        c.cmd("j GETACL nowhere"),
        "j NO [NONEXISTENT] No such mailbox\r\n"
    );
    assert_eq!(c.cmd("k GETACL"), "k BAD Invalid arguments\r\n");

    // Read and see, no more: read-only, no flags kept, no expunge.
    c.store
        .rights
        .insert("INBOX".into(), Rights::parse("lr").expect("rights"));
    let r = c.cmd("l SELECT INBOX");
    assert!(
        r.contains("* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"),
        "{r}"
    );
    assert!(r.ends_with("l OK [READ-ONLY] SELECT completed\r\n"), "{r}");
    // A body FETCH sets no \Seen without `s`.
    let r = c.cmd("m FETCH 2 BODY[TEXT]");
    assert!(!r.contains("\\Seen"), "{r}");

    // `s` and `t` but not `w` or `e`: \Seen and \Deleted are kept, \Flagged is
    // dropped silently, EXPUNGE is refused and CLOSE expunges nothing.
    c.store
        .rights
        .insert("INBOX".into(), Rights::parse("lrst").expect("rights"));
    let r = c.cmd("n SELECT INBOX");
    assert!(
        r.contains("* OK [PERMANENTFLAGS (\\Deleted \\Seen)] Flags permitted\r\n"),
        "{r}"
    );
    assert!(r.ends_with("n OK [READ-WRITE] SELECT completed\r\n"), "{r}");
    assert_eq!(
        c.cmd("o STORE 2 +FLAGS (\\Seen \\Flagged \\Deleted)"),
        "* 2 FETCH (FLAGS (\\Deleted \\Seen))\r\no OK STORE completed\r\n"
    );
    assert_eq!(c.cmd("p EXPUNGE"), "p NO [NOPERM] Permission denied\r\n");
    assert_eq!(
        c.cmd("q MOVE 2 Sent"),
        "q NO [NOPERM] Permission denied\r\n"
    );
    assert_eq!(c.cmd("r CLOSE"), "r OK CLOSE completed\r\n");
    assert_eq!(c.store.folders["INBOX"].index.messages.len(), 3);
}

#[test]
fn multiappend_and_catenate() {
    let mut c = Client::plain();
    c.login();
    // RFC 3502 §6.3.11's form: two messages, one APPENDUID set.
    assert_eq!(
        c.send(b"a APPEND Sent (\\Seen) {3+}\r\nabc {2+}\r\nde\r\n"),
        "a OK [APPENDUID 77 1:2] APPEND completed\r\n"
    );
    // All or none: a missing target stores nothing.
    assert_eq!(
        c.send(b"b APPEND Nowhere {1+}\r\nx {1+}\r\ny\r\n"),
        "b NO [TRYCREATE] No such mailbox\r\n"
    );
    assert_eq!(c.store.folders["Sent"].bodies.len(), 2);
    // RFC 4469: a header from INBOX's message 4, then new text.
    assert_eq!(
        c.send(
            b"c APPEND Sent CATENATE (URL \"/INBOX;UIDVALIDITY=3857529045/;UID=4/;SECTION=HEADER\" \
              TEXT {5+}\r\nhello)\r\n"
        ),
        "c OK [APPENDUID 77 3] APPEND completed\r\n"
    );
    assert_eq!(
        c.store.folders["Sent"].bodies[&3],
        b"From: a@example.com\r\nSubject: one\r\n\r\nhello".to_vec()
    );
    // A URL to nothing (wrong UIDVALIDITY) refuses the whole command.
    assert_eq!(
        c.send(b"d APPEND Sent CATENATE (TEXT {1+}\r\nx URL \"/INBOX;UIDVALIDITY=1/;UID=4\")\r\n"),
        "d NO [BADURL /INBOX;UIDVALIDITY=1/;UID=4] No such message or part\r\n"
    );
    assert_eq!(c.store.folders["Sent"].bodies.len(), 3);
    // A missing target is TRYCREATE before any URL is looked at.
    assert_eq!(
        c.send(b"e APPEND Gone CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=4\")\r\n"),
        "e NO [TRYCREATE] No such mailbox\r\n"
    );
    // Another user's URL is not read from this user's folders.
    assert_eq!(
        c.send(b"e2 APPEND Sent CATENATE (URL \"imap://bob@example.com/INBOX/;UID=4\")\r\n"),
        "e2 NO [BADURL imap://bob@example.com/INBOX/;UID=4] Invalid IMAP URL\r\n"
    );
    assert_eq!(
        c.send(b"f APPEND Sent CATENATE ()\r\n"),
        "f BAD Error in IMAP command arguments\r\n"
    );
}

#[test]
fn binary_fetch_and_literal8_append() {
    let mut c = Client::plain();
    c.select();
    let msg: &[u8] = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8A\r\n\
        --b\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzz\r\n--b--\r\n";
    let mut cmd = format!("a APPEND INBOX {{{}+}}\r\n", msg.len()).into_bytes();
    cmd.extend_from_slice(msg);
    cmd.extend_from_slice(b"\r\n");
    assert!(c.send(&cmd).contains("a OK [APPENDUID"));
    // RFC 3516: decoded, NUL so a literal8; BINARY.SIZE counts decoded octets.
    assert_eq!(
        c.cmd("b FETCH 4 (BINARY.SIZE[1] BINARY.PEEK[1]<1.3>)"),
        "* 4 FETCH (BINARY.SIZE[1] 6 BINARY[1]<1> {3}\r\nell)\r\nb OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("c FETCH 4 (BINARY.PEEK[1])"),
        "* 4 FETCH (BINARY[1] ~{6}\r\nhello\0)\r\nc OK FETCH completed\r\n"
    );
    assert_eq!(
        c.cmd("d FETCH 4 (BINARY.PEEK[2])"),
        "* 4 FETCH (BINARY[2] NIL)\r\nd NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding\r\n"
    );
    // APPEND of a literal8 with a binary part: stored as base64, read back the same.
    let bin: &[u8] = b"Content-Type: application/octet-stream\r\n\
        Content-Transfer-Encoding: binary\r\n\r\n\0-\xe4\n";
    let mut cmd = format!("e APPEND INBOX ~{{{}+}}\r\n", bin.len()).into_bytes();
    cmd.extend_from_slice(bin);
    cmd.extend_from_slice(b"\r\n");
    assert!(c.send(&cmd).contains("e OK [APPENDUID"));
    let stored = c.store.folders["INBOX"]
        .bodies
        .values()
        .last()
        .unwrap()
        .clone();
    assert!(!stored.contains(&0), "{stored:?}");
    let out = c.cmd("f FETCH 5 (BINARY.SIZE[1] BINARY.PEEK[1])");
    assert_eq!(
        out,
        String::from_utf8_lossy(
            b"* 5 FETCH (BINARY.SIZE[1] 4 BINARY[1] ~{4}\r\n\0-\xe4\n)\r\nf OK FETCH completed\r\n"
        )
    );
}

#[test]
fn list_extended() {
    let mut c = Client::plain();
    c.login();
    assert_eq!(
        c.cmd("a LIST \"\" (INBOX Sent) RETURN (SPECIAL-USE CHILDREN)"),
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
         * LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\na OK LIST completed\r\n"
    );
    assert_eq!(
        c.cmd("b LIST (RECURSIVEMATCH) \"\" *"),
        "b BAD RECURSIVEMATCH needs another selection option\r\n"
    );
}

#[test]
fn urlauth_generate_fetch_reset() {
    let mut c = Client::plain();
    c.select();
    let out =
        c.cmd("a GENURLAUTH \"imap://alice@example.com/INBOX/;uid=5;urlauth=user+alice\" INTERNAL");
    let url = out
        .strip_prefix("* GENURLAUTH \"")
        .and_then(|r| r.split_once('"'))
        .map(|(u, _)| u.to_owned())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        url.starts_with("imap://alice@example.com/INBOX/;uid=5;urlauth=user+alice:INTERNAL:"),
        "{url}"
    );
    assert!(out.ends_with("a OK GENURLAUTH completed\r\n"), "{out}");
    // RFC 4467: the signed URL gives the message to the user it names.
    assert_eq!(
        c.cmd(&format!("b URLFETCH \"{url}\"")),
        format!(
            "* URLFETCH \"{url}\" {{{}}}\r\n{}\r\nb OK URLFETCH completed\r\n",
            M2.len(),
            String::from_utf8_lossy(M2)
        )
    );
    // A changed signature, or another user's URL to sign: nothing.
    let forged = format!("{}0", &url[..url.len() - 1]);
    let forged = if forged == url {
        format!("{}1", &url[..url.len() - 1])
    } else {
        forged
    };
    assert_eq!(
        c.cmd(&format!("c URLFETCH \"{forged}\"")),
        format!("* URLFETCH \"{forged}\" NIL\r\nc OK URLFETCH completed\r\n")
    );
    assert_eq!(
        c.cmd("d GENURLAUTH \"imap://bob@example.com/INBOX/;uid=5;urlauth=authuser\" INTERNAL"),
        "d BAD Invalid URL for GENURLAUTH\r\n"
    );
    // RESETKEY: the old URL no longer fetches.
    assert_eq!(c.cmd("e RESETKEY INBOX"), "e OK RESETKEY completed\r\n");
    assert_eq!(
        c.cmd(&format!("f URLFETCH \"{url}\"")),
        format!("* URLFETCH \"{url}\" NIL\r\nf OK URLFETCH completed\r\n")
    );
}
