//! The IMAP server session machine: commands in, responses and events out.
//!
//! States follow RFC 3501 §3: not authenticated, authenticated, selected, logout.
//! Every command in the selected state is first a sync point: the session asks the
//! runtime for the folder's changes ([`ImapEvent::Sync`]) and reports them as the
//! command allows (never EXPUNGE while answering FETCH, STORE or SEARCH, RFC 2180
//! §4.1), then runs the command.
//!
//! The machine contract (docs/ARCHITECTURE.md) is kept with `wire`'s pieces
//! ([`Clock`], [`Ending`], [`contract::stray`]) rather than `wire::LineSession`:
//! IMAP's literals make it a framed protocol, not a line protocol, so the line reader
//! at the heart of `LineSession` does not apply (see `frame.rs`). The rest mirrors
//! `LineSession`: input is not read while an event is outstanding and is kept in a
//! bounded buffer; an idle deadline; an error count; STARTTLS throws away what
//! followed the command.

use super::acl::{self, AclRequest};
use super::append;
use super::binary;
use super::context::{self, SearchContext};
use super::esearch::{self, ReturnOpts};
use super::fetch::{self, Item};
use super::frame::{Frame, Framer};
use super::listext;
use super::notify::{self, Notify};
use super::qresync::{self, Resync};
use super::search;
use super::select::{BadSet, Selected};
use super::sortcmd;
use super::store;
use super::urlauth;
use super::write;
use super::{
    CopyOutcome, FolderOp, FolderStatus, ImapCommand, ImapEvent, ImapInfo, ListEntry, MailboxError,
    StoreOutcome,
};
use crate::auth::sasl;
use crate::auth::{self, AuthOutcome};
use crate::config::Snapshot;
use crate::machine::{Input, Machine, Output};
use crate::mailbox::{decode_mutf7, Flag, Record, Rights};
use crate::wire::contract::{self, Clock, Ending};
use crate::Instant;
use base64::Engine as _;
use imap_codec::decode::Decoder as _;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::command::{
    Command, CommandBody, FetchModifier, SelectParameter, StoreModifier,
};
use imap_codec::imap_types::extensions::enable::CapabilityEnable;
use imap_codec::imap_types::flag::{StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::status::StatusDataItemName;
use imap_codec::imap_types::IntoStatic;
use imap_codec::CommandCodec;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Input kept while an event is outstanding, beyond what the current read brought.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;
/// How often an IDLE session looks at the mailboxes NOTIFY watches: each look is one
/// `Status` event per mailbox, so not every IDLE look of the runtime (250 ms).
const NOTIFY_IDLE_POLL: Duration = Duration::from_secs(5);
/// Longest user name or password taken from the client.
const MAX_CREDENTIAL: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
}

/// What the next whole message from the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Command,
    /// AUTHENTICATE PLAIN sent `+ `; the next line is the client's response.
    SaslPlain {
        tag: String,
    },
    /// AUTHENTICATE CRAM-MD5 sent its challenge; the next line is `user digest`.
    SaslCram {
        tag: String,
        challenge: String,
    },
    /// IDLE: the next line should be `DONE`.
    Idle {
        tag: String,
    },
}

/// What the outstanding event is for, and what to do with its answer.
#[derive(Debug)]
enum Pending {
    Login {
        tag: String,
    },
    List {
        tag: String,
        lsub: bool,
        special_only: bool,
    },
    Status {
        tag: String,
        name: String,
        items: Vec<StatusDataItemName>,
    },
    Select {
        tag: String,
        read_only: bool,
        condstore: bool,
        resync: Option<Resync>,
    },
    Folder {
        tag: String,
        what: &'static str,
    },
    /// A sync point before this command.
    Sync(Box<Command<'static>>),
    /// A sync point during IDLE.
    IdleSync,
    /// A sync point after APPEND to the selected folder, so its answer reports the
    /// new message (RFC 3501 §6.3.11); then the tagged OK with this text.
    AfterAppend {
        tag: String,
        text: String,
    },
    Store(StoreJob),
    Expunge {
        tag: String,
        what: &'static str,
        close: bool,
    },
    Copy {
        tag: String,
        uids: Vec<u32>,
        remove: bool,
    },
    Append {
        tag: String,
    },
    Acl {
        tag: String,
        req: AclRequest,
    },
    /// GENURLAUTH/URLFETCH, one URL at a time (`urlauth.rs`).
    UrlAuth(Box<urlauth::Job>),
    /// LIST-EXTENDED: the folders, then the subscriptions (`listext.rs`).
    ListExt(Box<listext::extended::Query>),
    /// MULTIAPPEND/CATENATE putting its messages together (`append.rs`).
    Compose(Box<append::Job>),
    /// Its messages being stored.
    AppendMany {
        tag: String,
    },
    Fetch(FetchJob),
    Search(SearchJob),
    /// SORT or THREAD (`sortcmd.rs`) reading messages.
    Sort(Box<sortcmd::Job>),
    /// Bytes of new messages for CONTEXT=SEARCH updates (`context.rs`), then what
    /// the sync point was for.
    Fill {
        todo: VecDeque<u32>,
        then: AfterSync,
    },
    /// NOTIFY (`notify.rs`): the status of the watched mailboxes at these indexes,
    /// each written always (`initial`, NOTIFY SET STATUS) or when it changed; then
    /// the tagged OK with `text`.
    NotifyStatus {
        /// `None`: a look during IDLE, which ends in a sync point, not a reply.
        tag: Option<String>,
        text: String,
        todo: VecDeque<usize>,
        initial: bool,
    },
    /// `\Seen` set by a FETCH of bodies.
    FetchSeen {
        tag: String,
        what: &'static str,
        gone: bool,
    },
}

/// What a sync point was for, once its changes are in.
#[derive(Debug)]
enum AfterSync {
    Command(Box<Command<'static>>),
    Append { tag: String, text: String },
    Idle,
}

#[derive(Debug)]
struct StoreJob {
    tag: String,
    uids: Vec<u32>,
    silent: bool,
    uid_cmd: bool,
    conditional: bool,
    /// Messages found modified locally (MODSEQ above UNCHANGEDSINCE).
    modified: Vec<u32>,
}

#[derive(Debug)]
struct FetchJob {
    tag: String,
    what: &'static str,
    /// (seq, uid) still to answer.
    todo: VecDeque<(u32, u32)>,
    items: Vec<Item>,
    seen: Vec<u32>,
    /// Some asked-for messages were expunged by another session (RFC 2180 §4.1.2).
    gone: bool,
    /// A BINARY item met an encoding it cannot undo (RFC 3516 §4.1).
    unknown_cte: bool,
}

#[derive(Debug)]
struct SearchJob {
    tag: String,
    uid_cmd: bool,
    wants_modseq: bool,
    needs_text: bool,
    /// (seq, uid) still to look at.
    todo: VecDeque<(u32, u32)>,
    keys: Vec<imap_codec::imap_types::search::SearchKey<'static>>,
    hits: Vec<search::Hit>,
    /// ESEARCH return options (RFC 4731); `None`: the old `* SEARCH` answer.
    ret: Option<ReturnOpts>,
    /// The text keys' outcomes per message, kept for an UPDATE context.
    leaves: std::collections::HashMap<u32, Vec<bool>>,
}

/// The IMAP server session. See the module documentation.
pub struct ImapServer {
    snapshot: Arc<Snapshot>,
    info: ImapInfo,
    state: State,
    phase: Phase,
    selected: Option<Selected>,
    /// The logged-in user (URLAUTH names it in URLs).
    user: Option<String>,
    /// CONDSTORE is on (ENABLE, or a command that uses it, RFC 7162 §3.1).
    condstore: bool,
    /// The LIST being decoded asked for special-use folders only (RFC 6154).
    special_only: bool,
    /// SORT and THREAD's header data for the selected folder.
    sort_cache: sortcmd::Cache,
    /// The SEARCH being decoded had `RETURN (…)` (RFC 4731, `esearch.rs`).
    search_return: Option<ReturnOpts>,
    /// QRESYNC is on (ENABLE QRESYNC, RFC 7162 §3.2.3).
    qresync: bool,
    /// Mailboxes watched with NOTIFY (RFC 5465).
    watched: Vec<notify::Watched>,
    /// In IDLE with mailboxes watched: when to look at them next.
    notify_due: Option<Instant>,
    framer: Framer,
    out: Vec<u8>,
    events: VecDeque<ImapEvent>,
    pending: Option<Pending>,
    /// Input that arrived while paused.
    inbuf: Vec<u8>,
    errors: u32,
    max_errors: u32,
    idle: Option<Duration>,
    tls_active: bool,
    start_tls: bool,
    /// The peer closed while an event was outstanding.
    eof: bool,
    /// In IDLE and the `Idle` event handed out: a `Wake` is welcome.
    idling: bool,
    ending: Ending,
    clock: Clock,
    last_activity: Instant,
}

impl ImapServer {
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, info: ImapInfo) -> ImapServer {
        let cfg = &snapshot.config.imap;
        let mut s = ImapServer {
            framer: Framer::new(cfg.max_command_line as usize, cfg.max_literal),
            max_errors: cfg.max_errors.max(1),
            idle: (cfg.idle_timeout_secs != 0)
                .then(|| Duration::from_secs(u64::from(cfg.idle_timeout_secs))),
            tls_active: info.tls_active,
            snapshot,
            info,
            state: State::NotAuthenticated,
            phase: Phase::Command,
            selected: None,
            user: None,
            condstore: false,
            special_only: false,
            sort_cache: sortcmd::Cache::default(),
            search_return: None,
            qresync: false,
            watched: Vec::new(),
            notify_due: None,
            out: Vec::with_capacity(256),
            events: VecDeque::new(),
            pending: None,
            inbuf: Vec::new(),
            errors: 0,
            start_tls: false,
            eof: false,
            idling: false,
            ending: Ending::default(),
            clock: Clock::new(now),
            last_activity: now,
        };
        // MAILIMAPALLOWED.DAT (§11.9): an address not allowed gets no greeting.
        if !s.snapshot.access.imap.may_connect(s.info.peer_ip) {
            s.bye("Access denied");
            return s;
        }
        s.out.extend_from_slice(b"* OK [");
        s.capabilities();
        s.out.extend_from_slice(b"] Mailroom IMAP4rev1 ready\r\n");
        s
    }

