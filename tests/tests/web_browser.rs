//! The web admin in headless Chromium through both binaries (issue 13): log in, add a
//! user, add a mapping, press Connect Now, add a schedule, view the queue, no console errors
//! (tests/python/web_admin_browser.py, Selenium with Debian's chromium-driver).
//!
//! The screenshots of the status and users pages go to the scratch directory, and to
//! docs/ (`web-status.png`, `web-users.png`) when `MAILROOM_WEB_SCREENSHOTS=1` is set:
//! `MAILROOM_WEB_SCREENSHOTS=1 cargo nextest run -p mailroom-tests --test web_browser`.
#![allow(clippy::disallowed_methods)]

use mailroom_tests::server::POSTMASTER_PASSWORD;
use mailroom_tests::web::{keep_screenshots, python_with_selenium, run_browser_script};
use mailroom_tests::{both_binaries, Flavor, TestServer};
use std::path::Path;
use std::process::Command;

fn browser(flavor: Flavor) {
    let Some(python) = python_with_selenium() else {
        return;
    };
    let mut s = TestServer::setup(flavor);
    let http = s.add_listener("http");
    s.add_config(
        "\n[[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"true\"\ndown = \"true\"\n",
    );
    s.serve();
    let shots = s.data.parent().expect("scratch").join("shots");
    std::fs::create_dir_all(&shots).expect("a screenshot folder");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/web_admin_browser.py");
    let mut script_run = Command::new(&python);
    script_run
        .arg(&script)
        .arg(format!("http://{http}"))
        .args(["--user", "postmaster", "--password", POSTMASTER_PASSWORD])
        .args(["--connection", "isp", "--screenshots"])
        .arg(&shots);
    run_browser_script(&s, script_run);
    keep_screenshots(flavor, &shots, &["web-status.png", "web-users.png"]);
}

both_binaries!(
    #[cfg_attr(not(have_chromium), ignore = "chromium is not installed")]
    #[cfg_attr(not(have_chromedriver), ignore = "chromedriver is not installed")]
    browser
);
