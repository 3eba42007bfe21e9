//! Finds the external tools the end-to-end tests drive, so that a test whose tool is
//! missing is compiled as ignored and shows as skipped in the test count instead of
//! passing without running. Sets `have_<tool>` (dashes become underscores) for each
//! tool found on PATH, and `as_root` when the build runs as root (the private Postfix
//! relay needs it). `MAILROOM_TESTS_MISSING` lists the missing tools for the test
//! that fails under CI, where `.ci/run` installs every one of them.

use std::env;
use std::path::PathBuf;

/// Every program a test in this package runs, by the name it has on PATH.
const TOOLS: &[&str] = &[
    "swaks",
    "smtp-sink",
    "postfix",
    "saslpasswd2",
    "fetchmail",
    "curl",
    "dovecot",
    "python3",
    "imaptest",
    "mbsync",
    // dkimpy's verifier (Debian python3-dkim): checks our DKIM signatures.
    "dkimverify",
    // The web admin's browser test (Debian chromium and chromium-driver).
    "chromium",
    "chromedriver",
    // OpenLDAP's client (Debian ldap-utils): searches the LDAP address book.
    "ldapsearch",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rustc-check-cfg=cfg(as_root)");
    let dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut missing = Vec::new();
    for tool in TOOLS {
        let cfg = format!("have_{}", tool.replace('-', "_"));
        println!("cargo:rustc-check-cfg=cfg({cfg})");
        match dirs.iter().map(|d| d.join(tool)).find(|p| p.is_file()) {
            Some(path) => {
                // Uninstalling the tool changes this file, and the tests rebuild.
                println!("cargo:rerun-if-changed={}", path.display());
                println!("cargo:rustc-cfg={cfg}");
            }
            None => missing.push(*tool),
        }
    }
    if !missing.is_empty() {
        // A missing file would make cargo rerun this script on every build; the PATH
        // folders change instead when a tool is installed into one of them.
        for d in dirs.iter().filter(|d| d.is_dir()) {
            println!("cargo:rerun-if-changed={}", d.display());
        }
    }
    println!(
        "cargo:rustc-env=MAILROOM_TESTS_MISSING={}",
        missing.join(" ")
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        println!("cargo:rustc-cfg=as_root");
    }
}