    /// CRAM-MD5 needs the reusable secrets kept only when the administrator enabled
    /// challenge-response authentication.
    fn cram_offered(&self) -> bool {
        self.snapshot.config.accounts.challenge_response
    }

    fn plaintext_ok(&self) -> bool {
        !self.snapshot.config.imap.require_cram_md5
            && auth::plaintext_allowed(
                self.snapshot.config.imap.plaintext_auth,
                self.info.peer_ip,
                self.tls_active,
            )
    }

    /// `CAPABILITY …` for the current state: only what this session does.
    fn capabilities(&mut self) {
        let mut caps = vec!["CAPABILITY", "IMAP4rev1", "LITERAL+", "SASL-IR", "ID"];
        if self.state == State::NotAuthenticated {
            if self.info.tls_available && !self.tls_active {
                caps.push("STARTTLS");
            }
            if self.plaintext_ok() {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
            if self.cram_offered() {
                caps.push("AUTH=CRAM-MD5");
            }
        } else {
            caps.extend([
                "ENABLE",
                "IDLE",
                "NAMESPACE",
                "UNSELECT",
                "UIDPLUS",
                "MOVE",
                "SPECIAL-USE",
                "CONDSTORE",
                "ACL",
                "RIGHTS=texk",
                "SORT",
                "SORT=DISPLAY",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "QRESYNC",
                "ESEARCH",
                "CONTEXT=SEARCH",
                "ESORT",
                "CONTEXT=SORT",
                "NOTIFY",
                "BINARY",
                "MULTIAPPEND",
                "CATENATE",
                "LIST-EXTENDED",
                "URLAUTH",
                "URLAUTH=BINARY",
            ]);
        }
        self.out.extend_from_slice(caps.join(" ").as_bytes());
    }

    fn paused(&self) -> bool {
        !self.ending.is_open() || self.start_tls || self.pending.is_some()
    }

    fn deadline(&self) -> Option<Instant> {
        if self.pending.is_some() {
            return None;
        }
        match (self.idle_deadline(), self.notify_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let idle = self.idle?;
        self.pending.is_none().then(|| self.last_activity + idle)
    }

    fn ask(&mut self, event: ImapEvent, pending: Pending) {
        self.events.push_back(event);
        self.pending = Some(pending);
    }

    fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        self.out
            .extend_from_slice(format!("{tag} {status} {}\r\n", write::clean(text)).as_bytes());
    }

    /// A mailbox name that is not modified UTF-7 (or not UTF-8): no folder has it.
    /// A NO, as Dovecot answers, not a BAD: the command itself was well formed.
    fn bad_name(&mut self, tag: &str) {
        self.tagged(tag, "NO", "[CANNOT] Invalid mailbox name");
    }

    /// A refusal the client caused: counted; the limit ends the session.
    fn bad(&mut self, tag: Option<&str>, text: &str) {
        self.tagged(tag.unwrap_or("*"), "BAD", text);
        self.count_error();
    }

    fn count_error(&mut self) {
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.max_errors && self.ending.is_open() {
            self.out
                .extend_from_slice(b"* BYE Too many invalid commands, closing connection\r\n");
            self.ending.close();
        }
    }

    fn bye(&mut self, text: &str) {
        self.out
            .extend_from_slice(format!("* BYE {}\r\n", write::clean(text)).as_bytes());
        self.ending.close();
    }

    /// Frame and run input until it is used up or the session pauses.
    fn process(&mut self, now: Instant) {
        while !self.paused() {
            let Some(frame) = self.framer.next() else {
                break;
            };
            match frame {
                Frame::Continue => self.out.extend_from_slice(b"+ OK\r\n"),
                Frame::TooBig { sync: true, tag } => {
                    self.tagged(
                        tag.as_deref().unwrap_or("*"),
                        "NO",
                        "[TOOBIG] Literal too large",
                    );
                    self.count_error();
                }
                Frame::TooBig { sync: false, tag } => {
                    // RFC 7888 §4: the octets are on their way and cannot be told from
                    // commands without reading them all; refuse and close.
                    self.tagged(
                        tag.as_deref().unwrap_or("*"),
                        "BAD",
                        "[TOOBIG] Literal too large",
                    );
                    self.bye("Literal too large, closing connection");
                }
                Frame::LineTooLong { tag } => {
                    self.tagged(
                        tag.as_deref().unwrap_or("*"),
                        "BAD",
                        "[TOOBIG] Command line too long",
                    );
                    self.bye("Command line too long, closing connection");
                }
                Frame::Message => self.on_message(now),
            }
        }
    }

    fn on_message(&mut self, now: Instant) {
        match self.phase.clone() {
            Phase::Command => {}
            Phase::SaslPlain { tag } => {
                self.phase = Phase::Command;
                let line = line_text(self.framer.message());
                return self.sasl_plain(&tag, line.as_bytes());
            }
            Phase::SaslCram { tag, challenge } => {
                self.phase = Phase::Command;
                let line = line_text(self.framer.message());
                return self.sasl_cram(&tag, challenge, line.as_bytes());
            }
            Phase::Idle { tag } => {
                self.phase = Phase::Command;
                self.idling = false;
                self.notify_due = None;
                let line = line_text(self.framer.message());
                if line.eq_ignore_ascii_case("DONE") {
                    self.tagged(&tag, "OK", "IDLE terminated");
                } else {
                    self.bad(Some(&tag), "Expected DONE");
                }
                return;
            }
        }
        let decoded = match self
            .framer
            .fragmentizer()
            .decode_message(&CommandCodec::new())
        {
            Ok(cmd) => Ok(cmd.into_static()),
            Err(imap_codec::fragmentizer::DecodeMessageError::MessageTooLong { .. }) => {
                Err("[TOOBIG] Command too long")
            }
            Err(_) => Err("Error in IMAP command"),
        };
        // LIST with RFC 6154's options, which imap-codec does not parse.
        let decoded = match decoded {
            Err(text) => match listext::strip(self.framer.message()) {
                Some((line, special)) => match CommandCodec::new().decode(&line) {
                    Ok((&[], cmd)) => {
                        self.special_only = special;
                        Ok(cmd.into_static())
                    }
                    _ => Err(text),
                },
                None => Err(text),
            },
            ok => ok,
        };
        // RFC 4314's commands, which imap-codec does not parse either.
        let decoded = match decoded {
            Err(text) => match acl::parse(self.framer.message()) {
                Some((tag, req)) => return self.acl(tag, req),
                None => Err(text),
            },
            ok => ok,
        };
        // SEARCH RETURN (…) and CANCELUPDATE (RFC 4731, 5267).
        let decoded = match decoded {
            Err(text) => {
                let msg = self.framer.message();
                if let Some(r) = context::cancel_line(msg) {
                    return self.cancel_update(r);
                }
                if let Some((tag, r)) = notify::parse(msg) {
                    return self.notify(tag, r);
                }
                // ESORT and CONTEXT=SORT: the same options on SORT (RFC 5267).
                let stripped =
                    esearch::strip(msg, "SEARCH").or_else(|| esearch::strip(msg, "SORT"));
                match stripped {
                    Some(Ok((line, opts))) => match CommandCodec::new().decode(&line) {
                        Ok((&[], cmd)) => {
                            self.search_return = Some(opts);
                            Ok(cmd.into_static())
                        }
                        _ => Err(text),
                    },
                    Some(Err(esearch::BadReturn(why))) => Err(why),
                    None => Err(text),
                }
            }
            ok => ok,
        };
        // MULTIAPPEND, CATENATE, URLAUTH and LIST-EXTENDED, which imap-codec does
        // not parse either.
        let decoded = match decoded {
            Err(text) if self.state != State::NotAuthenticated => {
                let msg = self.framer.message();
                if let Some(r) = append::parse(msg) {
                    return match r {
                        Ok(parsed) => self.compose(parsed),
                        Err(r) => self.bad(r.tag.as_deref(), r.text),
                    };
                }
                if let Some(r) = urlauth::parse(msg) {
                    return match r {
                        Ok(p) => self.urlauth(p),
                        Err(r) => self.bad(Some(&r.tag), r.text),
                    };
                }
                if let Some(r) = listext::extended::parse(msg) {
                    return match r {
                        Ok(q) => self.ask(q.first(), Pending::ListExt(Box::new(q))),
                        Err(r) => self.bad(Some(&r.tag), r.text),
                    };
                }
                Err(text)
            }
            other => other,
        };
        match decoded {
            Ok(cmd) => self.command(now, cmd),
            Err(text) => {
                let tag = self
                    .framer
                    .fragmentizer()
                    .decode_tag()
                    .map(|t| t.as_ref().to_owned());
                self.bad(tag.as_deref(), text);
            }
        }
    }

    fn command(&mut self, now: Instant, cmd: Command<'static>) {
        let _ = now;
        if self.state == State::Selected && needs_sync(&cmd.body) {
            self.ask(ImapEvent::Sync, Pending::Sync(Box::new(cmd)));
            return;
        }
        self.run(cmd);
    }

    /// Run a command (after its sync point, in the selected state).
    fn run(&mut self, cmd: Command<'static>) {
        let tag = cmd.tag.as_ref().to_owned();
        let state = self.state;
        let authed = state != State::NotAuthenticated;
        let selected = state == State::Selected;
        match cmd.body {
            CommandBody::Capability => {
                self.out.extend_from_slice(b"* ");
                self.capabilities();
                self.out.extend_from_slice(b"\r\n");
                self.tagged(&tag, "OK", "CAPABILITY completed");
            }
            CommandBody::Noop => {
                let condstore = self.condstore;
                if let Some(sel) = &mut self.selected {
                    sel.report(&mut self.out, true, condstore);
                }
                // NOTIFY's other mailboxes are looked at now.
                let todo = (0..self.watched.len()).collect();
                self.notify_on(Some(tag), "NOOP completed".into(), todo, false);
            }
            CommandBody::Check if selected => self.sync_done(&tag, "CHECK completed"),
            CommandBody::Logout => {
                self.out.extend_from_slice(b"* BYE Logging out\r\n");
                self.tagged(&tag, "OK", "LOGOUT completed");
                self.ending.close();
            }
            CommandBody::StartTLS if !authed => {
                if !self.info.tls_available || self.tls_active {
                    self.bad(Some(&tag), "STARTTLS not available");
                } else {
                    self.tagged(&tag, "OK", "Begin TLS negotiation now");
                    // RFC 3501 §6.2.1: whatever followed is possible injection.
                    self.framer.reset();
                    self.start_tls = true;
                }
            }
            CommandBody::Login { username, password } if !authed => {
                if !self.plaintext_ok() {
                    self.tagged(
                        &tag,
                        "NO",
                        "[PRIVACYREQUIRED] LOGIN is disabled without TLS",
                    );
                    return self.count_error();
                }
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let pass = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(&tag, user, pass);
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } if !authed => {
                if self.cram_offered() && is_cram_md5(&mechanism) {
                    if initial_response.is_some() {
                        return self.bad(Some(&tag), "CRAM-MD5 takes no initial response");
                    }
                    // RFC 2195: a unique, timestamped challenge. The session id is
                    // unique per connection and comes from the driver; core draws no
                    // entropy.
                    let challenge = format!(
                        "<{}.{}@mailroom>",
                        self.info.session_id,
                        self.clock.now().unix_secs()
                    );
                    let encoded = base64::engine::general_purpose::STANDARD.encode(&challenge);
                    self.out
                        .extend_from_slice(format!("+ {encoded}\r\n").as_bytes());
                    self.phase = Phase::SaslCram { tag, challenge };
                    return;
                }
                if !matches!(mechanism, AuthMechanism::Plain) {
                    self.tagged(&tag, "NO", "[CANNOT] Unsupported authentication mechanism");
                    return self.count_error();
                }
                if !self.plaintext_ok() {
                    self.tagged(
                        &tag,
                        "NO",
                        "[PRIVACYREQUIRED] AUTHENTICATE PLAIN is disabled without TLS",
                    );
                    return self.count_error();
                }
                match initial_response {
                    // SASL-IR: already decoded from base64 by imap-codec.
                    Some(ir) => self.plain_message(&tag, ir.declassify()),
                    None => {
                        self.out.extend_from_slice(b"+ \r\n");
                        self.phase = Phase::SaslPlain { tag };
                    }
                }
            }
            CommandBody::Enable { capabilities } if authed => {
                let mut enabled = Vec::new();
                for c in capabilities.as_ref() {
                    if matches!(c, CapabilityEnable::CondStore) && !self.condstore {
                        self.condstore = true;
                        enabled.push("CONDSTORE");
                    }
                    // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                    if let CapabilityEnable::Other(_) = c {
                        if c.to_string().eq_ignore_ascii_case("QRESYNC") && !self.qresync {
                            self.qresync = true;
                            self.condstore = true;
                            if let Some(sel) = &mut self.selected {
                                sel.qresync = true;
                            }
                            enabled.push("QRESYNC");
                        }
                    }
                }
                self.out.extend_from_slice(b"* ENABLED");
                for e in enabled {
                    self.out.push(b' ');
                    self.out.extend_from_slice(e.as_bytes());
                }
                self.out.extend_from_slice(b"\r\n");
                self.tagged(&tag, "OK", "ENABLE completed");
            }
            CommandBody::Id { .. } => {
                // RFC 2971: any state; what the client says about itself is not needed.
                self.out
                    .extend_from_slice(b"* ID (\"name\" \"Mailroom\")\r\n");
                self.tagged(&tag, "OK", "ID completed");
            }
            CommandBody::Namespace if authed => {
                // Other users' folders shared with this one (RFC 4314) are under
                // `shared/owner/`.
                self.out.extend_from_slice(
                    format!(
                        "* NAMESPACE ((\"\" \"/\")) ((\"{}\" \"/\")) NIL\r\n",
                        crate::mailbox::SHARED_PREFIX
                    )
                    .as_bytes(),
                );
                self.tagged(&tag, "OK", "NAMESPACE completed");
            }
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } if authed => self.list(tag, &reference, &mailbox_wildcard, false),
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } if authed => self.list(tag, &reference, &mailbox_wildcard, true),
            CommandBody::Status {
                mailbox,
                item_names,
            } if authed => match folder(&mailbox) {
                Ok(name) => {
                    let items = item_names.to_vec();
                    self.ask(
                        ImapEvent::Status {
                            folder: name.clone(),
                        },
                        Pending::Status { tag, name, items },
                    );
                }
                Err(()) => self.bad_name(&tag),
            },
            CommandBody::Select {
                mailbox,
                parameters,
            } if authed => self.select(tag, &mailbox, &parameters, false),
            CommandBody::Examine {
                mailbox,
                parameters,
            } if authed => self.select(tag, &mailbox, &parameters, true),
            CommandBody::Create { mailbox } if authed => {
                // RFC 3501 §6.3.3: a trailing separator only says folders will go
                // below; the folder made is the name without it.
                self.folder_op(tag, "CREATE", &mailbox, None, |name| {
                    FolderOp::Create(name.trim_end_matches('/').to_owned())
                })
            }
            CommandBody::Delete { mailbox } if authed => {
                self.folder_op(tag, "DELETE", &mailbox, None, FolderOp::Delete)
            }
            CommandBody::Subscribe { mailbox } if authed => {
                self.folder_op(tag, "SUBSCRIBE", &mailbox, None, FolderOp::Subscribe)
            }
            CommandBody::Unsubscribe { mailbox } if authed => {
                self.folder_op(tag, "UNSUBSCRIBE", &mailbox, None, FolderOp::Unsubscribe)
            }
            CommandBody::Rename { from, to } if authed => match (folder(&from), folder(&to)) {
                (Ok(from), Ok(to)) => self.ask(
                    ImapEvent::Folder(FolderOp::Rename { from, to }),
                    Pending::Folder {
                        tag,
                        what: "RENAME",
                    },
                ),
                _ => self.bad_name(&tag),
            },
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } if authed => {
                let Ok(name) = folder(&mailbox) else {
                    return self.bad_name(&tag);
                };
                let Ok((flags, keywords)) = store::parse_flags(&flags) else {
                    return self.bad(Some(&tag), "Invalid flags");
                };
                let bytes = match message {
                    imap_codec::imap_types::extensions::binary::LiteralOrLiteral8::Literal(l) => {
                        l.into_inner().into_owned()
                    }
                    imap_codec::imap_types::extensions::binary::LiteralOrLiteral8::Literal8(l) => {
                        binary::encode_binary_parts(l.data.into_owned())
                    }
                };
                let internal_date = date.map(|d| d.as_ref().timestamp());
                self.ask(
                    ImapEvent::Append {
                        to: name,
                        flags,
                        keywords,
                        internal_date,
                        message: bytes,
                    },
                    Pending::Append { tag },
                );
            }
            CommandBody::Idle if authed => {
                self.out.extend_from_slice(b"+ idling\r\n");
                self.phase = Phase::Idle { tag };
                if !self.watched.is_empty() {
                    self.notify_due = Some(self.clock.now() + NOTIFY_IDLE_POLL);
                }
                let condstore = self.condstore;
                if let Some(sel) = &mut self.selected {
                    // What the sync point before IDLE found (RFC 2177 allows it here).
                    sel.report(&mut self.out, true, condstore);
                }
                if selected {
                    self.idling = true;
                    self.events.push_back(ImapEvent::Idle);
                }
            }
            CommandBody::Close if selected => {
                // RFC 4314 §4: CLOSE without `e` expunges nothing, silently.
                let sel = self.selected.as_ref().map(|s| {
                    let may = !s.read_only && s.rights.contains(Rights::EXPUNGE);
                    (!may, deleted(s))
                });
                match sel {
                    Some((false, uids)) if !uids.is_empty() => self.ask(
                        ImapEvent::Expunge { uids },
                        Pending::Expunge {
                            tag,
                            what: "CLOSE",
                            close: true,
                        },
                    ),
                    _ => {
                        self.deselect();
                        self.tagged(&tag, "OK", "CLOSE completed");
                    }
                }
            }
            CommandBody::Unselect if selected => {
                self.deselect();
                self.tagged(&tag, "OK", "UNSELECT completed");
            }
            CommandBody::Expunge if selected => self.expunge(tag, None),
            CommandBody::ExpungeUid { sequence_set } if selected => {
                self.expunge(tag, Some(sequence_set))
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } if selected => {
                let ret = self.search_return.take();
                self.search(
                    tag,
                    charset.is_some_and(|c| !charset_ok(c.as_ref())),
                    criteria.into_iter().collect(),
                    uid,
                    ret,
                )
            }
            body @ (CommandBody::Sort { .. } | CommandBody::Thread { .. }) if selected => {
                let ret = self.search_return.take();
                self.sort(tag, body, ret)
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } if selected => self.fetch(tag, &sequence_set, &macro_or_item_names, uid, &modifiers),
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } if selected => {
                self.store(tag, &sequence_set, kind, response, &flags, uid, &modifiers)
            }
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } if selected => self.copy(tag, &sequence_set, &mailbox, uid, false),
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } if selected => self.copy(tag, &sequence_set, &mailbox, uid, true),
            body => {
                let name = body.name();
                let known = matches!(
                    body,
                    CommandBody::StartTLS
                        | CommandBody::Login { .. }
                        | CommandBody::Authenticate { .. }
                        | CommandBody::Enable { .. }
                        | CommandBody::Namespace
                        | CommandBody::List { .. }
                        | CommandBody::Lsub { .. }
                        | CommandBody::Status { .. }
                        | CommandBody::Select { .. }
                        | CommandBody::Examine { .. }
                        | CommandBody::Create { .. }
                        | CommandBody::Delete { .. }
                        | CommandBody::Rename { .. }
                        | CommandBody::Subscribe { .. }
                        | CommandBody::Unsubscribe { .. }
                        | CommandBody::Append { .. }
                        | CommandBody::Idle
                        | CommandBody::Check
                        | CommandBody::Close
                        | CommandBody::Unselect
                        | CommandBody::Expunge
                        | CommandBody::ExpungeUid { .. }
                        | CommandBody::Search { .. }
                        | CommandBody::Sort { .. }
                        | CommandBody::Thread { .. }
                        | CommandBody::Fetch { .. }
                        | CommandBody::Store { .. }
                        | CommandBody::Copy { .. }
                        | CommandBody::Move { .. }
                );
                if known {
                    self.bad(Some(&tag), &format!("{name} not allowed now"));
                } else {
                    self.bad(Some(&tag), &format!("Unknown command {name}"));
                }
            }
        }
        // A LIST's special-use option, a SEARCH's RETURN, are for that command only.
        self.special_only = false;
        self.search_return = None;
    }

    /// NOOP and CHECK: the sync point (already passed) is all they do.
    fn sync_done(&mut self, tag: &str, text: &str) {
        let condstore = self.condstore;
        if let Some(sel) = &mut self.selected {
            sel.report(&mut self.out, true, condstore);
        }
        self.tagged(tag, "OK", text);
    }

    fn login(&mut self, tag: &str, user: String, password: String) {
        if user.is_empty() || user.len() > MAX_CREDENTIAL || password.len() > MAX_CREDENTIAL {
            self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
            return self.count_error();
        }
        self.ask(
            ImapEvent::Authenticate { user, password },
            Pending::Login {
                tag: tag.to_owned(),
            },
        );
    }

    fn sasl_plain(&mut self, tag: &str, line: &[u8]) {
        if line == b"*" {
            self.tagged(tag, "BAD", "Authentication cancelled");
            return self.count_error();
        }
        match std::str::from_utf8(line).ok().map(sasl::decode) {
            Some(Ok(msg)) => self.plain_message(tag, &msg),
            _ => self.bad(Some(tag), "Invalid base64"),
        }
    }

    fn sasl_cram(&mut self, tag: &str, challenge: String, line: &[u8]) {
        if line == b"*" {
            self.tagged(tag, "BAD", "Authentication cancelled");
            return self.count_error();
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|_| sasl::SaslError::Malformed)
            .and_then(sasl::decode)
            .and_then(|bytes| sasl::cram(&bytes));
        match parsed {
            Ok((user, digest)) if !user.is_empty() && user.len() <= MAX_CREDENTIAL => self.ask(
                ImapEvent::AuthenticateCram {
                    user,
                    challenge,
                    digest,
                },
                Pending::Login {
                    tag: tag.to_owned(),
                },
            ),
            _ => self.bad(Some(tag), "Invalid CRAM-MD5 response"),
        }
    }

    fn plain_message(&mut self, tag: &str, msg: &[u8]) {
        match sasl::plain(msg) {
            Ok((user, pass)) => self.login(tag, user, pass),
            Err(sasl::SaslError::OtherIdentity) => {
                // Acting as another user is not offered (RFC 4616 authzid).
                self.tagged(
                    tag,
                    "NO",
                    "[AUTHORIZATIONFAILED] Authorization identity refused",
                );
                self.count_error();
            }
            Err(_) => self.bad(Some(tag), "Invalid PLAIN response"),
        }
    }

    fn list(
        &mut self,
        tag: String,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        lsub: bool,
    ) {
        let pattern_bytes: &[u8] = match pattern {
            ListMailbox::Token(t) => t.as_ref(),
            ListMailbox::String(s) => s.as_ref(),
        };
        let what = if lsub { "LSUB" } else { "LIST" };
        let special_only = std::mem::take(&mut self.special_only);
        if pattern_bytes.is_empty() && !lsub {
            // RFC 3501 §6.3.8: the hierarchy delimiter and root.
            self.out
                .extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
            return self.tagged(&tag, "OK", "LIST completed");
        }
        let reference = match reference {
            Mailbox::Inbox => Ok("INBOX".to_owned()),
            Mailbox::Other(o) => std::str::from_utf8(o.as_ref())
                .map_err(|_| ())
                .and_then(|s| decode_mutf7(s).map_err(|_| ())),
        };
        let pattern = std::str::from_utf8(pattern_bytes)
            .map_err(|_| ())
            .and_then(|s| decode_mutf7(s).map_err(|_| ()));
        match (reference, pattern) {
            (Ok(reference), Ok(pattern)) => self.ask(
                ImapEvent::List {
                    reference,
                    pattern,
                    subscribed: lsub,
                },
                Pending::List {
                    tag,
                    lsub,
                    special_only,
                },
            ),
            // No folder has a name that is not modified UTF-7: nothing matches.
            _ => self.tagged(&tag, "OK", &format!("{what} completed")),
        }
    }

    fn select(
        &mut self,
        tag: String,
        mailbox: &Mailbox<'_>,
        params: &[SelectParameter],
        read_only: bool,
    ) {
        // RFC 3501 §6.3.1: a SELECT first leaves the folder selected, even if it fails;
        // RFC 7162 §3.2.11: with QRESYNC on, the client is told.
        if self.qresync && self.selected.is_some() {
            self.out
                .extend_from_slice(b"* OK [CLOSED] Previous mailbox closed\r\n");
        }
        self.deselect();
        let mut condstore = false;
        let mut resync = None;
        for p in params {
            match p {
                SelectParameter::CondStore => condstore = true,
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => {
                    if !self.qresync {
                        return self.bad(Some(&tag), "QRESYNC is not enabled");
                    }
                    resync = Some(Resync {
                        uid_validity: uid_validity.get(),
                        modseq: mod_sequence_value.get(),
                        known_uids: known_uids.clone(),
                    });
                }
            }
        }
        match folder(mailbox) {
            Ok(name) => self.ask(
                ImapEvent::Select {
                    folder: name,
                    read_only,
                },
                Pending::Select {
                    tag,
                    read_only,
                    condstore,
                    resync,
                },
            ),
            Err(()) => self.bad_name(&tag),
        }
    }

    /// An ACL command (parsed by `acl.rs`): any state after login; not a sync point,
    /// as it touches no message.
    fn acl(&mut self, tag: String, req: Result<AclRequest, &'static str>) {
        if self.state == State::NotAuthenticated {
            return self.bad(Some(&tag), "Log in first");
        }
        match req {
            Ok(req) => self.ask(ImapEvent::Acl(req.clone()), Pending::Acl { tag, req }),
            Err(text) => self.bad(Some(&tag), text),
        }
    }

    fn deselect(&mut self) {
        self.sort_cache.clear();
        if self.selected.take().is_some() {
            self.events.push_back(ImapEvent::Deselect);
        }
        if self.state == State::Selected {
            self.state = State::Authenticated;
        }
    }

    fn folder_op(
        &mut self,
        tag: String,
        what: &'static str,
        mailbox: &Mailbox<'_>,
        _unused: Option<()>,
        op: fn(String) -> FolderOp,
    ) {
        match folder(mailbox) {
            Ok(name) => self.ask(ImapEvent::Folder(op(name)), Pending::Folder { tag, what }),
            Err(()) => self.bad_name(&tag),
        }
    }

    fn expunge(&mut self, tag: String, set: Option<imap_codec::imap_types::sequence::SequenceSet>) {
        let Some(sel) = &self.selected else { return };
        let what = if set.is_some() {
            "UID EXPUNGE"
        } else {
            "EXPUNGE"
        };
        if sel.read_only {
            self.tagged(&tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        if !sel.rights.contains(Rights::EXPUNGE) {
            return self.mailbox_error(&tag, what, &MailboxError::NoPermission);
        }
        let mut uids = deleted(sel);
        if let Some(set) = set {
            match sel.resolve(&set, true) {
                Ok(named) => uids.retain(|u| named.binary_search(u).is_ok()),
                Err(BadSet) => return self.bad(Some(&tag), "Invalid UID set"),
            }
        }
        if uids.is_empty() {
            let condstore = self.condstore;
            if let Some(sel) = &mut self.selected {
                sel.report(&mut self.out, true, condstore);
            }
            return self.tagged(&tag, "OK", &format!("{what} completed"));
        }
        self.ask(
            ImapEvent::Expunge { uids },
            Pending::Expunge {
                tag,
                what,
                close: false,
            },
        );
    }

    fn search(
        &mut self,
        tag: String,
        bad_charset: bool,
        keys: Vec<imap_codec::imap_types::search::SearchKey<'static>>,
        uid_cmd: bool,
        ret: Option<ReturnOpts>,
    ) {
        if bad_charset {
            self.tagged(
                &tag,
                "NO",
                "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset",
            );
            return;
        }
        let needs_text = match search::plan(&keys) {
            Ok(t) => t,
            Err(search::Unsupported) => {
                self.tagged(&tag, "NO", "[CANNOT] This search key is not supported yet");
                return;
            }
        };
        let wants_modseq = keys.iter().any(has_modseq);
        if wants_modseq {
            self.enable_condstore();
        }
        let condstore = self.condstore;
        let Some(sel) = &mut self.selected else {
            return;
        };
        sel.report(&mut self.out, false, condstore);
        let job = SearchJob {
            tag,
            uid_cmd,
            wants_modseq,
            needs_text,
            todo: search::candidates(sel).into(),
            keys,
            hits: Vec::new(),
            ret,
            leaves: Default::default(),
        };
        self.search_on(job, None);
    }

    /// Evaluate the job's messages until one needs bytes it does not have.
    fn search_on(&mut self, mut job: SearchJob, mut bytes: Option<Vec<u8>>) {
        while let Some(&(seq, uid)) = job.todo.front() {
            if job.needs_text && bytes.is_none() {
                self.ask(ImapEvent::Message { uid }, Pending::Search(job));
                return;
            }
            job.todo.pop_front();
            let Some(sel) = &self.selected else { return };
            let text = bytes.as_deref().map(search::Text::new);
            if let Some(hit) = search::matches(sel, &job.keys, seq, uid, text.as_ref()) {
                job.hits.push(hit);
            }
            if let (Some(t), Some(ReturnOpts { update: true, .. })) = (&text, &job.ret) {
                job.leaves.insert(uid, search::text_leaves(&job.keys, t));
            }
            bytes = None;
        }
        let what = if job.uid_cmd { "UID SEARCH" } else { "SEARCH" };
        if let Some(ret) = job.ret.take() {
            return self.esearch_done(job, ret, what);
        }
        self.out.extend_from_slice(b"* SEARCH");
        for h in &job.hits {
            let n = if job.uid_cmd { h.uid } else { h.seq };
            self.out.extend_from_slice(format!(" {n}").as_bytes());
        }
        if job.wants_modseq {
            if let Some(m) = job.hits.iter().map(|h| h.modseq).max() {
                self.out
                    .extend_from_slice(format!(" (MODSEQ {m})").as_bytes());
            }
        }
        self.out.extend_from_slice(b"\r\n");
        self.tagged(&job.tag, "OK", &format!("{what} completed"));
    }

    /// The `* ESEARCH` answer (RFC 4731), and with UPDATE the context kept from now
    /// on (RFC 5267 §4.2).
    fn esearch_done(&mut self, job: SearchJob, ret: ReturnOpts, what: &str) {
        let found: Vec<esearch::Found> = job
            .hits
            .iter()
            .map(|h| esearch::Found {
                num: if job.uid_cmd { h.uid } else { h.seq },
                modseq: h.modseq,
            })
            .collect();
        esearch::write(
            &mut self.out,
            &job.tag,
            job.uid_cmd,
            &found,
            &ret,
            job.wants_modseq,
        );
        if ret.update {
            let Some(sel) = &mut self.selected else {
                return;
            };
            let c = SearchContext::new(
                job.tag.clone(),
                job.uid_cmd,
                job.keys,
                job.needs_text,
                job.hits.iter().map(|h| h.uid),
                job.leaves,
            );
            if sel.contexts.add(c).is_err() {
                // RFC 5267 §4.2: the search is answered, the updates refused.
                let mut code = b"* NO [NOUPDATE ".to_vec();
                write::string(&mut code, job.tag.as_bytes());
                code.extend_from_slice(b"] Too many searches kept up to date\r\n");
                self.out.extend_from_slice(&code);
            }
        }
        self.tagged(&job.tag, "OK", &format!("{what} completed"));
    }

    /// SORT or THREAD (after the sync point), run by `sortcmd.rs`.
    fn sort(&mut self, tag: String, body: CommandBody<'static>, ret: Option<ReturnOpts>) {
        let req = match sortcmd::Request::new(tag.clone(), body) {
            Some(Ok(req)) => req,
            Some(Err(text)) => return self.bad(Some(&tag), text),
            None => return,
        };
        let req = match req.with_return(ret) {
            Ok(req) => req,
            Err(text) => return self.tagged(&tag, "NO", text),
        };
        let wants_modseq = req.keys().iter().any(has_modseq);
        if wants_modseq {
            self.condstore = true;
        }
        let condstore = self.condstore;
        let Some(sel) = &mut self.selected else {
            return;
        };
        if let Some(job) = sortcmd::Job::start(req, sel, condstore, wants_modseq, &mut self.out) {
            self.sort_on(Box::new(job), None);
        }
    }

    fn sort_on(&mut self, mut job: Box<sortcmd::Job>, bytes: Option<Vec<u8>>) {
        let Some(sel) = &self.selected else { return };
        if let Some(uid) = job.advance(sel, &mut self.sort_cache, bytes, &mut self.out) {
            self.ask(ImapEvent::Message { uid }, Pending::Sort(job));
        }
    }

    fn fetch(
        &mut self,
        tag: String,
        set: &imap_codec::imap_types::sequence::SequenceSet,
        asked: &imap_codec::imap_types::fetch::MacroOrMessageDataItemNames<'_>,
        uid_cmd: bool,
        modifiers: &[FetchModifier],
    ) {
        let what = if uid_cmd { "UID FETCH" } else { "FETCH" };
        let mut changed_since = None;
        let mut vanished = false;
        for m in modifiers {
            match m {
                FetchModifier::ChangedSince(n) => changed_since = Some(n.get()),
                FetchModifier::Vanished => vanished = true,
            }
        }
        // RFC 7162 §3.2.6: VANISHED only with UID FETCH, CHANGEDSINCE and QRESYNC on.
        if vanished && !(uid_cmd && changed_since.is_some() && self.qresync) {
            return self.bad(
                Some(&tag),
                "VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC",
            );
        }
        let asks_modseq = changed_since.is_some()
            || matches!(asked, imap_codec::imap_types::fetch::MacroOrMessageDataItemNames::MessageDataItemNames(v)
                if v.iter().any(|i| matches!(i, imap_codec::imap_types::fetch::MessageDataItemName::ModSeq)));
        if asks_modseq {
            self.enable_condstore();
        }
        let items = match fetch::items(asked, uid_cmd, self.condstore && changed_since.is_some()) {
            Ok(i) => i,
            Err(fetch::NotYet(what)) => {
                self.tagged(&tag, "NO", &format!("[CANNOT] {what} is not supported yet"));
                return;
            }
        };
        let condstore = self.condstore;
        let Some(sel) = &mut self.selected else {
            return;
        };
        let uids = match sel.resolve(set, uid_cmd) {
            Ok(u) => u,
            Err(BadSet) => return self.bad(Some(&tag), "Invalid message set"),
        };
        sel.report(&mut self.out, false, condstore);
        if vanished {
            qresync::write_earlier(&mut self.out, &qresync::missing(sel, Some(set)));
        }
        let gone = uids.iter().any(|&u| sel.meta(u).is_none());
        let todo = uids
            .into_iter()
            .filter_map(|u| {
                let m = sel.meta(u)?;
                if changed_since.is_some_and(|c| m.modseq <= c) {
                    return None;
                }
                Some((sel.view.seq(u)?, u))
            })
            .collect();
        let job = FetchJob {
            tag,
            what,
            todo,
            items,
            seen: Vec::new(),
            gone,
            unknown_cte: false,
        };
        self.fetch_on(job, None);
    }

    /// Answer the job's messages until one needs bytes it does not have.
    fn fetch_on(&mut self, mut job: FetchJob, mut bytes: Option<Vec<u8>>) {
        let needs = fetch::needs_bytes(&job.items);
        let sets_seen = fetch::sets_seen(&job.items);
        while let Some(&(seq, uid)) = job.todo.front() {
            if needs && bytes.is_none() {
                self.ask(ImapEvent::Message { uid }, Pending::Fetch(job));
                return;
            }
            job.todo.pop_front();
            let Some(sel) = &self.selected else { return };
            if fetch::write_one(&mut self.out, sel, seq, uid, &job.items, bytes.as_deref()).is_err()
            {
                job.unknown_cte = true;
            }
            if sets_seen
                && !sel.read_only
                && sel.rights.contains(Rights::SEEN)
                && sel.meta(uid).is_some_and(|m| !m.flags.contains(Flag::Seen))
            {
                job.seen.push(uid);
            }
            bytes = None;
        }
        if job.unknown_cte {
            // The data went out as NIL; say why (RFC 3516 §4.1) rather than OK.
            return self.tagged(
                &job.tag,
                "NO",
                "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding",
            );
        }
        if job.seen.is_empty() {
            return self.fetch_done(&job.tag, job.what, job.gone);
        }
        let updates = {
            let Some(sel) = &self.selected else { return };
            store::updates(
                sel,
                &job.seen,
                StoreType::Add,
                crate::mailbox::Flags::NONE.with(Flag::Seen),
                &[],
            )
        };
        self.ask(
            ImapEvent::Store {
                updates,
                unchanged_since: None,
            },
            Pending::FetchSeen {
                tag: job.tag,
                what: job.what,
                gone: job.gone,
            },
        );
    }

    /// URLAUTH commands (RFC 4467).
    fn urlauth(&mut self, p: urlauth::Parsed) {
        let me = self.user.clone().unwrap_or_default();
        let job = match p {
            urlauth::Parsed::Reset { tag, folder } => {
                return self.ask(
                    ImapEvent::ResetKey { folder },
                    Pending::Folder {
                        tag,
                        what: "RESETKEY",
                    },
                );
            }
            urlauth::Parsed::Gen { tag, urls } => urlauth::Job::generate(tag, me, urls),
            urlauth::Parsed::Fetch { tag, urls } => urlauth::Job::fetch(tag, me, urls),
        };
        let mut job = Box::new(job);
        let step = job.next(&mut self.out);
        self.urlauth_step(job, step);
    }

    fn urlauth_step(&mut self, job: Box<urlauth::Job>, step: urlauth::Step) {
        match step {
            urlauth::Step::Ask(event) => self.ask(event, Pending::UrlAuth(job)),
            urlauth::Step::Done(status, text) => self.tagged(&job.tag, status, &text),
        }
    }

    /// MULTIAPPEND/CATENATE: fetch its URL parts, then store all messages.
    fn compose(&mut self, parsed: append::Parsed) {
        let me = self.user.clone().unwrap_or_default();
        let job = append::Job::new(parsed, self.snapshot.config.imap.max_literal.into(), me);
        self.compose_step(Box::new(job));
    }

    fn compose_step(&mut self, mut job: Box<append::Job>) {
        match job.next() {
            append::Step::Ask(event) => self.ask(event, Pending::Compose(job)),
            append::Step::Store(event) => self.ask(event, Pending::AppendMany { tag: job.tag }),
            append::Step::Fail(text) => self.tagged(&job.tag, "NO", &text),
        }
    }

    fn fetch_done(&mut self, tag: &str, what: &str, gone: bool) {
        if gone {
            self.tagged(
                tag,
                "NO",
                "[EXPUNGEISSUED] Some of the requested messages no longer exist",
            );
        } else {
            self.tagged(tag, "OK", &format!("{what} completed"));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        tag: String,
        set: &imap_codec::imap_types::sequence::SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[imap_codec::imap_types::flag::Flag<'_>],
        uid_cmd: bool,
        modifiers: &[StoreModifier],
    ) {
        let unchanged_since = modifiers
            .iter()
            .map(|StoreModifier::UnchangedSince(n)| *n)
            .next();
        if unchanged_since.is_some() {
            self.enable_condstore();
        }
        let Ok((given, keywords)) = store::parse_flags(flags) else {
            return self.bad(Some(&tag), "Invalid flags");
        };
        let Some(sel) = &self.selected else { return };
        if sel.read_only {
            self.tagged(&tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let uids = match sel.resolve(set, uid_cmd) {
            Ok(u) => u,
            Err(BadSet) => return self.bad(Some(&tag), "Invalid message set"),
        };
        // RFC 7162 §3.1.3: a message changed since is reported MODIFIED even when
        // this STORE would not change it.
        let modified: Vec<u32> = match unchanged_since {
            Some(n) => uids
                .iter()
                .copied()
                .filter(|u| sel.meta(*u).is_some_and(|m| m.modseq > n))
                .collect(),
            None => Vec::new(),
        };
        let candidates: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| !modified.contains(u))
            .collect();
        let updates = store::updates(sel, &candidates, kind, given, &keywords);
        let job = StoreJob {
            tag,
            uids: candidates,
            silent: response == StoreResponse::Silent,
            uid_cmd,
            conditional: unchanged_since.is_some(),
            modified,
        };
        if updates.is_empty() {
            return self.store_done(job, StoreOutcome::default());
        }
        self.ask(
            ImapEvent::Store {
                updates,
                unchanged_since,
            },
            Pending::Store(job),
        );
    }

    fn store_done(&mut self, job: StoreJob, outcome: StoreOutcome) {
        let condstore = self.condstore;
        let Some(sel) = &mut self.selected else {
            return;
        };
        let ok = sel
            .apply(&outcome.before, true)
            .and_then(|_| sel.apply(&outcome.applied, false));
        if ok.is_err() {
            return self.out_of_step();
        }
        sel.report(&mut self.out, false, condstore);
        let mut modified = job.modified;
        modified.extend(outcome.modified.iter().copied());
        modified.sort_unstable();
        for &uid in &job.uids {
            if modified.contains(&uid) || sel.meta(uid).is_none() || sel.view.is_gone(uid) {
                continue;
            }
            // RFC 7162 §3.1.3: with UNCHANGEDSINCE, .SILENT still reports MODSEQ.
            if job.silent && !job.conditional {
                continue;
            }
            let Some(seq) = sel.view.seq(uid) else {
                continue;
            };
            let mut items = Vec::new();
            if job.uid_cmd {
                items.push(Item::Uid);
            }
            if !job.silent {
                items.push(Item::Flags);
            }
            if condstore {
                items.push(Item::ModSeq);
            }
            let _ = fetch::write_one(&mut self.out, sel, seq, uid, &items, None);
        }
        let what = if job.uid_cmd { "UID STORE" } else { "STORE" };
        if !modified.is_empty() {
            // RFC 7162 §3.1.3: UIDs for UID STORE, sequence numbers for STORE.
            let list = modified
                .iter()
                .filter_map(|&u| {
                    if job.uid_cmd {
                        Some(u)
                    } else {
                        sel.view.seq(u)
                    }
                })
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",");
            self.tagged(
                &job.tag,
                "OK",
                &format!("[MODIFIED {list}] Conditional {what} failed"),
            );
        } else {
            // Messages another session expunged are left out silently (RFC 2180
            // §4.2.1's first choice, as Dovecot does): the flags of a message that is
            // gone matter to nobody, and a NO would make clients retry.
            self.tagged(&job.tag, "OK", &format!("{what} completed"));
        }
    }

    fn copy(
        &mut self,
        tag: String,
        set: &imap_codec::imap_types::sequence::SequenceSet,
        mailbox: &Mailbox<'_>,
        uid_cmd: bool,
        remove: bool,
    ) {
        let Some(sel) = &self.selected else { return };
        if remove && sel.read_only {
            self.tagged(&tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        // RFC 6851 §3.3: MOVE out needs the rights to delete and expunge there.
        if remove
            && !sel
                .rights
                .contains(Rights::DELETE_MESSAGES.with(Rights::EXPUNGE))
        {
            return self.mailbox_error(&tag, "MOVE", &MailboxError::NoPermission);
        }
        let uids = match sel.resolve(set, uid_cmd) {
            Ok(u) => u,
            Err(BadSet) => return self.bad(Some(&tag), "Invalid message set"),
        };
        let Ok(to) = folder(mailbox) else {
            return self.bad_name(&tag);
        };
        if uids.is_empty() {
            let what = if remove { "MOVE" } else { "COPY" };
            return self.tagged(&tag, "OK", &format!("No messages, {what} completed"));
        }
        // RFC 2180 §4.4.1: a copy of a message another session expunged fails whole.
        if uids.iter().any(|&u| sel.meta(u).is_none()) {
            return self.tagged(
                &tag,
                "NO",
                "[EXPUNGEISSUED] Some of the requested messages no longer exist",
            );
        }
        self.ask(
            ImapEvent::Copy {
                uids: uids.clone(),
                to,
                remove,
            },
            Pending::Copy { tag, uids, remove },
        );
    }

    fn copied(
        &mut self,
        tag: String,
        uids: Vec<u32>,
        remove: bool,
        r: Result<CopyOutcome, MailboxError>,
    ) {
        let what = if remove { "MOVE" } else { "COPY" };
        let outcome = match r {
            Ok(o) => o,
            Err(e) => return self.mailbox_error(&tag, what, &e),
        };
        let code = if outcome.new_uids.len() == uids.len() && !outcome.new_uids.is_empty() {
            format!(
                "[COPYUID {} {} {}] ",
                outcome.uid_validity,
                uid_list(&uids),
                uid_list(&outcome.new_uids)
            )
        } else {
            String::new()
        };
        if remove {
            // RFC 6851 §4.3: COPYUID comes untagged before the EXPUNGEs.
            if !code.is_empty() {
                self.out
                    .extend_from_slice(format!("* OK {}Moved\r\n", code).as_bytes());
            }
            let condstore = self.condstore;
            let Some(sel) = &mut self.selected else {
                return;
            };
            if sel.apply(&outcome.changes, true).is_err() {
                return self.out_of_step();
            }
            sel.report(&mut self.out, true, condstore);
            self.tagged(&tag, "OK", "MOVE completed");
        } else {
            self.tagged(&tag, "OK", &format!("{code}COPY completed"));
        }
    }

    fn mailbox_error(&mut self, tag: &str, what: &str, e: &MailboxError) {
        let text = match e {
            // RFC 3501 §6.3.11, §6.4.7: the client may CREATE and try again.
            MailboxError::NoSuchFolder if matches!(what, "APPEND" | "COPY" | "MOVE") => {
                "[TRYCREATE] No such mailbox".to_owned()
            }
            MailboxError::NoSuchFolder => "[NONEXISTENT] No such mailbox".to_owned(),
            MailboxError::AlreadyExists => "[ALREADYEXISTS] Mailbox already exists".to_owned(),
            MailboxError::Cannot(why) => format!("[CANNOT] {}", write::clean(why)),
            MailboxError::OverQuota => "[OVERQUOTA] Quota exceeded".to_owned(),
            MailboxError::Failed => format!("[UNAVAILABLE] {what} failed; try again later"),
            MailboxError::NoPermission => "[NOPERM] Permission denied".to_owned(),
        };
        self.tagged(tag, "NO", &text);
    }

    /// The runtime's changes do not follow the session's copy: a bug on one side;
    /// the client must start over rather than see wrong sequence numbers.
    fn out_of_step(&mut self) {
        tracing::warn!(session = %self.info.session_id, "IMAP folder changes out of step; closing");
        self.selected = None;
        self.bye("Mailbox state lost, please reconnect");
    }

    /// Take the driver's answer; false if it answers nothing outstanding.
    fn answer(&mut self, cmd: ImapCommand) -> bool {
        if let ImapCommand::Wake = cmd {
            if self.idling && self.pending.is_none() && self.ending.is_open() {
                self.idling = false;
                self.ask(ImapEvent::Sync, Pending::IdleSync);
                return true;
            }
            return false;
        }
        if !self.ending.is_open() || !self.events.is_empty() {
            return false;
        }
        let pending = match (self.pending.take(), cmd) {
            (Some(p), c) => (p, c),
            (None, _) => return false,
        };
        match pending {
            (Pending::Login { tag }, ImapCommand::AuthResult(outcome)) => match outcome {
                // §11.9: a line may name the users allowed from its addresses.
                AuthOutcome::Ok(name)
                    if !self
                        .snapshot
                        .access
                        .imap
                        .check(self.info.peer_ip, Some(&name))
                        .allowed =>
                {
                    self.tagged(
                        &tag,
                        "NO",
                        "[AUTHORIZATIONFAILED] Access denied for this user from this address",
                    );
                    self.bye("Access denied");
                }
                AuthOutcome::Ok(name) => {
                    self.user = Some(name);
                    self.state = State::Authenticated;
                    self.out.extend_from_slice(format!("{tag} OK [").as_bytes());
                    self.capabilities();
                    self.out.extend_from_slice(b"] Logged in\r\n");
                }
                AuthOutcome::Locked => {
                    self.tagged(
                        &tag,
                        "NO",
                        "[AUTHENTICATIONFAILED] Account locked; try later",
                    );
                    self.count_error();
                }
                AuthOutcome::Invalid | AuthOutcome::Unavailable => {
                    self.tagged(&tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
                    self.count_error();
                }
                AuthOutcome::TooManyConnections => self.tagged(
                    &tag,
                    "NO",
                    "[LIMIT] Too many connections for this user from this address",
                ),
            },
            (
                Pending::List {
                    tag,
                    lsub,
                    special_only,
                },
                ImapCommand::Listed(r),
            ) => {
                let what = if lsub { "LSUB" } else { "LIST" };
                match r {
                    Ok(entries) => {
                        for e in entries
                            .iter()
                            .filter(|e| !special_only || e.special_use.is_some())
                        {
                            write_list(&mut self.out, what, e);
                        }
                        self.tagged(&tag, "OK", &format!("{what} completed"));
                    }
                    Err(e) => self.mailbox_error(&tag, what, &e),
                }
            }
            (Pending::Status { tag, name, items }, ImapCommand::Status(r)) => match r {
                Ok(st) => {
                    write_status(&mut self.out, &name, &items, &st);
                    self.tagged(&tag, "OK", "STATUS completed");
                }
                Err(e) => self.mailbox_error(&tag, "STATUS", &e),
            },
            (
                Pending::Select {
                    tag,
                    read_only,
                    condstore,
                    resync,
                },
                ImapCommand::Selected(r),
            ) => {
                let what = if read_only { "EXAMINE" } else { "SELECT" };
                match r {
                    Ok((index, rights)) => {
                        if condstore {
                            self.condstore = true;
                        }
                        // RFC 4314 §4: with no right to change anything, read-only.
                        let read_only = read_only || !rights.may_write();
                        let mut sel = Selected::new(*index, read_only, rights);
                        sel.qresync = self.qresync;
                        sel.write_opening(&mut self.out);
                        if let Some(r) = &resync {
                            qresync::after_select(&sel, &mut self.out, r);
                        }
                        self.selected = Some(sel);
                        self.state = State::Selected;
                        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
                        self.tagged(&tag, "OK", &format!("[{mode}] {what} completed"));
                    }
                    Err(e) => self.mailbox_error(&tag, what, &e),
                }
            }
            (Pending::Folder { tag, what }, ImapCommand::Done(r)) => match r {
                Ok(()) => self.tagged(&tag, "OK", &format!("{what} completed")),
                Err(e) => self.mailbox_error(&tag, what, &e),
            },
            (Pending::Sync(cmd), ImapCommand::Changes { records, recent }) => {
                if self.take_changes(&records, &recent) {
                    self.after_sync(AfterSync::Command(cmd));
                }
            }
            (Pending::AfterAppend { tag, text }, ImapCommand::Changes { records, recent }) => {
                if self.take_changes(&records, &recent) {
                    self.after_sync(AfterSync::Append { tag, text });
                }
            }
            (Pending::IdleSync, ImapCommand::Changes { records, recent }) => {
                if self.take_changes(&records, &recent) {
                    self.after_sync(AfterSync::Idle);
                }
            }
            (
                Pending::NotifyStatus {
                    tag,
                    text,
                    mut todo,
                    initial,
                },
                ImapCommand::Status(r),
            ) => {
                if let (Some(i), Ok(st)) = (todo.pop_front(), r) {
                    if let Some(w) = self.watched.get_mut(i) {
                        // A mailbox that is gone or not allowed is left out (§5).
                        let changed = w.last.is_some_and(|l| {
                            l.messages != st.messages
                                || l.uid_next != st.uid_next
                                || l.uid_validity != st.uid_validity
                                || l.highest_modseq != st.highest_modseq
                        });
                        if initial || changed {
                            write_status(&mut self.out, &w.folder, &w.items, &st);
                        }
                        w.last = Some(st);
                    }
                }
                self.notify_on(tag, text, todo, initial);
            }
            (Pending::Fill { mut todo, then }, ImapCommand::Message(bytes)) => {
                if let (Some(uid), Some(sel)) = (todo.pop_front(), &mut self.selected) {
                    sel.contexts.fill(uid, bytes.as_deref());
                }
                self.fill_on(todo, then);
            }
            (Pending::Store(job), ImapCommand::Stored(r)) => match r {
                Ok(outcome) => self.store_done(job, outcome),
                Err(e) => {
                    let what = if job.uid_cmd { "UID STORE" } else { "STORE" };
                    self.mailbox_error(&job.tag, what, &e);
                }
            },
            (Pending::FetchSeen { tag, what, gone }, ImapCommand::Stored(r)) => {
                if let Ok(outcome) = r {
                    let condstore = self.condstore;
                    let Some(sel) = &mut self.selected else {
                        return true;
                    };
                    if sel.apply(&outcome.before, true).is_err()
                        || sel.apply(&outcome.applied, false).is_err()
                    {
                        self.out_of_step();
                        return true;
                    }
                    for r in &outcome.applied {
                        if let Record::Flags { uid, .. } = r {
                            if let Some(seq) = sel.view.seq(*uid) {
                                let mut items = vec![Item::Uid, Item::Flags];
                                if condstore {
                                    items.push(Item::ModSeq);
                                }
                                let _ =
                                    fetch::write_one(&mut self.out, sel, seq, *uid, &items, None);
                            }
                        }
                    }
                    sel.update_contexts(&mut self.out);
                }
                // The data was sent; a failure to mark it read does not undo that.
                self.fetch_done(&tag, what, gone);
            }
            (Pending::Expunge { tag, what, close }, ImapCommand::Expunged(r)) => match r {
                Ok(records) => {
                    if close {
                        // CLOSE expunges silently (RFC 3501 §6.4.2).
                        self.deselect();
                        self.tagged(&tag, "OK", "CLOSE completed");
                    } else {
                        let condstore = self.condstore;
                        let Some(sel) = &mut self.selected else {
                            return true;
                        };
                        if sel.apply(&records, true).is_err() {
                            self.out_of_step();
                            return true;
                        }
                        sel.report(&mut self.out, true, condstore);
                        self.tagged(&tag, "OK", &format!("{what} completed"));
                    }
                }
                Err(e) => self.mailbox_error(&tag, what, &e),
            },
            (Pending::Copy { tag, uids, remove }, ImapCommand::Copied(r)) => {
                self.copied(tag, uids, remove, r)
            }
            (Pending::Append { tag }, ImapCommand::Appended(r)) => match r {
                Ok((validity, uid)) => {
                    let text = format!("[APPENDUID {validity} {uid}] APPEND completed");
                    if self.selected.is_some() {
                        self.ask(ImapEvent::Sync, Pending::AfterAppend { tag, text });
                    } else {
                        self.tagged(&tag, "OK", &text);
                    }
                }
                Err(e) => self.mailbox_error(&tag, "APPEND", &e),
            },
            (Pending::Acl { tag, req }, ImapCommand::Acl(r)) => match r {
                Ok(answer) => {
                    acl::write_answer(&mut self.out, &req, &answer);
                    self.tagged(&tag, "OK", &format!("{} completed", req.op.name()));
                }
                Err(e) => self.mailbox_error(&tag, req.op.name(), &e),
            },
            (Pending::Sort(job), ImapCommand::Message(bytes)) => {
                // A message gone meanwhile sorts as one without header fields.
                self.sort_on(job, Some(bytes.unwrap_or_default()));
            }
            (Pending::UrlAuth(mut job), ImapCommand::UrlAuthKey(key)) => {
                let step = job.key(&mut self.out, key);
                self.urlauth_step(job, step);
            }
            (Pending::UrlAuth(mut job), ImapCommand::Message(msg)) => {
                let step = job.message(&mut self.out, msg);
                self.urlauth_step(job, step);
            }
            (Pending::ListExt(mut q), ImapCommand::Listed(r)) => match r {
                Ok(entries) => {
                    if q.wants_subscriptions(entries) {
                        let event = q.second();
                        self.ask(event, Pending::ListExt(q));
                    } else {
                        q.write(&mut self.out);
                        self.tagged(&q.tag, "OK", "LIST completed");
                    }
                }
                Err(e) => self.mailbox_error(&q.tag, "LIST", &e),
            },
            (Pending::Compose(mut job), ImapCommand::Status(r)) => match r {
                Ok(_) => {
                    job.target_exists();
                    self.compose_step(job);
                }
                Err(e) => self.mailbox_error(&job.tag, "APPEND", &e),
            },
            (Pending::Compose(mut job), ImapCommand::Message(bytes)) => match job.fetched(bytes) {
                Err(text) => self.tagged(&job.tag, "NO", &text),
                Ok(()) => self.compose_step(job),
            },
            (Pending::AppendMany { tag }, ImapCommand::AppendedMany(r)) => match r {
                Ok((validity, uids)) => {
                    let text = format!(
                        "[APPENDUID {validity} {}] APPEND completed",
                        append::uid_set(&uids)
                    );
                    if self.selected.is_some() {
                        self.ask(ImapEvent::Sync, Pending::AfterAppend { tag, text });
                    } else {
                        self.tagged(&tag, "OK", &text);
                    }
                }
                Err(e) => self.mailbox_error(&tag, "APPEND", &e),
            },
            (Pending::Search(job), ImapCommand::Message(bytes)) => {
                // A message gone from the store meanwhile matches no text key.
                self.search_on(job, Some(bytes.unwrap_or_default()));
            }
            (Pending::Fetch(job), ImapCommand::Message(Some(bytes))) => {
                self.fetch_on(job, Some(bytes));
            }
            (Pending::Fetch(mut job), ImapCommand::Message(None)) => {
                // Its file is gone (another session expunged it): no data rather
                // than wrong data, and the answer ends NO (RFC 2180 §4.1.2).
                job.todo.pop_front();
                job.gone = true;
                self.fetch_on(job, None);
            }
            (p, _) => {
                // The wrong kind: nothing changes (rule 5).
                self.pending = Some(p);
                return false;
            }
        }
        true
    }

    /// A sync point's changes are in: first the bytes CONTEXT=SEARCH updates need
    /// (new messages' text), then what the sync point was for.
    fn after_sync(&mut self, then: AfterSync) {
        let todo = match &self.selected {
            Some(sel) if !sel.contexts.is_empty() => sel.contexts.missing_text(sel),
            _ => Vec::new(),
        };
        self.fill_on(todo.into(), then);
    }

    fn fill_on(&mut self, todo: VecDeque<u32>, then: AfterSync) {
        if let Some(&uid) = todo.front() {
            return self.ask(ImapEvent::Message { uid }, Pending::Fill { todo, then });
        }
        let condstore = self.condstore;
        match then {
            AfterSync::Command(cmd) => {
                if reports_first(&cmd.body) {
                    if let Some(sel) = &mut self.selected {
                        sel.report(&mut self.out, true, condstore);
                    }
                }
                self.run(*cmd);
            }
            AfterSync::Append { tag, text } => {
                if let Some(sel) = &mut self.selected {
                    sel.report(&mut self.out, true, condstore);
                }
                self.tagged(&tag, "OK", &text);
            }
            AfterSync::Idle => {
                if let Some(sel) = &mut self.selected {
                    sel.report(&mut self.out, true, condstore);
                }
                if matches!(self.phase, Phase::Idle { .. }) {
                    self.idling = true;
                    self.events.push_back(ImapEvent::Idle);
                }
            }
        }
    }

    /// NOTIFY NONE / SET (RFC 5465).
    fn notify(&mut self, tag: String, r: Result<Notify, &'static str>) {
        if self.state == State::NotAuthenticated {
            return self.bad(Some(&tag), "NOTIFY not allowed now");
        }
        match r {
            Err(why) => self.bad(Some(&tag), why),
            Ok(Notify::None) => {
                self.watched.clear();
                self.tagged(&tag, "OK", "NOTIFY completed");
            }
            Ok(Notify::Set { status, watched }) => {
                self.watched = watched;
                // Without STATUS the current state is only noted, to compare with.
                let todo = (0..self.watched.len()).collect();
                self.notify_on(Some(tag), "NOTIFY completed".into(), todo, status);
            }
        }
    }

    /// Ask the status of the next watched mailbox in `todo`, or finish with `text`.
    fn notify_on(
        &mut self,
        tag: Option<String>,
        text: String,
        mut todo: VecDeque<usize>,
        initial: bool,
    ) {
        while let Some(&i) = todo.front() {
            match self.watched.get(i) {
                Some(w) if !w.items.is_empty() => {
                    let folder = w.folder.clone();
                    return self.ask(
                        ImapEvent::Status { folder },
                        Pending::NotifyStatus {
                            tag,
                            text,
                            todo,
                            initial,
                        },
                    );
                }
                _ => {
                    todo.pop_front();
                }
            }
        }
        match tag {
            Some(tag) => self.tagged(&tag, "OK", &text),
            None => self.notify_idle_done(),
        }
    }

    /// IDLE's look at the watched mailboxes. A `Wake` that comes meanwhile is not
    /// taken (an event is outstanding), so the look ends in a sync point, which
    /// reports what the selected folder did and asks for the next `Wake`.
    fn notify_idle_look(&mut self) {
        self.notify_due = None;
        self.idling = false;
        let todo = (0..self.watched.len()).collect();
        self.notify_on(None, String::new(), todo, false);
    }

    fn notify_idle_done(&mut self) {
        if !matches!(self.phase, Phase::Idle { .. }) {
            return;
        }
        self.notify_due = Some(self.clock.now() + NOTIFY_IDLE_POLL);
        if self.selected.is_some() {
            self.ask(ImapEvent::Sync, Pending::IdleSync);
        }
    }

    /// CANCELUPDATE (RFC 5267 §4.2): the contexts named stop; unknown tags are
    /// ignored, as Dovecot does.
    fn cancel_update(&mut self, r: Result<(String, Vec<String>), String>) {
        match r {
            Ok((tag, tags)) => match &mut self.selected {
                Some(sel) => {
                    for t in &tags {
                        sel.contexts.cancel(t);
                    }
                    self.tagged(&tag, "OK", "CANCELUPDATE completed");
                }
                None => self.bad(Some(&tag), "CANCELUPDATE not allowed now"),
            },
            Err(tag) => self.bad(Some(&tag), "Invalid CANCELUPDATE arguments"),
        }
    }

    /// A command that uses CONDSTORE turns it on (RFC 7162 §3.1); the first time in
    /// a selected folder the client is told its HIGHESTMODSEQ (§3.1.2.1).
    fn enable_condstore(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(sel) = &self.selected {
            self.out.extend_from_slice(
                format!(
                    "* OK [HIGHESTMODSEQ {}] Highest\r\n",
                    sel.index.highest_modseq.max(1)
                )
                .as_bytes(),
            );
        }
    }

    /// Apply the changes of a sync point; false (and closing) if they do not fit.
    fn take_changes(&mut self, records: &[Record], recent: &[u32]) -> bool {
        let Some(sel) = &mut self.selected else {
            return true;
        };
        sel.claim_recent(recent);
        if sel.apply(records, true).is_err() {
            self.out_of_step();
            return false;
        }
        true
    }

    /// After an answer: read the input kept meanwhile.
    fn resume(&mut self, now: Instant) {
        if !self.ending.is_open() {
            return;
        }
        self.last_activity = now;
        if !self.inbuf.is_empty() && !self.paused() {
            let buf = std::mem::take(&mut self.inbuf);
            self.framer.push(&buf);
        }
        self.process(now);
        if self.eof && !self.paused() {
            self.ending.close();
        }
    }
}

/// The line of a SASL response or IDLE's DONE, CRLF removed, as text.
fn is_cram_md5(m: &AuthMechanism<'_>) -> bool {
    AsRef::<str>::as_ref(m).eq_ignore_ascii_case("CRAM-MD5")
}

fn line_text(msg: &[u8]) -> String {
    let line = msg.strip_suffix(b"\n").unwrap_or(msg);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// A mailbox argument, decoded from modified UTF-7.
fn folder(m: &Mailbox<'_>) -> Result<String, ()> {
    match m {
        Mailbox::Inbox => Ok("INBOX".to_owned()),
        Mailbox::Other(o) => {
            let s = std::str::from_utf8(o.as_ref()).map_err(|_| ())?;
            decode_mutf7(s).map_err(|_| ())
        }
    }
}

pub(super) fn charset_ok(c: &str) -> bool {
    c.eq_ignore_ascii_case("US-ASCII") || c.eq_ignore_ascii_case("UTF-8")
}

/// Commands in the selected state that are not sync points.
fn needs_sync(body: &CommandBody<'_>) -> bool {
    !matches!(
        body,
        CommandBody::Capability
            | CommandBody::Logout
            | CommandBody::Select { .. }
            | CommandBody::Examine { .. }
            | CommandBody::Unselect
    )
}

/// Sync-point commands whose changes are written before the command runs; the others
/// write them themselves (FETCH, STORE, SEARCH, SORT, THREAD without EXPUNGE; NOOP,
/// CHECK, EXPUNGE, MOVE, IDLE after their own work) or leave the folder (CLOSE, LOGOUT).
fn reports_first(body: &CommandBody<'_>) -> bool {
    !matches!(
        body,
        CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Search { .. }
            | CommandBody::Sort { .. }
            | CommandBody::Thread { .. }
            | CommandBody::Noop
            | CommandBody::Check
            | CommandBody::Expunge
            | CommandBody::ExpungeUid { .. }
            | CommandBody::Move { .. }
            | CommandBody::Idle
            | CommandBody::Close
    )
}

fn has_modseq(k: &imap_codec::imap_types::search::SearchKey<'_>) -> bool {
    use imap_codec::imap_types::search::SearchKey as K;
    match k {
        K::ModSequence { .. } => true,
        K::And(ks) => ks.as_ref().iter().any(has_modseq),
        K::Not(k) => has_modseq(k),
        K::Or(a, b) => has_modseq(a) || has_modseq(b),
        _ => false,
    }
}

/// UIDs of the messages marked `\Deleted` that the client still sees.
fn deleted(sel: &Selected) -> Vec<u32> {
    sel.view
        .uids()
        .iter()
        .copied()
        .filter(|&u| {
            !sel.view.is_gone(u) && sel.meta(u).is_some_and(|m| m.flags.contains(Flag::Deleted))
        })
        .collect()
}

/// `1:3,7` style list of UIDs, in the order given (COPYUID pairs them by position).
fn uid_list(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn write_list(out: &mut Vec<u8>, what: &str, e: &ListEntry) {
    out.extend_from_slice(format!("* {what} (").as_bytes());
    let mut attrs: Vec<&str> = Vec::new();
    if e.no_select {
        attrs.push("\\Noselect");
    }
    attrs.push(if e.has_children {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    });
    if let Some(u) = e.special_use {
        attrs.push(u.attribute());
    }
    out.extend_from_slice(attrs.join(" ").as_bytes());
    out.extend_from_slice(b") \"/\" ");
    write::mailbox(out, &e.name);
    out.extend_from_slice(b"\r\n");
}

fn write_status(out: &mut Vec<u8>, name: &str, items: &[StatusDataItemName], st: &FolderStatus) {
    out.extend_from_slice(b"* STATUS ");
    write::mailbox(out, name);
    out.extend_from_slice(b" (");
    let mut parts = Vec::new();
    for i in items {
        parts.push(match i {
            StatusDataItemName::Messages => format!("MESSAGES {}", st.messages),
            StatusDataItemName::Recent => format!("RECENT {}", st.recent),
            StatusDataItemName::UidNext => format!("UIDNEXT {}", st.uid_next),
            StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", st.uid_validity),
            StatusDataItemName::Unseen => format!("UNSEEN {}", st.unseen),
            StatusDataItemName::HighestModSeq => {
                format!("HIGHESTMODSEQ {}", st.highest_modseq.max(1))
            }
            _ => continue,
        });
    }
    out.extend_from_slice(parts.join(" ").as_bytes());
    out.extend_from_slice(b")\r\n");
}

impl Machine for ImapServer {
    type Command = ImapCommand;
    type Event = ImapEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        let now = self.clock.see(now);
        if !self.ending.is_open() {
            return;
        }
        match input {
            Input::Bytes(bytes) => {
                if self.eof || bytes.is_empty() {
                    return;
                }
                self.last_activity = now;
                if self.paused() {
                    if self.inbuf.len() + bytes.len() > MAX_PENDING_INPUT.max(self.inbuf.len()) {
                        return self.bye("Too much pipelined input, closing connection");
                    }
                    self.inbuf.extend_from_slice(bytes);
                    return;
                }
                self.framer.push(bytes);
                self.process(now);
            }
            Input::Eof => {
                // With the driver's answer outstanding, the session first finishes what
                // it was asked, then closes (rule 4).
                if self.pending.is_some() {
                    self.eof = true;
                } else {
                    self.ending.close();
                }
            }
            Input::Tick => {
                if self.idle_deadline().is_some_and(|d| now >= d) {
                    self.bye("Autologout; idle for too long");
                } else if self.pending.is_none() && self.notify_due.is_some_and(|d| now >= d) {
                    self.notify_idle_look();
                }
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: ImapCommand) {
        let now = self.clock.see(now);
        if self.answer(cmd) {
            self.resume(now);
        } else {
            contract::stray("IMAP server");
        }
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<ImapEvent> {
        if self.ending.is_closed() {
            return Output::Wait(None);
        }
        out.append(&mut self.out);
        if let Some(event) = self.events.pop_front() {
            return Output::Event(event);
        }
        if let Some(o) = self.ending.poll() {
            self.inbuf = Vec::new();
            self.framer.reset();
            return o;
        }
        if self.start_tls {
            self.start_tls = false;
            self.tls_active = true;
            // Anything that arrived before the handshake is plaintext injection.
            self.inbuf.clear();
            self.framer.reset();
            return Output::StartTls;
        }
        Output::Wait(self.deadline())
    }

    /// Refused commands and failed logins, for the IDS/IPS (docs/DEFENSE.md).
    fn client_errors(&self) -> u32 {
        self.errors
    }
}
