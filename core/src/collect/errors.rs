//! The error mails POP3 collection sends to the Main Administrator (§21.4).
//!
//! Subjects and texts are the manual's, word for word, except the product name:
//! where the manual says "VPOP3" these say "Mailroom" (the mails come from Mailroom,
//! and naming another product would mislead). Everything after the name is unchanged,
//! so an administrator searching the manual for "POP3 Client connection problem" or
//! "The server connection was closed unexpectedly", or filtering on it, finds these.
//! `XXXX` is the In Mail's name and `YY` its server (`host:port`).

use crate::dsn::{build_text, MailHead, TextMail};
use crate::pop3::client::mask_command;
use crate::time::Instant;

/// The product name in the §21.4 texts (the manual's "VPOP3").
pub const PRODUCT: &str = "Mailroom";

/// §21.4: trouble connecting to the ISP's POP3 server.
pub const SUBJECT_CONNECT: &str = "Mailroom - POP3 Client connection problem";
/// §21.4: trouble while talking to the ISP's POP3 server.
pub const SUBJECT_PROBLEM: &str = "Mailroom - POP3 Client Problem";

/// Longest server reply or detail quoted in a mail.
const MAX_QUOTED: usize = 1000;

/// What went wrong with one In Mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No session could be started (DNS, refused, timeout, TLS, a bad greeting).
    /// `detail` is the specific error.
    Connect { detail: String },
    /// The server closed the connection when it should not have.
    Closed { detail: String },
    /// The server answered `-ERR` (or nonsense) to a command.
    ErrorReply {
        received: String,
        last_command: String,
    },
    /// Leave-on-server is set but the server has neither UIDL nor TOP (§6.3.2).
    NoUidlOrTop,
    /// Messages over the size limit stay on the server because mail is not left on
    /// the server and download rules are off (§6.3.2).
    OverLimit { count: usize, limit: u64 },
}

/// An error mail before it is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminMail {
    pub subject: String,
    pub text: String,
}

impl AdminMail {
    /// The finished message from `Mailer_Daemon@<default domain>` to `to`.
    pub fn render(
        &self,
        hostname: &str,
        default_domain: &str,
        to: &str,
        date: Instant,
        id: &str,
    ) -> Vec<u8> {
        build_text(&TextMail {
            head: MailHead {
                hostname,
                default_domain,
                to,
                date,
                id,
            },
            subject: &self.subject,
            text: &self.text,
        })
    }
}

/// The §21.4 mail for `problem` with In Mail `inmail` (server `server`).
pub fn admin_mail(inmail: &str, server: &str, problem: &Problem) -> AdminMail {
    let who = format!("{} ({})", clip(inmail), clip(server));
    match problem {
        Problem::Connect { detail } => AdminMail {
            subject: SUBJECT_CONNECT.into(),
            text: format!(
                "Pop3 Client not started - Couldn't connect to server {who}\n\n{}\n",
                clip(detail)
            ),
        },
        Problem::Closed { detail } => AdminMail {
            subject: SUBJECT_PROBLEM.into(),
            text: format!(
                "Error with Pop3 Client ({who})\nThe server connection was closed unexpectedly\n\n{}\n",
                clip(detail)
            ),
        },
        Problem::ErrorReply {
            received,
            last_command,
        } => AdminMail {
            subject: SUBJECT_PROBLEM.into(),
            text: format!(
                "The {PRODUCT} POP3 Client ({who}) has encountered an error whilst retrieving \
                 messages from your ISP POP3 server\nThe received error was: \"{}\"\n\
                 The last command sent by {PRODUCT} was: \"{}\"\n",
                clip(received),
                clip(&mask_command(last_command))
            ),
        },
        Problem::NoUidlOrTop => AdminMail {
            subject: SUBJECT_PROBLEM.into(),
            text: format!(
                "Error with Pop3 Client ({who})\nThe ISP POP3 server supports neither the UIDL \
                 nor the TOP command, so messages cannot be left on the server.\n\
                 Set leave_on_server_days = 0 for this [[inmail]], or ask your ISP.\n"
            ),
        },
        Problem::OverLimit { count, limit } => AdminMail {
            subject: SUBJECT_PROBLEM.into(),
            text: format!(
                "The {PRODUCT} POP3 Client ({who}) left {count} message(s) larger than the \
                 download limit of {limit} bytes on your ISP POP3 server.\n\
                 Messages are not left on the server and download rules are off, so \
                 nobody could be asked about them; remove or download them manually, or \
                 raise size_limit_kb.\n"
            ),
        },
    }
}

