//! `mailroom`: the production daemon and admin CLI on the smol runtime.

use std::process::ExitCode;

use mailroom_std::cli::{self, Runtime};

fn main() -> ExitCode {
    cli::main(Runtime {
        name: "mailroom",
        serve: mailroom_smol::serve,
    })
}
