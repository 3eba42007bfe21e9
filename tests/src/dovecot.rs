//! A private Dovecot POP3 server as the "ISP" that In Mail collects from: its own
//! config, base_dir, passwd-file and Maildir in a scratch directory, one account, a
//! free loopback port. The system's Dovecot (if any) is not touched. Stopped on drop.
//!
//! As root, Dovecot's login and internal processes run as its packaged `dovenull` and
//! `dovecot` users and the mailbox belongs to `dovecot`; as anyone else, everything
//! runs as the current user.

use std::ffi::{CStr, CString};
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The ISP account's name and password.
pub const ISP_USER: &str = "office";
pub const ISP_PASSWORD: &str = "isp-secret-1";

pub struct Dovecot {
    dir: TempDir,
    child: Option<Child>,
    pub addr: SocketAddr,
    /// Owner of the mailbox files Dovecot reads (the `dovecot` user as root).
    uid: u32,
    gid: u32,
}

struct Identity {
    login_user: String,
    internal_user: String,
    uid: u32,
    gid: u32,
}

fn user_by_name(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam with a NUL-terminated name; the result is read at once, before
    // any other passwd call in this thread.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null result of getpwnam points at a valid passwd record.
    let pw = unsafe { &*pw };
    Some((pw.pw_uid, pw.pw_gid))
}

fn identity() -> Result<Identity, String> {
    // SAFETY: geteuid and getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid == 0 {
        let (uid, gid) = user_by_name("dovecot").ok_or("no `dovecot` user")?;
        user_by_name("dovenull").ok_or("no `dovenull` user")?;
        return Ok(Identity {
            login_user: "dovenull".into(),
            internal_user: "dovecot".into(),
            uid,
            gid,
        });
    }
    // SAFETY: getpwuid for our own uid; the record is copied out at once.
    let pw = unsafe { libc::getpwuid(euid) };
    if pw.is_null() {
        return Err(format!("uid {euid} has no passwd entry"));
    }
    // SAFETY: non-null getpwuid result; pw_name is a NUL-terminated string.
    let name = unsafe { CStr::from_ptr((*pw).pw_name) }
        .to_string_lossy()
        .into_owned();
    Ok(Identity {
        login_user: name.clone(),
        internal_user: name,
        uid: euid,
        gid: egid,
    })
}

fn chown(path: &Path, uid: u32, gid: u32) {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return;
    };
    // SAFETY: chown(2) on a NUL-terminated path we created.
    unsafe { libc::chown(c.as_ptr(), uid, gid) };
}

impl Dovecot {
    /// Start it with an empty mailbox; a failure to start is a panic. A test that
    /// starts it is ignored where Dovecot is not installed (`have_dovecot`).
    pub fn start() -> Dovecot {
        Self::start_with(&[])
    }

    /// Start it holding `messages` (file name in `new/`, contents).
    pub fn start_with(messages: &[(String, Vec<u8>)]) -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("mailroom-dovecot-")
            .tempdir()
            .expect("a scratch directory");
        let id = identity().unwrap_or_else(|e| panic!("cannot run Dovecot here: {e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::server::free_port()));
        let mut d = Dovecot {
            dir,
            child: None,
            addr,
            uid: id.uid,
            gid: id.gid,
        };
        d.configure(&id).expect("writing the Dovecot config");
        d.put_all(messages);
        d.launch();
        d
    }

    /// A LAN connection `isp` and the In Mail box `isp-box` that collects this account
    /// over it (no TLS, for example.com), for a test to append to its server's config.
    pub fn isp_config(&self, primary: bool, leave_on_server_days: u32) -> String {
        format!(
            r#"
[[connection]]
name = "isp"
link = "lan"
primary = {primary}

[[inmail]]
name = "isp-box"
connections = ["isp"]
server = "{}"
user = "{ISP_USER}"
password = "{ISP_PASSWORD}"
tls = "none"
accepted_domains = ["example.com"]
leave_on_server_days = {leave_on_server_days}
"#,
            self.addr
        )
    }

    /// The account's Maildir (what the ISP holds right now).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(ISP_USER).join("Maildir")
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    /// Dovecot's own log (logins, `retr=`/`del=` counts per session).
    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default();
        s.push_str(&fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default());
        s
    }

