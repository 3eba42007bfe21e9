//! The external autoresponder (§4.2.3.2.2): what the program is given (environment
//! variables) and what its output means (STDERR control lines, STDOUT the reply). The
//! runtime runs it with the message on stdin, within the time limit.

use super::{field_address, header, plain_address, Answer, Incoming, Mailbox};
use crate::servermail::ServerMail;

/// Most output read from the program, each of STDOUT and STDERR.
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// The environment variables of §4.2.3.2.2.2 (MAILBOXDIR is the runtime's).
pub fn environment(inc: &Incoming<'_>, mb: &Mailbox<'_>) -> Vec<(&'static str, String)> {
    let from = field_address(inc.message, "From").unwrap_or_default();
    let reply_to = field_address(inc.message, "Reply-To").unwrap_or_else(|| from.clone());
    vec![
        ("REPLY-TO", reply_to),
        ("ORIGINATOR", from),
        ("MAILBOX", mb.name.to_string()),
        (
            "SUBJECT",
            header(inc.message, "Subject").unwrap_or_default(),
        ),
    ]
}

/// The STDERR control lines (§4.2.3.2.2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    pub to: Vec<String>,
    /// `To: None`: no recipients at all, for good.
    pub none: bool,
    /// `From:`: the envelope sender.
    pub from: Option<String>,
    /// `Keep: 0/1`, the last one.
    pub keep: Option<bool>,
}

pub fn parse_control(stderr: &[u8]) -> Control {
    let mut c = Control::default();
    let text = String::from_utf8_lossy(&stderr[..stderr.len().min(MAX_OUTPUT)]);
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "to" if value.eq_ignore_ascii_case("none") => c.none = true,
            "to" => {
                if let Some(a) = plain_address(value) {
                    if c.to.len() < 100 {
                        c.to.push(a);
                    }
                }
            }
            "from" => c.from = plain_address(value),
            "keep" => match value {
                "0" => c.keep = Some(false),
                "1" => c.keep = Some(true),
                _ => {}
            },
            _ => {}
        }
    }
    c
}

/// The answer the program gave: its STDOUT is the reply (the program writes the
/// header), sent to the `To:` control lines or else the Reply-To (or From) address
/// of the message, as the manual says. An `Auto-Submitted: auto-replied` field is
/// added when the program wrote none, so a program cannot start a loop.
pub fn answer(inc: &Incoming<'_>, mb: &Mailbox<'_>, stdout: &[u8], stderr: &[u8]) -> Answer {
    let c = parse_control(stderr);
    let keep = c.keep.unwrap_or(mb.settings.keep);
    let out = &stdout[..stdout.len().min(MAX_OUTPUT)];
    let to = if c.none {
        Vec::new()
    } else if c.to.is_empty() {
        field_address(inc.message, "Reply-To")
            .or_else(|| field_address(inc.message, "From"))
            .into_iter()
            .collect()
    } else {
        c.to
    };
    let reply = (!to.is_empty() && !out.iter().all(u8::is_ascii_whitespace)).then(|| {
        let mut data = Vec::with_capacity(out.len() + 40);
        if !crate::servermail::is_auto_submitted(out) {
            data.extend_from_slice(b"Auto-Submitted: auto-replied\r\n");
        }
        // The program's own line ends, made CRLF.
        for line in out.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
        while data.ends_with(b"\r\n\r\n") {
            data.truncate(data.len() - 2);
        }
        ServerMail {
            sender: c.from.clone(),
            to,
            data,
        }
    });
    Answer {
        reply,
        copy: None,
        keep,
        remember: None,
        silence: None,
    }
}
