//! The Ask book on disk (`DIR/state/askbook`): the download queries waiting for an
//! answer, and the hook in local delivery that records a user's answer. Delivery
//! reads it and the download rules (`crate::services::dlrules`) write queries to it,
//! so it sits below both.

use std::fs;
use std::io;
use std::sync::Mutex;

use mailroom_core::collect::ask::AskBook;
use mailroom_core::config::Snapshot;
use mailroom_core::router::{Plan, Source};
use mailroom_core::smtp::Delivery;

use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::store::Store;

/// Serialises every change to the Ask book within this process; the file lock below
/// covers other processes on the same data directory.
static BOOK_LOCK: Mutex<()> = Mutex::new(());

/// Run `f` on the Ask book and save it if `f` changed it. A damaged book is moved
/// aside (`askbook.damaged`) and replaced by an empty one: its queries are asked again.
pub fn with_book<R>(dd: &DataDir, f: impl FnOnce(&mut AskBook) -> R) -> io::Result<R> {
    let _guard = BOOK_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    fs::create_dir_all(dd.state_dir())?;
    let lock = crate::platform::lock::open(&dd.ask_book_lock())?;
    let _held = crate::platform::lock::exclusive(&lock)?;
    let before = load_book(dd)?;
    let mut book = before.clone();
    let r = f(&mut book);
    if book != before {
        save_book(dd, &book)?;
    }
    Ok(r)
}

/// The stored Ask book (empty if there is none).
pub fn load_book(dd: &DataDir) -> io::Result<AskBook> {
    let path = dd.ask_book_file();
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(AskBook::new()),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => String::new(),
        Err(e) => return Err(e),
    };
    match AskBook::parse(&text, crate::platform::clock::now()) {
        Ok(book) => Ok(book),
        Err(e) => {
            let aside = path.with_extension("damaged");
            tracing::error!(
                "{}:{}: {}; moved to {} and starting an empty Ask book",
                path.display(),
                e.line,
                e.message,
                aside.display()
            );
            fs::rename(&path, &aside)?;
            Ok(AskBook::new())
        }
    }
}

/// Replace the stored book: temporary file, fsync, rename, fsync the directory.
pub fn save_book(dd: &DataDir, book: &AskBook) -> io::Result<()> {
    let dir = dd.state_dir();
    fs::create_dir_all(&dir)?;
    durable::replace(
        &dd.ask_book_file(),
        book.to_text().as_bytes(),
        Access::Normal,
    )
}

/// Whether `address` is Mailer_Daemon at one of this site's domains.
pub fn is_mailer_daemon(snap: &Snapshot, address: &str) -> bool {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    (local.eq_ignore_ascii_case("mailer_daemon") || local.eq_ignore_ascii_case("mailer-daemon"))
        && (domain.eq_ignore_ascii_case(&snap.config.default_domain)
            || snap
                .config
                .local_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain)))
}

/// The hook in local delivery: a message from a local user to Mailer_Daemon whose
/// subject carries a query token is an answer to the query. It is recorded in the Ask
/// book; if Mailer_Daemon was its only recipient it goes nowhere else (the returned
/// empty plan). Anything else (no token, other senders) is routed as usual.
pub fn divert_reply(
    store: &Store,
    snap: &Snapshot,
    delivery: &Delivery,
    source: &Source,
) -> Option<Plan> {
    // The server's own mails have the null sender; only a person's mail is an answer
    // (a query sent to a Mailer_Daemon address must not answer itself).
    if *source != Source::Local || delivery.envelope.mail_from.is_none() {
        return None;
    }
    let rcpts = &delivery.envelope.recipients;
    if !rcpts.iter().any(|r| is_mailer_daemon(snap, &r.address)) {
        return None;
    }
    let answer = match with_book(store.data_dir(), |b| b.answer(&delivery.data)) {
        Ok(a) => a?,
        Err(e) => {
            tracing::error!(id = %delivery.id, "cannot update the Ask book: {e}");
            return None;
        }
    };
    tracing::info!(id = %delivery.id, inmail = %answer.inmail, uid = %answer.uid, rule = %answer.rule, state = ?answer.state, "download query answered");
    rcpts
        .iter()
        .all(|r| is_mailer_daemon(snap, &r.address))
        .then(empty_plan)
}

/// A plan that stores nothing: the mail was taken before routing.
pub fn empty_plan() -> Plan {
    Plan {
        recipients: Vec::new(),
        mailboxes: Vec::new(),
        remote: Vec::new(),
        outbound_sender: None,
        notices: Vec::new(),
        bounces: Vec::new(),
        discards: Vec::new(),
    }
}
