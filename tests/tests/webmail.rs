//! Webmail over HTTP through both binaries (issue 14): what the web reads and changes
//! IMAP and POP3 see (one index and flags); a user cannot reach another user's message
//! by changing an id or a folder name; CR/LF in a header field is refused and nothing
//! is sent; an attachment round-trips byte for byte and the sent copy is in Sent; a
//! reply reaches the sender; an HTML part is served sanitized under its own strict
//! policy; password, autoresponder, forwarding and plan are saved where the CLI and
//! the engine read them, and a password change lifts a lock-out.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::Smtp;
use mailroom_tests::imap::Imap;
use mailroom_tests::pop3::{retrieve, Pop3};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD};
use mailroom_tests::web::{csrf_in, Browser, Reply};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::net::SocketAddr;

struct Setup {
    s: TestServer,
    http: SocketAddr,
    imap: SocketAddr,
    pop3: SocketAddr,
}

fn setup(flavor: Flavor, more: &str) -> Setup {
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    let imap = s.add_listener("imap");
    let pop3 = s.add_listener("pop3");
    if !more.is_empty() {
        s.edit_config_text(|t| t.replace("[accounts]", &format!("[accounts]\n{more}")));
        if !fs::read_to_string(s.config_file()).unwrap().contains(more) {
            s.add_config(&format!("\n[accounts]\n{more}\n"));
        }
    }
    s.cli_ok(&["check"]);
    s.serve();
    Setup {
        s,
        http,
        imap,
        pop3,
    }
}

fn user(http: SocketAddr, name: &str, password: &str) -> Browser {
    let mut b = Browser::new(http);
    let r = b.login(name, password);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/mail/"));
    b
}

/// Send `message` over SMTP from alice to `to`.
fn smtp_send(s: &TestServer, to: &str, message: &str) {
    let (mut c, _) = Smtp::connect(s.smtp).expect("SMTP connects");
    c.command("EHLO client.example.com").expect("EHLO");
    let r = c
        .send_mail(
            "alice@example.com",
            to,
            message.replace('\n', "\r\n").as_bytes(),
        )
        .expect("sent");
    assert_eq!(r.code, 250, "{r:?}");
    let _ = c.command("QUIT");
}

fn plain(subject: &str, body: &str) -> String {
    format!(
        "From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: {subject}\nMessage-ID: <{}@client.example.com>\n\n{body}\n",
        subject.replace(' ', ".")
    )
}

/// The links to messages on a list page, in page order.
fn message_links(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with("/mail/message?"))
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

fn uid_of(link: &str) -> u32 {
    link.split("uid=").nth(1).unwrap().parse().unwrap()
}

fn imap_flags(imap: SocketAddr, user: &str, password: &str, folder: &str) -> Vec<String> {
    let mut c = Imap::connect(imap).unwrap();
    c.login(user, password);
    c.ok(&format!("SELECT {folder}"));
    let lines = c.ok("UID FETCH 1:* (FLAGS)");
    let _ = c.command("LOGOUT");
    lines.into_iter().filter(|l| l.starts_with("* ")).collect()
}

/// Post `fields` to `path` with the CSRF token of `page`.
fn form(b: &mut Browser, page: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
    let token = b.csrf(page);
    let mut all = fields.to_vec();
    all.push(("csrf", &token));
    b.post(path, &all)
}

