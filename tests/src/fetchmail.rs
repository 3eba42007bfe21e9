//! fetchmail as a real client: one run against a test server, every message handed to
//! an MDA that appends it to a file.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

/// Run `fetchmail` once over `proto` (`pop3` or `imap`) against `addr` as `user`,
/// fetching everything and deleting it (no keep), each message appended to
/// `out/mbox` (with `append`) or written to `out/message.eml`. `home` holds its rc
/// file and pid file, so parallel tests never share fetchmail's lock.
pub fn fetch_all(
    proto: &str,
    addr: SocketAddr,
    user: &str,
    password: &str,
    home: &Path,
    out: &Path,
    append: bool,
) -> Output {
    let rc = home.join("fetchmailrc");
    let mda = if append {
        format!("cat >> {}/mbox", out.display())
    } else {
        format!("cat > {}/message.eml", out.display())
    };
    std::fs::write(
        &rc,
        format!(
            "set no syslog\n\
             set invisible\n\
             poll {} proto {proto} port {}\n  \
             user \"{user}\" password \"{password}\" sslproto ''\n  \
             no keep fetchall no stripcr\n  \
             mda \"/bin/sh -c '{mda}'\"\n",
            addr.ip(),
            addr.port(),
        ),
    )
    .expect("writing fetchmailrc");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    Command::new("fetchmail")
        .env("HOME", home)
        // As root its lock file would be system-wide, and tests run in parallel.
        .arg("--pidfile")
        .arg(home.join("fetchmail.pid"))
        .args(["--nodetach", "-v", "-f"])
        .arg(&rc)
        .output()
        .expect("fetchmail runs")
}
