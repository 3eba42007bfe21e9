//! `mailroom.toml` text → [`Config`], with line-numbered errors.

use super::Config;

/// A problem in a configuration text, located by 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ConfigError {
    pub line: usize,
    pub message: String,
}

/// Parse and validate a `mailroom.toml` text.
pub fn parse_config(text: &str) -> Result<Config, Vec<ConfigError>> {
    todo!("config parsing: {}", text.len())
}
