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

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Someone <someone@remote.example>\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n"
    )
    .into_bytes()
}

/// Mail from outside for `to`.
fn receive(s: &TestServer, to: &str, subject: &str) {
    let (mut c, _) = Smtp::connect(s.smtp).unwrap();
    c.command("EHLO client.test").unwrap();
    let r = c
        .send_mail(
            "someone@remote.example",
            &format!("{to}@example.com"),
            &message(subject),
        )
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
}

/// `mailbox list USER`: (uid, line) per message.
fn listing(s: &TestServer, user: &str) -> Vec<(String, String)> {
    out(s.cli_ok(&["mailbox", "list", user]))
        .lines()
        .filter_map(|l| Some((l.split_whitespace().next()?.to_string(), l.to_string())))
        .filter(|(u, _)| u.parse::<u32>().is_ok())
        .collect()
}

fn uid_of(s: &TestServer, user: &str, subject: &str) -> String {
    listing(s, user)
        .into_iter()
        .find(|(_, l)| l.ends_with(subject))
        .unwrap_or_else(|| panic!("{subject} not in {:?}", listing(s, user)))
        .0
}

fn pop3_greeting(pop: std::net::SocketAddr, user: &str, password: &str) -> String {
    let mut c = Pop3::connect(pop).unwrap();
    let r = c.login(user, password).unwrap();
    let _ = c.command("QUIT");
    r
}

