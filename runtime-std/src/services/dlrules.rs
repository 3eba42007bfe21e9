//! Download rules in the runtime (§8.1): DLRULES.DAT read at the start of every
//! download run (so an edit counts without a restart), DLRULES.LOG, the Ask book on
//! disk, the mails the rules send (queries, deletion notices, the §21.4 error mails)
//! and the hook that takes replies to queries out of local mail.
//!
//! ```text
//! DIR/DLRULES.DAT            the rules, VPOP3 text format (§8.1.2.2)
//! DIR/log/DLRULES.LOG        one line per rule activation (§8.1.3)
//! DIR/state/askbook          pending download queries (replaced atomically)
//! ```
//!
//! A DLRULES.DAT that cannot be read is not used: the last good rules of this process
//! stay in force, or, if there are none, every message is downloaded (nothing is
//! deleted or left behind by rules nobody can read), and the Main Administrator gets
//! one mail per broken version of the file naming each bad line.

use crate::platform::clock::{now, unix_micros};
use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailroom_core::collect::ask::Verdict;
use mailroom_core::collect::ask::{deleted_message, query_message, Asked, RuleMail};
use mailroom_core::collect::dlrules::{
    decide_collected, log_line, rule_recipients, DlRules, Fired, Kind, RuleInput, Target,
    MAX_RULES_FILE,
};
use mailroom_core::collect::errors::AdminMail;
use mailroom_core::collect::run::Decision;
use mailroom_core::collect::sort::sort;
use mailroom_core::config::InMail;
use mailroom_core::config::Snapshot;
use mailroom_core::dsn::MailHead;
use mailroom_core::router::names::Names;
use mailroom_core::smtp::DeliveryError;
use mailroom_core::Instant;

use crate::platform::datadir::DataDir;
use crate::services::askbook::{is_mailer_daemon, with_book};
use crate::store::Store;

/// Subject of the mail about a DLRULES.DAT that cannot be read (not a §21.4 text).
pub const SUBJECT_BAD_RULES: &str = "Mailroom - Download Rules not loaded";

/// "Query Download Delay": how long an unanswered query keeps its message on the
/// server: `[download_rules] query_delay`.
pub fn query_delay(snap: &Snapshot) -> Duration {
    snap.config.download_rules.query_delay.0
}

/// Why DLRULES.DAT was not used.
#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is larger than {MAX_RULES_FILE} bytes")]
    TooLarge { path: PathBuf },
    /// Each entry is `path:line: message`.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// Read DLRULES.DAT now. `Ok(None)`: there is no file (no rules: download everything).
pub fn load_rules(dd: &DataDir) -> Result<Option<DlRules>, RulesFileError> {
    let path = dd.download_rules_file();
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RulesFileError::Io { path, source }),
    };
    let mut bytes = Vec::new();
    file.take(MAX_RULES_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| RulesFileError::Io {
            path: path.clone(),
            source,
        })?;
    if bytes.len() > MAX_RULES_FILE {
        return Err(RulesFileError::TooLarge { path });
    }
    // VPOP3 wrote these files in a Windows code page; bytes that are not UTF-8 only
    // matter inside match texts, where the lossy form still matches the same ASCII.
    let text = String::from_utf8_lossy(&bytes);
    DlRules::parse(&text).map(Some).map_err(|errors| {
        RulesFileError::Invalid(
            errors
                .into_iter()
                .map(|e| format!("{}:{}: {}", path.display(), e.line, e.message))
                .collect(),
        )
    })
}

/// What a download run uses.
#[derive(Debug)]
pub struct RulesForRun {
    pub rules: Arc<DlRules>,
    /// For the Main Administrator (see [`send_admin_mail`]): set the first time a
    /// broken version of the file is seen.
    pub problem: Option<AdminMail>,
}

/// DLRULES.DAT across download runs: re-read every time, last good version kept.
#[derive(Debug, Default)]
pub struct RulesLoader {
    last_good: Option<Arc<DlRules>>,
    reported: Option<String>,
}

impl RulesLoader {
    pub fn new() -> RulesLoader {
        RulesLoader::default()
    }

