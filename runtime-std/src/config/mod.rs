//! Configuration and accounts on disk: loading and checking `mailroom.toml` and the
//! account files, routing checks, users, and the lock-out table with its security log.

pub mod dkimkeys;
pub mod edit;
pub mod files;
pub mod mappings;
pub mod problem;
pub mod routecheck;
pub mod security;
pub mod user_csv;
pub mod users;
