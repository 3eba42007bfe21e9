use super::*;

const DAY: Duration = Duration::from_secs(86_400);
const HEADER: &[u8] = b"From: bob@example.org\r\nTo: fred@company.com\r\nSubject: Big file\r\n\r\n";

fn t(days: u64) -> Instant {
    Instant::from_secs(1_700_000_000) + DAY * days as u32
}

/// The verdict on message `uid` of In Mail "isp" after `days`, with the default delay.
fn verdict(book: &AskBook, uid: &str, days: u64) -> Verdict {
    book.verdict("isp", uid, t(days), DEFAULT_QUERY_DELAY)
}

fn reply(subject: &str, body: &str) -> Vec<u8> {
    format!("From: fred@company.com\r\nTo: Mailer_Daemon@company.com\r\nSubject: {subject}\r\n\r\n{body}")
        .into_bytes()
}

#[test]
fn query_then_reply_downloads_next_run() {
    let mut book = AskBook::new();
    assert_eq!(verdict(&book, "u1", 0), Verdict::NotAsked);
    assert_eq!(
        book.ask("isp", "u1", "AbC123", "Ask about big", t(0)),
        Asked::New
    );
    // The next run must not ask again.
    assert_eq!(
        book.ask("isp", "u1", "Other", "Ask about big", t(0)),
        Asked::Already
    );
    assert_eq!(verdict(&book, "u1", 1), Verdict::Waiting);

    let answer = book.answer(&reply(
        "Re: Download query [DLQ-AbC123]: Big file",
        "yes please\r\n",
    ));
    assert_eq!(
        answer,
        Some(Answer {
            inmail: "isp".into(),
            uid: "u1".into(),
            rule: "Ask about big".into(),
            state: State::Download,
        })
    );
    assert_eq!(verdict(&book, "u1", 1), Verdict::Download);
    // Another In Mail's message with the same UID is a different message.
    assert_eq!(
        book.verdict("other", "u1", t(1), DEFAULT_QUERY_DELAY),
        Verdict::NotAsked
    );
    book.done("isp", "u1");
    assert_eq!(verdict(&book, "u1", 1), Verdict::NotAsked);
    assert!(book.is_empty());
}

#[test]
fn delete_reply() {
    let mut book = AskBook::new();
    book.ask("isp", "u1", "tok1", "r", t(0));
    book.ask("isp", "u2", "tok2", "r", t(0));
    let a = book.answer(&reply(
        "RE: Download query [DLQ-tok2]: x",
        "\r\nDelete it, it's junk\r\n",
    ));
    assert_eq!(
        a.map(|a| (a.uid, a.state)),
        Some(("u2".to_string(), State::Delete))
    );
    assert_eq!(verdict(&book, "u2", 0), Verdict::Delete);
    assert_eq!(verdict(&book, "u1", 0), Verdict::Waiting);
    // "Deleted" is not the word DELETE.
    let a = book.answer(&reply("[DLQ-tok1]", "Deleted nothing, download it\r\n"));
    assert_eq!(a.map(|a| a.state), Some(State::Download));
}

#[test]
fn delete_in_a_mime_reply() {
    let mut book = AskBook::new();
    book.ask("isp", "u1", "tok1", "r", t(0));
    let body = "This is a multi-part message in MIME format.\r\n\
                --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                DELETE\r\n\r\n> old text\r\n--b1--\r\n";
    let msg = format!(
        "Subject: Re: Download query [DLQ-tok1]: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=b1\r\n\r\n{body}"
    );
    assert_eq!(
        book.answer(msg.as_bytes()).map(|a| a.state),
        Some(State::Delete)
    );
}

