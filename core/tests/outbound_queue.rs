//! The outbound queue machine in virtual time: retries, delay warnings, bounces, runs
//! and sessions, against simulated servers. DSNs are built from the machine's
//! requests exactly as the runtime does and read back with mail-parser.

use mail_parser::{MessageParser, MimeHeaders};
use mailroom_core::config::{Config, ReturnAddress, SendOrder, WarningPolicy};
use mailroom_core::dsn::{build_report, Dsn, FailedRecipient, MailHead, ReportKind};
use mailroom_core::outbound::{
    Dest, DomainFilter, LanTarget, Method, OutMailSetup, OutQueue, QueueAction, QueueCommand,
    QueueSetup, QueuedMessage, QueuedRecipient, RcptState, RunReport, SessionId,
};
use mailroom_core::smtp::client::{Job, RcptOutcome, TxReport};
use mailroom_core::wire::Reply;
use mailroom_core::{Agent, Instant, Next};
use std::collections::BTreeMap;
use std::time::Duration;

const T0: Instant = Instant::from_secs(1_767_225_600);
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const ORIGINAL: &[u8] = b"From: alice@example.com\r\nTo: bob@remote.test\r\nSubject: Quarterly figures\r\n\r\nHello Bob.\r\n";

fn relay_outmail(conn: usize, auto: bool) -> OutMailSetup {
    OutMailSetup {
        conn,
        name: format!("c{conn}"),
        method: Method::Relay,
        only_waiting: false,
        order: SendOrder::SmallerFirst,
        max_recipients: 100,
        filter: DomainFilter::default(),
        return_address: None,
        auto,
    }
}

fn setup(outmails: Vec<OutMailSetup>) -> QueueSetup {
    let mut s = QueueSetup::from_config(&Config::default(), |_| true);
    s.outmails = outmails;
    s.local_domains = vec!["example.com".into()];
    s
}

fn message(id: &str, size: u64, to: &[&str]) -> QueuedMessage {
    QueuedMessage {
        id: id.into(),
        size,
        arrival: T0,
        sender: Some("alice@example.com".into()),
        eight_bit: false,
        dsn_ret: None,
        dsn_envid: None,
        warned: false,
        recipients: to.iter().map(|a| QueuedRecipient::new(a)).collect(),
        receipt_to: None,
    }
}

/// What a simulated destination does at a given time.
#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    Temp,
    Perm,
    /// Nobody answers.
    Down,
}

type World = Box<dyn Fn(&Dest, &str, Instant) -> Behaviour>;

/// Recipients `who` picks get 4xx until `healed`; everything else is accepted.
fn temp_until(healed: Instant, who: impl Fn(&str) -> bool + 'static) -> World {
    Box::new(move |_, rcpt, now| {
        if who(rcpt) && now < healed {
            Behaviour::Temp
        } else {
            Behaviour::Accept
        }
    })
}

/// Recipients `who` picks get 5xx; everything else is accepted.
fn refuses(who: impl Fn(&str) -> bool + 'static) -> World {
    Box::new(move |_, rcpt, _| {
        if who(rcpt) {
            Behaviour::Perm
        } else {
            Behaviour::Accept
        }
    })
}

/// The report the runtime builds for `to` at `now` about `recipients`: a bounce
/// returns the whole original, the others only its header.
fn report(now: Instant, to: &str, recipients: &[FailedRecipient], kind: ReportKind) -> Vec<u8> {
    let (id, text, headers_only) = match kind {
        ReportKind::Failed => ("r1", "Your message could not be delivered.", false),
        ReportKind::Relayed | ReportKind::Delivered => ("s1", "Your message was handed on.", true),
        ReportKind::Delayed { .. } => (
            "w1",
            "Your message has not been delivered yet; still trying.",
            true,
        ),
    };
    let dsn = Dsn {
        head: MailHead {
            hostname: "mail.example.com",
            default_domain: "example.com",
            to,
            date: now,
            id,
        },
        text,
        recipients,
        original: ORIGINAL,
        headers_only,
        envelope_id: None,
        arrival: Some(T0),
    };
    build_report(&dsn, kind)
}

struct Sent {
    at: Instant,
    dest: Dest,
    job: Job,
}