/// USR-6: list, view raw, hold (hidden from POP3), release, copy, move, delete and
/// purge a user's INBOX, by the CLI and on the web.
fn message_management(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let (pop, _) = pop3::enable(&s, false);
    let http = s.add_listener("http");
    s.serve();
    for subject in ["one", "two", "three"] {
        receive(&s, ALICE, subject);
    }
    assert!(wait_until(Duration::from_secs(30), || listing(&s, ALICE)
        .len()
        == 3));
    let two = uid_of(&s, ALICE, "two");
    let o = out(s.cli_ok(&["mailbox", "hold", ALICE, &two]));
    assert!(o.contains("Held 1 message of alice."), "{o}");
    assert!(listing(&s, ALICE)
        .iter()
        .any(|(u, l)| *u == two && l.contains("held")));
    let r = pop3_greeting(pop, ALICE, ALICE_PASSWORD);
    assert!(
        r.contains("maildrop has 2 messages"),
        "held mail is hidden: {r}"
    );
    let raw = out(s.cli_ok(&["mailbox", "show", ALICE, &two]));
    assert!(
        raw.contains("Subject: two\r\n") && raw.contains("body of two"),
        "{raw}"
    );
    // The web page: the list with the held one, a message raw, release.
    let mut b = Browser::new(http);
    assert_eq!(b.login("postmaster", POSTMASTER_PASSWORD).status, 303);
    let page = b.get("/admin/mailbox?name=alice");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(">held<") && page.body.contains(">two<"),
        "{}",
        page.body
    );
    let token = mailroom_tests::web::csrf_in(&page.body).unwrap();
    let one = uid_of(&s, ALICE, "one");
    let r = b.get(&format!("/admin/mailbox/raw?name=alice&uid={one}"));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(r.body.contains("Subject: one"), "{}", r.body);
    assert_eq!(b.get("/admin/mailbox?name=nobody").status, 404);
    assert_eq!(
        b.get("/admin/mailbox/raw?name=alice&uid=999999").status,
        404
    );
    let r = b.post(
        "/admin/mailbox",
        &[
            ("name", ALICE),
            ("uid", &two),
            ("op", "release"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(b
        .get("/admin/mailbox?name=alice")
        .body
        .contains("Released 1 message."));
    let r = pop3_greeting(pop, ALICE, ALICE_PASSWORD);
    assert!(r.contains("maildrop has 3 messages"), "{r}");
    // Copy two messages straight into bob's INBOX (ticked together).
    let three = uid_of(&s, ALICE, "three");
    let r = b.post(
        "/admin/mailbox",
        &[
            ("name", ALICE),
            ("uid", &one),
            ("uid", &two),
            ("op", "copy"),
            ("to", "bob"),
            ("direct", "on"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert_eq!(listing(&s, "bob").len(), 2);
    assert_eq!(listing(&s, ALICE).len(), 3);
    // Move through routing: bob's assistant gets a copy too.
    s.cli_ok(&["user", "set", "bob", "--assistant", "postmaster"]);
    let o = out(s.cli_ok(&["mailbox", "move", ALICE, &three, "--to", "bob"]));
    assert!(o.contains("Moved 1 message from alice to bob."), "{o}");
    assert_eq!(listing(&s, ALICE).len(), 2);
    assert!(listing(&s, "bob").iter().any(|(_, l)| l.ends_with("three")));
    assert!(listing(&s, "postmaster")
        .iter()
        .any(|(_, l)| l.ends_with("three")));
    // Delete one, then purge the rest (a held one included).
    s.cli_ok(&["mailbox", "delete", ALICE, &one]);
    assert_eq!(listing(&s, ALICE).len(), 1);
    s.cli_ok(&["mailbox", "hold", ALICE, &two]);
    let r = b.post(
        "/admin/mailbox",
        &[("name", ALICE), ("op", "purge"), ("csrf", &token)],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/admin/mailbox?name=alice");
    assert!(
        page.body.contains("Purged the INBOX: 1 message deleted."),
        "{}",
        page.body
    );
    assert!(page.body.contains("The INBOX is empty."));
    assert!(out(s.cli_ok(&["mailbox", "list", ALICE])).contains("empty"));
    // Mistakes are refused.
    assert!(!s.cli(&["mailbox", "list", "nobody"]).status.success());
    assert!(!s
        .cli(&["mailbox", "delete", "bob", "999999"])
        .status
        .success());
    assert_eq!(listing(&s, "bob").len(), 3);
}

/// Mail alice sends to the Internet, queued.
fn submit(s: &TestServer, subject: &str) {
    use base64::Engine;
    let (mut c, _) = Smtp::connect(s.smtp).unwrap();
    c.command("EHLO client.test").unwrap();
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0{ALICE_PASSWORD}"));
    assert_eq!(c.command(&format!("AUTH PLAIN {token}")).unwrap().code, 235);
    let r = c
        .send_mail(
            "alice@example.com",
            "someone@remote.example",
            &message(subject),
        )
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
}

fn queue_list(s: &TestServer) -> String {
    out(s.cli_ok(&["queue", "list"]))
}

fn relay(addr: &str) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("method".into(), "relay".into());
    t.insert("relays".into(), toml::Value::Array(vec![addr.into()]));
    t
}

/// USR-6's *OUTQUEUE hold: a held message stays queued and is not sent, even by a
/// flush, until released (CLI and web).
fn queue_hold(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    // The relay is not there yet: the first message waits in the queue.
    let nowhere = format!("127.0.0.1:{}", mailroom_tests::server::free_port());
    s.edit_config(|doc| TestServer::set_lan_connection(doc, relay(&nowhere)));
    s.serve();
    submit(&s, "held one");
    assert!(wait_until(Duration::from_secs(30), || queue_list(&s)
        .contains("someone@remote.example")));
    let list = queue_list(&s);
    let id = list.split_whitespace().next().unwrap().to_string();
    let o = out(s.cli_ok(&["queue", "hold", &id]));
    assert!(o.contains("Held queued message"), "{o}");
    assert!(queue_list(&s).contains("held: not sent until released"));
    // The relay comes up; a flush and a new message go out, the held one stays.
    let sink = mailroom_tests::sink::Sink::start(&[]);
    s.edit_config(|doc| TestServer::set_lan_connection(doc, relay(&sink.addr.to_string())));
    assert!(wait_until(Duration::from_secs(30), || s
        .log()
        .contains("outbound settings reloaded")));
    s.cli_ok(&["queue", "flush"]);
    let flush = s
        .config_file()
        .parent()
        .unwrap()
        .join("spool")
        .join("FLUSH");
    assert!(wait_until(Duration::from_secs(30), || !flush.exists()));
    submit(&s, "sent at once");
    let got = sink.wait_for(1, Duration::from_secs(60));
    assert!(got.iter().all(|m| !m.contains("held one")), "{got:?}");
    assert!(queue_list(&s).contains(&id));
    // The web queue page offers Release; releasing sends it.
    let mut b = Browser::new(http);
    assert_eq!(b.login("postmaster", POSTMASTER_PASSWORD).status, 303);
    let page = b.get("/admin/queue");
    assert!(
        page.body.contains(">held<") && page.body.contains("Release"),
        "{}",
        page.body
    );
    let token = mailroom_tests::web::csrf_in(&page.body).unwrap();
    let r = b.post("/admin/queue/hold", &[("id", &id), ("csrf", &token)]);
    assert_eq!(r.status, 303);
    assert!(b
        .get("/admin/queue")
        .body
        .contains("Released queued message"));
    s.cli_ok(&["queue", "flush"]);
    let got = sink.wait_for(2, Duration::from_secs(60));
    assert!(got.iter().any(|m| m.contains("held one")), "{got:?}");
    assert!(!s.cli(&["queue", "hold", "no-such-id"]).status.success());
}

/// `mailroom user unlock`: the running server lifts a lock-out within a second.
fn unlock_from_the_command_line(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let (pop, _) = pop3::enable(&s, false);
    s.edit_config_text(|t| t.replace("[accounts]", "[accounts]\nlockout_failures = 2"));
    s.serve();
    for _ in 0..2 {
        assert!(pop3_greeting(pop, ALICE, "wrong-password").starts_with("-ERR"));
    }
    let r = pop3_greeting(pop, ALICE, ALICE_PASSWORD);
    assert!(r.starts_with("-ERR"), "locked: {r}");
    let o = out(s.cli_ok(&["user", "unlock", ALICE]));
    assert!(
        o.contains("Asked the running server to unlock alice"),
        "{o}"
    );
    let request = s
        .config_file()
        .parent()
        .unwrap()
        .join("state")
        .join("unlock")
        .join(ALICE);
    assert!(wait_until(Duration::from_secs(30), || !request.exists()));
    let r = pop3_greeting(pop, ALICE, ALICE_PASSWORD);
    assert!(r.starts_with("+OK"), "unlocked: {r}");
    let security = fs::read_to_string(
        s.config_file()
            .parent()
            .unwrap()
            .join("log")
            .join("security.log"),
    )
    .unwrap();
    assert!(
        security.contains("alice: unlocked by an administrator"),
        "{security}"
    );
    assert!(!s.cli(&["user", "unlock", "nobody"]).status.success());
}

both_binaries!(
    unlock_from_the_command_line,
    csv_round_trip_and_welcome,
    groups_on_the_web_applied_and_forced,
    message_management,
);

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    queue_hold,
);
