use super::*;
use crate::config::{InMailTls, Pop3Auth};
use crate::pop3::client::tests::fake::{talk, FakeServer};
use std::time::Duration;

const DAY: u64 = 86_400;
const T0: Instant = Instant::from_secs(1_000 * DAY);

fn client() -> ClientSettings {
    ClientSettings {
        user: "office".into(),
        password: "secret".into(),
        auth: Pop3Auth::Plain,
        tls: InMailTls::None,
        tls_available: false,
        timeout: Duration::from_secs(60),
        max_message: 1 << 20,
    }
}

fn run_settings(leave: u32) -> RunSettings {
    RunSettings {
        inmail: "isp".into(),
        leave_on_server_days: leave,
        size_limit: None,
        download_rules: false,
    }
}

/// What the runtime side saw.
#[derive(Default)]
struct Seen {
    stored: Vec<(Option<String>, Vec<u8>)>,
    journal: String,
    decided: Vec<(u32, Vec<u8>)>,
}

fn collect(
    server: &mut FakeServer,
    settings: RunSettings,
    book: SeenBook,
    now: Instant,
    decide: &mut dyn FnMut(&[u8]) -> Decision,
    store: &mut dyn FnMut(&[u8]) -> Stored,
) -> (RunReport, Seen) {
    let mut c = Collector::new(now, client(), settings, book);
    let mut seen = Seen::default();
    let mut current = Vec::new();
    let t = talk(&mut c, server, now, 9, &mut |e| match e {
        RunEvent::Decide { number, header, .. } => {
            seen.decided.push((*number, header.clone()));
            Some(RunCommand::Decision(decide(header)))
        }
        RunEvent::Begin { .. } => {
            current.clear();
            None
        }
        RunEvent::Data(d) => {
            current.extend_from_slice(d);
            None
        }
        RunEvent::Store { uid, seen_line, .. } => {
            let r = store(&current);
            if matches!(r, Stored::Stored | Stored::Duplicate) {
                seen.stored.push((uid.clone(), current.clone()));
                if let Some(l) = seen_line {
                    seen.journal.push_str(l);
                }
            }
            Some(RunCommand::Stored(r))
        }
        _ => None,
    });
    assert!(t.closed, "the run did not end");
    let report = t
        .events
        .into_iter()
        .find_map(|e| match e {
            RunEvent::Done(r) => Some(*r),
            _ => None,
        })
        .expect("no Done");
    (report, seen)
}

/// A first run at `T0` (nothing seen yet) that downloads and stores everything.
fn first_run(server: &mut FakeServer, settings: RunSettings) -> (RunReport, Seen) {
    collect(
        server,
        settings,
        SeenBook::new(),
        T0,
        &mut download,
        &mut ok,
    )
}

const M1: &[u8] = b"Subject: one\r\nTo: a@office.example\r\n\r\n.dotted\r\nbody\r\n";
const M2: &[u8] = b"Subject: two\r\nTo: b@office.example\r\n\r\nbody two\r\n";

fn download(_: &[u8]) -> Decision {
    Decision::Download
}
fn ok(_: &[u8]) -> Stored {
    Stored::Stored
}

#[test]
fn collects_stores_then_deletes_and_remembers_uids() {
    let mut server = FakeServer::new(&[("u1", M1), ("u2", M2)]);
    let (r, seen) = first_run(&mut server, run_settings(0));
    assert_eq!(r.error, None);
    assert_eq!((r.listed, r.downloaded, r.deleted), (2, 2, 2));
    assert_eq!(r.bytes, (M1.len() + M2.len()) as u64);
    assert_eq!(seen.stored[0], (Some("u1".into()), M1.to_vec()));
    assert_eq!(seen.stored[1].1, M2);
    assert_eq!(server.removed, ["u1", "u2"]);
    // Each DELE comes right after the message was stored, never before.
    let log = &server.log;
    let retr1 = log.iter().position(|l| l == "RETR 1").unwrap();
    let dele1 = log.iter().position(|l| l == "DELE 1").unwrap();
    assert_eq!(dele1, retr1 + 1);
    assert_eq!(
        seen.journal,
        format!("{}{}", SeenBook::line("u1", T0), SeenBook::line("u2", T0))
    );
    // Both are gone from the server, so the book forgets them.
    assert!(r.seen.is_empty());
}