#[test]
fn unknown_or_missing_tokens_are_not_answers() {
    let mut book = AskBook::new();
    book.ask("isp", "u1", "tok1", "r", t(0));
    assert_eq!(
        book.answer(&reply("Re: Download query [DLQ-nope]: x", "")),
        None
    );
    assert_eq!(book.answer(&reply("Hello Mailer_Daemon", "")), None);
    assert_eq!(book.answer(b"no header at all"), None);
    assert_eq!(book.answer(&reply("[DLQ-tok 1]", "")), None);
    assert_eq!(verdict(&book, "u1", 0), Verdict::Waiting);
    assert_eq!(token_in("Re: [DLQ-a1B2]: s"), Some("a1B2"));
    assert_eq!(token_in("[DLQ-]"), None);
    assert_eq!(token_in("[DLQ-abc"), None);
}

#[test]
fn unanswered_queries_expire_after_the_delay() {
    let mut book = AskBook::new();
    book.ask("isp", "u1", "tok1", "r", t(0));
    let delay = DAY * 3;
    assert_eq!(book.verdict("isp", "u1", t(2), delay), Verdict::Waiting);
    assert_eq!(
        book.verdict("isp", "u1", t(3) - Duration::from_secs(1), delay),
        Verdict::Waiting
    );
    assert_eq!(book.verdict("isp", "u1", t(3), delay), Verdict::Expired);
    assert_eq!(verdict(&book, "u1", 30), Verdict::Expired);
    assert_eq!(verdict(&book, "u1", 6), Verdict::Waiting);
    // An answer before the end wins over the expiry.
    book.answer(&reply("[DLQ-tok1]", "ok"));
    assert_eq!(book.verdict("isp", "u1", t(30), delay), Verdict::Download);
}

#[test]
fn round_trip_is_a_restart() {
    let mut book = AskBook::new();
    book.ask(
        "isp one",
        "u\t1%",
        "tok1",
        "Ask about\nbig % messages",
        t(0),
    );
    book.ask("isp", "u2", "tok2", "r", t(1));
    book.ask("isp", "u3", "tok3", "r", t(2));
    book.answer(&reply("[DLQ-tok2]", "DELETE"));
    book.answer(&reply("[DLQ-tok3]", "please"));
    let text = book.to_text();
    assert_eq!(text.lines().count(), 4, "{text}");
    let back = AskBook::parse(&text, t(3)).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(back, book);
    assert_eq!(
        back.verdict("isp one", "u\t1%", t(2), DEFAULT_QUERY_DELAY),
        Verdict::Waiting
    );
    assert_eq!(
        back.verdict("isp", "u2", t(2), DEFAULT_QUERY_DELAY),
        Verdict::Delete
    );
    assert_eq!(
        back.verdict("isp", "u3", t(2), DEFAULT_QUERY_DELAY),
        Verdict::Download
    );
    // A token still answers after the restart.
    let mut back = back;
    assert!(back.answer(&reply("[DLQ-tok1]", "")).is_some());
}

#[test]
fn damaged_books_are_refused_with_the_line() {
    assert_eq!(AskBook::parse("", t(0)).map_err(|e| e.line), Err(1));
    assert_eq!(
        AskBook::parse("something else\n", t(0)).map_err(|e| e.line),
        Err(1)
    );
    let bad = format!("{BOOK_MAGIC}\ntok\tpending\t1\tisp\tu1\tr\ntok\tmaybe\t1\tisp\tu2\tr\n");
    assert_eq!(AskBook::parse(&bad, t(0)).map_err(|e| e.line), Err(3));
    let bad = format!("{BOOK_MAGIC}\ntok\tpending\tsoon\tisp\tu1\tr\n");
    assert_eq!(AskBook::parse(&bad, t(0)).map_err(|e| e.line), Err(2));
    let bad = format!("{BOOK_MAGIC}\ntok\tpending\t1\tisp%4\tu1\tr\n");
    assert_eq!(AskBook::parse(&bad, t(0)).map_err(|e| e.line), Err(2));
    assert_eq!(
        AskBook::parse(&format!("{BOOK_MAGIC}\n"), t(0)),
        Ok(AskBook::new())
    );
}

