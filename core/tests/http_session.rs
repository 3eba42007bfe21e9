//! The HTTP/1.1 session machine (core/src/http/server.rs): framing, the limits of
//! issue 13's scope 1, and the properties every byte machine has: any split of the
//! input gives the same output, and random bytes never panic.

use mailroom_core::http::{HttpCommand, HttpEvent, HttpLimits, HttpServer, Request, Response};
use mailroom_core::{Input, Instant, Machine, Output};
use proptest::prelude::*;
use std::time::Duration;

const T0: u64 = 1_767_225_600;

fn limits() -> HttpLimits {
    HttpLimits {
        max_head: 1024,
        max_headers: 16,
        head_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
        body_limit: |method, path| {
            if method == "POST" && path == "/big" {
                4096
            } else {
                64
            }
        },
    }
}

/// Answers every request with 200 and the method, path and body it saw.
fn answer(r: &Request) -> Response {
    let mut body = format!("{} {} ", r.method, r.target).into_bytes();
    body.extend_from_slice(&r.body);
    Response::new(200).body("text/plain", body)
}

struct Run {
    out: Vec<u8>,
    requests: Vec<Request>,
    closed: bool,
    last_wait: Option<Option<Instant>>,
}

/// Feed `chunks` at `now`, answering each request at once; then Eof if asked.
fn run(chunks: &[&[u8]], eof: bool) -> Run {
    let now = Instant::from_secs(T0);
    let mut m = HttpServer::new(now, limits());
    let mut r = Run {
        out: Vec::new(),
        requests: Vec::new(),
        closed: false,
        last_wait: None,
    };
    drain(&mut m, now, &mut r);
    for c in chunks {
        if r.closed {
            break;
        }
        m.handle_input(now, Input::Bytes(c));
        drain(&mut m, now, &mut r);
    }
    if eof && !r.closed {
        m.handle_input(now, Input::Eof);
        drain(&mut m, now, &mut r);
    }
    r
}

fn drain(m: &mut HttpServer, now: Instant, r: &mut Run) {
    loop {
        match m.poll_output(&mut r.out) {
            Output::Event(HttpEvent::Request(req)) => {
                let resp = answer(&req);
                r.requests.push(req);
                m.handle_command(now, HttpCommand::Respond(resp));
            }
            Output::Close => {
                assert!(!r.closed, "Close twice");
                r.closed = true;
            }
            Output::StartTls => panic!("no STARTTLS in HTTP"),
            Output::Wait(w) => {
                r.last_wait = Some(w);
                return;
            }
        }
    }
}

fn text(r: &Run) -> String {
    String::from_utf8_lossy(&r.out).into_owned()
}

