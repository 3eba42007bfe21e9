//! The configuration model: `mailroom.toml` parsed into typed, validated values.
//!
//! Parsing text is pure, so it lives here; reading the file and the access and account
//! files is the runtime's job (`mailroom-std::datadir`). A [`Snapshot`] bundles
//! everything a session needs and is shared as an `Arc`, swapped whole on reload.

mod automail;
mod connection;
mod defense;
mod extensions;
mod inmail;
mod logs;
mod mailauth;
mod mailing;
mod model;
mod monitoring;
mod outbound;
mod parse;
mod routing;
mod signature;
mod validate;
mod web;

pub use automail::{AutoMail, DateOrder, Receipts};
pub use connection::*;
pub use defense::*;
pub use extensions::Extensions;
pub use inmail::*;
pub use logs::Logs;
pub use mailauth::*;
pub use mailing::*;
pub use model::*;
pub use monitoring::{MonitorMode, Monitoring};
pub use outbound::*;
pub use parse::{parse_config, toml_error, ConfigError};
pub use routing::*;
pub use signature::{SignatureConfig, MAX_SIGNATURE};
pub use validate::check_domain_name;
pub use web::Web;
mod snapshot;
pub use snapshot::Snapshot;
