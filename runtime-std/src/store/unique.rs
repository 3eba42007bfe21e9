//! Names that no other delivery, thread or process on this host will ever pick.
//!
//! The Maildir convention (`<secs>.M<usec>P<pid>Q<n>.<host>`) makes a name unique by
//! combining the time, the process id and a per-process counter: the counter separates
//! threads of one process, the pid separates processes running at the same moment, and
//! the time separates a restarted process that got an old pid back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `<secs>.M<usec>P<pid>Q<n>`: unique on this host, and a safe path component. The
/// microseconds have six digits so that plain name order is arrival order for other
/// Maildir readers too (ours compares digit runs as numbers, `scan::natural_cmp`, for
/// names written before).
pub fn local_unique() -> String {
    let us = crate::platform::clock::unix_micros();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{:06}P{}Q{}",
        us / 1_000_000,
        us % 1_000_000,
        std::process::id(),
        n
    )
}

/// A Maildir file name: `<local_unique>.<host>,S=<size>`. The `S=` size suffix is the
/// Maildir++ extension readers such as Dovecot use to size a message without `stat`.
pub fn maildir_name(size: usize) -> String {
    format!("{}.{},S={}", local_unique(), hostname(), size)
}

/// The host name with the characters Maildir reserves (`/` and `:`) escaped as the
/// specification asks, and anything else odd replaced, so the name is one path
/// component whatever the system reports.
fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| sanitize(&raw_hostname()))
}

fn raw_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at most
    // that many bytes and we only read up to the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn sanitize(host: &str) -> String {
    let mut s = String::with_capacity(host.len());
    for c in host.chars() {
        match c {
            '/' => s.push_str("\\057"),
            ':' => s.push_str("\\072"),
            ',' => s.push_str("\\054"),
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' => s.push(c),
            _ => s.push('_'),
        }
    }
    if s.is_empty() || s.starts_with('.') {
        s.insert_str(0, "host");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hostname_is_one_safe_component() {
        assert_eq!(sanitize("a/b:c,d e"), "a\\057b\\072c\\054d_e");
        assert_eq!(sanitize(""), "host");
        assert_eq!(sanitize(".."), "host..");
        assert!(!hostname().contains('/'));
    }

    #[test]
    fn names_from_many_threads_are_distinct() {
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..500).map(|_| maildir_name(10)).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for name in h.join().unwrap_or_default() {
                assert!(all.insert(name));
            }
        }
        assert_eq!(all.len(), 4000);
    }
}