struct Sim {
    q: OutQueue,
    now: Instant,
    /// Per destination; the default is `Accept`.
    world: World,
    open: BTreeMap<SessionId, Dest>,
    sent: Vec<Sent>,
    bounces: Vec<(Instant, String, Vec<u8>)>,
    warnings: Vec<(Instant, String, Vec<u8>)>,
    saves: Vec<QueuedMessage>,
    removed: Vec<(Instant, String)>,
    runs: Vec<(usize, u64, bool, RunReport)>,
    max_open: usize,
    open_per_dest_max: BTreeMap<Dest, usize>,
    /// Success reports and receipts: (to, built report).
    successes: Vec<(String, Vec<u8>)>,
    /// The simulated servers support DSN.
    dsn: bool,
    /// RCPTs a server takes per transaction; the rest get `452 too many recipients`.
    rcpt_limit: Option<usize>,
}

impl Sim {
    fn new(setup: QueueSetup) -> Sim {
        Sim {
            q: OutQueue::new(T0, setup),
            now: T0,
            world: Box::new(|_, _, _| Behaviour::Accept),
            open: BTreeMap::new(),
            sent: Vec::new(),
            bounces: Vec::new(),
            warnings: Vec::new(),
            saves: Vec::new(),
            removed: Vec::new(),
            runs: Vec::new(),
            max_open: 0,
            open_per_dest_max: BTreeMap::new(),
            successes: Vec::new(),
            dsn: false,
            rcpt_limit: None,
        }
    }

    fn tell(&mut self, n: QueueCommand) {
        self.q.handle_command(self.now, n);
        self.drain();
    }

    /// A message arrives in the queue.
    fn load(&mut self, m: QueuedMessage) {
        self.tell(QueueCommand::Load(Box::new(m)));
    }

    /// Act on everything the queue asks; sessions answer at once.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.q.poll_event() {
                Next::Wait(d) => return d,
                Next::Event(a) => self.act(a),
            }
        }
    }

    fn act(&mut self, a: QueueAction) {
        match a {
            QueueAction::Open { session, dest } => {
                let down = matches!((self.world)(&dest, "", self.now), Behaviour::Down);
                if down {
                    self.q.handle_command(
                        self.now,
                        QueueCommand::Ended {
                            session,
                            established: false,
                            permanent: false,
                            error: Some("connection refused".into()),
                        },
                    );
                } else {
                    self.open.insert(session, dest.clone());
                    self.max_open = self.max_open.max(self.open.len());
                    let n = self.open.values().filter(|d| **d == dest).count();
                    let m = self.open_per_dest_max.entry(dest).or_default();
                    *m = (*m).max(n);
                    self.q
                        .handle_command(self.now, QueueCommand::Ready { session });
                }
            }
            QueueAction::Send {
                session,
                message,
                job,
            } => {
                let dest = self.open[&session].clone();
                let limit = self.rcpt_limit.unwrap_or(usize::MAX);
                let recipients = job
                    .recipients
                    .iter()
                    .enumerate()
                    .map(|(n, r)| {
                        if n >= limit {
                            let too_many = Reply::new(452, "4.5.3 too many recipients");
                            return (r.address.clone(), RcptOutcome::Temporary(too_many));
                        }
                        let o = match (self.world)(&dest, &r.address, self.now) {
                            Behaviour::Accept => {
                                RcptOutcome::Delivered(Reply::new(250, "2.0.0 ok"))
                            }
                            Behaviour::Temp | Behaviour::Down => {
                                RcptOutcome::Temporary(Reply::new(451, "4.3.0 try later"))
                            }
                            Behaviour::Perm => {
                                RcptOutcome::Permanent(Reply::new(550, "5.1.1 no such user"))
                            }
                        };
                        (r.address.clone(), o)
                    })
                    .collect();
                let _ = message;
                let id = job.id.clone();
                self.sent.push(Sent {
                    at: self.now,
                    dest,
                    job,
                });
                self.q.handle_command(
                    self.now,
                    QueueCommand::Finished {
                        session,
                        report: TxReport {
                            job: id,
                            recipients,
                            dsn_passed: self.dsn,
                        },
                    },
                );
                self.q
                    .handle_command(self.now, QueueCommand::Ready { session });
            }
            QueueAction::Close { session } => {
                self.open.remove(&session);
                self.q.handle_command(
                    self.now,
                    QueueCommand::Ended {
                        session,
                        established: true,
                        permanent: false,
                        error: None,
                    },
                );
            }
            QueueAction::Bounce {
                message,
                to,
                recipients,
            } => {
                self.bounces.push((
                    self.now,
                    message,
                    report(self.now, &to, &recipients, ReportKind::Failed),
                ));
            }
            QueueAction::Success {
                message: _,
                to,
                recipients,
            } => {
                self.successes.push((
                    to.clone(),
                    report(self.now, &to, &recipients, ReportKind::Relayed),
                ));
            }
            QueueAction::Warn {
                message,
                to,
                recipients,
                retry_until,
            } => {
                self.warnings.push((
                    self.now,
                    message,
                    report(
                        self.now,
                        &to,
                        &recipients,
                        ReportKind::Delayed { retry_until },
                    ),
                ));
            }
            QueueAction::Save(m) => self.saves.push(*m),
            QueueAction::Remove { message } => self.removed.push((self.now, message)),
            QueueAction::RunFinished {
                conn,
                run,
                requested,
                report,
            } => self.runs.push((conn, run, requested, report)),
        }
    }

    /// Let virtual time pass until `until`, waking whenever the queue asks.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next = self.drain();
            match next {
                Some(t) if t <= until => {
                    assert!(t >= self.now, "time went back");
                    self.now = t.max(self.now);
                    self.q.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = until;
        self.q.handle_timeout(self.now);
        self.drain();
    }
}

