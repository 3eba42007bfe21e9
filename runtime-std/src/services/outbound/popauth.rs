//! POP3 before SMTP to the relay (OUT-2): some ISPs take mail from an address only
//! after it has logged in to their POP3 server. A plain USER/PASS/QUIT exchange,
//! blocking, before the relay session; every reply line is bounded and timed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Longest POP3 reply line read (RFC 1939 allows 512 octets).
const MAX_LINE: u64 = 1024;

/// Where and as whom to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct PopLogin {
    /// `host:port`.
    pub server: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for PopLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PopLogin")
            .field("server", &self.server)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Log in and out. `Err` says what went wrong (the password is never in it).
pub fn login(l: &PopLogin, timeout: Duration) -> Result<(), String> {
    let addr = l
        .server
        .to_socket_addrs()
        .map_err(|e| format!("POP3 before SMTP: cannot resolve {}: {e}", l.server))?
        .next()
        .ok_or_else(|| format!("POP3 before SMTP: {} has no address", l.server))?;
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("POP3 before SMTP: cannot connect to {}: {e}", l.server))?;
    let io = |e: std::io::Error| format!("POP3 before SMTP at {}: {e}", l.server);
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut w = stream.try_clone().map_err(io)?;
    let mut r = BufReader::new(stream);
    let mut step = |what: &str, line: Option<String>| -> Result<(), String> {
        if let Some(line) = line {
            w.write_all(line.as_bytes()).map_err(io)?;
        }
        let reply = read_line(&mut r).map_err(io)?;
        if reply.starts_with("+OK") {
            Ok(())
        } else {
            Err(format!(
                "POP3 before SMTP at {}: {what} refused: {}",
                l.server,
                reply.chars().take(200).collect::<String>()
            ))
        }
    };
    if l.user.contains(['\r', '\n']) || l.password.contains(['\r', '\n']) {
        return Err("POP3 before SMTP: the user or password holds a line break".into());
    }
    step("greeting", None)?;
    step("USER", Some(format!("USER {}\r\n", l.user)))?;
    step("PASS", Some(format!("PASS {}\r\n", l.password)))?;
    // The login is what counts; a lost QUIT answer changes nothing.
    let _ = step("QUIT", Some("QUIT\r\n".into()));
    tracing::info!(server = %l.server, user = %l.user, "POP3 before SMTP: logged in");
    Ok(())
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut buf = Vec::new();
    r.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}
