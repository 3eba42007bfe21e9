//! Simulated TCP: [`Pipes`] carry the bytes both ways with latency per chunk, writes
//! split at random boundaries, resets and refused connections; a [`Wire`] puts a client
//! machine and a real core [`SmtpServer`] at its ends, a [`Link`] a client machine and
//! a scripted server.

use crate::rng::Rng;
use mailroom_core::smtp::etrn_client::{EtrnClient, EtrnEvent};
use mailroom_core::smtp::{SmtpCommand, SmtpEvent, SmtpServer};
use mailroom_core::{Input, Instant, Machine, Output};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// Faults a link adds to the streams over it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// One-way latency per chunk, microseconds, uniform in this range.
    pub latency: (u64, u64),
    /// Split writes into chunks at random boundaries.
    pub split: bool,
    /// Chance that any one chunk resets the connection.
    pub reset: f64,
    /// Chance that opening a connection is refused.
    pub refuse: f64,
}

impl Faults {
    pub const CLEAN: Faults = Faults {
        latency: (20_000, 20_000),
        split: false,
        reset: 0.0,
        refuse: 0.0,
    };
}

/// A message a scripted client hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    pub id: u64,
    pub from: String,
    pub to: String,
}

impl SimMessage {
    /// The message text; `X-Sim-Id` lets the receiving side name it.
    pub fn data(&self) -> String {
        format!(
            "From: <{}>\r\nTo: <{}>\r\nSubject: message {}\r\nX-Sim-Id: {}\r\n\r\nHello {}.\r\n",
            self.from, self.to, self.id, self.id, self.id
        )
    }
}

/// The simulated id in a stored message.
pub fn sim_id(data: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .find_map(|l| l.strip_prefix("X-Sim-Id: "))
        .and_then(|v| v.trim().parse().ok())
}

/// What the push client learned about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushResult {
    Accepted,
    TempFailed,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    Result(u64, PushResult),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PushState {
    Greeting,
    Ehlo,
    Mail(usize),
    Rcpt(usize),
    Data(usize),
    Body(usize),
    /// After a refused message: waiting for the RSET reply.
    Rset(usize),
    Quit,
    Done,
}

/// A scripted SMTP client that hands over a list of messages (the ISP relay pushing
/// mail in, a head office releasing held mail, the stand-in for the outbound client).
pub struct PushClient {
    messages: Vec<SimMessage>,
    state: PushState,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<PushEvent>,
    deadline: Instant,
}

const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

impl PushClient {
    pub fn new(now: Instant, messages: Vec<SimMessage>) -> PushClient {
        PushClient {
            messages,
            state: PushState::Greeting,
            inbuf: Vec::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            deadline: now + CLIENT_TIMEOUT,
        }
    }

    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn next_message(&mut self, i: usize) {
        if i < self.messages.len() {
            let cmd = format!("MAIL FROM:<{}>", self.messages[i].from);
            self.line(&cmd);
            self.state = PushState::Mail(i);
        } else {
            self.line("QUIT");
            self.state = PushState::Quit;
        }
    }

    fn result(&mut self, i: usize, code: u16) {
        let r = match code {
            200..=299 => PushResult::Accepted,
            400..=499 => PushResult::TempFailed,
            _ => PushResult::Refused,
        };
        self.events
            .push_back(PushEvent::Result(self.messages[i].id, r));
    }

    fn on_reply(&mut self, code: u16) {
        match self.state {
            PushState::Greeting if code == 220 => {
                self.line("EHLO sim.example");
                self.state = PushState::Ehlo;
            }
            PushState::Ehlo if code == 250 => self.next_message(0),
            PushState::Mail(i) if code == 250 => {
                let cmd = format!("RCPT TO:<{}>", self.messages[i].to);
                self.line(&cmd);
                self.state = PushState::Rcpt(i);
            }
            PushState::Rcpt(i) if code == 250 => {
                self.line("DATA");
                self.state = PushState::Data(i);
            }
            PushState::Data(i) if code == 354 => {
                let body = self.messages[i].data();
                self.out.extend_from_slice(body.as_bytes());
                self.line(".");
                self.state = PushState::Body(i);
            }
            PushState::Mail(i) | PushState::Rcpt(i) | PushState::Data(i) => {
                self.result(i, code);
                self.line("RSET");
                self.state = PushState::Rset(i);
            }
            PushState::Rset(i) => self.next_message(i + 1),
            PushState::Body(i) => {
                self.result(i, code);
                self.next_message(i + 1);
            }
            PushState::Quit => self.state = PushState::Done,
            _ => {
                self.line("QUIT");
                self.state = PushState::Done;
            }
        }
    }
}

