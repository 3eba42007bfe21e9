//! What the store reads from a Maildir's files: names, base names, flags in names,
//! sizes and dates. The index is the authority; these are read when a file is first
//! indexed, and names are rewritten only as a courtesy (docs/STORE.md "The index").

use mailroom_core::mailbox::{Flag, Flags};
use mailroom_core::wire::SizeCounter;
use std::cmp::Ordering;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes read at a time when sizing a message for the first time.
const SIZE_CHUNK: usize = 64 * 1024;

/// The Maildir base name: the file name before the `:2,FLAGS` info.
pub fn base_of(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// Compare names with their runs of digits taken as numbers (leading zeros ignored),
/// so the UIDs of one scan follow the order Maildir names were made in.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (na, nb) = (trim_zeros(da), trim_zeros(db));
                let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// The message files in `dir` (names other programs may leave there that cannot be
/// messages — dot-files, names with spaces or line breaks, non-UTF-8 — skipped).
pub fn message_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::warn!(dir = %dir.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if name.starts_with('.') || name.contains(['\n', '\r', ' ']) {
            continue;
        }
        out.push(name);
    }
    Ok(out)
}

/// What RETR and FETCH send for the file at `path`, counted once when first indexed.
pub fn wire_size(path: &Path) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut counter = SizeCounter::new();
    let mut buf = vec![0u8; SIZE_CHUNK];
    loop {
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(counter.finish());
        }
        counter.push(&buf[..n]);
    }
}

/// The file's modification time in Unix seconds (Dovecot's INTERNALDATE of a Maildir
/// message), 0 if the system cannot say.
pub fn mtime_secs(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs()))
}

/// A directory's modification time, which moves whenever an entry is added, removed
/// or renamed: if it has not moved, a listing taken at that time still holds.
pub fn dir_mtime(dir: &Path) -> io::Result<SystemTime> {
    fs::metadata(dir)?.modified()
}

/// `name` with its system-flag letters replaced by `flags`, keeping other letters
/// (Dovecot's keyword letters) in sorted order; `None` if nothing changes.
pub fn name_with_flags(name: &str, flags: Flags) -> Option<String> {
    let (base, info) = match name.split_once(":2,") {
        Some((b, i)) => (b, i),
        None if !name.contains(':') => (name, ""),
        // Another info version: not ours to rewrite.
        None => return None,
    };
    if Flags::from_maildir(info) == flags {
        return None;
    }
    let system: Vec<char> = Flag::ALL.iter().map(|f| f.letter()).collect();
    let mut letters: Vec<char> = info.chars().filter(|c| !system.contains(c)).collect();
    letters.extend(flags.iter().map(Flag::letter));
    letters.sort_unstable();
    letters.dedup();
    Some(format!(
        "{base}:2,{}",
        letters.into_iter().collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_names_sort_in_the_order_they_were_made() {
        let mut names = vec![
            "1765133770.M105083P9Q2.host",
            "1765133770.M99999P9Q1.host",
            "1765133770.M99999P9Q10.host",
            "1765133770.M99999P9Q9.host",
            "1765133769.M999999P9Q0.host",
            "1000.b",
            "1000.a",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "1000.a",
                "1000.b",
                "1765133769.M999999P9Q0.host",
                "1765133770.M99999P9Q1.host",
                "1765133770.M99999P9Q9.host",
                "1765133770.M99999P9Q10.host",
                "1765133770.M105083P9Q2.host",
            ]
        );
        assert_eq!(natural_cmp("a007", "a7"), Ordering::Equal);
    }

    #[test]
    fn names_and_flags() {
        assert_eq!(base_of("123.M1P2.host:2,S"), "123.M1P2.host");
        assert_eq!(base_of("123.M1P2.host"), "123.M1P2.host");
        let seen = Flags::NONE.with(Flag::Seen);
        assert_eq!(
            name_with_flags(
                "x:2,RT",
                seen.with(Flag::Answered)
                    .with(Flag::Deleted)
                    .with(Flag::Seen)
            )
            .as_deref(),
            Some("x:2,RST")
        );
        assert_eq!(name_with_flags("x:2,S", seen), None);
        assert_eq!(name_with_flags("x", seen).as_deref(), Some("x:2,S"));
        assert_eq!(
            name_with_flags("x:2,Sa", Flags::NONE).as_deref(),
            Some("x:2,a")
        );
        assert_eq!(name_with_flags("x:1,foo", seen), None);
    }
}
