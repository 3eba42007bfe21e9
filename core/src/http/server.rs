//! The HTTP/1.1 server session: bytes in, one [`HttpEvent::Request`] at a time out,
//! responses written in request order.
//!
//! Framing is deliberately narrow, because a web admin has no reason to accept what
//! request smuggling needs: bodies by `Content-Length` only (a request with
//! `Transfer-Encoding`, with two differing lengths, or a length that is not plain
//! digits is refused and the connection closed), exactly one `Host` in HTTP/1.1, a
//! head of at most [`HttpLimits::max_head`] bytes and [`HttpLimits::max_headers`]
//! fields (`httparse` parses it), and a body limit per route decided from the head
//! before any of the body is read. `Expect: 100-continue` is answered `100 Continue`
//! only when the body will be read. Pipelined requests wait in a bounded buffer and are
//! answered in order. A request must arrive whole within `head_timeout` of its first
//! byte (slowloris), and a connection with no request under way closes after
//! `idle_timeout`.

use super::{reason, BodyLimit, HttpCommand, HttpEvent, Request, Response};
use crate::{Input, Instant, Machine, Output};
use std::time::Duration;

/// The bounds of one connection.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Request line and header fields, in bytes.
    pub max_head: usize,
    /// Header fields per request.
    pub max_headers: usize,
    /// A request's head and body must arrive within this from its first byte.
    pub head_timeout: Duration,
    /// A connection with no request under way is closed after this.
    pub idle_timeout: Duration,
    /// The most body a request for (method, path) may carry.
    pub body_limit: BodyLimit,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_head: super::DEFAULT_MAX_HEAD,
            max_headers: super::DEFAULT_MAX_HEADERS,
            head_timeout: super::DEFAULT_HEAD_TIMEOUT,
            idle_timeout: super::DEFAULT_IDLE_TIMEOUT,
            body_limit: |_, _| 64 * 1024,
        }
    }
}

#[derive(Debug)]
enum State {
    /// Reading a request head (or waiting for one).
    Head,
    /// Reading `need` bytes of body for `request`.
    Body {
        request: Request,
        need: usize,
        keep_alive: bool,
        head_only: bool,
    },
    /// The request is out as an event; its response has not come yet.
    Awaiting { keep_alive: bool, head_only: bool },
    /// A final response is written; `Close` is next.
    Closing,
    /// `Close` was returned.
    Closed,
}

/// One HTTP connection.
pub struct HttpServer {
    limits: HttpLimits,
    state: State,
    /// Input not yet consumed: the head being read, body bytes, pipelined requests.
    buf: Vec<u8>,
    /// Bytes for the peer, handed out at the next poll.
    out: Vec<u8>,
    event: Option<HttpEvent>,
    now: Instant,
    /// When the request under way started (its first byte), for `head_timeout`.
    started: Option<Instant>,
    /// When the connection last became idle, for `idle_timeout`.
    idle_since: Instant,
    eof: bool,
    /// Input arrived beyond the pipelining bound: close after the current response.
    overflow: bool,
    errors: u32,
}

/// Bytes kept while a response is outstanding (pipelined requests); past that the
/// connection ends after the current response.
fn max_pending(limits: &HttpLimits) -> usize {
    limits.max_head.saturating_mul(4)
}

impl HttpServer {
    pub fn new(now: Instant, limits: HttpLimits) -> Self {
        HttpServer {
            limits,
            state: State::Head,
            buf: Vec::new(),
            out: Vec::new(),
            event: None,
            now,
            started: None,
            idle_since: now,
            eof: false,
            overflow: false,
            errors: 0,
        }
    }

    /// Refuse the request under way with `status` and end the connection.
    fn fail(&mut self, status: u16, why: &str) {
        tracing::debug!(status, "http: refused: {why}");
        self.errors = self.errors.saturating_add(1);
        let response = Response::text(status, &format!("{status} {}: {why}\n", reason(status)))
            .header("X-Content-Type-Options", "nosniff");
        write_response(&mut self.out, &response, true, false);
        self.buf.clear();
        self.state = State::Closing;
    }