fn reading_shares_state_with_imap_and_pop3(flavor: Flavor) {
    let t = setup(flavor, "");
    smtp_send(&t.s, "bob@example.com", &plain("first note", "one"));
    smtp_send(&t.s, "bob@example.com", &plain("second note", "two"));
    let mut b = user(t.http, BOB, BOB_PASSWORD);
    let list = b.get("/mail/");
    assert_eq!(list.status, 200);
    let (first, second) = (
        list.body.find("first note").expect("first listed"),
        list.body.find("second note").expect("second listed"),
    );
    assert!(second < first, "newest first");
    assert!(list.body.contains("2 messages, 2 unread"), "{}", list.body);
    let links = message_links(&list.body);
    assert_eq!(links.len(), 2);
    // Opening the older one reads it: IMAP sees \Seen.
    let older = links[1].clone();
    let m = b.get(&older);
    assert_eq!(m.status, 200);
    assert!(m.body.contains("first note") && m.body.contains("one"));
    let flags = imap_flags(t.imap, BOB, BOB_PASSWORD, "INBOX");
    let seen: Vec<&String> = flags.iter().filter(|l| l.contains("\\Seen")).collect();
    assert_eq!(seen.len(), 1, "{flags:?}");
    assert!(
        seen[0].contains(&format!("UID {}", uid_of(&older))),
        "{flags:?}"
    );
    // Flagged on the web, then unread on the web.
    let uid = uid_of(&older).to_string();
    let r = form(
        &mut b,
        &older,
        "/mail/flags",
        &[("f", "INBOX"), ("uid", &uid), ("set", "flag")],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let r = form(
        &mut b,
        &older,
        "/mail/flags",
        &[("f", "INBOX"), ("uid", &uid), ("set", "unread")],
    );
    assert_eq!(r.status, 303);
    let flags = imap_flags(t.imap, BOB, BOB_PASSWORD, "INBOX");
    let line = flags
        .iter()
        .find(|l| l.contains(&format!("UID {uid}")))
        .unwrap();
    assert!(
        line.contains("\\Flagged") && !line.contains("\\Seen"),
        "{flags:?}"
    );
    // IMAP marks the other read: the web list shows it.
    let mut c = Imap::connect(t.imap).unwrap();
    c.login(BOB, BOB_PASSWORD);
    c.ok("SELECT INBOX");
    c.ok(&format!("UID STORE {} +FLAGS (\\Seen)", uid_of(&links[0])));
    let _ = c.command("LOGOUT");
    assert!(b.get("/mail/").body.contains("2 messages, 1 unread"));
    // Move the newer to Junk, delete the older to Trash: IMAP and POP3 agree.
    let newer = uid_of(&links[0]).to_string();
    let r = form(
        &mut b,
        "/mail/",
        "/mail/move",
        &[("f", "INBOX"), ("uid", &newer), ("to", "Junk")],
    );
    assert_eq!(r.status, 303);
    let r = form(
        &mut b,
        "/mail/",
        "/mail/delete",
        &[("f", "INBOX"), ("uid", &uid)],
    );
    assert_eq!(r.status, 303);
    assert!(b.get("/mail/").body.contains("Moved 1 to Trash."));
    let mut p = Pop3::connect(t.pop3).unwrap();
    assert!(p.login(BOB, BOB_PASSWORD).unwrap().starts_with("+OK"));
    assert!(
        p.command("STAT").unwrap().starts_with("+OK 0 "),
        "INBOX empty for POP3"
    );
    let _ = p.command("QUIT");
    assert_eq!(imap_flags(t.imap, BOB, BOB_PASSWORD, "Junk").len(), 1);
    let trash = imap_flags(t.imap, BOB, BOB_PASSWORD, "Trash");
    assert_eq!(trash.len(), 1, "{trash:?}");
    assert!(
        trash[0].contains("\\Flagged"),
        "flags move with it: {trash:?}"
    );
    assert!(b.get("/mail/?f=Trash").body.contains("first note"));
    // Deleted again from Trash: gone.
    let trash_page = b.get("/mail/?f=Trash");
    let in_trash = uid_of(&message_links(&trash_page.body)[0]).to_string();
    let r = form(
        &mut b,
        "/mail/?f=Trash",
        "/mail/delete",
        &[("f", "Trash"), ("uid", &in_trash)],
    );
    assert_eq!(r.status, 303);
    assert!(imap_flags(t.imap, BOB, BOB_PASSWORD, "Trash").is_empty());
    // The list's ticked messages, all at once; another user's UIDs are skipped.
    for n in 0..3 {
        smtp_send(&t.s, "bob@example.com", &plain(&format!("batch {n}"), "b"));
    }
    let list = b.get("/mail/");
    let uids: Vec<String> = message_links(&list.body)
        .iter()
        .map(|l| uid_of(l).to_string())
        .collect();
    assert_eq!(uids.len(), 3);
    let token = csrf_in(&list.body).unwrap();
    let fields = |set: &'static str| {
        let mut f: Vec<(&str, &str)> = vec![("csrf", &token), ("f", "INBOX"), ("set", set)];
        f.extend(uids[..2].iter().map(|u| ("uid", u.as_str())));
        f.push(("uid", "999999"));
        f
    };
    assert_eq!(b.post("/mail/bulk", &fields("read")).status, 303);
    assert!(b.get("/mail/").body.contains("3 messages, 1 unread"));
    let mut f = fields("move");
    f.push(("to", "Junk"));
    assert_eq!(b.post("/mail/bulk", &f).status, 303);
    assert!(b.get("/mail/").body.contains("Moved 2 to Junk."));
    assert_eq!(imap_flags(t.imap, BOB, BOB_PASSWORD, "Junk").len(), 3);
    assert_eq!(imap_flags(t.imap, BOB, BOB_PASSWORD, "INBOX").len(), 1);
}

