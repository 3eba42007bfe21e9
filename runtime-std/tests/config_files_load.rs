//! Loading a data directory into a Snapshot: accounts, access files, problems, fingerprint.

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use mailroom_std::cli::devsetup;
use mailroom_std::config::files::{fingerprint, load_snapshot, load_snapshot_with_warnings};
use mailroom_std::config::users;
use mailroom_std::platform::datadir::DataDir;

fn setup() -> (tempfile::TempDir, DataDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let dd = DataDir::new(dir.path());
    devsetup::init(&dd, "example.com", None, Some("adminpass")).expect("init");
    (dir, dd)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).expect("write");
}

#[test]
fn snapshot_holds_config_accounts_and_each_access_file() {
    let (_dir, dd) = setup();
    users::add_user(&dd, "alice", "secret1", false).expect("add alice");
    write(
        &dd.access_dir().join("SMTPALLOWED.DAT"),
        "192.168.1.0/24 noauth\n0.0.0.0 0.0.0.0\n",
    );
    write(&dd.access_dir().join("POP3ALLOWED.DAT"), "10.0.0.0/8\n");
    write(&dd.access_dir().join("PASSALLOWED.DAT"), "127.0.0.1\n");

    let snap = load_snapshot(&dd).expect("snapshot");
    assert_eq!(snap.config.default_domain, "example.com");
    assert_eq!(snap.accounts.len(), 2);
    assert!(snap.accounts.get("ALICE").is_some());
    assert!(snap.accounts.get("postmaster").is_some_and(|a| a.admin));

    assert!(snap.access.smtp.check(ip("192.168.1.9"), None).noauth);
    assert!(snap.access.pop3.check(ip("10.1.1.1"), None).allowed);
    assert!(!snap.access.pop3.check(ip("192.168.1.1"), None).allowed);
    assert!(snap.access.imap.is_empty());
    assert!(snap.access.http.is_empty());
    assert_eq!(snap.access.pass.len(), 1);
}

#[test]
fn every_problem_is_reported_with_file_and_line() {
    let (_dir, dd) = setup();
    let config = dd.config_file();
    let text = fs::read_to_string(&config).expect("config");
    write(
        &config,
        &text.replace("# min_password_length = 5", "min_password_length = 99"),
    );
    write(&dd.access_dir().join("IMAPALLOWED.DAT"), "\n\nnonsense\n");
    // An account file whose name does not match, and one with a broken hash.
    write(
        &dd.users_dir().join("bob.toml"),
        "name = \"robert\"\npassword_hash = \"$argon2id$x\"\n",
    );
    write(
        &dd.users_dir().join("carol.toml"),
        "name = \"carol\"\npassword_hash = \"plain\"\n",
    );
    write(
        &dd.users_dir().join("dave.toml"),
        "name = \"dave\"\npasword = \"x\"\n",
    );

    let problems = load_snapshot(&dd).expect_err("problems");
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let has = |suffix: &str, fragment: &str| {
        shown
            .iter()
            .any(|s| s.contains(suffix) && s.contains(fragment))
    };
    let min_line = text
        .lines()
        .position(|l| l.contains("min_password_length"))
        .expect("line")
        + 1;
    assert!(
        has(
            &format!("mailroom.toml:{min_line}:"),
            "min_password_length = 99"
        ),
        "{shown:#?}"
    );
    assert!(has("IMAPALLOWED.DAT:3:", "nonsense"), "{shown:#?}");
    assert!(
        has("bob.toml:1:", "does not match the file name"),
        "{shown:#?}"
    );
    assert!(has("carol.toml:2:", "not an argon2id hash"), "{shown:#?}");
    assert!(has("dave.toml:2:", "pasword"), "{shown:#?}");
    assert_eq!(problems.len(), 5, "{shown:#?}");
}

#[test]
fn temporary_and_foreign_files_in_users_are_ignored() {
    let (_dir, dd) = setup();
    write(&dd.users_dir().join(".alice.1234.tmp"), "half-written");
    write(&dd.users_dir().join("README"), "notes");
    let snap = load_snapshot(&dd).expect("snapshot");
    assert_eq!(snap.accounts.len(), 1);
}

#[test]
fn a_warning_does_not_stop_loading() {
    let (_dir, dd) = setup();
    write(
        &dd.access_dir().join("SMTPALLOWED.DAT"),
        "!0.0.0.0 0.0.0.0\n",
    );
    let (snap, warnings) = load_snapshot_with_warnings(&dd).expect("snapshot");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].to_string().contains("SMTPALLOWED.DAT:1: "));
    assert!(snap.access.smtp.check(ip("203.0.113.1"), None).allowed);
}

#[test]
fn fingerprint_changes_with_each_file_it_covers() {
    let (_dir, dd) = setup();
    let mut last = fingerprint(&dd);
    assert_eq!(fingerprint(&dd), last, "stable while nothing changes");

    let mut changed = |what: &str, f: &dyn Fn()| {
        f();
        let now = fingerprint(&dd);
        assert_ne!(now, last, "{what} should change the fingerprint");
        last = now;
    };
    changed("user add", &|| {
        users::add_user(&dd, "erin", "secret1", false).expect("add");
    });
    changed("passwd", &|| {
        users::set_password(&dd, "erin", "secret2").expect("passwd")
    });
    changed("user del", &|| {
        users::delete_user(&dd, "erin").expect("del");
    });
    changed("new access file", &|| {
        write(&dd.access_dir().join("POP3ALLOWED.DAT"), "10.0.0.0/8\n")
    });
    changed("config edit", &|| {
        let text = fs::read_to_string(dd.config_file()).expect("config");
        write(&dd.config_file(), &format!("{text}\n"));
    });
}

#[test]
fn concurrent_adds_of_one_name_create_it_once() {
    let (_dir, dd) = setup();
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let dd = dd.clone();
                s.spawn(move || {
                    users::add_user(&dd, "frank", &format!("password{i}"), false).is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    let leftovers: Vec<_> = fs::read_dir(dd.users_dir())
        .expect("users")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}
