//! The finger server (SVC-3, manual §11.5, RFC 1288): one query line in, the user's
//! facts filled into the Finger Results Template out, then close.
//!
//! The session asks the driver for the facts ([`FingerEvent::Query`]), which it reads
//! from the accounts and the mail store; [`render`] fills the template, so the tags
//! are tested here without any of that.
//!
//! Template tags (§11.5.5): `<id>`, `<messagecount>`, `<nomessages-TEXT>` (TEXT when
//! no mail waits), `<plan>`, `<info>`, and any other name is the user's LDAP attribute
//! of that name (`<mail>`, `<cn>`, ...). `<-tag>` is shown only for a verbose query
//! (`/W`). Mailroom adds `<messages-TEXT>` (TEXT when mail waits), so the manual's
//! "User has waiting messages" can be written.

use crate::machine::{Input, Machine, Output};
use crate::Instant;
use std::time::Duration;

/// Longest query line accepted (RFC 1288 queries are a user name and `/W`).
pub const MAX_QUERY: usize = 512;
/// Seconds to wait for the query.
pub const IDLE: Duration = Duration::from_secs(60);
/// Longest answer written (a plan file may be big).
pub const MAX_ANSWER: usize = 64 * 1024;

/// The default template: the manual's example output (§11.5.2).
pub const DEFAULT_TEMPLATE: &str = "UserId: <id>\nEmail Address: <mail>\n\n\
<messages-User has waiting messages><nomessages-User has no waiting messages>\n\
<-info>\n<-plan>\n";

/// What was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `/W` came first.
    pub verbose: bool,
    /// The user asked about; empty for "who is here" (the list, which is refused).
    pub user: String,
    /// `user@host`: a request to finger another host, which is refused.
    pub forward: bool,
}

/// RFC 1288 §2.3: `{Q1} ::= [{W}|{W}{S}{U}]{C}`, `{Q2} ::= [{W}{S}][{U}]{H}{C}`.
pub fn parse_query(line: &[u8]) -> Query {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']).trim();
    let (verbose, rest) = match text.get(..2) {
        Some(w) if w.eq_ignore_ascii_case("/w") => (true, text[2..].trim_start()),
        _ => (false, text),
    };
    Query {
        verbose,
        user: rest.split('@').next().unwrap_or("").to_string(),
        forward: rest.contains('@'),
    }
}

/// What the driver knows about the user, for [`render`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub id: String,
    pub message_count: u64,
    /// USERPLAN.TXT, if any.
    pub plan: Option<String>,
    /// USERINFO.TXT, if any.
    pub info: Option<String>,
    /// LDAP attributes by lower-case name (`mail`, `cn`, ...).
    pub attributes: Vec<(String, String)>,
}

/// The template filled in for `facts`. An unknown tag or attribute is left out; a
/// `<` without a closing `>` is text.
pub fn render(template: &str, verbose: bool, facts: &Facts) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = &after[..close];
        rest = &after[close + 1..];
        let (verbose_only, tag) = match tag.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, tag),
        };
        if verbose_only && !verbose {
            continue;
        }
        out.push_str(&tag_value(tag, facts));
    }
    out.push_str(rest);
    out
}

fn tag_value(tag: &str, facts: &Facts) -> String {
    let lower = tag.to_ascii_lowercase();
    if let Some(text) = lower
        .starts_with("nomessages-")
        .then(|| &tag["nomessages-".len()..])
    {
        return if facts.message_count == 0 {
            text.to_string()
        } else {
            String::new()
        };
    }
    if let Some(text) = lower
        .starts_with("messages-")
        .then(|| &tag["messages-".len()..])
    {
        return if facts.message_count > 0 {
            text.to_string()
        } else {
            String::new()
        };
    }
    match lower.as_str() {
        "id" => facts.id.clone(),
        "messagecount" => facts.message_count.to_string(),
        "plan" => facts.plan.clone().unwrap_or_default(),
        "info" => facts.info.clone().unwrap_or_default(),
        name => facts
            .attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    }
}

