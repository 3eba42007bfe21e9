//! A small driver for SMTP session tests: a configuration snapshot built in code, a
//! virtual clock, and a client that feeds bytes and collects replies and events.

#![allow(dead_code)]

use mailroom_core::access::{AccessFiles, AccessList, AccessRule};
use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::config::{AccountPolicy, Config, Services, Smtp, Snapshot, Tls};
use mailroom_core::smtp::{
    AuthAnswer, Delivery, DeliveryError, SessionInfo, SmtpCommand, SmtpEvent, SmtpServer,
};
use mailroom_core::{Input, Instant, Machine, Output};
use std::net::IpAddr;
use std::sync::Arc;

pub const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn account(name: &str, max_outgoing_size: u64) -> Account {
    Account {
        name: name.into(),
        password_hash: String::new(),
        admin: name == "admin",
        comment: String::new(),
        max_outgoing_size,
        ..Default::default()
    }
}

/// example.com and example.org are local; alice, bob and admin exist.
pub fn config() -> Config {
    Config {
        hostname: "mail.example.com".into(),
        default_domain: "example.com".into(),
        local_domains: vec!["example.com".into(), "Example.ORG".into()],
        services: Services::default(),
        tls: Tls::default(),
        smtp: Smtp::default(),
        accounts: AccountPolicy::default(),
        pop3: Default::default(),
        ..Config::default()
    }
}

pub fn snapshot_with(config: Config, smtp_access: Vec<AccessRule>) -> Arc<Snapshot> {
    Arc::new(Snapshot {
        config,
        accounts: Accounts::new([
            account("alice", 0),
            account("bob", 0),
            account("admin", 0),
            account("small", 100),
        ]),
        access: AccessFiles {
            smtp: AccessList { rules: smtp_access },
            ..AccessFiles::default()
        },
    })
}

pub fn rule(network: &str, prefix_len: u8, deny: bool, noauth: bool) -> AccessRule {
    AccessRule {
        deny,
        network: network.parse().unwrap(),
        prefix_len,
        users: vec![],
        noauth,
        line: 1,
    }
}

pub fn info(ip: &str) -> SessionInfo {
    SessionInfo {
        peer_ip: ip.parse::<IpAddr>().unwrap(),
        session_id: "s1".into(),
        tls_active: false,
        tls_available: false,
        pop_before_smtp: false,
        local_offset_secs: 0,
    }
}

/// How the fake driver answers events.
#[derive(Clone, Debug)]
pub struct Answers {
    /// (user, password, canonical name) that authenticate.
    pub users: Vec<(String, String, String)>,
    /// What every delivery gets.
    pub delivery: Result<(), DeliveryError>,
    /// Leave events unanswered (for flow-control tests).
    pub hold: bool,
    /// What the mail authentication checks find (`None`: nothing, deliver).
    pub auth: Option<AuthAnswer>,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            users: vec![("alice".into(), "secret".into(), "alice".into())],
            delivery: Ok(()),
            hold: false,
            auth: None,
        }
    }
}

impl Answers {
    pub fn answer(&self, e: &SmtpEvent) -> Option<SmtpCommand> {
        if self.hold {
            return None;
        }
        Some(match e {
            SmtpEvent::Authenticate { user, password } => SmtpCommand::AuthResult(
                self.users
                    .iter()
                    .find(|(u, p, _)| u.eq_ignore_ascii_case(user) && p == password)
                    .map(|(_, _, n)| n.clone()),
            ),
            // The test secret of every user is its password (RFC 2195's example:
            // tim / tanstaaftanstaaf).
            SmtpEvent::AuthenticateCram {
                user,
                challenge,
                digest,
            } => SmtpCommand::AuthResult(
                self.users
                    .iter()
                    .find(|(u, p, _)| {
                        u.eq_ignore_ascii_case(user)
                            && mailroom_core::challenge::cram_md5_digest(challenge, p) == *digest
                    })
                    .map(|(_, _, n)| n.clone()),
            ),
            SmtpEvent::Deliver(_) => SmtpCommand::DeliveryResult(self.delivery.clone()),
            SmtpEvent::Etrn { .. } => SmtpCommand::EtrnResult(Ok(0)),
            SmtpEvent::RuleFired(_) => SmtpCommand::RuleLogged,
            SmtpEvent::Dnsbl { .. } => SmtpCommand::DnsblResult(None),
            SmtpEvent::CheckAuth(_) => SmtpCommand::AuthChecked(Box::new(
                self.auth.clone().unwrap_or_else(AuthAnswer::unchecked),
            )),
        })
    }
}

