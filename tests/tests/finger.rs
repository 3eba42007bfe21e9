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

/// FINGERALLOWED.DAT (§11.9's format): a client not allowed is disconnected without
/// an answer; LDAPALLOWED.DAT does the same for the LDAP listener.
fn access_files_refuse_at_connect(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let finger_addr = s.add_listener("finger");
    let ldap_addr = s.add_listener("ldap");
    let access = s.data.join("access");
    fs::create_dir_all(&access).unwrap();
    fs::write(access.join("FINGERALLOWED.DAT"), "!127.0.0.0 255.0.0.0\n").unwrap();
    fs::write(access.join("LDAPALLOWED.DAT"), "!127.0.0.0 255.0.0.0\n").unwrap();
    s.serve();
    // Closed before any reply (a reset, as the query was never read, or an end).
    let nothing_back = |addr: SocketAddr, request: &[u8]| {
        let mut c = TcpStream::connect(addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = c.write_all(request);
        let mut got = Vec::new();
        match c.read_to_end(&mut got) {
            Ok(_) => got.is_empty(),
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    assert!(nothing_back(finger_addr, b"bob\r\n"));
    assert!(nothing_back(
        ldap_addr,
        b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"
    ));

    // Without the files, both answer.
    s.kill();
    fs::remove_file(access.join("FINGERALLOWED.DAT")).unwrap();
    fs::remove_file(access.join("LDAPALLOWED.DAT")).unwrap();
    s.serve();
    assert!(finger(finger_addr, "bob").starts_with("UserId: bob"));
    let mut l = TcpStream::connect(ldap_addr).expect("connect to ldap");
    l.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    l.write_all(b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00")
        .unwrap();
    let mut first = [0u8; 2];
    l.read_exact(&mut first).expect("a bind response");
    assert_eq!(first[0], 0x30, "an LDAP message");
}

both_binaries!(finger_queries, access_files_refuse_at_connect);
