//! ETRN in the daemon: the server side's answer (held mail for a downstream server)
//! and the client sent when a connection comes up.

use crate::net::pump::Pump;
use crate::net::socket::{self, WRITE_TIMEOUT};
use crate::platform::datadir::DataDir;
use crate::store::spool;

/// A downstream server sent `ETRN domain`: count the queued messages for it (the
/// answer tells the downstream server how many wait). The caller then asks the
/// outbound queue to send them ([`crate::services::outbound::handle::OutboundHandle::release`]).
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
    use mailroom_core::smtp::etrn_client::{EtrnClient, EtrnEvent};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    let addr = host
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30))
        .map_err(|e| format!("cannot connect to {host}: {e}"))?;
    let now = crate::platform::clock::now();
    let mut c = Pump::client(now, EtrnClient::new(now, helo, domains), None, host);
    let mut result = None;
    let mut answer = |_: &mut Pump<EtrnClient>, EtrnEvent::Done(r)| result = Some(r);
    socket::drive(stream, &mut c, WRITE_TIMEOUT, &mut answer)
        .map_err(|e| format!("{host}: {e}"))?;
    match result {
        None => Err("the session ended without a result".into()),
        Some(Ok(replies)) => match replies.iter().find(|r| !r.accepted()) {
            None => Ok(()),
            Some(bad) => Err(format!("ETRN {}: {} {}", bad.domain, bad.code, bad.text)),
        },
        Some(Err(e)) => Err(e),
    }
}
