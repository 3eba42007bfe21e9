//! `mailroom.toml` text → [`Config`], with line-numbered errors.
//!
//! Two passes: serde (with `deny_unknown_fields`) turns the text into typed values and
//! stops at the first unknown key or wrong type; then [`validate`](super::validate)
//! checks the values and reports every problem at once. Both locate problems by line
//! so `mailroom check` can print `file:line: message`.

use super::validate::validate;
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
    let config: Config = toml::from_str(text).map_err(|e| vec![from_toml_error(text, &e)])?;
    let errors = validate(text, &config);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Turn a toml/serde error into one plain message on the right line.
pub(crate) fn from_toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    let message = rephrase(e.message(), &table_at(text, line));
    ConfigError { line, message }
}

/// Name of the table a line sits in, as written in its header (`""` = top level).
fn table_at(text: &str, line: usize) -> String {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix('[')?;
            let end = inner.find(']')?;
            Some(inner[..end].trim_matches(['[', ']', ' ']).to_string())
        })
        .last()
        .unwrap_or_default()
}

/// serde speaks of "fields" and quotes each name; a person editing TOML thinks of keys.
fn rephrase(msg: &str, table: &str) -> String {
    let msg = msg.trim();
    let place = if table.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in [{table}]")
    };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let (key, expected) = match rest.split_once(", expected ") {
            Some((k, e)) => (k, Some(e)),
            None => (rest, None),
        };
        return match expected {
            Some(e) => format!("unknown key {key} {place}; expected {}", e.replace('`', "")),
            None => format!("unknown key {key} {place}"),
        };
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return format!("missing key {rest} {place} (it is required)");
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        return format!(
            "unknown value {}",
            rest.replace(", expected ", "; expected ")
        );
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines_before_offset() {
        let t = "a\nb\nc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 4), 3);
        assert_eq!(line_of(t, 99), 3);
    }

    #[test]
    fn table_at_finds_the_last_header_above() {
        let t = "a = 1\n[services]\nx = 1\n[[list]]\ny = 2\n";
        assert_eq!(table_at(t, 1), "");
        assert_eq!(table_at(t, 3), "services");
        assert_eq!(table_at(t, 5), "list");
    }
}
