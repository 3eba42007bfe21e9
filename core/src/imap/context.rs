//! CONTEXT=SEARCH (RFC 5267 §4.2): `SEARCH RETURN (UPDATE …)` keeps the result up to
//! date: whenever the session reports changes of the selected folder it also sends
//! `* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set)` (before the EXPUNGEs, so the numbers
//! are the ones the client still has) and `ADDTO (0 set)` (after EXISTS). The
//! position is 0: a SEARCH result has no order to keep (RFC 5267 §4.3). CANCELUPDATE
//! ends one. Contexts belong to the selected folder and go with it.
//!
//! A message's text never changes, only its flags; so the outcome of each text key
//! (BODY, SUBJECT, …) is kept per message ([`search::text_leaves`]) and a message is
//! looked at again without its bytes. A message the session has no outcomes for yet
//! (new mail) needs its bytes once: the session asks for them at the next sync point
//! ([`Contexts::missing_text`], [`Contexts::fill`]) before it reports the change.

use super::esearch;
use super::search::{self, Text};
use super::select::Selected;
use imap_codec::imap_types::search::SearchKey;
use std::collections::{BTreeSet, HashMap};

/// Contexts one session may keep (Dovecot has no limit; each costs a look at every
/// message at each report).
pub(super) const MAX_CONTEXTS: usize = 16;

#[derive(Debug)]
pub(super) struct SearchContext {
    tag: String,
    uid: bool,
    keys: Vec<SearchKey<'static>>,
    needs_text: bool,
    /// UIDs in the result as the client knows it.
    result: BTreeSet<u32>,
    /// The text keys' outcomes by UID (only when `needs_text`).
    leaves: HashMap<u32, Vec<bool>>,
}

impl SearchContext {
    pub(super) fn new(
        tag: String,
        uid: bool,
        keys: Vec<SearchKey<'static>>,
        needs_text: bool,
        result: impl IntoIterator<Item = u32>,
        leaves: HashMap<u32, Vec<bool>>,
    ) -> SearchContext {
        SearchContext {
            tag,
            uid,
            keys,
            needs_text,
            result: result.into_iter().collect(),
            leaves,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Contexts(Vec<SearchContext>);

/// No room for one more context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

impl Contexts {
    /// A new context; one with the same tag is replaced (tags should be unique).
    pub(super) fn add(&mut self, c: SearchContext) -> Result<(), Full> {
        self.0.retain(|o| o.tag != c.tag);
        if self.0.len() >= MAX_CONTEXTS {
            return Err(Full);
        }
        self.0.push(c);
        Ok(())
    }

    /// CANCELUPDATE of `tag`: whether there was one.
    pub(super) fn cancel(&mut self, tag: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|c| c.tag != tag);
        self.0.len() != before
    }

    /// Messages of the folder whose text a context has not seen yet.
    pub(super) fn missing_text(&self, sel: &Selected) -> Vec<u32> {
        if !self.0.iter().any(|c| c.needs_text) {
            return Vec::new();
        }
        sel.index
            .visible()
            .map(|m| m.uid)
            .filter(|u| {
                self.0
                    .iter()
                    .any(|c| c.needs_text && !c.leaves.contains_key(u))
            })
            .collect()
    }

    /// The bytes of `uid` (`None`: gone meanwhile, so it matches no text key).
    pub(super) fn fill(&mut self, uid: u32, raw: Option<&[u8]>) {
        let text = raw.map(Text::new);
        for c in self.0.iter_mut().filter(|c| c.needs_text) {
            if !c.leaves.contains_key(&uid) {
                let leaves = match &text {
                    Some(t) => search::text_leaves(&c.keys, t),
                    None => Vec::new(),
                };
                c.leaves.insert(uid, leaves);
            }
        }
    }

    /// Look at every message the client sees again and write what changed:
    /// REMOVEFROM always, ADDTO only when `adds` (after EXISTS went out).
    pub(super) fn update(&mut self, sel: &Selected, out: &mut Vec<u8>, adds: bool) {
        for c in &mut self.0 {
            let mut removed = Vec::new();
            let mut added = Vec::new();
            let mut seen = BTreeSet::new();
            for (i, &uid) in sel.view.uids().iter().enumerate() {
                let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let was = c.result.contains(&uid);
                let now = if sel.meta(uid).is_none() {
                    false
                } else if c.needs_text {
                    match c.leaves.get(&uid) {
                        Some(l) => search::matches_with(sel, &c.keys, seq, uid, l).is_some(),
                        // Not looked at yet: left as it is until the next sync point.
                        None => was,
                    }
                } else {
                    search::matches(sel, &c.keys, seq, uid, None).is_some()
                };
                let num = if c.uid { uid } else { seq };
                if was && !now {
                    removed.push(num);
                    c.result.remove(&uid);
                } else if !was && now && adds {
                    added.push(num);
                    c.result.insert(uid);
                }
                seen.insert(uid);
            }
            // Messages the client no longer sees are out of the result already.
            c.result.retain(|u| seen.contains(u));
            if adds && c.needs_text {
                c.leaves.retain(|u, _| sel.meta(*u).is_some());
            }
            for (what, nums) in [("REMOVEFROM", removed), ("ADDTO", added)] {
                if nums.is_empty() {
                    continue;
                }
                out.extend_from_slice(b"* ESEARCH (TAG ");
                super::write::string(out, c.tag.as_bytes());
                out.push(b')');
                if c.uid {
                    out.extend_from_slice(b" UID");
                }
                out.extend_from_slice(format!(" {what} (0 ").as_bytes());
                out.extend_from_slice(esearch::compact(nums).as_bytes());
                out.extend_from_slice(b")\r\n");
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `tag CANCELUPDATE "t1" "t2" …` (RFC 5267 §4.2), which imap-codec does not parse:
/// the command's tag and the tags named; `None` if `msg` is not CANCELUPDATE. A
/// malformed one is `Some(Err(tag))`.
pub(super) fn cancel_line(msg: &[u8]) -> Option<Result<(String, Vec<String>), String>> {
    let text = std::str::from_utf8(msg).ok()?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))?;
    let (tag, rest) = text.split_once(' ')?;
    let (cmd, args) = rest.split_once(' ').unwrap_or((rest, ""));
    if !cmd.eq_ignore_ascii_case("CANCELUPDATE") {
        return None;
    }
    let mut tags = Vec::new();
    let mut rest = args.trim_start();
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('"') else {
            return Some(Err(tag.to_owned()));
        };
        let Some(end) = inner.find('"') else {
            return Some(Err(tag.to_owned()));
        };
        tags.push(inner[..end].to_owned());
        rest = inner[end + 1..].trim_start();
    }
    if tags.is_empty() {
        return Some(Err(tag.to_owned()));
    }
    Some(Ok((tag.to_owned(), tags)))
}

#[cfg(test)]
mod tests {
    use super::cancel_line;

    #[test]
    fn cancelupdate_forms() {
        assert_eq!(
            cancel_line(b"a CANCELUPDATE \"x1\" \"x2\"\r\n"),
            Some(Ok(("a".into(), vec!["x1".into(), "x2".into()])))
        );
        assert_eq!(cancel_line(b"b cancelupdate\r\n"), Some(Err("b".into())));
        assert_eq!(cancel_line(b"c CANCELUPDATE x\r\n"), Some(Err("c".into())));
        assert_eq!(cancel_line(b"d NOOP\r\n"), None);
    }
}
