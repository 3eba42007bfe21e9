//! Property tests: input split at any byte boundary gives the same session, and no
//! input makes the session panic or write a malformed reply.

mod smtp_support;

use mailroom_core::config::BareNewlines;
use mailroom_core::smtp::SmtpEvent;
use mailroom_core::{Input, Instant};
use proptest::prelude::*;
use smtp_support::*;

/// A whole session exercising most paths (no STARTTLS: what follows it in the same
/// read is discarded on purpose, so that one depends on the split).
fn script() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"EHLO client.example.net\r\nNOOP\r\nFOO\r\nMAIL FROM:<a@example.com>\r\n");
    s.extend_from_slice(b"RSET\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
    s.extend_from_slice(b"MAIL FROM:<alice@example.com> SIZE=300 BODY=8BITMIME\r\n");
    s.extend_from_slice(
        b"RCPT TO:<bob@example.com> NOTIFY=FAILURE\r\nRCPT TO:<nobody@example.com>\r\n",
    );
    s.extend_from_slice(b"RCPT TO:<far@elsewhere.example>\r\nDATA\r\n");
    s.extend_from_slice(b"Subject: t\r\n\r\n..dot\r\n.\r\r\nx\n.\nstill body\r\n");
    s.extend_from_slice(&[b'z'; 998]);
    s.extend_from_slice(b"\r\n.\r\n");
    s.extend_from_slice(b"MAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nbare\nlf\r\n.\r\n");
    s.extend_from_slice(
        b"MAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nBDAT 7\r\nabc\r\n.\rBDAT 4 LAST\r\n\nxyz",
    );
    s.extend_from_slice(&[b'q'; 3000]);
    s.extend_from_slice(b"\r\nVRFY bob\r\nHELP\r\nAUTH PLAIN\r\n*\r\nQUIT\r\nNOOP\r\n");
    s
}

#[derive(Debug, PartialEq)]
struct Run {
    transcript: Vec<u8>,
    events: Vec<SmtpEvent>,
    closed: bool,
}

fn run(policy: BareNewlines, input: &[u8], cuts: &[usize]) -> Run {
    let mut cfg = config();
    cfg.smtp.bare_newlines = policy;
    cfg.smtp.max_command_line = 1024;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("192.168.1.10"));
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        if cut > start {
            c.feed(Input::Bytes(&input[start..cut]));
        }
        start = cut;
    }
    c.feed(Input::Eof);
    Run {
        transcript: c.transcript,
        events: c.events,
        closed: c.closed,
    }
}

#[test]
fn script_reaches_every_stage() {
    let whole = run(BareNewlines::Normalize, &script(), &[]);
    let text = String::from_utf8_lossy(&whole.transcript);
    for expected in [
        "500 5.5.2",
        "235 2.7.0",
        "550 5.1.1",
        "354 ",
        "queued as s1.1",
        "queued as s1.2",
        "7 octets received",
        "queued as s1.3",
        "500 5.5.6",
        "252 2.5.2",
        "503 5.5.1 Already",
        "221 2.0.0",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert_eq!(whole.events.len(), 4); // one AUTH, three deliveries
    assert!(whole.closed);
    let rejected = run(BareNewlines::Reject, &script(), &[]);
    assert_eq!(
        rejected
            .events
            .iter()
            .filter(|e| matches!(e, SmtpEvent::Deliver(_)))
            .count(),
        1,
        "only the BDAT message has no bare newline"
    );
}

#[test]
fn one_byte_at_a_time_equals_one_piece() {
    let s = script();
    let cuts: Vec<usize> = (1..s.len()).collect();
    for policy in [BareNewlines::Reject, BareNewlines::Normalize] {
        assert_eq!(run(policy, &s, &cuts), run(policy, &s, &[]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_split_gives_same_session(mut cuts in proptest::collection::vec(0usize..5000, 0..60), normalize: bool) {
        let s = script();
        cuts.sort_unstable();
        let policy = if normalize { BareNewlines::Normalize } else { BareNewlines::Reject };
        prop_assert_eq!(run(policy, &s, &cuts), run(policy, &s, &[]));
    }

    #[test]
    fn random_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
        check_sane(&chunks);
    }

    #[test]
    fn random_protocol_fragments_never_panic(picks in proptest::collection::vec((0usize..FRAGMENTS.len(), any::<bool>()), 0..80)) {
        let mut chunks: Vec<Vec<u8>> = vec![Vec::new()];
        for (i, split) in picks {
            if split {
                chunks.push(Vec::new());
            }
            if let Some(last) = chunks.last_mut() {
                last.extend_from_slice(FRAGMENTS[i]);
            }
        }
        check_sane(&chunks);
    }
}

const FRAGMENTS: &[&[u8]] = &[
    b"EHLO x\r\n",
    b"HELO y\r\n",
    b"MAIL FROM:<a@example.com>\r\n",
    b"MAIL FROM:<> SIZE=10\r\n",
    b"RCPT TO:<bob@example.com>\r\n",
    b"RCPT TO:<x@far.example>\r\n",
    b"RCPT TO:<postmaster>\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT 3 LAST\r\n",
    b"RSET\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AGFsaWNlAHNlY3JldA==\r\n",
    b"*\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r\n.\n",
    b".",
    b"\r",
    b"\n",
    b"..",
    b"text",
    b"\xff\x00",
    b"NOOP\r\n",
    b"VRFY\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"MAIL FROM:<\"q\"@[1.2.3.4]>\r\n",
];

/// Feed chunks (with ticks), then EOF; the session must stay well-formed throughout.
fn check_sane(chunks: &[Vec<u8>]) {
    let mut i = info("192.168.1.10");
    i.tls_available = true;
    let mut cfg = config();
    cfg.smtp.max_command_line = 600;
    cfg.smtp.max_message_size = 2000;
    let mut c = Client::new(snapshot_with(cfg, vec![]), i);
    for (n, chunk) in chunks.iter().enumerate() {
        c.feed(Input::Bytes(chunk));
        if n % 7 == 6 {
            c.now = c.now + std::time::Duration::from_secs(1000);
            c.feed(Input::Tick);
        }
        if c.closed {
            break;
        }
    }
    c.feed(Input::Eof);
    assert!(c.closed);
    // Every reply line is "ddd" + space or dash, ends in CRLF, and is bounded.
    let t = &c.transcript;
    assert!(t.is_empty() || t.ends_with(b"\r\n"));
    for line in t.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.ends_with(b"\r"), "{:?}", String::from_utf8_lossy(line));
        assert!(line.len() <= 512);
        assert!(line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit));
        assert!(line[3] == b' ' || line[3] == b'-');
    }
    let _ = Instant::ZERO;
}
