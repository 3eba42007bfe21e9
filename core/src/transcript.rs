//! What a protocol transcript (SMTPSVR.LOG and the others, LOG-1, §15.3.2) may show
//! of a conversation: its lines, with passwords and AUTH data replaced by a note
//! that they were sent, and message contents replaced by a note of their size.
//!
//! One [`Transcript`] per connection is fed every byte each side sends, in the order
//! they pass, split anywhere; it returns the lines to log. It understands the text
//! protocols Mailroom speaks (SMTP, POP3, IMAP) from both ends, so the same rules hide
//! a client's password whether Mailroom is the server or the client:
//!
//! - a login command's secret part: `AUTH` (SMTP, POP3), `PASS`, `APOP`, IMAP
//!   `LOGIN` and `AUTHENTICATE`;
//! - whatever the client sends after a continuation prompt (`334` in SMTP, `+` in
//!   POP3 and IMAP: SASL responses and literals) or after a login command, until the
//!   server speaks again;
//! - message data after `354` and `BDAT`, until the server answers.

/// Longest line logged; the rest is cut and marked.
pub const MAX_LINE: usize = 512;
/// Most lines logged from one piece of input; the rest are counted.
pub const MAX_LINES_PER_FEED: usize = 40;

/// Who sent the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Why the client's bytes are hidden until the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hidden {
    Secret,
    Message,
}

#[derive(Debug, Default)]
struct Partial {
    bytes: Vec<u8>,
    cut: bool,
}

/// One connection's transcript filter.
#[derive(Debug, Default)]
pub struct Transcript {
    client: Partial,
    server: Partial,
    hidden: Option<Hidden>,
    /// Bytes hidden since the note was written.
    hidden_bytes: u64,
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// `bytes` sent by `side`: the lines to log are appended to `out`.
    pub fn feed(&mut self, side: Side, bytes: &[u8], out: &mut Vec<(Side, String)>) {
        let mut logged = 0usize;
        let mut skipped = 0usize;
        let mut rest = bytes;
        while !rest.is_empty() {
            let (chunk, ended) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[chunk.len()..];
            if side == Side::Client && self.hidden.is_some() {
                // Counted, never kept: the secret is not even buffered.
                self.hidden_bytes += chunk.len() as u64;
                continue;
            }
            let partial = match side {
                Side::Client => &mut self.client,
                Side::Server => &mut self.server,
            };
            let room = MAX_LINE.saturating_sub(partial.bytes.len());
            partial
                .bytes
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            partial.cut |= chunk.len() > room;
            if !ended {
                continue;
            }
            let line = std::mem::take(&mut partial.bytes);
            let cut = std::mem::take(&mut partial.cut);
            let text = match side {
                Side::Client => self.client_line(&line),
                Side::Server => self.server_line(&line, out),
            };
            if logged < MAX_LINES_PER_FEED {
                let mut text = text;
                if cut {
                    text.push_str(" [...]");
                }
                out.push((side, text));
                logged += 1;
            } else {
                skipped += 1;
            }
        }
        if skipped > 0 {
            out.push((side, format!("[{skipped} more lines]")));
        }
    }

    fn client_line(&mut self, line: &[u8]) -> String {
        let text = printable(line);
        let mut words = text.split(' ');
        let first = words.next().unwrap_or("").to_ascii_uppercase();
        let second = words.next().unwrap_or("");
        let (shown, hide) = match first.as_str() {
            "AUTH" => (
                format!("AUTH {second} [secret not logged]"),
                Some(Hidden::Secret),
            ),
            "PASS" => ("PASS [secret not logged]".to_string(), Some(Hidden::Secret)),
            "APOP" => (
                format!("APOP {second} [secret not logged]"),
                Some(Hidden::Secret),
            ),
            "BDAT" => (text.clone(), Some(Hidden::Message)),
            _ => match second.to_ascii_uppercase().as_str() {
                // IMAP: `tag LOGIN ...`, `tag AUTHENTICATE mech [initial response]`.
                "LOGIN" => (
                    format!("{} LOGIN [secret not logged]", words_0(&text)),
                    Some(Hidden::Secret),
                ),
                "AUTHENTICATE" => (
                    format!(
                        "{} AUTHENTICATE {} [secret not logged]",
                        words_0(&text),
                        text.split(' ').nth(2).unwrap_or("")
                    ),
                    Some(Hidden::Secret),
                ),
                _ => (text.clone(), None),
            },
        };
        if hide.is_some() {
            self.hidden = hide;
            self.hidden_bytes = 0;
        }
        shown
    }

    fn server_line(&mut self, line: &[u8], out: &mut Vec<(Side, String)>) -> String {
        if let Some(h) = self.hidden.take() {
            if self.hidden_bytes > 0 {
                let what = match h {
                    Hidden::Secret => "secret",
                    Hidden::Message => "message data",
                };
                out.push((
                    Side::Client,
                    format!("[{} octets of {what} not logged]", self.hidden_bytes),
                ));
            }
            self.hidden_bytes = 0;
            self.client = Partial::default();
        }
        let trimmed = trim_eol(line);
        if trimmed.starts_with(b"334") || trimmed == b"+" || trimmed.starts_with(b"+ ") {
            self.hidden = Some(Hidden::Secret);
        } else if trimmed.starts_with(b"354") {
            self.hidden = Some(Hidden::Message);
        }
        printable(line)
    }
}