    /// Work through the input as far as it goes without an answer.
    fn advance(&mut self) {
        loop {
            match std::mem::replace(&mut self.state, State::Closed) {
                State::Head => {
                    self.state = State::Head;
                    if self.buf.is_empty() {
                        if self.eof {
                            self.state = State::Closing;
                        }
                        return;
                    }
                    if self.started.is_none() {
                        self.started = Some(self.now);
                    }
                    if !self.read_head() {
                        return;
                    }
                }
                State::Body {
                    request,
                    need,
                    keep_alive,
                    head_only,
                } => {
                    if self.buf.len() < need {
                        self.state = if self.eof {
                            State::Closing
                        } else {
                            State::Body {
                                request,
                                need,
                                keep_alive,
                                head_only,
                            }
                        };
                        return;
                    }
                    let rest = self.buf.split_off(need);
                    let mut request = request;
                    request.body = std::mem::replace(&mut self.buf, rest);
                    self.dispatch(request, keep_alive, head_only);
                    return;
                }
                other => {
                    self.state = other;
                    return;
                }
            }
        }
    }

    fn dispatch(&mut self, request: Request, keep_alive: bool, head_only: bool) {
        self.event = Some(HttpEvent::Request(request));
        self.state = State::Awaiting {
            keep_alive,
            head_only,
        };
    }

    /// Parse a head from `buf`. True when the state moved on (to a body, an answer
    /// or a refusal) and `advance` should go on; false when more input is needed.
    fn read_head(&mut self) -> bool {
        let mut fields = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Request::new(&mut fields);
        let status = parsed.parse(&self.buf);
        let len = match status {
            Ok(httparse::Status::Complete(n)) if n <= self.limits.max_head => n,
            Ok(httparse::Status::Complete(_)) => {
                self.fail(431, "the request head is too large");
                return true;
            }
            Ok(httparse::Status::Partial) => {
                if self.buf.len() > self.limits.max_head {
                    self.fail(431, "the request head is too large");
                    return true;
                }
                if self.eof {
                    self.state = State::Closing;
                }
                return false;
            }
            Err(httparse::Error::TooManyHeaders) => {
                self.fail(431, "too many header fields");
                return true;
            }
            Err(e) => {
                self.fail(400, &format!("malformed request ({e})"));
                return true;
            }
        };
        let method = parsed.method.unwrap_or("").to_string();
        let target = parsed.path.unwrap_or("").to_string();
        let version = parsed.version.unwrap_or(1);
        let mut headers = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            let Ok(value) = std::str::from_utf8(h.value) else {
                self.fail(400, "a header field value is not UTF-8");
                return true;
            };
            headers.push((h.name.to_ascii_lowercase(), value.trim().to_string()));
        }
        self.buf.drain(..len);
        let request = Request {
            method,
            target: origin_form(&target),
            headers,
            body: Vec::new(),
        };
        match frame(&request, version, &self.limits) {
            Err((status, why)) => {
                self.fail(status, why);
                true
            }
            Ok(Framing {
                length,
                keep_alive,
                continue_100,
            }) => {
                let head_only = request.method == "HEAD";
                if length == 0 {
                    self.dispatch(request, keep_alive, head_only);
                    return true;
                }
                if continue_100 && self.buf.len() < length {
                    self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                self.state = State::Body {
                    request,
                    need: length,
                    keep_alive,
                    head_only,
                };
                true
            }
        }
    }

    fn respond(&mut self, response: Response) {
        let State::Awaiting {
            keep_alive,
            head_only,
        } = self.state
        else {
            tracing::debug!("http: a response with no request outstanding; ignored");
            return;
        };
        let close = !keep_alive || response.close || self.eof || self.overflow;
        write_response(&mut self.out, &response, close, head_only);
        self.started = None;
        self.idle_since = self.now;
        if close {
            self.buf.clear();
            self.state = State::Closing;
        } else {
            self.state = State::Head;
            self.advance();
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Head if self.buf.is_empty() => Some(self.idle_since + self.limits.idle_timeout),
            State::Head | State::Body { .. } => self
                .started
                .map(|s| s + self.limits.head_timeout)
                .or(Some(self.idle_since + self.limits.idle_timeout)),
            _ => None,
        }
    }

    fn tick(&mut self) {
        let Some(deadline) = self.deadline() else {
            return;
        };
        if self.now < deadline {
            return;
        }
        match self.state {
            State::Head if self.buf.is_empty() => {
                tracing::debug!("http: idle connection closed");
                self.state = State::Closing;
            }
            State::Head | State::Body { .. } => {
                self.fail(408, "the request did not arrive in time");
            }
            _ => {}
        }
    }
}

/// How a request's body is framed and whether the connection stays open.
struct Framing {
    length: usize,
    keep_alive: bool,
    continue_100: bool,
}

