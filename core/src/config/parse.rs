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
    let mut config: Config = toml::from_str(text).map_err(|e| vec![toml_error(text, &e)])?;
    super::validate::routing::locate(text, &mut config);
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

/// Turn a toml/serde error for `text` into one plain message on the right line. Also
/// used for the other TOML files of the data directory (account files).
pub fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    let table = table_at(text, line);
    let mut message = rephrase(e.message(), &table);
    // Type and value errors point at the value; name the key they belong to.
    if !message.starts_with("unknown key") && !message.starts_with("missing key") {
        if let Some(key) = key_on_line(text, line) {
            let place = if table.is_empty() {
                String::new()
            } else {
                format!(" in [{table}]")
            };
            message = format!("`{key}`{place}: {message}");
        }
    }
    ConfigError { line, message }
}

/// The bare key assigned on a line (`key = value`), if any.
fn key_on_line(text: &str, line: usize) -> Option<&str> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = l.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    bare.then_some(key)
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
    // toml's syntax errors span lines ("invalid table header\nexpected `.`, `]`").
    let joined = msg
        .trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ");
    let msg = joined.as_str();
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
    // Rust type names mean nothing to someone editing a config file.
    msg.replace(
        "expected u32",
        "expected a whole number from 0 to 4294967295",
    )
    .replace("expected u64", "expected a whole number of 0 or more")
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
