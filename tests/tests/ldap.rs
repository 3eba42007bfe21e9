//! The LDAP address book (SVC-4, §11.4) through both binaries with OpenLDAP's
//! `ldapsearch`: anonymous bind, a user found by mail prefix and by name, attributes
//! chosen, a size limit, and an LDAP error (not a crash) for a password bind.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::net::SocketAddr;
use std::process::{Command, Output};

fn ldapsearch(addr: SocketAddr, extra: &[&str]) -> Output {
    Command::new("ldapsearch")
        .args(["-x", "-LLL", "-o", "nettimeout=30", "-H"])
        .arg(format!("ldap://{addr}"))
        .args(["-b", "dc=example,dc=com"])
        .args(extra)
        .output()
        .expect("ldapsearch runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn address_book(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let addr = s.add_listener("ldap");
    s.set_account_comment("alice", "Alice Liddell");
    s.serve();

    let o = ldapsearch(addr, &["(mail=ali*)", "cn", "mail", "givenName", "sn"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "dn: uid=alice,dc=example,dc=com\ncn: Alice Liddell\nmail: alice@example.com\n\
         givenname: Alice\nsn: Liddell\n\n"
    );

    let o = ldapsearch(addr, &["(|(cn=*liddell*)(sn=nobody))", "mail"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "dn: uid=alice,dc=example,dc=com\nmail: alice@example.com\n\n"
    );

    // Everyone with a mail address: postmaster, alice, bob.
    let o = ldapsearch(addr, &["(mail=*)", "1.1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches("dn: ").count(),
        3
    );

    // A size limit of 1: one entry, then "Size limit exceeded" (exit code 4).
    let o = ldapsearch(addr, &["-z", "1", "(objectClass=*)", "1.1"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches("dn: ").count(),
        1
    );

    // A password bind is refused with an LDAP result, and the server goes on.
    let o = ldapsearch(
        addr,
        &["-D", "uid=alice,dc=example,dc=com", "-w", "x", "(uid=bob)"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("Inappropriate authentication"),
        "{}",
        text(&o)
    );
    let o = ldapsearch(addr, &["(uid=bob)", "uid"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "dn: uid=bob,dc=example,dc=com\nuid: bob\n\n"
    );
}

both_binaries!(
    #[cfg_attr(
        not(have_ldapsearch),
        ignore = "ldapsearch (ldap-utils) is not installed"
    )]
    address_book,
);
