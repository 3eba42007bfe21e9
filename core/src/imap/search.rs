//! SEARCH over what the index knows (flags, sizes, internal dates, UIDs, MODSEQ).
//! Keys that need the message text (headers, body, sent dates) are refused for now:
//! they need the message bytes, an event per message, which is the next step.

use super::select::{ranges, Selected};
use super::write::days_from_civil;
use crate::mailbox::{Flag, MessageMeta};
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use std::num::NonZeroU32;

/// A key this version cannot evaluate (it needs the message text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NeedsText;

/// Deeper nesting than this is refused: a hostile `NOT NOT NOT …` must not
/// exhaust the stack (imap-codec bounds its own recursion too).
const MAX_DEPTH: usize = 64;

pub(super) struct Hit {
    pub(super) seq: u32,
    pub(super) uid: u32,
    pub(super) modseq: u64,
}

/// The messages matching every key, in sequence order.
pub(super) fn search(sel: &Selected, keys: &[SearchKey<'_>]) -> Result<Vec<Hit>, NeedsText> {
    let uids = sel.view.uids();
    let n = u32::try_from(uids.len()).unwrap_or(u32::MAX);
    let ctx = Ctx {
        sel,
        largest_seq: NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
        largest_uid: NonZeroU32::new(uids.last().copied().unwrap_or(1)).unwrap_or(NonZeroU32::MIN),
    };
    // Check every key once, so a refusal does not depend on the folder's contents.
    for k in keys {
        ctx.check(k, 0)?;
    }
    let mut hits = Vec::new();
    for (i, &uid) in uids.iter().enumerate() {
        let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
        // A message another session expunged is not found (RFC 2180 §4.1.3 lets the
        // server leave it out).
        let Some(m) = sel.meta(uid) else { continue };
        if keys.iter().all(|k| ctx.matches(k, seq, m)) {
            hits.push(Hit {
                seq,
                uid,
                modseq: m.modseq,
            });
        }
    }
    Ok(hits)
}

struct Ctx<'s> {
    sel: &'s Selected,
    largest_seq: NonZeroU32,
    largest_uid: NonZeroU32,
}

/// Unix seconds of the start of the day (UTC; internal dates are kept in UTC).
fn day_start(d: &NaiveDate) -> u64 {
    use chrono::Datelike;
    let d = d.as_ref();
    let days = days_from_civil(
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    u64::try_from(days.max(0)).unwrap_or(0) * 86_400
}

fn in_set(
    v: u32,
    set: &imap_codec::imap_types::sequence::SequenceSet,
    largest: NonZeroU32,
) -> bool {
    ranges(set, largest).iter().any(|&(a, b)| a <= v && v <= b)
}

impl Ctx<'_> {
    fn check(&self, k: &SearchKey<'_>, depth: usize) -> Result<(), NeedsText> {
        if depth > MAX_DEPTH {
            return Err(NeedsText);
        }
        match k {
            SearchKey::And(ks) => ks
                .as_ref()
                .iter()
                .try_for_each(|k| self.check(k, depth + 1)),
            SearchKey::Not(k) => self.check(k, depth + 1),
            SearchKey::Or(a, b) => {
                self.check(a, depth + 1)?;
                self.check(b, depth + 1)
            }
            SearchKey::SequenceSet(_)
            | SearchKey::Uid(_)
            | SearchKey::All
            | SearchKey::Answered
            | SearchKey::Unanswered
            | SearchKey::Deleted
            | SearchKey::Undeleted
            | SearchKey::Draft
            | SearchKey::Undraft
            | SearchKey::Flagged
            | SearchKey::Unflagged
            | SearchKey::Seen
            | SearchKey::Unseen
            | SearchKey::Recent
            | SearchKey::Old
            | SearchKey::New
            | SearchKey::Keyword(_)
            | SearchKey::Unkeyword(_)
            | SearchKey::Larger(_)
            | SearchKey::Smaller(_)
            | SearchKey::Before(_)
            | SearchKey::On(_)
            | SearchKey::Since(_)
            | SearchKey::ModSequence { entry: None, .. } => Ok(()),
            // Header and body text, sent dates, MODSEQ of one flag's entry.
            _ => Err(NeedsText),
        }
    }

    fn matches(&self, k: &SearchKey<'_>, seq: u32, m: &MessageMeta) -> bool {
        let flag = |f| m.flags.contains(f);
        let keyword = |name: &str| {
            self.sel
                .index
                .keyword_id(name)
                .is_some_and(|id| m.keywords.contains(&id))
        };
        let recent = self.sel.recent(m.uid);
        match k {
            SearchKey::And(ks) => ks.as_ref().iter().all(|k| self.matches(k, seq, m)),
            SearchKey::SequenceSet(s) => in_set(seq, s, self.largest_seq),
            SearchKey::Uid(s) => in_set(m.uid, s, self.largest_uid),
            SearchKey::All => true,
            SearchKey::Answered => flag(Flag::Answered),
            SearchKey::Unanswered => !flag(Flag::Answered),
            SearchKey::Deleted => flag(Flag::Deleted),
            SearchKey::Undeleted => !flag(Flag::Deleted),
            SearchKey::Draft => flag(Flag::Draft),
            SearchKey::Undraft => !flag(Flag::Draft),
            SearchKey::Flagged => flag(Flag::Flagged),
            SearchKey::Unflagged => !flag(Flag::Flagged),
            SearchKey::Seen => flag(Flag::Seen),
            SearchKey::Unseen => !flag(Flag::Seen),
            SearchKey::Recent => recent,
            SearchKey::Old => !recent,
            SearchKey::New => recent && !flag(Flag::Seen),
            SearchKey::Keyword(a) => keyword(a.as_ref()),
            SearchKey::Unkeyword(a) => !keyword(a.as_ref()),
            SearchKey::Larger(n) => m.size > u64::from(*n),
            SearchKey::Smaller(n) => m.size < u64::from(*n),
            SearchKey::Before(d) => m.internal_date < day_start(d),
            SearchKey::On(d) => {
                let s = day_start(d);
                (s..s + 86_400).contains(&m.internal_date)
            }
            SearchKey::Since(d) => m.internal_date >= day_start(d),
            SearchKey::Not(k) => !self.matches(k, seq, m),
            SearchKey::Or(a, b) => self.matches(a, seq, m) || self.matches(b, seq, m),
            SearchKey::ModSequence { modseq, .. } => m.modseq >= *modseq,
            // Refused by `check` before any message is looked at.
            _ => false,
        }
    }
}
