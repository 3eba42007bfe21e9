//! ETRN in the daemon: the server side's answer (held mail for a downstream server)
//! and the client sent when a connection comes up.

use crate::datadir::DataDir;
use crate::store::spool;

/// A downstream server sent `ETRN domain`: count the queued messages for it (the
/// answer tells the downstream server how many wait). The caller then asks the
/// outbound queue to send them ([`crate::outbound::OutboundHandle::release`]).
pub fn release(dir: &DataDir, domain: &str) -> Result<usize, String> {
    let entries = spool::list(dir).map_err(|e| format!("cannot read the queue: {e}"))?;
    let suffix = format!("@{}", domain.to_ascii_lowercase());
    let n = entries
        .iter()
        .filter(|e| {
            e.recipients
                .iter()
                .any(|r| r.to_ascii_lowercase().ends_with(&suffix))
        })
        .count();
    tracing::info!(
        domain,
        messages = n,
        "ETRN: delivery of held mail requested"
    );
    Ok(n)
}

/// Connect to `host` (`host:port`) and send `ETRN` for each domain (§6.3.3.1).
/// `Ok` when the server accepted every one (250–253).
pub fn send(host: &str, helo: &str, domains: Vec<String>) -> Result<(), String> {
    use mailroom_core::connect::etrn::{EtrnClient, EtrnEvent};
    use mailroom_core::{Input, Machine, Output};
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    let addr = host
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30))
        .map_err(|e| format!("cannot connect to {host}: {e}"))?;
    let now = crate::clock::now;
    let mut client = EtrnClient::new(now(), helo, domains);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match client.poll_output(&mut out) {
            Output::Event(EtrnEvent::Done(r)) => {
                let _ = stream.write_all(&out);
                return match r {
                    Ok(replies) => match replies.iter().find(|r| !r.accepted()) {
                        None => Ok(()),
                        Some(bad) => Err(format!("ETRN {}: {} {}", bad.domain, bad.code, bad.text)),
                    },
                    Err(e) => Err(e),
                };
            }
            Output::Close => return Err("the session ended without a result".into()),
            Output::StartTls => {}
            Output::Wait(deadline) => {
                if !out.is_empty() {
                    stream.write_all(&out).map_err(|e| format!("{host}: {e}"))?;
                    out.clear();
                }
                let t = crate::conn::wait_time(now(), deadline).unwrap_or(Duration::from_secs(120));
                if t.is_zero() {
                    client.handle_input(now(), Input::Tick);
                    continue;
                }
                stream
                    .set_read_timeout(Some(t))
                    .map_err(|e| e.to_string())?;
                match stream.read(&mut buf) {
                    Ok(0) => client.handle_input(now(), Input::Eof),
                    Ok(n) => client.handle_input(now(), Input::Bytes(&buf[..n])),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        client.handle_input(now(), Input::Tick)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => client.handle_input(now(), Input::Eof),
                }
            }
        }
    }
}
