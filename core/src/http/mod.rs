//! HTTP/1.1 for the web admin and webmail (issue 13; docs/WEB.md): the server session
//! machine (`server.rs`), and the pieces every page needs whatever it shows: form and
//! query decoding, cookies (`form.rs`), and the login session table with its CSRF
//! tokens (`session.rs`).
//!
//! The machine frames requests and nothing else: which page answers, and what it
//! says, is the application's (the runtime answers [`HttpEvent::Request`] with
//! [`HttpCommand::Respond`]).

pub mod form;
pub mod server;
pub mod session;

pub use server::{HttpLimits, HttpServer};

use std::time::Duration;

/// One request, its head parsed and its body read whole (Content-Length only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// As sent (`GET`, `POST`, ...); methods are case-sensitive (RFC 9110 §9.1).
    pub method: String,
    /// The request target as sent: path and query, percent-encoded.
    pub target: String,
    /// Header fields in order; names lower-cased, values as sent (trimmed).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first field named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query string, without `?`.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
}

/// A response for the machine to write. The machine adds `Content-Length` and, when
/// the connection ends after it, `Connection: close`; a HEAD request gets the head
/// only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// End the connection after this response (a refused request whose body was not
    /// read, a logout).
    pub close: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".to_string(), content_type.to_string()));
        self.body = body.into();
        self
    }

    /// A plain-text answer with `status`.
    pub fn text(status: u16, text: &str) -> Self {
        Response::new(status).body("text/plain; charset=utf-8", text.as_bytes().to_vec())
    }
}

/// The reason phrase of the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// What the session asks the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    /// A complete request; answer with [`HttpCommand::Respond`].
    Request(Request),
}

/// The application's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpCommand {
    Respond(Response),
}

/// How much body a request may carry, decided from its head before any of the body
/// is read (per route: a login form is small, a CSV import larger).
pub type BodyLimit = fn(method: &str, path: &str) -> usize;

/// Defaults of [`HttpLimits`].
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;
pub const DEFAULT_MAX_HEADERS: usize = 64;
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(20);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