fn parse_report(bytes: &[u8]) -> (String, String) {
    let m = MessageParser::default()
        .parse(bytes)
        .expect("a MIME message");
    let ct = m.content_type().expect("content type");
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("report"));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let from = m
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_string();
    assert_eq!(from, "Mailer_Daemon@example.com");
    let parts = m.parts.len();
    assert!(
        parts >= 4,
        "report with text, status and original: {parts} parts"
    );
    let status = m
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "message" && c.subtype() == Some("delivery-status"))
        })
        .expect("a message/delivery-status part");
    let body = String::from_utf8_lossy(status.contents()).to_string();
    (m.subject().unwrap_or("").to_string(), body)
}

#[test]
fn four_hours_of_4xx_give_one_warning_then_delivery_at_the_next_retry() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    let healed = T0 + HOUR * 5;
    sim.world = temp_until(healed, |_| true);
    sim.load(message("m1", 1000, &["bob@remote.test"]));
    sim.run_until(T0 + HOUR * 6);

    // Tried at once, then every 15 minutes: 0:00 .. 5:00.
    let times: Vec<Duration> = sim.sent.iter().map(|s| s.at.saturating_since(T0)).collect();
    assert_eq!(times.len(), 21, "{times:?}");
    assert!(times.windows(2).all(|w| w[1] - w[0] == MIN * 15));
    // One warning, at 4 h exactly, and it is an RFC 3464 report with Action: delayed.
    assert_eq!(sim.warnings.len(), 1);
    assert_eq!(sim.warnings[0].0, T0 + HOUR * 4);
    let (subject, status) = parse_report(&sim.warnings[0].2);
    assert!(subject.starts_with("Delayed Mail"), "{subject}");
    assert!(subject.contains("Quarterly figures"));
    assert!(status.contains("Action: delayed"), "{status}");
    assert!(status.contains("Final-Recipient: rfc822; bob@remote.test"));
    assert!(status.contains("Status: 4.3.0"));
    assert!(status.contains("Will-Retry-Until:"));
    // Delivered at 5 h, removed from the queue, never bounced.
    assert_eq!(sim.removed, vec![(healed, "m1".to_string())]);
    assert!(sim.bounces.is_empty());
    // The warned flag was saved before the delivery.
    assert!(sim.saves.iter().any(|m| m.warned));
}

