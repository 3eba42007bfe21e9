//! The SMTP client session against scripted servers: what it sends, and what it
//! reports for every recipient.

use mailroom_core::config::OutTls;
use mailroom_core::smtp::client::{
    ClientCommand, ClientEvent, ClientSettings, Credentials, Job, JobRecipient, RcptOutcome,
    SmtpClient, TxReport,
};
use mailroom_core::{Input, Instant, Machine, Output};
use std::time::Duration;

const T0: Instant = Instant::from_secs(1_767_225_600);

fn settings() -> ClientSettings {
    ClientSettings {
        helo_name: "mail.example.com".into(),
        tls: OutTls::Opportunistic,
        tls_available: false,
        tls_active: false,
        auth: None,
        timeout: Duration::from_secs(300),
        data_timeout: Duration::from_secs(600),
    }
}

fn job(id: &str, from: Option<&str>, to: &[&str], size: u64) -> Job {
    Job {
        id: id.into(),
        mail_from: from.map(str::to_string),
        recipients: to
            .iter()
            .map(|a| JobRecipient {
                address: a.to_string(),
                notify: None,
                orcpt: None,
            })
            .collect(),
        size,
        eight_bit: false,
        dsn_ret: None,
        dsn_envid: None,
    }
}

/// Drives a client: collects what it wrote, answers its questions from a list of
/// jobs and a message body.
struct Driver {
    c: SmtpClient,
    now: Instant,
    wrote: String,
    jobs: Vec<Job>,
    body: Vec<u8>,
    offset: usize,
    reports: Vec<TxReport>,
    ended: Option<mailroom_core::smtp::client::SessionEnd>,
    closed: bool,
    starttls: usize,
    chunk: usize,
}

impl Driver {
    fn new(s: ClientSettings, jobs: Vec<Job>, body: &[u8]) -> Driver {
        let mut d = Driver {
            c: SmtpClient::new(T0, s),
            now: T0,
            wrote: String::new(),
            jobs,
            body: body.to_vec(),
            offset: 0,
            reports: Vec::new(),
            ended: None,
            closed: false,
            starttls: 0,
            chunk: 7,
        };
        d.pump();
        d
    }

    fn pump(&mut self) -> Option<Instant> {
        loop {
            let mut out = Vec::new();
            let o = self.c.poll_output(&mut out);
            self.wrote.push_str(&String::from_utf8_lossy(&out));
            match o {
                Output::Wait(d) => return d,
                Output::Close => {
                    self.closed = true;
                    return None;
                }
                Output::StartTls => self.starttls += 1,
                Output::Event(ev) => match ev {
                    ClientEvent::Ready => {
                        let cmd = if self.jobs.is_empty() {
                            ClientCommand::Quit
                        } else {
                            self.offset = 0;
                            ClientCommand::Send(Box::new(self.jobs.remove(0)))
                        };
                        self.c.handle_command(self.now, cmd);
                    }
                    ClientEvent::NextChunk => {
                        // The body in small chunks, to exercise the stuffer's state.
                        let start = self.offset;
                        let end = (start + self.chunk).min(self.body.len());
                        self.offset = end;
                        let data = self.body[start..end].to_vec();
                        let last = end == self.body.len();
                        self.c
                            .handle_command(self.now, ClientCommand::Chunk { data, last });
                    }
                    ClientEvent::Finished(r) => self.reports.push(r),
                    ClientEvent::Ended(e) => self.ended = Some(e),
                },
            }
        }
    }

    /// The server says `text`; returns what the client wrote in response.
    fn server(&mut self, text: &str) -> String {
        self.wrote.clear();
        self.c.handle_input(self.now, Input::Bytes(text.as_bytes()));
        self.pump();
        std::mem::take(&mut self.wrote)
    }

    fn outcome(&self, job: usize, rcpt: usize) -> &RcptOutcome {
        &self.reports[job].recipients[rcpt].1
    }
}

const EHLO_PIPE: &str = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

#[test]
fn pipelined_transaction_with_per_recipient_results() {
    let mut d = Driver::new(
        settings(),
        vec![job(
            "j1",
            Some("alice@example.com"),
            &["a@x.test", "b@x.test", "c@x.test"],
            100,
        )],
        b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n",
    );
    assert_eq!(
        d.server("220 mx.example ESMTP\r\n"),
        "EHLO mail.example.com\r\n"
    );
    let sent = d.server(EHLO_PIPE);
    assert_eq!(
        sent,
        "MAIL FROM:<alice@example.com> SIZE=100\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"
    );
    let sent = d.server("250 2.1.0 ok\r\n250 2.1.5 ok\r\n450 4.2.1 mailbox busy\r\n550 5.1.1 no such user\r\n354 go\r\n");
    assert_eq!(sent, "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n");
    let sent = d.server("250 2.0.0 queued as X\r\n");
    assert_eq!(sent, "QUIT\r\n");
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Delivered(r) if r.code == 250));
    assert!(matches!(d.outcome(0, 1), RcptOutcome::Temporary(r) if r.status() == "4.2.1"));
    assert!(matches!(d.outcome(0, 2), RcptOutcome::Permanent(r) if r.status() == "5.1.1"));
    d.server("221 bye\r\n");
    assert!(d.closed);
    let end = d.ended.clone().unwrap();
    assert!(end.established && end.error.is_none());
}

