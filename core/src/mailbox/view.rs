//! A session's view of a folder: its own sequence numbers, and which of the changes
//! it has taken in it may report now (RFC 3501 §7.4.1, RFC 2180 §4.1).

use super::index::FolderIndex;
use super::journal::Record;
use std::collections::BTreeSet;

/// An untagged report a session may send after catching up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// `* n EXPUNGE`: the message at sequence number `seq` is gone; later ones move up.
    Expunge { seq: u32 },
    /// `* n EXISTS`: the folder now holds `count` messages.
    Exists { count: u32 },
    /// `* n FETCH (FLAGS …)`: the flags (or keywords) of `uid`, at `seq`, changed.
    Flags { seq: u32, uid: u32 },
}

/// What one session has told its client, and what it has yet to tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// UIDs by sequence number (index 0 is sequence number 1), ascending.
    uids: Vec<u32>,
    /// Arrived, not yet announced with EXISTS.
    arrived: Vec<u32>,
    /// Expunged or held elsewhere, not yet announced: still in `uids`, so sequence
    /// numbers do not move under the client's feet.
    gone: BTreeSet<u32>,
    /// Flags changed, not yet announced.
    changed: BTreeSet<u32>,
}

impl View {
    /// The view a session gets when it selects the folder.
    pub fn new(index: &FolderIndex) -> View {
        View {
            uids: index.visible().map(|m| m.uid).collect(),
            ..View::default()
        }
    }

    /// Messages the client knows of (its `EXISTS`).
    pub fn len(&self) -> usize {
        self.uids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// The UID at sequence number `seq` (1-based).
    pub fn uid(&self, seq: u32) -> Option<u32> {
        let i = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.uids.get(i).copied()
    }

    /// The sequence number of `uid`, if the client knows it.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        let i = self.uids.binary_search(&uid).ok()?;
        u32::try_from(i + 1).ok()
    }

    /// UIDs in sequence order.
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// A message the client still sees whose message is gone (RFC 2180 §4.1: FETCH of
    /// it may answer NO or what was cached; STORE to it is refused).
    pub fn is_gone(&self, uid: u32) -> bool {
        self.gone.contains(&uid)
    }

    fn known(&self, uid: u32) -> bool {
        self.uids.binary_search(&uid).is_ok() || self.arrived.contains(&uid)
    }

    /// Take in one change, in journal order. Nothing is reported until [`View::report`].
    ///
    /// A message shown again after being held keeps a UID below ones the client has
    /// seen, so it is left for the next SELECT (sequence order must follow UID order).
    pub fn note(&mut self, change: &Record) {
        match change {
            Record::Added(m) if !m.held => {
                if self.uids.last().is_none_or(|&l| m.uid > l)
                    && self.arrived.last().is_none_or(|&l| m.uid > l)
                {
                    self.arrived.push(m.uid);
                }
            }
            Record::Expunged { uid, .. }
            | Record::Held {
                uid, held: true, ..
            } => {
                self.changed.remove(uid);
                if let Some(i) = self.arrived.iter().position(|u| u == uid) {
                    self.arrived.remove(i);
                } else if self.uids.binary_search(uid).is_ok() {
                    self.gone.insert(*uid);
                }
            }
            Record::Flags { uid, .. } => {
                if self.known(*uid) && !self.gone.contains(uid) {
                    self.changed.insert(*uid);
                }
            }
            Record::Added(_) | Record::Held { .. } | Record::Keyword(_) | Record::Recent { .. } => {
            }
        }
    }

    /// What may be sent now. `expunges_allowed` is false while answering FETCH, STORE
    /// or SEARCH (and their UID forms): then expunges wait, and sequence numbers stay.
    pub fn report(&mut self, expunges_allowed: bool) -> Vec<Report> {
        let mut out = Vec::new();
        if expunges_allowed {
            for uid in std::mem::take(&mut self.gone) {
                if let Ok(i) = self.uids.binary_search(&uid) {
                    self.uids.remove(i);
                    out.push(Report::Expunge {
                        seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    });
                }
            }
        }
        if !self.arrived.is_empty() {
            self.uids.append(&mut self.arrived);
            out.push(Report::Exists {
                count: u32::try_from(self.uids.len()).unwrap_or(u32::MAX),
            });
        }
        for uid in std::mem::take(&mut self.changed) {
            if let Some(seq) = self.seq(uid) {
                out.push(Report::Flags { seq, uid });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::{Flag, Flags, MessageMeta};

    fn add(ix: &mut FolderIndex, uid: u32) -> Record {
        let r = Record::Added(MessageMeta {
            uid,
            modseq: ix.next_modseq(),
            size: 1,
            internal_date: 0,
            flags: Flags::NONE,
            keywords: vec![],
            held: false,
            base: format!("b{uid}"),
        });
        ix.apply(&r).unwrap();
        r
    }

    #[test]
    fn expunges_wait_during_fetch_and_renumber_after() {
        let mut ix = FolderIndex::new(1);
        for uid in 1..=4 {
            add(&mut ix, uid);
        }
        let mut v = View::new(&ix);
        let x2 = Record::Expunged {
            uid: 2,
            modseq: ix.next_modseq(),
        };
        ix.apply(&x2).unwrap();
        v.note(&x2);
        let x3 = Record::Expunged {
            uid: 3,
            modseq: ix.next_modseq(),
        };
        ix.apply(&x3).unwrap();
        v.note(&x3);
        let f4 = Record::Flags {
            uid: 4,
            modseq: ix.next_modseq(),
            flags: Flags::NONE.with(Flag::Seen),
            keywords: vec![],
        };
        ix.apply(&f4).unwrap();
        v.note(&f4);
        let a5 = add(&mut ix, 5);
        v.note(&a5);
        // During FETCH: no EXPUNGE; message 4 is still sequence number 4.
        assert_eq!(
            v.report(false),
            vec![
                Report::Exists { count: 5 },
                Report::Flags { seq: 4, uid: 4 }
            ]
        );
        assert!(v.is_gone(2));
        // At NOOP: the expunges, each numbered as the client sees it at that moment.
        assert_eq!(
            v.report(true),
            vec![Report::Expunge { seq: 2 }, Report::Expunge { seq: 2 }]
        );
        assert_eq!(v.uids(), &[1, 4, 5]);
        assert_eq!((v.seq(4), v.uid(3)), (Some(2), Some(5)));
        assert_eq!(v.report(true), vec![]);
    }

    #[test]
    fn arrivals_expunged_before_announced_are_never_seen() {
        let mut ix = FolderIndex::new(1);
        let mut v = View::new(&ix);
        let a = add(&mut ix, 1);
        v.note(&a);
        let x = Record::Expunged {
            uid: 1,
            modseq: ix.next_modseq(),
        };
        ix.apply(&x).unwrap();
        v.note(&x);
        assert_eq!(v.report(true), vec![]);
        assert!(v.is_empty());
    }
}