#[test]
fn a_5xx_bounces_at_once_as_a_multipart_report() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    sim.world = refuses(|a| a.starts_with("ghost"));
    sim.load(message(
        "m1",
        1000,
        &["ghost@remote.test", "bob@remote.test"],
    ));
    assert_eq!(sim.bounces.len(), 1);
    assert_eq!(sim.bounces[0].0, T0);
    let (subject, status) = parse_report(&sim.bounces[0].2);
    assert!(
        subject.starts_with("Undelivered Mail Returned to Sender"),
        "{subject}"
    );
    assert!(status.contains("Action: failed"));
    assert!(status.contains("Status: 5.1.1"));
    assert!(status.contains("Final-Recipient: rfc822; ghost@remote.test"));
    assert!(
        !status.contains("bob@remote.test"),
        "only the failed recipient is reported"
    );
    assert!(status.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user"));
    // Both recipients were decided in the one transaction: the entry is gone.
    assert_eq!(sim.removed, vec![(T0, "m1".to_string())]);
    // The original is attached.
    let m = MessageParser::default().parse(&sim.bounces[0].2).unwrap();
    assert!(m.parts.iter().any(|p| p
        .content_type()
        .is_some_and(|c| c.ctype() == "message" && c.subtype() == Some("rfc822"))));
}

#[test]
fn unreachable_for_three_days_bounces() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    sim.world = Box::new(|_, _, _| Behaviour::Down);
    sim.load(message("m1", 1000, &["bob@remote.test"]));
    sim.run_until(T0 + HOUR * 80);
    assert!(sim.sent.is_empty(), "nothing was ever handed to a session");
    assert_eq!(sim.warnings.len(), 1);
    assert_eq!(sim.warnings[0].0, T0 + HOUR * 4);
    assert_eq!(sim.bounces.len(), 1);
    assert_eq!(sim.bounces[0].0, T0 + HOUR * 72);
    let (_, status) = parse_report(&sim.bounces[0].2);
    assert!(status.contains("Action: failed"));
    assert!(status.contains("connection refused"), "{status}");
    assert_eq!(sim.removed, vec![(T0 + HOUR * 72, "m1".to_string())]);
    // One run every quarter of an hour until the recipient is given up at 72 h.
    assert_eq!(sim.runs.len(), 72 * 4, "runs {}", sim.runs.len());
}

fn warning_count(policy: WarningPolicy) -> usize {
    let mut s = setup(vec![relay_outmail(0, true)]);
    s.warnings = policy;
    let mut sim = Sim::new(s);
    sim.world = Box::new(|_, _, _| Behaviour::Temp);
    sim.load(message("m1", 10, &["a@remote.test"]));
    sim.load(message("m2", 20, &["b@remote.test"]));
    sim.load(message("m3", 30, &["c@other.test"]));
    sim.run_until(T0 + HOUR * 30);
    sim.warnings.len()
}

#[test]
fn warning_policy_variants() {
    assert_eq!(warning_count(WarningPolicy::None), 0);
    // One per message.
    assert_eq!(warning_count(WarningPolicy::Always), 3);
    // remote.test once, other.test once.
    assert_eq!(warning_count(WarningPolicy::OncePerDomainPerDay), 2);
}

#[test]
fn partial_delivery_keeps_only_the_rest_queued() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    let healed = T0 + MIN * 20;
    sim.world = temp_until(healed, |a| a.starts_with("slow"));
    sim.load(message("m1", 10, &["fast@remote.test", "slow@remote.test"]));
    let saved = sim.saves.last().unwrap();
    assert_eq!(saved.recipients[0].state, RcptState::Delivered);
    assert_eq!(saved.recipients[1].state, RcptState::Pending);
    assert_eq!(saved.recipients[1].attempts, 1);
    assert_eq!(saved.recipients[1].next_attempt, T0 + MIN * 15);
    assert!(saved.recipients[1]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("451"));
    sim.run_until(T0 + HOUR);
    // The retry carried only the recipient still pending.
    let second = &sim.sent[1].job;
    assert_eq!(second.recipients.len(), 1);
    assert_eq!(second.recipients[0].address, "slow@remote.test");
    assert_eq!(sim.sent.len(), 3);
    assert_eq!(sim.removed.len(), 1);
}

