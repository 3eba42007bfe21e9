//! Finding (and first building) the two server binaries.
//!
//! An integration test only gets `CARGO_BIN_EXE_*` for its own package's binaries, so
//! the binaries of `mailroom-smol` and `mailroom-std` are built here with the same
//! cargo, profile and target directory as the test itself, once per test process.
//! Usually that build is a no-op: `cargo nextest run --workspace` has built them.
//! `MAILROOM_BIN_DIR=DIR` skips the build and uses the binaries in DIR instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

static BIN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// The path of binary `name` (`mailroom` or `mailroom-lite`), built and up to date.
pub fn binary(name: &str) -> PathBuf {
    let p = BIN_DIR.get_or_init(build).join(name);
    assert!(
        p.is_file(),
        "{} does not exist after the build",
        p.display()
    );
    p
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn build() -> PathBuf {
    if let Some(d) = std::env::var_os("MAILROOM_BIN_DIR") {
        return PathBuf::from(d);
    }
    // The test executable is TARGET/PROFILE/deps/NAME-HASH.
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable sits in TARGET/PROFILE/deps")
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .expect("the profile directory sits in the target directory");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_string();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Cargo gives the test process the variables it gives a build script
    // (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, ...). Inherited by this build they would
    // differ from what the outer `cargo test` saw, and build scripts that watch them
    // (ring's) would run again, rebuilding ring, rustls and everything above them
    // on every test run.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let set_for_tests = k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || matches!(
                k.as_ref(),
                "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            );
        if set_for_tests {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "build",
            "--bins",
            "-p",
            "mailroom-smol",
            "-p",
            "mailroom-std",
        ]);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "building the server binaries failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    profile_dir
}