/// A server's text as one bounded line.
fn clip(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTED)
        .collect();
    one.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_problem_has_the_manual_text() {
        let m = admin_mail(
            "isp",
            "pop.isp.net:110",
            &Problem::Connect {
                detail: "connection refused".into(),
            },
        );
        assert_eq!(m.subject, "Mailroom - POP3 Client connection problem");
        assert_eq!(
            m.text,
            "Pop3 Client not started - Couldn't connect to server isp (pop.isp.net:110)\n\nconnection refused\n"
        );
    }

    #[test]
    fn closed_connection_has_the_manual_text() {
        let m = admin_mail(
            "isp",
            "pop.isp.net:110",
            &Problem::Closed {
                detail: "after RETR 3".into(),
            },
        );
        assert_eq!(m.subject, "Mailroom - POP3 Client Problem");
        assert!(m.text.starts_with(
            "Error with Pop3 Client (isp (pop.isp.net:110))\nThe server connection was closed unexpectedly\n"
        ));
        assert!(m.text.contains("after RETR 3"));
    }

    #[test]
    fn error_reply_quotes_reply_and_command_without_the_password() {
        let m = admin_mail(
            "isp",
            "pop.isp.net:110",
            &Problem::ErrorReply {
                received: "-ERR Unable to lock mailbox\r\n".into(),
                last_command: "PASS hunter2\r\n".into(),
            },
        );
        assert_eq!(m.subject, SUBJECT_PROBLEM);
        assert_eq!(
            m.text,
            "The Mailroom POP3 Client (isp (pop.isp.net:110)) has encountered an error whilst \
             retrieving messages from your ISP POP3 server\n\
             The received error was: \"-ERR Unable to lock mailbox\"\n\
             The last command sent by Mailroom was: \"PASS ********\"\n"
        );
        assert!(!m.text.contains("hunter2"));
    }

    #[test]
    fn other_notices_and_bounds() {
        let m = admin_mail("isp", "h:110", &Problem::NoUidlOrTop);
        assert!(m.text.contains("neither the UIDL nor the TOP"));
        let m = admin_mail(
            "isp",
            "h:110",
            &Problem::OverLimit {
                count: 2,
                limit: 1024,
            },
        );
        assert!(m
            .text
            .contains("left 2 message(s) larger than the download limit of 1024 bytes"));
        let long = "x".repeat(5000) + "\r\nSubject: injected";
        let m = admin_mail("isp", "h:110", &Problem::Connect { detail: long });
        assert!(m.text.len() < 1200);
        assert!(!m.text.contains("\r\nSubject"));
    }

    #[test]
    fn rendered_mail_is_from_mailer_daemon() {
        let m = admin_mail("isp", "h:110", &Problem::NoUidlOrTop);
        let bytes = m.render(
            "mail.company.com",
            "company.com",
            "postmaster@company.com",
            Instant::from_secs(0),
            "e1",
        );
        let s = String::from_utf8_lossy(&bytes);
        assert!(s.contains("From: Mailer_Daemon <Mailer_Daemon@company.com>\r\n"));
        assert!(s.contains("Subject: Mailroom - POP3 Client Problem\r\n"));
        assert!(s.contains("To: <postmaster@company.com>\r\n"));
        assert!(s.contains("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"));
    }
}
