//! One outgoing session, without the socket and without the runtime: what both
//! runtimes share. [`resolve`] turns a destination into addresses (MX lookup, relay
//! names); [`SendHandler`] answers the client machine's events (jobs from the queue,
//! message chunks from the spool file, reports back to the queue), as a server
//! session's handler does. The runtimes only connect, move bytes and wait.

use super::client::ClientPump;
use super::dns::Resolver;
use crate::platform::datadir::DataDir;
use crate::services::summary;
use crate::store::spool;
use mailroom_core::outbound::{Dest, QueueCommand, SessionId};
use mailroom_core::smtp::client::{
    ClientCommand, ClientEvent, ClientSettings, Job, RcptOutcome, SessionEnd,
};
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Bytes of a message read per chunk: a large message never sits in memory whole.
pub const CHUNK: usize = 64 * 1024;
/// Addresses tried per session, all hosts together.
pub const MAX_TARGETS: usize = 16;

/// What the queue tells a session.
#[derive(Debug)]
pub enum Order {
    Job { message: String, job: Job },
    Quit,
}

/// Receives orders for one session (a channel of the session's runtime).
pub trait OrderSink: Send {
    fn send(&self, order: Order);
}

impl OrderSink for std::sync::mpsc::Sender<Order> {
    fn send(&self, order: Order) {
        // A session that is gone has already reported its end.
        let _ = std::sync::mpsc::Sender::send(self, order);
    }
}

/// How a session reports to the queue.
pub type Reporter = Arc<dyn Fn(QueueCommand) + Send + Sync>;

/// Where a session connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// `host:port` entries, tried in order (relays, LAN servers).
    Hosts(Vec<String>),
    /// The MX hosts of a domain (or an address literal `[192.0.2.1]`), on `port`.
    Mx { domain: String, port: u16 },
}

/// Everything a session needs, decided when the queue opens it.
#[derive(Clone)]
pub struct SessionPlan {
    pub session: SessionId,
    pub dest: Dest,
    pub targets: Targets,
    pub settings: ClientSettings,
    /// `None`: no STARTTLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub connect_timeout: Duration,
    pub data: DataDir,
    pub resolver: Arc<Resolver>,
    /// OUT-2: log in to this POP3 server first (relays only).
    pub pop_login: Option<super::popauth::PopLogin>,
}

/// One address to connect to, and the name to check its certificate against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub addr: SocketAddr,
}

/// Why a destination has no address: `permanent` when it never will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    pub permanent: bool,
    pub text: String,
}

/// The addresses to try, in order. Blocks (DNS, and the POP3 login some relays want
/// first: a failed login fails the session for now, so the relay's refusal cannot
/// bounce the mail).
pub fn resolve(plan: &SessionPlan) -> Result<Vec<Target>, ResolveError> {
    if let Some(l) = &plan.pop_login {
        super::popauth::login(l, plan.connect_timeout).map_err(|text| ResolveError {
            permanent: false,
            text,
        })?;
    }
    let mut out = Vec::new();
    match &plan.targets {
        Targets::Hosts(hosts) => {
            let mut last = String::from("no server configured");
            for h in hosts {
                let (name, _) = split_host(h);
                match h.to_socket_addrs() {
                    Ok(addrs) => out.extend(addrs.map(|addr| Target {
                        name: name.to_string(),
                        addr,
                    })),
                    Err(e) => last = format!("{h}: {e}"),
                }
            }
            if out.is_empty() {
                return Err(ResolveError {
                    permanent: false,
                    text: last,
                });
            }
        }
        Targets::Mx { domain, port } => {
            if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
                let lit = lit.strip_prefix("IPv6:").unwrap_or(lit);
                let ip: IpAddr = lit.parse().map_err(|_| ResolveError {
                    permanent: true,
                    text: format!("{domain} is not an address literal"),
                })?;
                out.push(Target {
                    name: ip.to_string(),
                    addr: SocketAddr::new(ip, *port),
                });
            } else {
                let hosts = plan.resolver.mx(domain).map_err(|e| ResolveError {
                    permanent: e.is_permanent(),
                    text: e.to_string(),
                })?;
                for h in hosts {
                    for ip in h.addrs {
                        out.push(Target {
                            name: h.name.clone(),
                            addr: SocketAddr::new(ip, *port),
                        });
                    }
                }
            }
        }
    }
    out.truncate(MAX_TARGETS);
    Ok(out)
}

