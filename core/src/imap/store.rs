//! STORE: the new flags of each message, from `FLAGS`, `+FLAGS` or `-FLAGS`.

use super::select::Selected;
use super::FlagUpdate;
use crate::mailbox::{Flag, Flags};
use imap_codec::imap_types::flag::{Flag as WireFlag, StoreType};

/// A keyword or an unknown `\` flag: this version stores system flags only
/// (PERMANENTFLAGS says so; no `\*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unsupported;

pub(super) fn system_flags(flags: &[WireFlag<'_>]) -> Result<Flags, Unsupported> {
    flags.iter().try_fold(Flags::NONE, |acc, f| {
        let f = match f {
            WireFlag::Answered => Flag::Answered,
            WireFlag::Deleted => Flag::Deleted,
            WireFlag::Draft => Flag::Draft,
            WireFlag::Flagged => Flag::Flagged,
            WireFlag::Seen => Flag::Seen,
            _ => return Err(Unsupported),
        };
        Ok(acc.with(f))
    })
}

fn combine(old: Flags, kind: StoreType, given: Flags) -> Flags {
    match kind {
        StoreType::Replace => given,
        StoreType::Add => given.iter().fold(old, Flags::with),
        StoreType::Remove => given.iter().fold(old, Flags::without),
    }
}

/// The updates for `uids` (messages another session expunged are skipped, RFC 2180
/// §4.2.1; their count is returned). Messages whose flags would not change are left
/// out of the updates but still answered with FETCH.
pub(super) fn updates(
    sel: &Selected,
    uids: &[u32],
    kind: StoreType,
    given: Flags,
) -> (Vec<FlagUpdate>, usize) {
    let mut out = Vec::new();
    let mut gone = 0;
    for &uid in uids {
        match sel.meta(uid) {
            Some(m) if !sel.view.is_gone(uid) => {
                let flags = combine(m.flags, kind, given);
                if flags != m.flags {
                    out.push(FlagUpdate { uid, flags });
                }
            }
            _ => gone += 1,
        }
    }
    (out, gone)
}
