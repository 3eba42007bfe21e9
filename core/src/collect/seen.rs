//! The seen-UID book of one In Mail (DECISIONS.md "POP3 collection"): the UIDs of the
//! messages already collected from the ISP mailbox, each with the time it was first
//! collected. It keeps a message from being delivered twice (a crash between storing
//! it and DELE, or leave-on-server), and "leave messages on server N days" counts from
//! the first-seen time (§6.3.2).
//!
//! Pure data with a line-based text form. The runtime keeps the whole book in one file
//! written atomically, plus a journal of [`SeenBook::line`]s appended (and synced) as
//! messages are stored; on start it reads the book and [`SeenBook::apply_journal`]s
//! the journal, so the two texts together are always the truth.

use crate::time::Instant;
use std::collections::BTreeMap;
use std::time::Duration;

/// Most UIDs kept per In Mail; beyond this the oldest are forgotten (the ISP mailbox
/// would then hold more messages than any server lists).
pub const MAX_SEEN: usize = 1_000_000;

/// First line of the text form.
const MAGIC: &str = "mailroom-seen 1";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenBook {
    /// UID → first seen (wall clock, seconds since the Unix epoch: the book outlives
    /// the process, so it keeps dates, not monotonic readings).
    uids: BTreeMap<String, u64>,
}

/// A seen-book text that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seen-UID book line {line}: {message}")]
pub struct SeenError {
    pub line: usize,
    pub message: String,
}

/// A UID as this book can hold it: POP3 UIDL characters (0x21–0x7E), 1 to 200 octets.
pub fn valid_uid(uid: &str) -> bool {
    (1..=200).contains(&uid.len()) && uid.bytes().all(|b| (0x21..0x7f).contains(&b))
}

impl SeenBook {
    pub fn new() -> SeenBook {
        SeenBook::default()
    }

    pub fn len(&self) -> usize {
        self.uids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// When `uid` was first collected, placed on the monotonic line of `now`.
    pub fn first_seen(&self, uid: &str, now: Instant) -> Option<Instant> {
        self.uids.get(uid).map(|&s| Instant::from_unix_secs(s, now))
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.uids.contains_key(uid)
    }

    /// Note `uid` as collected at `now` (an earlier first-seen time is kept).
    pub fn insert(&mut self, uid: &str, now: Instant) {
        if !valid_uid(uid) {
            return;
        }
        self.uids.entry(uid.to_string()).or_insert(now.unix_secs());
        self.bound();
    }

    /// Whether a message first seen as `uid` has been left on the server long enough:
    /// `days` whole days have passed since it was first seen. `false` for a UID not in
    /// the book.
    pub fn due(&self, uid: &str, now: Instant, days: u32) -> bool {
        self.first_seen(uid, now).is_some_and(|t| {
            now.saturating_since(t) >= Duration::from_secs(u64::from(days) * 86_400)
        })
    }

    /// Forget the UIDs the server no longer lists.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.uids.retain(|u, _| keep(u));
    }

    /// One journal line recording `uid` as first seen at `now` (with its line end).
    pub fn line(uid: &str, now: Instant) -> String {
        format!("{} {uid}\n", now.unix_secs())
    }

    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(MAGIC.len() + 1 + self.uids.len() * 32);
        s.push_str(MAGIC);
        s.push('\n');
        for (uid, t) in &self.uids {
            s.push_str(&format!("{t} {uid}\n"));
        }
        s
    }

    /// Read the text of [`SeenBook::to_text`]. An empty text is an empty book.
    pub fn parse(text: &str) -> Result<SeenBook, SeenError> {
        let mut lines = text.lines();
        match lines.next() {
            None => return Ok(SeenBook::new()),
            Some(l) if l.trim() == MAGIC => {}
            Some(_) => {
                return Err(SeenError {
                    line: 1,
                    message: format!("expected {MAGIC:?}"),
                })
            }
        }
        let mut book = SeenBook::new();
        for (i, l) in lines.enumerate() {
            book.apply_line(l).map_err(|message| SeenError {
                line: i + 2,
                message,
            })?;
        }
        Ok(book)
    }

    /// Apply journal lines ([`SeenBook::line`]). A torn last line (a crash while it
    /// was being appended) is ignored; a bad line elsewhere is an error.
    pub fn apply_journal(&mut self, text: &str) -> Result<(), SeenError> {
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        for (i, l) in complete.lines().enumerate() {
            self.apply_line(l).map_err(|message| SeenError {
                line: i + 1,
                message,
            })?;
        }
        Ok(())
    }

    fn apply_line(&mut self, l: &str) -> Result<(), String> {
        let l = l.trim();
        if l.is_empty() {
            return Ok(());
        }
        let (t, uid) = l
            .split_once(' ')
            .ok_or_else(|| format!("expected \"SECONDS UID\", found {l:?}"))?;
        let t: u64 = t.parse().map_err(|_| format!("bad time {t:?}"))?;
        if !valid_uid(uid) {
            return Err(format!("bad UID {uid:?}"));
        }
        let e = self.uids.entry(uid.to_string()).or_insert(t);
        *e = (*e).min(t);
        self.bound();
        Ok(())
    }

    fn bound(&mut self) {
        while self.uids.len() > MAX_SEEN {
            let oldest = self
                .uids
                .iter()
                .min_by_key(|(_, &t)| t)
                .map(|(u, _)| u.clone());
            match oldest {
                Some(u) => {
                    self.uids.remove(&u);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn leave_n_days_counts_from_first_seen_across_a_restart() {
        let t0 = Instant::from_secs(1_000 * DAY);
        let mut book = SeenBook::new();
        book.insert("uid-a", t0);
        // Seen again later: the first time counts.
        book.insert("uid-a", t0 + Duration::from_secs(5 * DAY));
        let mut journal = SeenBook::line("uid-b", t0 + Duration::from_secs(DAY));
        // Restart: the book file plus the journal give the same book.
        let text = book.to_text();
        let mut back = SeenBook::parse(&text).unwrap();
        journal.push_str("17 torn-li"); // a crash mid-append
        back.apply_journal(&journal).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.first_seen("uid-a", t0), Some(t0));
        for day in 0..6u64 {
            let now = t0 + Duration::from_secs(day * DAY + 3600);
            assert_eq!(back.due("uid-a", now, 3), day >= 3, "day {day}");
            assert_eq!(back.due("uid-b", now, 3), day >= 4, "day {day}");
        }
        assert!(!back.due("unknown", t0 + Duration::from_secs(99 * DAY), 0));
        assert!(back.due("uid-a", t0, 0));
        back.retain(|u| u == "uid-b");
        assert!(!back.contains("uid-a"));
        assert_eq!(SeenBook::parse(&back.to_text()).unwrap(), back);
    }

    #[test]
    fn bad_texts_are_refused_and_bad_uids_not_kept() {
        assert!(SeenBook::parse("").unwrap().is_empty());
        assert_eq!(SeenBook::parse("junk\n").unwrap_err().line, 1);
        assert_eq!(
            SeenBook::parse("mailroom-seen 1\n12 ok\nxx y\n")
                .unwrap_err()
                .line,
            3
        );
        assert!(SeenBook::parse("mailroom-seen 1\n12 has space\n").is_err());
        let mut b = SeenBook::new();
        b.insert("", Instant::ZERO);
        b.insert("with space", Instant::ZERO);
        b.insert(&"x".repeat(201), Instant::ZERO);
        assert!(b.is_empty());
    }
}
