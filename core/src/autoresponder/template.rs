//! The simple autoresponder's text (§4.2.3.2.1): message sections, inline expansion
//! tags and response definition tags, parsed once and rendered per message.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::datefmt;
use crate::config::DateOrder;

/// Longest text read as a template; the rest is ignored.
pub const MAX_TEMPLATE: usize = 256 * 1024;

/// A parsed autoresponder text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The text begins with `<html>`: the response is HTML.
    pub html: bool,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: Kind,
    pub lines: Vec<Line>,
}

/// What picks a section (§4.2.3.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `[All]`, and the text before the first section line.
    All,
    /// `[Default]`: when no earlier `[Section:…]` matched.
    Default,
    /// `[Section:text]`: when the original subject contains `text` (any case).
    Subject(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text(String),
    Tag(Tag),
}

/// The response definition tags (§4.2.3.2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    From(String),
    ReplyTo(String),
    To(String),
    ToFrom,
    Subject(String),
    SubjectPrefix(String),
    Keep,
    NoKeep,
    AppendMsg,
    AppendHdr,
    Include(String),
    Attach(String),
    OnlyOnce,
    Valid(String),
    CopyTo(String),
}

impl Template {
    pub fn parse(text: &str) -> Template {
        let text = match text.char_indices().nth(MAX_TEMPLATE) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        let html = text
            .trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("<html>"));
        let mut sections = vec![Section {
            kind: Kind::All,
            lines: Vec::new(),
        }];
        for raw in text.lines() {
            let line = raw.trim_end_matches('\r');
            if let Some(kind) = section_line(line) {
                sections.push(Section {
                    kind,
                    lines: Vec::new(),
                });
                continue;
            }
            let parsed = match tag_line(line) {
                Some(t) => Line::Tag(t),
                None => Line::Text(unescape_start(line).to_string()),
            };
            if let Some(s) = sections.last_mut() {
                s.lines.push(parsed);
            }
        }
        Template { html, sections }
    }

    /// The files `<Include:>` and `<Attach:>` name, for the runtime to read.
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.sections {
            for l in &s.lines {
                if let Line::Tag(Tag::Include(f) | Tag::Attach(f)) = l {
                    if !out.contains(f) {
                        out.push(f.clone());
                    }
                }
            }
        }
        out
    }

    /// The sections that answer a message with `subject` at local time `now`.
    fn chosen(&self, subject: &str, now: &NaiveDateTime, order: DateOrder) -> Vec<&Section> {
        let subject = subject.to_lowercase();
        let mut matched = false;
        let mut out = Vec::new();
        for s in &self.sections {
            if !valid(s, now, order) {
                continue;
            }
            let take = match &s.kind {
                Kind::All => true,
                Kind::Default => !matched,
                Kind::Subject(t) => {
                    let hit = subject.contains(&t.to_lowercase());
                    matched |= hit;
                    hit
                }
            };
            if take {
                out.push(s);
            }
        }
        out
    }

    /// The leading section's `<Valid:>` conditions hold at `now` (they govern the
    /// whole text: a vacation text with dates says nothing outside them).
    pub fn in_force(&self, now: &NaiveDateTime, order: DateOrder) -> bool {
        self.sections.first().is_none_or(|s| valid(s, now, order))
    }
}

/// `[Section:x]`, `[All]`, `[Default]` at the very start of a line.
fn section_line(line: &str) -> Option<Kind> {
    let inner = line.trim_end().strip_prefix('[')?.strip_suffix(']')?;
    if inner.eq_ignore_ascii_case("all") {
        return Some(Kind::All);
    }
    if inner.eq_ignore_ascii_case("default") {
        return Some(Kind::Default);
    }
    let (name, rest) = inner.split_once(':')?;
    name.trim()
        .eq_ignore_ascii_case("section")
        .then(|| Kind::Subject(rest.trim().to_string()))
}