fn no_other_users_messages(flavor: Flavor) {
    let t = setup(flavor, "");
    smtp_send(
        &t.s,
        "bob@example.com",
        &plain("for bob only", "secret words"),
    );
    let mut bob = user(t.http, BOB, BOB_PASSWORD);
    let link = message_links(&bob.get("/mail/").body)[0].clone();
    let uid = uid_of(&link);
    assert_eq!(bob.get(&link).status, 200);
    let mut alice = user(t.http, ALICE, ALICE_PASSWORD);
    let mut probes = vec![link.clone()];
    for page in ["message", "raw", "html", "part"] {
        for f in [
            "INBOX",
            "../bob",
            "..%2Fbob",
            "%2E%2E/bob",
            "/../bob",
            "../../mail/bob",
            ".",
            "",
        ] {
            probes.push(format!("/mail/{page}?f={f}&uid={uid}&n=0"));
        }
    }
    for f in ["../bob", "..%2Fbob", ".."] {
        probes.push(format!("/mail/?f={f}"));
    }
    for p in &probes {
        let r = alice.get(p);
        assert!(r.status == 404 || r.status == 400, "{p}: {r:?}");
        assert!(
            !r.body.contains("secret words") && !r.body.contains("for bob only"),
            "{p} leaked"
        );
    }
    // Forms naming bob's message change nothing of his.
    for action in ["/mail/delete", "/mail/flags", "/mail/move"] {
        let r = form(
            &mut alice,
            "/mail/",
            action,
            &[
                ("f", "INBOX"),
                ("uid", &uid.to_string()),
                ("set", "flag"),
                ("to", "Trash"),
            ],
        );
        assert_eq!(r.status, 404, "{action}: {r:?}");
    }
    // A compose of a reply to bob's message quotes nothing of it.
    let r = alice.get(&format!("/mail/compose?reply={uid}&f=INBOX"));
    assert!(!r.body.contains("secret words"));
    let flags = imap_flags(t.imap, BOB, BOB_PASSWORD, "INBOX");
    assert_eq!(flags.len(), 1);
    assert!(!flags[0].contains("\\Flagged"), "{flags:?}");
}

