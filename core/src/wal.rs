//! The ingest journal's record format and the rules for reading it back after a crash
//! (docs/STORE.md "The ingest journal"). Pure: the store does the file I/O.
//!
//! A segment is a sequence of frames:
//!
//! ```text
//! "MRW1"  payload length (u32 LE)  CRC-32 of the payload (u32 LE)  payload
//! payload = name length (u16 LE) name  root count (u16 LE) { root length (u16 LE) root }  message
//! ```
//!
//! `name` is the Maildir file name the message gets, `root`s are the Maildirs it goes
//! to (relative to the mail directory), `message` is the rest of the payload.
//!
//! Frames are appended in order and a message is acknowledged only after an
//! `fdatasync` that covers its frame and every frame before it. So after a crash the
//! acknowledged messages are a prefix of the segment: reading stops at the first frame
//! that is torn or fails its checksum, and nothing after it was ever acknowledged.

/// Marks the start of every frame.
pub const MAGIC: &[u8; 4] = b"MRW1";
/// Magic, length, checksum.
pub const HEADER_LEN: usize = 12;
/// Longest payload accepted when reading: a frame claiming more is damage, not a
/// message (the SMTP size limit is far below this).
pub const MAX_PAYLOAD: usize = 1 << 30;

/// One accepted message: where it goes and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The Maildir file name (one path component).
    pub name: String,
    /// The Maildirs, relative to the mail directory, in delivery order.
    pub roots: Vec<String>,
    pub data: Vec<u8>,
}

/// Why a record cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{0} is not a safe Maildir file name")]
    Name(String),
    #[error("{0} is not a safe relative mailbox path")]
    Root(String),
    #[error("a journal record holds 1 to 65535 mailboxes")]
    RootCount,
    #[error("message too large for the journal")]
    TooLarge,
}

/// A Maildir file name as the journal accepts it: one component, no leading dot.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.bytes().any(|b| b == b'/' || b == 0)
}

/// A mailbox path relative to the mail directory: plain components only, so a damaged
/// or forged record can never point outside it.
pub fn is_safe_root(root: &str) -> bool {
    !root.is_empty()
        && root.len() <= 4096
        && !root.starts_with('/')
        && !root.bytes().any(|b| b == 0)
        && root
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The frame of `record`, ready to append.
pub fn encode(record: &Record) -> Result<Vec<u8>, EncodeError> {
    if !is_safe_name(&record.name) {
        return Err(EncodeError::Name(record.name.clone()));
    }
    if record.roots.is_empty() || record.roots.len() > usize::from(u16::MAX) {
        return Err(EncodeError::RootCount);
    }
    if let Some(bad) = record.roots.iter().find(|r| !is_safe_root(r)) {
        return Err(EncodeError::Root(bad.clone()));
    }
    let roots_len: usize = record.roots.iter().map(|r| 2 + r.len()).sum();
    let payload_len = 2 + record.name.len() + 2 + roots_len + record.data.len();
    if payload_len > MAX_PAYLOAD {
        return Err(EncodeError::TooLarge);
    }
    let mut payload = Vec::with_capacity(payload_len);
    push_str(&mut payload, &record.name);
    payload.extend_from_slice(&(record.roots.len() as u16).to_le_bytes());
    for r in &record.roots {
        push_str(&mut payload, r);
    }
    payload.extend_from_slice(&record.data);
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Both lengths were checked by the caller to fit in u16.
fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// What a segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The intact records, in order.
    pub records: Vec<Record>,
    /// Octets they occupy; anything after is a torn or damaged tail.
    pub valid_len: usize,
}

/// Read the intact prefix of a segment. Never fails: damage only ends the prefix.
pub fn decode(bytes: &[u8]) -> Segment {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, len)) = decode_frame(&bytes[at..]) {
        records.push(record);
        at += len;
    }
    Segment {
        records,
        valid_len: at,
    }
}

/// One frame at the start of `bytes` and its length, if it is whole and intact.
fn decode_frame(bytes: &[u8]) -> Option<(Record, usize)> {
    let header = bytes.get(..HEADER_LEN)?;
    if &header[..4] != MAGIC {
        return None;
    }
    let len = usize::try_from(u32::from_le_bytes(header[4..8].try_into().ok()?)).ok()?;
    if len > MAX_PAYLOAD {
        return None;
    }
    let crc = u32::from_le_bytes(header[8..12].try_into().ok()?);
    let payload = bytes.get(HEADER_LEN..HEADER_LEN.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let mut rest = payload;
    let name = take_str(&mut rest)?;
    let count = take_u16(&mut rest)?;
    let mut roots = Vec::with_capacity(usize::from(count).min(64));
    for _ in 0..count {
        roots.push(take_str(&mut rest)?);
    }
    // A frame with a valid checksum but unsafe paths was not written by us: stop.
    if !is_safe_name(&name) || roots.is_empty() || !roots.iter().all(|r| is_safe_root(r)) {
        return None;
    }
    let record = Record {
        name,
        roots,
        data: rest.to_vec(),
    };
    Some((record, HEADER_LEN + len))
}

fn take_u16(rest: &mut &[u8]) -> Option<u16> {
    let (head, tail) = rest.split_first_chunk::<2>()?;
    *rest = tail;
    Some(u16::from_le_bytes(*head))
}

fn take_str(rest: &mut &[u8]) -> Option<String> {
    let n = usize::from(take_u16(rest)?);
    let s = rest.get(..n)?;
    let s = std::str::from_utf8(s).ok()?.to_owned();
    *rest = &rest[n..];
    Some(s)
}

/// What replay does for one mailbox of a record, given the file already there (found
/// in `new/` or, renamed by a reader, in `cur/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The message is there, complete: nothing to do (replay stays idempotent).
    Keep,
    /// The file is there but its content did not survive the crash (it was renamed
    /// into place before it was flushed): write it again at the same path.
    Rewrite,
    /// No file: the rename was lost with the crash, so place the message again.
    Place,
}

