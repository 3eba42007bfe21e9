//! ESEARCH (RFC 4731) and the return options of CONTEXT=SEARCH (RFC 5267):
//! `SEARCH RETURN (MIN MAX ALL COUNT PARTIAL a:b UPDATE CONTEXT) …`.
//!
//! imap-codec 2.0.0-alpha.10 does not parse `RETURN (…)`, so [`strip`] takes the
//! options off the message before it is decoded (as `listext.rs` does for LIST) and
//! the plain SEARCH left goes through imap-codec as usual. [`write`] formats the
//! `* ESEARCH` answer from an ordered list of numbers; SORT's ESORT and CONTEXT=SORT
//! (RFC 5267) use the same two functions with `command = "SORT"` and the numbers in
//! sort order.

use std::num::NonZeroU32;

/// The return options of one SEARCH (or SORT). `None` of them asked for (`RETURN ()`)
/// means ALL (RFC 4731 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ReturnOpts {
    pub(super) min: bool,
    pub(super) max: bool,
    pub(super) all: bool,
    pub(super) count: bool,
    /// RFC 5267 §4.4: the positions `lo..=hi` (1-based) of the result.
    pub(super) partial: Option<(NonZeroU32, NonZeroU32)>,
    /// RFC 5267 §4.2: keep the result up to date with ADDTO/REMOVEFROM.
    pub(super) update: bool,
}

/// `RETURN (…)` holds an option this server does not know, or a malformed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadReturn(pub(super) &'static str);

/// Longest option list taken apart; anything longer is refused.
const MAX_OPTIONS: usize = 512;

/// `tag [UID] <command> RETURN (opts) rest` → the message without `RETURN (opts)`
/// and the options; `None` if `msg` is not such a command. Only the bytes before the
/// criteria are looked at, so literals in the criteria pass through untouched.
pub(super) fn strip(msg: &[u8], command: &str) -> Option<Result<(Vec<u8>, ReturnOpts), BadReturn>> {
    let sp = msg.iter().position(|&b| b == b' ')?;
    let (tag, mut rest) = (&msg[..sp], &msg[sp + 1..]);
    let mut prefix = tag.to_vec();
    prefix.push(b' ');
    if let Some(after) = strip_word(rest, "UID") {
        prefix.extend_from_slice(b"UID ");
        rest = after;
    }
    rest = strip_word(rest, command)?;
    let after_return = strip_word(rest, "RETURN")?;
    let inner = after_return.strip_prefix(b"(")?;
    let close = inner.iter().take(MAX_OPTIONS).position(|&b| b == b')');
    let Some(close) = close else {
        return Some(Err(BadReturn("Invalid RETURN options")));
    };
    let Ok(opts) = std::str::from_utf8(&inner[..close]) else {
        return Some(Err(BadReturn("Invalid RETURN options")));
    };
    let Some(criteria) = inner[close + 1..].strip_prefix(b" ") else {
        return Some(Err(BadReturn("Missing search criteria")));
    };
    let opts = match parse_options(opts) {
        Ok(o) => o,
        Err(e) => return Some(Err(e)),
    };
    prefix.extend_from_slice(command.as_bytes());
    prefix.push(b' ');
    prefix.extend_from_slice(criteria);
    Some(Ok((prefix, opts)))
}

/// `word ` at the start of `s`, ASCII case-insensitively: what follows it.
fn strip_word<'a>(s: &'a [u8], word: &str) -> Option<&'a [u8]> {
    let n = word.len();
    (s.len() > n && s[..n].eq_ignore_ascii_case(word.as_bytes()) && s[n] == b' ')
        .then(|| &s[n + 1..])
}

fn parse_options(text: &str) -> Result<ReturnOpts, BadReturn> {
    let mut o = ReturnOpts::default();
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    while let Some(w) = words.next() {
        match w.to_ascii_uppercase().as_str() {
            "MIN" => o.min = true,
            "MAX" => o.max = true,
            "ALL" => o.all = true,
            "COUNT" => o.count = true,
            "UPDATE" => o.update = true,
            // A hint the server may ignore (RFC 5267 §4.1).
            "CONTEXT" => {}
            "PARTIAL" => {
                let range = words.next().ok_or(BadReturn("PARTIAL needs a range"))?;
                o.partial = Some(partial_range(range)?);
            }
            "SAVE" => return Err(BadReturn("SEARCHRES is not supported")),
            _ => return Err(BadReturn("Unknown RETURN option")),
        }
    }
    if !(o.min || o.max || o.all || o.count || o.update || o.partial.is_some()) {
        o.all = true;
    }
    if o.partial.is_some() && o.all {
        // RFC 5267 §4.4: PARTIAL and ALL exclude each other.
        return Err(BadReturn("PARTIAL and ALL together"));
    }
    Ok(o)
}