fn header_injection_is_refused(flavor: Flavor) {
    let t = setup(flavor, "");
    let mut alice = user(t.http, ALICE, ALICE_PASSWORD);
    let cases: [[(&str, &str); 3]; 4] = [
        [
            ("to", "bob@example.com"),
            ("subject", "Hi\r\nBcc: victim@example.net"),
            ("body", "x"),
        ],
        [
            ("to", "bob@example.com"),
            ("subject", "Hi\nX-Evil: 1"),
            ("body", "x"),
        ],
        [
            ("to", "bob@example.com\r\nBcc: victim@example.net"),
            ("subject", "Hi"),
            ("body", "x"),
        ],
        [
            ("to", "bob@example.com"),
            ("subject", "Hi\rX: y"),
            ("body", "x"),
        ],
    ];
    for fields in &cases {
        let r = form(&mut alice, "/mail/compose", "/mail/compose", fields);
        assert_eq!(r.status, 400, "{fields:?}: {r:?}");
        assert!(r.body.contains("line break"), "{}", r.body);
    }
    // The same through a multipart form.
    let token = alice.csrf("/mail/compose");
    let r = alice.post_multipart(
        "/mail/compose",
        &[
            ("csrf", &token),
            ("to", "bob@example.com"),
            ("subject", "Hi\r\nBcc: victim@example.net"),
            ("body", "x"),
        ],
        &[],
    );
    assert_eq!(r.status, 400, "{r:?}");
    let mut bob = user(t.http, BOB, BOB_PASSWORD);
    assert!(bob.get("/mail/").body.contains("No messages."));
    assert!(alice.get("/mail/?f=Sent").body.contains("No messages."));
}

