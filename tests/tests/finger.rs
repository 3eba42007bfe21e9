//! The finger server (SVC-3, §11.5) through both binaries over a raw socket: the
//! default template (the manual's example), a verbose query with the user's plan and
//! information, a template with tags from DIR/FINGER.TPL, and refusals.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::message::plain;
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn finger(addr: SocketAddr, query: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to finger");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(format!("{query}\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("the server closes after answering");
    out
}

fn finger_queries(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let addr = s.add_listener("finger");
    s.set_account_comment("alice", "Alice Liddell");
    s.serve();

    assert_eq!(
        finger(addr, "bob"),
        "UserId: bob\r\nEmail Address: bob@example.com\r\n\r\nUser has no waiting messages\r\n"
    );

    let (mut c, _) = Smtp::connect(s.smtp).unwrap();
    assert_eq!(c.command("EHLO far.test").unwrap().code, 250);
    let r = c
        .send_mail("x@far.test", "alice@example.com", &plain("finger", 500))
        .unwrap();
    assert_eq!(r.code, 250);
    let _ = c.command("QUIT");
    let maildir = s.maildir("alice");
    fs::write(maildir.join("USERPLAN.TXT"), "Down the rabbit hole.\n").unwrap();
    fs::write(maildir.join("USERINFO.TXT"), "Extension 214\n").unwrap();
    assert_eq!(
        finger(addr, "alice"),
        "UserId: alice\r\nEmail Address: alice@example.com\r\n\r\nUser has waiting messages\r\n"
    );
    assert_eq!(
        finger(addr, "/W alice"),
        "UserId: alice\r\nEmail Address: alice@example.com\r\n\r\nUser has waiting messages\r\n\
         Extension 214\r\n\r\nDown the rabbit hole.\r\n"
    );

    fs::write(
        s.data.join("FINGER.TPL"),
        "<cn> (<givenname> <sn>) <mail>: <messagecount> waiting<nomessages-, none>\n<-plan>",
    )
    .unwrap();
    assert_eq!(
        finger(addr, "alice"),
        "Alice Liddell (Alice Liddell) alice@example.com: 1 waiting\r\n"
    );
    assert_eq!(
        finger(addr, "/W bob"),
        "bob ( ) bob@example.com: 0 waiting, none\r\n"
    );

    assert_eq!(finger(addr, "nobody"), "No such user: nobody\r\n");
    assert_eq!(finger(addr, ""), "Finger online user list denied.\r\n");
    assert_eq!(
        finger(addr, "alice@elsewhere.test"),
        "Finger forwarding service denied.\r\n"
    );
}

both_binaries!(finger_queries);
