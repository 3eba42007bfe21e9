//! `[logs]`: which logs are written and how big they grow (LOG-1, LOG-2; manual §15.3,
//! docs/LOGS.md). A log that reaches its size is renamed to `NAME.old` and a new one
//! started.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// The main log, `DIR/log/mailroom.log` (VPOP3.LOG).
    pub main: bool,
    /// Largest main log in kB before it becomes `mailroom.log.old`; 0 = no limit.
    pub main_max_kb: u64,
    /// `DIR/log/SUMMARY.LOG`, one line per message event (§21.12).
    pub summary: bool,
    /// Transcripts (§15.3.2): POP3SVR.LOG, POP3CLT.LOG, SMTPSVR.LOG, SMTPCLT.LOG,
    /// IMAPSVR.LOG. Off by default: they slow large messages down (§15.3.4).
    pub pop3_server: bool,
    pub pop3_client: bool,
    pub smtp_server: bool,
    pub smtp_client: bool,
    pub imap_server: bool,
    /// Largest transcript in kB before it becomes `NAME.old`; 0 = no limit.
    pub transcript_max_kb: u64,
    /// "Send daily summary logs to the Main Administrator" (§15.2.1): after local
    /// midnight, the finished day's report in a mail.
    pub daily_report: bool,
    /// "Show Idle Accounts": the report lists mailboxes with messages over a day old.
    pub report_idle_accounts: bool,
    /// "Keep Summary Messages": the finished day's SUMMARY.LOG lines are kept as
    /// `DIR/log/Summaries/YYYYMMDD.LOG` and SUMMARY.LOG starts the new day empty.
    pub keep_summaries: bool,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            main: true,
            main_max_kb: 10 * 1024,
            summary: true,
            pop3_server: false,
            pop3_client: false,
            smtp_server: false,
            smtp_client: false,
            imap_server: false,
            transcript_max_kb: 1024,
            daily_report: true,
            report_idle_accounts: false,
            keep_summaries: false,
        }
    }
}
