//! The adapter between the simulated network and the real core outbound machines: the
//! [`OutQueue`] and one [`SmtpClient`] per session, driven as runtime-std/src/outbound
//! drives them (`Driver::act`, `session::Pump`, `blocking::run`): queue actions open
//! sessions; a session resolves its destination (the relay list in order, or the MX
//! lookup through [`MxLookup`] and a shared [`DnsCache`]), tries each address until a
//! server answers, reports `Ready`/`Finished`/`Ended` to the queue and takes its
//! orders (a job or QUIT) as they come.
//!
//! Every use of the queue's and the client's API is in this module, so a change to
//! them is an edit here only. What the world needs to check its invariants comes back
//! as [`Obs`].

use super::dns_peer::DnsPeer;
use super::smtp_peer::{SharedHost, SmtpPeer, Stored};
use super::OutEv;
use crate::rng::Rng;
use crate::sim::EventQueue;
use crate::wire::Faults;
use crate::wire::Link;
use mailroom_core::config::{Config, OutMethod, OutTls};
use mailroom_core::dns::{
    decode_answer, encode_query, DnsCache, LookupStep, MxLookup, QueryFailure, Rcode, RecordKind,
};
use mailroom_core::outbound::{
    auto_lan, Dest, OutQueue, QueueAction, QueueCommand, QueueSetup, QueuedMessage, SessionId,
};
use mailroom_core::smtp::client::{
    ClientCommand, ClientEvent, ClientSettings, SmtpClient, TxReport,
};
use mailroom_core::{Agent, Instant, Machine, Next};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// What the driver saw, for the world's ledger and invariants.
#[derive(Debug, Clone)]
pub enum Obs {
    /// The queue asked for this (reports, saves, removals, runs).
    Queue(QueueAction),
    /// A host stored a message for a recipient.
    Stored(Stored),
    /// A job ended at the client: `message` is the queue's id.
    Finished {
        session: SessionId,
        message: String,
        report: TxReport,
    },
    /// A session ended: the hosts it tried, in order, and whether one answered.
    SessionEnded {
        session: SessionId,
        dest: Dest,
        tried: Vec<String>,
        established: bool,
        permanent: bool,
        error: Option<String>,
    },
    /// A DNS query went out.
    DnsQuery,
}

/// The simulated network a session runs over.
pub struct Net<'a> {
    pub events: &'a mut EventQueue<OutEv>,
    pub hosts: &'a BTreeMap<String, SharedHost>,
    /// Address → host name (the DNS zone's A records).
    pub addrs: &'a BTreeMap<IpAddr, String>,
    pub dns: &'a mut DnsPeer,
    pub faults: Faults,
    pub rng: &'a mut Rng,
    pub obs: &'a mut Vec<Obs>,
}

impl Net<'_> {
    fn latency(&mut self) -> Duration {
        Duration::from_micros(self.rng.range(self.faults.latency.0, self.faults.latency.1))
    }
}

/// An order from the queue not yet given to the client (it goes at the next step,
/// like a message on the session thread's channel).
enum Order {
    Job {
        message: String,
        job: mailroom_core::smtp::client::Job,
    },
    Quit,
}

/// An MX lookup in progress: the query out and its (future) answer.
struct Lookup {
    mx: MxLookup,
    id: u16,
    name: String,
    kind: RecordKind,
    round: u32,
    /// `None`: no answer came (the query times out).
    reply: Option<Vec<u8>>,
}

struct Session {
    id: SessionId,
    dest: Dest,
    settings: ClientSettings,
    lookup: Option<Lookup>,
    /// Host names to try, in order, and the next one.
    targets: Vec<String>,
    next: usize,
    tried: Vec<String>,
    last: String,
    link: Option<Link<SmtpClient, SmtpPeer>>,
    scheduled: Option<Instant>,
    order: Option<Order>,
    /// The client asked for a job and has none yet.
    awaiting: bool,
    /// The message of the job in progress, and its data.
    message: Option<String>,
    body: Option<Vec<u8>>,
    /// A server got through greeting and EHLO (the client said `Ready`).
    established: bool,
    end_error: Option<String>,
    /// What the queue is to hear once this step is over.
    notices: Vec<QueueCommand>,
}

