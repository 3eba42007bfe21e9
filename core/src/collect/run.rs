//! One collection run of one In Mail (§6.3.2): the POP3 client session plus the
//! decisions about each message: already collected (the seen-UID book), left on the
//! server for N days, over the size limit, download rules, then RETR → store → DELE.
//!
//! The runtime connects, creates a [`Collector`] with the In Mail's seen book and
//! pumps it like any machine. It answers [`RunEvent::Decide`] with a
//! [`RunCommand::Decision`] (download rules, the Ask book, the size-limit rule) and
//! [`RunEvent::Store`] with a [`RunCommand::Stored`]; the other events need no answer.
//!
//! The crash invariants, and how they hold:
//! - Nothing is deleted at the ISP that is not durable here: DELE is sent only after
//!   the runtime answered `Stored`, which it does only once the message is fsynced.
//! - Nothing is delivered twice: the runtime appends the event's `seen_line` to the
//!   In Mail's seen journal (synced) right after storing and before answering, so a
//!   crash before DELE (or a DELE that QUIT never committed) leaves a seen UID that
//!   the next run deletes instead of downloading again. A crash between the
//!   message's fsync and the journal's is caught by the runtime (a journal left
//!   behind marks it; the next run checks new messages against what was stored since:
//!   `mailroom_std::collect::recover`). A server without UIDL or TOP gives no UIDs,
//!   so there a message stored but not yet deleted when the run stops comes again.

use super::errors::Problem;
use super::seen::SeenBook;
use crate::config::InMail;
use crate::pop3::client::{
    ClientEvent, ClientSettings, ErrorKind, Listed, Pop3Client, Pop3Error, Request,
};
use crate::{Input, Instant, Machine, Output};
use md5::{Digest, Md5};
use std::collections::{HashMap, VecDeque};

/// How one run treats the mailbox, from the `[[inmail]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    pub inmail: String,
    /// 0 = delete each message once it is stored here.
    pub leave_on_server_days: u32,
    /// "Download message Limit" in octets.
    pub size_limit: Option<u64>,
    /// "Use Download Rules": every new message's header is fetched (TOP) and
    /// [`RunEvent::Decide`] asked.
    pub download_rules: bool,
}

impl RunSettings {
    pub fn from_inmail(m: &InMail) -> RunSettings {
        RunSettings {
            inmail: m.name.clone(),
            leave_on_server_days: m.leave_on_server_days,
            size_limit: m.size_limit(),
            download_rules: m.download_rules,
        }
    }
}

/// What to do with one new message (the runtime's answer to [`RunEvent::Decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Download; delete at the ISP unless mail is left on the server.
    Download,
    /// Download, then delete at the ISP whatever leave-on-server says.
    DownloadDelete,
    /// Delete at the ISP without downloading.
    Delete,
    /// Leave it on the server, not downloaded (asked again next run).
    Leave,
}

/// The runtime's answer to [`RunEvent::Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Durable here (fsynced), and the seen line journaled.
    Stored,
    /// The same message already came in this run (§21.16.2) and was not stored again;
    /// the seen line is journaled all the same.
    Duplicate,
    /// Not stored, on purpose (e.g. nobody to give it to): leave it on the server.
    Leave(String),
    /// Storing failed (disk): the run stops, the message stays on the server.
    Failed(String),
}

/// Why a message was deleted at the ISP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Just stored (or a duplicate of one stored).
    Collected,
    /// Collected in an earlier run: its leave-on-server days are over, or its DELE
    /// never took effect (a crash, or no QUIT).
    AlreadyCollected,
    /// The runtime decided [`Decision::Delete`].
    Decided,
}