#[test]
fn nothing_is_deleted_when_storing_fails() {
    let mut server = FakeServer::new(&[("u1", M1), ("u2", M2)]);
    let (r, seen) = collect(
        &mut server,
        run_settings(0),
        SeenBook::new(),
        T0,
        &mut download,
        &mut |_| Stored::Failed("disk full".into()),
    );
    assert_eq!(r.error, Some(RunError::Storage("disk full".into())));
    assert!(!server.log.iter().any(|l| l.starts_with("DELE")));
    assert!(server.removed.is_empty());
    assert!(seen.stored.is_empty());
    assert_eq!(r.error.as_ref().unwrap().problem(), None);
}

#[test]
fn a_drop_after_retr_leaves_the_message_and_stores_nothing() {
    let mut server = FakeServer::new(&[("u1", M1)]);
    server.drop_after = Some(("RETR", 20));
    let (r, seen) = first_run(&mut server, run_settings(0));
    assert!(seen.stored.is_empty());
    assert!(server.removed.is_empty());
    let Some(RunError::Session(e)) = &r.error else {
        panic!("{:?}", r.error)
    };
    assert_eq!(e.kind, ErrorKind::Closed);
    assert!(matches!(
        r.error.as_ref().unwrap().problem(),
        Some(Problem::Closed { .. })
    ));
}

#[test]
fn a_seen_uid_is_deleted_not_downloaded_again() {
    // A crash after storing and journaling, before DELE took effect.
    let mut book = SeenBook::new();
    book.insert("u1", T0);
    let mut server = FakeServer::new(&[("u1", M1), ("u2", M2)]);
    let (r, seen) = collect(
        &mut server,
        run_settings(0),
        book,
        T0 + Duration::from_secs(60),
        &mut download,
        &mut ok,
    );
    assert_eq!(seen.stored.len(), 1);
    assert_eq!(seen.stored[0].0.as_deref(), Some("u2"));
    assert!(!server.log.iter().any(|l| l == "RETR 1"));
    assert_eq!(server.removed, ["u1", "u2"]);
    assert_eq!(r.downloaded, 1);
    assert_eq!(r.deleted, 2);
}

#[test]
fn leave_on_server_n_days_across_virtual_days_and_a_restart() {
    let mut server = FakeServer::new(&[("u1", M1)]);
    let mut book = SeenBook::new();
    let mut downloads = 0;
    for day in 0..5u64 {
        let now = T0 + Duration::from_secs(day * DAY + 600);
        let (r, seen) = collect(
            &mut server,
            run_settings(3),
            book.clone(),
            now,
            &mut download,
            &mut ok,
        );
        assert_eq!(r.error, None, "day {day}");
        downloads += seen.stored.len();
        // The restart: the runtime writes the book, and reads it back next time.
        book = SeenBook::parse(&r.seen.to_text()).unwrap();
        server.closed = false;
        let on_server = !server.removed.contains(&"u1".to_string());
        assert_eq!(on_server, day < 3, "day {day}");
        if day >= 3 {
            assert!(book.is_empty(), "forgotten once gone, day {day}");
        }
    }
    assert_eq!(downloads, 1, "downloaded once only");
}

#[test]
fn uidl_refused_falls_back_to_header_hashes() {
    let mut server = FakeServer::new(&[("u1", M1)]);
    server.uidl = false;
    let (r, seen) = first_run(&mut server, run_settings(2));
    assert_eq!(r.error, None);
    let uid = header_uid(b"Subject: one\r\nTo: a@office.example\r\n\r\n");
    assert_eq!(seen.stored[0].0.as_deref(), Some(uid.as_str()));
    assert!(r.seen.contains(&uid));
    assert!(server.removed.is_empty(), "left on the server");
    assert!(server.log.contains(&"TOP 1 0".to_string()));
}

#[test]
fn neither_uidl_nor_top_refuses_leave_on_server_but_collects_without() {
    let mut server = FakeServer::new(&[("u1", M1)]);
    server.uidl = false;
    server.top = false;
    let (r, seen) = first_run(&mut server, run_settings(2));
    assert_eq!(r.error, Some(RunError::NoUidlOrTop));
    assert_eq!(
        r.error.as_ref().unwrap().problem(),
        Some(Problem::NoUidlOrTop)
    );
    assert!(seen.stored.is_empty());
    assert!(!server.log.iter().any(|l| l.starts_with("RETR")));

    let mut server = FakeServer::new(&[("u1", M1)]);
    server.uidl = false;
    server.top = false;
    let (r, seen) = first_run(&mut server, run_settings(0));
    assert_eq!(r.error, None);
    assert_eq!(seen.stored, [(None, M1.to_vec())]);
    assert!(seen.journal.is_empty());
    assert_eq!(server.removed, ["u1"]);
}

