//! Deterministic simulation harness: a discrete-event loop over the core machines
//! with a virtual clock, a seeded RNG forked per component, simulated links and
//! scripted peers (docs/ARCHITECTURE.md "Simulation harness").
//!
//! - [`feed`] / [`drain`]: run one [`Machine`] to quiescence with scripted answers.
//! - [`office::Office`]: the connection scheduler and SMTP sessions of a small office,
//!   its dial-up links, the ISP relay, POP3 box and remote MX, in virtual time.
//! - [`sweep`]: randomized offices, invariants after every event, run-twice hashes.
//! - [`outbound`]: the real outbound queue and SMTP client sessions against scripted
//!   relays, MX hosts and a DNS server (greylisting, 4xx for hours, 5xx, drops, DNS
//!   failures): retries, the delay warning, the bounce and relay fail-over.
//! - [`isp_pop3`]: a scripted ISP POP3 server (UIDL refused or missing, no TOP, drops,
//!   slow or stalled replies) and a link running a client machine against it.

pub mod isp_pop3;
pub mod localtime;
pub mod office;
pub mod outbound;
pub mod rng;
pub mod sim;
pub mod sweep;
pub mod wire;

use mailroom_core::{Input, Instant, Machine, Output};

/// What a machine did while it was drained once.
#[derive(Debug)]
pub struct Drained<E> {
    pub events: Vec<E>,
    pub start_tls: bool,
    pub closed: bool,
    pub wait: Option<Instant>,
}

/// Feed `input` at `now`, then drain `poll_output`, answering each event with
/// `answer` (which may return `None` to leave it pending). Bytes for the peer are
/// appended to `out`.
pub fn feed<M: Machine>(
    m: &mut M,
    now: Instant,
    input: Input<'_>,
    out: &mut Vec<u8>,
    answer: &mut dyn FnMut(&M::Event) -> Option<M::Command>,
) -> Drained<M::Event> {
    m.handle_input(now, input);
    drain(m, now, out, answer)
}

/// Drain `poll_output` until `Wait` or `Close`, answering events as they come.
pub fn drain<M: Machine>(
    m: &mut M,
    now: Instant,
    out: &mut Vec<u8>,
    answer: &mut dyn FnMut(&M::Event) -> Option<M::Command>,
) -> Drained<M::Event> {
    let mut d = Drained {
        events: Vec::new(),
        start_tls: false,
        closed: false,
        wait: None,
    };
    loop {
        match m.poll_output(out) {
            Output::Event(e) => {
                let cmd = answer(&e);
                d.events.push(e);
                if let Some(c) = cmd {
                    m.handle_command(now, c);
                }
            }
            Output::StartTls => d.start_tls = true,
            Output::Close => {
                d.closed = true;
                return d;
            }
            Output::Wait(w) => {
                d.wait = w;
                return d;
            }
        }
    }
}
