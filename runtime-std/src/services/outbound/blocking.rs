//! Sessions on threads: the blocking runtime's transport (and the one the command
//! line uses for `queue flush` when no server is running).

use super::client::ClientPump;
use super::session::{self, Need, Order, OrderSink, Reporter, SendHandler, SessionPlan, Target};
use super::Transport;
use crate::net::socket::{self, DriveError, WRITE_TIMEOUT};
use std::net::TcpStream;
use std::sync::mpsc;

/// Stack of a session thread (rustls and the buffers live on the heap).
const STACK: usize = 256 * 1024;

pub struct ThreadTransport;

impl Transport for ThreadTransport {
    fn open(&self, plan: SessionPlan, report: Reporter) -> Box<dyn OrderSink> {
        let (tx, rx) = mpsc::channel::<Order>();
        let fail = report.clone();
        let session = plan.session;
        let spawned = std::thread::Builder::new()
            .name("smtp-out".into())
            .stack_size(STACK)
            .spawn(move || run(plan, report, rx));
        if let Err(e) = spawned {
            tracing::error!("cannot start a sending thread: {e}");
            fail(mailroom_core::outbound::QueueCommand::Ended {
                session,
                established: false,
                permanent: false,
                error: Some(format!("cannot start a thread: {e}")),
            });
        }
        Box::new(tx)
    }
}

/// Run one session to its end: every address in turn until a server answers.
pub fn run(plan: SessionPlan, report: Reporter, orders: mpsc::Receiver<Order>) {
    let mut handler = SendHandler::new(&plan, report);
    let targets = match session::resolve(&plan) {
        Ok(t) => t,
        Err(e) => return handler.unresolved(&plan, e),
    };
    let mut last = String::from("no address to try");
    for target in &targets {
        let stream = match TcpStream::connect_timeout(&target.addr, plan.connect_timeout) {
            Ok(s) => s,
            Err(e) => {
                last = handler.connect_failed(target, e);
                continue;
            }
        };
        handler.reset();
        let result = drive(&plan, target, stream, &mut handler, &orders);
        match handler.attempt_ended(target, result) {
            Some(reason) => last = reason,
            None => return,
        }
    }
    handler.finish(false, false, Some(last));
}

fn drive(
    plan: &SessionPlan,
    target: &Target,
    stream: TcpStream,
    handler: &mut SendHandler,
    orders: &mpsc::Receiver<Order>,
) -> Result<(), DriveError> {
    let mut c = session::client(plan, target);
    let mut answer = |c: &mut ClientPump, ev| {
        if handler.on_event(c, ev) == Need::Order {
            let order = orders.recv().ok();
            handler.on_order(c, order);
        }
    };
    socket::drive(stream, &mut c, WRITE_TIMEOUT, &mut answer)
}