impl Machine for PushClient {
    type Command = ();
    type Event = PushEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Bytes(b) => {
                self.deadline = now + CLIENT_TIMEOUT;
                self.inbuf.extend_from_slice(b);
                while let Some(end) = self.inbuf.iter().position(|&c| c == b'\n') {
                    let line: Vec<u8> = self.inbuf.drain(..=end).collect();
                    let more = line.get(3) == Some(&b'-');
                    let code = std::str::from_utf8(line.get(..3).unwrap_or(b"000"))
                        .ok()
                        .and_then(|c| c.parse::<u16>().ok())
                        .unwrap_or(0);
                    if !more {
                        self.on_reply(code);
                    }
                }
            }
            Input::Eof => self.state = PushState::Done,
            Input::Tick => {
                if now >= self.deadline {
                    self.state = PushState::Done;
                }
            }
        }
    }

    fn handle_command(&mut self, _now: Instant, _cmd: ()) {}

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<PushEvent> {
        out.append(&mut self.out);
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        if self.state == PushState::Done {
            return Output::Close;
        }
        Output::Wait(Some(self.deadline))
    }
}

/// The client end of a wire.
pub enum Client {
    Push(PushClient),
    Etrn(EtrnClient),
}

/// Something the client end reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    Push(PushEvent),
    Etrn(EtrnEvent),
}

impl Client {
    fn input(&mut self, now: Instant, input: Input<'_>) {
        match self {
            Client::Push(c) => c.handle_input(now, input),
            Client::Etrn(c) => c.handle_input(now, input),
        }
    }

    fn poll(&mut self, out: &mut Vec<u8>) -> Output<ClientEvent> {
        match self {
            Client::Push(c) => match c.poll_output(out) {
                Output::Event(e) => Output::Event(ClientEvent::Push(e)),
                Output::Wait(w) => Output::Wait(w),
                Output::Close => Output::Close,
                Output::StartTls => Output::StartTls,
            },
            Client::Etrn(c) => match c.poll_output(out) {
                Output::Event(e) => Output::Event(ClientEvent::Etrn(e)),
                Output::Wait(w) => Output::Wait(w),
                Output::Close => Output::Close,
                Output::StartTls => Output::StartTls,
            },
        }
    }
}

/// How a wire step ended.
#[derive(Debug, Default)]
pub struct Step {
    pub client_events: Vec<ClientEvent>,
    pub server_events: Vec<SmtpEvent>,
    /// The wire is finished (closed or reset).
    pub ended: bool,
    /// It ended by a reset rather than a close.
    pub reset: bool,
}

/// One connection: client machine, server machine, bytes in flight both ways.
pub struct Wire {
    pub client: Client,
    pub server: SmtpServer,
    pipes: Pipes,
}

/// The two directions of a simulated connection: chunks in flight with their arrival
/// times, the faults that delay, split and reset them, and which side has closed.
/// [`Wire`] and `isp_pop3::Link` put their two machines at its ends.
pub(crate) struct Pipes {
    faults: Faults,
    rng: Rng,
    to_server: VecDeque<(Instant, Vec<u8>)>,
    to_client: VecDeque<(Instant, Vec<u8>)>,
    pub(crate) client_wait: Option<Instant>,
    pub(crate) server_wait: Option<Instant>,
    pub(crate) client_closed: bool,
    pub(crate) server_closed: bool,
    /// Eof scheduled for the side that has not closed.
    eof_to_server: Option<Instant>,
    eof_to_client: Option<Instant>,
    pub(crate) ended: bool,
}

impl Pipes {
    pub(crate) fn new(faults: Faults, rng: Rng) -> Pipes {
        Pipes {
            faults,
            rng,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            client_wait: None,
            server_wait: None,
            client_closed: false,
            server_closed: false,
            eof_to_server: None,
            eof_to_client: None,
            ended: false,
        }
    }

