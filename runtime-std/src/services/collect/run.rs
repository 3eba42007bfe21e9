//! One collection run of one In Mail over a blocking socket: connect (implicit TLS on
//! port 995), pump the core [`Collector`], answer its decisions with the download rules
//! (`crate::services::dlrules`), store each message as the sorting says (`super::sort`), keep the
//! seen-UID book (`super::book`), and mail the Main Administrator about trouble
//! (§21.4).
//!
//! Ordering that keeps mail safe (see `mailroom_core::collect::run`): a message is
//! stored and fsynced, then its UID is journaled and synced, and only then is the
//! collector told `Stored`, which is what lets it send DELE.

use super::recover::InDoubt;
use super::seen_uids::{self, Journal};
use super::sort::{store_sorted, StoreSortedError};
use crate::net::pump::{self, Pump, PumpError};
use crate::net::socket::{self, DriveError};
use crate::net::transcript;
use crate::platform::datadir::DataDir;
use crate::services::askbook;
use crate::services::dlrules::{self, Held, RulesLoader};
use crate::services::summary;
use crate::store::Store;
use mailroom_core::collect::ask::Verdict;
use mailroom_core::collect::dlrules::{
    decide_collected, retarget, rule_recipients, DlRules, Kind, RuleInput, Target,
};
use mailroom_core::collect::errors::{admin_mail, Problem};
use mailroom_core::collect::run::{
    Collector, Decision, RunCommand, RunError, RunEvent, RunReport, RunSettings, Stored,
};
use mailroom_core::collect::seen::SeenBook;
use mailroom_core::collect::sort::{duplicate_key, sort, DupKey, Sorted, Sorting};
use mailroom_core::config::{InMail, InMailTls, Snapshot};
use mailroom_core::pop3::client::{ClientSettings, ErrorKind, Pop3Error};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

/// Longest wait for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a POP3 response (or between two reads of a download).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest message downloaded when `[smtp] max_message_size` is 0 (no limit): a
/// message is held in memory while it is sorted.
pub const DEFAULT_MAX_MESSAGE: u64 = 256 * 1024 * 1024;
/// Longest time a write may block on a server that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
/// Progress lines at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How a run behaves; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct Options {
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: CONNECT_TIMEOUT,
            response_timeout: RESPONSE_TIMEOUT,
        }
    }
}

/// Progress of a run, for `mailroom connect --wait` and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub messages: u32,
    pub bytes: u64,
}

/// DLRULES.DAT across runs in this process, per data directory (the last good
/// version is kept).
static RULES: Mutex<Option<HashMap<std::path::PathBuf, RulesLoader>>> = Mutex::new(None);

fn load_rules(dd: &DataDir, store: &Store, snap: &Snapshot) -> Arc<DlRules> {
    let mut slot = RULES.lock().unwrap_or_else(|p| p.into_inner());
    let loaded = slot
        .get_or_insert_with(HashMap::new)
        .entry(dd.root().to_path_buf())
        .or_default()
        .load(dd);
    if let Some(mail) = &loaded.problem {
        if let Err(e) = dlrules::send_admin_mail(store, snap, mail) {
            tracing::warn!("cannot store the download-rules notice: {}", e.text);
        }
    }
    loaded.rules
}

/// Collect In Mail `name` of `snap` once. `progress` is called now and then while
/// messages come in, and once at the end. The error mail for the Main Administrator
/// is stored before this returns.
pub fn collect(
    store: &Store,
    snap: &Snapshot,
    name: &str,
    opts: &Options,
    progress: &mut dyn FnMut(Progress),
) -> RunReport {
    let Some((index, inmail)) = snap
        .config
        .inmails
        .iter()
        .enumerate()
        .find(|(_, m)| m.name.eq_ignore_ascii_case(name))
    else {
        tracing::warn!(inmail = name, "no such In Mail in the configuration");
        return RunReport {
            inmail: name.to_string(),
            ..RunReport::default()
        };
    };
    let mut run = Run::new(store, snap, inmail, index + 1);
    let report = run.go(opts, progress);
    run.after(&report);
    progress(Progress {
        messages: report.downloaded,
        bytes: report.bytes,
    });
    report
}

