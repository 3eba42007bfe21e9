//! A private Postfix instance as an SMTP relay that requires SMTP AUTH (Cyrus SASL with
//! its own sasldb), holding every message it accepts so the test can read it back. Its
//! own config, queue and port; the system's Postfix is not touched. Needs root (the
//! queue belongs to the postfix user), Postfix and `saslpasswd2` (sasl2-bin).

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const REALM: &str = "relay.localdomain";

pub struct PostfixRelay {
    dir: TempDir,
    pub addr: SocketAddr,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl PostfixRelay {
    /// Start it with one SASL account `user@relay.localdomain`. A test that starts it
    /// is ignored unless it runs as root with Postfix and saslpasswd2 installed
    /// (`as_root`, `have_postfix`, `have_saslpasswd2`).
    pub fn start(user: &str, password: &str) -> PostfixRelay {
        let dir = tempfile::Builder::new()
            .prefix("mailroom-postfix-")
            .tempdir()
            .expect("a scratch directory");
        match Self::setup(dir.path(), user, password) {
            Ok(addr) => {
                let p = PostfixRelay { dir, addr };
                let deadline = Instant::now() + Duration::from_secs(20);
                while std::net::TcpStream::connect(p.addr).is_err() {
                    assert!(
                        Instant::now() < deadline,
                        "postfix did not start\n{}",
                        p.maillog()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                p
            }
            Err(e) => panic!("cannot set up the Postfix relay: {e}"),
        }
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn setup(w: &Path, user: &str, password: &str) -> Result<SocketAddr, String> {
        let io = |e: std::io::Error| e.to_string();
        fs::set_permissions(w, fs::Permissions::from_mode(0o755)).map_err(io)?;
        for d in ["etc/sasl", "queue", "data"] {
            fs::create_dir_all(w.join(d)).map_err(io)?;
        }
        run(Command::new("chown").arg("postfix").arg(w.join("data")))?;
        let master = [
            "/etc/postfix/master.cf",
            "/usr/share/postfix/master.cf.dist",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("no master.cf to start from")?;
        let port = crate::server::free_port();
        let text = fs::read_to_string(master).map_err(io)?;
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("smtp      inet") {
                    format!("127.0.0.1:{port} inet n - n - - smtpd\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        fs::write(w.join("etc/master.cf"), text).map_err(io)?;
        let w_ = w.display();
        let main = format!(
            "compatibility_level = 3.6
queue_directory = {w_}/queue
data_directory = {w_}/data
myhostname = {REALM}
mydomain = localdomain
mydestination =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks =
smtpd_sasl_auth_enable = yes
smtpd_sasl_path = smtpd
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_client_restrictions = check_client_access static:HOLD
alias_maps =
alias_database =
maillog_file_prefixes = {w_}
maillog_file = {w_}/maillog
"
        );
        fs::write(w.join("etc/main.cf"), main).map_err(io)?;
        // Debian's Postfix reads Cyrus settings from $config_directory/sasl.
        let sasl = format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {w_}/etc/sasl/sasldb2\n"
        );
        fs::write(w.join("etc/sasl/smtpd.conf"), sasl).map_err(io)?;
        let db = w.join("etc/sasl/sasldb2");
        let mut child = Command::new("saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(&db)
            .args(["-u", REALM, user])
            .stdin(Stdio::piped())
            .spawn()
            .map_err(io)?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(password.as_bytes())
            .map_err(io)?;
        if !child.wait().map_err(io)?.success() {
            return Err("saslpasswd2 failed".into());
        }
        run(Command::new("chown").arg("postfix").arg(&db))?;
        let etc = w.join("etc");
        run(Command::new("postconf")
            .arg("-c")
            .arg(&etc)
            .args(["-F", "*/*/chroot = n"]))?;
        run(Command::new("postfix").arg("-c").arg(&etc).arg("start"))?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn maillog(&self) -> String {
        fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The messages on hold (everything accepted), as `postcat` shows them.
    pub fn held(&self) -> Vec<String> {
        let hold = self.dir.path().join("queue/hold");
        let ids: Vec<String> = fs::read_dir(hold)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.iter()
            .filter_map(|id| {
                Command::new("postcat")
                    .arg("-c")
                    .arg(self.etc())
                    .args(["-q", id])
                    .output()
                    .ok()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            })
            .collect()
    }
}

impl Drop for PostfixRelay {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.etc())
            .arg("stop")
            .output();
    }
}
