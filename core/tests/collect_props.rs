//! Property: sorting any collected message — header fragments in any order, any bytes —
//! never panics, under every routing option; every detected recipient is accepted by
//! the In Mail; detection is deterministic; the stripped prefix is a "From " line only.

use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::collect::detect::{accepts_address, detect};
use mailroom_core::collect::sort::{duplicate_key, sort, Sorting};
use mailroom_core::config::{parse_config, InMail, Snapshot};
use proptest::prelude::*;

fn inmail(routing: &str) -> InMail {
    let text = format!(
        "name = \"isp\"\nconnections = [\"dial\"]\nserver = \"pop.isp.test\"\nuser = \"u\"\n\
         password = \"p\"\nrouting = \"{routing}\"\ndeliver_to = \"fred\"\nlan_server = \"l:25\"\n\
         lan_recipient = \"a@l\"\naccepted_domains = [\"example.com\", \"joe@isp.test\"]\n\
         [detect]\nspecial_headers = [\"X-Envelope-To\", \"Delivered-To: account-*\", \"Delivered-To:-1\"]\n\
         received_read = \"all\"\nignore_received_without_at = false\n\
         order = [\"received\", \"special\", \"stop_if_found\", \"standard\"]\n"
    );
    toml::from_str(&text).unwrap()
}

fn snapshot() -> Snapshot {
    let config = parse_config(
        "hostname = \"h.example.com\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
    )
    .unwrap();
    let users = ["postmaster", "fred", "tim"].map(|n| -> Account {
        toml::from_str(&format!("name = \"{n}\"\npassword_hash = \"x\"\n")).unwrap()
    });
    Snapshot {
        config,
        accounts: Accounts::new(users),
        access: Default::default(),
    }
}

const PIECES: &[&str] = &[
    "From x@y Mon\r\n",
    "From: a@b.test\r\n",
    "To: ",
    "Cc: ",
    "Apparently-To: ",
    "Resent-To: ",
    "X-Envelope-To: ",
    "Delivered-To: account-",
    "Received: from a by b for ",
    "Subject: {",
    "}",
    "(",
    ")",
    "<",
    ">",
    "\"",
    "'",
    ",",
    ";",
    " ",
    "\r\n",
    "\r\n ",
    "\n",
    "fred@example.com",
    "tim@EXAMPLE.com",
    "joe@isp.test",
    "x@other.test",
    "for",
    "@",
    "tim",
    "sarah",
    "é",
    "\u{0}",
    "*",
    "\r\n\r\n",
];

proptest! {
    #[test]
    fn sorting_holds_up(parts in proptest::collection::vec(0..PIECES.len(), 0..60),
                        raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut msg: Vec<u8> = parts.iter().flat_map(|&i| PIECES[i].bytes()).collect();
        msg.extend(raw);
        let snap = snapshot();
        for routing in ["detected", "user", "lan", "single_address", "subject"] {
            let m = inmail(routing);
            let sorted = sort(&snap, &m, &msg);
            if sorted.strip > 0 {
                prop_assert!(msg.starts_with(b"From "));
                prop_assert!(!msg[4..].trim_ascii_start().starts_with(b":"), "a From: field was stripped");
                prop_assert_eq!(msg[sorted.strip - 1], b'\n');
            }
            if let Sorting::Route(plan) = &sorted.sorting {
                prop_assert!(!plan.recipients.is_empty());
            }
            let _ = duplicate_key(&msg, &sorted.detected);
        }
        let m = inmail("detected");
        let d = detect(&m, &msg);
        for r in &d.recipients {
            prop_assert!(accepts_address(&m, r), "{} not accepted", r);
        }
        prop_assert_eq!(d, detect(&m, &msg));
    }
}
