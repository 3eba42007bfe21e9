//! A small HTTP/1.1 client for the web admin tests: raw enough to send malformed
//! requests, with a browser's habits for the rest (Origin on POST, cookies kept).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as sent (a download).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Send raw bytes on a fresh connection and read every response until the server
/// closes (or `limit` passes).
pub fn raw(addr: SocketAddr, bytes: &[u8], limit: Duration) -> io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(limit))?;
    s.write_all(bytes)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Read one response from `s` (Content-Length framing, as the server sends).
fn read_reply(s: &mut TcpStream) -> io::Result<Reply> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed in the head",
            ));
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.to_string()))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        bytes: body,
    })
}

/// A browser-like client: one keep-alive connection (reopened when the server closes
/// it), the session cookie kept, `Origin` on every POST.
pub struct Browser {
    pub addr: SocketAddr,
    conn: Option<TcpStream>,
    pub cookie: Option<String>,
    /// The Origin sent with POSTs; `None` sends none.
    pub origin: Option<String>,
    /// The local address to connect from (another loopback address plays another
    /// client).
    pub from: Option<std::net::Ipv4Addr>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            conn: None,
            cookie: None,
            origin: Some(format!("http://{addr}")),
            from: None,
        }
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let s = match self.from {
            None => TcpStream::connect(self.addr)?,
            Some(ip) => crate::client::tcp_from(ip, self.addr)?,
        };
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(s)
    }

    /// Send one request; retried once on a fresh connection if the kept one was closed.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        self.send(
            method,
            path,
            body.as_bytes(),
            "application/x-www-form-urlencoded",
            extra,
        )
    }

    /// POST a `multipart/form-data` form: text `fields`, and `files` as
    /// (field, file name, content type, bytes).
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> Reply {
        let boundary = "----mailroom-test-7d1f0c";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (k, name, ct, data) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.send("POST", path, &body, &ct, &[])
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
        content_type: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(c) = &self.cookie {
            head.push_str(&format!("Cookie: mr_session={c}\r\n"));
        }
        if method == "POST" {
            if let Some(o) = &self.origin {
                head.push_str(&format!("Origin: {o}\r\n"));
            }
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let wire = [head.as_bytes(), body].concat();
        for attempt in 0..2 {
            if self.conn.is_none() {
                self.conn = Some(self.connect().expect("connecting to the web server"));
            }
            let s = self.conn.as_mut().expect("just set");
            let r = s.write_all(&wire).and_then(|()| read_reply(s));
            match r {
                Ok(reply) => {
                    if reply.header("connection") == Some("close") {
                        self.conn = None;
                    }
                    if let Some(c) = reply.header("set-cookie") {
                        if let Some(v) = c.strip_prefix("mr_session=") {
                            let v = v.split(';').next().unwrap_or("");
                            self.cookie = (!v.is_empty()).then(|| v.to_string());
                        }
                    }
                    return reply;
                }
                Err(e) if attempt == 0 => {
                    let _ = e;
                    self.conn = None;
                }
                Err(e) => panic!("{method} {path}: {e}"),
            }
        }
        unreachable!()
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, "", &[])
    }

    /// POST form `fields` (URL-encoded here).
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request("POST", path, &body, &[])
    }

    /// Log in; panics unless the server sends the browser on to `/admin/`.
    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        self.post("/login", &[("user", user), ("password", password)])
    }

    /// The CSRF token in a page's forms.
    pub fn csrf(&mut self, page: &str) -> String {
        let r = self.get(page);
        csrf_in(&r.body).unwrap_or_else(|| panic!("no CSRF field on {page}: {}", r.body))
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[i + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Debian's python3, which has python3-selenium (a pyenv python3 first on PATH may
/// not), for the browser tests. Without it the test skips loudly, except under CI,
/// which must run it.
pub fn python_with_selenium() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/python3", "python3"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| {
            std::process::Command::new(p)
                .args(["-c", "import selenium"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install python3-selenium"
        );
        eprintln!("SKIPPED: python3-selenium is not installed (apt-get install python3-selenium)");
    }
    found
}

/// Check that the browser test saved each of `names` in `shots` as a PNG, and copy them
/// to docs/ (from the mailroom binary's run) when `MAILROOM_WEB_SCREENSHOTS` is set.
pub fn keep_screenshots(flavor: crate::Flavor, shots: &std::path::Path, names: &[&str]) {
    for name in names {
        let shot = shots.join(name);
        let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
        if flavor == crate::Flavor::Smol && std::env::var_os("MAILROOM_WEB_SCREENSHOTS").is_some() {
            let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../docs")
                .join(name);
            std::fs::write(&docs, &png).expect("writing the screenshot to docs/");
        }
    }
}

/// Run a browser test script; panics with its output and the server's log unless it
/// succeeds and says "ok" last.
pub fn run_browser_script(server: &crate::TestServer, mut script: std::process::Command) {
    let out = script.output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "{} browser test failed ({}):\n{stdout}\n{}\n--- server log ---\n{}",
        server.flavor.binary_name(),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}
