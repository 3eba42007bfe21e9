//! SORT, SORT=DISPLAY and THREAD (RFC 5256, RFC 5957) through whole sessions against
//! the fake store: the exact bytes the client sees, which messages are read, and the
//! sync-point rules SEARCH follows. The algorithms' own cases (RFC 5256's rules,
//! imaptest's mailboxes) are unit tests in core/src/imap/{sort,thread,basesubject}.rs.

mod imap_support;

use imap_support::*;
use mailroom_core::mailbox::Record;

/// How many message reads the session has asked for so far.
fn reads(c: &Client) -> usize {
    c.store
        .log
        .iter()
        .filter(|l| l.starts_with("Message"))
        .count()
}

#[test]
fn capabilities_are_advertised() {
    let mut c = Client::plain();
    c.login();
    let caps = c.cmd("a CAPABILITY");
    for cap in [
        " SORT ",
        " SORT=DISPLAY ",
        " THREAD=ORDEREDSUBJECT ",
        " THREAD=REFERENCES",
    ] {
        assert!(caps.contains(cap), "{cap}: {caps}");
    }
}

#[test]
fn sort_keys_uid_and_search() {
    let mut c = Client::plain();
    c.select();
    // M1 "one" from a@, M2 "two" from b@ to c@, M3 "three" with no From; arrivals
    // one day apart, in order.
    assert_eq!(
        c.cmd("a SORT (SUBJECT) UTF-8 ALL"),
        "* SORT 1 3 2\r\na OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("b UID SORT (REVERSE ARRIVAL) US-ASCII ALL"),
        "* SORT 6 5 4\r\nb OK UID SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("c sort (from) \"utf-8\" UNSEEN"),
        "* SORT 3 2\r\nc OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("d SORT (TO REVERSE SIZE) UTF-8 ALL"),
        "* SORT 1 3 2\r\nd OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("e SORT (DISPLAYFROM) UTF-8 NOT FROM b"),
        "* SORT 3 1\r\ne OK SORT completed\r\n"
    );
    // A search key with a literal goes through imap-codec like SEARCH's.
    assert_eq!(
        c.send(b"f SORT (DATE) UTF-8 SUBJECT {3+}\r\ntwo\r\n"),
        "* SORT 2\r\nf OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("g SORT (ARRIVAL) UTF-8 DELETED"),
        "* SORT\r\ng OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("h SORT (ARRIVAL) UTF-8 MODSEQ 1"),
        "* SORT 1 2 3 (MODSEQ 4)\r\nh OK SORT completed\r\n"
    );
}

#[test]
fn message_reads_are_cached_while_selected() {
    let mut c = Client::plain();
    c.select();
    // ARRIVAL and SIZE are in the index: no message is read.
    c.cmd("a SORT (SIZE ARRIVAL) UTF-8 ALL");
    assert_eq!(reads(&c), 0);
    c.cmd("b SORT (SUBJECT) UTF-8 ALL");
    assert_eq!(reads(&c), 3);
    // The header data is kept: sorting and threading again reads nothing.
    c.cmd("c SORT (REVERSE DATE) UTF-8 ALL");
    c.cmd("d THREAD REFERENCES UTF-8 ALL");
    assert_eq!(reads(&c), 3);
    // A text search still needs the bytes.
    c.cmd("e SORT (SUBJECT) UTF-8 BODY second");
    assert_eq!(reads(&c), 6);
    // Another selection starts afresh.
    c.cmd("f SELECT INBOX");
    c.cmd("g SORT (SUBJECT) UTF-8 ALL");
    assert_eq!(reads(&c), 9);
}

#[test]
fn threads() {
    let mut c = Client::plain();
    c.select();
    c.store
        .deliver(b"Message-ID: <x@y>\r\nSubject: hi\r\n\r\nhello\r\n");
    c.store.deliver(
        b"Message-ID: <z@y>\r\nIn-Reply-To: <x@y>\r\nSubject: Re: hi\r\n\r\nhello back\r\n",
    );
    c.store
        .deliver(b"Message-ID: <w@y>\r\nReferences: <q@y>\r\nSubject: Re: one\r\n\r\n.\r\n");
    let r = c.cmd("a THREAD REFERENCES UTF-8 ALL");
    assert_eq!(
        r,
        "* 6 EXISTS\r\n* 4 RECENT\r\n* THREAD (1 6)(4 5)(2)(3)\r\na OK THREAD completed\r\n"
    );
    assert_eq!(
        c.cmd("b UID THREAD REFERENCES UTF-8 NOT UID 5"),
        "* THREAD (4 9)(7 8)(6)\r\nb OK UID THREAD completed\r\n"
    );
    assert_eq!(
        c.cmd("c THREAD ORDEREDSUBJECT UTF-8 ALL"),
        "* THREAD (1 6)(4 5)(2)(3)\r\nc OK THREAD completed\r\n"
    );
    assert_eq!(
        c.cmd("d THREAD REFERENCES UTF-8 SEEN FLAGGED"),
        "* THREAD\r\nd OK THREAD completed\r\n"
    );
}