#[test]
fn recipients_are_split_by_the_relay_limit_and_smaller_messages_go_first() {
    let mut om = relay_outmail(0, false);
    om.max_recipients = 100;
    let mut s = setup(vec![om]);
    s.per_destination = 1;
    let mut sim = Sim::new(s);
    let many: Vec<String> = (0..250).map(|i| format!("u{i}@remote.test")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    sim.load(message("big", 5000, &many));
    sim.load(message("small", 100, &["x@remote.test"]));
    sim.load(message("middle", 1000, &["y@remote.test"]));
    assert!(
        sim.sent.is_empty(),
        "a non-automatic Out Mail waits for its run"
    );
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 7,
        flush: false,
    });
    let order: Vec<(&str, usize)> = sim
        .sent
        .iter()
        .map(|s| (s.job.id.split('#').next().unwrap(), s.job.recipients.len()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("small", 1),
            ("middle", 1),
            ("big", 100),
            ("big", 100),
            ("big", 50)
        ]
    );
    assert_eq!(
        sim.runs,
        vec![(
            0,
            7,
            true,
            RunReport {
                delivered: 252,
                failed: 0,
                deferred: 0
            }
        )]
    );
    assert_eq!(sim.max_open, 1);
}

#[test]
fn only_messages_waiting_at_the_start_of_the_run() {
    let mut om = relay_outmail(0, false);
    om.only_waiting = true;
    let mut s = setup(vec![om]);
    s.per_destination = 1;
    let mut sim = Sim::new(s);
    sim.load(message("early", 10, &["a@remote.test"]));
    // Load a second message while the session of the run is busy: use the machine
    // directly so the first job is still in flight.
    sim.q.handle_command(
        sim.now,
        QueueCommand::Run {
            conn: 0,
            run: 1,
            flush: false,
        },
    );
    let Next::Event(QueueAction::Open { session, .. }) = sim.q.poll_event() else {
        panic!("expected a session");
    };
    sim.open.insert(session, Dest::Relay(0));
    sim.q.handle_command(
        sim.now,
        QueueCommand::Load(Box::new(message("late", 5, &["b@remote.test"]))),
    );
    sim.q
        .handle_command(sim.now, QueueCommand::Ready { session });
    sim.drain();
    let ids: Vec<&str> = sim
        .sent
        .iter()
        .map(|s| s.job.id.split('#').next().unwrap())
        .collect();
    assert_eq!(ids, vec!["early"]);
    assert_eq!(sim.runs.len(), 1);
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 2,
        flush: false,
    });
    let ids: Vec<&str> = sim
        .sent
        .iter()
        .map(|s| s.job.id.split('#').next().unwrap())
        .collect();
    assert_eq!(ids, vec!["early", "late"]);
}

#[test]
fn domain_filters_and_return_address_modifiers() {
    let mut a = relay_outmail(0, false);
    a.filter = DomainFilter::parse(&["partner.test"]).unwrap();
    a.return_address = Some(ReturnAddress::Always("bounces@example.com".into()));
    let mut b = relay_outmail(1, false);
    b.filter = DomainFilter::parse(&["!partner.test"]).unwrap();
    b.return_address = Some(ReturnAddress::NonLocal("office@example.com".into()));
    let mut sim = Sim::new(setup(vec![a, b]));
    let mut m = message("m1", 10, &["p@partner.test", "q@world.test"]);
    m.sender = Some("outsider@elsewhere.test".into());
    sim.load(m);
    sim.load(message("m2", 10, &["r@world.test"]));
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 1,
        flush: false,
    });
    assert_eq!(sim.sent.len(), 1);
    assert_eq!(sim.sent[0].dest, Dest::Relay(0));
    assert_eq!(sim.sent[0].job.recipients[0].address, "p@partner.test");
    assert_eq!(
        sim.sent[0].job.mail_from.as_deref(),
        Some("bounces@example.com")
    );
    sim.tell(QueueCommand::Run {
        conn: 1,
        run: 2,
        flush: false,
    });
    let by_conn1: Vec<(&str, Option<&str>)> = sim.sent[1..]
        .iter()
        .map(|s| {
            (
                s.job.recipients[0].address.as_str(),
                s.job.mail_from.as_deref(),
            )
        })
        .collect();
    assert!(
        by_conn1.contains(&("q@world.test", Some("office@example.com"))),
        "{by_conn1:?}"
    );
    assert!(
        by_conn1.contains(&("r@world.test", Some("alice@example.com"))),
        "{by_conn1:?}"
    );
}

