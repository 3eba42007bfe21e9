//! The LDAP address book (SVC-4, manual §11.4): anonymous bind, search over the
//! office's people with equality, substring and presence filters, a size limit, and
//! an LDAP error result for everything else. Messages are BER-coded by rasn-ldap; this
//! module only frames them (bounded) and answers.
//!
//! The session asks the driver for the directory once per search
//! ([`LdapEvent::Directory`]) and filters it itself, so the filter rules are tested
//! here without accounts or files.

use crate::machine::{Input, Machine, Output};
use crate::Instant;
use rasn::types::SetOf;
use rasn_ldap::{
    AddResponse, BindResponse, CompareResponse, DelResponse, ExtendedResponse, Filter, LdapMessage,
    LdapResult, LdapString, ModifyDnResponse, ModifyResponse, PartialAttribute, ProtocolOp,
    ResultCode, SearchRequest, SearchRequestScope, SearchResultDone, SearchResultEntry,
    SubstringChoice,
};
use std::time::Duration;

/// Largest request accepted (a search with a long filter is a few hundred octets).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most entries one search returns, whatever its own limit says.
pub const MAX_RESULTS: usize = 500;
/// Seconds without a request before the connection is closed.
pub const IDLE: Duration = Duration::from_secs(300);
/// RFC 4511 §4.4.1: the Notice of Disconnection sent before closing on a bad message.
const NOTICE_OF_DISCONNECTION: &[u8] = b"1.3.6.1.4.1.1466.20036";

