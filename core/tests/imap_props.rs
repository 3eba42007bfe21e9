//! Properties of the IMAP session: any split of the input gives the same output;
//! random bytes give BAD/NO or a close, never a panic; a literal of `{4294967295}` is
//! refused without allocating.

mod imap_support;

use imap_support::*;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the largest single allocation, so a test can show that a huge announced
/// literal never turns into a huge buffer.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

/// A whole session touching every framing path: synchronizing and non-synchronizing
/// literals, a SASL continuation, IDLE/DONE, body fetches, pipelined commands.
const SESSION: &[u8] = b"a1 CAPABILITY\r\n\
a2 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n\
a3 LIST \"\" *\r\n\
a4 SELECT {5}\r\nINBOX\r\n\
a5 FETCH 1:* (FLAGS UID BODY.PEEK[HEADER])\r\n\
a6 STORE 2 +FLAGS (\\Deleted)\r\na7 SEARCH DELETED\r\n\
a7s SORT (REVERSE DATE) UTF-8 SUBJECT {3+}\r\ntwo\r\na7t UID THREAD REFERENCES UTF-8 ALL\r\n\
a8 APPEND INBOX {3+}\r\nabc\r\n\
a9 IDLE\r\nDONE\r\n\
b1 EXPUNGE\r\nb2 FETCH 1 BODY[]\r\n\
b3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)\r\n\
b4 LOGOUT\r\n";

fn run(chunks: &[&[u8]]) -> (String, bool) {
    let mut c = Client::plain();
    let mut out = c.greeting.clone();
    for ch in chunks {
        out.push_str(&c.send(ch));
    }
    (out, c.closed)
}

fn split<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.push(&input[prev..c]);
        prev = c;
    }
    out.push(&input[prev..]);
    out
}

#[test]
fn one_byte_at_a_time_is_the_same_session() {
    let (whole, closed) = run(&[SESSION]);
    assert!(closed);
    assert!(whole.ends_with("b4 OK LOGOUT completed\r\n"), "{whole}");
    assert!(!whole.contains(" BAD "), "{whole}");
    assert!(whole.contains("* SORT 2\r\na7s OK SORT"), "{whole}");
    assert!(whole.contains("* THREAD (4)(5)(6)\r\na7t OK"), "{whole}");
    let bytes: Vec<&[u8]> = SESSION.chunks(1).collect();
    assert_eq!(run(&bytes).0, whole);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_split_gives_the_same_output(cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let (whole, _) = run(&[SESSION]);
        let (split_out, closed) = run(&split(SESSION, &cuts));
        prop_assert!(closed);
        prop_assert_eq!(split_out, whole);
    }

    #[test]
    fn random_bytes_never_panic(
        before_login in any::<bool>(),
        noise in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut c = Client::plain();
        if !before_login {
            c.select();
        }
        let mut out = String::new();
        for ch in split(&noise, &cuts) {
            out.push_str(&c.send(ch));
        }
        out.push_str(&c.send(b"\r\nz NOOP\r\n"));
        // Every line is untagged, a continuation, or tagged; a refusal is BAD or NO.
        for line in out.split_terminator("\r\n") {
            if let Some(rest) = line.split_once(' ').map(|x| x.1) {
                let status = rest.split(' ').next().unwrap_or("");
                prop_assert!(
                    line.starts_with("* ") || line.starts_with('+') || !line.contains(' ')
                        || ["OK", "NO", "BAD"].contains(&status)
                        || rest.starts_with(|c: char| c.is_ascii_digit())
                        || line.starts_with(|c: char| !c.is_ascii_graphic()),
                    "odd line {:?}", line
                );
            }
        }
    }

    #[test]
    fn random_commands_after_login_never_panic(
        words in prop::collection::vec(
            prop::sample::select(vec![
                "FETCH", "STORE", "SEARCH", "UID", "1:*", "*", "0", "4294967295", "(", ")",
                "FLAGS", "BODY[]", "+FLAGS", "\\Deleted", "{3}", "{0+}", "\"x\"", "NOT", "OR",
                "MODSEQ", "INBOX", "COPY", "MOVE", "EXPUNGE", "IDLE", "DONE", "APPEND",
                "CHANGEDSINCE", "UNCHANGEDSINCE", "\r\n", "t",
            ]),
            0..30,
        )
    ) {
        let mut c = Client::plain();
        c.select();
        let text = words.join(" ");
        c.send(text.as_bytes());
        c.send(b"\r\nDONE\r\nz NOOP\r\n");
    }
}

#[test]
fn a_4gb_literal_is_refused_without_allocating() {
    let mut c = Client::plain();
    c.login();
    LARGEST.store(0, Ordering::Relaxed);
    assert_eq!(
        c.send(b"a APPEND INBOX {4294967295}\r\n"),
        "a NO [TOOBIG] Literal too large\r\n"
    );
    assert_eq!(c.cmd("b NOOP"), "b OK NOOP completed\r\n");
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest < 1 << 20, "an allocation of {largest} bytes");

    // The same announced without waiting (LITERAL+): refused, and the session ends
    // rather than read 4 GB.
    assert_eq!(
        c.send(b"c APPEND INBOX {4294967295+}\r\nxxxx"),
        "c BAD [TOOBIG] Literal too large\r\n* BYE Literal too large, closing connection\r\n"
    );
    assert!(c.closed);
    assert!(LARGEST.load(Ordering::Relaxed) < 1 << 20);
}
