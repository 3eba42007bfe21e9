//! The state every line-based server session keeps besides its protocol: the output
//! not yet handed out, the input kept while an event is outstanding, the idle deadline,
//! the error count, and the end of the session. `handle_input`, `handle_command` and
//! `poll_output` here run the machine contract for a `LineProtocol` (a server gets
//! them as its `Machine` from `line_machine!`), so a new protocol writes only what
//! its lines and answers mean.
//!
//! Flow control: while an event is outstanding the session reads nothing and keeps
//! what arrives in a bounded buffer, so pipelined commands are answered in order once
//! the driver answers the event; more than the bound closes the session.

use super::contract::{self, Clock, Ending};
use super::line::{LineReader, LineStep};
use crate::machine::{Input, Output};
use crate::time::Instant;
use std::time::Duration;

/// The bounds of one session, from the protocol's configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included.
    pub max_line: usize,
    /// Input kept while an event is outstanding, beyond what the current read brought.
    pub max_pending: usize,
    /// Refused commands before the session closes (0 counts as 1).
    pub max_errors: u32,
    /// Silence from the peer before the session closes; `None` = never.
    pub idle: Option<Duration>,
}

impl Limits {
    /// From a section's `max_command_line` (raised to the protocol's `least_line`),
    /// `max_errors` and `idle_timeout_secs` (0 = none), and the pending-input bound.
    pub fn new(
        max_command_line: u32,
        least_line: usize,
        max_errors: u32,
        idle_secs: u32,
        max_pending: usize,
    ) -> Limits {
        Limits {
            max_line: (max_command_line as usize).max(least_line),
            max_pending,
            max_errors,
            idle: (idle_secs != 0).then(|| Duration::from_secs(u64::from(idle_secs))),
        }
    }
}

/// Why the session closes on its own; the protocol writes the reply that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    TooManyErrors,
    TooMuchInput,
    Idle,
}

impl Farewell {
    /// The usual text of the reply (a protocol may word one differently).
    pub fn text(self) -> &'static str {
        match self {
            Farewell::TooManyErrors => "Too many errors, closing connection",
            Farewell::TooMuchInput => "Too much pipelined input, closing connection",
            Farewell::Idle => "Idle for too long, closing connection",
        }
    }
}

/// What [`line_machine!`] declares for a line server: its types, its name and where
/// its [`LineSession`] is (a field named `wire`).
pub(crate) trait LineHost {
    type Event;
    type Command;
    /// What the session waits for from the driver (which command kind answers it).
    type Awaiting: Copy;
    /// For the log line about a stray command.
    const NAME: &'static str;

    fn wire(&mut self) -> &mut LineSession<Self::Event, Self::Awaiting>;
}