/// One person in the address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    /// `(attribute, value)`, lower-case names; a name may repeat.
    pub attributes: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LdapEvent {
    /// Answer with [`LdapCommand::Directory`].
    Directory,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LdapCommand {
    Directory(Vec<Entry>),
}

/// Whether `entry` matches `filter` (RFC 4511 §4.5.1.7; values compared without
/// regard to case, as the address book's attributes are all case-ignoring strings).
pub fn matches(filter: &Filter, entry: &Entry) -> bool {
    let values = |attr: &str| {
        let attr = attr.to_ascii_lowercase();
        entry
            .attributes
            .iter()
            .filter(move |(k, _)| *k == attr)
            .map(|(_, v)| v.to_lowercase())
            .collect::<Vec<String>>()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_lowercase();
    match filter {
        Filter::And(fs) => fs.iter().all(|f| matches(f, entry)),
        Filter::Or(fs) => fs.iter().any(|f| matches(f, entry)),
        Filter::Not(f) => !matches(f, entry),
        Filter::EqualityMatch(a) | Filter::ApproxMatch(a) => {
            let want = text(&a.assertion_value);
            values(&a.attribute_desc).contains(&want)
        }
        Filter::GreaterOrEqual(a) => {
            let want = text(&a.assertion_value);
            values(&a.attribute_desc).iter().any(|v| *v >= want)
        }
        Filter::LessOrEqual(a) => {
            let want = text(&a.assertion_value);
            values(&a.attribute_desc).iter().any(|v| *v <= want)
        }
        Filter::Present(attr) => !values(attr).is_empty(),
        Filter::Substrings(s) => values(&s.r#type)
            .iter()
            .any(|v| substrings_match(v, &s.substrings, &text)),
        _ => false,
    }
}

fn substrings_match(
    value: &str,
    parts: &[SubstringChoice],
    text: &dyn Fn(&[u8]) -> String,
) -> bool {
    let mut rest = value;
    for p in parts {
        match p {
            SubstringChoice::Initial(b) => match rest.strip_prefix(text(b).as_str()) {
                Some(r) => rest = r,
                None => return false,
            },
            SubstringChoice::Any(b) => {
                let t = text(b);
                match rest.find(&t) {
                    Some(i) => rest = &rest[i + t.len()..],
                    None => return false,
                }
            }
            SubstringChoice::Final(b) => return rest.ends_with(text(b).as_str()),
            _ => return false,
        }
    }
    true
}

/// The entry's attributes a search asked for: all for an empty list or `*`, none for
/// `1.1`, else those named.
fn selected(entry: &Entry, wanted: &[LdapString], types_only: bool) -> Vec<PartialAttribute> {
    let all = wanted.is_empty() || wanted.iter().any(|w| w.as_str() == "*");
    let mut out: Vec<PartialAttribute> = Vec::new();
    for (k, v) in &entry.attributes {
        if !all && !wanted.iter().any(|w| w.eq_ignore_ascii_case(k)) {
            continue;
        }
        let value = rasn::types::OctetString::from(v.clone().into_bytes());
        match out.iter_mut().find(|a| a.r#type.as_str() == k) {
            Some(a) if !types_only => a.vals.insert(value),
            Some(_) => {}
            None => {
                let vals = match types_only {
                    true => SetOf::new(),
                    false => SetOf::from_vec(vec![value]),
                };
                out.push(PartialAttribute::new(LdapString::from(k.as_str()), vals));
            }
        }
    }
    out
}

fn result(code: ResultCode, text: &str) -> LdapResult {
    LdapResult::new(code, LdapString::from(""), LdapString::from(text))
}

/// A DN for comparing: lower case, no spaces around the separators.
fn norm_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// The DN one level up (`""` above the top).
fn parent_dn(dn: &str) -> &str {
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // An escaped character (`\,` in a name) is no separator.
            b'\\' => i += 2,
            b',' => return &dn[i + 1..],
            _ => i += 1,
        }
    }
    ""
}

/// Whether an entry named `dn` is in the search's scope below `base` (both
/// normalised); the empty base is the root of everything.
fn in_scope(base: &str, scope: SearchRequestScope, dn: &str) -> bool {
    match scope {
        SearchRequestScope::BaseObject => dn == base,
        SearchRequestScope::SingleLevel => parent_dn(dn) == base,
        // Whole subtree, and any scope a later version of the codec may add.
        _ => {
            base.is_empty()
                || dn == base
                || (dn.len() > base.len()
                    && dn.ends_with(base)
                    && dn.as_bytes()[dn.len() - base.len() - 1] == b',')
        }
    }
}

/// Whether `base` names an entry or a container above entries (`dc=example,dc=com`,
/// `ou=addressbook,...`, `dc=com`).
fn base_exists(base: &str, dns: &[String]) -> bool {
    base.is_empty()
        || dns.iter().any(|dn| {
            let mut d = dn.as_str();
            loop {
                if d == base {
                    return true;
                }
                if d.is_empty() {
                    return false;
                }
                d = parent_dn(d);
            }
        })
}

/// The answer to one search over `directory`: the entries within the request's base
/// and scope that match its filter.
pub fn search(id: u32, req: &SearchRequest, directory: &[Entry]) -> Vec<LdapMessage> {
    let limit = match req.size_limit {
        0 => MAX_RESULTS,
        n => (n as usize).min(MAX_RESULTS),
    };
    let mut out = Vec::new();
    let base = norm_dn(&req.base_object.to_string());
    let dns: Vec<String> = directory.iter().map(|e| norm_dn(&e.dn)).collect();
    if !base_exists(&base, &dns) {
        let done = SearchResultDone(result(ResultCode::NoSuchObject, "no such base DN"));
        out.push(LdapMessage::new(id, ProtocolOp::SearchResDone(done)));
        return out;
    }
    for (found, e) in directory
        .iter()
        .zip(&dns)
        .filter(|(_, dn)| in_scope(&base, req.scope, dn))
        .map(|(e, _)| e)
        .filter(|e| matches(&req.filter, e))
        .enumerate()
    {
        if found == limit {
            let done = SearchResultDone(result(ResultCode::SizeLimitExceeded, ""));
            out.push(LdapMessage::new(id, ProtocolOp::SearchResDone(done)));
            return out;
        }
        let attrs = selected(e, &req.attributes, req.types_only);
        let entry = SearchResultEntry::new(LdapString::from(e.dn.as_str()), attrs);
        out.push(LdapMessage::new(id, ProtocolOp::SearchResEntry(entry)));
    }
    let done = SearchResultDone(result(ResultCode::Success, ""));
    out.push(LdapMessage::new(id, ProtocolOp::SearchResDone(done)));
    out
}

/// The length of the BER message at the start of `buf`: `Ok(None)` until its header
/// is complete, `Err` for what is not an LDAPMessage SEQUENCE or is too long.
fn frame_len(buf: &[u8]) -> Result<Option<usize>, ()> {
    let (Some(&tag), Some(&first)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(());
    }
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(());
        }
        let Some(bytes) = buf.get(2..2 + n) else {
            return Ok(None);
        };
        (
            2 + n,
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
        )
    };
    match header + len {
        total if total > MAX_MESSAGE => Err(()),
        total => Ok(Some(total)),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Reading,
    /// A search waits for the directory.
    Searching(u32, Box<SearchRequest>),
    Closing,
    Closed,
}

/// One LDAP connection.
pub struct LdapServer {
    buf: Vec<u8>,
    out: Vec<u8>,
    state: State,
    asked: bool,
    deadline: Instant,
    latest: Instant,
}

impl LdapServer {
    pub fn new(now: Instant) -> LdapServer {
        LdapServer {
            buf: Vec::new(),
            out: Vec::new(),
            state: State::Reading,
            asked: false,
            deadline: now + IDLE,
            latest: now,
        }
    }

    fn send(&mut self, msg: &LdapMessage) {
        match rasn::ber::encode(msg) {
            Ok(bytes) => self.out.extend_from_slice(&bytes),
            Err(e) => tracing::warn!("ldap: cannot encode a response: {e}"),
        }
    }