/// The text sent back: lines end in CRLF, no control characters but tab, no blank
/// lines at the end (a tag shown only to verbose queries leaves none), bounded.
pub fn wire_text(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len().min(MAX_ANSWER) + 2);
    for line in text.trim_end().lines() {
        if out.len() >= MAX_ANSWER {
            break;
        }
        out.extend(
            line.chars()
                .filter(|c| *c == '\t' || !c.is_control())
                .collect::<String>()
                .bytes(),
        );
        out.extend_from_slice(b"\r\n");
    }
    out.truncate(MAX_ANSWER);
    out
}

#[derive(Debug, PartialEq, Eq)]
pub enum FingerEvent {
    /// Look the user up and answer with [`FingerCommand::Answer`].
    Query(Query),
}

#[derive(Debug, PartialEq, Eq)]
pub enum FingerCommand {
    /// The text to send (already rendered); the session then closes.
    Answer(String),
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Reading,
    Asked,
    Closing,
    Closed,
}

/// One finger connection.
pub struct FingerServer {
    line: Vec<u8>,
    state: State,
    pending: Option<FingerEvent>,
    out: Vec<u8>,
    deadline: Instant,
    latest: Instant,
}

impl FingerServer {
    pub fn new(now: Instant) -> FingerServer {
        FingerServer {
            line: Vec::new(),
            state: State::Reading,
            pending: None,
            out: Vec::new(),
            deadline: now + IDLE,
            latest: now,
        }
    }

    fn refuse(&mut self, text: &str) {
        self.out.extend(wire_text(text));
        self.state = State::Closing;
    }
}

