//! RFC 5256 §2.1: the "base subject" SORT SUBJECT and both THREAD algorithms compare,
//! and whether the subject marked the message as a reply or forward (REFERENCES step
//! 5 needs that). The input is the Subject field already decoded from RFC 2047
//! encoded words (mail-parser does that), so step (1) here only folds white space.
//!
//! Every pattern is ASCII, so each cut falls on a character boundary of the UTF-8
//! text. A blob (`[…]`) may hold any character but `[` and `]`, as Dovecot reads it:
//! the ABNF's BLOBCHAR is ASCII-only, but a non-ASCII list name is still a list name.

/// The base subject of `subject` and whether it was a reply or forward (a `Re:`/`Fw:`/
/// `Fwd:` leader, a `(fwd)` trailer or a `[fwd: …]` wrapper was removed).
pub(super) fn base_subject(subject: &str) -> (String, bool) {
    // (1) Tabs and line ends become spaces; runs of spaces become one.
    let mut folded = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if matches!(c, '\t' | '\r' | '\n') {
            ' '
        } else {
            c
        };
        if c == ' ' && folded.ends_with(' ') {
            continue;
        }
        folded.push(c);
    }
    let mut reply = false;
    let mut s: &str = &folded;
    loop {
        // (2) Trailers: `(fwd)` and white space, as often as they occur.
        loop {
            if let Some(rest) = s.strip_suffix(' ') {
                s = rest;
            } else if let Some(rest) = strip_suffix_ci(s, "(fwd)") {
                s = rest;
                reply = true;
            } else {
                break;
            }
        }
        // (3)–(5) Leaders, then one blob if something is left after it, until
        // neither applies.
        loop {
            let before = s.len();
            loop {
                if let Some(rest) = s.strip_prefix(' ') {
                    s = rest;
                } else if let Some(n) = leader(s) {
                    s = &s[n..];
                    reply = true;
                } else {
                    break;
                }
            }
            if let Some(n) = blob(s) {
                if n < s.len() {
                    s = &s[n..];
                }
            }
            if s.len() == before {
                break;
            }
        }
        // (6) `[fwd: …]` around the whole rest: unwrap and start again at (2).
        let wrapped =
            s.len() >= 6 && s.as_bytes()[..5].eq_ignore_ascii_case(b"[fwd:") && s.ends_with(']');
        if !wrapped {
            break;
        }
        s = &s[5..s.len() - 1];
        reply = true;
    }
    (s.to_owned(), reply)
}

fn strip_suffix_ci<'s>(s: &'s str, suffix: &str) -> Option<&'s str> {
    let cut = s.len().checked_sub(suffix.len())?;
    s.as_bytes()[cut..]
        .eq_ignore_ascii_case(suffix.as_bytes())
        .then(|| &s[..cut])
}

/// Length of a `subj-blob` (`[` *BLOBCHAR `]` *WSP) at the start of `s`.
fn blob(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let close = 1 + b[1..].iter().position(|&c| c == b']' || c == b'[')?;
    if b[close] != b']' {
        return None;
    }
    let mut n = close + 1;
    while b.get(n) == Some(&b' ') {
        n += 1;
    }
    Some(n)
}

/// Length of `*subj-blob subj-refwd` at the start of `s`, where subj-refwd is
/// `("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn leader(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut n = 0;
    while let Some(len) = blob(&s[n..]) {
        n += len;
    }
    // `fwd` before `fw`: both start the same way.
    for w in [&b"fwd"[..], b"fw", b"re"] {
        let end = n + w.len();
        if b.len() < end || !b[n..end].eq_ignore_ascii_case(w) {
            continue;
        }
        let mut i = end;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        if let Some(len) = blob(&s[i..]) {
            i += len;
        }
        if b.get(i) == Some(&b':') {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::base_subject;

    fn base(s: &str) -> (&'static str, bool) {
        let (b, r) = base_subject(s);
        (Box::leak(b.into_boxed_str()), r)
    }

    #[test]
    fn rfc_5256_leaders_trailers_and_blobs() {
        assert_eq!(base("Re: foo"), ("foo", true));
        assert_eq!(base("foo"), ("foo", false));
        assert_eq!(base("RE[2]: foo"), ("foo", true));
        assert_eq!(base("Fwd: [list] Re: foo (fwd)"), ("foo", true));
        assert_eq!(base("[list] foo"), ("foo", false));
        // A blob that is the whole subject stays.
        assert_eq!(base("[xyz]"), ("[xyz]", false));
        assert_eq!(base("[fwd: foo]"), ("foo", true));
        assert_eq!(base("b (a)"), ("b (a)", false));
        assert_eq!(base("  a \t\r\n  b  "), ("a b", false));
        assert_eq!(base(""), ("", false));
        assert_eq!(base(" "), ("", false));
        assert_eq!(base("fwdx: y"), ("fwdx: y", false));
        assert_eq!(base("Fw : y"), ("y", true));
        assert_eq!(base("[a][b] c"), ("c", false));
    }

    /// The subjects of imaptest's sort-subject and thread-orderedsubject mailboxes
    /// (already decoded from RFC 2047).
    #[test]
    fn imaptest_subjects() {
        assert_eq!(base("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)"), ("b", true));
        assert_eq!(base("Re: [FWD: c]"), ("c", true));
        assert_eq!(
            base("Ad: Re: Ad: Re: Ad: x"),
            ("Ad: Re: Ad: Re: Ad: x", false)
        );
        assert_eq!(
            base("re: [fwd: [fwd: re: [fwd: babylon]]]"),
            ("babylon", true)
        );
        assert_eq!(base("_"), ("_", false));
        assert_eq!(base("RE: C"), ("C", true));
    }
}
