//! Mailing lists end to end through both binaries (issue 15, docs/LISTS.md): a post
//! reaching every member once (the remote one through the relay), a moderated post
//! held and released by the moderator's reply, and Subscribe/Unsubscribe by mail
//! from a remote address, answered through the relay and shown by `mailroom list
//! show`, surviving a restart.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::client::{base64, dot_stuff, Smtp};
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB};
use mailroom_tests::sink::Sink;
use mailroom_tests::{both_binaries, maildir, Flavor, TestServer};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const OUTSIDER: &str = "outsider@remote.test";

/// A server whose Out Mail goes to `sink`, with `list` appended to its configuration.
fn server(flavor: Flavor, sink: &Sink, list: &str) -> TestServer {
    let mut s = TestServer::setup(flavor);
    s.edit_config(|doc| {
        let mut outmail = toml::Table::new();
        outmail.insert("method".into(), "relay".into());
        outmail.insert(
            "relays".into(),
            toml::Value::Array(vec![sink.addr.to_string().into()]),
        );
        TestServer::set_lan_connection(doc, outmail);
    });
    s.add_config(list);
    s.serve();
    s
}

/// One SMTP transaction; `auth` logs in as that user first.
fn send(s: &TestServer, auth: Option<(&str, &str)>, from: &str, to: &str, message: &str) {
    let (mut c, greeting) = Smtp::connect(s.smtp).expect("connect");
    assert_eq!(greeting.code, 220);
    assert_eq!(c.command("EHLO client.test").unwrap().code, 250);
    if let Some((user, pw)) = auth {
        let token = base64(format!("\0{user}\0{pw}").as_bytes());
        assert_eq!(c.command(&format!("AUTH PLAIN {token}")).unwrap().code, 235);
    }
    for (cmd, want) in [
        (format!("MAIL FROM:<{from}>"), 250),
        (format!("RCPT TO:<{to}>"), 250),
        ("DATA".to_string(), 354),
    ] {
        let r = c.command(&cmd).unwrap();
        assert_eq!(r.code, want, "{cmd}: {r:?}\n{}", s.log());
    }
    c.send(&dot_stuff(message.as_bytes())).unwrap();
    let r = c.reply().unwrap();
    assert_eq!(r.code, 250, "end of DATA: {r:?}\n{}", s.log());
    let _ = c.command("QUIT");
}

fn message(from: &str, to: &str, subject: &str, body: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Message-ID: <{}@client.test>\r\n\r\n{body}\r\n",
        subject.replace(' ', ".")
    )
}

/// The messages in `user`'s mailbox, as text.
fn mailbox(s: &TestServer, user: &str) -> Vec<String> {
    maildir::visible(&s.maildir(user))
        .into_iter()
        .map(|(_, d)| String::from_utf8_lossy(&d).into_owned())
        .collect()
}

fn with_subject<'a>(mails: &'a [String], subject: &str) -> Vec<&'a String> {
    let line = format!("Subject: {subject}\r\n");
    mails.iter().filter(|m| m.contains(&line)).collect()
}

fn post_reaches_every_member_once(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let s = server(
        flavor,
        &sink,
        "[[list]]\nname = \"widgets\"\nkind = \"mailing\"\npost = \"anyone\"\n\
         members = [\"alice\", \"bob\", \"carol@remote.test\"]\nmoderators = [\"alice\"]\n",
    );
    let to = "widgets@example.com";
    send(
        &s,
        None,
        OUTSIDER,
        to,
        &message(OUTSIDER, to, "Widget news", "new widgets"),
    );
    for user in [ALICE, BOB] {
        let mails = mailbox(&s, user);
        let got = with_subject(&mails, "Widget news");
        assert_eq!(got.len(), 1, "{user} got {}\n{}", got.len(), s.log());
        assert!(
            got[0].contains("List-Id: widgets <widgets.example.com>\r\n"),
            "{}",
            got[0]
        );
        assert!(got[0].contains("Reply-To: widgets@example.com\r\n"));
    }
    let relayed = sink.wait_for(1, WAIT);
    assert_eq!(
        relayed.len(),
        1,
        "the relay got {}\n{}",
        relayed.len(),
        s.log()
    );
    let r = &relayed[0];
    assert!(
        r.contains("widgets_owner@example.com"),
        "return address: {r}"
    );
    assert!(r.contains("carol@remote.test"), "{r}");
    assert!(r.contains("Subject: Widget news"), "{r}");
    assert!(
        !r.contains("alice@example.com>"),
        "local members are not relayed: {r}"
    );
}

fn moderated_post_released_by_the_moderators_reply(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let s = server(
        flavor,
        &sink,
        "[[list]]\nname = \"widgets\"\nkind = \"mailing\"\npost = \"anyone\"\nmoderated = true\n\
         members = [\"bob\"]\nmoderators = [\"alice\"]\n",
    );
    let to = "widgets@example.com";
    send(
        &s,
        None,
        OUTSIDER,
        to,
        &message(OUTSIDER, to, "Held news", "please approve"),
    );
    assert!(
        with_subject(&mailbox(&s, BOB), "Held news").is_empty(),
        "held, not sent"
    );
    let requests = mailbox(&s, ALICE);
    let request = requests
        .iter()
        .find(|m| m.contains("Subject: Mailing List Moderation Message Approval (widgets - "))
        .unwrap_or_else(|| panic!("no approval request for alice\n{}", s.log()));
    assert!(request.contains("please approve"));
    let subject = request
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap()
        .trim()
        .to_string();
    // The moderator replies to the request as it is.
    let reply = message(
        "alice@example.com",
        to,
        &format!("Re: {subject}"),
        "> The following message has been sent to the mailing list",
    );
    send(
        &s,
        Some((ALICE, ALICE_PASSWORD)),
        "alice@example.com",
        to,
        &reply,
    );
    let mails = mailbox(&s, BOB);
    let got = with_subject(&mails, "Held news");
    assert_eq!(got.len(), 1, "released once\n{}", s.log());
    assert!(got[0].contains("please approve"));
    assert!(got[0].contains("X-BeenThere: widgets@example.com\r\n"));
    // A second approval finds nothing held any more.
    send(
        &s,
        Some((ALICE, ALICE_PASSWORD)),
        "alice@example.com",
        to,
        &reply,
    );
    assert_eq!(with_subject(&mailbox(&s, BOB), "Held news").len(), 1);
}

