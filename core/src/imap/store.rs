//! STORE: the new flags and keywords of each message, from `FLAGS`, `+FLAGS` or
//! `-FLAGS`.

use super::select::Selected;
use super::FlagUpdate;
use crate::mailbox::{Flag, Flags, Rights};
use imap_codec::imap_types::flag::{Flag as WireFlag, StoreType};

/// Keywords one command may name; more cannot be a real client.
pub(super) const MAX_KEYWORDS_PER_COMMAND: usize = 64;

/// `\Recent`, an unknown `\` flag, or too many keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unsupported;

/// System flags and keywords (as given, first spelling kept, no repeats).
pub(super) fn parse_flags(flags: &[WireFlag<'_>]) -> Result<(Flags, Vec<String>), Unsupported> {
    let mut sys = Flags::NONE;
    let mut kws: Vec<String> = Vec::new();
    for f in flags {
        let flag = match f {
            WireFlag::Answered => Flag::Answered,
            WireFlag::Deleted => Flag::Deleted,
            WireFlag::Draft => Flag::Draft,
            WireFlag::Flagged => Flag::Flagged,
            WireFlag::Seen => Flag::Seen,
            WireFlag::Keyword(k) => {
                let k: &str = k.as_ref();
                if !kws.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    kws.push(k.to_owned());
                }
                if kws.len() > MAX_KEYWORDS_PER_COMMAND {
                    return Err(Unsupported);
                }
                continue;
            }
            _ => return Err(Unsupported),
        };
        sys = sys.with(flag);
    }
    Ok((sys, kws))
}

fn combine(old: Flags, kind: StoreType, given: Flags) -> Flags {
    match kind {
        StoreType::Replace => given,
        StoreType::Add => given.iter().fold(old, Flags::with),
        StoreType::Remove => given.iter().fold(old, Flags::without),
    }
}

fn combine_keywords(old: &[String], kind: StoreType, given: &[String]) -> Vec<String> {
    let has = |set: &[String], k: &str| set.iter().any(|x| x.eq_ignore_ascii_case(k));
    match kind {
        StoreType::Replace => given.to_vec(),
        StoreType::Add => {
            let mut out = old.to_vec();
            out.extend(given.iter().filter(|k| !has(old, k)).cloned());
            out
        }
        StoreType::Remove => old.iter().filter(|k| !has(given, k)).cloned().collect(),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|k| b.iter().any(|x| x.eq_ignore_ascii_case(k)))
}

/// The updates for `uids` (messages another session expunged are skipped, RFC 2180
/// §4.2.1). Messages whose flags would not change are left out of the updates but
/// still answered with FETCH. Changes the user's rights do not allow are dropped
/// silently, as RFC 4314 §4 asks of STORE.
pub(super) fn updates(
    sel: &Selected,
    uids: &[u32],
    kind: StoreType,
    given: Flags,
    keywords: &[String],
) -> Vec<FlagUpdate> {
    let mut out = Vec::new();
    let allowed = sel.rights.changeable();
    for &uid in uids {
        // A message another session expunged is left out (see `store_done`).
        let Some(m) = sel.meta(uid).filter(|_| !sel.view.is_gone(uid)) else {
            continue;
        };
        let wanted = combine(m.flags, kind, given);
        let flags = Flag::ALL.into_iter().fold(m.flags, |acc, f| {
            match (allowed.contains(f), wanted.contains(f)) {
                (false, _) => acc,
                (true, true) => acc.with(f),
                (true, false) => acc.without(f),
            }
        });
        let old = sel.keyword_names(uid);
        let kws = if sel.rights.contains(Rights::WRITE) {
            combine_keywords(&old, kind, keywords)
        } else {
            old.clone()
        };
        if flags != m.flags || !same_set(&old, &kws) {
            out.push(FlagUpdate {
                uid,
                flags,
                keywords: kws,
            });
        }
    }
    out
}