/// One session under test.
pub struct Client {
    pub server: SmtpServer,
    pub now: Instant,
    /// Everything the server wrote, in order.
    pub transcript: Vec<u8>,
    /// Where the next `take` starts.
    read: usize,
    pub events: Vec<SmtpEvent>,
    pub closed: bool,
    pub start_tls: usize,
    pub wait: Option<Instant>,
    pub answers: Answers,
}

impl Client {
    pub fn new(snapshot: Arc<Snapshot>, info: SessionInfo) -> Client {
        Client::new_at(Instant::from_secs(T0), snapshot, info)
    }

    /// A session that starts at `now` (time never runs backwards inside a machine).
    pub fn new_at(now: Instant, snapshot: Arc<Snapshot>, info: SessionInfo) -> Client {
        let mut c = Client {
            server: SmtpServer::new(now, snapshot, info),
            now,
            transcript: Vec::new(),
            read: 0,
            events: Vec::new(),
            closed: false,
            start_tls: 0,
            wait: None,
            answers: Answers::default(),
        };
        c.drain();
        c
    }

    /// A LAN client (192.168.1.10) with the default test configuration.
    pub fn lan() -> Client {
        Client::new(snapshot_with(config(), vec![]), info("192.168.1.10"))
    }

    /// An Internet client (203.0.113.9) with the default test configuration.
    pub fn wan() -> Client {
        Client::new(snapshot_with(config(), vec![]), info("203.0.113.9"))
    }

    pub fn drain(&mut self) {
        loop {
            match self.server.poll_output(&mut self.transcript) {
                Output::Event(e) => {
                    let cmd = self.answers.answer(&e);
                    self.events.push(e);
                    if let Some(cmd) = cmd {
                        self.server.handle_command(self.now, cmd);
                    }
                }
                Output::StartTls => self.start_tls += 1,
                Output::Close => {
                    self.closed = true;
                    return;
                }
                Output::Wait(w) => {
                    self.wait = w;
                    return;
                }
            }
        }
    }

    pub fn feed(&mut self, input: Input<'_>) {
        self.server.handle_input(self.now, input);
        self.drain();
    }

    /// Send bytes; return what the server wrote in answer.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) -> String {
        self.feed(Input::Bytes(bytes.as_ref()));
        self.take()
    }

    /// Output not yet returned by `send`/`take`.
    pub fn take(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.transcript[self.read..]).into_owned();
        self.read = self.transcript.len();
        s
    }

    pub fn deliveries(&self) -> Vec<&Delivery> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SmtpEvent::Deliver(d) => Some(&**d),
                _ => None,
            })
            .collect()
    }

    /// EHLO and check it worked.
    pub fn ehlo(&mut self) -> String {
        let r = self.send("EHLO client.example.net\r\n");
        assert!(r.ends_with("250 HELP\r\n"), "{r}");
        r
    }
}

/// The reply codes in `replies`, one per final line ("250-..." continuation lines skipped).
pub fn codes(replies: &str) -> Vec<u16> {
    replies
        .split("\r\n")
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .filter_map(|l| l[..3].parse().ok())
        .collect()
}

/// The message after the server's `Received:` line (which ends at the first CRLF not
/// followed by a tab).
pub fn body_after_received(data: &[u8]) -> &[u8] {
    assert!(
        data.starts_with(b"Received: "),
        "{:?}",
        String::from_utf8_lossy(data)
    );
    let mut i = 0;
    loop {
        let pos = data[i..].windows(2).position(|w| w == b"\r\n").unwrap() + i;
        if data.get(pos + 2) != Some(&b'\t') {
            return &data[pos + 2..];
        }
        i = pos + 2;
    }
}
