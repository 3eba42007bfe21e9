//! The web admin over HTTP through both binaries (issue 13): no page but `/login` and
//! the stylesheet without a session; CSRF and Origin refusals change nothing; a
//! cookie replayed from another client address is refused; lock-out after the
//! configured failures, shared with POP3; the security headers and cookie flags; a
//! comment in `mailroom.toml` survives a web edit and a refused edit is shown; users,
//! mappings, Connect Now, the queue and the logs; malformed requests get 4xx and the
//! server keeps serving.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::server::{ALICE, ALICE_PASSWORD, POSTMASTER_PASSWORD};
use mailroom_tests::web::{csrf_in, raw, Browser};
use mailroom_tests::{both_binaries, wait_until, Flavor, TestServer};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// A server with the web admin on a free port, `more` appended to its config.
fn web_server(flavor: Flavor, more: &str) -> (TestServer, SocketAddr) {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    if !more.is_empty() {
        s.add_config(more);
    }
    s.serve();
    // The SMTP greeting came first; the web listener is bound by then too.
    (s, http)
}

fn admin(http: SocketAddr) -> Browser {
    let mut b = Browser::new(http);
    let r = b.login("postmaster", POSTMASTER_PASSWORD);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/admin/"));
    b
}

fn users(s: &TestServer) -> String {
    String::from_utf8_lossy(&s.cli_ok(&["user", "list"]).stdout).into_owned()
}

