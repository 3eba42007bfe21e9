//! Editing `mailroom.toml` for the CLI: the editing itself is `crate::config::edit`
//! (shared with the web admin); here is how the CLI reports its outcome.

use std::process::ExitCode;

pub use crate::config::edit::*;
use crate::config::problem::Problem;

impl EditError {
    pub(super) fn exit(self) -> ExitCode {
        match self {
            EditError::Io(e) => fail(e),
            EditError::Problems(p) => {
                for x in &p {
                    eprintln!("{x}");
                }
                eprintln!(
                    "The configuration was not changed: the result would have the problems above."
                );
                ExitCode::FAILURE
            }
        }
    }
}

pub(super) fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

pub(super) fn report(problems: &[Problem]) -> ExitCode {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!("Fix the configuration first (`mailroom check` lists the problems).");
    ExitCode::FAILURE
}
