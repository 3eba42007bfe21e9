//! The Ask book (§8.1.1, actions 6, 7 and 11): messages left at the ISP while their
//! intended recipients are asked whether to download them.
//!
//! A query mail from `Mailer_Daemon@<default domain>` carries the message's header,
//! the rule's name and a token in its subject (`[DLQ-…]`). A reply that keeps the
//! subject asks for the message at the next connection; a reply whose text begins with
//! the word `DELETE` has it deleted at the ISP at the next connection. Without a reply
//! the message stays on the server for the "Query Download Delay" and is then deleted.
//!
//! Pure state: the runtime persists it (text, [`AskBook::to_text`] / [`AskBook::parse`])
//! and supplies the tokens (random) and the time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::dsn::{build_text, MailHead, TextMail};
use crate::router::headers::header_end;
use crate::time::Instant;

/// "Query Download Delay" when the configuration gives none: a week, long enough for
/// someone back from a few days away to answer.
pub const DEFAULT_QUERY_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Most queries kept at once; more are not asked (the message stays on the server
/// until there is room), so a flood of matching spam cannot grow the book without end.
pub const MAX_QUERIES: usize = 10_000;

/// Longest token accepted in a subject or the book.
const MAX_TOKEN: usize = 64;
/// Most header octets quoted in a query mail.
const MAX_QUOTED_HEADER: usize = 64 * 1024;

const TOKEN_OPEN: &str = "[DLQ-";
const BOOK_MAGIC: &str = "mailroom-askbook 1";

/// Where a query stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Asked, no reply yet.
    Pending,
    /// A reply asked for the message: download it next time.
    Download,
    /// A reply began with DELETE: delete it at the ISP next time.
    Delete,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Download => "download",
            State::Delete => "delete",
        }
    }

    fn from_word(w: &str) -> Option<State> {
        Some(match w {
            "pending" => State::Pending,
            "download" => State::Download,
            "delete" => State::Delete,
            _ => return None,
        })
    }
}

/// One message waiting at the ISP for an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The In Mail's name.
    pub inmail: String,
    /// The message's unique id at the ISP (UIDL, or the header hash without UIDL).
    pub uid: String,
    /// The token in the query's subject.
    pub token: String,
    /// The rule that asked.
    pub rule: String,
    pub asked: Instant,
    pub state: State,
}

/// What the collection runner does with a message the book knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not in the book: evaluate the download rules.
    NotAsked,
    /// Asked, no answer yet, delay not over: leave it on the server (also past the
    /// leave-on-server days) and do not ask again.
    Waiting,
    /// Download it as normal, to its intended recipients, without evaluating the rules;
    /// then call [`AskBook::done`].
    Download,
    /// Delete it at the ISP (a DELETE reply); then call [`AskBook::done`].
    Delete,
    /// No answer within the delay: delete it at the ISP; then call [`AskBook::done`].
    Expired,
}

/// Result of [`AskBook::ask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Recorded: send the query mail now.
    New,
    /// Already asked earlier: send nothing.
    Already,
    /// The book is full: send nothing; the message stays on the server.
    Full,
}

/// A recognised reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub inmail: String,
    pub uid: String,
    pub rule: String,
    pub state: State,
}

/// A line of a stored book that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BookError {
    pub line: usize,
    pub message: String,
}

/// Every pending and answered query, keyed by In Mail and UID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AskBook {
    queries: BTreeMap<(String, String), Query>,
}

impl AskBook {
    pub fn new() -> AskBook {
        AskBook::default()
    }

