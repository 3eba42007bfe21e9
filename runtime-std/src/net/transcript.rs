//! Protocol transcripts (LOG-1, §15.3.2): SMTPSVR.LOG, POP3SVR.LOG, IMAPSVR.LOG,
//! SMTPCLT.LOG and POP3CLT.LOG, each switched on in `[logs]`. A connection's
//! [`Pump`](super::pump::Pump) is given a [`Session`] when its log is on and feeds it
//! every plaintext byte both ways; core's `transcript` decides what may be written
//! (no passwords, no AUTH data, no message contents).
//!
//! The five files are process-wide (both runtimes, every thread write the same ones),
//! so they live here behind one lock each, set up by [`configure`] at start and on
//! every reload.

use crate::platform::datadir::DataDir;
use crate::platform::datetime::iso8601_local_ms;
use crate::platform::logfile::RotatingFile;
use mailroom_core::config::Logs;
use mailroom_core::transcript::{Side, Transcript};
use std::sync::{Mutex, OnceLock, RwLock};

/// Which conversation, and which end of it Mailroom is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SmtpServer,
    Pop3Server,
    ImapServer,
    SmtpClient,
    Pop3Client,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::SmtpServer,
        Kind::Pop3Server,
        Kind::ImapServer,
        Kind::SmtpClient,
        Kind::Pop3Client,
    ];

    /// VPOP3's file name (without `.LOG`).
    fn file_name(self) -> &'static str {
        match self {
            Kind::SmtpServer => "SMTPSVR",
            Kind::Pop3Server => "POP3SVR",
            Kind::ImapServer => "IMAPSVR",
            Kind::SmtpClient => "SMTPCLT",
            Kind::Pop3Client => "POP3CLT",
        }
    }

    fn switched_on(self, cfg: &Logs) -> bool {
        match self {
            Kind::SmtpServer => cfg.smtp_server,
            Kind::Pop3Server => cfg.pop3_server,
            Kind::ImapServer => cfg.imap_server,
            Kind::SmtpClient => cfg.smtp_client,
            Kind::Pop3Client => cfg.pop3_client,
        }
    }

    fn mailroom_serves(self) -> bool {
        matches!(self, Kind::SmtpServer | Kind::Pop3Server | Kind::ImapServer)
    }
}

/// The open transcript files; `None` for a log that is off.
static FILES: OnceLock<RwLock<Vec<Option<Mutex<RotatingFile>>>>> = OnceLock::new();

fn files() -> &'static RwLock<Vec<Option<Mutex<RotatingFile>>>> {
    FILES.get_or_init(|| RwLock::new(Kind::ALL.iter().map(|_| None).collect()))
}

/// Switch the transcripts as `cfg` says (at start and on reload).
pub fn configure(dd: &DataDir, cfg: &Logs) {
    let max = cfg.transcript_max_kb.saturating_mul(1024);
    let Ok(mut files) = files().write() else {
        return;
    };
    for (i, kind) in Kind::ALL.iter().enumerate() {
        let on = kind.switched_on(cfg);
        match (&mut files[i], on) {
            (Some(f), true) => {
                if let Ok(f) = f.get_mut() {
                    f.set_max(max);
                }
            }
            (slot @ None, true) => {
                let path = dd.transcript_log(kind.file_name());
                *slot = Some(Mutex::new(RotatingFile::new(path, max)));
            }
            (slot, false) => *slot = None,
        }
    }
}

/// One connection's transcript, or `None` when its log is off.
pub fn open(kind: Kind, session_id: &str) -> Option<Session> {
    let on = files()
        .read()
        .ok()
        .is_some_and(|f| f[index(kind)].is_some());
    on.then(|| Session {
        kind,
        id: session_id.to_string(),
        filter: Transcript::new(),
        lines: Vec::new(),
    })
}

fn index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

pub struct Session {
    kind: Kind,
    id: String,
    filter: Transcript,
    lines: Vec<(Side, String)>,
}

impl Session {
    /// Plaintext the peer sent.
    pub fn from_peer(&mut self, bytes: &[u8]) {
        let side = match self.kind.mailroom_serves() {
            true => Side::Client,
            false => Side::Server,
        };
        self.feed(side, bytes);
    }

    /// Plaintext Mailroom sends.
    pub fn to_peer(&mut self, bytes: &[u8]) {
        let side = match self.kind.mailroom_serves() {
            true => Side::Server,
            false => Side::Client,
        };
        self.feed(side, bytes);
    }

    fn feed(&mut self, side: Side, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.filter.feed(side, bytes, &mut self.lines);
        if self.lines.is_empty() {
            return;
        }
        let stamp = iso8601_local_ms(crate::platform::clock::unix_micros());
        let serves = self.kind.mailroom_serves();
        let mut text = String::new();
        for (side, line) in self.lines.drain(..) {
            // `<` what came in, `>` what went out, as seen from Mailroom.
            let arrow = match (side == Side::Client, serves) {
                (true, true) | (false, false) => '<',
                _ => '>',
            };
            text.push_str(&format!("{stamp} {} {arrow} {line}\n", self.id));
        }
        let Ok(files) = files().read() else {
            return;
        };
        let Some(file) = files[index(self.kind)].as_ref() else {
            return;
        };
        let written = match file.lock() {
            Ok(mut f) => f.append(text.as_bytes()),
            Err(_) => return,
        };
        if let Err(e) = written {
            tracing::warn!(log = self.kind.file_name(), error = %e, "cannot write the transcript");
        }
    }
}