/// The host names of connection `conn`'s relays, in the order they are tried (the
/// simulated world has no ports).
pub fn relay_hosts(config: &Config, conn: usize) -> Vec<String> {
    config
        .connections
        .get(conn)
        .and_then(|c| c.outmail.as_ref())
        .map(|o| {
            o.relays
                .iter()
                .map(|h| h.rsplit_once(':').map_or(h.as_str(), |(n, _)| n))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The message data the client sends for queue entry `id`.
pub fn body_of(id: &str) -> Vec<u8> {
    format!(
        "From: <user@office.example>\r\nSubject: outbound {id}\r\nX-Sim-Msg: {id}\r\n\r\nHello from {id}.\r\n"
    )
    .into_bytes()
}

pub struct Driver {
    q: OutQueue,
    config: Config,
    cache: DnsCache,
    sessions: BTreeMap<SessionId, Session>,
    wake: Option<Instant>,
    wake_gen: u64,
    /// Sessions that ended, all told.
    pub sessions_opened: u64,
}

impl Driver {
    pub fn new(now: Instant, config: Config) -> Driver {
        let setup = QueueSetup::from_config(&config, auto_lan);
        let cache = DnsCache::new(config.dns.cache_size as usize, config.dns.cache_max_ttl.0);
        Driver {
            q: OutQueue::new(now, setup),
            config,
            cache,
            sessions: BTreeMap::new(),
            wake: None,
            wake_gen: 0,
            sessions_opened: 0,
        }
    }

    pub fn setup(&self) -> &QueueSetup {
        self.q.setup()
    }

    /// The queue's entries, as it holds them.
    pub fn messages(&self) -> impl Iterator<Item = &QueuedMessage> {
        self.q.messages()
    }

    /// Sessions open in the queue's view, and in the driver's.
    pub fn busy(&self) -> bool {
        self.q.sessions() > 0 || !self.sessions.is_empty()
    }

    /// The next moment the queue wants to be woken.
    pub fn next_wake(&mut self) -> Option<Instant> {
        self.q.next_wake()
    }

    // ----- the queue -----------------------------------------------------------------

    /// A new spool entry (the store's hook).
    pub fn load(&mut self, now: Instant, msg: QueuedMessage, net: &mut Net<'_>) {
        self.tell(now, QueueCommand::Load(Box::new(msg)), net);
    }

    /// Run connection `conn`'s Out Mail (the scheduler's `RunOutMail`).
    pub fn run(&mut self, now: Instant, conn: usize, run: u64, net: &mut Net<'_>) {
        self.tell(
            now,
            QueueCommand::Run {
                conn,
                run,
                flush: false,
            },
            net,
        );
    }

    /// The queue's timer fired (`gen` names the wake-up it was).
    pub fn wake(&mut self, now: Instant, gen: u64, net: &mut Net<'_>) {
        if gen != self.wake_gen {
            return;
        }
        self.wake = None;
        self.q.handle_timeout(now);
        self.drain(now, net);
    }

    fn tell(&mut self, now: Instant, n: QueueCommand, net: &mut Net<'_>) {
        self.q.handle_command(now, n);
        self.drain(now, net);
    }

    /// Act on everything the queue asks, then arm its timer.
    fn drain(&mut self, now: Instant, net: &mut Net<'_>) {
        loop {
            match self.q.poll_event() {
                Next::Event(a) => self.act(now, a, net),
                Next::Wait(w) => {
                    if w != self.wake {
                        self.wake = w;
                        self.wake_gen += 1;
                        if let Some(t) = w {
                            net.events.push(t.max(now), OutEv::QueueWake(self.wake_gen));
                        }
                    }
                    return;
                }
            }
        }
    }

    /// One queue action. Nothing here calls back into the queue: what a session does
    /// happens at its next event, as on the runtime's session threads.
    fn act(&mut self, now: Instant, a: QueueAction, net: &mut Net<'_>) {
        match &a {
            QueueAction::Open { session, dest } => {
                self.open(now, *session, dest.clone(), net);
            }
            QueueAction::Send {
                session,
                message,
                job,
            } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.order = Some(Order::Job {
                        message: message.clone(),
                        job: job.clone(),
                    });
                    schedule(now, s, now, net);
                }
            }
            QueueAction::Close { session } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.order = Some(Order::Quit);
                    schedule(now, s, now, net);
                }
            }
            _ => {}
        }
        net.obs.push(Obs::Queue(a));
    }

    // ----- sessions ------------------------------------------------------------------

    fn open(&mut self, now: Instant, id: SessionId, dest: Dest, net: &mut Net<'_>) {
        self.sessions_opened += 1;
        // As `Driver::plan` in the runtime: no TLS in the simulated world.
        let o = &self.config.outbound;
        let settings = ClientSettings {
            helo_name: o
                .helo_name
                .clone()
                .unwrap_or_else(|| self.config.hostname.clone()),
            tls: OutTls::Off,
            tls_available: false,
            tls_active: false,
            auth: None,
            timeout: o.timeout.0,
            data_timeout: o.data_timeout.0,
        };
        let mut s = Session {
            id,
            dest: dest.clone(),
            settings,
            lookup: None,
            targets: Vec::new(),
            next: 0,
            tried: Vec::new(),
            last: "no address to try".into(),
            link: None,
            scheduled: None,
            order: None,
            awaiting: false,
            message: None,
            body: None,
            established: false,
            end_error: None,
            notices: Vec::new(),
        };
        let om = match &dest {
            Dest::Relay(c) | Dest::Direct(c, _) => self
                .config
                .connections
                .get(*c)
                .and_then(|c| c.outmail.clone()),
            Dest::Lan(_) => None,
        };
        match (&dest, om) {
            (Dest::Relay(c), Some(om)) if om.method == OutMethod::Relay => {
                s.targets = relay_hosts(&self.config, *c);
            }
            (Dest::Direct(_, domain), Some(_)) => {
                s.lookup = Some(Lookup {
                    mx: MxLookup::new(domain, true),
                    id: 0,
                    name: String::new(),
                    kind: RecordKind::Mx,
                    round: 0,
                    reply: None,
                });
            }
            _ => {}
        }
        schedule(now, &mut s, now, net);
        self.sessions.insert(id, s);
    }

    /// Everything a session does at `now`: the next DNS step, the next connection
    /// attempt, or a step of its connection.
    pub fn session_event(&mut self, now: Instant, id: SessionId, net: &mut Net<'_>) {
        let Some(mut s) = self.sessions.remove(&id) else {
            return;
        };
        if let Some(t) = s.scheduled {
            if t > now {
                self.sessions.insert(id, s);
                return;
            }
        }
        s.scheduled = None;
        let done = if s.lookup.is_some() {
            self.dns_step(now, &mut s, net)
        } else if s.link.is_some() {
            step_link(now, &mut s, net)
        } else {
            connect(now, &mut s, net)
        };
        let notices = std::mem::take(&mut s.notices);
        if !done {
            if let Some(t) = s.link.as_ref().and_then(|l| l.next_time()) {
                schedule(now, &mut s, t, net);
            }
            self.sessions.insert(id, s);
        }
        for n in notices {
            self.tell(now, n, net);
        }
    }

    /// Resolve the MX hosts: ask (or read the answer to) the next query. `true` when
    /// the session is over.
    fn dns_step(&mut self, now: Instant, s: &mut Session, net: &mut Net<'_>) -> bool {
        let Some(mut l) = s.lookup.take() else {
            return false;
        };
        if !l.name.is_empty() {
            // The answer (or silence) to the query out is in.
            let answer = match l.reply.take() {
                Some(bytes) => decode_answer(&bytes, l.id, &l.name, l.kind)
                    .map_err(|e| e.to_string())
                    .and_then(|a| match a.rcode {
                        Rcode::Failure(_) => Err("answered with a server failure".to_string()),
                        _ => Ok(a),
                    }),
                None => Err("timed out".to_string()),
            };
            match answer {
                Err(_) if l.round < self.config.dns.attempts.max(1) => {
                    // Another round, as the runtime's resolver does.
                    self.ask(now, s, &mut l, net);
                    s.lookup = Some(l);
                    return false;
                }
                result => {
                    l.mx.answer(
                        now,
                        &mut self.cache,
                        result.map_err(|w| QueryFailure(format!("sim-dns: {w}"))),
                    );
                    l.name.clear();
                }
            }
        }
        match l.mx.step(now, &self.cache) {
            LookupStep::Query { name, kind } => {
                l.name = name;
                l.kind = kind;
                l.round = 0;
                self.ask(now, s, &mut l, net);
                s.lookup = Some(l);
                false
            }
            LookupStep::Done(Ok(mut hosts)) => {
                mailroom_core::dns::mx::shuffle_equal(&mut hosts, net.rng.next_u64());
                for h in hosts {
                    for ip in h.addrs {
                        if let Some(name) = net.addrs.get(&ip) {
                            s.targets.push(name.clone());
                        }
                    }
                }
                connect(now, s, net)
            }
            LookupStep::Done(Err(e)) => {
                finish(s, false, e.is_permanent(), Some(e.to_string()), net);
                true
            }
        }
    }

    fn ask(&mut self, now: Instant, s: &mut Session, l: &mut Lookup, net: &mut Net<'_>) {
        l.round += 1;
        l.id = net.rng.next_u64() as u16;
        net.obs.push(Obs::DnsQuery);
        let reply = encode_query(l.id, &l.name, l.kind)
            .ok()
            .and_then(|q| net.dns.answer(now, &q, net.rng));
        let at = match reply {
            Some(_) => now + net.latency() + net.latency(),
            None => now + self.config.dns.timeout.0.max(Duration::from_millis(100)),
        };
        l.reply = reply;
        schedule(now, s, at, net);
    }
}

