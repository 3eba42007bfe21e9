//! `mailroom`: the production daemon and admin CLI on the smol runtime.

use std::process::ExitCode;

use mailroom_std::cli::{self, Runtime};
use mailroom_std::datadir::DataDir;

// Placeholder until the smol server lands (helper C switches this to
// `mailroom_smol::serve`).
fn serve(_dd: &DataDir) -> Result<(), Box<dyn std::error::Error>> {
    Err("the server is not built yet in this version".into())
}

fn main() -> ExitCode {
    cli::main(Runtime {
        name: "mailroom",
        serve,
    })
}
