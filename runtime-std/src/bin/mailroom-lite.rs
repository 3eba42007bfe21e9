//! `mailroom-lite`: the Mailroom CLI on the blocking thread-per-connection runtime.

use std::process::ExitCode;

use mailroom_std::cli::{self, Runtime};
use mailroom_std::datadir::DataDir;

// Placeholder until the blocking server lands (helper C switches this to
// `mailroom_std::server::serve`).
fn serve(_dd: &DataDir) -> Result<(), Box<dyn std::error::Error>> {
    Err("the server is not built yet in this version".into())
}

fn main() -> ExitCode {
    cli::main(Runtime {
        name: "mailroom-lite",
        serve,
    })
}