fn split_host(h: &str) -> (&str, &str) {
    match h.rsplit_once(':') {
        Some((host, port)) => (host.trim_start_matches('[').trim_end_matches(']'), port),
        None => (h, "25"),
    }
}

/// A job's message file, read in chunks.
struct Body {
    file: File,
    left: u64,
}

/// What the runtime must do after [`SendHandler::on_event`].
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// Poll the connection again.
    Poll,
    /// Wait for the next [`Order`] (blocking or async), then call [`SendHandler::on_order`].
    Order,
}

/// The application half of a sending session: events in, answers and reports out.
pub struct SendHandler {
    session: SessionId,
    data: DataDir,
    report: Reporter,
    body: Option<Body>,
    /// The job being sent: its size, for SUMMARY.LOG.
    size: u64,
    /// The destination is a LAN server (SUMMARY.LOG's code 8, not 7).
    lan: bool,
    /// The server got through greeting/EHLO/STARTTLS/AUTH: jobs may have been given.
    pub established: bool,
    /// How the client machine said the session ended.
    pub end: Option<SessionEnd>,
}

impl SendHandler {
    pub fn new(plan: &SessionPlan, report: Reporter) -> SendHandler {
        SendHandler {
            session: plan.session,
            data: plan.data.clone(),
            report,
            body: None,
            size: 0,
            lan: matches!(plan.dest, Dest::Lan(_)),
            established: false,
            end: None,
        }
    }

    /// Start over on the next address (nothing was handed out yet).
    pub fn reset(&mut self) {
        self.body = None;
        self.end = None;
    }

    pub fn on_event(&mut self, conn: &mut ClientPump, ev: ClientEvent) -> Need {
        match ev {
            ClientEvent::Ready => {
                self.established = true;
                (self.report)(QueueCommand::Ready {
                    session: self.session,
                });
                Need::Order
            }
            ClientEvent::NextChunk => {
                let cmd = match self.body.as_mut().map(next_chunk) {
                    Some(Ok((data, last))) => ClientCommand::Chunk { data, last },
                    Some(Err(e)) => {
                        tracing::warn!(session = self.session, error = %e, "cannot read the queued message");
                        ClientCommand::Missing
                    }
                    None => ClientCommand::Missing,
                };
                conn.answer(crate::platform::clock::now(), cmd);
                Need::Poll
            }
            ClientEvent::Finished(report) => {
                self.body = None;
                let code = match self.lan {
                    true => summary::Code::LanSent,
                    false => summary::Code::Sent,
                };
                for (to, outcome) in &report.recipients {
                    if matches!(outcome, RcptOutcome::Delivered(_)) {
                        summary::record(&self.data, code, self.size, Some(to));
                    }
                }
                (self.report)(QueueCommand::Finished {
                    session: self.session,
                    report,
                });
                Need::Poll
            }
            ClientEvent::Ended(end) => {
                self.end = Some(end);
                Need::Poll
            }
        }
    }

    /// The queue's answer to `Ready` (`None`: the queue is gone; end politely).
    pub fn on_order(&mut self, conn: &mut ClientPump, order: Option<Order>) {
        let cmd = match order {
            Some(Order::Job { message, job }) => {
                self.body = open_body(&self.data, &message);
                self.size = job.size;
                ClientCommand::Send(Box::new(job))
            }
            Some(Order::Quit) | None => ClientCommand::Quit,
        };
        conn.answer(crate::platform::clock::now(), cmd);
    }

    /// Tell the queue the session is over.
    pub fn finish(&self, established: bool, permanent: bool, error: Option<String>) {
        (self.report)(QueueCommand::Ended {
            session: self.session,
            established,
            permanent,
            error,
        });
    }

    /// No address for the session's destination: the queue hears why.
    pub fn unresolved(&self, plan: &SessionPlan, e: ResolveError) {
        tracing::info!(session = plan.session, dest = ?plan.dest, "no address: {}", e.text);
        self.finish(false, e.permanent, Some(e.text));
    }