#[test]
fn lock_step_without_pipelining_and_helo_fallback() {
    let mut d = Driver::new(
        settings(),
        vec![job("j", None, &["a@x.test", "b@x.test"], 5)],
        b"x\r\n",
    );
    d.server("220 old.example\r\n");
    assert_eq!(d.server("502 what\r\n"), "HELO mail.example.com\r\n");
    assert_eq!(d.server("250 hello\r\n"), "MAIL FROM:<>\r\n");
    assert_eq!(d.server("250 ok\r\n"), "RCPT TO:<a@x.test>\r\n");
    assert_eq!(d.server("550 no\r\n"), "RCPT TO:<b@x.test>\r\n");
    assert_eq!(d.server("250 ok\r\n"), "DATA\r\n");
    assert_eq!(d.server("354 go\r\n"), "x\r\n.\r\n");
    assert_eq!(d.server("451 disk full\r\n"), "QUIT\r\n");
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Permanent(r) if r.status() == "5.0.0"));
    assert!(matches!(d.outcome(0, 1), RcptOutcome::Temporary(r) if r.code == 451));
}

#[test]
fn no_recipient_accepted_means_rset_then_next_job() {
    let mut d = Driver::new(
        settings(),
        vec![
            job("j1", Some("s@example.com"), &["a@x.test"], 5),
            job("j2", Some("s@example.com"), &["b@x.test"], 5),
        ],
        b"x\r\n",
    );
    d.server("220 mx\r\n");
    d.server(EHLO_PIPE);
    let sent = d.server("250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n");
    assert_eq!(sent, "RSET\r\n");
    let sent = d.server("250 ok\r\n");
    assert!(sent.starts_with("MAIL FROM:<s@example.com>"), "{sent}");
    assert_eq!(d.reports.len(), 1);
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Permanent(r) if r.code == 550));
}

#[test]
fn mail_refused_fails_every_recipient_alike() {
    let mut d = Driver::new(
        settings(),
        vec![job(
            "j",
            Some("s@example.com"),
            &["a@x.test", "b@x.test"],
            5,
        )],
        b"x\r\n",
    );
    d.server("220 mx\r\n");
    d.server(EHLO_PIPE);
    let sent = d.server("452 4.3.1 out of space\r\n503 no\r\n503 no\r\n503 no\r\n");
    assert_eq!(sent, "RSET\r\n");
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Temporary(r) if r.code == 452));
    assert!(matches!(d.outcome(0, 1), RcptOutcome::Temporary(r) if r.code == 452));
}

#[test]
fn too_big_for_the_server_fails_without_sending() {
    let mut d = Driver::new(
        settings(),
        vec![job("j", Some("s@example.com"), &["a@x.test"], 20_000)],
        b"x\r\n",
    );
    d.server("220 mx\r\n");
    let sent = d.server(EHLO_PIPE);
    assert_eq!(sent, "QUIT\r\n");
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Permanent(r) if r.status() == "5.3.4"));
}

#[test]
fn starttls_then_ehlo_again_and_auth_plain() {
    let mut s = settings();
    s.tls_available = true;
    s.auth = Some(Credentials {
        user: "office".into(),
        password: "secret".into(),
    });
    let mut d = Driver::new(s, vec![], b"");
    d.server("220 relay\r\n");
    let sent = d.server("250-relay\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n");
    assert_eq!(sent, "STARTTLS\r\n");
    // Bytes after the 220 (an injection attempt) are dropped; EHLO goes after the switch.
    let sent = d.server("220 go ahead\r\n250 injected\r\n");
    assert_eq!(d.starttls, 1);
    assert_eq!(sent, "EHLO mail.example.com\r\n");
    let sent = d.server("250-relay\r\n250 AUTH PLAIN LOGIN\r\n");
    assert_eq!(sent, "AUTH PLAIN AG9mZmljZQBzZWNyZXQ=\r\n");
    let sent = d.server("235 2.7.0 ok\r\n");
    assert_eq!(sent, "QUIT\r\n");
    d.server("221 bye\r\n");
    let end = d.ended.clone().unwrap();
    assert!(end.tls && end.established && end.error.is_none());
}

#[test]
fn auth_login_and_refusal() {
    let mut s = settings();
    s.auth = Some(Credentials {
        user: "u".into(),
        password: "p".into(),
    });
    let mut d = Driver::new(s, vec![job("j", None, &["a@x.test"], 1)], b"x\r\n");
    d.server("220 relay\r\n");
    assert_eq!(
        d.server("250-relay\r\n250 AUTH=LOGIN\r\n"),
        "AUTH LOGIN\r\n"
    );
    assert_eq!(d.server("334 VXNlcm5hbWU6\r\n"), "dQ==\r\n");
    assert_eq!(d.server("334 UGFzc3dvcmQ6\r\n"), "cA==\r\n");
    d.server("535 5.7.8 bad credentials\r\n");
    assert!(d.closed);
    let end = d.ended.clone().unwrap();
    assert!(!end.established);
    assert_eq!(end.error.unwrap().reply.unwrap().code, 535);
    // The job was never handed over: nothing to report.
    assert!(d.reports.is_empty());
}