/// What stopped the process that wrote the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The process died but the system did not (same boot): every write and rename it
    /// made is still in the page cache, so a file it placed is there unless a reader
    /// deleted it since, and a record it never placed was never acknowledged.
    Process,
    /// The system went down (another boot, or unknown): unflushed writes and renames
    /// may be lost.
    System,
}

/// The replay decision for one mailbox.
pub fn replay(existing: Option<&[u8]>, data: &[u8], stop: Stop) -> Replay {
    match (existing, stop) {
        // Placing again would bring back what a reader expunged (deleted mail never
        // comes back, docs/STORE.md), and nothing acknowledged can be missing.
        (_, Stop::Process) => Replay::Keep,
        (Some(found), Stop::System) if found == data => Replay::Keep,
        (Some(_), Stop::System) => Replay::Rewrite,
        (None, Stop::System) => Replay::Place,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = Record> {
        (
            "[a-zA-Z0-9][a-zA-Z0-9.,=_-]{0,40}",
            proptest::collection::vec("[a-z0-9_-]{1,12}(/[.a-z0-9_-]{1,12}){0,2}", 1..4),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(name, roots, data)| Record { name, roots, data })
            .prop_filter("roots must be safe", |r| {
                r.roots.iter().all(|x| is_safe_root(x))
            })
    }

    /// The frames of `records` and where each ends.
    fn segment(records: &[Record]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for r in records {
            bytes.extend(encode(r).unwrap());
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    proptest! {
        /// A crash can cut the segment anywhere: exactly the records wholly before the
        /// cut come back, in order, and nothing else.
        #[test]
        fn every_truncation_yields_the_whole_records_before_it(
            records in proptest::collection::vec(record(), 0..6),
        ) {
            let (bytes, ends) = segment(&records);
            for cut in 0..=bytes.len() {
                let got = decode(&bytes[..cut]);
                let whole = ends.iter().take_while(|&&e| e <= cut).count();
                prop_assert_eq!(&got.records[..], &records[..whole]);
                prop_assert_eq!(got.valid_len, if whole == 0 { 0 } else { ends[whole - 1] });
            }
        }

        /// Damage to any octet ends the prefix at the record it hit: the records
        /// before it come back intact, the damaged one and later ones never do.
        #[test]
        fn every_corruption_ends_the_prefix_at_the_damaged_record(
            records in proptest::collection::vec(record(), 1..5),
            flip in 1u8..=255,
        ) {
            let (bytes, ends) = segment(&records);
            for at in 0..bytes.len() {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let got = decode(&damaged);
                let hit = ends.iter().take_while(|&&e| e <= at).count();
                prop_assert_eq!(&got.records[..], &records[..hit]);
            }
        }

        /// Garbage never panics and never yields an unsafe path.
        #[test]
        fn garbage_is_harmless(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let got = decode(&bytes);
            prop_assert!(got.valid_len <= bytes.len());
            for r in got.records {
                prop_assert!(is_safe_name(&r.name));
                prop_assert!(r.roots.iter().all(|x| is_safe_root(x)));
            }
        }

        /// Replaying twice changes nothing the second time; after a process crash
        /// nothing is ever written (a missing file was expunged or never acknowledged).
        #[test]
        fn replay_is_idempotent(data in proptest::collection::vec(any::<u8>(), 0..64),
                                other in proptest::collection::vec(any::<u8>(), 0..64)) {
            let first = replay(Some(&other), &data, Stop::System);
            prop_assert_eq!(first == Replay::Keep, other == data);
            // After a Rewrite or a Place the file holds `data`.
            prop_assert_eq!(replay(Some(&data), &data, Stop::System), Replay::Keep);
            prop_assert_eq!(replay(None, &data, Stop::System), Replay::Place);
            prop_assert_eq!(replay(None, &data, Stop::Process), Replay::Keep);
            prop_assert_eq!(replay(Some(&other), &data, Stop::Process), Replay::Keep);
        }
    }

    #[test]
    fn unsafe_records_are_refused() {
        let base = Record {
            name: "1.M1P1.host,S=3".into(),
            roots: vec!["bob".into()],
            data: b"abc".to_vec(),
        };
        assert!(encode(&base).is_ok());
        for root in ["../etc", "/abs", "bob/../x", "", "bob//x", "./bob"] {
            let r = Record {
                roots: vec![root.into()],
                ..base.clone()
            };
            assert!(matches!(encode(&r), Err(EncodeError::Root(_))), "{root}");
        }
        for name in [".hidden", "a/b", ""] {
            let r = Record {
                name: name.into(),
                ..base.clone()
            };
            assert!(matches!(encode(&r), Err(EncodeError::Name(_))), "{name}");
        }
        let r = Record {
            roots: vec![],
            ..base
        };
        assert_eq!(encode(&r), Err(EncodeError::RootCount));
    }
}
