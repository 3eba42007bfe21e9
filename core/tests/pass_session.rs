//! The password server dialogue (§11.7) against a fake driver.

use mailroom_core::access::{AccessFiles, AccessList};
use mailroom_core::accounts::Accounts;
use mailroom_core::auth::AuthOutcome;
use mailroom_core::config::{parse_config, Snapshot};
use mailroom_core::pass::{PassCommand, PassEvent, PassServer};
use mailroom_core::{Input, Instant, Machine, Output};
use std::sync::Arc;

struct Session {
    server: PassServer,
    transcript: Vec<u8>,
    /// The one account: (name, password).
    password: String,
    changed_to: Vec<String>,
    closed: bool,
    locked: bool,
}

impl Session {
    fn new(access: &str, ip: &str) -> Self {
        let config = parse_config(
            "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
        )
        .unwrap();
        let snap = Arc::new(Snapshot {
            config,
            accounts: Accounts::default(),
            access: AccessFiles {
                pass: AccessList::parse(access).unwrap().0,
                ..Default::default()
            },
        });
        let mut s = Session {
            server: PassServer::new(Instant::from_secs(1), snap, ip.parse().unwrap()),
            transcript: Vec::new(),
            password: "old-secret".into(),
            changed_to: Vec::new(),
            closed: false,
            locked: false,
        };
        s.drain();
        s
    }

    fn drain(&mut self) {
        loop {
            match self.server.poll_output(&mut self.transcript) {
                Output::Event(e) => {
                    let cmd = match e {
                        PassEvent::Authenticate { user, password } => {
                            PassCommand::AuthResult(if self.locked {
                                AuthOutcome::Locked
                            } else if user.eq_ignore_ascii_case("alice")
                                && password == self.password
                            {
                                AuthOutcome::Ok("alice".into())
                            } else {
                                AuthOutcome::Invalid
                            })
                        }
                        PassEvent::ChangePassword { user, password } => {
                            assert_eq!(user, "alice");
                            self.password = password.clone();
                            self.changed_to.push(password);
                            PassCommand::Changed(Ok(()))
                        }
                    };
                    self.server.handle_command(Instant::from_secs(2), cmd);
                }
                Output::Close => {
                    self.closed = true;
                    return;
                }
                Output::StartTls => panic!("no TLS here"),
                Output::Wait(_) => return,
            }
        }
    }

    fn say(&mut self, line: &str) -> String {
        let start = self.transcript.len();
        self.server.handle_input(
            Instant::from_secs(2),
            Input::Bytes(format!("{line}\r\n").as_bytes()),
        );
        self.drain();
        String::from_utf8_lossy(&self.transcript[start..]).into_owned()
    }
}

#[test]
fn the_manual_dialogue_verbatim() {
    let mut s = Session::new("", "192.168.1.2");
    assert_eq!(
        String::from_utf8_lossy(&s.transcript),
        "200 Mailroom - Hello who are you (type USER <userid>)\r\n"
    );
    assert_eq!(
        s.say("USER alice"),
        "200 Now enter your password (type PASS <password>)\r\n"
    );
    assert_eq!(
        s.say("PASS old-secret"),
        "200 Now type NEWPASS <new password>\r\n"
    );
    assert_eq!(
        s.say("NEWPASS new-secret"),
        "200 New password accepted - Thanks\r\n"
    );
    assert_eq!(s.say("QUIT"), "200 Bye\r\n");
    assert!(s.closed);
    assert_eq!(s.changed_to, ["new-secret"]);
}

#[test]
fn weak_same_or_wrong_passwords_are_refused_with_500() {
    let mut s = Session::new("", "192.168.1.2");
    assert_eq!(s.say("NEWPASS x"), "500 Send USER and PASS first\r\n");
    assert_eq!(s.say("PASS x"), "500 Send USER first\r\n");
    s.say("USER alice");
    assert_eq!(s.say("PASS nope"), "500 Old password is incorrect\r\n");
    s.say("USER alice");
    s.say("PASS old-secret");
    let r = s.say("NEWPASS abc");
    assert!(
        r.starts_with("500 New password refused: the password is too short"),
        "{r}"
    );
    assert_eq!(
        s.say("NEWPASS old-secret"),
        "500 New password must differ from the old one\r\n"
    );
    assert!(s.say("NEWPASS has space").starts_with("500 "));
    assert!(s.changed_to.is_empty());
    assert_eq!(
        s.say("NEWPASS better-one"),
        "200 New password accepted - Thanks\r\n"
    );
    assert_eq!(s.say("HELP"), "500 Unknown command\r\n");
    assert!(!s.closed);
}

#[test]
fn lockout_and_access_files() {
    let mut s = Session::new("", "192.168.1.2");
    s.locked = true;
    s.say("USER alice");
    assert!(s.say("PASS old-secret").starts_with("500 Account locked"));

    let s = Session::new("10.0.0.0/8\n", "192.168.1.2");
    assert_eq!(
        String::from_utf8_lossy(&s.transcript),
        "500 Access denied\r\n"
    );
    assert!(s.closed);

    let mut s = Session::new("192.168.1.0/24 bob\n", "192.168.1.2");
    s.say("USER alice");
    assert_eq!(
        s.say("PASS old-secret"),
        "500 Access denied for this user from this address\r\n"
    );
    assert!(s.closed);
}

#[test]
fn too_many_errors_and_split_input() {
    let mut s = Session::new("", "192.168.1.2");
    for _ in 0..9 {
        s.say("XYZZY");
    }
    assert!(!s.closed);
    assert!(s
        .say("XYZZY")
        .ends_with("500 Too many errors, closing connection\r\n"));
    assert!(s.closed);

    // One byte at a time gives the same dialogue.
    let script = b"USER alice\r\nPASS old-secret\r\nNEWPASS new-secret\r\nQUIT\r\n";
    let mut whole = Session::new("", "192.168.1.2");
    whole
        .server
        .handle_input(Instant::from_secs(2), Input::Bytes(script));
    whole.drain();
    let mut bytes = Session::new("", "192.168.1.2");
    for b in script {
        bytes
            .server
            .handle_input(Instant::from_secs(2), Input::Bytes(std::slice::from_ref(b)));
        bytes.drain();
    }
    assert_eq!(whole.transcript, bytes.transcript);
    assert!(String::from_utf8_lossy(&whole.transcript).ends_with("200 Bye\r\n"));
}