#[test]
fn over_the_limit_stays_or_is_asked_about() {
    let limited = |leave, rules| RunSettings {
        size_limit: Some(40),
        download_rules: rules,
        ..run_settings(leave)
    };
    // M1 is over 40 octets, M2 too; make a small one.
    let small: &[u8] = b"S: x\r\n\r\nhi\r\n";
    let mut server = FakeServer::new(&[("big", M1), ("small", small)]);
    let (r, seen) = first_run(&mut server, limited(0, false));
    assert_eq!((r.over_limit, r.left, r.downloaded), (1, 1, 1));
    assert!(seen.decided.is_empty());
    assert_eq!(server.removed, ["small"]);

    // Leaving mail on the server: the runtime is asked (with the header).
    let mut server = FakeServer::new(&[("big", M1)]);
    let (r, seen) = collect(
        &mut server,
        limited(5, false),
        SeenBook::new(),
        T0,
        &mut |_| Decision::Leave,
        &mut ok,
    );
    assert_eq!(seen.decided.len(), 1);
    assert!(seen.decided[0].1.starts_with(b"Subject: one\r\n"));
    assert_eq!((r.left, r.downloaded, r.over_limit), (1, 0, 0));
}

#[test]
fn download_rule_decisions_are_honoured() {
    let rules = RunSettings {
        download_rules: true,
        ..run_settings(5)
    };
    let m3: &[u8] = b"Subject: three\r\n\r\nx\r\n";
    let mut server = FakeServer::new(&[("u1", M1), ("u2", M2), ("u3", m3)]);
    let (r, seen) = collect(
        &mut server,
        rules,
        SeenBook::new(),
        T0,
        &mut |h: &[u8]| {
            if h.starts_with(b"Subject: one") {
                Decision::Delete
            } else if h.starts_with(b"Subject: two") {
                Decision::DownloadDelete
            } else {
                Decision::Download
            }
        },
        &mut ok,
    );
    assert_eq!(seen.decided.len(), 3);
    assert_eq!(seen.stored.len(), 2);
    // u1 deleted unread, u2 downloaded and deleted despite leave-on-server, u3 left.
    assert_eq!(server.removed, ["u1", "u2"]);
    assert_eq!((r.downloaded, r.deleted, r.left), (2, 2, 1));
    assert!(r.seen.contains("u3") && !r.seen.contains("u1"));
}

#[test]
fn duplicates_are_deleted_and_remembered_but_counted_apart() {
    let mut server = FakeServer::new(&[("u1", M1), ("u2", M1)]);
    let mut n = 0;
    let (r, _) = collect(
        &mut server,
        run_settings(0),
        SeenBook::new(),
        T0,
        &mut download,
        &mut |_| {
            n += 1;
            if n == 1 {
                Stored::Stored
            } else {
                Stored::Duplicate
            }
        },
    );
    assert_eq!((r.downloaded, r.duplicates, r.deleted), (1, 1, 2));
}

#[test]
fn a_message_listed_larger_than_the_maximum_is_left_with_a_note() {
    let mut server = FakeServer::new(&[("u1", M1), ("u2", M2)]);
    let mut c = Collector::new(
        T0,
        ClientSettings {
            max_message: M2.len() as u64,
            ..client()
        },
        run_settings(0),
        SeenBook::new(),
    );
    let t = talk(&mut c, &mut server, T0, 9, &mut |e| match e {
        RunEvent::Store { .. } => Some(RunCommand::Stored(Stored::Stored)),
        _ => None,
    });
    let Some(RunEvent::Done(r)) = t.events.last() else {
        panic!("no Done")
    };
    assert_eq!((r.downloaded, r.left), (1, 1));
    assert!(r.notes[0].contains("larger than the largest message"));
    assert!(!server.log.iter().any(|l| l == "RETR 1"));
    assert_eq!(server.removed, ["u2"]);
}

#[test]
fn a_uid_listed_twice_does_not_get_the_second_message_deleted_unread() {
    let mut server = FakeServer::new(&[("same", M1), ("same", M2)]);
    let (r, seen) = first_run(&mut server, run_settings(3));
    assert_eq!(r.downloaded, 2);
    assert_eq!(seen.stored[1], (Some("same#2".into()), M2.to_vec()));
    assert!(server.removed.is_empty());
}
