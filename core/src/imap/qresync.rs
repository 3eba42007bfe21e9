//! QRESYNC (RFC 7162 §3.2): `SELECT … (QRESYNC (uidvalidity modseq [known-uids]))`
//! and `UID FETCH … (CHANGEDSINCE n VANISHED)` answer `* VANISHED (EARLIER) uids`
//! for the messages the client may still have that are gone. Expunges reported as
//! `* VANISHED uids` once QRESYNC is on are written by `select.rs`'s report (same
//! RFC 2180 deferral as EXPUNGE).
//!
//! The folder index keeps no expunged UIDs, so "gone since modseq" is answered with
//! every UID in the range the client names (or below UIDNEXT) that no message has:
//! a superset, which RFC 7162 §3.2.5.1 lets a server send (a client ignores UIDs it
//! does not have). It is computed from ranges, never one UID at a time, so
//! `1:4294967295` costs what the folder's size costs.

use super::fetch::{self, Item};
use super::select::{ranges, Selected};
use imap_codec::imap_types::sequence::SequenceSet;
use std::num::NonZeroU32;

/// UIDs named by `known` (all below UIDNEXT when `None`) that no message of the
/// folder has, as a compact set; empty if none.
pub(super) fn missing(sel: &Selected, known: Option<&SequenceSet>) -> String {
    let top = sel.index.next_uid.saturating_sub(1);
    let Some(top_nz) = NonZeroU32::new(top) else {
        return String::new();
    };
    let asked = match known {
        Some(set) => ranges(set, top_nz),
        None => vec![(1, top)],
    };
    let mut asked: Vec<(u32, u32)> = asked
        .into_iter()
        .filter_map(|(a, b)| (a <= top).then_some((a, b.min(top))))
        .collect();
    asked.sort_unstable();
    // The UIDs present, ascending (the index's messages, held ones included: they
    // exist, only hidden).
    let present: Vec<u32> = sel.index.messages.keys().copied().collect();
    let mut gaps: Vec<(u32, u32)> = Vec::new();
    for (a, b) in asked {
        let mut lo = a;
        let start = present.partition_point(|&u| u < a);
        for &u in present[start..].iter().take_while(|&&u| u <= b) {
            if u > lo {
                push_range(&mut gaps, lo, u - 1);
            }
            lo = u.saturating_add(1);
        }
        // `lo` cannot wrap: every UID here is at most `top`, below u32::MAX.
        if lo <= b {
            push_range(&mut gaps, lo, b);
        }
    }
    super::esearch::ranges_text(&gaps)
}

/// Add `a..=b` to ascending ranges, merging overlaps (the client's set may repeat).
fn push_range(r: &mut Vec<(u32, u32)>, a: u32, b: u32) {
    if let Some(last) = r.last_mut() {
        if a <= last.1.saturating_add(1) {
            last.1 = last.1.max(b);
            return;
        }
    }
    r.push((a, b));
}

/// `* VANISHED (EARLIER) set` when `set` is not empty.
pub(super) fn write_earlier(out: &mut Vec<u8>, set: &str) {
    if !set.is_empty() {
        out.extend_from_slice(b"* VANISHED (EARLIER) ");
        out.extend_from_slice(set.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The client's QRESYNC parameters of SELECT/EXAMINE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resync {
    pub(super) uid_validity: u32,
    pub(super) modseq: u64,
    pub(super) known_uids: Option<SequenceSet>,
}

/// After SELECT's untagged answer: what changed since the client's MODSEQ (RFC 7162
/// §3.2.5): VANISHED (EARLIER), then FETCH (UID FLAGS MODSEQ) of each message changed.
/// Nothing if UIDVALIDITY changed: the client must start over.
pub(super) fn after_select(sel: &Selected, out: &mut Vec<u8>, r: &Resync) {
    if r.uid_validity != sel.index.uidvalidity {
        return;
    }
    write_earlier(out, &missing(sel, r.known_uids.as_ref()));
    let items = [Item::Uid, Item::Flags, Item::ModSeq];
    for (i, &uid) in sel.view.uids().iter().enumerate() {
        if sel.meta(uid).is_some_and(|m| m.modseq > r.modseq) {
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            // No BINARY item here: nothing can fail.
            let _ = fetch::write_one(out, sel, seq, uid, &items, None);
        }
    }
}
