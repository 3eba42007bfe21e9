//! A real `command` link driven by small shell scripts: `mailroom connect --wait`, the
//! retry after a failed dial, the hooks with `CONNECTION`, the hang-up, and a
//! `CONNECT.NOW` file, through both binaries.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::pop3::Pop3;
use mailroom_tests::server::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("writing a script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// The `command` connection `isp`, dialled by `up` and hung up by `down` (a script or
/// a shell command), with `more` config lines after it.
fn isp_link(up: &Path, down: &str, more: &str) -> String {
    format!(
        "\n[[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"{}\"\ndown = \"{down}\"\n{more}",
        up.display()
    )
}

/// Wait (bounded) until `f` holds; a hang guard, not a timing assertion.
fn eventually(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn command_link(flavor: Flavor) {
    let mut server = TestServer::setup(flavor);
    let root = server
        .data
        .parent()
        .expect("the data dir has a parent")
        .to_path_buf();
    let log = root.join("link.log");
    let count = root.join("dials");
    let (up, down, post, pre) = (
        root.join("up.sh"),
        root.join("down.sh"),
        root.join("post.sh"),
        root.join("pre.sh"),
    );
    let l = log.display();
    // The first dial fails; later ones succeed.
    script(
        &up,
        &format!(
            "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\necho \"up $n $CONNECTION\" >> {l}\n[ $n -gt 1 ]",
            c = count.display()
        ),
    );
    script(&down, &format!("echo \"down $CONNECTION\" >> {l}"));
    script(
        &post,
        &format!("echo \"post $CONNECTION $CONNECTION_NAME\" >> {l}"),
    );
    script(
        &pre,
        &format!("echo \"pre $CONNECTION $CONNECTION_NAME\" >> {l}"),
    );
    let more = format!(
        r#"dial_retries = 1
retry_interval = "1s"
dial_timeout = "20s"

[connect]
post_connect = "{}"
pre_disconnect = "{}"
"#,
        post.display(),
        pre.display()
    );
    server.add_config(&format!(
        "\n[[connection]]\nname = \"lan\"\nlink = \"lan\"\nprimary = false\n{}",
        isp_link(&up, &down.display().to_string(), &more)
    ));
    server.serve();

    let out = server.cli(&["connect", "isp", "--wait"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "connect --wait failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("isp: started") && text.contains("isp: finished") && text.ends_with("done\n"),
        "{text}"
    );
    // The hang-up runs just after the run ends.
    eventually("the hang-up", Duration::from_secs(20), || {
        read(&log).contains("down")
    });
    assert_eq!(
        read(&log),
        "up 1 2\nup 2 2\npost 2 isp\npre 2 isp\ndown 2\n"
    );
    // SUMMARY.LOG's online time of the connection (code 9, §21.12).
    let summary = server.data.join("log").join("SUMMARY.LOG");
    eventually("the online time", Duration::from_secs(20), || {
        read(&summary)
            .lines()
            .any(|l| l.contains(" - 9 ") && l.ends_with(" isp"))
    });

    // An unknown name is refused.
    let out = server.cli(&["connect", "nowhere", "--wait"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("rejected"));

    // VPOP3's CONNECT.NOW runs the primary connections: here only "isp".
    fs::write(server.data.join("CONNECT.NOW"), "").expect("CONNECT.NOW");
    eventually("the CONNECT.NOW run", Duration::from_secs(30), || {
        read(&log).matches("down").count() == 2
    });
    assert!(!server.data.join("CONNECT.NOW").exists());
    assert!(
        read(&log).ends_with("up 3 2\npost 2 isp\npre 2 isp\ndown 2\n"),
        "{}",
        read(&log)
    );
}

/// §6.5.1 "connect when X users have checked their mail": two different users log in
/// by POP3 (one of them twice) and the primary connection dials.
fn users_checking_mail_connect(flavor: Flavor) {
    let mut server = TestServer::setup(flavor);
    let (pop3, _) = mailroom_tests::pop3::enable(&server, false);
    let root = server.data.parent().expect("a parent").to_path_buf();
    let log = root.join("link.log");
    let up = root.join("up.sh");
    script(&up, &format!("echo up >> {}", log.display()));
    server.add_config(&isp_link(
        &up,
        "true",
        "\n[connect]\nusers_checked = 2\nusers_checked_within = \"1s\"\n",
    ));
    server.serve();
    for (user, password) in [
        (ALICE, ALICE_PASSWORD),
        (ALICE, ALICE_PASSWORD),
        (BOB, BOB_PASSWORD),
    ] {
        let mut c = Pop3::connect(pop3).expect("pop3");
        let r = c.login(user, password).expect("login");
        assert!(r.starts_with("+OK"), "{r}");
        let _ = c.command("QUIT");
    }
    eventually("the dial", Duration::from_secs(30), || {
        read(&log).contains("up")
    });
    assert_eq!(read(&log), "up\n", "one connection");
}

/// A link that drops by itself is noticed by its `check` command while in use: the
/// next connection dials again instead of using the dead link.
fn a_dropped_link_is_noticed(flavor: Flavor) {
    let mut server = TestServer::setup(flavor);
    let root = server.data.parent().expect("a parent").to_path_buf();
    let log = root.join("link.log");
    let flag = root.join("link-is-up");
    let (up, down) = (root.join("up.sh"), root.join("down.sh"));
    script(
        &up,
        &format!("echo up >> {}\ntouch {}", log.display(), flag.display()),
    );
    script(
        &down,
        &format!("echo down >> {}\nrm -f {}", log.display(), flag.display()),
    );
    server.add_config(&isp_link(
        &up,
        &down.display().to_string(),
        &format!(
            "check = \"test -f {}\"\nidle_hangup = \"1h\"\n",
            flag.display()
        ),
    ));
    server.serve();
    let out = server.cli(&["connect", "isp", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(read(&log), "up\n", "online, staying up while idle");
    // The line drops (nobody ran `down`).
    fs::remove_file(&flag).expect("dropping the link");
    eventually("the drop to be noticed", Duration::from_secs(60), || {
        server.log().contains("went down by itself")
    });
    let out = server.cli(&["connect", "isp", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        read(&log),
        "up\nup\n",
        "dialled again, no hang-up of a dead link"
    );
}

both_binaries!(
    command_link,
    users_checking_mail_connect,
    a_dropped_link_is_noticed
);
