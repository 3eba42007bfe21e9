//! `mailroom-lite`: the Mailroom CLI on the blocking thread-per-connection runtime.

use std::process::ExitCode;

use mailroom_std::cli::{self, Runtime};

fn main() -> ExitCode {
    cli::main(Runtime {
        name: "mailroom-lite",
        serve: mailroom_std::daemon::threads::serve,
    })
}