/// Check the head: the framing rules of the module comment.
fn frame(
    request: &Request,
    version: u8,
    limits: &HttpLimits,
) -> Result<Framing, (u16, &'static str)> {
    if version != 1 && version != 0 {
        return Err((505, "only HTTP/1.0 and HTTP/1.1 are served"));
    }
    if !request.target.starts_with('/') {
        return Err((400, "the request target must be a path"));
    }
    let mut length: Option<u64> = None;
    let mut hosts = 0;
    let mut keep_alive = version == 1;
    let mut expect = None;
    for (name, value) in &request.headers {
        match name.as_str() {
            "transfer-encoding" => return Err((400, "Transfer-Encoding is not accepted")),
            "content-length" => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err((400, "Content-Length is not a number"));
                }
                let n: u64 = value
                    .parse()
                    .map_err(|_| (400, "Content-Length is too large"))?;
                if length.is_some_and(|l| l != n) {
                    return Err((400, "two different Content-Length fields"));
                }
                length = Some(n);
            }
            "host" => hosts += 1,
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    }
                }
            }
            "expect" => expect = Some(value.as_str()),
            _ => {}
        }
    }
    if version == 1 && hosts != 1 {
        return Err((400, "an HTTP/1.1 request needs exactly one Host field"));
    }
    let continue_100 = match expect {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("100-continue") => version == 1,
        Some(_) => return Err((417, "only Expect: 100-continue is understood")),
    };
    let limit = (limits.body_limit)(&request.method, request.path());
    let length = length.unwrap_or(0);
    let length = match usize::try_from(length) {
        Ok(n) if n <= limit => n,
        _ => return Err((413, "the request body is larger than this page accepts")),
    };
    Ok(Framing {
        length,
        keep_alive,
        continue_100,
    })
}

/// `http://host/path` (absolute form) → `/path`; anything else as it is.
fn origin_form(target: &str) -> String {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target
            .get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .and_then(|_| target.get(scheme.len()..))
        {
            return match rest.find('/') {
                Some(i) => rest[i..].to_string(),
                None => "/".to_string(),
            };
        }
    }
    target.to_string()
}

/// A header name or value with CR, LF and NUL removed: an application value can never
/// start a header of its own (response splitting).
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect()
}

fn write_response(out: &mut Vec<u8>, r: &Response, close: bool, head_only: bool) {
    let status = if (200..600).contains(&r.status) {
        r.status
    } else {
        500
    };
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    for (name, value) in &r.headers {
        let lower = name.to_ascii_lowercase();
        // The machine owns the framing fields.
        if matches!(
            lower.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        out.extend_from_slice(format!("{}: {}\r\n", clean(name), clean(value)).as_bytes());
    }
    let bodiless = status == 204 || status == 304;
    if !bodiless {
        out.extend_from_slice(format!("Content-Length: {}\r\n", r.body.len()).as_bytes());
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only && !bodiless {
        out.extend_from_slice(&r.body);
    }
}

impl Machine for HttpServer {
    type Command = HttpCommand;
    type Event = HttpEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = self.now.max(now);
        if matches!(self.state, State::Closing | State::Closed) {
            return;
        }
        match input {
            Input::Bytes(bytes) => {
                if matches!(self.state, State::Awaiting { .. }) {
                    let room = max_pending(&self.limits).saturating_sub(self.buf.len());
                    if bytes.len() > room {
                        self.overflow = true;
                    }
                    self.buf
                        .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
                } else {
                    self.buf.extend_from_slice(bytes);
                }
            }
            Input::Eof => self.eof = true,
            Input::Tick => self.tick(),
        }
        if self.event.is_none() {
            self.advance();
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: HttpCommand) {
        self.now = self.now.max(now);
        if self.event.is_some() {
            tracing::debug!("http: an answer before the request was handed out; ignored");
            return;
        }
        match cmd {
            HttpCommand::Respond(r) => self.respond(r),
        }
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<HttpEvent> {
        if matches!(self.state, State::Closed) {
            return Output::Wait(None);
        }
        out.append(&mut self.out);
        if let Some(e) = self.event.take() {
            return Output::Event(e);
        }
        if matches!(self.state, State::Closing) {
            self.state = State::Closed;
            return Output::Close;
        }
        Output::Wait(self.deadline())
    }

    fn client_errors(&self) -> u32 {
        self.errors
    }
}