/// RFC 2180 §4.1: like SEARCH, SORT and THREAD answer in sequence numbers, so
/// another session's expunge is not reported during them; the message is left out.
#[test]
fn expunges_wait_for_the_next_sync_point() {
    let mut c = Client::plain();
    c.select();
    c.store.other(|ix| Record::Expunged {
        uid: 5,
        modseq: ix.next_modseq(),
    });
    assert_eq!(
        c.cmd("a SORT (SUBJECT) UTF-8 ALL"),
        "* SORT 1 3\r\na OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("b THREAD ORDEREDSUBJECT UTF-8 ALL"),
        "* THREAD (1)(3)\r\nb OK THREAD completed\r\n"
    );
    assert_eq!(c.cmd("c NOOP"), "* 2 EXPUNGE\r\nc OK NOOP completed\r\n");
}

#[test]
fn refusals() {
    let mut c = Client::plain();
    c.login();
    assert_eq!(
        c.cmd("a SORT (DATE) UTF-8 ALL"),
        "a BAD SORT not allowed now\r\n"
    );
    assert_eq!(
        c.cmd("b THREAD REFERENCES UTF-8 ALL"),
        "b BAD THREAD not allowed now\r\n"
    );
    c.cmd("s SELECT INBOX");
    assert_eq!(
        c.cmd("c SORT (DATE) KOI8-R ALL"),
        "c NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n"
    );
    assert_eq!(
        c.cmd("d SORT (COLOUR) UTF-8 ALL"),
        "d BAD Error in IMAP command\r\n"
    );
    assert_eq!(
        c.cmd("e SORT (DATE) UTF-8"),
        "e BAD Error in IMAP command\r\n"
    );
    assert_eq!(
        c.cmd("f THREAD COLOUR UTF-8 ALL"),
        "f BAD Unknown thread algorithm\r\n"
    );
    assert_eq!(
        c.cmd("g SORT (DATE) UTF-8 SINCE yesterday"),
        "g BAD Error in IMAP command\r\n"
    );
    assert_eq!(
        c.cmd("h SORT (DATE) UTF-8 MODSEQ \"/flags/\\\\draft\" all 5"),
        "* SORT\r\nh OK SORT completed\r\n"
    );
    // The session goes on.
    assert_eq!(
        c.cmd("i SORT (DATE) UTF-8 ALL"),
        "* SORT 1 2 3\r\ni OK SORT completed\r\n"
    );
}

/// ESORT and CONTEXT=SORT (RFC 5267): SORT RETURN answers `* ESEARCH` with the
/// numbers in sort order (MIN and MAX are the first and last of that order).
#[test]
fn esort_and_partial() {
    let mut c = Client::plain();
    c.select();
    let caps = c.cmd("a CAPABILITY");
    assert!(caps.contains(" ESORT CONTEXT=SORT "), "{caps}");
    // Subject order: 1 ("one"), 3 ("three"), 2 ("two").
    assert_eq!(
        c.cmd("b SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL"),
        "* ESEARCH (TAG \"b\") MIN 1 MAX 2 COUNT 3\r\nb OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("c UID SORT RETURN (ALL) (SUBJECT) UTF-8 ALL"),
        "* ESEARCH (TAG \"c\") UID ALL 4,6,5\r\nc OK UID SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("d SORT RETURN (PARTIAL 3:2) (REVERSE ARRIVAL) UTF-8 ALL"),
        "* ESEARCH (TAG \"d\") PARTIAL (2:3 2,1)\r\nd OK SORT completed\r\n"
    );
    assert_eq!(
        c.cmd("e SORT RETURN (UPDATE) (ARRIVAL) UTF-8 ALL"),
        "e NO [CANNOT] RETURN (UPDATE) is kept for SEARCH only\r\n"
    );
    assert_eq!(
        c.cmd("f SORT RETURN (PARTIAL 1:*) (ARRIVAL) UTF-8 ALL"),
        "f BAD Invalid PARTIAL range\r\n"
    );
}
