//! User administration through both binaries (issue 17 item 7, USR-5): the user
//! database as CSV (`mailroom user export|import`, the manual's layouts, passwords
//! carried as hashes), the welcome message of new users, and groups with tri-state
//! settings and Force edited on the web and applied by the router.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::maildir::visible;
use mailroom_tests::pop3::{self, Pop3};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, POSTMASTER_PASSWORD};
use mailroom_tests::web::Browser;
use mailroom_tests::{both_binaries, wait_until, Flavor, TestServer};
use std::fs;
use std::time::Duration;

/// Wait until the running server has loaded a configuration with `n` accounts (its
/// last reload says so): a login before that would count as a failure.
fn reloaded_with(s: &TestServer, n: usize) {
    let want = format!("configuration reloaded: {n} users");
    assert!(
        wait_until(Duration::from_secs(30), || s
            .log()
            .lines()
            .rev()
            .find(|l| l.contains("configuration reloaded"))
            .is_some_and(|l| l.contains(&want))),
        "no reload with {n} users: {}",
        s.log()
    );
}

fn out(o: std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn csv_round_trip_and_welcome(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let (pop, _) = pop3::enable(&s, false);
    s.serve();
    s.cli_ok(&[
        "user",
        "set",
        ALICE,
        "--comment",
        "Sales, 2nd floor",
        "--assistant",
        "bob",
        "--send-internet",
        "no",
    ]);
    let csv = out(s.cli_ok(&["user", "export", "--verbose", "--passwords"]));
    assert!(
        csv.starts_with("\"User Id\", \"Admin\", \"Password\""),
        "{csv}"
    );
    let line = csv
        .lines()
        .find(|l| l.starts_with("\"alice\""))
        .expect("alice exported");
    assert!(line.contains("\"$argon2"), "{line}");
    assert!(line.contains("\"Sales, 2nd floor\""), "{line}");
    assert_eq!(
        line.replace("Sales, 2nd", "Sales 2nd").split(", ").count(),
        14,
        "{line}"
    );
    let short = out(s.cli_ok(&["user", "export"]));
    assert!(short.contains("\"postmaster\", 1\r\n"), "{short}");
    // Delete alice; the import brings her back with her password and settings.
    let file = s.config_file().parent().unwrap().join("users.csv");
    fs::write(&file, &csv).unwrap();
    s.cli_ok(&["user", "del", ALICE]);
    reloaded_with(&s, 2);
    let before = visible(&s.maildir(ALICE)).len();
    let o = out(s.cli_ok(&["user", "import", file.to_str().unwrap(), "--welcome"]));
    assert!(o.contains("1 created"), "{o}");
    assert!(o.contains("Sent the welcome message to alice."), "{o}");
    reloaded_with(&s, 3);
    let shown = out(s.cli_ok(&["user", "show", ALICE]));
    assert!(shown.contains("Sales, 2nd floor"), "{shown}");
    assert!(shown.contains("bob"), "{shown}");
    let mut c = Pop3::connect(pop).unwrap();
    let r = c.login(ALICE, ALICE_PASSWORD).unwrap();
    assert!(r.starts_with("+OK"), "the imported hash logs in: {r}");
    let _ = c.command("QUIT");
    let mail = visible(&s.maildir(ALICE));
    assert_eq!(mail.len(), before + 1, "the welcome message");
    let welcome = String::from_utf8_lossy(&mail.last().unwrap().1).into_owned();
    assert!(
        mail.iter()
            .any(|(_, m)| String::from_utf8_lossy(m)
                .contains("Subject: Welcome to your new mailbox")),
        "{welcome}"
    );
    // A clear-text password in the file makes a new account (policy checked); bad
    // lines are reported, with their number, and the rest still apply.
    fs::write(
        &file,
        "\"carol\", 0, \"carol-pass-1\"\n\"dan\", 0, \"x\"\n\"erin\", 0, \"\"\n",
    )
    .unwrap();
    let o = s.cli(&["user", "import", file.to_str().unwrap()]);
    assert!(!o.status.success());
    let o = out(o);
    assert!(o.contains("1 created"), "{o}");
    assert!(o.contains("line 2: dan"), "{o}");
    assert!(
        o.contains("line 3: erin: a new user needs a password"),
        "{o}"
    );
    reloaded_with(&s, 4);
    let r = Pop3::connect(pop)
        .unwrap()
        .login("carol", "carol-pass-1")
        .unwrap();
    assert!(r.starts_with("+OK"), "{r}");
    let o = s.cli(&["user", "import", "/nonexistent.csv"]);
    assert!(!o.status.success());
    fs::write(&file, "\"a\", 1\n\"b\", 1, 2, 3\n").unwrap();
    let o = s.cli(&["user", "import", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(out(o).contains("line 2"));
    // `user add --welcome` with the administrator's own WELCOME.MSG.
    fs::write(
        s.config_file().parent().unwrap().join("WELCOME.MSG"),
        "Subject: Hello %N\n\nYour address is %N@%D.\n",
    )
    .unwrap();
    s.cli_ok(&[
        "user",
        "add",
        "dave",
        "--password",
        "dave-pass-1",
        "--welcome",
    ]);
    let mail = visible(&s.maildir("dave"));
    assert_eq!(mail.len(), 1);
    let m = String::from_utf8_lossy(&mail[0].1).into_owned();
    assert!(m.contains("Subject: Hello dave"), "{m}");
    assert!(m.contains("Your address is dave@example.com."), "{m}");
}

/// The reply to alice's RCPT for an Internet address, after AUTH.
fn alice_rcpt(s: &TestServer) -> u16 {
    use base64::Engine;
    let (mut c, _) = Smtp::connect(s.smtp).unwrap();
    c.command("EHLO client.test").unwrap();
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0{ALICE_PASSWORD}"));
    let r = c.command(&format!("AUTH PLAIN {token}")).unwrap();
    assert_eq!(r.code, 235, "{r:?}");
    c.command("MAIL FROM:<alice@example.com>").unwrap();
    let r = c.command("RCPT TO:<someone@remote.example>").unwrap();
    let _ = c.command("QUIT");
    r.code
}

fn becomes(s: &TestServer, code: u16) {
    assert!(
        wait_until(Duration::from_secs(30), || alice_rcpt(s) == code),
        "alice's RCPT never got {code}"
    );
}

fn groups_on_the_web_applied_and_forced(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    s.serve();
    let mut b = Browser::new(http);
    assert_eq!(b.login("postmaster", POSTMASTER_PASSWORD).status, 303);
    let page = b.get("/admin/groups");
    assert_eq!(page.status, 200, "{}", page.body);
    let token = mailroom_tests::web::csrf_in(&page.body).unwrap();
    assert_eq!(alice_rcpt(&s), 250);
    // A group that does not allow Internet mail, not forced: alice's own "yes" wins.
    let r = b.post(
        "/admin/section",
        &[
            ("section", "group"),
            ("op", "add"),
            ("name", "staff"),
            ("send_internet", "no"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let text = fs::read_to_string(s.config_file()).unwrap();
    assert!(
        text.contains("[[group]]\nname = \"staff\"\nsend_internet = false\n"),
        "{text}"
    );
    // Unset on alice: the group's "no" fills it in.
    s.cli_ok(&["user", "set", ALICE, "--group", "staff"]);
    becomes(&s, 550);
    // Alice's own "yes" wins over a group that does not force.
    s.cli_ok(&["user", "set", ALICE, "--send-internet", "yes"]);
    becomes(&s, 250);
    // Forced: the group's "no" overrides alice's own "yes".
    let r = b.post(
        "/admin/section",
        &[
            ("section", "group"),
            ("op", "save"),
            ("index", "0"),
            ("was", "staff"),
            ("name", "staff"),
            ("send_internet", "no"),
            ("force", "on"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(fs::read_to_string(s.config_file())
        .unwrap()
        .contains("force = true"));
    becomes(&s, 550);
    // The group's tri-state shows on its page.
    let page = b.get("/admin/groups");
    assert!(
        page.body
            .contains("<option value=\"no\" selected>no</option>"),
        "{}",
        page.body
    );
    // The users page: CSV export and import with the welcome message.
    let csv = b.get("/admin/users.csv?verbose=1");
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("\"alice\", 0, \""), "{}", csv.body);
    assert!(!csv.body.contains("$argon2"), "no hashes unless asked");
    let r = b.post(
        "/admin/users/import",
        &[
            (
                "csv",
                "\"User Id\", \"Admin\", \"Password\"\r\n\"frank\", 0, \"frank-pass-1\"\r\n",
            ),
            ("welcome", "on"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/admin/users");
    assert!(page.body.contains("1 created"), "{}", page.body);
    assert!(
        page.body.contains("Sent the welcome message to frank."),
        "{}",
        page.body
    );
    assert_eq!(visible(&s.maildir("frank")).len(), 1);
    s.cli_ok(&["check"]);
}

both_binaries!(
    csv_round_trip_and_welcome,
    groups_on_the_web_applied_and_forced
);