impl Machine for FingerServer {
    type Command = FingerCommand;
    type Event = FingerEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.latest = self.latest.max(now);
        if input == Input::Eof && matches!(self.state, State::Reading | State::Asked) {
            // Nobody is left to read the answer.
            self.pending = None;
            self.state = State::Closing;
            return;
        }
        if self.state != State::Reading {
            return;
        }
        match input {
            Input::Bytes(b) => {
                let end = memchr::memchr(b'\n', b);
                let take = end.map_or(b.len(), |i| i + 1);
                self.line.extend_from_slice(&b[..take]);
                if self.line.len() > MAX_QUERY {
                    self.refuse("Query too long.");
                } else if end.is_some() {
                    let q = parse_query(&self.line);
                    if q.forward {
                        self.refuse("Finger forwarding service denied.");
                    } else if q.user.is_empty() {
                        self.refuse("Finger online user list denied.");
                    } else {
                        self.pending = Some(FingerEvent::Query(q));
                        self.state = State::Asked;
                    }
                }
            }
            Input::Eof => {}
            Input::Tick => {
                if self.latest >= self.deadline {
                    self.state = State::Closing;
                }
            }
        }
    }

    fn handle_command(&mut self, _now: Instant, cmd: FingerCommand) {
        match (cmd, &self.state) {
            (FingerCommand::Answer(text), State::Asked) if self.pending.is_none() => {
                self.out.extend(wire_text(&text));
                self.state = State::Closing;
            }
            (cmd, _) => tracing::debug!(?cmd, "finger: command nobody asked for"),
        }
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<FingerEvent> {
        out.append(&mut self.out);
        if let Some(e) = self.pending.take() {
            return Output::Event(e);
        }
        match self.state {
            State::Reading => Output::Wait(Some(self.deadline)),
            State::Asked | State::Closed => Output::Wait(None),
            State::Closing => {
                self.state = State::Closed;
                Output::Close
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(count: u64) -> Facts {
        Facts {
            id: "paul".into(),
            message_count: count,
            plan: Some("Skiing in January.".into()),
            info: Some("Extension 214".into()),
            attributes: vec![
                ("mail".into(), "paul@domain.com".into()),
                ("cn".into(), "Paul Smith".into()),
            ],
        }
    }

    #[test]
    fn the_manuals_example() {
        let text = render(DEFAULT_TEMPLATE, false, &facts(3));
        assert_eq!(
            text,
            "UserId: paul\nEmail Address: paul@domain.com\n\nUser has waiting messages\n\n\n"
        );
        let text = render(DEFAULT_TEMPLATE, true, &facts(0));
        assert_eq!(
            text,
            "UserId: paul\nEmail Address: paul@domain.com\n\nUser has no waiting messages\n\
             Extension 214\nSkiing in January.\n"
        );
    }

    #[test]
    fn every_tag() {
        let t = "<id>|<messagecount>|<nomessages-none>|<plan>|<info>|<CN>|<title>|<-mail>";
        assert_eq!(
            render(t, false, &facts(0)),
            "paul|0|none|Skiing in January.|Extension 214|Paul Smith||"
        );
        assert_eq!(
            render(t, true, &facts(2)),
            "paul|2||Skiing in January.|Extension 214|Paul Smith||paul@domain.com"
        );
        assert_eq!(render("a < b", false, &facts(0)), "a < b");
    }

    #[test]
    fn queries() {
        let q = |s: &str| parse_query(s.as_bytes());
        assert_eq!(
            q("paul\r\n"),
            Query {
                verbose: false,
                user: "paul".into(),
                forward: false
            }
        );
        assert_eq!(
            q("/W paul\r\n"),
            Query {
                verbose: true,
                user: "paul".into(),
                forward: false
            }
        );
        assert!(q("paul@elsewhere\r\n").forward);
        assert_eq!(q("\r\n").user, "");
    }

    fn run(m: &mut FingerServer, input: &[u8]) -> (Vec<u8>, Vec<Output<FingerEvent>>) {
        let now = Instant::from_secs(1);
        m.handle_input(now, Input::Bytes(input));
        let mut out = Vec::new();
        let mut steps = Vec::new();
        loop {
            let o = m.poll_output(&mut out);
            let stop = matches!(o, Output::Wait(_) | Output::Close);
            steps.push(o);
            if stop {
                break;
            }
        }
        (out, steps)
    }

    #[test]
    fn a_session_asks_then_answers_and_closes() {
        let mut m = FingerServer::new(Instant::from_secs(1));
        let (out, steps) = run(&mut m, b"/W pa");
        assert!(out.is_empty());
        assert!(matches!(steps[..], [Output::Wait(Some(_))]));
        let (_, steps) = run(&mut m, b"ul\r\n");
        assert_eq!(
            steps[0],
            Output::Event(FingerEvent::Query(Query {
                verbose: true,
                user: "paul".into(),
                forward: false
            }))
        );
        m.handle_command(
            Instant::from_secs(2),
            FingerCommand::Answer("hi\nthere".into()),
        );
        let (out, steps) = run(&mut m, b"");
        assert_eq!(out, b"hi\r\nthere\r\n");
        assert_eq!(wire_text("a\n\nb\n\n\n"), b"a\r\n\r\nb\r\n");
        assert_eq!(steps, [Output::Close]);
        // Finished: nothing more, whatever comes.
        m.handle_command(Instant::from_secs(3), FingerCommand::Answer("x".into()));
        let (out, steps) = run(&mut m, b"more\r\n");
        assert!(out.is_empty());
        assert_eq!(steps, [Output::Wait(None)]);
    }

    #[test]
    fn refusals_and_bounds() {
        for (input, reply) in [
            (&b"\r\n"[..], &b"Finger online user list denied.\r\n"[..]),
            (b"a@b\r\n", b"Finger forwarding service denied.\r\n"),
        ] {
            let mut m = FingerServer::new(Instant::from_secs(1));
            let (out, steps) = run(&mut m, input);
            assert_eq!(out, reply);
            assert_eq!(steps, [Output::Close]);
        }
        let mut m = FingerServer::new(Instant::from_secs(1));
        let (out, steps) = run(&mut m, &[b'x'; MAX_QUERY + 1]);
        assert_eq!(out, b"Query too long.\r\n");
        assert_eq!(steps, [Output::Close]);
        let evil = "a\x1b[2Jb\u{7}".to_string() + &"y".repeat(MAX_ANSWER * 2);
        let w = wire_text(&evil);
        assert_eq!(w.len(), MAX_ANSWER);
        assert!(!w.contains(&0x1b));
    }
}