fn status_lines(r: &Run) -> Vec<String> {
    text(r)
        .split("\r\n")
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_get_is_answered_and_the_connection_stays_open() {
    let r = run(
        &[b"GET /login?x=1 HTTP/1.1\r\nHost: a\r\nCookie: k=v\r\n\r\n"],
        false,
    );
    assert_eq!(r.requests.len(), 1);
    assert_eq!(r.requests[0].path(), "/login");
    assert_eq!(r.requests[0].query(), "x=1");
    assert_eq!(r.requests[0].header("cookie"), Some("k=v"));
    let t = text(&r);
    assert!(t.starts_with("HTTP/1.1 200 OK\r\n"), "{t}");
    assert!(t.contains("Content-Length: 15\r\n"), "{t}");
    assert!(!t.contains("Connection: close"));
    assert!(!r.closed);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let r = run(
        &[b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /d HTTP/1.1\r\nHost: a\r\n\r\n"],
        false,
    );
    let paths: Vec<&str> = r.requests.iter().map(|q| q.path()).collect();
    assert_eq!(paths, ["/a", "/b", "/c"], "nothing after Connection: close");
    let t = text(&r);
    let a = t.find("GET /a").unwrap();
    let b = t.find("POST /b xyz").unwrap();
    let c = t.find("GET /c").unwrap();
    assert!(a < b && b < c);
    assert!(t.ends_with("Connection: close\r\n\r\nGET /c "), "{t}");
    assert!(r.closed);
}

#[test]
fn transfer_encoding_is_refused_and_the_connection_closed() {
    let r = run(
        &[b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"],
        false,
    );
    assert!(r.requests.is_empty(), "{:?}", r.requests);
    assert_eq!(status_lines(&r), ["HTTP/1.1 400 Bad Request"]);
    assert!(text(&r).contains("Connection: close"));
    assert!(r.closed);
}

#[test]
fn differing_or_malformed_lengths_are_refused() {
    for head in [
        "Content-Length: 3\r\nContent-Length: 4\r\n",
        "Content-Length: +3\r\n",
        "Content-Length: 3, 3\r\n",
        "Content-Length: 0x3\r\n",
        "Content-Length: \r\n",
        "Content-Length: 99999999999999999999999999\r\n",
    ] {
        let req = format!("POST /a HTTP/1.1\r\nHost: a\r\n{head}\r\nabcd");
        let r = run(&[req.as_bytes()], false);
        assert!(r.requests.is_empty(), "{head:?}");
        let lines = status_lines(&r);
        assert!(
            lines == ["HTTP/1.1 400 Bad Request"] || lines == ["HTTP/1.1 413 Content Too Large"],
            "{head:?}: {lines:?}"
        );
        assert!(r.closed, "{head:?}");
    }
    // The same length twice is one length.
    let r = run(
        &[b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok"],
        false,
    );
    assert_eq!(r.requests.len(), 1);
    assert_eq!(r.requests[0].body, b"ok");
}

#[test]
fn host_is_required_once_in_http_1_1() {
    for head in ["", "Host: a\r\nHost: b\r\n"] {
        let req = format!("GET / HTTP/1.1\r\n{head}\r\n");
        let r = run(&[req.as_bytes()], false);
        assert_eq!(status_lines(&r), ["HTTP/1.1 400 Bad Request"]);
    }
    // HTTP/1.0 without Host: answered, then closed.
    let r = run(&[b"GET / HTTP/1.0\r\n\r\n"], false);
    assert_eq!(r.requests.len(), 1);
    assert!(text(&r).contains("Connection: close"));
    assert!(r.closed);
}

#[test]
fn an_oversized_head_gets_431() {
    let mut req = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    req.extend_from_slice(format!("X-Big: {}\r\n\r\n", "x".repeat(2000)).as_bytes());
    let r = run(&[&req], false);
    assert_eq!(
        status_lines(&r),
        ["HTTP/1.1 431 Request Header Fields Too Large"]
    );
    assert!(r.closed);
    // Fed a byte at a time, the head never grows past the bound.
    let bytes: Vec<&[u8]> = req.chunks(1).collect();
    let r = run(&bytes, false);
    assert_eq!(
        status_lines(&r),
        ["HTTP/1.1 431 Request Header Fields Too Large"]
    );
    // Too many fields.
    let mut req = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..20 {
        req.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let r = run(&[&req], false);
    assert_eq!(
        status_lines(&r),
        ["HTTP/1.1 431 Request Header Fields Too Large"]
    );
}

#[test]
fn body_limits_are_per_route_and_checked_before_reading() {
    let r = run(
        &[b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n"],
        false,
    );
    assert_eq!(status_lines(&r), ["HTTP/1.1 413 Content Too Large"]);
    assert!(r.closed, "refused before a byte of the body came");
    let body = "b".repeat(4000);
    let req = format!("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n{body}");
    let r = run(&[req.as_bytes()], false);
    assert_eq!(r.requests.len(), 1);
    assert_eq!(r.requests[0].body.len(), 4000);
}

#[test]
fn expect_100_continue() {
    let r = run(
        &[
            b"POST /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            b"abc",
        ],
        false,
    );
    assert_eq!(
        status_lines(&r),
        ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]
    );
    // Too large: a final 413, no 100, and the body is never read.
    let r = run(
        &[b"POST /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 999\r\n\r\n"],
        false,
    );
    assert_eq!(status_lines(&r), ["HTTP/1.1 413 Content Too Large"]);
    // An expectation we do not know.
    let r = run(
        &[b"GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n"],
        false,
    );
    assert_eq!(status_lines(&r), ["HTTP/1.1 417 Expectation Failed"]);
}

#[test]
fn head_gets_no_body_and_garbage_gets_400() {
    let r = run(&[b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"], false);
    let t = text(&r);
    assert!(t.contains("Content-Length: 8\r\n"), "{t}");
    assert!(t.ends_with("\r\n\r\n"), "{t}");
    for bad in [
        &b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        b"GET noslash HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
    ] {
        let r = run(&[bad], false);
        let lines = status_lines(&r);
        assert_eq!(lines.len(), 1, "{bad:?}: {}", text(&r));
        assert!(lines[0].starts_with("HTTP/1.1 4") || lines[0].starts_with("HTTP/1.1 505"));
        assert!(r.closed);
    }
}

#[test]
fn response_headers_cannot_be_split() {
    let now = Instant::from_secs(T0);
    let mut m = HttpServer::new(now, limits());
    m.handle_input(now, Input::Bytes(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    let mut out = Vec::new();
    assert!(matches!(m.poll_output(&mut out), Output::Event(_)));
    m.handle_command(
        now,
        HttpCommand::Respond(
            Response::new(303)
                .header("Location", "/x\r\nSet-Cookie: evil=1")
                .header("Content-Length", "999"),
        ),
    );
    let _ = m.poll_output(&mut out);
    let t = String::from_utf8_lossy(&out);
    assert!(t.contains("Location: /xSet-Cookie: evil=1\r\n"), "{t}");
    assert!(t.contains("Content-Length: 0\r\n"), "{t}");
    assert!(!t.contains("999"));
}

#[test]
fn slow_heads_time_out_and_idle_connections_close() {
    let t0 = Instant::from_secs(T0);
    let mut m = HttpServer::new(t0, limits());
    let mut out = Vec::new();
    assert_eq!(
        m.poll_output(&mut out),
        Output::Wait(Some(t0 + Duration::from_secs(30)))
    );
    // A byte every 5 s keeps no slowloris alive: the head's deadline is fixed at its
    // first byte.
    let mut now = t0;
    for b in b"GET / HTTP/1.1\r\n" {
        now = now + Duration::from_millis(500);
        m.handle_input(now, Input::Bytes(&[*b]));
        match m.poll_output(&mut out) {
            Output::Wait(Some(d)) => {
                assert_eq!(d, t0 + Duration::from_millis(500) + Duration::from_secs(10))
            }
            other => panic!("{other:?}"),
        }
    }
    // A tick before the deadline changes nothing.
    m.handle_input(t0 + Duration::from_secs(5), Input::Tick);
    assert!(matches!(m.poll_output(&mut out), Output::Wait(Some(_))));
    m.handle_input(t0 + Duration::from_secs(11), Input::Tick);
    assert_eq!(m.poll_output(&mut out), Output::Close);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 408 "));
    assert_eq!(m.poll_output(&mut out), Output::Wait(None));

    // Idle after a response: closed without a word.
    let mut m = HttpServer::new(t0, limits());
    m.handle_input(t0, Input::Bytes(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    let mut out = Vec::new();
    assert!(matches!(m.poll_output(&mut out), Output::Event(_)));
    let t1 = t0 + Duration::from_secs(3);
    m.handle_command(t1, HttpCommand::Respond(Response::new(204)));
    assert_eq!(
        m.poll_output(&mut out),
        Output::Wait(Some(t1 + Duration::from_secs(30)))
    );
    let n = out.len();
    m.handle_input(t1 + Duration::from_secs(31), Input::Tick);
    assert_eq!(m.poll_output(&mut out), Output::Close);
    assert_eq!(out.len(), n);
}

#[test]
fn eof_while_a_response_is_outstanding_still_gets_it() {
    let t0 = Instant::from_secs(T0);
    let mut m = HttpServer::new(t0, limits());
    m.handle_input(t0, Input::Bytes(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    m.handle_input(t0, Input::Eof);
    let mut out = Vec::new();
    assert!(matches!(m.poll_output(&mut out), Output::Event(_)));
    // A stray answer before... no: the event is out, this is the answer.
    m.handle_command(t0, HttpCommand::Respond(Response::new(200)));
    assert_eq!(m.poll_output(&mut out), Output::Close);
    assert!(String::from_utf8_lossy(&out).contains("Connection: close"));
    // After Close: nothing.
    m.handle_command(t0, HttpCommand::Respond(Response::new(200)));
    m.handle_input(t0, Input::Bytes(b"GET / HTTP/1.1\r\n\r\n"));
    let n = out.len();
    assert_eq!(m.poll_output(&mut out), Output::Wait(None));
    assert_eq!(out.len(), n);
}

#[test]
fn a_stray_response_changes_nothing() {
    let t0 = Instant::from_secs(T0);
    let mut m = HttpServer::new(t0, limits());
    m.handle_command(t0, HttpCommand::Respond(Response::new(200)));
    let mut out = Vec::new();
    assert!(matches!(m.poll_output(&mut out), Output::Wait(Some(_))));
    assert!(out.is_empty());
}

/// A session the properties replay: keep-alive requests, a POST with a body, an
/// Expect, a pipelined tail.
const SESSION: &[u8] = b"GET /login HTTP/1.1\r\nHost: h\r\n\r\nPOST /login HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\n\r\nuser=admin&password=secret1POST /big HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhelloHEAD /s.css HTTP/1.1\r\nHost: h\r\n\r\nGET /admin/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

fn split_at(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut parts = Vec::new();
    let mut last = 0;
    for c in cuts {
        parts.push(data[last..c].to_vec());
        last = c;
    }
    parts.push(data[last..].to_vec());
    parts
}

/// Output without the `100 Continue` interim answers, which depend on whether the
/// body had already arrived with the head (RFC 9110 lets a server skip them then).
fn final_output(r: &Run) -> String {
    text(r).replace("HTTP/1.1 100 Continue\r\n\r\n", "")
}

proptest! {
    #[test]
    fn any_split_gives_the_same_output(cuts in proptest::collection::vec(0usize..400, 0..12)) {
        let whole = run(&[SESSION], true);
        prop_assert_eq!(whole.requests.len(), 5);
        let parts = split_at(SESSION, &cuts);
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let split = run(&refs, true);
        prop_assert_eq!(&split.requests, &whole.requests);
        prop_assert_eq!(final_output(&split), final_output(&whole));
        prop_assert!(split.closed);
    }

    #[test]
    fn random_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
        let r = run(&refs, true);
        prop_assert!(r.closed, "Eof always ends in Close");
    }

    #[test]
    fn heads_with_random_fields_never_panic(name in "[ -~]{0,20}", value in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut req = b"POST / HTTP/1.1\r\nHost: h\r\n".to_vec();
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n\r\n");
        let r = run(&[&req], true);
        prop_assert!(r.closed);
    }
}