struct Run<'a> {
    store: &'a Store,
    snap: &'a Snapshot,
    inmail: &'a InMail,
    number: usize,
    rules: Option<Arc<DlRules>>,
    /// The download in progress.
    message: Vec<u8>,
    /// Redirect/copy targets of rules that fired, by message number.
    targets: HashMap<u32, Target>,
    /// UIDs whose Ask-book query ends with this run (answered or expired).
    answered: HashSet<String>,
    dups: HashSet<DupKey>,
    journal: Option<Journal>,
    /// The previous run did not finish: new messages may already be here.
    in_doubt: Option<InDoubt>,
    progress: Progress,
    last_progress: StdInstant,
}

fn failed(inmail: &str, kind: ErrorKind, text: String) -> RunReport {
    RunReport {
        inmail: inmail.to_string(),
        error: Some(RunError::Session(Pop3Error {
            kind,
            received: None,
            last_command: None,
            text,
        })),
        ..RunReport::default()
    }
}

/// `host:port` → (host, port), the port defaulting to `default`.
fn split_server(server: &str, default: u16) -> (String, u16) {
    let s = server.trim();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default);
            return (host.to_string(), port);
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h.to_string(), port),
            Err(_) => (s.to_string(), default),
        },
        _ => (s.to_string(), default),
    }
}

impl<'a> Run<'a> {
    fn new(store: &'a Store, snap: &'a Snapshot, inmail: &'a InMail, number: usize) -> Run<'a> {
        Run {
            store,
            snap,
            inmail,
            number,
            rules: None,
            message: Vec::new(),
            targets: HashMap::new(),
            answered: HashSet::new(),
            dups: HashSet::new(),
            journal: None,
            in_doubt: None,
            progress: Progress {
                messages: 0,
                bytes: 0,
            },
            last_progress: StdInstant::now(),
        }
    }

    fn dd(&self) -> &DataDir {
        self.store.data_dir()
    }

    fn max_message(&self) -> u64 {
        match self.snap.config.smtp.max_message_size {
            0 => DEFAULT_MAX_MESSAGE,
            n => n,
        }
    }

    fn tls_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        let m = self.inmail;
        if m.tls == InMailTls::None {
            return Ok(None);
        }
        if !m.tls_verify {
            return Ok(Some(crate::services::outbound::tls::opportunistic()));
        }
        match crate::services::outbound::tls::verifying(self.dd(), None) {
            Ok(c) => Ok(Some(c)),
            // Opportunistic STLS without a CA bundle: go on in the clear, as when
            // the server offers no STLS.
            Err(e) if m.tls == InMailTls::Opportunistic => {
                tracing::warn!(inmail = %m.name, "no TLS for POP3: {e}");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn go(&mut self, opts: &Options, progress: &mut dyn FnMut(Progress)) -> RunReport {
        let m = self.inmail;
        let name = m.name.as_str();
        if let Some(t) = seen_uids::journal_left(self.dd(), name) {
            tracing::warn!(
                inmail = name,
                "the previous collection did not finish; new messages are checked against what was stored since"
            );
            self.in_doubt = Some(InDoubt::new(t));
        }
        let seen = match seen_uids::load(self.dd(), name) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(
                    inmail = name,
                    "seen-UID book unreadable, not collecting: {e}"
                );
                return RunReport {
                    inmail: name.to_string(),
                    error: Some(RunError::Storage(format!("seen-UID book: {e}"))),
                    ..RunReport::default()
                };
            }
        };
        if m.download_rules {
            self.rules = Some(load_rules(self.dd(), self.store, self.snap));
        }
        let tls = match self.tls_config() {
            Ok(t) => t,
            Err(e) => return failed(name, ErrorKind::Tls, format!("TLS: {e}")),
        };
        let (host, port) = split_server(&m.server, m.default_port());
        let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => return failed(name, ErrorKind::Greeting, format!("{host}: {e}")),
        };
        let mut last = format!("{host}: no address");
        for addr in addrs {
            let stream = match TcpStream::connect_timeout(&addr, opts.connect_timeout) {
                Ok(s) => s,
                Err(e) => {
                    last = format!("{host} ({addr}): {e}");
                    continue;
                }
            };
            tracing::info!(inmail = name, %addr, "collecting");
            let now = crate::platform::clock::now();
            let client = ClientSettings {
                user: m.user.clone(),
                password: m.password.clone(),
                auth: m.auth,
                tls: m.tls,
                tls_available: tls.is_some(),
                timeout: opts.response_timeout,
                max_message: self.max_message(),
            };
            let collector = Collector::new(now, client, RunSettings::from_inmail(m), seen);
            let implicit = m.tls == InMailTls::Implicit;
            let mut c = Pump::client(now, collector, tls, &host);
            let id = pump::new_session_id(now);
            c.set_transcript(transcript::open(transcript::Kind::Pop3Client, &id));
            if implicit {
                if let Err(e) = c.start_tls() {
                    return failed(name, ErrorKind::Tls, format!("TLS: {e}"));
                }
            }
            return match self.drive(stream, c, progress) {
                Ok(r) => r,
                Err(e) => {
                    let kind = match e {
                        DriveError::Pump(PumpError::Gone) => ErrorKind::Closed,
                        DriveError::Pump(_) => ErrorKind::Tls,
                        DriveError::Io(_) => ErrorKind::Closed,
                    };
                    failed(name, kind, format!("{host} ({addr}): {e}"))
                }
            };
        }
        failed(name, ErrorKind::Greeting, last)
    }