    /// Answer requests in the buffer until one needs the driver or input runs out.
    fn work(&mut self) {
        while self.state == State::Reading {
            let total = match frame_len(&self.buf) {
                Ok(Some(t)) if self.buf.len() >= t => t,
                Ok(_) => return,
                Err(()) => return self.disconnect(),
            };
            let frame: Vec<u8> = self.buf.drain(..total).collect();
            match rasn::ber::decode::<LdapMessage>(&frame) {
                Ok(m) => self.request(m),
                Err(_) => return self.disconnect(),
            }
        }
    }

    fn disconnect(&mut self) {
        let notice = ExtendedResponse {
            result_code: ResultCode::ProtocolError,
            matched_dn: LdapString::from(""),
            diagnostic_message: LdapString::from("malformed request"),
            referral: None,
            response_name: Some(rasn::types::OctetString::from_static(
                NOTICE_OF_DISCONNECTION,
            )),
            response_value: None,
        };
        self.send(&LdapMessage::new(0, ProtocolOp::ExtendedResp(notice)));
        self.state = State::Closing;
    }

    fn request(&mut self, m: LdapMessage) {
        let id = m.message_id;
        let refuse = || {
            result(
                ResultCode::UnwillingToPerform,
                "the address book is read-only",
            )
        };
        let reply = match m.protocol_op {
            ProtocolOp::BindRequest(b) => {
                let code = match &b.authentication {
                    rasn_ldap::AuthenticationChoice::Simple(p) if p.is_empty() => {
                        ResultCode::Success
                    }
                    rasn_ldap::AuthenticationChoice::Simple(_) => {
                        ResultCode::InappropriateAuthentication
                    }
                    _ => ResultCode::AuthMethodNotSupported,
                };
                let text = match code {
                    ResultCode::Success => "",
                    _ => "only anonymous binds are served",
                };
                ProtocolOp::BindResponse(BindResponse::new(
                    code,
                    LdapString::from(""),
                    LdapString::from(text),
                    None,
                    None,
                ))
            }
            ProtocolOp::UnbindRequest(_) => {
                self.state = State::Closing;
                return;
            }
            ProtocolOp::AbandonRequest(_) => return,
            ProtocolOp::SearchRequest(s) => {
                self.state = State::Searching(id, Box::new(s));
                return;
            }
            ProtocolOp::ModifyRequest(_) => ProtocolOp::ModifyResponse(ModifyResponse(refuse())),
            ProtocolOp::AddRequest(_) => ProtocolOp::AddResponse(AddResponse(refuse())),
            ProtocolOp::DelRequest(_) => ProtocolOp::DelResponse(DelResponse(refuse())),
            ProtocolOp::ModDnRequest(_) => ProtocolOp::ModDnResponse(ModifyDnResponse(refuse())),
            ProtocolOp::CompareRequest(_) => ProtocolOp::CompareResponse(CompareResponse(refuse())),
            ProtocolOp::ExtendedReq(_) => ProtocolOp::ExtendedResp(ExtendedResponse {
                result_code: ResultCode::ProtocolError,
                matched_dn: LdapString::from(""),
                diagnostic_message: LdapString::from("no extended operations"),
                referral: None,
                response_name: None,
                response_value: None,
            }),
            // Responses sent to a server.
            _ => return self.disconnect(),
        };
        self.send(&LdapMessage::new(id, reply));
    }
}

impl Machine for LdapServer {
    type Command = LdapCommand;
    type Event = LdapEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.latest = self.latest.max(now);
        match (&self.state, input) {
            (State::Closing | State::Closed, _) => {}
            (_, Input::Eof) => self.state = State::Closing,
            (_, Input::Tick) => {
                if self.state == State::Reading && self.latest >= self.deadline {
                    self.state = State::Closing;
                }
            }
            (_, Input::Bytes(b)) => {
                self.deadline = self.latest + IDLE;
                if self.buf.len() + b.len() > MAX_MESSAGE * 2 {
                    return self.disconnect();
                }
                self.buf.extend_from_slice(b);
                self.work();
            }
        }
    }

    fn handle_command(&mut self, _now: Instant, cmd: LdapCommand) {
        let LdapCommand::Directory(entries) = cmd;
        match std::mem::replace(&mut self.state, State::Reading) {
            State::Searching(id, req) if self.asked => {
                self.asked = false;
                for m in search(id, &req, &entries) {
                    self.send(&m);
                }
                self.work();
            }
            other => {
                self.state = other;
                tracing::debug!("ldap: a directory nobody asked for");
            }
        }
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<LdapEvent> {
        out.append(&mut self.out);
        match &self.state {
            State::Searching(..) if !self.asked => {
                self.asked = true;
                Output::Event(LdapEvent::Directory)
            }
            State::Searching(..) | State::Closed => Output::Wait(None),
            State::Reading => Output::Wait(Some(self.deadline)),
            State::Closing => {
                self.state = State::Closed;
                Output::Close
            }
        }
    }
}

#[cfg(test)]
mod tests;