    /// Connecting to `target` failed: the reason, should no other address work.
    pub fn connect_failed(&self, target: &Target, e: impl std::fmt::Display) -> String {
        let last = format!("{} ({}): {e}", target.name, target.addr);
        tracing::info!(session = self.session, "connect failed: {last}");
        last
    }

    /// The connection to `target` ended with `result`. Once the server had answered,
    /// the session is over and the queue is told (`None`); before that, the reason
    /// this address did not take the mail (`Some`), and the next one is tried.
    pub fn attempt_ended<E: std::fmt::Display>(
        &mut self,
        target: &Target,
        result: Result<(), E>,
    ) -> Option<String> {
        if self.established {
            let error = match result {
                Err(e) => Some(format!("{} ({}): {e}", target.name, target.addr)),
                Ok(()) => self.end_error(),
            };
            self.finish(true, false, error);
            return None;
        }
        let last = match (result, self.end_error()) {
            (Err(e), _) => format!("{} ({}): {e}", target.name, target.addr),
            (Ok(()), Some(t)) => format!("{} ({}): {t}", target.name, target.addr),
            (Ok(()), None) => format!("{} ({}): the session ended", target.name, target.addr),
        };
        tracing::info!(session = self.session, "not sent through {last}");
        Some(last)
    }

    /// The error text of the client's end, if it failed.
    pub fn end_error(&self) -> Option<String> {
        let e = self.end.as_ref()?.error.as_ref()?;
        Some(match &e.reply {
            Some(r) => format!("{}: {}", e.text, r.one_line()),
            None => e.text.clone(),
        })
    }
}

fn open_body(dd: &DataDir, id: &str) -> Option<Body> {
    let path = spool::message_path(dd, id).ok()?;
    let file = File::open(path).ok()?;
    let left = file.metadata().ok()?.len();
    Some(Body { file, left })
}

fn next_chunk(b: &mut Body) -> io::Result<(Vec<u8>, bool)> {
    let want = (b.left as usize).min(CHUNK);
    let mut data = vec![0u8; want];
    b.file.read_exact(&mut data)?;
    b.left -= want as u64;
    Ok((data, b.left == 0))
}

/// A new client connection to `target` for `plan`.
pub fn client(plan: &SessionPlan, target: &Target) -> ClientPump {
    super::client::client_pump(
        crate::platform::clock::now(),
        plan.settings.clone(),
        plan.tls.clone(),
        &target.name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::config::{Dns, OutTls};

    fn plan(targets: Targets) -> SessionPlan {
        SessionPlan {
            session: 1,
            dest: Dest::Relay(0),
            targets,
            settings: ClientSettings {
                helo_name: "h".into(),
                tls: OutTls::Off,
                tls_available: false,
                tls_active: false,
                auth: None,
                timeout: Duration::from_secs(1),
                data_timeout: Duration::from_secs(1),
            },
            tls: None,
            connect_timeout: Duration::from_secs(1),
            data: DataDir::new("/nonexistent"),
            resolver: Arc::new(Resolver::from_config(&Dns::default())),
            pop_login: None,
        }
    }

    #[test]
    fn address_literals_and_relay_lists() {
        let t = resolve(&plan(Targets::Mx {
            domain: "[192.0.2.7]".into(),
            port: 2525,
        }))
        .unwrap();
        assert_eq!(
            t,
            vec![Target {
                name: "192.0.2.7".into(),
                addr: "192.0.2.7:2525".parse().unwrap()
            }]
        );
        let t = resolve(&plan(Targets::Mx {
            domain: "[IPv6:::1]".into(),
            port: 25,
        }))
        .unwrap();
        assert_eq!(t[0].addr, "[::1]:25".parse().unwrap());
        let bad = resolve(&plan(Targets::Mx {
            domain: "[not-an-ip]".into(),
            port: 25,
        }))
        .unwrap_err();
        assert!(bad.permanent);
        let t = resolve(&plan(Targets::Hosts(vec![
            "127.0.0.1:2526".into(),
            "[::1]:2527".into(),
        ])))
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "127.0.0.1");
        assert_eq!(t[1].name, "::1");
        let none = resolve(&plan(Targets::Hosts(
            vec!["no-such-host.invalid:25".into()],
        )))
        .unwrap_err();
        assert!(!none.permanent);
    }
}
