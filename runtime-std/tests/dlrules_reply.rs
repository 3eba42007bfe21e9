//! A local user's answer to a download query (§8.1.1), sent by SMTP to Mailer_Daemon
//! through the blocking runtime, lands in the Ask book and nowhere else.
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

mod common;

use common::{auth_plain, TestServer, PASSWORD};
use mailroom_core::collect::ask::{Asked, State};
use mailroom_core::Instant;
use mailroom_std::daemon::threads::run;
use mailroom_std::services::askbook::{load_book, with_book};

#[test]
fn reply_by_smtp_marks_the_query_for_download() {
    let server = TestServer::start(run);
    let asked = with_book(&server.dir, |b| {
        b.ask(
            "isp",
            "UID-9",
            "f00dfeed",
            "Ask about big",
            Instant::from_secs(1),
        )
    })
    .unwrap();
    assert_eq!(asked, Asked::New);

    // Without authentication Mailer_Daemon is not a recipient.
    let mut c = server.connect();
    c.expect(220);
    c.ok("EHLO client.test", 250);
    c.ok("MAIL FROM:<alice@example.com>", 250);
    let (code, _) = c.cmd("RCPT TO:<Mailer_Daemon@example.com>");
    assert_eq!(code, 550);
    c.ok("RSET", 250);

    c.ok(&auth_plain("alice", PASSWORD), 235);
    c.ok("MAIL FROM:<alice@example.com>", 250);
    c.ok("RCPT TO:<Mailer_Daemon@example.com>", 250);
    let reply = b"From: alice@example.com\r\nTo: Mailer_Daemon@example.com\r\n\
                  Subject: Re: Download query [DLQ-f00dfeed]: Big file\r\n\r\nDELETE\r\n";
    let (code, text) = c.data(reply);
    assert_eq!(code, 250, "{text}");
    c.ok("QUIT", 221);

    let book = load_book(&server.dir).unwrap();
    assert_eq!(
        book.get("isp", "UID-9").map(|q| q.state),
        Some(State::Delete)
    );
    assert!(
        server.mailbox("alice").is_empty(),
        "no bounce for the answer"
    );
    server.stop().unwrap();
}