/// What the run asks of (or tells) its runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// A new message under download rules, or over the size limit while leaving mail
    /// on the server: decide with the header (from `TOP n 0`; empty when the server has
    /// no TOP). Answer with [`RunCommand::Decision`].
    Decide {
        number: u32,
        uid: Option<String>,
        size: u64,
        header: Vec<u8>,
    },
    /// A download starts (open a temporary file); no answer.
    Begin {
        number: u32,
        uid: Option<String>,
        size: u64,
    },
    /// The next part of the message, as retrieved (CRLF lines); no answer.
    Data(Vec<u8>),
    /// The download failed (`-ERR` to RETR): throw away what came; no answer.
    Discard { number: u32 },
    /// The whole message has arrived: store it durably, then append `seen_line` (when
    /// there is one) to the In Mail's seen journal and sync it, then answer with
    /// [`RunCommand::Stored`].
    Store {
        number: u32,
        uid: Option<String>,
        size: u64,
        seen_line: Option<String>,
    },
    /// DELE was accepted (applied at QUIT); no answer.
    Deleted {
        number: u32,
        uid: Option<String>,
        reason: DeleteReason,
    },
    /// The run is over; no answer. Throw away a download in progress. Write
    /// `report.seen` as the new seen book and empty the journal. `Close` follows.
    Done(Box<RunReport>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunCommand {
    Decision(Decision),
    Stored(Stored),
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Session(#[from] Pop3Error),
    /// Leave-on-server is set, and the server has neither UIDL nor TOP (§6.3.2).
    #[error("the server supports neither UIDL nor TOP, so mail cannot be left on it (set leave_on_server_days = 0)")]
    NoUidlOrTop,
    #[error("cannot store collected mail: {0}")]
    Storage(String),
}

impl RunError {
    /// The §21.4 error mail for this error (`collect::errors::admin_mail`); `None` for
    /// local trouble, which the log reports.
    pub fn problem(&self) -> Option<Problem> {
        match self {
            RunError::Session(e) => Some(match e.kind {
                ErrorKind::Closed | ErrorKind::Timeout => Problem::Closed {
                    detail: e.text.clone(),
                },
                ErrorKind::Greeting | ErrorKind::Tls => Problem::Connect {
                    detail: match &e.received {
                        Some(r) => format!("{} ({r})", e.text),
                        None => e.text.clone(),
                    },
                },
                ErrorKind::Auth | ErrorKind::Reply | ErrorKind::Protocol | ErrorKind::TooLarge => {
                    Problem::ErrorReply {
                        received: e.received.clone().unwrap_or_else(|| e.text.clone()),
                        last_command: e.last_command.clone().unwrap_or_default(),
                    }
                }
            }),
            RunError::NoUidlOrTop => Some(Problem::NoUidlOrTop),
            RunError::Storage(_) => None,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub inmail: String,
    pub logged_in: bool,
    pub tls: bool,
    /// Messages the server listed.
    pub listed: usize,
    /// Messages stored here, and their octets.
    pub downloaded: u32,
    pub bytes: u64,
    /// Messages not stored again because they already came in this run.
    pub duplicates: u32,
    pub deleted: u32,
    /// Messages left on the server (leave-on-server, decisions, over the limit).
    pub left: u32,
    /// Of those, messages over the size limit left without asking (§6.3.2).
    pub over_limit: u32,
    pub error: Option<RunError>,
    /// Problems with single messages that did not stop the run.
    pub notes: Vec<String>,
    /// The seen book to keep: the UIDs collected, less those the server no longer
    /// lists (when the listing was complete).
    pub seen: SeenBook,
    /// Every UID the server listed, when each message had one (for forgetting Ask-book
    /// queries about messages that are gone); `None` otherwise.
    pub present: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Msg {
    number: u32,
    size: u64,
    uid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Login,
    List,
    Uidl,
    /// UIDL refused: `TOP n 0` of message `i` for a header-hash UID.
    Hash(usize),
    /// Working on message `i`.
    Work(usize),
    Quit,
}

/// What the run waits for from the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    Decision(usize),
    Stored(usize, bool),
}

pub struct Collector {
    client: Pop3Client,
    /// Messages the server lists as larger than this are not downloaded.
    max_message: u64,
    settings: RunSettings,
    book: SeenBook,
    msgs: Vec<Msg>,
    /// Every listed message has a UID (from UIDL or the header hash).
    uids_complete: bool,
    /// UIDs whose DELE was accepted; gone for good once QUIT is answered.
    deleted: Vec<String>,
    phase: Phase,
    /// The current message: delete it once stored whatever leave-on-server says.
    force_delete: bool,
    awaiting: Awaiting,
    report: RunReport,
    events: VecDeque<RunEvent>,
    now: Instant,
}

impl Collector {
    /// A run over a fresh connection (`client.tls = Implicit`: already encrypted).
    /// `seen` is the In Mail's book as stored.
    pub fn new(
        now: Instant,
        client: ClientSettings,
        settings: RunSettings,
        seen: SeenBook,
    ) -> Collector {
        let report = RunReport {
            inmail: settings.inmail.clone(),
            ..RunReport::default()
        };
        let max_message = client.max_message;
        Collector {
            max_message,
            client: Pop3Client::new(now, client),
            settings,
            book: seen,
            msgs: Vec::new(),
            uids_complete: false,
            deleted: Vec::new(),
            phase: Phase::Login,
            force_delete: false,
            awaiting: Awaiting::Nothing,
            report,
            events: VecDeque::new(),
            now,
        }
    }

    fn ask(&mut self, r: Request) {
        self.client.handle_command(self.now, r);
    }

    fn quit(&mut self) {
        self.phase = Phase::Quit;
        self.ask(Request::Quit);
    }

    fn on_client(&mut self, e: ClientEvent) {
        match e {
            ClientEvent::Ready(_) => {
                self.phase = Phase::List;
                self.ask(Request::List);
            }
            ClientEvent::Listing(list) => {
                self.report.listed = list.len();
                self.msgs = list
                    .into_iter()
                    .map(|Listed { number, size }| Msg {
                        number,
                        size,
                        uid: None,
                    })
                    .collect();
                if self.msgs.is_empty() {
                    self.uids_complete = true;
                    self.quit();
                } else {
                    self.phase = Phase::Uidl;
                    self.ask(Request::Uidl);
                }
            }
            ClientEvent::Uids(Some(uids)) => {
                let map: HashMap<u32, String> = uids.into_iter().collect();
                for m in &mut self.msgs {
                    m.uid = map.get(&m.number).cloned();
                }
                self.uids_complete = self.msgs.iter().all(|m| m.uid.is_some());
                self.unique_uids();
                self.work(0);
            }
            ClientEvent::Uids(None) => {
                tracing::info!(inmail = %self.settings.inmail, "UIDL refused; falling back to header hashes (TOP)");
                self.phase = Phase::Hash(0);
                let n = self.msgs[0].number;
                self.ask(Request::Top(n));
            }
            ClientEvent::Header { number, header } => match self.phase {
                Phase::Hash(i) => self.on_hash(i, header),
                Phase::Work(i) if self.msgs.get(i).is_some_and(|m| m.number == number) => {
                    let m = &self.msgs[i];
                    self.awaiting = Awaiting::Decision(i);
                    self.events.push_back(RunEvent::Decide {
                        number,
                        uid: m.uid.clone(),
                        size: m.size,
                        header: header.unwrap_or_default(),
                    });
                }
                _ => self.quit(),
            },
            ClientEvent::Data(d) => self.events.push_back(RunEvent::Data(d)),
            ClientEvent::Retrieved { number, size, ok } => {
                let Phase::Work(i) = self.phase else {
                    self.quit();
                    return;
                };
                if !ok {
                    self.events.push_back(RunEvent::Discard { number });
                    let why = if size > self.max_message {
                        format!(
                            "message {number} is larger than the largest message accepted here ({} octets); left on the server",
                            self.max_message
                        )
                    } else {
                        format!("message {number}: the server refused RETR")
                    };
                    self.report.notes.push(why);
                    self.report.left += 1;
                    self.work(i + 1);
                    return;
                }
                let uid = self.msgs[i].uid.clone();
                let seen_line = uid.as_deref().map(|u| SeenBook::line(u, self.now));
                self.awaiting = Awaiting::Stored(i, self.force_delete);
                self.events.push_back(RunEvent::Store {
                    number,
                    uid,
                    size,
                    seen_line,
                });
            }
            ClientEvent::Deleted { number, ok } => {
                let Phase::Work(i) = self.phase else {
                    self.quit();
                    return;
                };
                if ok {
                    self.report.deleted += 1;
                    if let Some(u) = self.msgs.get(i).and_then(|m| m.uid.clone()) {
                        self.deleted.push(u);
                    }
                } else {
                    self.report
                        .notes
                        .push(format!("message {number}: the server refused DELE"));
                }
                self.work(i + 1);
            }
            ClientEvent::Ended(end) => {
                self.report.logged_in = end.logged_in;
                self.report.tls = end.tls;
                if let Some(e) = end.error {
                    if self.report.error.is_none() {
                        self.report.error = Some(RunError::Session(e));
                    }
                }
                let mut book = std::mem::take(&mut self.book);
                if self.report.error.is_none() {
                    // QUIT was answered: the deletions are applied (RFC 1939 §6).
                    let gone: std::collections::HashSet<&str> =
                        self.deleted.iter().map(String::as_str).collect();
                    book.retain(|u| !gone.contains(u));
                }
                if self.uids_complete {
                    let present: std::collections::HashSet<&str> =
                        self.msgs.iter().filter_map(|m| m.uid.as_deref()).collect();
                    book.retain(|u| present.contains(u));
                    self.report.present =
                        Some(self.msgs.iter().filter_map(|m| m.uid.clone()).collect());
                }
                self.report.seen = book;
                let report = std::mem::take(&mut self.report);
                self.events.push_back(RunEvent::Done(Box::new(report)));
            }
        }
    }

    fn on_hash(&mut self, i: usize, header: Option<Vec<u8>>) {
        match header {
            Some(h) => {
                self.msgs[i].uid = Some(header_uid(&h));
                if i + 1 < self.msgs.len() {
                    self.phase = Phase::Hash(i + 1);
                    let n = self.msgs[i + 1].number;
                    self.ask(Request::Top(n));
                } else {
                    self.uids_complete = true;
                    self.unique_uids();
                    self.work(0);
                }
            }
            None if self.settings.leave_on_server_days > 0 => {
                self.report.error = Some(RunError::NoUidlOrTop);
                self.quit();
            }
            None => {
                tracing::info!(inmail = %self.settings.inmail, "neither UIDL nor TOP: collecting without UIDs");
                for m in &mut self.msgs {
                    m.uid = None;
                }
                self.work(0);
            }
        }
    }

    /// A UID listed twice (a broken server, or two messages with the same header
    /// under the TOP fallback) would make the second look collected as soon as the
    /// first is, and be deleted unread: later copies get `#2`, `#3`... in listing
    /// order.
    fn unique_uids(&mut self) {
        let mut used = std::collections::HashSet::new();
        for m in &mut self.msgs {
            let Some(uid) = m.uid.clone() else { continue };
            let mut candidate = uid.clone();
            let mut k = 1;
            while !used.insert(candidate.clone()) {
                k += 1;
                candidate = format!("{uid}#{k}");
            }
            m.uid = Some(candidate);
        }
    }

    /// Go on with message `i` (or QUIT after the last).
    fn work(&mut self, mut i: usize) {
        self.force_delete = false;
        let leave = self.settings.leave_on_server_days;
        while let Some(m) = self.msgs.get(i) {
            self.phase = Phase::Work(i);
            if let Some(uid) = m.uid.as_deref() {
                if self.book.contains(uid) {
                    if leave == 0 || self.book.due(uid, self.now, leave) {
                        self.dele(i, DeleteReason::AlreadyCollected);
                        return;
                    }
                    self.report.left += 1;
                    i += 1;
                    continue;
                }
            }
            if m.size > self.max_message {
                let (n, size, max) = (m.number, m.size, self.max_message);
                self.report.notes.push(format!(
                    "message {n} ({size} octets) is larger than the largest message accepted here ({max} octets); left on the server"
                ));
                self.report.left += 1;
                i += 1;
                continue;
            }
            let over = self.settings.size_limit.is_some_and(|l| m.size > l);
            let ask = self.settings.download_rules || (over && leave > 0);
            if over && !ask {
                self.report.left += 1;
                self.report.over_limit += 1;
                i += 1;
                continue;
            }
            let n = m.number;
            if ask {
                self.ask(Request::Top(n));
            } else {
                self.retr(i);
            }
            return;
        }
        self.quit();
    }

    fn retr(&mut self, i: usize) {
        let m = &self.msgs[i];
        self.events.push_back(RunEvent::Begin {
            number: m.number,
            uid: m.uid.clone(),
            size: m.size,
        });
        let n = m.number;
        self.ask(Request::Retr(n));
    }

    fn dele(&mut self, i: usize, reason: DeleteReason) {
        let m = &self.msgs[i];
        self.events.push_back(RunEvent::Deleted {
            number: m.number,
            uid: m.uid.clone(),
            reason,
        });
        let n = m.number;
        self.ask(Request::Dele(n));
    }

    fn on_decision(&mut self, i: usize, d: Decision) {
        match d {
            Decision::Download => self.retr(i),
            Decision::DownloadDelete => {
                self.force_delete = true;
                self.retr(i);
            }
            Decision::Delete => self.dele(i, DeleteReason::Decided),
            Decision::Leave => {
                self.report.left += 1;
                self.work(i + 1);
            }
        }
    }

    fn on_stored(&mut self, i: usize, force_delete: bool, s: Stored) {
        let size = self.msgs[i].size;
        match s {
            Stored::Stored | Stored::Duplicate => {
                if s == Stored::Stored {
                    self.report.downloaded += 1;
                    self.report.bytes += size;
                } else {
                    self.report.duplicates += 1;
                }
                if let Some(uid) = self.msgs[i].uid.clone() {
                    self.book.insert(&uid, self.now);
                }
                if force_delete || self.settings.leave_on_server_days == 0 {
                    self.dele(i, DeleteReason::Collected);
                } else {
                    self.report.left += 1;
                    self.work(i + 1);
                }
            }
            Stored::Leave(why) => {
                let n = self.msgs[i].number;
                self.report.notes.push(format!("message {n}: {why}"));
                self.report.left += 1;
                self.work(i + 1);
            }
            Stored::Failed(why) => {
                self.report.error = Some(RunError::Storage(why));
                self.quit();
            }
        }
    }
}

/// The UID of a message on a server without UIDL: a hash of its header (DECISIONS.md).
pub fn header_uid(header: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(header);
    let d = h.finalize();
    let mut s = String::from("hdr-");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Machine for Collector {
    type Command = RunCommand;
    type Event = RunEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        // Time never runs backwards inside the machine (machine contract rule 6).
        self.now = self.now.max(now);
        self.client.handle_input(self.now, input);
    }

    fn handle_command(&mut self, now: Instant, cmd: RunCommand) {
        self.now = self.now.max(now);
        match (self.awaiting, cmd) {
            (Awaiting::Decision(i), RunCommand::Decision(d)) => {
                self.awaiting = Awaiting::Nothing;
                self.on_decision(i, d);
            }
            (Awaiting::Stored(i, force), RunCommand::Stored(s)) => {
                self.awaiting = Awaiting::Nothing;
                self.on_stored(i, force, s);
            }
            (a, c) => tracing::debug!(?a, ?c, "collector: an answer nobody asked for, ignored"),
        }
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<RunEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Output::Event(e);
            }
            match self.client.poll_output(out) {
                Output::Event(e) => self.on_client(e),
                Output::StartTls => return Output::StartTls,
                Output::Close => return Output::Close,
                Output::Wait(d) => {
                    return Output::Wait(if self.awaiting == Awaiting::Nothing {
                        d
                    } else {
                        None
                    })
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