fn schedule(now: Instant, s: &mut Session, t: Instant, net: &mut Net<'_>) {
    let t = t.max(now);
    if s.scheduled != Some(t) {
        s.scheduled = Some(t);
        net.events.push(t, OutEv::Session(s.id));
    }
}

/// Try the next address: refused (down, or the link's refusal fault) moves on; `true`
/// when the session is over.
fn connect(now: Instant, s: &mut Session, net: &mut Net<'_>) -> bool {
    let Some(name) = s.targets.get(s.next).cloned() else {
        let last = s.last.clone();
        finish(s, false, false, Some(last), net);
        return true;
    };
    s.next += 1;
    s.tried.push(name.clone());
    let host = net.hosts.get(&name).cloned();
    let refused = net.rng.chance(net.faults.refuse);
    match host {
        Some(h) if !refused && !h.borrow().spec.is_down(now) => {
            let client = SmtpClient::new(now, s.settings.clone());
            let peer = SmtpPeer::new(now, h, s.id);
            let rng = net.rng.fork(&format!("link{}.{}", s.id, s.next));
            s.link = Some(Link::new(client, peer, net.faults, rng));
            s.new_attempt();
            // The greeting goes out at once.
            step_link(now, s, net)
        }
        _ => {
            s.last = format!("{name}: connection refused");
            let t = now + net.latency() + net.latency();
            schedule(now, s, t, net);
            false
        }
    }
}