#[test]
fn direct_splits_by_domain_within_the_session_limits() {
    let mut om = relay_outmail(0, true);
    om.method = Method::Direct;
    let mut s = setup(vec![om]);
    s.max_sessions = 3;
    s.per_destination = 2;
    let mut sim = Sim::new(s);
    // Sessions stay busy: answer nothing until all are opened.
    let to: Vec<String> = (0..4)
        .flat_map(|d| (0..3).map(move |u| format!("u{u}@d{d}.test")))
        .collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    for i in 0..6 {
        sim.load(message(&format!("m{i}"), 10 + i, &to));
    }
    assert_eq!(sim.removed.len(), 6);
    let dests: std::collections::BTreeSet<String> = sim
        .sent
        .iter()
        .map(|s| match &s.dest {
            Dest::Direct(0, d) => d.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(dests.len(), 4);
    assert!(sim
        .sent
        .iter()
        .all(|s| s
            .job
            .recipients
            .iter()
            .all(|r| r.address.ends_with(&format!(
                "@{}",
                match &s.dest {
                    Dest::Direct(_, d) => d.as_str(),
                    _ => "",
                }
            )))));
    assert!(sim.max_open <= 3);
    assert!(sim.open_per_dest_max.values().all(|n| *n <= 2));
}

#[test]
fn a_destination_nobody_answers_for_ends_its_jobs_for_the_run() {
    let mut om = relay_outmail(0, false);
    om.method = Method::Direct;
    let mut sim = Sim::new(setup(vec![om]));
    sim.world = Box::new(|d, _, _| match d {
        Dest::Direct(_, dom) if dom == "dead.test" => Behaviour::Down,
        _ => Behaviour::Accept,
    });
    for i in 0..5 {
        sim.load(message(
            &format!("m{i}"),
            10,
            &["a@dead.test", "b@live.test"],
        ));
    }
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 1,
        flush: false,
    });
    assert_eq!(
        sim.runs,
        vec![(
            0,
            1,
            true,
            RunReport {
                delivered: 5,
                failed: 0,
                deferred: 5
            }
        )]
    );
    let saved = sim.saves.last().unwrap();
    assert!(saved.recipients[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("connection refused"));
}

#[test]
fn lan_forwarding_has_its_own_queue_and_times() {
    let mut sim = Sim::new(setup(vec![]));
    sim.world = Box::new(|_, _, _| Behaviour::Down);
    let mut m = message("m1", 10, &["joe@branch.test"]);
    m.recipients[0].lan = Some(LanTarget {
        server: "192.168.1.5:25".into(),
        address: "joe@hq.test".into(),
    });
    sim.load(m);
    sim.run_until(T0 + HOUR * 73);
    // Retried every 10 minutes (0:00 .. 71:50), given up at 72 h.
    assert_eq!(sim.bounces.len(), 1);
    assert_eq!(sim.bounces[0].0, T0 + HOUR * 72);
    let attempts = sim
        .saves
        .iter()
        .map(|m| m.recipients[0].attempts)
        .max()
        .unwrap();
    assert_eq!(attempts as u64, 72 * 6);
    // And when the server is there, the rewritten address is used.
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    let mut m = message("m2", 10, &["joe@branch.test"]);
    m.recipients[0].lan = Some(LanTarget {
        server: "192.168.1.5:25".into(),
        address: "joe@hq.test".into(),
    });
    sim.load(m);
    assert_eq!(sim.sent.len(), 1);
    assert_eq!(sim.sent[0].dest, Dest::Lan("192.168.1.5:25".into()));
    assert_eq!(sim.sent[0].job.recipients[0].address, "joe@hq.test");
}

#[test]
fn no_reports_for_bounces_or_when_notify_says_never() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    sim.world = Box::new(|_, _, _| Behaviour::Perm);
    let mut m = message("m1", 10, &["a@remote.test"]);
    m.sender = None;
    sim.load(m);
    let mut m = message("m2", 10, &["b@remote.test"]);
    m.recipients[0].notify = Some("NEVER".into());
    sim.load(m);
    assert!(sim.bounces.is_empty());
    assert_eq!(sim.removed.len(), 2);
}

