//! Property tests: input split at any byte boundary gives the same POP3 session, and
//! no input makes the session panic.

mod pop3_support;

use mailroom_core::Input;
use pop3_support::*;
use proptest::prelude::*;

/// A whole session over most paths (no STLS: what follows it in the same read is
/// discarded on purpose, so that one depends on the split).
fn script() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"CAPA\r\nSTAT\r\nUSER alice\r\nPASS wrong\r\nBOGUS\r\n");
    s.extend_from_slice(b"AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nSTAT\r\nLIST\r\nUIDL\r\n");
    s.extend_from_slice(b"RETR 1\r\nTOP 2 1\r\nRETR 3\r\nDELE 2\r\nLIST 2\r\nRSET\r\nDELE 1\r\n");
    s.extend_from_slice(&[b'x'; 1500]);
    s.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\nNOOP\r\n");
    s
}

fn drop() -> Maildrop {
    Maildrop::with(&[
        b"Subject: a\r\n\r\n.dot\r\nbody\r\n",
        b"Subject: b\n\nl1\nl2\n",
        b"Subject: c\r\n\r\nno final newline",
    ])
}

#[derive(Debug, PartialEq)]
struct Run {
    transcript: Vec<u8>,
    events: Vec<String>,
    closed: bool,
    left: usize,
}

fn run(input: &[u8], cuts: &[usize], chunk: usize) -> Run {
    let mut d = drop();
    let mut c = Client::new(snapshot(config(), ""), info("192.168.1.10"));
    c.chunk = chunk;
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        if cut > start {
            c.feed(&mut d, Input::Bytes(&input[start..cut]));
        }
        start = cut;
    }
    c.feed(&mut d, Input::Eof);
    Run {
        transcript: c.transcript,
        events: c.events.iter().map(|e| format!("{e:?}")).collect(),
        closed: c.closed,
        left: d.messages.len(),
    }
}

#[test]
fn script_reaches_every_stage() {
    let r = run(&script(), &[], 5);
    let t = String::from_utf8_lossy(&r.transcript);
    for expected in [
        "\r\nSASL PLAIN\r\n",
        "-ERR Not logged in",
        "-ERR [AUTH] Authentication failed",
        "+OK Logged in, maildrop has 3 messages",
        "..dot\r\n",
        "Subject: b\r\n\r\nl1\r\n.\r\n",
        "no final newline\r\n.\r\n",
        "-ERR Message already deleted",
        "-ERR Line too long",
        "signing off (2 messages left)",
    ] {
        assert!(t.contains(expected), "{expected:?} missing in:\n{t}");
    }
    assert!(r.closed);
    assert_eq!(r.left, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_split_gives_the_same_session(
        mut cuts in proptest::collection::vec(0usize..2000, 0..40),
        chunk in 1usize..64,
    ) {
        let input = script();
        cuts.sort_unstable();
        let whole = run(&input, &[], chunk);
        prop_assert_eq!(&run(&input, &cuts, chunk), &whole);
        // The chunk size the driver reads with never changes what the client sees.
        let big = run(&input, &cuts, 4096);
        prop_assert_eq!(&big.transcript, &whole.transcript);
        prop_assert_eq!(big.left, whole.left);
    }

    #[test]
    fn byte_at_a_time_equals_whole(chunk in 1usize..16) {
        let input = script();
        let cuts: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(run(&input, &cuts, chunk), run(&input, &[], chunk));
    }

    #[test]
    fn arbitrary_input_never_panics(
        input in proptest::collection::vec(any::<u8>(), 0..3000),
        cut in 0usize..3000,
    ) {
        let mut prefix = b"USER alice\r\nPASS secret\r\n".to_vec();
        prefix.extend_from_slice(&input);
        let r = run(&prefix, &[cut], 3);
        prop_assert!(r.closed);
        let t = String::from_utf8_lossy(&r.transcript);
        prop_assert!(t.starts_with("+OK "));
    }
}