impl Session {
    /// A new address: nothing was handed out on it yet.
    fn new_attempt(&mut self) {
        self.body = None;
        self.message = None;
        self.end_error = None;
        self.awaiting = false;
    }
}

/// Give the client its pending order, run the connection, report its events. `true`
/// when the session is over.
fn step_link(now: Instant, s: &mut Session, net: &mut Net<'_>) -> bool {
    let Some(mut link) = s.link.take() else {
        return false;
    };
    if s.awaiting {
        if let Some(order) = s.order.take() {
            s.awaiting = false;
            let cmd = match order {
                Order::Job { message, job } => {
                    s.body = Some(body_of(&message));
                    s.message = Some(message);
                    ClientCommand::Send(Box::new(job))
                }
                Order::Quit => ClientCommand::Quit,
            };
            link.client.handle_command(now, cmd);
        }
    }
    let body = &mut s.body;
    let mut answer = |_: Instant, e: &ClientEvent| -> Option<ClientCommand> {
        match e {
            ClientEvent::NextChunk => Some(match body.take() {
                Some(data) => ClientCommand::Chunk { data, last: true },
                None => ClientCommand::Missing,
            }),
            _ => None,
        }
    };
    // On a new connection this is the server's greeting (`Link::open` is the same).
    let events = link.step(now, &mut answer);
    net.obs.extend(
        std::mem::take(&mut link.server.host().borrow_mut().stored)
            .into_iter()
            .map(Obs::Stored),
    );
    for e in events {
        match e {
            ClientEvent::Ready => {
                s.established = true;
                s.awaiting = true;
                s.notices.push(QueueCommand::Ready { session: s.id });
            }
            ClientEvent::NextChunk => {}
            ClientEvent::Finished(report) => {
                net.obs.push(Obs::Finished {
                    session: s.id,
                    message: s.message.take().unwrap_or_default(),
                    report: report.clone(),
                });
                s.body = None;
                s.notices.push(QueueCommand::Finished {
                    session: s.id,
                    report,
                });
            }
            ClientEvent::Ended(end) => {
                s.end_error = end.error.map(|e| match e.reply {
                    Some(r) => format!("{}: {}", e.text, r.one_line()),
                    None => e.text,
                });
            }
        }
    }
    if s.awaiting && s.order.is_some() {
        s.link = Some(link);
        return step_link(now, s, net);
    }
    if !link.is_ended() {
        s.link = Some(link);
        return false;
    }
    // The connection is over (`Pump::attempt_ended`): once a server answered the
    // session ends; before that, the next address is tried.
    let host = s.tried.last().cloned().unwrap_or_default();
    if s.established {
        let error = s.end_error.take();
        finish(s, true, false, error, net);
        return true;
    }
    s.last = match s.end_error.take() {
        Some(e) => format!("{host}: {e}"),
        None => format!("{host}: the session ended"),
    };
    connect(now, s, net)
}

/// Tell the queue the session is over (`Pump::finish`).
fn finish(
    s: &mut Session,
    established: bool,
    permanent: bool,
    error: Option<String>,
    net: &mut Net<'_>,
) {
    net.obs.push(Obs::SessionEnded {
        session: s.id,
        dest: s.dest.clone(),
        tried: s.tried.clone(),
        established,
        permanent,
        error: error.clone(),
    });
    s.notices.push(QueueCommand::Ended {
        session: s.id,
        established,
        permanent,
        error,
    });
}
