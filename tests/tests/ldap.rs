//! The LDAP address book (SVC-4, §11.4) through both binaries with OpenLDAP's
//! `ldapsearch`: anonymous bind, a user found by mail prefix and by name, attributes
//! chosen, a size limit, and an LDAP error (not a crash) for a password bind.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::net::SocketAddr;
use std::process::{Command, Output};

fn ldapsearch(addr: SocketAddr, extra: &[&str]) -> Output {
    ldapsearch_at(addr, "dc=example,dc=com", extra)
}

fn ldapsearch_at(addr: SocketAddr, base: &str, extra: &[&str]) -> Output {
    Command::new("ldapsearch")
        .args(["-x", "-LLL", "-o", "nettimeout=30", "-H"])
        .arg(format!("ldap://{addr}"))
        .args(["-b", base])
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

/// The global address book (§4.3.8) from DIR/ADDRBOOK.CSV beside the users, and the
/// search base and scope.
fn global_address_book(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let addr = s.add_listener("ldap");
    std::fs::write(
        s.data.join("ADDRBOOK.CSV"),
        "cn,mail,givenname,sn,department\r\n\
         \"John Doe\",john.doe@doe.com,John,Doe,Sales\r\n\
         \"Smith, Jane\",jane@smith.example,Jane,Smith,\r\n",
    )
    .unwrap();
    s.serve();

    let o = ldapsearch(addr, &["(cn=*doe*)", "mail", "department"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "dn: cn=John Doe,ou=addressbook,dc=example,dc=com\nmail: john.doe@doe.com\n\
         department: Sales\n\n"
    );
    // Users and contacts: postmaster, alice, bob, John, Jane.
    let o = ldapsearch(addr, &["(mail=*)", "1.1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches("dn: ").count(),
        5
    );
    // One level below the base: the users only; below the book: its contacts.
    let o = ldapsearch(addr, &["-s", "one", "(mail=*)", "1.1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches("dn: ").count(),
        3
    );
    let o = ldapsearch_at(
        addr,
        "ou=addressbook,dc=example,dc=com",
        &["-s", "one", "(objectClass=*)", "mail"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("mail: jane@smith.example"), "{out}");
    assert_eq!(out.matches("dn: ").count(), 2, "{out}");
    // The base entry itself, and a base that does not exist (No such object, 32).
    let o = ldapsearch_at(
        addr,
        "uid=bob,dc=example,dc=com",
        &["-s", "base", "(objectClass=*)", "uid"],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "dn: uid=bob,dc=example,dc=com\nuid: bob\n\n"
    );
    let o = ldapsearch_at(addr, "dc=elsewhere,dc=org", &["(objectClass=*)"]);
    assert_eq!(o.status.code(), Some(32), "{}", text(&o));
}

both_binaries!(
    #[cfg_attr(
        not(have_ldapsearch),
        ignore = "ldapsearch (ldap-utils) is not installed"
    )]
    address_book,
    #[cfg_attr(
        not(have_ldapsearch),
        ignore = "ldapsearch (ldap-utils) is not installed"
    )]
    global_address_book,
);