    fn configure(&self, id: &Identity) -> std::io::Result<()> {
        let w = self.dir.path();
        // Dovecot's mail process (the mailbox owner) must reach the home below here.
        fs::set_permissions(w, fs::Permissions::from_mode(0o755))?;
        let md = self.maildir();
        for sub in ["new", "cur", "tmp"] {
            fs::create_dir_all(md.join(sub))?;
        }
        for p in [
            w.join("home"),
            w.join("home").join(ISP_USER),
            md.clone(),
            md.join("new"),
            md.join("cur"),
            md.join("tmp"),
        ] {
            chown(&p, id.uid, id.gid);
        }
        let home = w.join("home").join(ISP_USER);
        fs::write(
            w.join("passwd"),
            format!(
                "{ISP_USER}:{{PLAIN}}{ISP_PASSWORD}:{}:{}::{}::\n",
                id.uid,
                id.gid,
                home.display()
            ),
        )?;
        let w_ = w.display();
        let port = self.addr.port();
        let conf = format!(
            "base_dir = {w_}/run
state_dir = {w_}/state
instance_name = mailroom-test-{port}
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login apop
# A wrong password answers at once (tests of bad credentials need no 2 s wait).
auth_failure_delay = 0
log_path = {w_}/dovecot.log
default_login_user = {login}
default_internal_user = {internal}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {w_}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {w_}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
}}
",
            login = id.login_user,
            internal = id.internal_user,
        );
        fs::write(self.conf(), conf)
    }

    fn launch(&mut self) {
        let err = fs::File::create(self.dir.path().join("stderr.log")).expect("a log file");
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.conf())
            .stdin(Stdio::null())
            .stdout(err.try_clone().expect("cloning a file handle"))
            .stderr(err)
            .spawn()
            .expect("starting dovecot");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("dovecot exited with {status}\n{}", self.log());
            }
            if let Ok(mut c) = crate::pop3::Pop3::connect(self.addr) {
                if c.greeting.starts_with("+OK") {
                    let _ = c.command("QUIT");
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not start\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Put one message into the mailbox (through `tmp/`, as a delivery would); the
    /// next POP3 session sees it.
    pub fn put(&self, name: &str, data: &[u8]) {
        let md = self.maildir();
        let tmp = md.join("tmp").join(name);
        fs::write(&tmp, data).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
        chown(&tmp, self.uid, self.gid);
        fs::rename(&tmp, md.join("new").join(name)).expect("moving into new/");
    }

    pub fn put_all(&self, messages: &[(String, Vec<u8>)]) {
        for (name, data) in messages {
            self.put(name, data);
        }
    }

    /// Every message the mailbox holds now (`new/` and `cur/`), with its contents.
    pub fn messages(&self) -> Vec<(PathBuf, Vec<u8>)> {
        crate::maildir::visible(&self.maildir())
    }

    /// The Message-Id of every message the mailbox holds now.
    pub fn message_ids(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter_map(|(_, data)| message_id(data))
            .collect()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM lets the master take its login, auth and mail processes down with
            // it; the master itself then lingers about 3 s for its log process, which a
            // test need not wait for once nothing listens any more.
            crate::server::signal(&c, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect(self.addr).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if crate::server::wait_timeout(&mut c, Duration::from_millis(200)).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Message-Id field's value (angle brackets included) of a message, if any.
pub fn message_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let end = text.find("\r\n\r\n").or_else(|| text.find("\n\n"))?;
    text[..end].lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("message-id")
            .then(|| value.trim().to_string())
    })
}

/// One message of the prepared multidrop mailbox.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// File name in the ISP Maildir's `new/`.
    pub name: &'static str,
    /// `<...@isp.example>`, unique in the mailbox.
    pub message_id: String,
    pub data: Vec<u8>,
    /// The local users (of [`crate::TestServer`]: alice, bob) it belongs to with
    /// detected routing (the default header order), `accepted_domains = ["example.com"]`
    /// and `X-Envelope-To` as a special header. Empty: for nobody known here.
    pub for_users: &'static [&'static str],
    /// Where the recipient is to be found, for messages in assertions.
    pub how: &'static str,
}

