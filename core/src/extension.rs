//! VPOP3 extensions' file formats (EXT-1, manual §23): what external programs read
//! and write. The runtime runs the programs (with a time limit); this module only
//! produces and parses their files, so a program's output is hostile input here.
//!
//! - The In/Out file of the Out Mail pre-processor and the SMTP client processor
//!   (§23.3.2): the `MAIL FROM` name in 100 NUL-padded bytes, `*RCPT TO: <a>` lines,
//!   an optional `*DSNINFO` line, `! DATA`, then the message (no dot-stuffing, no
//!   terminating dot).
//! - The external router's ROUTING.CTL (§23.2.3): `To: <recipient>` lines (`To: None`
//!   discards), an optional `Subject: <new subject>`; other lines are ignored.
//! - Its environment (§23.2.3.1): `REPLY-TO`, `ORIGINATOR`, `SUBJECT`, `RCPTn`,
//!   `RAWRCPTn`.

use crate::router::headers::{fields, header_end, unfold};

/// Size of the NUL-padded `MAIL FROM` field.
pub const FROM_FIELD: usize = 100;
/// Recipients read from an Out file at most.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest envelope line (a recipient) read from an Out file.
pub const MAX_ENVELOPE_LINE: usize = 1024;
/// ROUTING.CTL lines read at most (the rest is diagnostics).
pub const MAX_CTL_LINES: usize = 10_000;

/// A message with its envelope, as the In/Out file carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The `MAIL FROM` address; empty for the null sender.
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The `*DSNINFO` line's text, if any, kept as it is.
    pub dsn_info: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the file is shorter than the 100-byte MAIL FROM field")]
    Short,
    #[error("the MAIL FROM field is not text")]
    BadFrom,
    #[error("an envelope line is not `*RCPT TO:`, `*DSNINFO` or `! DATA`: {0:?}")]
    BadLine(String),
    #[error("no `! DATA` line")]
    NoData,
    #[error("no recipients")]
    NoRecipients,
    #[error("more than {MAX_RECIPIENTS} recipients")]
    TooManyRecipients,
}