fn words_0(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The line as text without its line end; control characters as `\xNN`.
fn printable(line: &[u8]) -> String {
    let mut s = String::with_capacity(line.len());
    for c in String::from_utf8_lossy(trim_eol(line)).chars() {
        if c.is_control() {
            s.push_str(&format!("\\x{:02x}", u32::from(c) & 0xff));
        } else {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Side::{Client as C, Server as S};

    fn run(steps: &[(Side, &str)]) -> Vec<String> {
        let mut t = Transcript::new();
        let mut out = Vec::new();
        for (side, bytes) in steps {
            t.feed(*side, bytes.as_bytes(), &mut out);
        }
        out.into_iter()
            .map(|(side, l)| format!("{}{l}", if side == C { "C: " } else { "S: " }))
            .collect()
    }

    #[test]
    fn smtp_auth_plain_and_message_data_are_not_logged() {
        let got = run(&[
            (S, "220 mail.example.com ESMTP\r\n"),
            (C, "EHLO client\r\n"),
            (S, "250-mail\r\n250 AUTH PLAIN LOGIN\r\n"),
            (C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
            (S, "235 2.7.0 ok\r\n"),
            (C, "MAIL FROM:<a@b>\r\n"),
            (S, "250 ok\r\n"),
            (C, "DATA\r\n"),
            (S, "354 go ahead\r\n"),
            (C, "Subject: hello\r\n\r\nbody\r\n.\r\n"),
            (S, "250 queued\r\n"),
        ]);
        assert_eq!(
            got,
            [
                "S: 220 mail.example.com ESMTP",
                "C: EHLO client",
                "S: 250-mail",
                "S: 250 AUTH PLAIN LOGIN",
                "C: AUTH PLAIN [secret not logged]",
                "S: 235 2.7.0 ok",
                "C: MAIL FROM:<a@b>",
                "S: 250 ok",
                "C: DATA",
                "S: 354 go ahead",
                "C: [27 octets of message data not logged]",
                "S: 250 queued",
            ]
        );
        assert!(!got.concat().contains("AGFsaWNl"));
    }

    #[test]
    fn smtp_auth_login_challenges() {
        let got = run(&[
            (C, "AUTH LOGIN\r\n"),
            (S, "334 VXNlcm5hbWU6\r\n"),
            (C, "YWxpY2U=\r\n"),
            (S, "334 UGFzc3dvcmQ6\r\n"),
            (C, "c2VjcmV0\r\n"),
            (S, "235 ok\r\n"),
        ]);
        assert_eq!(
            got,
            [
                "C: AUTH LOGIN [secret not logged]",
                "S: 334 VXNlcm5hbWU6",
                "C: [10 octets of secret not logged]",
                "S: 334 UGFzc3dvcmQ6",
                "C: [10 octets of secret not logged]",
                "S: 235 ok",
            ]
        );
    }

    #[test]
    fn pop3_and_imap_logins() {
        let got = run(&[
            (C, "USER alice\r\n"),
            (S, "+OK\r\n"),
            (C, "pass hunter2\r\n"),
            (S, "+OK logged in\r\n"),
            (C, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"),
            (S, "-ERR\r\n"),
        ]);
        assert_eq!(
            got,
            [
                "C: USER alice",
                "S: +OK",
                "C: PASS [secret not logged]",
                "S: +OK logged in",
                "C: APOP alice [secret not logged]",
                "S: -ERR",
            ]
        );
        let got = run(&[
            (C, "a1 LOGIN alice hunter2\r\n"),
            (S, "a1 OK\r\n"),
            (C, "a2 login {5}\r\n"),
            (S, "+ go\r\n"),
            (C, "alice {7}\r\n"),
            (S, "+ go\r\n"),
            (C, "hunter2\r\n"),
            (S, "a2 NO\r\n"),
            (C, "a3 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"),
            (S, "a3 OK\r\n"),
        ]);
        assert_eq!(
            got,
            [
                "C: a1 LOGIN [secret not logged]",
                "S: a1 OK",
                "C: a2 LOGIN [secret not logged]",
                "S: + go",
                "C: [11 octets of secret not logged]",
                "S: + go",
                "C: [9 octets of secret not logged]",
                "S: a2 NO",
                "C: a3 AUTHENTICATE PLAIN [secret not logged]",
                "S: a3 OK",
            ]
        );
        assert!(!got.concat().contains("hunter2"));
    }

    #[test]
    fn any_split_gives_the_same_lines() {
        let steps: [(Side, &str); 4] = [
            (C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
            (S, "235 ok\r\n"),
            (C, "NOOP\r\n"),
            (S, "250 ok\r\n"),
        ];
        let whole = run(&steps);
        let mut t = Transcript::new();
        let mut out = Vec::new();
        for (side, bytes) in steps {
            for b in bytes.as_bytes() {
                t.feed(side, std::slice::from_ref(b), &mut out);
            }
        }
        let bytewise: Vec<String> = out
            .into_iter()
            .map(|(side, l)| format!("{}{l}", if side == C { "C: " } else { "S: " }))
            .collect();
        assert_eq!(whole, bytewise);
    }

    #[test]
    fn long_lines_controls_and_floods_are_bounded() {
        let long = format!("{}\r\n", "x".repeat(10_000));
        let got = run(&[(S, &long)]);
        assert_eq!(got.len(), 1);
        assert!(got[0].ends_with(" [...]"));
        assert!(got[0].len() < MAX_LINE + 20);
        assert_eq!(run(&[(S, "a\x1b[31mb\r\n")]), ["S: a\\x1b[31mb"]);
        let flood = "+OK line\r\n".repeat(100);
        let got = run(&[(S, &flood)]);
        assert_eq!(got.len(), MAX_LINES_PER_FEED + 1);
        assert_eq!(got.last().unwrap(), "S: [60 more lines]");
    }
}
