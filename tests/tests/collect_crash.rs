//! Kill -9 during POP3 collection (issue 7): the server collects a large mailbox from a
//! real Dovecot and is SIGKILLed in the middle of the run, right after a message
//! appeared in alice's Maildir. After a restart and further runs, every message that
//! was on Dovecot at the start is either still there or durably in alice's Maildir
//! (nothing deleted at the ISP that was not stored here), no message is delivered
//! twice (counted by Message-Id), and in the end Dovecot is empty and alice has
//! everything.
//!
//! Killing just after a message appears in the Maildir often lands between its fsync
//! and the journaling of its UID; the runtime's recovery (runtime-std
//! src/collect/recover.rs) must keep that message from coming twice.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::dovecot::{self, Dovecot};
use mailroom_tests::server::ALICE;
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Enough that the run takes a while even on a fast machine (each message is fsynced).
const MESSAGES: usize = 600;
const SIZE: usize = 8 * 1024;
/// Messages stored before the kill.
const BEFORE_KILL: usize = 40;

fn inmail_config(server: &TestServer, dovecot: &Dovecot) {
    server.add_config(&dovecot.isp_config(false, 0));
}

/// Message-Id → how many copies alice's Maildir holds (new/ and cur/).
fn local_ids(server: &TestServer) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for (path, data) in maildir::visible(&server.maildir(ALICE)) {
        let id = dovecot::message_id(&data)
            .unwrap_or_else(|| panic!("{} has no Message-Id", path.display()));
        *ids.entry(id).or_default() += 1;
    }
    ids
}

fn check(server: &TestServer, dovecot: &Dovecot, all: &BTreeSet<String>, when: &str) {
    let local = local_ids(server);
    let twice: Vec<_> = local.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "{when}: delivered twice: {twice:?}\n--- server log ---\n{}",
        server.log()
    );
    let remote: BTreeSet<String> = dovecot.message_ids().into_iter().collect();
    let lost: Vec<&String> = all
        .iter()
        .filter(|id| !remote.contains(*id) && !local.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{when}: {} messages neither on Dovecot nor stored here, e.g. {:?}\n--- server log ---\n{}",
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>(),
        server.log()
    );
    let strangers: Vec<&String> = local.keys().filter(|id| !all.contains(*id)).collect();
    assert!(
        strangers.is_empty(),
        "{when}: unexpected mail {strangers:?}"
    );
}

fn collect(server: &TestServer) -> String {
    let out = server.cli(&["connect", "isp", "--wait"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "connect --wait failed:\n{text}");
    text
}

fn sigkill_during_collection(flavor: Flavor) {
    let isp = Dovecot::start_with(&dovecot::bulk(MESSAGES, SIZE));
    let all: BTreeSet<String> = isp.message_ids().into_iter().collect();
    assert_eq!(all.len(), MESSAGES);

    let started = Instant::now();
    let mut server = TestServer::setup(flavor);
    inmail_config(&server, &isp);
    server.serve();

    // Start a run without waiting for it, and kill the server once some messages
    // are stored.
    let out = server.cli(&["connect", "isp"]);
    assert!(out.status.success(), "connect: {out:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let md = server.maildir(ALICE);
    loop {
        let n = maildir::files(&md.join("new")).len();
        if n >= BEFORE_KILL {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} messages collected in 2 minutes\n--- server log ---\n{}\n--- dovecot log ---\n{}",
            server.log(),
            isp.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal(libc::SIGKILL);
    server.kill();
    eprintln!("killed after {:?}", started.elapsed());
    let stored = local_ids(&server).len();
    let on_isp = isp.message_ids().len();
    assert!(
        on_isp > 0,
        "the run finished before the kill ({stored} stored): nothing was tested"
    );
    check(&server, &isp, &all, "after the kill");

    // Restart and collect until done.
    server.serve();
    let progress = collect(&server);
    eprintln!(
        "first run after the restart done at {:?}",
        started.elapsed()
    );
    check(&server, &isp, &all, "after the first run after the restart");
    collect(&server);
    check(&server, &isp, &all, "after the second run");
    let left = isp.message_ids();
    assert!(
        left.is_empty(),
        "{} messages still on Dovecot\n{progress}\n--- server log ---\n{}",
        left.len(),
        server.log()
    );
    let local = local_ids(&server);
    assert_eq!(local.len(), MESSAGES);
    eprintln!(
        "{}: killed with {stored} stored and {on_isp} on Dovecot; all {MESSAGES} collected once after the restart",
        flavor.binary_name()
    );
}

both_binaries!(
    #[cfg_attr(not(have_dovecot), ignore = "dovecot is not installed")]
    sigkill_during_collection
);