/// `a:b`, both positive, in either order (RFC 5267 §4.4).
fn partial_range(s: &str) -> Result<(NonZeroU32, NonZeroU32), BadReturn> {
    let bad = BadReturn("Invalid PARTIAL range");
    let (a, b) = s.split_once(':').ok_or(bad)?;
    let num = |x: &str| {
        if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad);
        }
        x.parse::<NonZeroU32>().map_err(|_| bad)
    };
    let (a, b) = (num(a)?, num(b)?);
    Ok((a.min(b), a.max(b)))
}

/// `1:3,5` for numbers in the order given: runs of consecutive ascending numbers
/// become ranges, the order is kept (ESORT's ALL is in sort order).
pub(super) fn compact(nums: impl IntoIterator<Item = u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for n in nums {
        match runs.last_mut() {
            Some((_, b)) if b.checked_add(1) == Some(n) => *b = n,
            _ => runs.push((n, n)),
        }
    }
    ranges_text(&runs)
}

/// Ranges `(a, b)` as a sequence set: `a:b` or `a` when `a == b`, comma-separated.
pub(super) fn ranges_text(runs: &[(u32, u32)]) -> String {
    let mut out = String::new();
    for &(a, b) in runs {
        if !out.is_empty() {
            out.push(',');
        }
        if a == b {
            out.push_str(&a.to_string());
        } else {
            out.push_str(&format!("{a}:{b}"));
        }
    }
    out
}

/// One message of a result: its number (sequence number or UID) and MODSEQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) num: u32,
    pub(super) modseq: u64,
}

