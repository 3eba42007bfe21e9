//! Helpers shared by the integration tests in `tests/tests/`.
#![allow(clippy::disallowed_methods)]
