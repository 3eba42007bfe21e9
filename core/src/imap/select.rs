//! The selected state: the session's copy of the folder's index, its view (its own
//! sequence numbers), and the untagged reports of a sync point (docs/STORE.md
//! "Sharing and sessions", RFC 2180 §4.1).

use super::context::Contexts;
use super::write;
use crate::mailbox::{Flag, FolderIndex, MessageMeta, Record, Report, Rights, View};
use std::num::NonZeroU32;

#[derive(Debug)]
pub(super) struct Selected {
    pub(super) index: FolderIndex,
    pub(super) view: View,
    pub(super) read_only: bool,
    /// The user's rights in the folder (RFC 4314; all of them in their own).
    pub(super) rights: Rights,
    /// UIDs from here up to `next_at_select` were `\Recent` at SELECT (the store
    /// gave them to this session)…
    first_recent: u32,
    next_at_select: u32,
    /// …and so are the arrivals since that the store gave it.
    claimed: std::collections::BTreeSet<u32>,
    /// The folder's keyword table grew: FLAGS and PERMANENTFLAGS are owed
    /// (RFC 3501 §7.2.6).
    new_keywords: bool,
    /// CONTEXT=SEARCH results kept up to date (`context.rs`).
    pub(super) contexts: Contexts,
    /// QRESYNC is on: expunges are reported as `* VANISHED uids` (RFC 7162 §3.2.10).
    pub(super) qresync: bool,
}

/// The runtime's changes do not follow the session's copy of the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutOfStep;

impl Selected {
    pub(super) fn new(index: FolderIndex, read_only: bool, rights: Rights) -> Selected {
        Selected {
            view: View::new(&index),
            first_recent: index.first_recent,
            next_at_select: index.next_uid,
            claimed: std::collections::BTreeSet::new(),
            index,
            read_only,
            rights,
            new_keywords: false,
            contexts: Contexts::default(),
            qresync: false,
        }
    }

    pub(super) fn meta(&self, uid: u32) -> Option<&MessageMeta> {
        self.index.messages.get(&uid)
    }