/// `* ESEARCH (TAG "tag") [UID] MIN n MAX n ALL set COUNT n PARTIAL (a:b set) [MODSEQ n]`
/// for `found` in result order (ascending for SEARCH, sort order for SORT: MIN and MAX
/// are then the first and last). Empty results leave MIN, MAX and ALL out; COUNT is
/// always there when asked (RFC 4731 §3.1). With `modseq` (the criteria had MODSEQ,
/// RFC 7162 §3.1.5) the highest MODSEQ of the messages returned: MIN's and MAX's
/// only when nothing else returns messages.
pub(super) fn write(
    out: &mut Vec<u8>,
    tag: &str,
    uid: bool,
    found: &[Found],
    o: &ReturnOpts,
    modseq: bool,
) {
    out.extend_from_slice(b"* ESEARCH (TAG ");
    super::write::string(out, tag.as_bytes());
    out.push(b')');
    if uid {
        out.extend_from_slice(b" UID");
    }
    let mut returned_modseq: Option<u64> = None;
    let mut note = |m: u64| returned_modseq = Some(returned_modseq.map_or(m, |x| x.max(m)));
    if let (Some(first), Some(last)) = (found.first(), found.last()) {
        if o.min {
            out.extend_from_slice(format!(" MIN {}", first.num).as_bytes());
            note(first.modseq);
        }
        if o.max {
            out.extend_from_slice(format!(" MAX {}", last.num).as_bytes());
            note(last.modseq);
        }
        if o.all {
            out.extend_from_slice(b" ALL ");
            out.extend_from_slice(compact(found.iter().map(|f| f.num)).as_bytes());
            found.iter().for_each(|f| note(f.modseq));
        }
    }
    if o.count {
        out.extend_from_slice(format!(" COUNT {}", found.len()).as_bytes());
        found.iter().for_each(|f| note(f.modseq));
    }
    if let Some((lo, hi)) = o.partial {
        out.extend_from_slice(format!(" PARTIAL ({lo}:{hi} ").as_bytes());
        let from = usize::try_from(lo.get() - 1).unwrap_or(usize::MAX);
        let to = usize::try_from(hi.get())
            .unwrap_or(usize::MAX)
            .min(found.len());
        let part = found.get(from..to).unwrap_or(&[]);
        if part.is_empty() {
            out.extend_from_slice(b"NIL");
        } else {
            out.extend_from_slice(compact(part.iter().map(|f| f.num)).as_bytes());
            part.iter().for_each(|f| note(f.modseq));
        }
        out.push(b')');
    }
    if modseq {
        if let Some(m) = returned_modseq {
            out.extend_from_slice(format!(" MODSEQ {m}").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> ReturnOpts {
        parse_options(s).unwrap()
    }

    fn line(uid: bool, found: &[(u32, u64)], o: &ReturnOpts, modseq: bool) -> String {
        let f: Vec<Found> = found
            .iter()
            .map(|&(num, modseq)| Found { num, modseq })
            .collect();
        let mut out = Vec::new();
        write(&mut out, "A1", uid, &f, o, modseq);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strips_return_options_and_keeps_the_rest() {
        let (msg, o) = strip(
            b"a UID SEARCH RETURN (MIN COUNT) SUBJECT {3}\r\nabc\r\n",
            "SEARCH",
        )
        .unwrap()
        .unwrap();
        assert_eq!(msg, b"a UID SEARCH SUBJECT {3}\r\nabc\r\n");
        assert!(o.min && o.count && !o.all && !o.max);
        let (msg, o) = strip(b"b search return () all\r\n", "SEARCH")
            .unwrap()
            .unwrap();
        assert_eq!(msg, b"b SEARCH all\r\n");
        assert!(o.all);
        assert!(strip(b"c SEARCH ALL\r\n", "SEARCH").is_none());
        assert!(strip(b"c FETCH 1 RETURN\r\n", "SEARCH").is_none());
        for bad in [
            "d SEARCH RETURN (PARTIAL 1) ALL\r\n",
            "d SEARCH RETURN (PARTIAL 1:*) ALL\r\n",
            "d SEARCH RETURN (PARTIAL *:1) ALL\r\n",
            "d SEARCH RETURN (PARTIAL 0:1) ALL\r\n",
            "d SEARCH RETURN (FOO) ALL\r\n",
            "d SEARCH RETURN (MIN ALL\r\n",
            "d SEARCH RETURN (MIN)\r\n",
            "d SEARCH RETURN (PARTIAL 99999999999:1) ALL\r\n",
            "d SEARCH RETURN (PARTIAL 1:2 ALL) ALL\r\n",
        ] {
            assert!(
                matches!(strip(bad.as_bytes(), "SEARCH"), Some(Err(_))),
                "{bad}"
            );
        }
        let long = format!("d SEARCH RETURN ({}) ALL\r\n", "MIN ".repeat(200));
        assert!(matches!(strip(long.as_bytes(), "SEARCH"), Some(Err(_))));
        let (_, o) = strip(b"e SEARCH RETURN (PARTIAL 4:2) ALL\r\n", "SEARCH")
            .unwrap()
            .unwrap();
        assert_eq!(
            o.partial,
            Some((NonZeroU32::new(2).unwrap(), NonZeroU32::new(4).unwrap()))
        );
    }

    #[test]
    fn rfc4731_examples() {
        // RFC 4731 §3.1.
        assert_eq!(
            line(true, &[(7, 1), (8, 1), (3800, 1)], &opts("MIN MAX"), false),
            "* ESEARCH (TAG \"A1\") UID MIN 7 MAX 3800\r\n"
        );
        assert_eq!(
            line(false, &[(2, 1), (10, 1), (11, 1)], &opts("ALL"), false),
            "* ESEARCH (TAG \"A1\") ALL 2,10:11\r\n"
        );
        assert_eq!(
            line(false, &[], &opts("MIN MAX COUNT"), false),
            "* ESEARCH (TAG \"A1\") COUNT 0\r\n"
        );
        assert_eq!(
            line(true, &[], &opts(""), false),
            "* ESEARCH (TAG \"A1\") UID\r\n"
        );
    }

    #[test]
    fn modseq_of_what_is_returned() {
        let found = [(1, 10), (2, 30), (3, 20)];
        assert_eq!(
            line(false, &found, &opts("MIN"), true),
            "* ESEARCH (TAG \"A1\") MIN 1 MODSEQ 10\r\n"
        );
        assert_eq!(
            line(false, &found, &opts("MIN MAX"), true),
            "* ESEARCH (TAG \"A1\") MIN 1 MAX 3 MODSEQ 20\r\n"
        );
        assert_eq!(
            line(false, &found, &opts(""), true),
            "* ESEARCH (TAG \"A1\") ALL 1:3 MODSEQ 30\r\n"
        );
    }

    #[test]
    fn partial_windows() {
        let found: Vec<(u32, u64)> = [1, 2, 4, 5].iter().map(|&n| (n, 1)).collect();
        assert_eq!(
            line(false, &found, &opts("PARTIAL 2:3"), false),
            "* ESEARCH (TAG \"A1\") PARTIAL (2:3 2,4)\r\n"
        );
        assert_eq!(
            line(false, &found, &opts("PARTIAL 2:10"), false),
            "* ESEARCH (TAG \"A1\") PARTIAL (2:10 2,4:5)\r\n"
        );
        assert_eq!(
            line(false, &found, &opts("PARTIAL 5:10"), false),
            "* ESEARCH (TAG \"A1\") PARTIAL (5:10 NIL)\r\n"
        );
        assert_eq!(
            line(false, &found, &opts("PARTIAL 4294967295:4294967295"), false),
            "* ESEARCH (TAG \"A1\") PARTIAL (4294967295:4294967295 NIL)\r\n"
        );
    }

    #[test]
    fn compact_keeps_order() {
        assert_eq!(compact([1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(compact([5, 3, 4]), "5,3:4");
        assert_eq!(compact([u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
        assert_eq!(compact([]), "");
    }
}