fn only_login_and_assets_without_a_session(flavor: Flavor) {
    let (_s, http) = web_server(flavor, "");
    let mut b = Browser::new(http);
    for page in [
        "/",
        "/admin/",
        "/admin/users",
        "/admin/mappings",
        "/admin/mappings.csv",
        "/admin/queue",
        "/admin/logs",
        "/admin/rules",
    ] {
        let r = b.get(page);
        assert_eq!(r.status, 303, "{page}: {r:?}");
        assert_eq!(r.header("location"), Some("/login"), "{page}");
        assert!(!r.body.contains(ALICE), "{page} leaked: {}", r.body);
    }
    let r = b.get("/mail/");
    assert_eq!(r.status, 303);
    let r = b.get("/login");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("name=\"user\"") && r.body.contains("name=\"password\""));
    // The stylesheet, with an ETag that answers 304.
    let css = b.get("/static/style.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    let etag = css.header("etag").expect("an ETag").to_string();
    let again = b.request("GET", "/static/style.css", "", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // A POST without a session changes nothing.
    let r = b.post(
        "/admin/users",
        &[
            ("name", "mallory"),
            ("password", "mallory-pw-1"),
            ("csrf", "x"),
        ],
    );
    assert_eq!(r.status, 403);
}

fn security_headers_and_cookie_flags(flavor: Flavor) {
    let (_s, http) = web_server(flavor, "");
    let mut b = Browser::new(http);
    // A session id planted before login is not kept (no fixation).
    b.cookie = Some("planted-by-attacker".into());
    let login_page = b.get("/login");
    let r = b.login("postmaster", POSTMASTER_PASSWORD);
    assert_eq!(r.status, 303);
    let cookie = r.header("set-cookie").expect("a session cookie");
    assert!(cookie.starts_with("mr_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_ne!(b.cookie.as_deref(), Some("planted-by-attacker"));
    assert!(b.cookie.as_ref().is_some_and(|c| c.len() >= 40));
    let page = b.get("/admin/");
    assert_eq!(page.status, 200, "{page:?}");
    for r in [&login_page, &page] {
        let csp = r.header("content-security-policy").expect("CSP");
        assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(r.header("referrer-policy").is_some());
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    assert!(!page.body.contains("<script"), "no script at all");
    assert!(!page.body.contains("style="), "no inline style");
    // A second login gets a second id.
    let first = b.cookie.clone();
    b.login("postmaster", POSTMASTER_PASSWORD);
    assert_ne!(b.cookie, first);
    // A user without the admin flag logs in but gets 403 on /admin/.
    let mut alice = Browser::new(http);
    let r = alice.login(ALICE, ALICE_PASSWORD);
    assert_eq!(r.status, 303);
    assert_eq!(alice.get("/admin/").status, 403);
    assert_eq!(alice.get("/admin/users").status, 403);
    // Logging out ends the session.
    let token = b.csrf("/admin/");
    let r = b.post("/logout", &[("csrf", &token)]);
    assert_eq!(r.status, 303);
    let stale = first.or(b.cookie.clone());
    let mut replay = Browser::new(http);
    replay.cookie = stale;
    assert_eq!(replay.get("/admin/").status, 303);
}

fn csrf_refusal_changes_nothing(flavor: Flavor) {
    let (s, http) = web_server(flavor, "");
    let mut b = admin(http);
    let token = b.csrf("/admin/users");
    let fields = |csrf: &'static str| {
        vec![
            ("name", "mallory"),
            ("password", "mallory-pw-1"),
            ("csrf", csrf),
        ]
    };
    // No token, a wrong token.
    assert_eq!(b.post("/admin/users", &fields("")[..2]).status, 403);
    assert_eq!(b.post("/admin/users", &fields("wrong")).status, 403);
    // The right token from another origin, and with no Origin or Referer at all.
    let good: Vec<(&str, &str)> = vec![
        ("name", "mallory"),
        ("password", "mallory-pw-1"),
        ("csrf", &token),
    ];
    b.origin = Some("http://evil.example".into());
    assert_eq!(b.post("/admin/users", &good).status, 403);
    b.origin = None;
    assert_eq!(b.post("/admin/users", &good).status, 403);
    assert!(!users(&s).contains("mallory"), "{}", users(&s));
    // The same form from the page itself works.
    b.origin = Some(format!("http://{http}"));
    let r = b.post("/admin/users", &good);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/users"));
    assert!(users(&s).contains("mallory"));
}

fn a_cookie_from_another_address_is_refused(flavor: Flavor) {
    let (_s, http) = web_server(flavor, "");
    let mut b = admin(http);
    assert_eq!(b.get("/admin/").status, 200);
    let mut thief = Browser::new(http);
    thief.cookie = b.cookie.clone();
    thief.from = Some("127.0.0.2".parse().unwrap());
    let r = thief.get("/admin/users");
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/login"));
    // The owner's session is still good.
    assert_eq!(b.get("/admin/users").status, 200);
}

fn pop3_login(addr: SocketAddr, user: &str, password: &str) -> String {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    write!(w, "USER {user}\r\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    write!(w, "PASS {password}\r\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    let _ = write!(w, "QUIT\r\n");
    line
}

fn lockout_after_the_configured_failures(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    let pop3 = s.add_listener("pop3");
    s.edit_config_text(|t| {
        t.replace(
            "[accounts]",
            "[accounts]\nlockout_failures = 3\nlockout_web_from_loopback = true",
        )
    });
    if !fs::read_to_string(s.config_file())
        .unwrap()
        .contains("lockout_failures")
    {
        s.add_config("\n[accounts]\nlockout_failures = 3\nlockout_web_from_loopback = true\n");
    }
    s.cli_ok(&["check"]);
    s.serve();
    let mut b = Browser::new(http);
    for _ in 0..3 {
        let r = b.login(ALICE, "wrong-password");
        assert_eq!(r.status, 403);
        assert!(r.body.contains("Wrong name or password"), "{}", r.body);
    }
    let r = b.login(ALICE, ALICE_PASSWORD);
    assert_eq!(r.status, 403, "locked: {r:?}");
    assert!(r.body.contains("locked"), "{}", r.body);
    // The same lock holds for the mail protocols.
    let reply = pop3_login(pop3, ALICE, ALICE_PASSWORD);
    assert!(reply.starts_with("-ERR"), "{reply}");
    // An administrator unlocks it on the users page.
    let mut a = admin(http);
    let token = a.csrf("/admin/users");
    let r = a.post("/admin/users/unlock", &[("name", ALICE), ("csrf", &token)]);
    assert_eq!(r.status, 303);
    assert!(a.get("/admin/users").body.contains("Unlocked alice"));
    assert_eq!(b.login(ALICE, ALICE_PASSWORD).status, 303);
    let security = fs::read_to_string(s.data.join("log").join("security.log")).unwrap();
    assert!(
        security.contains("http 127.0.0.1 alice: locked"),
        "{security}"
    );
    assert!(
        security.contains("unlocked by an administrator"),
        "{security}"
    );
}

fn comments_survive_web_edits(flavor: Flavor) {
    let (s, http) = web_server(
        flavor,
        "\n# Sales goes to Alice (keep this note)\n[[mapping]]\naddress = \"sales@example.com\"\ntarget = \"alice\" # the sales desk\n",
    );
    let mut b = admin(http);
    let token = b.csrf("/admin/mappings");
    let r = b.post(
        "/admin/mappings",
        &[
            ("address", "info@example.com"),
            ("target", "bob"),
            ("mode", "always"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/admin/mappings");
    assert!(
        page.body
            .contains("Added the mapping info@example.com -&gt; bob"),
        "{}",
        page.body
    );
    // Edit the first mapping's target: its trailing comment stays.
    let r = b.post(
        "/admin/mappings/edit",
        &[
            ("index", "0"),
            ("was", "sales@example.com"),
            ("address", "sales@example.com"),
            ("target", "bob"),
            ("mode", "always"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let text = fs::read_to_string(s.config_file()).unwrap();
    assert!(
        text.contains("# Sales goes to Alice (keep this note)"),
        "{text}"
    );
    assert!(text.contains("target = \"bob\" # the sales desk"), "{text}");
    assert!(text.contains("info@example.com"), "{text}");
    s.cli_ok(&["check"]);
    let list = String::from_utf8_lossy(&s.cli_ok(&["mapping", "list"]).stdout).into_owned();
    assert!(list.contains("info@example.com -> bob"), "{list}");
    // An edit that `mailroom check` would refuse is refused, with the problem shown.
    let before = fs::read_to_string(s.config_file()).unwrap();
    let r = b.post(
        "/admin/mappings",
        &[
            ("address", "x@example.com"),
            ("target", "alice"),
            ("mode", "pop3"),
            ("inmail", "no-such-inmail"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/admin/mappings");
    assert!(page.body.contains("Not changed"), "{}", page.body);
    assert!(page.body.contains("no-such-inmail"), "{}", page.body);
    assert_eq!(fs::read_to_string(s.config_file()).unwrap(), before);
    // CSV export and import.
    let csv = b.get("/admin/mappings.csv");
    assert!(
        csv.body.contains("\"info@example.com\",\"bob\""),
        "{}",
        csv.body
    );
    let r = b.post(
        "/admin/mappings/import",
        &[
            ("csv", "\"support@example.com\",\"alice\"\r\n"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(fs::read_to_string(s.config_file())
        .unwrap()
        .contains("support@example.com"));
    // Delete the first mapping: the comment above it stays.
    let r = b.post(
        "/admin/mappings/delete",
        &[
            ("index", "0"),
            ("was", "sales@example.com"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let text = fs::read_to_string(s.config_file()).unwrap();
    assert!(!text.contains("sales@example.com"), "{text}");
    assert!(
        text.contains("# Sales goes to Alice (keep this note)"),
        "{text}"
    );
    s.cli_ok(&["check"]);
}

fn users_connect_queue_and_logs(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    let root = s.data.parent().unwrap().to_path_buf();
    let up = root.join("up.sh");
    let marker = root.join("dialled");
    fs::write(&up, format!("#!/bin/sh\necho up >> {}\n", marker.display())).unwrap();
    fs::set_permissions(&up, fs::Permissions::from_mode(0o755)).unwrap();
    s.add_config(&format!(
        "\n[[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"{}\"\ndown = \"true\"\n",
        up.display()
    ));
    s.serve();
    let mut b = admin(http);
    // Status banner.
    let status = b.get("/admin/");
    assert!(status.body.contains("mail.example.com") || status.body.contains("Host"));
    assert!(status.body.contains("isp"));
    let token = csrf_in(&status.body).unwrap();
    // Connect Now reaches the scheduler: the link's dial script runs.
    let r = b.post("/admin/connect", &[("target", "isp"), ("csrf", &token)]);
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().starts_with("/admin/?run="));
    assert!(
        wait_until(Duration::from_secs(30), || marker.exists()),
        "Connect Now did not dial"
    );
    // Users: add (admin), password, admin flag off, delete.
    let r = b.post(
        "/admin/users",
        &[
            ("name", "carol"),
            ("password", "carol-secret-1"),
            ("admin", "on"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(users(&s).contains("carol  (admin)"), "{}", users(&s));
    let mut carol = Browser::new(http);
    assert_eq!(carol.login("carol", "carol-secret-1").status, 303);
    assert_eq!(carol.get("/admin/").status, 200);
    b.post(
        "/admin/users/password",
        &[
            ("name", "carol"),
            ("password", "carol-secret-2"),
            ("csrf", &token),
        ],
    );
    b.post("/admin/users/admin", &[("name", "carol"), ("csrf", &token)]);
    assert!(!users(&s).contains("carol  (admin)"));
    // Her session carried the old flag: it is gone.
    assert_eq!(carol.get("/admin/").status, 303);
    let mut carol = Browser::new(http);
    assert_eq!(carol.login("carol", "carol-secret-1").status, 403);
    assert_eq!(carol.login("carol", "carol-secret-2").status, 303);
    assert_eq!(carol.get("/admin/").status, 403);
    b.post(
        "/admin/users/delete",
        &[("name", "carol"), ("csrf", &token)],
    );
    assert!(!users(&s).contains("carol"));
    // A bad name is refused with the reason.
    b.post(
        "/admin/users",
        &[
            ("name", "bad name!"),
            ("password", "x-secret-123"),
            ("csrf", &token),
        ],
    );
    let page = b.get("/admin/users");
    assert!(page.body.contains("notice bad"), "{}", page.body);
    // Queue: a message for a remote address waits there; delete it from the page.
    let (mut c, _) = mailroom_tests::client::Smtp::connect(s.smtp).unwrap();
    c.command("EHLO t").unwrap();
    let auth = base64_plain(ALICE, ALICE_PASSWORD);
    assert_eq!(c.command(&format!("AUTH PLAIN {auth}")).unwrap().code, 235);
    assert_eq!(
        c.command("MAIL FROM:<alice@example.com>").unwrap().code,
        250
    );
    assert_eq!(c.command("RCPT TO:<far@remote.test>").unwrap().code, 250);
    assert_eq!(c.command("DATA").unwrap().code, 354);
    assert_eq!(
        c.command("Subject: queued\r\n\r\nhello\r\n.").unwrap().code,
        250
    );
    let _ = c.command("QUIT");
    let q = b.get("/admin/queue");
    assert!(q.body.contains("far@remote.test"), "{}", q.body);
    let id = q.body.split("name=\"id\" value=\"").nth(1).unwrap();
    let id = &id[..id.find('"').unwrap()];
    let r = b.post("/admin/queue/delete", &[("id", id), ("csrf", &token)]);
    assert_eq!(r.status, 303);
    let q = b.get("/admin/queue");
    assert!(q.body.contains("Deleted queued message"), "{}", q.body);
    assert!(q.body.contains("The queue is empty"), "{}", q.body);
    let r = b.post("/admin/queue/flush", &[("csrf", &token)]);
    assert_eq!(r.status, 303);
    // Logs: the main log, newest first.
    let logs = b.get("/admin/logs");
    assert_eq!(logs.status, 200);
    assert!(logs.body.contains("mailroom.log"), "{}", logs.body);
    let bad = b.get("/admin/logs?file=..%2F..%2Fetc%2Fpasswd");
    assert_eq!(bad.status, 200);
    assert!(!bad.body.contains("root:"), "only listed files are shown");
}

/// Rules and access files as text: a bad line is refused with `mailroom check`'s
/// message beside it and the file left alone; a good one is saved; an access file
/// that would shut out the administrator saving it is refused.
fn rules_and_access_files_as_text(flavor: Flavor) {
    let (s, http) = web_server(flavor, "");
    let mut b = admin(http);
    let token = b.csrf("/admin/rules");
    let rules = s.data.join("SMTPRULES.TXT");
    let before = fs::read(&rules).ok();
    let r = b.post(
        "/admin/rules",
        &[
            ("file", "SMTPRULES.TXT"),
            ("text", "this is not a rule\n"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("SMTPRULES.TXT:1:"), "{}", r.body);
    assert!(
        r.body.contains("this is not a rule"),
        "the text is kept: {}",
        r.body
    );
    assert_eq!(fs::read(&rules).ok(), before);
    let good = "# no spam\n1*Reject a blocked domain\nMailFrom: *@blocked.test\n";
    let r = b.post(
        "/admin/rules",
        &[("file", "SMTPRULES.TXT"), ("text", good), ("csrf", &token)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(fs::read_to_string(&rules).unwrap(), good);
    s.cli_ok(&["check"]);
    // Access files: one that refuses 127.0.0.1 would lock the administrator out.
    let page = b.get("/admin/access");
    assert!(page.body.contains("MAILHTTPALLOWED.DAT"));
    let r = b.post(
        "/admin/access",
        &[
            ("file", "MAILHTTPALLOWED.DAT"),
            ("text", "10.0.0.0/8\n"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("would refuse you"), "{}", r.body);
    // Not a file of these pages.
    let r = b.post(
        "/admin/access",
        &[
            ("file", "../mailroom.toml"),
            ("text", "x"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 404);
}

/// Lists through their page, and `mailroom.toml` as text on the settings page: a
/// change `mailroom check` refuses is shown with its problem and not saved.
fn lists_and_settings(flavor: Flavor) {
    let (s, http) = web_server(flavor, "\n# the office lists\n");
    let mut b = admin(http);
    let token = b.csrf("/admin/lists");
    let r = b.post(
        "/admin/lists",
        &[
            ("name", "team"),
            ("members", "alice\nbob\n"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["list", "show"]).stdout).into_owned();
    assert!(
        shown.contains("team (distribution list): alice, bob"),
        "{shown}"
    );
    let r = b.post(
        "/admin/lists/edit",
        &[
            ("name", "team"),
            ("members", "alice, carol@elsewhere.test"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["list", "show"]).stdout).into_owned();
    assert!(
        shown.contains("team (distribution list): alice, carol@elsewhere.test"),
        "{shown}"
    );
    // A mapping to the list, then deleting the list: check refuses (the mapping
    // would point at nothing), and the page says why.
    b.post(
        "/admin/mappings",
        &[
            ("address", "all@example.com"),
            ("target", "team"),
            ("csrf", &token),
        ],
    );
    let r = b.post("/admin/lists/delete", &[("name", "team"), ("csrf", &token)]);
    assert_eq!(r.status, 303);
    let page = b.get("/admin/lists");
    assert!(page.body.contains("Not changed"), "{}", page.body);
    assert!(fs::read_to_string(s.config_file())
        .unwrap()
        .contains("name = \"team\""));
    // The settings page: a bad value is refused with the file and line.
    let text = fs::read_to_string(s.config_file()).unwrap();
    let page = b.get("/admin/settings");
    assert!(page.body.contains("# the office lists"), "{}", page.body);
    let bad = text.replace("[services]", "no_such_key = 1\n[services]");
    let r = b.post("/admin/settings", &[("text", &bad), ("csrf", &token)]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("no_such_key"), "{}", r.body);
    assert_eq!(fs::read_to_string(s.config_file()).unwrap(), text);
    let good = text.replace(
        "# the office lists",
        "# the office lists, edited on the web",
    );
    let r = b.post("/admin/settings", &[("text", &good), ("csrf", &token)]);
    assert_eq!(r.status, 303);
    assert_eq!(fs::read_to_string(s.config_file()).unwrap(), good);
    s.cli_ok(&["check"]);
}

/// A mailing list added and set up on the lists page (§14.6): the settings land in
/// `[[list]]` and `[list.options]` as `mailroom check` and the list server read them,
/// defaults are left out of the file, and the page shows the members now in force.
fn mailing_list_settings(flavor: Flavor) {
    let (s, http) = web_server(flavor, "");
    let mut b = admin(http);
    let token = b.csrf("/admin/lists");
    let r = b.post(
        "/admin/lists",
        &[
            ("name", "club"),
            ("kind", "mailing"),
            ("members", "alice\nbob"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/admin/lists");
    assert!(page.body.contains("club (mailing list)"), "{}", page.body);
    assert!(
        page.body.contains(
            "Members now (ListServer changes included): alice@example.com, bob@example.com"
        ),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("action=\"/admin/lists/mailing\""),
        "{}",
        page.body
    );
    let r = b.post(
        "/admin/lists/mailing",
        &[
            ("name", "club"),
            ("moderators", "alice"),
            ("post", "anyone"),
            ("moderated", "on"),
            ("subscribe", "open"),
            ("footer", "To leave, write to listserver."),
            ("digest", "on"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let text = fs::read_to_string(s.config_file()).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let list = doc["list"].as_array().unwrap()[0].as_table().unwrap();
    assert_eq!(list["kind"].as_str(), Some("mailing"), "{text}");
    assert_eq!(list["post"].as_str(), Some("anyone"), "{text}");
    assert_eq!(list["moderated"].as_bool(), Some(true), "{text}");
    assert_eq!(list["subscribe"].as_str(), Some("open"), "{text}");
    assert!(
        list.get("confidential").is_none(),
        "a default stays out: {text}"
    );
    let options = list["options"].as_table().unwrap();
    assert_eq!(
        options["footer"].as_str(),
        Some("To leave, write to listserver."),
        "{text}"
    );
    assert_eq!(options["digest"].as_bool(), Some(true), "{text}");
    s.cli_ok(&["check"]);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["list", "show"]).stdout).into_owned();
    assert!(shown.contains("club"), "{shown}");
    // Back to the defaults: the keys leave the file again.
    let r = b.post(
        "/admin/lists/mailing",
        &[
            ("name", "club"),
            ("post", "members"),
            ("subscribe", "closed"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let text = fs::read_to_string(s.config_file()).unwrap();
    assert!(!text.contains("post ="), "{text}");
    assert!(!text.contains("[list.options]"), "{text}");
    assert!(!text.contains("moderators"), "{text}");
    // A distribution list has no such settings.
    b.post(
        "/admin/lists",
        &[("name", "team"), ("members", "alice"), ("csrf", &token)],
    );
    b.post(
        "/admin/lists/mailing",
        &[("name", "team"), ("post", "anyone"), ("csrf", &token)],
    );
    let page = b.get("/admin/lists");
    assert!(page.body.contains("not a mailing list"), "{}", page.body);
    s.cli_ok(&["check"]);
}

/// A user's forwarding, assistants and comment, through `mailroom user set`'s checks.
fn user_forwarding_and_assistants(flavor: Flavor) {
    let (s, http) = web_server(flavor, "");
    let mut b = admin(http);
    let page = b.get("/admin/user?name=alice");
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf_in(&page.body).unwrap();
    let r = b.post(
        "/admin/users/settings",
        &[
            ("name", ALICE),
            ("comment", "Sales desk"),
            ("use_forwarding", "on"),
            ("forward_to", "alice@elsewhere.test"),
            ("assistants", "bob"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["user", "show", ALICE]).stdout).into_owned();
    assert!(shown.contains("alice@elsewhere.test"), "{shown}");
    assert!(shown.contains("bob"), "{shown}");
    let users = b.get("/admin/users");
    assert!(users.body.contains("Sales desk"), "{}", users.body);
    // Forwarding to a local name that does not exist is refused, as by the CLI.
    let r = b.post(
        "/admin/users/settings",
        &[
            ("name", ALICE),
            ("use_forwarding", "on"),
            ("forward_to", "nosuchuser"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/admin/user?name=alice");
    assert!(page.body.contains("notice bad"), "{}", page.body);
    let shown = String::from_utf8_lossy(&s.cli_ok(&["user", "show", ALICE]).stdout).into_owned();
    assert!(!shown.contains("nosuchuser"), "{shown}");
    assert_eq!(b.get("/admin/user?name=nobody").status, 404);
}

/// The forms of their own for Local Mail, unknown recipients, In Mail, connections
/// with their Out Mail and schedules: each writes `mailroom.toml` through the CLI's
/// editing code, so comments stay, `mailroom check` passes, and a change it would
/// refuse is refused. The comment above the last `[[mapping]]` survives its deletion.
fn settings_forms(flavor: Flavor) {
    let (s, http) = web_server(
        flavor,
        "\n[[connection]]\nname = \"isp\"\n\n\
         # The ISP mailbox (keep this note)\n[[inmail]]\nname = \"office\"\nconnections = [\"isp\"]\n\
         server = \"127.0.0.1:1\"\nuser = \"office\"\npassword = \"secret\" # from the ISP\n\n\
         # The last mapping (keep this note too)\n[[mapping]]\naddress = \"sales@example.com\"\ntarget = \"alice\"\n",
    );
    let mut b = admin(http);
    let text = || fs::read_to_string(s.config_file()).unwrap();
    // Local Mail and unknown recipients.
    let page = b.get("/admin/local-mail");
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf_in(&page.body).unwrap();
    let r = b.post(
        "/admin/section",
        &[
            ("section", "unknown_recipients"),
            ("op", "save"),
            ("action", "message_to"),
            ("to", ALICE),
            ("bounce", "on"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/local-mail"));
    let t = text();
    assert!(t.contains("[unknown_recipients]"), "{t}");
    assert!(t.contains("action = \"message_to\""), "{t}");
    assert!(t.contains("bounce = true"), "{t}");
    let r = b.post(
        "/admin/section",
        &[
            ("section", "local_mail"),
            ("op", "save"),
            ("default_user_mapping", "on"),
            ("global_headers", "X-Office: Main, first floor\r\nX-Mailer:"),
            ("domain_mappings", "old.example -> example.com"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let t = text();
    assert!(
        t.contains("global_headers = [\"X-Office: Main, first floor\", \"X-Mailer:\"]"),
        "{t}"
    );
    assert!(t.contains("from = \"old.example\""), "{t}");
    // A checkbox left at its default is not written.
    assert!(!t.contains("default_user_mapping"), "{t}");
    let page = b.get("/admin/local-mail");
    assert!(page.body.contains("Saved Local Mail."), "{}", page.body);
    assert!(
        page.body.contains("old.example -&gt; example.com"),
        "{}",
        page.body
    );
    s.cli_ok(&["check"]);
    // In Mail: a changed value, the password left empty stays as it was, with the
    // comments around it.
    let page = b.get("/admin/inmail");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("name=\"server\" value=\"127.0.0.1:1\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("secret"), "a password is never shown");
    let inmail = |size: &str, connections: &str| {
        vec![
            ("section", "inmail".to_string()),
            ("op", "save".into()),
            ("index", "0".into()),
            ("was", "office".into()),
            ("name", "office".into()),
            ("enabled", "on".into()),
            ("connections", connections.into()),
            ("server", "127.0.0.1:1".into()),
            ("user", "office".into()),
            ("password", "".into()),
            ("tls_verify", "on".into()),
            ("remove_duplicates", "on".into()),
            ("size_limit_kb", size.into()),
            ("csrf", token.clone()),
        ]
    };
    let post = |b: &mut mailroom_tests::web::Browser, fields: Vec<(&str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post("/admin/section", &fields)
    };
    let r = post(&mut b, inmail("500", "isp"));
    assert_eq!(r.status, 303);
    let t = text();
    assert!(t.contains("size_limit_kb = 500"), "{t}");
    assert!(t.contains("password = \"secret\" # from the ISP"), "{t}");
    assert!(t.contains("# The ISP mailbox (keep this note)"), "{t}");
    // Refused as `mailroom check` refuses it, with the problem shown; nothing changes.
    let before = text();
    let r = post(&mut b, inmail("600", "no-such-connection"));
    assert_eq!(r.status, 303);
    let page = b.get("/admin/inmail");
    assert!(page.body.contains("Not changed"), "{}", page.body);
    assert!(page.body.contains("no-such-connection"), "{}", page.body);
    assert_eq!(text(), before);
    // Connections with Out Mail: add one.
    let r = b.post(
        "/admin/section",
        &[
            ("section", "connection"),
            ("op", "add"),
            ("name", "backup"),
            ("link", "lan"),
            ("autoconnect_once", "on"),
            ("retry_interval", "2m"),
            ("outmail.method", "relay"),
            ("outmail.relays", "relay.example:25"),
            ("outmail.auth_user", "office"),
            ("outmail.auth_password", "relay-secret"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let t = text();
    assert!(t.contains("name = \"backup\""), "{t}");
    assert!(t.contains("relays = [\"relay.example:25\"]"), "{t}");
    assert!(t.contains("retry_interval = \"2m\""), "{t}");
    s.cli_ok(&["check"]);
    let page = b.get("/admin/connections");
    assert!(page.body.contains("Added backup."), "{}", page.body);
    assert!(
        !page.body.contains("relay-secret"),
        "a password is never shown"
    );
    // A schedule: add, then delete.
    let r = b.post(
        "/admin/section",
        &[
            ("section", "schedule"),
            ("op", "add"),
            ("name", "morning"),
            ("at", "08:00\n12:30"),
            ("connections", "backup"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let t = text();
    assert!(t.contains("at = [\"08:00\", \"12:30\"]"), "{t}");
    s.cli_ok(&["check"]);
    let r = b.post(
        "/admin/section",
        &[
            ("section", "schedule"),
            ("op", "delete"),
            ("index", "0"),
            ("was", "morning"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(!text().contains("morning"));
    // Deleting the last [[mapping]] keeps the comment above it.
    let r = b.post(
        "/admin/mappings/delete",
        &[
            ("index", "0"),
            ("was", "sales@example.com"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let t = text();
    assert!(!t.contains("sales@example.com"), "{t}");
    assert!(t.contains("# The last mapping (keep this note too)"), "{t}");
    s.cli_ok(&["check"]);
}

/// `/admin/user`: group, permissions, size rules and quota, as `mailroom user set`.
fn user_permissions_and_quota(flavor: Flavor) {
    let (s, http) = web_server(flavor, "\n[[group]]\nname = \"staff\"\n");
    let mut b = admin(http);
    let page = b.get("/admin/user?name=alice");
    assert!(page.body.contains("Allowed protocols"), "{}", page.body);
    let token = csrf_in(&page.body).unwrap();
    let r = b.post(
        "/admin/users/settings",
        &[
            ("name", ALICE),
            ("permissions", "1"),
            ("group", "staff"),
            ("protocol_pop3", "on"),
            ("protocol_imap", "on"),
            ("send_internet", "no"),
            ("receive_internet", ""),
            ("in_everyone", "yes"),
            ("max_outgoing_kb", "2048"),
            ("quota_kb", "1000"),
            ("size_at_least_kb", "100"),
            ("size_at_least_action", "redirect"),
            ("size_at_least_to", "bob"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    let file = s
        .config_file()
        .parent()
        .unwrap()
        .join("users")
        .join("alice.toml");
    let account = fs::read_to_string(&file).unwrap();
    for want in [
        "group = \"staff\"",
        "send_internet = false",
        "in_everyone = true",
        "protocols = [\"pop3\", \"imap\"]",
        "quota = 1024000",
        "max_outgoing_size = 2097152",
        "action = \"redirect\"",
    ] {
        assert!(account.contains(want), "{want}: {account}");
    }
    assert!(!account.contains("receive_internet"), "{account}");
    let shown = String::from_utf8_lossy(&s.cli_ok(&["user", "show", ALICE]).stdout).into_owned();
    assert!(shown.contains("staff"), "{shown}");
    // The page shows what was saved.
    let page = b.get("/admin/user?name=alice");
    assert!(
        page.body.contains("name=\"quota_kb\" value=\"1000\""),
        "{}",
        page.body
    );
    // A size rule to a local name that does not exist is refused, as by the CLI.
    let r = b.post(
        "/admin/users/settings",
        &[
            ("name", ALICE),
            ("permissions", "1"),
            ("size_at_least_kb", "100"),
            ("size_at_least_to", "nosuchuser"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303);
    assert_eq!(fs::read_to_string(&file).unwrap(), account);
    s.cli_ok(&["check"]);
}

fn base64_plain(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

fn malformed_requests_get_4xx_and_the_server_keeps_serving(flavor: Flavor) {
    let (_s, http) = web_server(flavor, "");
    let limit = Duration::from_secs(20);
    let big = format!(
        "GET /login HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "x".repeat(40 * 1024)
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (big.into_bytes(), "431"),
        (
            b"POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin/ HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            "400",
        ),
        (
            b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nuser=".to_vec(),
            "400",
        ),
        (
            b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n".to_vec(),
            "400",
        ),
        (
            b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
            "413",
        ),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "400"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(), "400"),
    ];
    for (bytes, want) in cases {
        let out = raw(http, &bytes, limit).expect("the server answers");
        let first = out.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&format!("HTTP/1.1 {want}")),
            "wanted {want}, got {first:?} for {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        );
        assert_eq!(
            out.lines().filter(|l| l.starts_with("HTTP/1.1 ")).count(),
            1,
            "one answer, nothing smuggled: {out}"
        );
    }
    // Pipelined requests on one connection are answered in order.
    let out = raw(
        http,
        b"GET /login HTTP/1.1\r\nHost: a\r\n\r\nGET /static/style.css HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        limit,
    )
    .unwrap();
    let login = out.find("<form").expect("the login page");
    let css = out.find("text/css").expect("the stylesheet");
    assert!(login < css);
    // Still serving.
    let mut b = Browser::new(http);
    assert_eq!(b.get("/login").status, 200);
    assert_eq!(b.login("postmaster", POSTMASTER_PASSWORD).status, 303);
}

/// HTTPS on its own listener with the mail services' certificate: the pages, and a
/// session cookie marked `Secure`.
fn https_with_the_mail_certificate(flavor: Flavor) {
    let mut s = TestServer::setup(flavor);
    let https = s.add_listener("https");
    s.serve();
    let base = format!("https://{https}");
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sk", "-D", "-", "--max-time", "30"])
            .args(args)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let page = curl(&[&format!("{base}/login")]);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("name=\"password\""));
    let login = curl(&[
        "-H",
        &format!("Origin: {base}"),
        "--data",
        &format!("user=postmaster&password={POSTMASTER_PASSWORD}"),
        &format!("{base}/login"),
    ]);
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    // An Origin that says http is not this site.
    let wrong = curl(&[
        "-H",
        &format!("Origin: http://{https}"),
        "--data",
        &format!("user=postmaster&password={POSTMASTER_PASSWORD}"),
        &format!("{base}/login"),
    ]);
    assert!(wrong.starts_with("HTTP/1.1 403"), "{wrong}");
}

both_binaries!(
    #[cfg_attr(not(have_curl), ignore = "curl is not installed")]
    https_with_the_mail_certificate,
);

both_binaries!(
    only_login_and_assets_without_a_session,
    security_headers_and_cookie_flags,
    csrf_refusal_changes_nothing,
    a_cookie_from_another_address_is_refused,
    lockout_after_the_configured_failures,
    comments_survive_web_edits,
    users_connect_queue_and_logs,
    rules_and_access_files_as_text,
    lists_and_settings,
    mailing_list_settings,
    user_forwarding_and_assistants,
    settings_forms,
    user_permissions_and_quota,
    malformed_requests_get_4xx_and_the_server_keeps_serving,
);
