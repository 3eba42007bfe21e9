//! Address mappings (§5) as rows: the CSV of `mailroom mapping import` / `export`
//! (§5.6, §5.7), and adding them to `mailroom.toml` as `[[mapping]]` tables. The CLI
//! and the web admin share both.

use mailroom_core::config::{Mapping, MappingMode};
use toml_edit::{value, DocumentMut, Table};

use crate::config::edit::{array_of_tables, EditError};

/// Append `rows` as `[[mapping]]` tables (after the existing ones: order matters).
pub fn push_rows(doc: &mut DocumentMut, rows: &[MappingRow]) -> Result<(), EditError> {
    let list = array_of_tables(doc, "mapping")?;
    for row in rows {
        let mut t = Table::new();
        t.insert("address", value(row.address.as_str()));
        t.insert("target", value(row.target.as_str()));
        if row.mode != MappingMode::Always {
            t.insert("mode", value(row.mode.as_str()));
        }
        if let Some(i) = &row.inmail {
            t.insert("inmail", value(i.as_str()));
        }
        list.push(t);
    }
    Ok(())
}

/// The mappings as CSV, one per line; with `modes`, the mode and In Mail columns too.
pub fn export_csv(mappings: &[Mapping], modes: bool) -> String {
    let mut out = String::new();
    for m in mappings {
        out.push_str(&format!(
            "{},{}",
            csv_field(&m.address),
            csv_field(&m.target)
        ));
        if modes {
            out.push_str(&format!(
                ",{},{}",
                csv_field(m.mode.as_str()),
                csv_field(m.inmail.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("\r\n");
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub address: String,
    pub target: String,
    pub mode: MappingMode,
    pub inmail: Option<String>,
}

/// Parse mapping CSV: two fields (address, target), optionally mode and In Mail. Blank
/// lines, `#` comments and a heading line are skipped.
pub fn parse_mapping_csv(text: &str) -> Result<Vec<MappingRow>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = csv_split(trimmed).map_err(|e| format!("line {n}: {e}"))?;
        if rows.is_empty()
            && fields.first().is_some_and(|f| {
                [
                    "address",
                    "email address",
                    "email addr",
                    "external email address",
                ]
                .iter()
                .any(|h| f.eq_ignore_ascii_case(h))
            })
        {
            continue;
        }
        let get = |k: usize| fields.get(k).map(|s| s.trim()).unwrap_or("");
        if fields.len() < 2 || get(0).is_empty() || get(1).is_empty() {
            return Err(format!(
                "line {n}: expected two fields, the address and the target mailbox"
            ));
        }
        let mode = match get(2).to_ascii_lowercase().as_str() {
            "" | "always" => MappingMode::Always,
            "pop3" => MappingMode::Pop3,
            "smtp" => MappingMode::Smtp,
            "sender" => MappingMode::Sender,
            other => {
                return Err(format!(
                    "line {n}: unknown mode {other:?}; use always, pop3, smtp or sender"
                ))
            }
        };
        rows.push(MappingRow {
            address: get(0).to_string(),
            target: get(1).to_string(),
            mode,
            inmail: Some(get(3).to_string()).filter(|s| !s.is_empty()),
        });
    }
    Ok(rows)
}

/// Split one CSV line (RFC 4180 quoting; `""` inside quotes is a quote).
pub(crate) fn csv_split(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() && !was_quoted => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(cur);
    Ok(fields)
}

pub fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows() {
        let rows = parse_mapping_csv(
            "\"Email Address\",\"Mailbox\"\n\"sales@example.com\",\"fred\"\n\n# note\nsupport, \"bob\" ,smtp\n\"a,\"\"b\"\"@x\",c,pop3,isp\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].address, "sales@example.com");
        assert_eq!(rows[1].target, "bob");
        assert_eq!(rows[1].mode, MappingMode::Smtp);
        assert_eq!(rows[2].address, "a,\"b\"@x");
        assert_eq!(rows[2].inmail.as_deref(), Some("isp"));
        assert!(parse_mapping_csv("onlyone\n").is_err());
        assert!(parse_mapping_csv("a,b,never\n").is_err());
        assert!(parse_mapping_csv("\"open,b\n").is_err());
    }
}