/// The protocol half of a line session: what its lines and answers mean.
pub(crate) trait LineProtocol: LineHost {
    /// One whole line, terminator removed.
    fn on_line(&mut self, now: Instant, line: &[u8]);
    /// A line passed [`Limits::max_line`]; it is skipped. Usually an error reply.
    fn on_line_too_long(&mut self);
    /// Write the reply for a close the session decided; the session then closes.
    fn farewell(&mut self, why: Farewell);
    /// Act on `cmd` if it answers [`LineSession::awaiting`]; false if it is a stray
    /// (then nothing may change).
    fn answer(&mut self, cmd: Self::Command) -> bool;
    /// Input that is not lines (SMTP's DATA and BDAT): take what belongs to it and
    /// return how much, or `None` while the protocol reads lines.
    fn raw(&mut self, _now: Instant, _input: &[u8]) -> Option<usize> {
        None
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct LineSession<E, A> {
    /// Bytes for the peer not yet handed to the driver.
    pub out: Vec<u8>,
    pub lines: LineReader,
    pub limits: Limits,
    /// The connection is encrypted (implicit TLS, or after `StartTls`).
    pub tls_active: bool,
    inbuf: Vec<u8>,
    event: Option<E>,
    awaiting: Option<A>,
    errors: u32,
    /// Client errors for the IDS/IPS: `errors` and the refusals that do not close.
    strikes: u32,
    start_tls: bool,
    /// Throw away the rest of the input being processed (after STARTTLS/STLS).
    discard_input: bool,
    /// The peer closed while the session waited for the driver.
    eof: bool,
    ending: Ending,
    clock: Clock,
    last_activity: Instant,
}

impl<E, A: Copy> LineSession<E, A> {
    pub fn new(now: Instant, limits: Limits, tls_active: bool) -> Self {
        LineSession {
            out: Vec::with_capacity(256),
            lines: LineReader::default(),
            limits,
            tls_active,
            inbuf: Vec::new(),
            event: None,
            awaiting: None,
            errors: 0,
            strikes: 0,
            start_tls: false,
            discard_input: false,
            eof: false,
            ending: Ending::default(),
            clock: Clock::new(now),
            last_activity: now,
        }
    }

    /// Hand `event` to the driver and wait for the answer `awaiting` names.
    pub fn ask(&mut self, event: E, awaiting: A) {
        self.event = Some(event);
        self.awaiting = Some(awaiting);
    }

    /// What a command would answer now; `None` makes every command a stray (nothing
    /// asked, or the session is closing or closed). A command that answers it is
    /// followed by [`answered`].
    pub fn awaiting(&self) -> Option<A> {
        if !self.ending.is_open() {
            return None;
        }
        self.awaiting
    }

    /// End the session: everything written so far goes out, then `Close`.
    pub fn close(&mut self) {
        self.ending.close();
    }

    pub fn is_open(&self) -> bool {
        self.ending.is_open()
    }

    /// Send what is written, then `StartTls`; the rest of the current input is thrown
    /// away as possible plaintext injection (RFC 3207 §4.2, RFC 2595 §4).
    pub fn start_tls(&mut self) {
        self.lines.reset();
        self.start_tls = true;
        self.discard_input = true;
    }

    /// Count a refusal caused by the peer; true when this one reaches the limit.
    fn count_error(&mut self) -> bool {
        self.errors = self.errors.saturating_add(1);
        self.strikes = self.strikes.saturating_add(1);
        self.errors >= self.limits.max_errors.max(1) && self.ending.is_open()
    }

    fn paused(&self) -> bool {
        !self.ending.is_open() || self.start_tls || self.awaiting.is_some()
    }

    /// The idle deadline; none while the driver has the turn.
    fn deadline(&self) -> Option<Instant> {
        let idle = self.limits.idle?;
        self.awaiting.is_none().then(|| self.last_activity + idle)
    }

    /// A refusal the client caused that does not count toward `max_errors` (an
    /// unknown local recipient, refused relaying) but does for the IDS/IPS.
    pub fn strike(&mut self) {
        self.strikes = self.strikes.saturating_add(1);
    }

    /// Client errors so far, for [`crate::Machine::client_errors`].
    pub fn strikes(&self) -> u32 {
        self.strikes
    }

    /// The latest time seen (for text that names a time, like a challenge).
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Note the driver's `now` (rule 6) and return the time to act on.
    pub fn see(&mut self, now: Instant) -> Instant {
        self.clock.see(now)
    }
}

/// Count a refusal the protocol just wrote; the limit closes the session with
/// [`Farewell::TooManyErrors`].
pub(crate) fn count_error<P: LineProtocol>(p: &mut P) {
    if p.wire().count_error() {
        farewell(p, Farewell::TooManyErrors);
    }
}

fn farewell<P: LineProtocol>(p: &mut P, why: Farewell) {
    p.farewell(why);
    p.wire().close();
}

/// `Machine::handle_input` for a line session.
pub(crate) fn handle_input<P: LineProtocol>(p: &mut P, now: Instant, input: Input<'_>) {
    let w = p.wire();
    let now = w.clock.see(now);
    if !w.ending.is_open() {
        return;
    }
    match input {
        Input::Bytes(bytes) => {
            if w.eof || bytes.is_empty() {
                return;
            }
            w.last_activity = now;
            if w.paused() {
                if w.inbuf.len() + bytes.len() > w.limits.max_pending.max(w.inbuf.len()) {
                    return farewell(p, Farewell::TooMuchInput);
                }
                w.inbuf.extend_from_slice(bytes);
                return;
            }
            let used = process(p, now, bytes);
            p.wire().inbuf.extend_from_slice(&bytes[used..]);
        }
        Input::Eof => {
            // With the driver's answer outstanding, the session first finishes what
            // it was asked (a delivery, a commit), then closes (rule 4).
            if w.awaiting.is_some() {
                w.eof = true;
            } else {
                w.close();
            }
        }
        Input::Tick => {
            if w.deadline().is_some_and(|d| now >= d) {
                farewell(p, Farewell::Idle);
            }
        }
    }
}

/// `Machine::handle_command` for a line session: a stray changes nothing (rule 5).
pub(crate) fn handle_command<P: LineProtocol>(p: &mut P, now: Instant, cmd: P::Command) {
    if p.answer(cmd) {
        answered(p, now);
    } else {
        contract::stray(P::NAME);
    }
}

/// After the protocol took a command that answers [`LineSession::awaiting`]: the wait
/// is over unless the protocol asked again (the next chunk), the idle timer restarts,
/// and the input kept meanwhile is read.
fn answered<P: LineProtocol>(p: &mut P, now: Instant) {
    let w = p.wire();
    let now = w.clock.see(now);
    if !w.ending.is_open() {
        return;
    }
    if w.event.is_none() {
        w.awaiting = None;
    }
    w.last_activity = now;
    if !w.inbuf.is_empty() && !w.paused() {
        let mut buf = std::mem::take(&mut w.inbuf);
        let used = process(p, now, &buf);
        buf.drain(..used);
        p.wire().inbuf = buf;
    }
    let w = p.wire();
    if w.eof && w.inbuf.is_empty() && !w.paused() {
        w.close();
    }
}

/// Run `input` through the protocol until it is used up or the session pauses.
/// Returns how many bytes were used (all of them after STARTTLS: the rest is
/// discarded as possible injected plaintext).
fn process<P: LineProtocol>(p: &mut P, now: Instant, input: &[u8]) -> usize {
    let mut pos = 0;
    while pos < input.len() && !p.wire().paused() {
        if let Some(n) = p.raw(now, &input[pos..]) {
            pos += n;
        } else {
            let w = p.wire();
            let (n, step) = w.lines.feed(&input[pos..], w.limits.max_line);
            pos += n;
            match step {
                LineStep::Partial => {}
                LineStep::TooLong => p.on_line_too_long(),
                LineStep::Line => {
                    let line = p.wire().lines.take_line();
                    p.on_line(now, &line);
                    p.wire().lines.restore(line);
                }
            }
        }
        let w = p.wire();
        if w.discard_input {
            w.discard_input = false;
            return input.len();
        }
    }
    pos
}

/// `Machine::poll_output` for a line session: output first, then the event, then
/// `Close` (once) or `StartTls`, else `Wait` until the idle deadline.
pub(crate) fn poll_output<P: LineProtocol>(p: &mut P, out: &mut Vec<u8>) -> Output<P::Event> {
    let w = p.wire();
    if w.ending.is_closed() {
        return Output::Wait(None);
    }
    out.append(&mut w.out);
    if let Some(event) = w.event.take() {
        return Output::Event(event);
    }
    if let Some(o) = w.ending.poll() {
        w.inbuf = Vec::new();
        return o;
    }
    if w.start_tls {
        w.start_tls = false;
        w.tls_active = true;
        // Anything that arrived before the handshake is plaintext injection.
        w.inbuf.clear();
        return Output::StartTls;
    }
    Output::Wait(w.deadline())
}

/// `Machine` and [`LineHost`] for a line server whose [`LineSession`] is its field
/// `wire`: `line_machine!(Server, Command, Event, Awaiting, "name")`. Every line
/// server runs the contract the same way, through this module.
macro_rules! line_machine {
    ($server:ty, $command:ty, $event:ty, $awaiting:ty, $name:literal) => {
        impl $crate::wire::session::LineHost for $server {
            type Event = $event;
            type Command = $command;
            type Awaiting = $awaiting;
            const NAME: &'static str = $name;

            fn wire(&mut self) -> &mut $crate::wire::LineSession<$event, $awaiting> {
                &mut self.wire
            }
        }

        impl $crate::machine::Machine for $server {
            type Command = $command;
            type Event = $event;

            fn handle_input(
                &mut self,
                now: $crate::time::Instant,
                input: $crate::machine::Input<'_>,
            ) {
                $crate::wire::session::handle_input(self, now, input);
            }

            fn handle_command(&mut self, now: $crate::time::Instant, cmd: $command) {
                $crate::wire::session::handle_command(self, now, cmd);
            }

            fn poll_output(&mut self, out: &mut Vec<u8>) -> $crate::machine::Output<$event> {
                $crate::wire::session::poll_output(self, out)
            }

            fn client_errors(&self) -> u32 {
                self.wire.strikes()
            }
        }
    };
}
pub(crate) use line_machine;