    fn drive(
        &mut self,
        stream: TcpStream,
        mut c: Pump<Collector>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RunReport, DriveError> {
        let mut report = None;
        let mut answer = |c: &mut Pump<Collector>, ev| {
            if let RunEvent::Done(r) = ev {
                report = Some(*r);
            } else if let Some(cmd) = self.on_event(ev, progress) {
                c.answer(crate::platform::clock::now(), cmd);
            }
        };
        let result = socket::drive(stream, &mut c, WRITE_TIMEOUT, &mut answer);
        match (result, report) {
            (_, Some(r)) => Ok(r),
            (Err(e), None) => Err(e),
            (Ok(()), None) => Err(DriveError::Io(io::Error::other(
                "the session ended without a report",
            ))),
        }
    }

    fn on_event(&mut self, ev: RunEvent, progress: &mut dyn FnMut(Progress)) -> Option<RunCommand> {
        match ev {
            RunEvent::Decide {
                number,
                uid,
                size,
                header,
            } => Some(RunCommand::Decision(self.decide(
                number,
                uid.as_deref(),
                size,
                &header,
            ))),
            RunEvent::Begin { size, .. } => {
                // The journal exists from the first download on: if this run dies, the
                // next one knows (see `recover`).
                if let Err(e) = self.open_journal() {
                    tracing::warn!(inmail = %self.inmail.name, "cannot open the seen-UID journal: {e}");
                }
                self.message.clear();
                self.message
                    .reserve(usize::try_from(size.min(16 << 20)).unwrap_or(0));
                None
            }
            RunEvent::Data(d) => {
                self.message.extend_from_slice(&d);
                None
            }
            RunEvent::Discard { .. } => {
                self.message.clear();
                None
            }
            RunEvent::Store {
                number,
                uid,
                size,
                seen_line,
            } => {
                let stored = self.store_message(number, uid.as_deref(), seen_line.as_deref());
                if stored == Stored::Stored {
                    self.progress.messages += 1;
                    self.progress.bytes += size;
                    if self.last_progress.elapsed() >= PROGRESS_EVERY {
                        self.last_progress = StdInstant::now();
                        progress(self.progress);
                    }
                }
                self.message = Vec::new();
                Some(RunCommand::Stored(stored))
            }
            RunEvent::Deleted { uid, reason, .. } => {
                tracing::debug!(inmail = %self.inmail.name, ?uid, ?reason, "DELE");
                if let Some(u) = uid {
                    if self.answered.remove(&u) {
                        self.ask_done(&u);
                    }
                }
                None
            }
            RunEvent::Done(_) => None,
        }
    }

    fn ask_done(&self, uid: &str) {
        let name = self.inmail.name.clone();
        if let Err(e) = askbook::with_book(self.dd(), |b| b.done(&name, uid)) {
            tracing::warn!("cannot update the Ask book: {e}");
        }
    }

    /// Download rules, the Ask book and the size-limit rule for one message.
    fn decide(&mut self, number: u32, uid: Option<&str>, size: u64, header: &[u8]) -> Decision {
        let m = self.inmail;
        let now = crate::platform::clock::now();
        if let Some(u) = uid {
            let delay = dlrules::query_delay(self.snap);
            let verdict = askbook::load_book(self.dd())
                .map(|b| b.verdict(&m.name, u, now, delay))
                .unwrap_or(Verdict::NotAsked);
            match verdict {
                Verdict::NotAsked => {}
                Verdict::Waiting => return Decision::Leave,
                Verdict::Download => {
                    self.answered.insert(u.to_string());
                    return Decision::Download;
                }
                Verdict::Delete | Verdict::Expired => {
                    self.answered.insert(u.to_string());
                    return Decision::Delete;
                }
            }
        }
        let sorted = sort(self.snap, m, header);
        let recipients = rule_recipients(&sorted);
        let secs = i64::try_from(now.unix_secs()).unwrap_or(i64::MAX);
        let (weekday, minutes) = dlrules::rule_clock(secs);
        let input = RuleInput {
            header,
            size,
            recipients: &recipients,
            inmail_number: self.number,
            weekday,
            minutes,
        };
        let Some(fired) = decide_collected(self.rules.as_deref(), m, &sorted, &input) else {
            return Decision::Download;
        };
        dlrules::log_activation(self.dd(), &m.name, &fired, header, size);
        if fired.action.target != Target::Recipient {
            self.targets.insert(number, fired.action.target.clone());
        }
        let held = Held {
            inmail: &m.name,
            uid: uid.unwrap_or(""),
            fired: &fired,
            header,
            size,
            recipients: &recipients,
        };
        match fired.action.kind {
            Kind::Download => Decision::Download,
            Kind::DownloadDelete => Decision::DownloadDelete,
            Kind::DeleteSilently => Decision::Delete,
            Kind::Delete => {
                if let Err(e) = dlrules::tell_deleted(self.store, self.snap, &held) {
                    tracing::warn!("cannot store the deletion notice: {}", e.text);
                }
                Decision::Delete
            }
            Kind::Ignore => Decision::Leave,
            Kind::Ask => {
                if uid.is_none() {
                    tracing::info!(inmail = %m.name, number, "cannot ask about a message without a UID; left on the server");
                } else if let Err(e) = dlrules::ask(self.store, self.snap, &held) {
                    tracing::warn!("cannot store the download query: {}", e.text);
                }
                Decision::Leave
            }
        }
    }

    fn store_message(&mut self, number: u32, uid: Option<&str>, seen_line: Option<&str>) -> Stored {
        let m = self.inmail;
        let message = std::mem::take(&mut self.message);
        let mut sorted = sort(self.snap, m, &message);
        if let Some(t) = self.targets.remove(&number) {
            sorted = retarget(self.snap, m, &message, sorted, &t);
        }
        let duplicate = m.remove_duplicates
            && duplicate_key(&message, &sorted.detected).is_some_and(|k| !self.dups.insert(k));
        let result = if duplicate {
            tracing::info!(inmail = %m.name, number, ?uid, "duplicate in this run; not stored again");
            Stored::Duplicate
        } else if self.stored_before_crash(&message, &sorted) {
            tracing::warn!(inmail = %m.name, number, ?uid, "stored before the previous run stopped; not stored again");
            Stored::Duplicate
        } else {
            let id = format!(
                "pop3.{}",
                pump::new_session_id(crate::platform::clock::now())
            );
            // Downloaded, so logged first, as VPOP3 does (§21.12's example: 6, then 2).
            let size = message.len() as u64;
            summary::record(self.store.data_dir(), summary::Code::Collected, size, None);
            match store_sorted(self.store, self.snap, m, message, &sorted, &id) {
                Ok(r) => {
                    tracing::info!(inmail = %m.name, number, ?uid, id, mailboxes = ?r.mailboxes, queued = ?r.queued, "collected");
                    Stored::Stored
                }
                Err(e @ StoreSortedError::NoAccount(_)) => return Stored::Leave(e.to_string()),
                Err(StoreSortedError::Storage(e)) => return Stored::Failed(e),
            }
        };
        // Durable: now the UID, so a crash before DELE does not bring it again.
        if let Some(line) = seen_line {
            if let Err(e) = self.journal_line(line) {
                tracing::error!(inmail = %m.name, "cannot journal the seen UID: {e}");
                return Stored::Failed(format!("seen-UID journal: {e}"));
            }
        }
        result
    }

    fn stored_before_crash(&mut self, message: &[u8], sorted: &Sorted) -> bool {
        let Some(d) = self.in_doubt.as_mut() else {
            return false;
        };
        let Sorting::Route(plan) = &sorted.sorting else {
            return false;
        };
        let data = message.get(sorted.strip..).unwrap_or(message);
        d.already_stored(self.store.data_dir(), &plan.mailboxes, data)
    }

    fn open_journal(&mut self) -> io::Result<()> {
        if self.journal.is_none() {
            self.journal = Some(Journal::open(self.store.data_dir(), &self.inmail.name)?);
        }
        Ok(())
    }

    fn journal_line(&mut self, line: &str) -> io::Result<()> {
        self.open_journal()?;
        match self.journal.as_mut() {
            Some(j) => j.append(line),
            None => Ok(()),
        }
    }

    /// After the run: the seen book, the log, the Main Administrator's mail.
    fn after(&mut self, r: &RunReport) {
        let m = self.inmail;
        self.journal = None;
        // A run that never listed the mailbox leaves the book (and journal) alone.
        if r.logged_in && !matches!(r.error, Some(RunError::Storage(_))) {
            if let Err(e) = seen_uids::save(self.dd(), &m.name, &r.seen) {
                tracing::error!(inmail = %m.name, "cannot save the seen-UID book: {e}");
            }
        }
        if let Some(present) = &r.present {
            let present: HashSet<&str> = present.iter().map(String::as_str).collect();
            let name = m.name.clone();
            if let Err(e) = askbook::with_book(self.dd(), |b| {
                b.retain_present(&name, |u| present.contains(u))
            }) {
                tracing::warn!("cannot update the Ask book: {e}");
            }
        }
        for n in &r.notes {
            tracing::warn!(inmail = %m.name, "{n}");
        }
        match &r.error {
            None => tracing::info!(
                inmail = %m.name,
                listed = r.listed,
                downloaded = r.downloaded,
                bytes = r.bytes,
                deleted = r.deleted,
                left = r.left,
                tls = r.tls,
                "collection done"
            ),
            Some(e) => {
                tracing::warn!(inmail = %m.name, downloaded = r.downloaded, "collection failed: {e}")
            }
        }
        let mut problems: Vec<Problem> = r.error.iter().filter_map(RunError::problem).collect();
        let key = key(self.dd(), &m.name);
        let changed = r.logged_in && over_limit_changed(key, r.over_limit);
        if r.over_limit > 0 && changed {
            problems.push(Problem::OverLimit {
                count: r.over_limit as usize,
                limit: m.size_limit().unwrap_or(0),
            });
        }
        for p in problems {
            let mail = admin_mail(&m.name, &m.server, &p);
            if let Err(e) = dlrules::send_admin_mail(self.store, self.snap, &mail) {
                tracing::warn!("cannot store the error mail: {}", e.text);
            }
        }
    }
}

/// Over-limit counts already reported, per In Mail, in this process: the same
/// messages waiting at the ISP are not reported again every run.
static OVER_LIMIT: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

fn over_limit_changed(key: String, count: u32) -> bool {
    let mut slot = OVER_LIMIT.lock().unwrap_or_else(|p| p.into_inner());
    let map = slot.get_or_insert_with(HashMap::new);
    map.insert(key, count) != Some(count)
}

/// An In Mail of one data directory (several servers may run in one test process).
fn key(dd: &DataDir, inmail: &str) -> String {
    format!("{}\n{}", dd.root().display(), inmail.to_ascii_lowercase())
}

/// In Mails being collected now: a second run of the same one waits its turn
/// elsewhere (the ISP would refuse the second login anyway).
static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// The connection driver's entry: collect In Mail `name` with the current
/// configuration, writing progress lines for the `mailroom connect` requests `ids`.
pub fn collect_for_driver(
    shared: &crate::services::app::Shared,
    dir: &DataDir,
    name: &str,
    ids: &[String],
) {
    let status = |line: &str| {
        for id in ids {
            crate::services::scheduler::control::status(dir, id, line);
        }
    };
    let Some(_running) = Running::claim(key(dir, name)) else {
        tracing::info!(inmail = name, "already being collected; this run skips it");
        status(&format!("In Mail {name}: already being collected"));
        return;
    };
    let snap = shared.snapshot();
    status(&format!("In Mail {name}: collecting"));
    let mut progress = |p: Progress| {
        status(&format!(
            "In Mail {name}: {} messages, {} bytes",
            p.messages, p.bytes
        ))
    };
    let r = collect(
        &shared.store,
        &snap,
        name,
        &Options::default(),
        &mut progress,
    );
    let line = match &r.error {
        None => format!(
            "In Mail {name}: done, {} messages, {} bytes, {} deleted, {} left on the server",
            r.downloaded, r.bytes, r.deleted, r.left
        ),
        Some(e) => format!(
            "In Mail {name}: failed after {} messages: {e}",
            r.downloaded
        ),
    };
    status(&line);
}

/// An In Mail marked as being collected until dropped (also on a panic).
struct Running(String);

impl Running {
    fn claim(key: String) -> Option<Running> {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        running
            .get_or_insert_with(HashSet::new)
            .insert(key.clone())
            .then_some(Running(key))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(set) = RUNNING.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            set.remove(&self.0);
        }
    }
}

/// The seen book as it stands (book plus journal), for tools and tests.
pub fn seen_book(dd: &DataDir, inmail: &str) -> io::Result<SeenBook> {
    seen_uids::load(dd, inmail)
}

#[cfg(test)]
mod tests {
    use super::split_server;

    #[test]
    fn server_names_with_and_without_ports() {
        assert_eq!(
            split_server("pop.isp.example", 110),
            ("pop.isp.example".into(), 110)
        );
        assert_eq!(
            split_server("pop.isp.example:995", 110),
            ("pop.isp.example".into(), 995)
        );
        assert_eq!(split_server("[::1]:1110", 110), ("::1".into(), 1110));
        assert_eq!(split_server("::1", 110), ("::1".into(), 110));
    }
}