#[test]
fn flush_ignores_retry_times_and_forget_drops_an_entry() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    let healed = T0 + MIN;
    sim.world = temp_until(healed, |_| true);
    sim.load(message("m1", 10, &["a@remote.test"]));
    sim.load(message("m2", 10, &["b@remote.test"]));
    sim.now = T0 + MIN * 2;
    sim.tell(QueueCommand::Forget("m2".into()));
    sim.tell(QueueCommand::Flush);
    assert_eq!(sim.removed, vec![(T0 + MIN * 2, "m1".to_string())]);
    assert_eq!(sim.sent.len(), 3);
    sim.run_until(T0 + HOUR);
    assert_eq!(sim.sent.len(), 3, "m2 is not sent after it was forgotten");
}

#[test]
fn held_domains_wait_for_etrn_and_a_4xx_holds_them_again() {
    let mut s = setup(vec![relay_outmail(0, true)]);
    s.held_domains = vec!["office2.test".into()];
    let mut sim = Sim::new(s);
    let refuse_until = T0 + HOUR;
    sim.world = temp_until(refuse_until, |a| a.ends_with("@office2.test"));
    sim.load(message(
        "m1",
        100,
        &["bob@remote.test", "martin@office2.test"],
    ));
    sim.run_until(T0 + MIN * 30);
    // The LAN-link Out Mail sent the other recipient at once, never the held one.
    let to = |sim: &Sim| -> Vec<String> {
        sim.sent
            .iter()
            .flat_map(|s| s.job.recipients.iter().map(|r| r.address.clone()))
            .collect()
    };
    assert_eq!(to(&sim), vec!["bob@remote.test".to_string()]);
    // ETRN: sent at once, answered 4xx, then held again (no retry after 15 minutes).
    sim.tell(QueueCommand::Release {
        domain: "Office2.Test".into(),
    });
    assert_eq!(to(&sim).len(), 2);
    sim.run_until(T0 + HOUR * 3);
    assert_eq!(to(&sim).len(), 2, "retried without an ETRN");
    assert!(sim.removed.is_empty());
    // The next ETRN delivers it; the entry leaves the queue.
    sim.tell(QueueCommand::Release {
        domain: "office2.test".into(),
    });
    assert_eq!(to(&sim).len(), 3);
    assert_eq!(sim.removed.len(), 1);
    // An ETRN for a domain with nothing waiting changes nothing.
    sim.tell(QueueCommand::Release {
        domain: "office3.test".into(),
    });
    assert_eq!(to(&sim).len(), 3);
}

#[test]
fn an_etrn_runs_an_out_mail_that_does_not_run_by_itself() {
    let mut s = setup(vec![relay_outmail(0, false)]);
    s.held_domains = vec!["office2.test".into()];
    let mut sim = Sim::new(s);
    sim.load(message("m1", 100, &["martin@office2.test"]));
    sim.run_until(T0 + MIN);
    assert!(sim.sent.is_empty());
    // Even a scheduled run of the connection leaves held mail alone.
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 7,
        flush: true,
    });
    assert!(sim.sent.is_empty());
    sim.tell(QueueCommand::Release {
        domain: "office2.test".into(),
    });
    assert_eq!(sim.sent.len(), 1);
    assert_eq!(sim.removed.len(), 1);
}

/// Sends `m` for a minute through a relay that takes everything (and offers DSN when
/// `dsn`): whom the one success report went to, its subject and delivery status.
fn only_success_report(m: QueuedMessage, dsn: bool) -> (String, String, String) {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    sim.dsn = dsn;
    sim.load(m);
    sim.run_until(T0 + MIN);
    assert_eq!(sim.successes.len(), 1);
    let (to, report) = &sim.successes[0];
    let (subject, status) = parse_report(report);
    (to.clone(), subject, status)
}