/// A line that is only a definition tag.
fn tag_line(line: &str) -> Option<Tag> {
    let inner = line.trim_end().strip_prefix('<')?.strip_suffix('>')?;
    let (name, value) = match inner.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
        None => (inner.trim(), None),
    };
    let n = name.to_ascii_lowercase();
    Some(match (n.as_str(), value) {
        ("keep", None) => Tag::Keep,
        ("nokeep", None) => Tag::NoKeep,
        ("appendmsg", None) => Tag::AppendMsg,
        ("appendhdr", None) => Tag::AppendHdr,
        ("onlyonce", None) => Tag::OnlyOnce,
        ("to", Some(v)) if v.eq_ignore_ascii_case("from") => Tag::ToFrom,
        ("to", Some(v)) => Tag::To(v),
        ("from", Some(v)) => Tag::From(v),
        ("replyto", Some(v)) => Tag::ReplyTo(v),
        ("subject", Some(v)) => Tag::Subject(v),
        ("subjectprefix", Some(v)) => Tag::SubjectPrefix(v),
        ("include", Some(v)) => Tag::Include(v),
        ("attach", Some(v)) => Tag::Attach(v),
        ("valid", Some(v)) => Tag::Valid(v),
        ("copyto", Some(v)) => Tag::CopyTo(v),
        _ => return None,
    })
}

/// `\[` and `\<` at the start of a line are a real `[` and `<`.
fn unescape_start(line: &str) -> &str {
    match line.strip_prefix('\\') {
        Some(rest) if rest.starts_with(['[', '<']) => rest,
        _ => line,
    }
}

fn valid(s: &Section, now: &NaiveDateTime, order: DateOrder) -> bool {
    s.lines.iter().all(|l| match l {
        Line::Tag(Tag::Valid(v)) => valid_at(v, now, order),
        _ => true,
    })
}

/// `<Valid:…>` (§4.2.3.2.1.3): comma-separated date ranges, time ranges and day
/// names. Conditions of one kind are alternatives (`Mon, Tue` = either day) and the
/// kinds must all hold; an unreadable condition never holds, so a typo silences the
/// section rather than answering at the wrong time.
pub fn valid_at(spec: &str, now: &NaiveDateTime, order: DateOrder) -> bool {
    let (mut dates, mut times, mut days) = (None::<bool>, None::<bool>, None::<bool>);
    let minutes = (now.hour() * 60 + now.minute()) as u16;
    for c in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if let Some(i) = (0..7).find(|&i| datefmt::day_abbrev(i).eq_ignore_ascii_case(c)) {
            let hit = now.weekday().num_days_from_monday() as usize == i;
            days = Some(days.unwrap_or(false) || hit);
        } else if c.contains(':') {
            let hit = match c.split_once('-') {
                Some(_) => crate::rulefmt::parse_time_range(c)
                    .is_ok_and(|(a, b)| crate::rulefmt::time_in_range(a, b, minutes)),
                None => clock(c) == Some(minutes),
            };
            times = Some(times.unwrap_or(false) || hit);
        } else {
            let today = now.date();
            let hit = match c.split_once('-') {
                Some((a, b)) => match (date(a, order), date(b, order)) {
                    (Some(a), Some(b)) => a <= today && today <= b,
                    _ => false,
                },
                None => date(c, order) == Some(today),
            };
            dates = Some(dates.unwrap_or(false) || hit);
        }
    }
    [dates, times, days].iter().all(|k| k.unwrap_or(true))
}

fn clock(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn date(s: &str, order: DateOrder) -> Option<NaiveDate> {
    let p: Vec<i32> = s
        .trim()
        .split('/')
        .map(|x| x.trim().parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, c] = p.as_slice() else {
        return None;
    };
    let (d, m, y) = match order {
        DateOrder::Dmy => (*a, *b, *c),
        DateOrder::Mdy => (*b, *a, *c),
        DateOrder::Ymd => (*c, *b, *a),
    };
    let y = if (0..100).contains(&y) { 2000 + y } else { y };
    NaiveDate::from_ymd_opt(y, u32::try_from(m).ok()?, u32::try_from(d).ok()?)
}

/// What the original message says, for the inline tags.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub subject: &'a str,
    pub originator: &'a str,
    pub local: NaiveDateTime,
    pub order: DateOrder,
}

/// Where the response goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The return path (RFC 3834 §3.1.2; the manual's default is Reply-To, but its
    /// RFC 3834 mode, on by default, answers the return path).
    ReturnPath,
    /// `<To:From>`.
    From,
    /// `<To:address>`.
    Address(String),
}

/// A rendered response, before it becomes a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub html: bool,
    pub subject: String,
    pub from: Option<String>,
    pub reply_to: Option<String>,
    pub to: Target,
    /// `<Keep>` / `<NoKeep>`, the last one chosen.
    pub keep: Option<bool>,
    pub append_msg: bool,
    pub append_hdr: bool,
    pub attach: Vec<String>,
    pub only_once: bool,
    pub copy_to: Option<String>,
}

