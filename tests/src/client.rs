//! A small blocking SMTP client for tests that need many sessions or exact control
//! (the crash test, readiness checks). Interoperability is tested with real clients.

use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// A reply: its code and its text lines joined with newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Smtp {
    /// Connect and read the greeting.
    pub fn connect(addr: SocketAddr) -> std::io::Result<(Smtp, Reply)> {
        Smtp::greeted(TcpStream::connect_timeout(&addr, Duration::from_secs(10))?)
    }

    /// Connect from the loopback address `from` (127.0.0.2 and the rest of 127/8 are
    /// distinct clients on Linux), and read the greeting.
    pub fn connect_from(
        addr: SocketAddr,
        from: std::net::Ipv4Addr,
    ) -> std::io::Result<(Smtp, Reply)> {
        Smtp::greeted(tcp_from(from, addr)?)
    }

    fn greeted(s: TcpStream) -> std::io::Result<(Smtp, Reply)> {
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.set_write_timeout(Some(Duration::from_secs(60)))?;
        let writer = s.try_clone()?;
        let mut c = Smtp {
            reader: BufReader::new(s),
            writer,
        };
        let greeting = c.reply()?;
        Ok((c, greeting))
    }

    /// Wait at most `limit` for each reply from now on.
    pub fn set_timeout(&mut self, limit: Duration) -> std::io::Result<()> {
        self.writer.set_read_timeout(Some(limit))
    }

    pub fn reply(&mut self) -> std::io::Result<Reply> {
        let mut text = String::new();
        loop {
            let mut line = Vec::new();
            let n = Read::take(&mut self.reader, 4096).read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = String::from_utf8_lossy(&line);
            let code = l
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| std::io::Error::other(format!("bad reply line {l:?}")))?;
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(l.get(4..).unwrap_or("").trim_end());
            if line.get(3) != Some(&b'-') {
                return Ok(Reply { code, text });
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Send one command line (CRLF added) and read its reply.
    pub fn command(&mut self, line: &str) -> std::io::Result<Reply> {
        self.send(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    /// `EHLO` and `AUTH PLAIN` as `user`; the AUTH reply.
    pub fn login(&mut self, user: &str, password: &str) -> std::io::Result<Reply> {
        let r = self.command("EHLO client.test")?;
        if r.code != 250 {
            return Ok(r);
        }
        let auth = base64(format!("\0{user}\0{password}").as_bytes());
        self.command(&format!("AUTH PLAIN {auth}"))
    }

    /// One transaction without pipelining; returns the reply to the final dot, or the
    /// first reply that was not the expected one.
    pub fn send_mail(&mut self, from: &str, to: &str, message: &[u8]) -> std::io::Result<Reply> {
        for (cmd, want) in [
            (format!("MAIL FROM:<{from}>"), 250),
            (format!("RCPT TO:<{to}>"), 250),
            ("DATA".to_string(), 354),
        ] {
            let r = self.command(&cmd)?;
            if r.code != want {
                return Ok(r);
            }
        }
        self.send(&dot_stuff(message))?;
        self.reply()
    }
}

/// A TCP connection to `to` (IPv4) from the local address `from`: std cannot bind a
/// client socket before connecting, so this goes through libc.
pub fn tcp_from(from: std::net::Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        return Err(std::io::Error::other("tcp_from connects to IPv4 only"));
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns; the sockaddr_in
    // values live across the calls that read them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        if libc::bind(fd, std::ptr::addr_of!(local).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sockaddr(*to.ip(), to.port());
        if libc::connect(fd, std::ptr::addr_of!(remote).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// `message` (CRLF line ends, ending in CRLF) in its DATA form, final dot included.
pub use mailroom_benches::message::dot_stuff;

/// Standard base64 with padding (for AUTH PLAIN).
pub fn base64(input: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (i, o) in cases {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b".\r\n.a\r\nb\r\n"), b"..\r\n..a\r\nb\r\n.\r\n");
    }
}