/// The In file for `e`. A sender longer than 99 bytes is cut (the field keeps a NUL).
pub fn write_in_file(e: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(FROM_FIELD + e.data.len() + 64 * e.recipients.len());
    let from = clean(&e.mail_from);
    let from = &from.as_bytes()[..from.len().min(FROM_FIELD - 1)];
    out.extend_from_slice(from);
    out.resize(FROM_FIELD, 0);
    for r in &e.recipients {
        out.extend_from_slice(format!("*RCPT TO: <{}>\r\n", clean(r)).as_bytes());
    }
    if let Some(d) = &e.dsn_info {
        out.extend_from_slice(format!("*DSNINFO {}\r\n", clean(d)).as_bytes());
    }
    out.extend_from_slice(b"! DATA\r\n");
    out.extend_from_slice(&e.data);
    out
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Read an Out file a processor wrote.
pub fn read_out_file(bytes: &[u8]) -> Result<Envelope, FormatError> {
    let from = bytes.get(..FROM_FIELD).ok_or(FormatError::Short)?;
    let from = &from[..from.iter().position(|&b| b == 0).unwrap_or(FROM_FIELD)];
    let from = std::str::from_utf8(from).map_err(|_| FormatError::BadFrom)?;
    let mail_from = from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    if mail_from.chars().any(char::is_control) {
        return Err(FormatError::BadFrom);
    }
    let mut rest = &bytes[FROM_FIELD..];
    let mut recipients = Vec::new();
    let mut dsn_info = None;
    loop {
        let Some(nl) = memchr::memchr(b'\n', &rest[..rest.len().min(MAX_ENVELOPE_LINE)]) else {
            return Err(FormatError::NoData);
        };
        let raw = &rest[..nl];
        rest = &rest[nl + 1..];
        let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw));
        let line = line.trim();
        if line.eq_ignore_ascii_case("! DATA") {
            break;
        }
        if let Some(r) = strip_prefix_ci(line, "*RCPT TO:") {
            let r = r
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            if r.is_empty() || r.chars().any(|c| c.is_control() || c == ' ') {
                return Err(FormatError::BadLine(line.to_string()));
            }
            if recipients.len() == MAX_RECIPIENTS {
                return Err(FormatError::TooManyRecipients);
            }
            recipients.push(r.to_string());
        } else if let Some(d) = strip_prefix_ci(line, "*DSNINFO") {
            dsn_info = Some(d.trim().to_string());
        } else if !line.is_empty() {
            return Err(FormatError::BadLine(line.chars().take(80).collect()));
        }
    }
    if recipients.is_empty() {
        return Err(FormatError::NoRecipients);
    }
    Ok(Envelope {
        mail_from,
        recipients,
        dsn_info,
        data: rest.to_vec(),
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// What an external router said (ROUTING.CTL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterDecision {
    /// `To:` lines; empty = use the built-in routing.
    pub to: Vec<String>,
    /// `To: None`: discard the message.
    pub discard: bool,
    /// `Subject:`: the new subject.
    pub subject: Option<String>,
}

/// Read ROUTING.CTL; lines that are no command are ignored (diagnostics).
pub fn read_routing_ctl(text: &str) -> RouterDecision {
    let mut d = RouterDecision::default();
    for line in text.lines().take(MAX_CTL_LINES) {
        let line = line.trim();
        if let Some(to) = strip_prefix_ci(line, "To:") {
            let to = to
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            if to.eq_ignore_ascii_case("none") {
                d.discard = true;
            } else if !to.is_empty()
                && !to.chars().any(|c| c.is_control() || c == ' ')
                && d.to.len() < MAX_RECIPIENTS
            {
                d.to.push(to.to_string());
            }
        } else if let Some(s) = strip_prefix_ci(line, "Subject:") {
            d.subject = Some(s.trim().chars().filter(|c| !c.is_control()).collect());
        }
    }
    d
}

/// The external router's environment (§23.2.3.1) for a message whose local
/// recipients are `recipients` and whose header named `raw_recipients`.
pub fn router_env(
    data: &[u8],
    recipients: &[String],
    raw_recipients: &[String],
) -> Vec<(String, String)> {
    let end = header_end(data);
    let field = |name: &str| {
        fields(data, end)
            .into_iter()
            .find(|f| f.is(data, name))
            .map(|f| {
                unfold(&String::from_utf8_lossy(f.value(data)))
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    };
    let mut env = vec![
        ("REPLY-TO".to_string(), field("reply-to")),
        ("ORIGINATOR".to_string(), field("from")),
        ("SUBJECT".to_string(), field("subject")),
    ];
    for (i, r) in recipients.iter().enumerate() {
        env.push((format!("RCPT{}", i + 1), r.clone()));
    }
    for (i, r) in raw_recipients.iter().enumerate() {
        env.push((format!("RAWRCPT{}", i + 1), r.clone()));
    }
    for (_, v) in env.iter_mut() {
        v.retain(|c| !c.is_control());
    }
    env
}

/// `data` with its first `Subject:` replaced by `subject` (one is added if none).
pub fn set_subject(data: &[u8], subject: &str) -> Vec<u8> {
    let end = header_end(data);
    let new = format!("Subject: {}\r\n", clean(subject));
    let mut out = Vec::with_capacity(data.len() + new.len());
    match fields(data, end)
        .into_iter()
        .find(|f| f.is(data, "subject"))
    {
        Some(f) => {
            out.extend_from_slice(&data[..f.start]);
            out.extend_from_slice(new.as_bytes());
            out.extend_from_slice(&data[f.end..]);
        }
        None => {
            out.extend_from_slice(new.as_bytes());
            out.extend_from_slice(data);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            mail_from: "alice@example.com".into(),
            recipients: vec!["bob@far.test".into(), "carol@far.test".into()],
            dsn_info: None,
            data: b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n".to_vec(),
        }
    }

    #[test]
    fn the_manuals_in_file_layout() {
        let f = write_in_file(&sample());
        assert_eq!(&f[..17], b"alice@example.com");
        assert!(f[17..FROM_FIELD].iter().all(|&b| b == 0));
        assert_eq!(
            &f[FROM_FIELD..],
            b"*RCPT TO: <bob@far.test>\r\n*RCPT TO: <carol@far.test>\r\n! DATA\r\n\
              Subject: hi\r\n\r\n.leading dot\r\nbody\r\n"
                .as_slice()
        );
        // Read back unchanged: no dot-stuffing, no terminating dot.
        assert_eq!(read_out_file(&f), Ok(sample()));
        let with_dsn = Envelope {
            dsn_info: Some("RET=HDRS ENVID=x".into()),
            ..sample()
        };
        assert_eq!(read_out_file(&write_in_file(&with_dsn)), Ok(with_dsn));
    }

    #[test]
    fn bad_out_files_are_errors() {
        assert_eq!(read_out_file(b"short"), Err(FormatError::Short));
        let mut f = vec![0u8; FROM_FIELD];
        f.extend_from_slice(b"*RCPT TO: <a@b>\r\n");
        assert_eq!(read_out_file(&f), Err(FormatError::NoData));
        let mut g = vec![0u8; FROM_FIELD];
        g.extend_from_slice(b"! DATA\r\nx");
        assert_eq!(read_out_file(&g), Err(FormatError::NoRecipients));
        let mut h = vec![0u8; FROM_FIELD];
        h.extend_from_slice(b"HELO x\r\n! DATA\r\n");
        assert!(matches!(read_out_file(&h), Err(FormatError::BadLine(_))));
        let mut i = vec![0u8; FROM_FIELD];
        i.extend(std::iter::repeat_n(b'x', 10_000));
        assert_eq!(read_out_file(&i), Err(FormatError::NoData));
        let mut long = vec![b'a'; 500];
        long.extend_from_slice(b"\r\n");
        let e = Envelope {
            mail_from: "a".repeat(500),
            ..sample()
        };
        assert_eq!(write_in_file(&e)[FROM_FIELD - 1], 0);
    }

    #[test]
    fn routing_ctl_commands() {
        let d = read_routing_ctl(
            "checking...\nTo: <sales@example.com>\nto: bob\nSubject: [routed] hi\nnoise\n",
        );
        assert_eq!(d.to, vec!["sales@example.com", "bob"]);
        assert_eq!(d.subject.as_deref(), Some("[routed] hi"));
        assert!(!d.discard);
        assert!(read_routing_ctl("To: None\n").discard);
        assert_eq!(
            read_routing_ctl("diagnostics only\n"),
            RouterDecision::default()
        );
    }

    #[test]
    fn router_environment() {
        let data =
            b"From: Fred <fred@far.test>\r\nReply-To: r@far.test\r\nSubject: a\r\n b\r\n\r\nbody";
        let env = router_env(
            data,
            &["alice".into(), "bob".into()],
            &["info@example.com".into()],
        );
        assert_eq!(
            env,
            [
                ("REPLY-TO", "r@far.test"),
                ("ORIGINATOR", "Fred <fred@far.test>"),
                ("SUBJECT", "a b"),
                ("RCPT1", "alice"),
                ("RCPT2", "bob"),
                ("RAWRCPT1", "info@example.com"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(
            set_subject(data, "new"),
            b"From: Fred <fred@far.test>\r\nReply-To: r@far.test\r\nSubject: new\r\n\r\nbody"
                .to_vec()
        );
    }
}