    /// Call at the start of each download run that uses download rules.
    pub fn load(&mut self, dd: &DataDir) -> RulesForRun {
        match load_rules(dd) {
            Ok(rules) => {
                let rules = Arc::new(rules.unwrap_or_default());
                self.last_good = Some(rules.clone());
                self.reported = None;
                RulesForRun {
                    rules,
                    problem: None,
                }
            }
            Err(e) => {
                let what = e.to_string();
                tracing::error!("download rules not loaded: {what}");
                let (rules, fallback) = match &self.last_good {
                    Some(r) => (r.clone(), "The previous version of the rules stays in force."),
                    None => (
                        Arc::new(DlRules::default()),
                        "Until it is corrected every message is downloaded as if there were no rules.",
                    ),
                };
                let problem =
                    (self.reported.as_deref() != Some(what.as_str())).then(|| AdminMail {
                        subject: SUBJECT_BAD_RULES.into(),
                        text: format!(
                            "The download rules file could not be used:\n\n{what}\n\n{fallback}\n\
                             Correct the file; it is read again at the start of every download.\n"
                        ),
                    });
                self.reported = Some(what);
                RulesForRun { rules, problem }
            }
        }
    }
}

/// Append one activation to DLRULES.LOG. Failures are logged, never fatal.
pub fn log_activation(dd: &DataDir, inmail: &str, fired: &Fired, header: &[u8], size: u64) {
    let line = log_line(&local_iso8601(unix_secs()), inmail, fired, header, size);
    crate::platform::logfile::append_line(&dd.download_rules_log(), &line);
    tracing::info!(inmail, rule = %fired.rule, action = %fired.action, size, "download rule fired");
}

/// A fresh query token: 96 random bits as hex.
pub fn new_token() -> String {
    let mut b = [0u8; 12];
    if getrandom::getrandom(&mut b).is_err() {
        // Without the OS generator fall back to time and process: still unique, only
        // guessable, which costs at most an unwanted download.
        let t = unix_micros().to_le_bytes();
        b[..8].copy_from_slice(&t);
        b[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A message an Ask rule (or the automatic size-limit rule) holds at the ISP.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    pub inmail: &'a str,
    /// Its UID at the ISP.
    pub uid: &'a str,
    pub fired: &'a Fired,
    pub header: &'a [u8],
    pub size: u64,
    /// The intended recipients (after mapping): user names or addresses.
    pub recipients: &'a [String],
}

/// The Ask action: record the query in the book and, the first time only, mail it to
/// the intended recipients and/or the rule's redirect or copy target. With nobody to
/// ask, the Main Administrator is asked.
pub fn ask(store: &Store, snap: &Snapshot, held: &Held<'_>) -> Result<Asked, DeliveryError> {
    let dd = store.data_dir();
    let token = new_token();
    let now = now();
    let asked = with_book(dd, |b| {
        b.ask(held.inmail, held.uid, &token, &held.fired.rule, now)
    })
    .map_err(|e| storage_error("Ask book", &e))?;
    if asked != Asked::New {
        if asked == Asked::Full {
            tracing::warn!(
                inmail = held.inmail,
                uid = held.uid,
                "Ask book full; message left on the server unasked"
            );
        }
        return Ok(asked);
    }
    let delay = query_delay(snap);
    for (n, to) in addressees(snap, held).iter().enumerate() {
        let id = format!("dlq.{}.{n}", now.unix_micros());
        let data = query_message(&rule_mail(snap, held, to, now, &id), &token, delay);
        crate::services::server_mail::send_to(store, snap, id, to, data)?;
    }
    Ok(asked)
}

/// The mail to `to` about the message `held`.
fn rule_mail<'a>(
    snap: &'a Snapshot,
    held: &'a Held<'_>,
    to: &'a str,
    now: Instant,
    id: &'a str,
) -> RuleMail<'a> {
    RuleMail {
        head: MailHead::new(&snap.config, to, now, id),
        rule: &held.fired.rule,
        inmail: held.inmail,
        header: held.header,
        size: held.size,
    }
}

