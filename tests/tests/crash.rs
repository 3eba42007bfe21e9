//! Durability: clients send while the server is killed with SIGKILL. After a restart,
//! every message that got its 250 is in bob's Maildir, complete, and no partial file is
//! visible to a reader (new/ and cur/). `tmp/` may hold leftovers of the transactions
//! that were cut off; readers never look there.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::message::{plain, received_plus, token_of};
use mailroom_tests::server::BOB;
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;
/// Big enough that a kill often lands while a message is on the wire or being written.
const SIZE: usize = 48 * 1024;
/// Acknowledged messages to wait for before the kill.
const BEFORE_KILL: usize = 24;
/// Upper bound per client, so a server that never dies cannot make the test run away.
const MAX_PER_CLIENT: usize = 500;

fn token(client: usize, n: usize) -> String {
    format!("crash-c{client}-m{n}")
}

/// Send until the connection breaks; record every token that got 250.
fn client(
    server: &TestServer,
    id: usize,
    acked: &Mutex<Vec<String>>,
    count: &AtomicUsize,
    stop: &AtomicBool,
) {
    let Ok((mut c, greeting)) = Smtp::connect(server.smtp) else {
        return;
    };
    if greeting.code != 220
        || c.command("EHLO client.example.com").map(|r| r.code).ok() != Some(250)
    {
        return;
    }
    for n in 0..MAX_PER_CLIENT {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let t = token(id, n);
        match c.send_mail("alice@example.com", "bob@example.com", &plain(&t, SIZE)) {
            Ok(r) if r.code == 250 => {
                acked.lock().unwrap_or_else(|p| p.into_inner()).push(t);
                count.fetch_add(1, Ordering::SeqCst);
            }
            Ok(r) => panic!("client {id}: message {n} refused: {r:?}"),
            Err(_) => return, // the server died under us
        }
    }
}

fn acknowledged_messages_survive_sigkill(flavor: Flavor) {
    let mut server = TestServer::start(flavor);
    let acked = Mutex::new(Vec::new());
    let count = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);

    std::thread::scope(|s| {
        for id in 0..CLIENTS {
            let (server, acked, count, stop) = (&server, &acked, &count, &stop);
            s.spawn(move || client(server, id, acked, count, stop));
        }
        // Kill once enough have been acknowledged, with the clients still sending.
        let deadline = Instant::now() + Duration::from_secs(60);
        while count.load(Ordering::SeqCst) < BEFORE_KILL && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.signal(libc::SIGKILL);
        stop.store(true, Ordering::Relaxed);
    });
    server.kill(); // reap

    let acked: BTreeSet<String> = acked
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .collect();
    assert!(
        acked.len() >= BEFORE_KILL,
        "only {} messages were acknowledged before the kill\n--- server log ---\n{}",
        acked.len(),
        server.log()
    );

    // Restart on the same directory: the store must come up from whatever was on disk.
    server.serve();

    let md = server.maildir(BOB);
    let mut present = BTreeSet::new();
    for (path, data) in maildir::visible(&md) {
        let t = token_of(&data).unwrap_or_else(|| {
            panic!(
                "{} is not a complete message ({} octets)",
                path.display(),
                data.len()
            )
        });
        if let Some(why) = received_plus(&data, &plain(&t, SIZE)) {
            panic!("{} is partial or altered: {why}", path.display());
        }
        assert!(present.insert(t.clone()), "{t} was stored twice");
    }
    let lost: Vec<&String> = acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages are missing after the restart: {lost:?}\n--- server log ---\n{}",
        lost.len(),
        server.log()
    );
    // Messages stored but not acknowledged (killed between the fsync and the 250) are
    // allowed: the client retries and the recipient may see a duplicate, as with any MTA.
    eprintln!(
        "{}: {} acknowledged, {} stored, {} file(s) left in tmp/",
        flavor.binary_name(),
        acked.len(),
        present.len(),
        maildir::files(&md.join("tmp")).len()
    );
}

both_binaries!(acknowledged_messages_survive_sigkill);