impl Prepared {
    pub fn file(&self) -> (String, Vec<u8>) {
        (self.name.to_string(), self.data.clone())
    }
}

fn prepared(
    name: &'static str,
    how: &'static str,
    for_users: &'static [&'static str],
    leading: &str,
    fields: &str,
) -> Prepared {
    let message_id = format!("<{name}@isp.example>");
    let data = format!(
        "{leading}Return-Path: <sender@partner.example>\n\
         {fields}\
         From: Sender <sender@partner.example>\n\
         Subject: multidrop {name}\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\n\
         Message-Id: {message_id}\n\
         \n\
         This is {name}: {how}.\n\
         .a line that starts with a dot\n\
         \n\
         last line\n"
    )
    .into_bytes();
    Prepared {
        name,
        message_id,
        data,
        for_users,
        how,
    }
}

/// A multidrop mailbox as an ISP keeps it for a whole domain: messages for alice and
/// bob found through To, Cc, a Received `for` clause and X-Envelope-To, one for both,
/// one for an unknown user (carol), and one starting with a non-compliant `From ` line.
/// Maildir files use LF line ends; Dovecot sends CRLF.
pub fn multidrop() -> Vec<Prepared> {
    const RECEIVED_NO_FOR: &str = "Received: from relay.partner.example (relay.partner.example [192.0.2.7])\n\tby mx.isp.example with ESMTP id 4a1; Mon, 23 Nov 2026 10:00:01 +0000\n";
    vec![
        prepared(
            "md-to",
            "To names alice",
            &["alice"],
            "",
            &format!("{RECEIVED_NO_FOR}To: Alice <alice@example.com>\n"),
        ),
        prepared(
            "md-cc",
            "Cc names bob, To someone elsewhere",
            &["bob"],
            "",
            &format!("{RECEIVED_NO_FOR}To: partner@partner.example\nCc: Bob <bob@example.com>\n"),
        ),
        prepared(
            "md-received",
            "only a Received `for` clause names alice (To is a list elsewhere)",
            &["alice"],
            "",
            "Received: from relay.partner.example (relay.partner.example [192.0.2.7])\n\tby mx.isp.example with ESMTP id 4a2\n\tfor <alice@example.com>; Mon, 23 Nov 2026 10:00:01 +0000\nTo: office-list@lists.partner.example\n",
        ),
        prepared(
            "md-envelope",
            "only X-Envelope-To names bob (To is undisclosed)",
            &["bob"],
            "",
            &format!("{RECEIVED_NO_FOR}X-Envelope-To: bob@example.com\nTo: undisclosed-recipients:;\n"),
        ),
        prepared(
            "md-both",
            "To names alice, Cc names bob",
            &["alice", "bob"],
            "",
            &format!("{RECEIVED_NO_FOR}To: alice@example.com\nCc: bob@example.com\n"),
        ),
        prepared(
            "md-unknown",
            "To names carol, who has no account",
            &[],
            "",
            &format!("{RECEIVED_NO_FOR}To: Carol <carol@example.com>\n"),
        ),
        prepared(
            "md-fromline",
            "a leading `From ` line, then To names bob",
            &["bob"],
            "From sender@partner.example Mon Nov 23 10:00:00 2026\n",
            &format!("{RECEIVED_NO_FOR}To: bob@example.com\n"),
        ),
    ]
}

/// `n` plain messages of about `size` octets for alice, Message-Id `<bulk-I@isp.example>`,
/// named `bulk-I` (zero-padded so name order is number order).
pub fn bulk(n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let name = format!("bulk-{i:06}");
            let mut m = format!(
                "Return-Path: <sender@partner.example>\n\
                 From: Sender <sender@partner.example>\n\
                 To: Alice <alice@example.com>\n\
                 Subject: bulk {i}\n\
                 Date: Mon, 23 Nov 2026 10:00:00 +0000\n\
                 Message-Id: <{name}@isp.example>\n\
                 \n"
            )
            .into_bytes();
            let mut line = 0usize;
            while m.len() < size {
                m.extend_from_slice(format!("{name} line {line:05} ").as_bytes());
                m.extend(std::iter::repeat_n(b'x', 50));
                m.push(b'\n');
                line += 1;
            }
            (name, m)
        })
        .collect()
}