/// The Delete action's notice (§8.1.1 action 1, 8, 12): to the intended recipients
/// (or the Main Administrator when there are none) and/or the rule's target.
pub fn tell_deleted(store: &Store, snap: &Snapshot, held: &Held<'_>) -> Result<(), DeliveryError> {
    let now = now();
    for (n, to) in addressees(snap, held).iter().enumerate() {
        let id = format!("dld.{}.{n}", now.unix_micros());
        let data = deleted_message(&rule_mail(snap, held, to, now, &id));
        crate::services::server_mail::send_to(store, snap, id, to, data)?;
    }
    Ok(())
}

/// Store an error mail for the Main Administrator. With no administrator account
/// the mail is only logged.
pub fn send_admin_mail(
    store: &Store,
    snap: &Snapshot,
    mail: &AdminMail,
) -> Result<(), DeliveryError> {
    let Some(to) = admin_address(snap) else {
        tracing::error!(subject = %mail.subject, "no Main Administrator account for: {}", mail.text);
        return Ok(());
    };
    let cfg = &snap.config;
    let now = now();
    let id = format!("err.{}", now.unix_micros());
    let data = mail.render(&cfg.hostname, &cfg.default_domain, &to, now, &id);
    crate::services::server_mail::send_to(store, snap, id, &to, data)
}

fn admin_address(snap: &Snapshot) -> Option<String> {
    Names::new(snap)
        .main_admin()
        .map(|a| format!("{}@{}", a.name, snap.config.default_domain))
}

/// Who hears about a held message: the rule's redirect target instead of the
/// recipients, its copy target as well as them.
fn addressees(snap: &Snapshot, held: &Held<'_>) -> Vec<String> {
    let mut out: Vec<String> = match &held.fired.action.target {
        Target::Redirect(t) => vec![t.clone()],
        Target::Recipient => held.recipients.to_vec(),
        Target::Copy(t) => {
            let mut v = held.recipients.to_vec();
            v.push(t.clone());
            v
        }
    };
    out.retain(|a| !is_mailer_daemon(snap, a));
    if out.is_empty() {
        out.extend(admin_address(snap));
    }
    let mut qualified: Vec<String> = Vec::new();
    for a in out {
        let a = if a.contains('@') {
            a
        } else {
            format!("{a}@{}", snap.config.default_domain)
        };
        if !qualified.iter().any(|q| q.eq_ignore_ascii_case(&a)) {
            qualified.push(a);
        }
    }
    qualified
}

/// How long a query stays in the Ask book at most, answered or not: the query delay
/// plus a month, so a message whose DELE or download failed is still recognised on
/// later runs and the book does not keep queries for vanished messages for ever.
pub fn book_retention(snap: &Snapshot) -> Duration {
    query_delay(snap) + Duration::from_secs(30 * 86_400)
}

/// The answer to the collection run's `Decide` for one new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub decision: Decision,
    /// For a download: a Redirect or Copy rule's target; apply it to the message's
    /// sorting with `dlrules::retarget` when storing it.
    pub target: Target,
    /// The rule that decided, if one did (already logged to DLRULES.LOG).
    pub fired: Option<Fired>,
}

/// What the collection runner needs to answer `Decide`.
#[derive(Clone, Copy)]
pub struct DecideFor<'a> {
    pub store: &'a Store,
    pub snap: &'a Snapshot,
    pub inmail: &'a InMail,
    /// 1-based position of the In Mail in `config.inmails`.
    pub inmail_number: usize,
    /// This run's rules ([`RulesLoader::load`]) when the In Mail uses download rules.
    pub rules: Option<&'a DlRules>,
}