#[test]
fn messages_gone_from_the_server_are_forgotten() {
    let mut book = AskBook::new();
    book.ask("isp", "u1", "a", "r", t(0));
    book.ask("isp", "u2", "b", "r", t(0));
    book.ask("other", "u1", "c", "r", t(0));
    book.retain_present("isp", |uid| uid == "u2");
    let left: Vec<(String, String)> = book
        .queries()
        .map(|q| (q.inmail.clone(), q.uid.clone()))
        .collect();
    assert_eq!(
        left,
        vec![("isp".into(), "u2".into()), ("other".into(), "u1".into())]
    );
}

#[test]
fn the_book_is_bounded() {
    let mut book = AskBook::new();
    for n in 0..MAX_QUERIES {
        assert_eq!(
            book.ask("isp", &n.to_string(), &format!("t{n}"), "r", t(0)),
            Asked::New
        );
    }
    assert_eq!(book.ask("isp", "one more", "x", "r", t(0)), Asked::Full);
    book.done("isp", "0");
    assert_eq!(book.ask("isp", "one more", "x", "r", t(0)), Asked::New);
}

#[test]
fn query_mail_carries_token_rule_and_header() {
    let m = query_message(
        &RuleMail {        head: MailHead {            hostname: "mail.company.com",            default_domain: "company.com",            to: "fred@company.com",            date: t(0),            id: "q1",        },
        rule: "Ask about big messages",
        inmail: "isp",
        header: b"From: bob@example.org\r\nTo: fred@company.com\r\nSubject: Big file\r\n\r\nBODY SECRET\r\n",
        size: 2_000_000,
        },
        "AbC123",
        DEFAULT_QUERY_DELAY,
    );
    let s = String::from_utf8_lossy(&m);
    assert!(
        s.contains("From: Mailer_Daemon <Mailer_Daemon@company.com>\r\n"),
        "{s}"
    );
    assert!(s.contains("To: <fred@company.com>\r\n"));
    assert!(s.contains("Subject: Download query [DLQ-AbC123]: Big file\r\n"));
    assert!(s.contains("\"Ask about big messages\""));
    assert!(s.contains("2000000 bytes"));
    assert!(s.contains("for 7 days"));
    assert!(s.contains("\r\nFrom: bob@example.org\r\n"));
    assert!(!s.contains("BODY SECRET"), "only the header is quoted");
    // The reply the recipient's client makes is recognised.
    let subject = s
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default();
    let mut book = AskBook::new();
    book.ask("isp", "u1", "AbC123", "Ask about big messages", t(0));
    assert!(book.answer(&reply(&format!("Re: {subject}"), "")).is_some());
}

#[test]
fn deletion_notice() {
    let m = deleted_message(&RuleMail {
        head: MailHead {
            hostname: "h",
            default_domain: "company.com",
            to: "admin@company.com",
            date: t(0),
            id: "d1",
        },
        rule: "Delete message",
        inmail: "isp",
        header: HEADER,
        size: 42,
    });
    let s = String::from_utf8_lossy(&m);
    assert!(
        s.contains("Subject: Message deleted by download rule: Big file\r\n"),
        "{s}"
    );
    assert!(s.contains("\"Delete message\""));
    assert!(s.contains("\r\nTo: fred@company.com\r\n"));
}

#[test]
fn old_queries_are_pruned() {
    let mut book = AskBook::new();
    book.ask("isp", "old", "a", "r", t(0));
    book.ask("isp", "new", "b", "r", t(20));
    book.answer(&reply("[DLQ-a]", "ok"));
    book.prune(t(30), DAY * 15);
    let left: Vec<&str> = book.queries().map(|q| q.uid.as_str()).collect();
    assert_eq!(left, vec!["new"]);
    book.prune(t(35), DAY * 15);
    assert_eq!(book.len(), 1, "15 days is not more than 15 days");
}
