//! The command line of the load generators and the probe: what they share in reading
//! their options and in refusing bad ones.

use std::net::SocketAddr;
use std::process::ExitCode;

/// The parsed options, or, once the reason is printed, exit status 2 (a usage error).
pub fn or_usage_exit<T>(parsed: Result<T, String>) -> Result<T, ExitCode> {
    parsed.map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// What to say for `--help` or a flag nobody knows.
pub fn usage_error(flag: &str, usage: &str) -> String {
    match flag {
        "--help" | "-h" => usage.into(),
        other => format!("unknown argument {other}\n{usage}"),
    }
}

/// The load generators only ever load a server on this machine.
pub fn loopback_only(server: SocketAddr) -> Result<(), String> {
    if server.ip().is_loopback() {
        Ok(())
    } else {
        Err("--server must be a loopback address".into())
    }
}
