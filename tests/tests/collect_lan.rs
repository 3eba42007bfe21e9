//! An In Mail with `routing = "lan"` (§6.3.2.1 option 3): a collected message sorted
//! and stored by the collection code is sent by the running server's outbound queue to
//! the LAN server, for the configured recipient, through both binaries.
#![allow(clippy::disallowed_methods)]

use mailroom_core::collect::sort::{sort, Sorting};
use mailroom_std::config::files::load_snapshot;
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::services::collect::sort::store_sorted;
use mailroom_std::store::Store;
use mailroom_tests::sink::Sink;
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn queued(server: &TestServer) -> usize {
    fs::read_dir(server.data.join("spool").join("queue"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
                .count()
        })
        .unwrap_or(0)
}

fn collected_mail_goes_to_the_lan_server(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = TestServer::setup(flavor);
    s.add_config(&format!(
        "\n[[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"true\"\ndown = \"true\"\n\n[[inmail]]\nname = \"isp-box\"\n\
         connections = [\"isp\"]\nserver = \"127.0.0.1:9\"\nuser = \"office\"\npassword = \"x\"\n\
         routing = \"lan\"\nlan_server = \"{}\"\nlan_recipient = \"joe@lan.test\"\n",
        sink.addr
    ));

    let dd = DataDir::new(&s.data);
    let snap = load_snapshot(&dd).expect("a valid configuration");
    let inmail = snap.config.inmails[0].clone();
    let message =
        b"From isp@pop.test Mon Jan 12 10:00:00 1998\r\nReturn-Path: <far@remote.test>\r\n\
From: far@remote.test\r\nTo: office@isp.test\r\nSubject: lan-collected-1\r\n\r\nbody\r\n";
    let sorted = sort(&snap, &inmail, message);
    assert!(matches!(sorted.sorting, Sorting::Lan { .. }), "{sorted:?}");
    {
        let store = Store::open(&dd).expect("store");
        store_sorted(
            &store,
            &snap,
            &inmail,
            message.to_vec(),
            &sorted,
            "isp-box.1",
        )
        .expect("stored");
    }
    assert_eq!(queued(&s), 1);

    s.serve();
    let got = sink.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "nothing forwarded\n{}", s.log());
    assert!(got[0].contains("X-Rcpt-Args: <joe@lan.test>"), "{}", got[0]);
    assert!(got[0].contains("lan-collected-1"), "{}", got[0]);
    assert!(
        !got[0].contains("From isp@pop.test"),
        "the From line is stripped: {}",
        got[0]
    );
    let deadline = Instant::now() + WAIT;
    while queued(&s) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(queued(&s), 0, "still queued\n{}", s.log());
}

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    collected_mail_goes_to_the_lan_server
);