fn subscribe_and_unsubscribe_by_mail(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = server(
        flavor,
        &sink,
        "[[list]]\nname = \"widgets\"\nkind = \"mailing\"\nsubscribe = \"open\"\n\
         members = [\"alice\"]\nmoderators = [\"alice\"]\n",
    );
    let ls = "listserver@example.com";
    send(
        &s,
        None,
        OUTSIDER,
        ls,
        &message(OUTSIDER, ls, "hello", "subscribe widgets\r\nwhich"),
    );
    let replies = sink.wait_for(1, WAIT);
    assert_eq!(replies.len(), 1, "{}", s.log());
    let r = &replies[0];
    assert!(r.contains("From: listserver@example.com"), "{r}");
    assert!(r.contains(OUTSIDER));
    assert!(r.contains("You have been added to widgets."), "{r}");
    assert!(r.contains("unsubscribe widgets"), "how to leave: {r}");
    let show = String::from_utf8_lossy(&s.cli_ok(&["list", "show"]).stdout).into_owned();
    assert!(
        show.contains("widgets (mailing list): alice@example.com, outsider@remote.test"),
        "{show}"
    );

    // The new member survives a restart and gets the list's mail.
    s.kill();
    s.serve();
    let to = "widgets@example.com";
    send(
        &s,
        None,
        "alice@example.com",
        to,
        &message("alice@example.com", to, "For all", "x"),
    );
    let got = sink.wait_for(2, WAIT);
    assert!(
        got.iter()
            .any(|m| m.contains("Subject: For all") && m.contains(OUTSIDER)),
        "{got:?}\n{}",
        s.log()
    );

    // Unsubscribe in the subject: the body is ignored.
    send(
        &s,
        None,
        OUTSIDER,
        ls,
        &message(OUTSIDER, ls, "unsubscribe widgets", "subscribe widgets"),
    );
    let got = sink.wait_for(3, WAIT);
    assert!(
        got.iter()
            .any(|m| m.contains("You have been removed from widgets.")),
        "{got:?}\n{}",
        s.log()
    );
    let show = String::from_utf8_lossy(&s.cli_ok(&["list", "show"]).stdout).into_owned();
    assert!(
        show.contains("widgets (mailing list): alice@example.com\n"),
        "{show}"
    );
}

/// Posts are collected for `widgets_Digest`; when its day has come (here: the last
/// digest is made to look long ago, and the server restarted) its members get one
/// digest with them.
fn digest_reaches_its_subscribers(flavor: Flavor) {
    let sink = Sink::start(&[]);
    let mut s = server(
        flavor,
        &sink,
        "[[list]]\nname = \"widgets\"\nkind = \"mailing\"\npost = \"anyone\"\n\
         subscribe = \"open\"\nmembers = [\"alice\"]\n[list.options]\ndigest = true\n",
    );
    let ls = "listserver@example.com";
    let bob = "bob@example.com";
    send(
        &s,
        None,
        bob,
        ls,
        &message(bob, ls, "join", "sub widgets_Digest"),
    );
    let answers = mailbox(&s, BOB);
    assert!(
        answers
            .iter()
            .any(|m| m.contains("You have been added to widgets_Digest.")),
        "{answers:?}\n{}",
        s.log()
    );
    let to = "widgets@example.com";
    send(
        &s,
        None,
        OUTSIDER,
        to,
        &message(OUTSIDER, to, "Digest news", "in the digest"),
    );
    assert_eq!(with_subject(&mailbox(&s, ALICE), "Digest news").len(), 1);
    assert!(with_subject(&mailbox(&s, BOB), "Digest news").is_empty());

    s.kill();
    let dir = s.data.join("state/lists/digest/widgets_digest");
    assert!(dir.join("last").exists(), "the digest period started");
    std::fs::write(dir.join("last"), "1000").unwrap();
    s.serve();
    let deadline = std::time::Instant::now() + WAIT;
    let digest = loop {
        let mails = mailbox(&s, BOB);
        if let Some(d) = mails
            .iter()
            .find(|m| m.contains("Subject: widgets_Digest, "))
        {
            break d.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no digest\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(digest.contains("(1 message)"), "{digest}");
    assert!(digest.contains("multipart/digest"));
    assert!(digest.contains("in the digest"));
}

both_binaries!(
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    digest_reaches_its_subscribers,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    post_reaches_every_member_once,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    moderated_post_released_by_the_moderators_reply,
    #[cfg_attr(not(have_smtp_sink), ignore = "smtp-sink is not installed")]
    subscribe_and_unsubscribe_by_mail,
);
