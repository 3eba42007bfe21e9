//! Reading a version-1 `mailroom-index` (the POP3-only index) so that a folder is
//! turned into version 2 in place with the same UIDVALIDITY, UIDs and held marks; the
//! POP3 UIDL (the base name) is the same in both.
//!
//! ```text
//! mailroom-index 1
//! uidvalidity 1767225600
//! nextuid 4
//! 1 4096 - 1767225600.M1P2Q3.host,S=4096
//! 3 120 H 1767225601.M5P2Q4.host,S=118
//! ```

use mailroom_core::mailbox::{Flags, FolderIndex, MessageMeta};
use std::collections::HashMap;

pub const V1_HEADER: &str = "mailroom-index 1";

/// One version-1 message line.
struct V1Message {
    uid: u32,
    size: u64,
    held: bool,
    base: String,
}

/// Why a version-1 index could not be read.
#[derive(Debug, thiserror::Error)]
#[error("version-1 index line {line}: {what}")]
pub struct V1Error {
    pub line: usize,
    pub what: &'static str,
}

/// The version-2 index holding what the version-1 `text` held. `files` maps the base
/// names present on disk to their file name (for flags) and modification time; a
/// message whose file is gone is left out (its UID stays used: `nextuid` is kept).
pub fn from_v1(text: &str, files: &HashMap<String, (String, u64)>) -> Result<FolderIndex, V1Error> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    if lines.next().map(|(_, l)| l) != Some(V1_HEADER) {
        return Err(V1Error {
            line: 1,
            what: "not a version-1 index",
        });
    }
    let mut field = |key: &str| -> Result<u32, V1Error> {
        let (n, l) = lines.next().ok_or(V1Error {
            line: 0,
            what: "truncated",
        })?;
        l.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .ok_or(V1Error {
                line: n,
                what: "bad header line",
            })
    };
    let uidvalidity = field("uidvalidity")?;
    let next_uid = field("nextuid")?;
    let mut messages = Vec::new();
    for (n, line) in lines {
        let bad = V1Error {
            line: n,
            what: "bad message line",
        };
        let mut parts = line.splitn(4, ' ');
        let (Some(uid), Some(size), Some(attrs), Some(base)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad);
        };
        let (Ok(uid), Ok(size)) = (uid.parse::<u32>(), size.parse::<u64>()) else {
            return Err(bad);
        };
        if uid == 0 || uid >= next_uid {
            return Err(V1Error {
                line: n,
                what: "UID not below nextuid",
            });
        }
        messages.push(V1Message {
            uid,
            size,
            held: attrs.contains('H'),
            base: base.to_string(),
        });
    }
    let mut ix = FolderIndex::new(uidvalidity);
    ix.next_uid = next_uid;
    // Every message existed before the first change this index records.
    ix.highest_modseq = 1;
    // Version 1 had no \Recent: nothing old is recent to IMAP.
    ix.first_recent = next_uid;
    for m in messages {
        let Some((name, date)) = files.get(&m.base) else {
            continue;
        };
        if !mailroom_core::mailbox::valid_base(&m.base) {
            // The version-2 line cannot hold it; the next sync indexes the file anew.
            continue;
        }
        ix.messages.insert(
            m.uid,
            MessageMeta {
                uid: m.uid,
                modseq: 1,
                size: m.size,
                internal_date: *date,
                flags: Flags::from_file_name(name),
                keywords: Vec::new(),
                held: m.held,
                base: m.base,
            },
        );
    }
    Ok(ix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_uids_validity_and_held_marks() {
        let text = "mailroom-index 1\nuidvalidity 77\nnextuid 5\n1 10 - a\n3 20 H b\n4 5 - gone\n";
        let files: HashMap<String, (String, u64)> = [
            ("a".to_string(), ("a:2,S".to_string(), 100)),
            ("b".to_string(), ("b:2,".to_string(), 200)),
        ]
        .into_iter()
        .collect();
        let ix = from_v1(text, &files).unwrap();
        assert_eq!((ix.uidvalidity, ix.next_uid, ix.highest_modseq), (77, 5, 1));
        assert_eq!(ix.messages.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        assert!(ix.messages[&3].held);
        assert_eq!(ix.messages[&1].flags.to_string(), "S");
        assert_eq!(FolderIndex::parse(&ix.to_text()), Ok(ix));
        assert!(from_v1(
            "mailroom-index 1\nuidvalidity 7\nnextuid 2\n2 1 - x\n",
            &files
        )
        .is_err());
    }
}
