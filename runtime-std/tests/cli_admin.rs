//! The admin command line through the built `mailroom-lite` binary: init, check, user.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use mailroom_core::accounts::verify_password;
use mailroom_std::config::files::load_account;

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailroom-lite"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("MAILROOM_DATA")
        .env_remove("RUST_LOG")
        .output()
        .expect("run mailroom-lite")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn init(data: &Path) {
    let o = run(
        data,
        &[
            "init",
            "--domain",
            "example.org",
            "--admin-password",
            "adminpass",
        ],
    );
    assert!(
        o.status.success(),
        "init failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn init_writes_config_and_postmaster_then_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    init(&data);
    let config = std::fs::read_to_string(data.join("mailroom.toml")).expect("config");
    assert!(config.contains("default_domain = \"example.org\""));
    assert!(config.contains("hostname = \"mail.example.org\""));
    let pm = load_account(&data.join("users/postmaster.toml")).expect("postmaster");
    assert!(pm.admin);
    assert!(verify_password(&pm.password_hash, "adminpass"));
    assert!(data.join("tls/cert.pem").exists());

    let again = run(&data, &["init", "--domain", "other.org"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let after = std::fs::read_to_string(data.join("mailroom.toml")).expect("config");
    assert_eq!(after, config, "the existing config must be untouched");
}

#[test]
fn init_without_password_prints_a_generated_one_that_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(
        dir.path(),
        &[
            "init",
            "--domain",
            "example.net",
            "--hostname",
            "mx.example.net",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let password = out
        .lines()
        .find_map(|l| l.split("password: ").nth(1))
        .expect("generated password printed")
        .trim()
        .to_string();
    assert_eq!(password.len(), 16);
    let pm = load_account(&dir.path().join("users/postmaster.toml")).expect("postmaster");
    assert!(verify_password(&pm.password_hash, &password));
    let config = std::fs::read_to_string(dir.path().join("mailroom.toml")).expect("config");
    assert!(config.contains("hostname = \"mx.example.net\""));
}

#[test]
fn init_refuses_a_bad_domain_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let o = run(&data, &["init", "--domain", "not a domain"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--domain"), "{}", stderr(&o));
    assert!(!data.join("mailroom.toml").exists());
}

#[test]
fn check_passes_on_a_fresh_setup() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let o = run(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("OK: 1 user, 0 access rules"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn check_reports_a_bad_key_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let path = dir.path().join("mailroom.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replacen("smtp = [", "smpt = [", 1);
    let line = text
        .lines()
        .position(|l| l.starts_with("smpt"))
        .expect("edited line")
        + 1;
    std::fs::write(&path, text).expect("write config");

    let o = run(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let want = format!(
        "{}:{line}: unknown key `smpt` in [services]",
        path.display()
    );
    assert!(
        stdout(&o).contains(&want),
        "want {want:?} in:\n{}",
        stdout(&o)
    );
}

#[test]
fn check_reports_access_file_lines_and_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let access = dir.path().join("access/POP3ALLOWED.DAT");
    std::fs::write(
        &access,
        "# office\n192.168.1.0/24\n192.168.1.0 255.0.255.0\n",
    )
    .expect("write");
    let o = run(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(&format!("{}:3: ", access.display())),
        "{}",
        stdout(&o)
    );

    std::fs::write(&access, "192.168.1.0/24\n!0.0.0.0 0.0.0.0\n").expect("write");
    let o = run(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{}:2: warning: ", access.display())),
        "{out}"
    );
    assert!(out.contains("2 access rules (POP3ALLOWED.DAT 2)"), "{out}");
}

#[test]
fn check_reports_a_missing_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("mailroom.toml: not found"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn user_add_list_passwd_del() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    init(data);

    let o = run(data, &["user", "add", "Alice", "--password", "wonderland"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "Created user alice.");
    let o = run(
        data,
        &["user", "add", "bob", "--password", "builder1", "--admin"],
    );
    assert_eq!(stdout(&o).trim(), "Created administrator user bob.");

    let o = run(data, &["user", "list"]);
    assert!(o.status.success());
    let names: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, ["alice", "bob", "postmaster"]);
    assert!(stdout(&o).contains("bob  (admin)"));

    let o = run(data, &["user", "add", "ALICE", "--password", "another1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));

    let o = run(
        data,
        &["user", "passwd", "alice", "--password", "looking-glass"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let alice = load_account(&data.join("users/alice.toml")).expect("alice");
    assert!(verify_password(&alice.password_hash, "looking-glass"));
    assert!(!verify_password(&alice.password_hash, "wonderland"));

    std::fs::create_dir_all(data.join("mail/alice/new")).expect("mailbox");
    let o = run(data, &["user", "del", "alice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("was kept"), "{}", stdout(&o));
    assert!(data.join("mail/alice/new").is_dir());
    assert!(!data.join("users/alice.toml").exists());

    let o = run(data, &["user", "del", "alice"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no user named alice"), "{}", stderr(&o));
    let o = run(
        data,
        &["user", "passwd", "nobody", "--password", "whatever"],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn user_add_enforces_name_and_password_rules_from_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    init(data);
    let o = run(data, &["user", "add", "bad name", "--password", "secret12"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("only letters, digits"),
        "{}",
        stderr(&o)
    );

    let o = run(data, &["user", "add", "carol", "--password", "abc"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("at least 5"), "{}", stderr(&o));

    let path = data.join("mailroom.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        text.replace("# min_password_length = 5", "min_password_length = 10"),
    )
    .expect("write");
    let o = run(data, &["user", "add", "carol", "--password", "ninechars"]);
    assert!(stderr(&o).contains("at least 10"), "{}", stderr(&o));
    let o = run(data, &["user", "add", "carol", "--password", "tencharsok"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn password_can_come_from_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailroom-lite"))
        .args(["user", "add", "dave", "--password", "-", "--data"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"from-stdin\n")
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let dave = load_account(&dir.path().join("users/dave.toml")).expect("dave");
    assert!(verify_password(&dave.password_hash, "from-stdin"));
}

#[test]
fn data_dir_comes_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = Command::new(env!("CARGO_BIN_EXE_mailroom-lite"))
        .args([
            "init",
            "--domain",
            "example.com",
            "--admin-password",
            "adminpass",
        ])
        .env("MAILROOM_DATA", dir.path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("mailroom.toml").exists());
}

#[test]
fn connect_without_a_running_server_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["connect", "all"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is `mailroom serve` running"),
        "{}",
        stderr(&o)
    );
    // The request it left is taken back.
    let left = std::fs::read_dir(dir.path().join("state/connect/requests"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}

#[test]
fn queue_list_on_an_empty_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let o = run(dir.path(), &["queue", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "The queue is empty.");
    let o = run(dir.path(), &["queue", "del", "../x"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn unknown_flags_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["user", "add", "x", "--pasword", "y"]);
    assert_eq!(o.status.code(), Some(2));
}