#[test]
fn notify_success_and_transmission_receipts_give_relayed_reports() {
    let mut m = message(
        "m1",
        100,
        &["a@remote.test", "b@remote.test", "c@remote.test"],
    );
    m.recipients[0].notify = Some("SUCCESS,FAILURE".into());
    m.recipients[0].orcpt = Some("rfc822;a@remote.test".into());
    m.recipients[1].notify = Some("FAILURE".into());
    // Only the recipient that asked, to the sender.
    let (to, subject, status) = only_success_report(m, false);
    assert_eq!(to, "alice@example.com");
    assert!(
        subject.starts_with("Successful Mail Delivery Report"),
        "{subject}"
    );
    for part in [
        "Final-Recipient: rfc822; a@remote.test",
        "Original-Recipient: rfc822;a@remote.test",
        "Action: relayed",
        "Status: 2.0.0",
    ] {
        assert!(status.contains(part), "{status}");
    }
    assert!(!status.contains("b@remote.test"), "{status}");

    // A server with DSN takes the request on: no report from here. A transmission
    // receipt is sent anyway, for every recipient, to the address in the header.
    let mut m = message("m2", 100, &["a@remote.test", "b@remote.test"]);
    m.recipients[0].notify = Some("SUCCESS".into());
    m.receipt_to = Some("boss@example.com".into());
    let (to, _, status) = only_success_report(m, true);
    assert_eq!(to, "boss@example.com");
    assert_eq!(status.matches("Action: relayed").count(), 2, "{status}");

    // Never for a report itself (the null sender), never for a failure.
    let mut sim = Sim::new(setup(vec![relay_outmail(0, true)]));
    sim.world = Box::new(|_, _, _| Behaviour::Perm);
    let mut m = message("m3", 100, &["a@remote.test"]);
    m.recipients[0].notify = Some("SUCCESS".into());
    m.receipt_to = Some("boss@example.com".into());
    sim.load(m);
    let mut m = message("m4", 100, &["a@remote.test"]);
    m.sender = None;
    m.receipt_to = Some("boss@example.com".into());
    sim.load(m);
    sim.run_until(T0 + MIN);
    assert!(sim.successes.is_empty());
}

#[test]
fn receipt_addresses_come_from_the_named_header_fields() {
    use mailroom_core::dsn::receipt_address;
    let names = vec!["Return-Receipt-To".to_string()];
    let m = b"From: a@example.com\r\nreturn-receipt-to: \"Boss\"\r\n <boss@example.com>\r\n\r\nbody\r\n";
    assert_eq!(
        receipt_address(m, &names).as_deref(),
        Some("boss@example.com")
    );
    let m = b"Return-Receipt-To: x@example.org\r\n\r\n";
    assert_eq!(receipt_address(m, &names).as_deref(), Some("x@example.org"));
    assert_eq!(receipt_address(m, &[]), None);
    let m = b"Subject: hi\r\n\r\nReturn-Receipt-To: body@example.org\r\n";
    assert_eq!(receipt_address(m, &names), None);
    let m = b"Return-Receipt-To: nonsense\r\n\r\n";
    assert_eq!(receipt_address(m, &names), None);
}

#[test]
fn a_452_too_many_recipients_sends_the_rest_at_once() {
    let mut sim = Sim::new(setup(vec![relay_outmail(0, false)]));
    sim.rcpt_limit = Some(2);
    let to = ["a@r.test", "b@r.test", "c@r.test", "d@r.test", "e@r.test"];
    sim.load(message("m1", 100, &to));
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 1,
        flush: false,
    });
    // Three transactions at once, in the same run; nothing waits for the retry.
    let sizes: Vec<usize> = sim.sent.iter().map(|s| s.job.recipients.len()).collect();
    assert_eq!(sizes, vec![5, 3, 1]);
    assert!(sim.sent.iter().all(|s| s.at == T0));
    assert_eq!(sim.removed.len(), 1);
    let (_, _, _, report) = sim.runs.last().copied().expect("the run ended");
    assert_eq!(report.delivered, 5);
    assert_eq!(report.deferred, 0);
    // A 452 for every recipient is an ordinary temporary failure (no loop).
    let mut sim = Sim::new(setup(vec![relay_outmail(0, false)]));
    sim.rcpt_limit = Some(0);
    sim.load(message("m2", 100, &to[..2]));
    sim.tell(QueueCommand::Run {
        conn: 0,
        run: 1,
        flush: false,
    });
    assert_eq!(sim.sent.len(), 1);
    assert!(sim.removed.is_empty());
}