/// Render `t` for a message: the chosen sections' text, with tags applied in order.
/// Sections are trimmed of blank lines at either end and set one blank line apart
/// (what the manual's examples show). `files` holds what `<Include:>` names.
pub fn render(t: &Template, facts: &Facts<'_>, files: &BTreeMap<String, Vec<u8>>) -> Rendered {
    let chosen = t.chosen(facts.subject, &facts.local, facts.order);
    let mut r = Rendered {
        text: String::new(),
        html: t.html,
        subject: format!("Auto: {}", facts.subject.trim()),
        from: None,
        reply_to: None,
        to: Target::ReturnPath,
        keep: None,
        append_msg: false,
        append_hdr: false,
        attach: Vec::new(),
        only_once: false,
        copy_to: None,
    };
    if facts.subject.trim().is_empty() {
        r.subject = "Automatic reply".into();
    }
    for s in &chosen {
        for l in &s.lines {
            let Line::Tag(tag) = l else { continue };
            match tag {
                Tag::From(v) => r.from = Some(v.clone()),
                Tag::ReplyTo(v) => r.reply_to = Some(v.clone()),
                Tag::To(v) => r.to = Target::Address(v.clone()),
                Tag::ToFrom => r.to = Target::From,
                Tag::Subject(v) => r.subject = v.clone(),
                Tag::SubjectPrefix(p) => r.subject = format!("{p} {}", facts.subject.trim()),
                Tag::Keep => r.keep = Some(true),
                Tag::NoKeep => r.keep = Some(false),
                Tag::AppendMsg => r.append_msg = true,
                Tag::AppendHdr => r.append_hdr = true,
                Tag::Attach(f) => r.attach.push(f.clone()),
                Tag::OnlyOnce => r.only_once = true,
                Tag::CopyTo(a) => r.copy_to = Some(a.clone()),
                Tag::Include(_) | Tag::Valid(_) => {}
            }
        }
    }
    let mut parts = Vec::new();
    for s in &chosen {
        let name = match &s.kind {
            Kind::All => "All".to_string(),
            Kind::Default => "Default".to_string(),
            Kind::Subject(x) => x.clone(),
        };
        let mut lines: Vec<String> = Vec::new();
        for l in &s.lines {
            match l {
                Line::Text(x) => lines.push(expand(x, facts, &r.subject, &name)),
                Line::Tag(Tag::Include(f)) => {
                    if let Some(data) = files.get(f) {
                        lines.extend(String::from_utf8_lossy(data).lines().map(str::to_string));
                    }
                }
                Line::Tag(_) => {}
            }
        }
        while lines.first().is_some_and(|l| l.trim().is_empty()) {
            lines.remove(0);
        }
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        if !lines.is_empty() {
            parts.push(lines.join("\n"));
        }
    }
    r.text = parts.join("\n\n");
    r
}

/// The inline expansion tags (§4.2.3.2.1.2); `\{` is a real `{`, unknown tags stay.
fn expand(line: &str, f: &Facts<'_>, subject: &str, section: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(['{', '\\']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("\\{") {
            out.push('{');
            rest = after;
            continue;
        }
        if let Some(after) = tail.strip_prefix('\\') {
            out.push('\\');
            rest = after;
            continue;
        }
        let Some(end) = tail.find('}') else {
            out.push_str(tail);
            return out;
        };
        let tag = &tail[1..end];
        let (name, arg) = match tag.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (tag, None),
        };
        let t = &f.local;
        let value = match (name.to_ascii_lowercase().as_str(), arg) {
            ("date" | "shortdate", None) => Some(datefmt::format("dd/MM/yyyy", t)),
            ("longdate", None) => Some(datefmt::format("dddd, d MMMM yyyy", t)),
            ("date", Some(p)) => Some(datefmt::format(p, t)),
            ("time", None) => Some(datefmt::format("HH:mm:ss", t)),
            ("timenosecs", None) => Some(datefmt::format("HH:mm", t)),
            ("time", Some(p)) => Some(datefmt::format(p, t)),
            ("originator", None) => Some(f.originator.to_string()),
            ("origsubject", None) => Some(f.subject.to_string()),
            ("subject", None) => Some(subject.to_string()),
            ("section", None) => Some(section.to_string()),
            _ => None,
        };
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}