    pub fn len(&self) -> usize {
        self.queries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    pub fn get(&self, inmail: &str, uid: &str) -> Option<&Query> {
        self.queries.get(&(inmail.to_string(), uid.to_string()))
    }

    pub fn queries(&self) -> impl Iterator<Item = &Query> {
        self.queries.values()
    }

    /// What to do with message `uid` of `inmail` at time `now`.
    pub fn verdict(&self, inmail: &str, uid: &str, now: Instant, delay: Duration) -> Verdict {
        match self.get(inmail, uid) {
            None => Verdict::NotAsked,
            Some(q) => match q.state {
                State::Download => Verdict::Download,
                State::Delete => Verdict::Delete,
                State::Pending if now.saturating_since(q.asked) >= delay => Verdict::Expired,
                State::Pending => Verdict::Waiting,
            },
        }
    }

    /// Record that message `uid` of `inmail` is being asked about under `token`
    /// (unique, chosen by the runtime; letters and digits only).
    pub fn ask(&mut self, inmail: &str, uid: &str, token: &str, rule: &str, now: Instant) -> Asked {
        let key = (inmail.to_string(), uid.to_string());
        if self.queries.contains_key(&key) {
            return Asked::Already;
        }
        if self.queries.len() >= MAX_QUERIES {
            return Asked::Full;
        }
        self.queries.insert(
            key,
            Query {
                inmail: inmail.to_string(),
                uid: uid.to_string(),
                token: token.to_string(),
                rule: rule.to_string(),
                asked: now,
                state: State::Pending,
            },
        );
        Asked::New
    }

    /// A message sent to Mailer_Daemon: if its subject carries a known token, the
    /// answer (DELETE when the text begins with that word, else download). `message`
    /// is the whole reply, header and body. A second reply overrides the first.
    pub fn answer(&mut self, message: &[u8]) -> Option<Answer> {
        let end = header_end(message);
        let subject = subject_of(&message[..end])?;
        let token = token_in(&subject)?;
        let q = self.queries.values_mut().find(|q| q.token == token)?;
        q.state = if begins_with_delete(&message[end..]) {
            State::Delete
        } else {
            State::Download
        };
        Some(Answer {
            inmail: q.inmail.clone(),
            uid: q.uid.clone(),
            rule: q.rule.clone(),
            state: q.state,
        })
    }

    /// The message was downloaded or deleted: forget it.
    pub fn done(&mut self, inmail: &str, uid: &str) {
        self.queries.remove(&(inmail.to_string(), uid.to_string()));
    }

    /// After listing `inmail`'s mailbox: forget queries for messages no longer there
    /// (the ISP deleted them, or someone else collected them).
    pub fn retain_present(&mut self, inmail: &str, present: impl Fn(&str) -> bool) {
        self.queries
            .retain(|(i, uid), _| i != inmail || present(uid));
    }

    /// Forget queries asked longer than `max_age` ago, answered or not: their
    /// messages were collected or deleted long since, or are gone from the server.
    /// `max_age` must be longer than the query delay, or pending queries would be
    /// forgotten before they expire.
    pub fn prune(&mut self, now: Instant, max_age: Duration) {
        self.queries
            .retain(|_, q| now.saturating_since(q.asked) <= max_age);
    }

    /// The stored form: a header line, then one tab-separated line per query.
    pub fn to_text(&self) -> String {
        let mut s = format!("{BOOK_MAGIC}\n");
        for q in self.queries.values() {
            let _ = writeln!(
                s,
                "{}\t{}\t{}\t{}\t{}\t{}",
                escape(&q.token),
                q.state.word(),
                q.asked.unix_micros(),
                escape(&q.inmail),
                escape(&q.uid),
                escape(&q.rule)
            );
        }
        s
    }

    /// Read what [`AskBook::to_text`] wrote; the wall-clock stamps are placed on the
    /// monotonic line of `now`.
    pub fn parse(text: &str, now: Instant) -> Result<AskBook, BookError> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l == BOOK_MAGIC => {}
            _ => {
                return Err(BookError {
                    line: 1,
                    message: format!("not an Ask book (the first line is not `{BOOK_MAGIC}`)"),
                })
            }
        }
        let mut book = AskBook::new();
        for (i, line) in lines {
            let line_no = i + 1;
            if line.is_empty() {
                continue;
            }
            let bad = |what: &str| BookError {
                line: line_no,
                message: what.to_string(),
            };
            let parts: Vec<&str> = line.split('\t').collect();
            let [token, state, asked, inmail, uid, rule] = parts.as_slice() else {
                return Err(bad("expected 6 tab-separated fields"));
            };
            let q = Query {
                token: unescape(token).ok_or_else(|| bad("bad escape in the token"))?,
                state: State::from_word(state).ok_or_else(|| bad("unknown state"))?,
                asked: Instant::from_unix_stamp(asked.parse().map_err(|_| bad("bad time"))?, now),
                inmail: unescape(inmail).ok_or_else(|| bad("bad escape in the In Mail"))?,
                uid: unescape(uid).ok_or_else(|| bad("bad escape in the UID"))?,
                rule: unescape(rule).ok_or_else(|| bad("bad escape in the rule"))?,
            };
            book.queries.insert((q.inmail.clone(), q.uid.clone()), q);
        }
        Ok(book)
    }
}