#[test]
fn tls_required_but_not_offered_fails_the_session() {
    let mut s = settings();
    s.tls = OutTls::Required;
    s.tls_available = true;
    let mut d = Driver::new(s, vec![], b"");
    d.server("220 mx\r\n");
    d.server("250 mx\r\n");
    assert!(d.closed);
    assert!(!d.ended.clone().unwrap().established);
}

#[test]
fn timeout_and_eof_fail_the_job_temporarily() {
    let mut d = Driver::new(
        settings(),
        vec![job("j", Some("s@example.com"), &["a@x.test"], 5)],
        b"x\r\n",
    );
    d.server("220 mx\r\n");
    d.server(EHLO_PIPE);
    d.server("250 ok\r\n250 ok\r\n354 go\r\n");
    // The data went out; the final reply never comes.
    d.now = T0 + Duration::from_secs(599);
    d.c.handle_input(d.now, Input::Tick);
    d.pump();
    assert!(!d.closed);
    d.now = T0 + Duration::from_secs(601);
    d.c.handle_input(d.now, Input::Tick);
    d.pump();
    assert!(d.closed);
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Temporary(r) if r.code == 451));

    let mut d = Driver::new(
        settings(),
        vec![job("j", Some("s@example.com"), &["a@x.test"], 5)],
        b"x\r\n",
    );
    d.server("220 mx\r\n");
    d.server(EHLO_PIPE);
    d.c.handle_input(d.now, Input::Eof);
    d.pump();
    assert!(d.closed);
    assert!(matches!(d.outcome(0, 0), RcptOutcome::Temporary(_)));
    assert!(d.ended.clone().unwrap().established);
}

#[test]
fn service_closing_421_and_garbage_end_the_session() {
    let mut d = Driver::new(
        settings(),
        vec![job("j", Some("s@example.com"), &["a@x.test"], 5)],
        b"x\r\n",
    );
    d.server("421 too busy\r\n");
    assert!(d.closed);
    assert!(!d.ended.clone().unwrap().established);

    let mut d = Driver::new(settings(), vec![], b"");
    d.server("220 mx\r\n");
    d.server("hello there\r\n");
    assert!(d.closed);
    assert!(d
        .ended
        .clone()
        .unwrap()
        .error
        .unwrap()
        .text
        .contains("protocol error"));
}

#[test]
fn dsn_and_8bit_parameters_when_offered() {
    let mut j = job("j", Some("s@example.com"), &["a@x.test"], 5);
    j.eight_bit = true;
    j.dsn_ret = Some("HDRS".into());
    j.dsn_envid = Some("abc".into());
    j.recipients[0].notify = Some("FAILURE,DELAY".into());
    j.recipients[0].orcpt = Some("rfc822;a@x.test".into());
    let mut d = Driver::new(settings(), vec![j.clone()], b"x\r\n");
    d.server("220 mx\r\n");
    let sent = d.server("250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 DSN\r\n");
    assert_eq!(
        sent,
        "MAIL FROM:<s@example.com> BODY=8BITMIME RET=HDRS ENVID=abc\r\nRCPT TO:<a@x.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@x.test\r\nDATA\r\n"
    );
    // Without the extensions the parameters are left out.
    let mut d = Driver::new(settings(), vec![j], b"x\r\n");
    d.server("220 mx\r\n");
    assert_eq!(
        d.server("250-mx\r\n250 PIPELINING\r\n"),
        "MAIL FROM:<s@example.com>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n"
    );
}

#[test]
fn missing_message_drops_the_session_without_ending_the_data() {
    let mut c = SmtpClient::new(T0, settings());
    let mut out = Vec::new();
    let step = |c: &mut SmtpClient, out: &mut Vec<u8>| c.poll_output(out);
    assert!(matches!(step(&mut c, &mut out), Output::Wait(_)));
    c.handle_input(T0, Input::Bytes(b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n"));
    let _ = step(&mut c, &mut out);
    c.handle_command(
        T0,
        ClientCommand::Send(Box::new(job("j", None, &["a@x.test"], 1))),
    );
    let _ = step(&mut c, &mut out);
    c.handle_input(T0, Input::Bytes(b"250 ok\r\n250 ok\r\n354 go\r\n"));
    assert_eq!(
        step(&mut c, &mut out),
        Output::Event(ClientEvent::NextChunk)
    );
    out.clear();
    c.handle_command(T0, ClientCommand::Missing);
    let mut saw_finished = false;
    loop {
        match step(&mut c, &mut out) {
            Output::Event(ClientEvent::Finished(r)) => {
                saw_finished = true;
                assert!(matches!(r.recipients[0].1, RcptOutcome::Temporary(_)));
            }
            Output::Event(_) => {}
            Output::Close => break,
            o => panic!("unexpected {o:?}"),
        }
    }
    assert!(saw_finished);
    assert!(
        !String::from_utf8_lossy(&out).contains(".\r\n"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}
