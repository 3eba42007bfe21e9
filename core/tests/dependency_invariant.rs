//! Invariant 1, mechanically: mailroom-core's normal dependency tree holds no async
//! runtime, so nothing in core can spawn tasks, open sockets or read timers through one.
//! (Direct calls to clocks, files and sockets are caught by clippy via core/clippy.toml.)

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "smol",
    "async-io",
    "futures-lite",
    "async-executor",
    "tokio",
    "mio",
];

#[test]
fn core_depends_on_no_async_runtime() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "mailroom-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains("mailroom-core"),
        "unexpected cargo tree output:\n{tree}"
    );
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for bad in FORBIDDEN {
        assert!(
            !crates.contains(bad),
            "mailroom-core must not depend on {bad}:\n{tree}"
        );
    }
}

#[test]
fn core_has_its_own_clippy_rules() {
    let rules = include_str!("../clippy.toml");
    for needle in [
        "std::time::Instant::now",
        "std::time::SystemTime::now",
        "std::thread::sleep",
        "std::fs::File",
        "std::net::TcpStream",
    ] {
        assert!(
            rules.contains(needle),
            "core/clippy.toml lost its rule for {needle}"
        );
    }
}