/// `%`, tab and line ends as `%XX`, so every field stays on its line.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' | '\t' | '\r' | '\n' => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The token in a query's (or a reply's) subject: `… [DLQ-token] …`.
pub fn token_in(subject: &str) -> Option<&str> {
    let start = subject.find(TOKEN_OPEN)? + TOKEN_OPEN.len();
    let rest = &subject[start..];
    let end = rest.find(']')?;
    let token = &rest[..end];
    (!token.is_empty()
        && token.len() <= MAX_TOKEN
        && token.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(token)
}

/// The unfolded Subject of a header block.
fn subject_of(header: &[u8]) -> Option<String> {
    use crate::router::headers::{fields, unfold};
    let f = fields(header, header.len())
        .into_iter()
        .find(|f| f.is(header, "Subject"))?;
    Some(
        unfold(&String::from_utf8_lossy(f.value(header)))
            .trim()
            .to_string(),
    )
}

/// Whether the reply's text begins with the word DELETE (any case). MIME structure in
/// front of the text (a preamble, boundaries, part headers) and quoted lines are
/// skipped; only the first line of real text counts.
fn begins_with_delete(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let mut in_part_header = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("--") {
            in_part_header = true;
            continue;
        }
        if in_part_header {
            if l.is_empty() {
                in_part_header = false;
            }
            continue;
        }
        if l.is_empty() || l.starts_with("This is a multi-part message") {
            continue;
        }
        let word: String = l.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        return word.eq_ignore_ascii_case("delete");
    }
    false
}

/// A mail about a message a download rule held (a query) or deleted at the ISP.
#[derive(Debug, Clone, Copy)]
pub struct RuleMail<'a> {
    /// To the person told (an intended recipient, or the redirect/copy target).
    pub head: MailHead<'a>,
    pub rule: &'a str,
    pub inmail: &'a str,
    /// The message's header (only the header is quoted).
    pub header: &'a [u8],
    pub size: u64,
}

impl RuleMail<'_> {
    /// `subject` (without the message's own subject, which follows it) and `intro`
    /// above the quoted header.
    fn build(&self, subject: &str, intro: &str) -> Vec<u8> {
        let head = &self.header[..header_end(self.header).min(MAX_QUOTED_HEADER)];
        let subject = format!("{subject}{}", subject_of(head).unwrap_or_default());
        let mut text = intro.to_string();
        text.push_str(&String::from_utf8_lossy(head));
        build_text(&TextMail {
            head: self.head,
            subject: &subject,
            text: &text,
        })
    }
}

/// The query mail from Mailer_Daemon: the header of the waiting message, the rule
/// that held it and how to answer (`token` marks the subject, `delay` is the Query
/// Download Delay).
pub fn query_message(m: &RuleMail<'_>, token: &str, delay: Duration) -> Vec<u8> {
    let days = delay.as_secs().div_ceil(86_400);
    let intro = format!(
        "A message waiting at your ISP (In Mail \"{}\") matched the download rule\n\
         \"{}\", so it has not been downloaded. It is {} bytes long; its header is below.\n\
         \n\
         To have it downloaded at the next connection, reply to this message keeping\n\
         the subject line as it is.\n\
         To have it deleted from the ISP's server, reply with a message beginning with\n\
         the word DELETE.\n\
         Without a reply it stays on the server for {days} days and is then deleted.\n\
         \n\
         ---- header of the waiting message ----\n",
        m.inmail, m.rule, m.size
    );
    m.build(&format!("Download query {TOKEN_OPEN}{token}]: "), &intro)
}

/// A `*` (Delete) rule's notice: the message was deleted at the ISP unread.
pub fn deleted_message(m: &RuleMail<'_>) -> Vec<u8> {
    let intro = format!(
        "A message at your ISP (In Mail \"{}\") matched the download rule \"{}\"\n\
         and was deleted from the ISP's server without being downloaded.\n\
         It was {} bytes long; its header is below.\n\
         \n\
         ---- header of the deleted message ----\n",
        m.inmail, m.rule, m.size
    );
    m.build("Message deleted by download rule: ", &intro)
}

#[cfg(test)]
mod tests;