fn send_reply_and_attachment_round_trip(flavor: Flavor) {
    let t = setup(flavor, "");
    let mut alice = user(t.http, ALICE, ALICE_PASSWORD);
    let file: Vec<u8> = (0..4096u32)
        .map(|i| (i * 7 % 256) as u8)
        .chain(*b"\r\n--x\r\n")
        .collect();
    let token = alice.csrf("/mail/compose");
    let r = alice.post_multipart(
        "/mail/compose",
        &[
            ("csrf", &token),
            ("to", "bob"),
            ("subject", "Report attached"),
            ("body", "Here it is.\r\nAlice"),
        ],
        &[(
            "attachment",
            "report.bin",
            "application/octet-stream",
            &file,
        )],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert!(alice.get("/mail/").body.contains("Sent to bob@example.com"));
    let sent = alice.get("/mail/?f=Sent");
    assert!(sent.body.contains("Report attached"), "{}", sent.body);
    // Bob reads it and downloads the attachment.
    let mut bob = user(t.http, BOB, BOB_PASSWORD);
    let link = message_links(&bob.get("/mail/").body)[0].clone();
    let m = bob.get(&link);
    assert!(
        m.body.contains("Here it is.") && m.body.contains("report.bin"),
        "{}",
        m.body
    );
    let uid = uid_of(&link);
    let part = bob.get(&format!("/mail/part?f=INBOX&uid={uid}&n=0"));
    assert_eq!(part.status, 200);
    assert_eq!(
        part.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(part
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(part.bytes, file, "byte for byte");
    let csp = part.header("content-security-policy").unwrap();
    assert!(
        csp.contains("sandbox") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(part.header("x-frame-options"), Some("DENY"));
    // Bob replies; the form is filled from the original.
    let compose = bob.get(&format!("/mail/compose?reply={uid}&f=INBOX"));
    assert!(
        compose.body.contains("value=\"alice@example.com\""),
        "{}",
        compose.body
    );
    assert!(compose.body.contains("Re: Report attached"));
    assert!(compose.body.contains("&gt; Here it is."));
    let token = csrf_in(&compose.body).unwrap();
    let r = bob.post_multipart(
        "/mail/compose",
        &[
            ("csrf", &token),
            ("to", "alice@example.com"),
            ("subject", "Re: Report attached"),
            ("body", "Thanks!\r\n\r\n> Here it is."),
            ("reply_f", "INBOX"),
            ("reply_uid", &uid.to_string()),
        ],
        &[],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let flags = imap_flags(t.imap, BOB, BOB_PASSWORD, "INBOX");
    assert!(flags[0].contains("\\Answered"), "{flags:?}");
    assert!(bob
        .get("/mail/?f=Sent")
        .body
        .contains("Re: Report attached"));
    // At alice: over POP3, with In-Reply-To naming the original.
    let got = retrieve(t.pop3, ALICE, ALICE_PASSWORD, 1);
    assert!(got.contains("Subject: Re: Report attached"), "{got}");
    assert!(got.contains("In-Reply-To: <"), "{got}");
    assert!(
        got.starts_with("Received: from webmail ([127.0.0.1])"),
        "the trace line of a submission: {got}"
    );
    assert!(got.contains("with HTTP"), "{got}");
    assert!(got.contains("Thanks!"), "{got}");
    // Forwarding carries the attachment on.
    let fwd = bob.get(&format!("/mail/compose?forward={uid}&f=INBOX"));
    assert!(fwd.body.contains("Fwd: Report attached"));
    let token = csrf_in(&fwd.body).unwrap();
    let r = bob.post_multipart(
        "/mail/compose",
        &[
            ("csrf", &token),
            ("to", "postmaster"),
            ("subject", "Fwd: Report attached"),
            ("body", "fyi"),
            ("fwd_f", "INBOX"),
            ("fwd_uid", &uid.to_string()),
        ],
        &[],
    );
    assert_eq!(r.status, 303, "{r:?}");
    let mut pm = Browser::new(t.http);
    assert_eq!(
        pm.login("postmaster", mailroom_tests::server::POSTMASTER_PASSWORD)
            .status,
        303
    );
    let link = message_links(&pm.get("/mail/").body)[0].clone();
    let puid = uid_of(&link);
    let part = pm.get(&format!("/mail/part?f=INBOX&uid={puid}&n=0"));
    assert_eq!(part.bytes, file, "forwarded byte for byte");
}

fn html_is_sanitized_and_framed(flavor: Flavor) {
    let t = setup(flavor, "");
    let html = "From: alice@example.com\nTo: bob@example.com\nSubject: fancy\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n<html><head><script>alert(1)</script><style>body{background:url(http://127.0.0.1:9/style)}</style></head>\n<body onload=\"alert(2)\"><p>Hello <b>there</b></p><img src=\"http://127.0.0.1:9/pixel.gif\" onerror=\"alert(3)\">\n<svg onload=\"alert(4)\"><script>alert(5)</script></svg><a href=\"javascript:alert(6)\">x</a><iframe src=\"http://127.0.0.1:9/f\"></iframe><form action=\"http://127.0.0.1:9/\"><input name=q></form></body></html>\n";
    smtp_send(&t.s, "bob@example.com", html);
    let mut bob = user(t.http, BOB, BOB_PASSWORD);
    let link = message_links(&bob.get("/mail/").body)[0].clone();
    let uid = uid_of(&link);
    let page = bob.get(&link);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(
            "<iframe class=\"html\" sandbox=\"allow-popups allow-popups-to-escape-sandbox\""
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains("allow-scripts") && !page.body.contains("allow-same-origin"));
    assert!(!page.body.contains("<script"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let frame = bob.get(&format!("/mail/html?f=INBOX&uid={uid}"));
    assert_eq!(frame.status, 200);
    let lower = frame.body.to_ascii_lowercase();
    for bad in [
        "<script",
        "onload",
        "onerror",
        "<svg",
        "javascript:",
        "<iframe",
        "<form",
        "<style",
        "alert(",
    ] {
        assert!(!lower.contains(bad), "{bad} survived: {}", frame.body);
    }
    assert!(frame.body.contains("Hello <b>there</b>"), "{}", frame.body);
    let csp = frame.header("content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'none'")
            && csp.contains("sandbox")
            && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("script"), "{csp}");
    assert_eq!(frame.all("content-security-policy").len(), 1, "one policy");
    let frame = bob.get(&format!("/mail/html?f=INBOX&uid={uid}&images=1"));
    let csp = frame.header("content-security-policy").unwrap();
    assert!(csp.contains("img-src https: http:"), "{csp}");
    assert!(!csp.contains("script"), "{csp}");
}

fn self_service(flavor: Flavor) {
    let t = setup(flavor, "lockout_failures = 3");
    let mut alice = user(t.http, ALICE, ALICE_PASSWORD);
    let mut elsewhere = user(t.http, ALICE, ALICE_PASSWORD);
    // Autoresponder: the account file's switches and the text file.
    let r = form(
        &mut alice,
        "/mail/autoresponder",
        "/mail/autoresponder",
        &[
            ("enabled", "on"),
            ("text", "Away until Monday.\r\n"),
            ("once", "on"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(alice.get("/mail/autoresponder").body.contains("Saved."));
    let account = fs::read_to_string(t.s.data.join("users").join("alice.toml")).unwrap();
    let parsed: toml::Table = account.parse().unwrap();
    let ar = parsed["autoresponder"].as_table().unwrap();
    assert_eq!(ar["enabled"].as_bool(), Some(true), "{account}");
    assert_eq!(ar["once"].as_bool(), Some(true), "{account}");
    assert_eq!(ar["keep"].as_bool(), Some(false), "{account}");
    assert_eq!(
        fs::read_to_string(t.s.data.join("users").join("alice.autoresponder")).unwrap(),
        "Away until Monday.\n"
    );
    // Forwarding, checked as `mailroom user set` checks it.
    let r = form(
        &mut alice,
        "/mail/forwarding",
        "/mail/forwarding",
        &[("use_forwarding", "on"), ("forward_to", "bob@example.com")],
    );
    assert_eq!(r.status, 303);
    let account: toml::Table = fs::read_to_string(t.s.data.join("users").join("alice.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(account["use_forwarding"].as_bool(), Some(true));
    assert_eq!(
        account["forward_to"].as_array().unwrap()[0].as_str(),
        Some("bob@example.com")
    );
    // The plan.
    let r = form(
        &mut alice,
        "/mail/plan",
        "/mail/plan",
        &[("plan", "Out fishing.")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        fs::read_to_string(t.s.maildir(ALICE).join("USERPLAN.TXT")).unwrap(),
        "Out fishing."
    );
    // Password: a wrong old password changes nothing.
    let r = form(
        &mut alice,
        "/mail/password",
        "/mail/password",
        &[
            ("old_password", "nope"),
            ("new_password", "brand-new-pass-7"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(alice
        .get("/mail/password")
        .body
        .contains("current password is wrong"));
    // Someone guesses over POP3 until the account locks.
    for _ in 0..3 {
        let mut p = Pop3::connect(t.pop3).unwrap();
        let _ = p.login(ALICE, "guess");
    }
    let mut p = Pop3::connect(t.pop3).unwrap();
    assert!(
        p.login(ALICE, ALICE_PASSWORD).unwrap().starts_with("-ERR"),
        "locked"
    );
    // A policy-breaking new password is refused; a good one lifts the lock.
    let r = form(
        &mut alice,
        "/mail/password",
        "/mail/password",
        &[("old_password", ALICE_PASSWORD), ("new_password", "x")],
    );
    assert_eq!(r.status, 303);
    assert!(alice.get("/mail/password").body.contains("notice bad"));
    let r = form(
        &mut alice,
        "/mail/password",
        "/mail/password",
        &[
            ("old_password", ALICE_PASSWORD),
            ("new_password", "brand-new-pass-7"),
            ("new_password2", "brand-new-pass-7"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(alice
        .get("/mail/password")
        .body
        .contains("Your password is changed."));
    // The other login of the account ended; this one goes on.
    assert_eq!(elsewhere.get("/mail/").status, 303, "other session ended");
    assert_eq!(alice.get("/mail/").status, 200);
    let mut p = Pop3::connect(t.pop3).unwrap();
    assert!(
        p.login(ALICE, "brand-new-pass-7")
            .unwrap()
            .starts_with("+OK"),
        "lock lifted, new password"
    );
    let _ = p.command("QUIT");
    assert_eq!(
        Browser::new(t.http).login(ALICE, ALICE_PASSWORD).status,
        403
    );
    user(t.http, ALICE, "brand-new-pass-7");
}

both_binaries!(
    reading_shares_state_with_imap_and_pop3,
    no_other_users_messages,
    header_injection_is_refused,
    send_reply_and_attachment_round_trip,
    html_is_sanitized_and_framed,
    self_service,
);