    /// The keyword names of `uid`.
    pub(super) fn keyword_names(&self, uid: u32) -> Vec<String> {
        self.meta(uid)
            .map(|m| {
                m.keywords
                    .iter()
                    .filter_map(|&k| self.index.keywords.get(usize::from(k)).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn recent(&self, uid: u32) -> bool {
        (uid >= self.first_recent && uid < self.next_at_select) || self.claimed.contains(&uid)
    }

    /// Arrivals the store made `\Recent` in this session. A read-only session
    /// (EXAMINE) takes none: RFC 3501 leaves them for a later SELECT.
    pub(super) fn claim_recent(&mut self, uids: &[u32]) {
        if !self.read_only {
            self.claimed.extend(uids.iter().copied());
        }
    }

    /// Apply changes to the copy, and to the view when `note` (a session's own flag
    /// changes are answered by its STORE, not reported again). Records the copy
    /// already holds (by MODSEQ) are skipped, so the runtime may hand some over twice.
    pub(super) fn apply(&mut self, records: &[Record], note: bool) -> Result<(), OutOfStep> {
        for r in records {
            let seen = match r {
                Record::Keyword(k) => self.index.keyword_id(k).is_some(),
                Record::Recent { first } => *first <= self.index.first_recent,
                _ => r.modseq().is_some_and(|m| m <= self.index.highest_modseq),
            };
            if seen {
                continue;
            }
            self.index.apply(r).map_err(|_| OutOfStep)?;
            self.new_keywords |= matches!(r, Record::Keyword(_));
            if note {
                self.view.note(r);
            }
        }
        Ok(())
    }

    /// Write what may be reported now: EXPUNGE (only when `expunges`), EXISTS and
    /// RECENT, and FETCH FLAGS of messages others changed.
    pub(super) fn report(&mut self, out: &mut Vec<u8>, expunges: bool, modseq: bool) {
        if std::mem::take(&mut self.new_keywords) {
            self.write_flags(out);
        }
        let mut contexts = std::mem::take(&mut self.contexts);
        // Removals first, numbered as the client still numbers them.
        contexts.update(self, out, false);
        if expunges && self.qresync {
            let gone: Vec<u32> = self
                .view
                .uids()
                .iter()
                .copied()
                .filter(|&u| self.view.is_gone(u))
                .collect();
            if !gone.is_empty() {
                out.extend_from_slice(b"* VANISHED ");
                out.extend_from_slice(super::esearch::compact(gone).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        for r in self.view.report(expunges) {
            match r {
                Report::Expunge { .. } if self.qresync => {}
                Report::Expunge { seq } => {
                    out.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
                }
                Report::Exists { count } => {
                    out.extend_from_slice(format!("* {count} EXISTS\r\n").as_bytes());
                    out.extend_from_slice(
                        format!("* {} RECENT\r\n", self.recent_count()).as_bytes(),
                    );
                }
                Report::Flags { seq, uid } => {
                    out.extend_from_slice(format!("* {seq} FETCH (UID {uid} FLAGS ").as_bytes());
                    self.flags(out, uid);
                    if modseq {
                        if let Some(m) = self.meta(uid) {
                            out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
                        }
                    }
                    out.extend_from_slice(b")\r\n");
                }
            }
        }
        contexts.update(self, out, true);
        self.contexts = contexts;
    }

    /// CONTEXT=SEARCH updates for the session's own changes that are answered
    /// without a report (the `\Seen` a FETCH of bodies sets).
    pub(super) fn update_contexts(&mut self, out: &mut Vec<u8>) {
        let mut contexts = std::mem::take(&mut self.contexts);
        contexts.update(self, out, true);
        self.contexts = contexts;
    }

    pub(super) fn recent_count(&self) -> usize {
        self.view.uids().iter().filter(|&&u| self.recent(u)).count()
    }

    /// The flag list of `uid` (empty if it is gone).
    pub(super) fn flags(&self, out: &mut Vec<u8>, uid: u32) {
        let (flags, kws) = match self.meta(uid) {
            Some(m) => (
                m.flags,
                m.keywords
                    .iter()
                    .filter_map(|&k| self.index.keywords.get(usize::from(k)).map(String::as_str))
                    .collect::<Vec<_>>(),
            ),
            None => (crate::mailbox::Flags::NONE, Vec::new()),
        };
        write::flag_list(out, flags, &kws, self.recent(uid));
    }

    /// The untagged part of SELECT/EXAMINE's answer (RFC 3501 §6.3.1, RFC 7162 §3.1.2).
    /// `* FLAGS (…)`, the system flags and the folder's keywords.
    fn flags_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
        for k in &self.index.keywords {
            out.push(b' ');
            out.extend_from_slice(k.as_bytes());
        }
        out.extend_from_slice(b")\r\n");
    }

    /// FLAGS and PERMANENTFLAGS.
    fn write_flags(&self, out: &mut Vec<u8>) {
        self.flags_line(out);
        self.permanent_flags(out);
    }

    fn permanent_flags(&self, out: &mut Vec<u8>) {
        if self.read_only {
            out.extend_from_slice(b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
        } else {
            // The folder's keywords too, as Dovecot lists them: a client that sees a
            // keyword in FETCH but not here takes it for one it may not keep.
            // Only what the user's rights let them keep (RFC 4314 §4, STORE).
            let mut kept: Vec<&str> = Vec::new();
            for f in [
                Flag::Answered,
                Flag::Flagged,
                Flag::Deleted,
                Flag::Seen,
                Flag::Draft,
            ] {
                if self.rights.changeable().contains(f) {
                    kept.push(f.imap_name());
                }
            }
            if self.rights.contains(Rights::WRITE) {
                kept.extend(self.index.keywords.iter().map(String::as_str));
                kept.push("\\*");
            }
            out.extend_from_slice(b"* OK [PERMANENTFLAGS (");
            out.extend_from_slice(kept.join(" ").as_bytes());
            out.extend_from_slice(b")] Flags permitted\r\n");
        }
    }

    pub(super) fn write_opening(&self, out: &mut Vec<u8>) {
        let ix = &self.index;
        self.flags_line(out);
        out.extend_from_slice(format!("* {} EXISTS\r\n", self.view.len()).as_bytes());
        out.extend_from_slice(format!("* {} RECENT\r\n", self.recent_count()).as_bytes());
        let unseen = self
            .view
            .uids()
            .iter()
            .position(|u| self.meta(*u).is_some_and(|m| !m.flags.contains(Flag::Seen)));
        if let Some(i) = unseen {
            let seq = i + 1;
            out.extend_from_slice(
                format!("* OK [UNSEEN {seq}] Message {seq} is first unseen\r\n").as_bytes(),
            );
        }
        out.extend_from_slice(
            format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", ix.uidvalidity).as_bytes(),
        );
        out.extend_from_slice(
            format!("* OK [UIDNEXT {}] Predicted next UID\r\n", ix.next_uid).as_bytes(),
        );
        out.extend_from_slice(
            format!(
                "* OK [HIGHESTMODSEQ {}] Highest\r\n",
                ix.highest_modseq.max(1)
            )
            .as_bytes(),
        );
        self.permanent_flags(out);
    }

    /// The messages a sequence set names, as UIDs in sequence order. `uid_set` reads
    /// the numbers as UIDs (non-existent ones are ignored, RFC 3501 §6.4.8).
    pub(super) fn resolve(
        &self,
        set: &imap_codec::imap_types::sequence::SequenceSet,
        uid_set: bool,
    ) -> Result<Vec<u32>, BadSet> {
        let uids = self.view.uids();
        let Some(&last_uid) = uids.last() else {
            // `*` in an empty folder names nothing; a number names a message that is
            // not there.
            return if uid_set { Ok(Vec::new()) } else { Err(BadSet) };
        };
        if uid_set {
            let largest = NonZeroU32::new(last_uid).ok_or(BadSet)?;
            let mut out: Vec<u32> = Vec::new();
            for r in ranges(set, largest) {
                let lo = uids.partition_point(|&u| u < r.0);
                let hi = uids.partition_point(|&u| u <= r.1);
                out.extend_from_slice(&uids[lo..hi]);
            }
            out.sort_unstable();
            out.dedup();
            Ok(out)
        } else {
            let n = u32::try_from(uids.len()).map_err(|_| BadSet)?;
            let largest = NonZeroU32::new(n).ok_or(BadSet)?;
            let mut seqs: Vec<u32> = Vec::new();
            for r in ranges(set, largest) {
                if r.1 > n {
                    return Err(BadSet);
                }
                seqs.extend(r.0..=r.1);
            }
            seqs.sort_unstable();
            seqs.dedup();
            Ok(seqs.into_iter().filter_map(|s| self.view.uid(s)).collect())
        }
    }
}

/// A message sequence number beyond the folder (RFC 3501 §6.4: BAD... Dovecot says
/// `BAD Error in IMAP command: Invalid messageset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadSet;

/// The set's ranges as (low, high), `*` = `largest`; never expanded one by one, so
/// `1:4294967295` costs nothing.
pub(super) fn ranges(
    set: &imap_codec::imap_types::sequence::SequenceSet,
    largest: NonZeroU32,
) -> Vec<(u32, u32)> {
    use imap_codec::imap_types::sequence::Sequence;
    set.0
        .as_ref()
        .iter()
        .map(|s| match s {
            Sequence::Single(a) => {
                let a = a.expand(largest).get();
                (a, a)
            }
            Sequence::Range(a, b) => {
                let (a, b) = (a.expand(largest).get(), b.expand(largest).get());
                (a.min(b), a.max(b))
            }
        })
        .collect()
}
