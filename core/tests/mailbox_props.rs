//! Property tests of the mailbox model (docs/STORE.md): journal replay after a cut at
//! any byte, and a session's view against the folder it watches.

use mailroom_core::mailbox::{
    dir_for_folder, folder_for_dir, replay, Flag, Flags, FolderIndex, MessageMeta, Record, Report,
    View,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Add {
        held: bool,
    },
    Flag {
        pick: usize,
        seen: bool,
    },
    Expunge {
        pick: usize,
    },
    Hold {
        pick: usize,
    },
    Keyword {
        n: u8,
    },
    /// A session catches up; `true` where EXPUNGE may be sent.
    Report(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::bool::weighted(0.2).prop_map(|held| Op::Add { held }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, seen)| Op::Flag { pick, seen }),
        2 => any::<usize>().prop_map(|pick| Op::Expunge { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Hold { pick }),
        1 => (0u8..4).prop_map(|n| Op::Keyword { n }),
        2 => any::<bool>().prop_map(Op::Report),
    ]
}

/// Turn an op into the record a writer would append to `ix`, if it applies.
fn record_for(ix: &FolderIndex, op: &Op) -> Option<Record> {
    let nth = |pick: usize| {
        let uids: Vec<u32> = ix.messages.keys().copied().collect();
        (!uids.is_empty()).then(|| uids[pick % uids.len()])
    };
    Some(match op {
        Op::Add { held } => Record::Added(MessageMeta {
            uid: ix.next_uid,
            modseq: ix.next_modseq(),
            size: u64::from(ix.next_uid) * 10,
            internal_date: 1_767_225_600,
            flags: Flags::NONE,
            keywords: if ix.keywords.is_empty() {
                vec![]
            } else {
                vec![0]
            },
            held: *held,
            base: format!("1767225600.M{}P1.host", ix.next_uid),
        }),
        Op::Flag { pick, seen } => Record::Flags {
            uid: nth(*pick)?,
            modseq: ix.next_modseq(),
            flags: if *seen {
                Flags::NONE.with(Flag::Seen)
            } else {
                Flags::NONE.with(Flag::Flagged)
            },
            keywords: vec![],
        },
        Op::Expunge { pick } => Record::Expunged {
            uid: nth(*pick)?,
            modseq: ix.next_modseq(),
        },
        Op::Hold { pick } => Record::Held {
            uid: nth(*pick)?,
            modseq: ix.next_modseq(),
            held: true,
        },
        Op::Keyword { n } => Record::Keyword(format!("$Label{n}")),
        Op::Report(_) => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A journal cut at any byte replays to the state after its last whole line, and
    /// says where to cut it; checkpointing mid-way changes nothing.
    #[test]
    fn replay_after_any_cut(ops in prop::collection::vec(op(), 0..40), cut in any::<prop::sample::Index>(), checkpoint in any::<prop::sample::Index>()) {
        let mut ix = FolderIndex::new(77);
        let mut journal = String::new();
        let mut states = vec![ix.clone()];
        let mut ends = vec![0usize];
        for op in &ops {
            if let Some(r) = record_for(&ix, op) {
                ix.apply(&r).expect("writer records follow the index");
                journal.push_str(&r.to_line());
                states.push(ix.clone());
                ends.push(journal.len());
            }
        }
        let bytes = journal.as_bytes();
        let cut = cut.index(bytes.len() + 1);
        let whole = ends.iter().rposition(|&e| e <= cut).unwrap_or(0);
        let mut back = FolderIndex::new(77);
        let r = replay(&mut back, &bytes[..cut]);
        prop_assert_eq!(r.good_len, ends[whole]);
        prop_assert_eq!(&back, &states[whole]);
        prop_assert_eq!(r.stopped.is_some(), cut != ends[whole]);

        // A snapshot written after any prefix, then the whole journal replayed on it.
        let at = checkpoint.index(states.len());
        let mut snap = FolderIndex::parse(&states[at].to_text()).expect("snapshot parses");
        let r = replay(&mut snap, bytes);
        prop_assert_eq!(r.stopped, None);
        prop_assert_eq!(&snap, states.last().expect("one state at least"));
    }

    /// A view that reports with expunges allowed shows exactly the folder's visible
    /// messages; sequence numbers in reports are always valid for the client.
    #[test]
    fn view_follows_the_folder(ops in prop::collection::vec(op(), 0..60)) {
        let mut ix = FolderIndex::new(1);
        let mut view = View::new(&ix);
        let mut client = 0u32; // the count the client believes
        for op in &ops {
            if let Op::Report(expunges) = op {
                for rep in view.report(*expunges) {
                    match rep {
                        Report::Expunge { seq } => {
                            prop_assert!(*expunges);
                            prop_assert!(seq >= 1 && seq <= client);
                            client -= 1;
                        }
                        Report::Exists { count } => {
                            prop_assert!(count > client, "EXISTS never shrinks");
                            client = count;
                        }
                        Report::Flags { seq, uid } => {
                            prop_assert!(seq >= 1 && seq <= client);
                            prop_assert_eq!(view.uid(seq), Some(uid));
                        }
                    }
                }
                prop_assert_eq!(client as usize, view.len());
                if *expunges {
                    let visible: Vec<u32> = ix.visible().map(|m| m.uid).collect();
                    prop_assert_eq!(view.uids(), &visible[..]);
                }
            } else if let Some(r) = record_for(&ix, op) {
                ix.apply(&r).expect("writer records follow the index");
                view.note(&r);
            }
        }
    }

    /// Every folder name the store accepts maps to one directory and back.
    #[test]
    fn folder_names_round_trip(levels in prop::collection::vec("[^/\\x00-\\x1f\\x7f]{1,12}", 1..4)) {
        let name = levels.join("/");
        if let Ok(dir) = dir_for_folder(&name) {
            if !dir.is_empty() {
                prop_assert_eq!(folder_for_dir(&dir), Some(name));
            }
        }
    }
}