    /// When the connection next needs a step (`None` once ended).
    pub(crate) fn next_time(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        [
            self.to_server.front().map(|c| c.0),
            self.to_client.front().map(|c| c.0),
            self.client_wait.filter(|_| !self.client_closed),
            self.server_wait.filter(|_| !self.server_closed),
            self.eof_to_server,
            self.eof_to_client,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn latency(&mut self) -> Duration {
        Duration::from_micros(self.rng.range(self.faults.latency.0, self.faults.latency.1))
    }

    /// Queue `bytes` toward one side in (possibly split) chunks; `false` on a reset.
    pub(crate) fn send(&mut self, now: Instant, bytes: Vec<u8>, to_server: bool) -> bool {
        let mut rest = bytes.as_slice();
        // Chunks of one write arrive in order: each at or after the one before.
        let mut at = now;
        while !rest.is_empty() {
            let n = if self.faults.split && rest.len() > 1 {
                self.rng.range(1, rest.len() as u64) as usize
            } else {
                rest.len()
            };
            if self.rng.chance(self.faults.reset) {
                return false;
            }
            let lat = self.latency();
            let queue = if to_server {
                &mut self.to_server
            } else {
                &mut self.to_client
            };
            let last = queue.back().map_or(now, |c| c.0);
            at = (now + lat).max(last).max(at);
            queue.push_back((at, rest[..n].to_vec()));
            rest = &rest[n..];
        }
        true
    }

    /// The next chunk toward one side that has arrived by `now`.
    pub(crate) fn arrived(&mut self, now: Instant, to_server: bool) -> Option<Vec<u8>> {
        let queue = if to_server {
            &mut self.to_server
        } else {
            &mut self.to_client
        };
        if queue.front().is_some_and(|c| c.0 <= now) {
            queue.pop_front().map(|(_, b)| b)
        } else {
            None
        }
    }

    /// Whether one side's end of input is due at `now`, after all its data (once).
    pub(crate) fn eof_due(&mut self, now: Instant, to_server: bool) -> bool {
        let (eof, queue) = if to_server {
            (&mut self.eof_to_server, &self.to_server)
        } else {
            (&mut self.eof_to_client, &self.to_client)
        };
        if eof.is_some_and(|t| t <= now) && queue.is_empty() {
            *eof = None;
            return true;
        }
        false
    }

    /// A reset: what is in flight is lost.
    pub(crate) fn drop_in_flight(&mut self) {
        self.to_server.clear();
        self.to_client.clear();
    }

    /// After both machines wrote: a side that closed just now sends its end of input
    /// to the other, behind the data already in flight; both closed ends the connection.
    pub(crate) fn note_closes(
        &mut self,
        now: Instant,
        server_was_closed: bool,
        client_was_closed: bool,
    ) {
        if self.server_closed && !server_was_closed && !self.client_closed {
            let lat = self.latency();
            let last = self.to_client.back().map_or(now, |c| c.0);
            self.eof_to_client = Some((now + lat).max(last));
        }
        if self.client_closed && !client_was_closed && !self.server_closed {
            let lat = self.latency();
            let last = self.to_server.back().map_or(now, |c| c.0);
            self.eof_to_server = Some((now + lat).max(last));
        }
        if self.client_closed && self.server_closed {
            self.ended = true;
        }
    }
}

impl Wire {
    pub fn new(client: Client, server: SmtpServer, faults: Faults, rng: Rng) -> Wire {
        Wire {
            client,
            server,
            pipes: Pipes::new(faults, rng),
        }
    }

    /// Whether opening this connection is refused (drawn once per open).
    pub fn refused(rng: &mut Rng, faults: &Faults) -> bool {
        rng.chance(faults.refuse)
    }

    pub fn is_ended(&self) -> bool {
        self.pipes.ended
    }

    /// When the wire next needs a step.
    pub fn next_time(&self) -> Option<Instant> {
        self.pipes.next_time()
    }

    /// Tear the connection down at once: both sides see the end of input.
    pub fn reset(
        &mut self,
        now: Instant,
        step: &mut Step,
        answer: &mut dyn FnMut(&SmtpEvent) -> Option<SmtpCommand>,
    ) {
        if self.pipes.ended {
            return;
        }
        self.pipes.drop_in_flight();
        self.client.input(now, Input::Eof);
        self.server.handle_input(now, Input::Eof);
        let mut sink = Vec::new();
        self.drain_client(&mut sink, step);
        let _ = self.drain_server(now, &mut sink, step, answer);
        self.pipes.ended = true;
        step.ended = true;
        step.reset = true;
    }

    fn drain_client(&mut self, out: &mut Vec<u8>, step: &mut Step) -> Option<Output<()>> {
        loop {
            match self.client.poll(out) {
                Output::Event(e) => step.client_events.push(e),
                Output::Wait(w) => {
                    self.pipes.client_wait = w;
                    return Some(Output::Wait(w));
                }
                Output::Close => {
                    self.pipes.client_closed = true;
                    return Some(Output::Close);
                }
                Output::StartTls => {}
            }
        }
    }

    fn drain_server(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        step: &mut Step,
        answer: &mut dyn FnMut(&SmtpEvent) -> Option<SmtpCommand>,
    ) -> Option<Output<()>> {
        loop {
            match self.server.poll_output(out) {
                Output::Event(e) => {
                    let cmd = answer(&e);
                    step.server_events.push(e);
                    if let Some(c) = cmd {
                        self.server.handle_command(now, c);
                    }
                }
                Output::Wait(w) => {
                    self.pipes.server_wait = w;
                    return Some(Output::Wait(w));
                }
                Output::Close => {
                    self.pipes.server_closed = true;
                    return Some(Output::Close);
                }
                Output::StartTls => {}
            }
        }
    }

    /// Start: the server greets. Call once after creating the wire.
    pub fn open(
        &mut self,
        now: Instant,
        answer: &mut dyn FnMut(&SmtpEvent) -> Option<SmtpCommand>,
    ) -> Step {
        let mut step = Step::default();
        self.flush(now, &mut step, answer);
        step
    }

    /// Deliver what is due at `now`, run both machines, send what they wrote.
    pub fn step(
        &mut self,
        now: Instant,
        answer: &mut dyn FnMut(&SmtpEvent) -> Option<SmtpCommand>,
    ) -> Step {
        let mut step = Step::default();
        if self.pipes.ended {
            step.ended = true;
            return step;
        }
        while let Some(b) = self.pipes.arrived(now, true) {
            if !self.pipes.server_closed {
                self.server.handle_input(now, Input::Bytes(&b));
            }
        }
        while let Some(b) = self.pipes.arrived(now, false) {
            if !self.pipes.client_closed {
                self.client.input(now, Input::Bytes(&b));
            }
        }
        if self.pipes.eof_due(now, true) {
            self.server.handle_input(now, Input::Eof);
        }
        if self.pipes.eof_due(now, false) {
            self.client.input(now, Input::Eof);
        }
        if self.pipes.client_wait.is_some_and(|t| t <= now) {
            self.client.input(now, Input::Tick);
        }
        if self.pipes.server_wait.is_some_and(|t| t <= now) {
            self.server.handle_input(now, Input::Tick);
        }
        self.flush(now, &mut step, answer);
        step
    }

    fn flush(
        &mut self,
        now: Instant,
        step: &mut Step,
        answer: &mut dyn FnMut(&SmtpEvent) -> Option<SmtpCommand>,
    ) {
        let mut to_client = Vec::new();
        let was_closed = self.pipes.server_closed;
        if !self.pipes.server_closed {
            self.drain_server(now, &mut to_client, step, answer);
        }
        let mut to_server = Vec::new();
        let client_was_closed = self.pipes.client_closed;
        if !self.pipes.client_closed {
            self.drain_client(&mut to_server, step);
        }
        if !to_client.is_empty() && !self.pipes.send(now, to_client, false) {
            return self.reset(now, step, answer);
        }
        if !to_server.is_empty() && !self.pipes.send(now, to_server, true) {
            return self.reset(now, step, answer);
        }
        self.pipes.note_closes(now, was_closed, client_was_closed);
        if self.pipes.ended {
            step.ended = true;
        }
    }
}

/// One TCP connection between a client machine and a scripted server that raises no
/// events (an ISP POP3 server of [`crate::isp_pop3`], an SMTP peer of
/// [`crate::outbound`]), in virtual time, with the [`Faults`] of its [`Pipes`].
pub struct Link<C: Machine, S: Machine<Event = Infallible>> {
    pub client: C,
    pub server: S,
    pipes: Pipes,
    /// The client asked for TLS; the scripted server offers none, so this is a fault.
    pub client_asked_tls: bool,
    /// Bytes the client sent and received.
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// Answers the client's events; `now` is the virtual time of the step.
pub type Answer<'a, C> =
    dyn FnMut(Instant, &<C as Machine>::Event) -> Option<<C as Machine>::Command> + 'a;

impl<C: Machine, S: Machine<Event = Infallible>> Link<C, S> {
    pub fn new(client: C, server: S, faults: Faults, rng: Rng) -> Link<C, S> {
        Link {
            client,
            server,
            pipes: Pipes::new(faults, rng),
            client_asked_tls: false,
            bytes_up: 0,
            bytes_down: 0,
        }
    }

    pub fn is_ended(&self) -> bool {
        self.pipes.ended
    }

    /// When the link next needs a step (`None` once ended).
    pub fn next_time(&self) -> Option<Instant> {
        self.pipes.next_time()
    }

    /// Tear the connection down: both sides see the end of input at once.
    pub fn reset(&mut self, now: Instant, events: &mut Vec<C::Event>, answer: &mut Answer<'_, C>) {
        if self.pipes.ended {
            return;
        }
        self.pipes.drop_in_flight();
        if !self.pipes.client_closed {
            self.client.handle_input(now, Input::Eof);
            let mut sink = Vec::new();
            self.drain_client(now, &mut sink, events, answer);
        }
        self.server.handle_input(now, Input::Eof);
        self.pipes.client_closed = true;
        self.pipes.server_closed = true;
        self.pipes.ended = true;
    }

    fn drain_client(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        events: &mut Vec<C::Event>,
        answer: &mut Answer<'_, C>,
    ) {
        loop {
            match self.client.poll_output(out) {
                Output::Event(e) => {
                    let cmd = answer(now, &e);
                    events.push(e);
                    if let Some(c) = cmd {
                        self.client.handle_command(now, c);
                    }
                }
                Output::Wait(w) => {
                    self.pipes.client_wait = w;
                    return;
                }
                Output::Close => {
                    self.pipes.client_closed = true;
                    return;
                }
                Output::StartTls => self.client_asked_tls = true,
            }
        }
    }

    fn drain_server(&mut self, out: &mut Vec<u8>) {
        loop {
            match self.server.poll_output(out) {
                Output::Event(e) => match e {},
                Output::Wait(w) => {
                    self.pipes.server_wait = w;
                    return;
                }
                Output::Close => {
                    self.pipes.server_closed = true;
                    return;
                }
                Output::StartTls => {}
            }
        }
    }

    /// Start: the server greets (possibly late). Call once.
    pub fn open(&mut self, now: Instant, answer: &mut Answer<'_, C>) -> Vec<C::Event> {
        let mut events = Vec::new();
        self.flush(now, &mut events, answer);
        events
    }

    /// Deliver what is due at `now`, run both machines, send what they wrote.
    pub fn step(&mut self, now: Instant, answer: &mut Answer<'_, C>) -> Vec<C::Event> {
        let mut events = Vec::new();
        if self.pipes.ended {
            return events;
        }
        while let Some(b) = self.pipes.arrived(now, true) {
            if !self.pipes.server_closed {
                self.server.handle_input(now, Input::Bytes(&b));
            }
        }
        while let Some(b) = self.pipes.arrived(now, false) {
            if !self.pipes.client_closed {
                self.bytes_down += b.len() as u64;
                self.client.handle_input(now, Input::Bytes(&b));
            }
        }
        if self.pipes.eof_due(now, true) {
            self.server.handle_input(now, Input::Eof);
        }
        if self.pipes.eof_due(now, false) {
            self.client.handle_input(now, Input::Eof);
        }
        if self.pipes.client_wait.is_some_and(|t| t <= now) && !self.pipes.client_closed {
            self.client.handle_input(now, Input::Tick);
        }
        if self.pipes.server_wait.is_some_and(|t| t <= now) && !self.pipes.server_closed {
            self.server.handle_input(now, Input::Tick);
        }
        self.flush(now, &mut events, answer);
        events
    }

    fn flush(&mut self, now: Instant, events: &mut Vec<C::Event>, answer: &mut Answer<'_, C>) {
        let mut to_client = Vec::new();
        let server_was_closed = self.pipes.server_closed;
        if !self.pipes.server_closed {
            self.drain_server(&mut to_client);
        }
        let mut to_server = Vec::new();
        let client_was_closed = self.pipes.client_closed;
        if !self.pipes.client_closed {
            self.drain_client(now, &mut to_server, events, answer);
        }
        if !to_client.is_empty() && !self.pipes.send(now, to_client, false) {
            return self.reset(now, events, answer);
        }
        self.bytes_up += to_server.len() as u64;
        if !to_server.is_empty() && !self.pipes.send(now, to_server, true) {
            return self.reset(now, events, answer);
        }
        self.pipes
            .note_closes(now, server_was_closed, client_was_closed);
    }

    /// Run from `start` until both sides have closed or the virtual clock passes
    /// `limit`. Returns the events and the time it stopped.
    pub fn run(
        &mut self,
        start: Instant,
        limit: Instant,
        answer: &mut Answer<'_, C>,
    ) -> (Vec<C::Event>, Instant) {
        let mut events = self.open(start, answer);
        let mut now = start;
        while let Some(t) = self.next_time() {
            if t > limit {
                break;
            }
            now = t.max(now);
            events.extend(self.step(now, answer));
        }
        (events, now)
    }
}