/// Decide about one new message from its header (TOP), in this order: an answered or
/// expired query in the Ask book; the automatic size-limit rule; `*REMOTE`-only mail
/// under download rules; DLRULES.DAT. Carries out the side effects of the rule that
/// fired (DLRULES.LOG, the query mail, the deletion notice). Trouble writing those
/// leaves the message on the server.
pub fn decide(ctx: &DecideFor<'_>, uid: Option<&str>, size: u64, header: &[u8]) -> Decided {
    let now = now();
    let dd = ctx.store.data_dir();
    let inmail = ctx.inmail.name.as_str();
    let leave = |fired: Option<Fired>| Decided {
        decision: Decision::Leave,
        target: Target::Recipient,
        fired,
    };
    if let Some(uid) = uid {
        let delay = query_delay(ctx.snap);
        let retention = book_retention(ctx.snap);
        let verdict = with_book(dd, |b| {
            b.prune(now, retention);
            b.verdict(inmail, uid, now, delay)
        });
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(
                    inmail,
                    uid,
                    "cannot read the Ask book: {e}; message left on the server"
                );
                return leave(None);
            }
        };
        let answered = |decision| {
            tracing::info!(inmail, uid, ?verdict, "download query settled");
            Decided {
                decision,
                target: Target::Recipient,
                fired: None,
            }
        };
        match verdict {
            Verdict::NotAsked => {}
            Verdict::Waiting => return leave(None),
            Verdict::Download => return answered(Decision::Download),
            Verdict::Delete | Verdict::Expired => return answered(Decision::Delete),
        }
    }

    let sorted = sort(ctx.snap, ctx.inmail, header);
    let recipients = rule_recipients(&sorted);
    let (weekday, minutes) = rule_clock(unix_secs());
    let input = RuleInput {
        header,
        size,
        recipients: &recipients,
        inmail_number: ctx.inmail_number,
        weekday,
        minutes,
    };
    let Some(fired) = decide_collected(ctx.rules, ctx.inmail, &sorted, &input) else {
        return Decided {
            decision: Decision::Download,
            target: Target::Recipient,
            fired: None,
        };
    };
    log_activation(dd, inmail, &fired, header, size);
    let held = Held {
        inmail,
        uid: uid.unwrap_or(""),
        fired: &fired,
        header,
        size,
        recipients: &recipients,
    };
    let decision = match fired.action.kind {
        Kind::Download => Decision::Download,
        Kind::DownloadDelete => Decision::DownloadDelete,
        Kind::Ignore => Decision::Leave,
        Kind::DeleteSilently => Decision::Delete,
        Kind::Delete => match tell_deleted(ctx.store, ctx.snap, &held) {
            Ok(()) => Decision::Delete,
            Err(e) => {
                tracing::error!(
                    inmail,
                    "cannot store the deletion notice ({}); message left on the server",
                    e.text
                );
                Decision::Leave
            }
        },
        Kind::Ask => {
            if uid.is_none() {
                tracing::warn!(inmail, rule = %fired.rule, "the server gives no message ids, so nobody can be asked; message left on the server");
            } else if let Err(e) = ask(ctx.store, ctx.snap, &held) {
                tracing::error!(inmail, "cannot send the download query: {}", e.text);
            }
            Decision::Leave
        }
    };
    let target = if fired.action.kind.downloads() {
        fired.action.target.clone()
    } else {
        Target::Recipient
    };
    Decided {
        decision,
        target,
        fired: Some(fired),
    }
}

/// `RuleInput::weekday` and `RuleInput::minutes` at Unix time `secs`, in local time.
pub fn rule_clock(secs: i64) -> (u8, u16) {
    clock_at(secs + crate::services::scheduler::localclock::offset_at(secs))
}

/// (weekday 1 = Sunday … 7 = Saturday, minutes since midnight) of a local stamp.
fn clock_at(local_secs: i64) -> (u8, u16) {
    let days = local_secs.div_euclid(86_400);
    // 1970-01-01 was a Thursday (5).
    let weekday = (days + 4).rem_euclid(7) as u8 + 1;
    let minutes = (local_secs.rem_euclid(86_400) / 60) as u16;
    (weekday, minutes)
}

fn storage_error(what: &str, e: &io::Error) -> DeliveryError {
    tracing::error!("cannot write the {what}: {e}");
    DeliveryError {
        temporary: true,
        text: format!("cannot write the {what}"),
    }
}

pub(crate) fn unix_secs() -> i64 {
    crate::services::scheduler::localclock::unix_now()
}

/// ISO 8601 local time with its offset, as the other logs (DECISIONS.md).
pub(crate) fn local_iso8601(secs: i64) -> String {
    let off = crate::services::scheduler::localclock::offset_at(secs);
    let utc = crate::platform::datetime::iso8601((secs + off).max(0) as u64);
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    format!(
        "{}{sign}{:02}:{:02}",
        utc.trim_end_matches("+00:00"),
        a / 3600,
        a % 3600 / 60
    )
}

#[cfg(test)]
mod tests;
