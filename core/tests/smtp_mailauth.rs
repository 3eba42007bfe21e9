//! The SMTP session's side of the mail authentication checks (issue 19): when it asks,
//! where the results go, forged results removed, and the DMARC refusal.

mod smtp_support;

use mailroom_core::mailauth::Verdict;
use mailroom_core::smtp::{AuthAnswer, SmtpEvent};
use smtp_support::*;

const MESSAGE: &str = "Authentication-Results: mail.example.com; dmarc=pass\r\nAuthentication-Results: other.example; spf=fail\r\nFrom: a@sender.example\r\nSubject: hi\r\n\r\nbody\r\n.\r\n";

fn send(c: &mut Client) -> String {
    c.ehlo();
    c.send("MAIL FROM:<a@sender.example>\r\n");
    c.send("RCPT TO:<alice@example.com>\r\n");
    c.send("DATA\r\n");
    c.send(MESSAGE)
}

fn checks(c: &Client) -> usize {
    c.events
        .iter()
        .filter(|e| matches!(e, SmtpEvent::CheckAuth(_)))
        .count()
}

#[test]
fn results_are_added_and_forged_ones_removed() {
    let mut c = Client::wan();
    c.answers.auth = Some(AuthAnswer {
        header: "Authentication-Results: mail.example.com;\r\n\tspf=pass\r\n".into(),
        verdict: Verdict::Deliver,
        refusal: String::new(),
    });
    let reply = send(&mut c);
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(checks(&c), 1);
    let Some(SmtpEvent::CheckAuth(req)) = c
        .events
        .iter()
        .find(|e| matches!(e, SmtpEvent::CheckAuth(_)))
    else {
        panic!()
    };
    assert_eq!(req.mail_from.as_deref(), Some("a@sender.example"));
    assert!(req
        .message
        .starts_with(b"Authentication-Results: mail.example.com; dmarc"));
    let d = c.deliveries();
    assert_eq!(
        body_after_received(&d[0].data),
        b"Authentication-Results: mail.example.com;\r\n\tspf=pass\r\nAuthentication-Results: other.example; spf=fail\r\nFrom: a@sender.example\r\nSubject: hi\r\n\r\nbody\r\n"
    );
}

#[test]
fn dmarc_refusal_is_a_5xx_or_4xx() {
    for (temporary, code) in [(false, "550 5.7.1"), (true, "451 4.7.5")] {
        let mut c = Client::wan();
        c.answers.auth = Some(AuthAnswer {
            header: "Authentication-Results: mail.example.com; dmarc=fail\r\n".into(),
            verdict: Verdict::Refuse { temporary },
            refusal: "Message refused: DMARC".into(),
        });
        let reply = send(&mut c);
        assert!(reply.starts_with(code), "{reply}");
        assert!(c.deliveries().is_empty());
        // The session goes on.
        assert!(c.send("RSET\r\n").starts_with("250"));
    }
}

#[test]
fn authenticated_skipped_and_disabled_sessions_are_not_checked() {
    // Loopback and the LAN are in the default skip list.
    for ip in ["127.0.0.1", "192.168.1.10", "fd00::5"] {
        let mut c = Client::new(snapshot_with(config(), vec![]), info(ip));
        assert!(send(&mut c).starts_with("250"));
        assert_eq!(checks(&c), 0, "{ip}");
    }
    let mut cfg = config();
    cfg.mailauth.enabled = false;
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("203.0.113.9"));
    assert!(send(&mut c).starts_with("250"));
    assert_eq!(checks(&c), 0);
    let mut cfg = config();
    cfg.mailauth.skip = vec!["203.0.113.0/24".into()];
    let mut c = Client::new(snapshot_with(cfg, vec![]), info("203.0.113.9"));
    assert!(send(&mut c).starts_with("250"));
    assert_eq!(checks(&c), 0);
    // Any other Internet client is checked.
    let mut c = Client::wan();
    assert!(send(&mut c).starts_with("250"));
    assert_eq!(checks(&c), 1);
}

#[test]
fn smtp_rules_see_the_results() {
    // An after-DATA rule on the field the checks added (§8.2 syntax).
    let rules = "3*Reject DMARC failures\nAuthentication-Results:*dmarc=fail*\n";
    let mut snap = (*snapshot_with(config(), vec![])).clone();
    snap.access.smtp_rules =
        mailroom_core::smtprules::SmtpRules::parse(rules).expect("rules parse");
    let snap = std::sync::Arc::new(snap);
    for (dmarc, code) in [("fail", "550"), ("pass", "250")] {
        let mut c = Client::new(snap.clone(), info("203.0.113.9"));
        c.answers.auth = Some(AuthAnswer {
            header: format!("Authentication-Results: mail.example.com; dmarc={dmarc}\r\n"),
            verdict: Verdict::Deliver,
            refusal: String::new(),
        });
        let reply = send(&mut c);
        assert!(reply.starts_with(code), "{dmarc}: {reply}");
    }
}
