//! Sending sessions as smol tasks: the production daemon's outbound transport.
//!
//! All sessions run on one executor thread; the connection logic (TLS, STARTTLS, the
//! SMTP client machine, jobs and message chunks) is `mailroom_std::services::outbound`'s, shared
//! with the blocking runtime. DNS lookups and opening message files run on smol's
//! blocking pool.

use crate::socket::{self, Answer};
use async_io::{Async, Timer};
use futures_lite::FutureExt;
use mailroom_core::outbound::QueueCommand;
use mailroom_core::smtp::client::{ClientEvent, SmtpClient};
use mailroom_std::net::socket::{DriveError, WRITE_TIMEOUT};
use mailroom_std::services::outbound::client::ClientPump;
use mailroom_std::services::outbound::session::{
    self, Need, Order, OrderSink, Reporter, SendHandler, SessionPlan, Target,
};
use mailroom_std::services::outbound::Transport;
use smol::channel::{Receiver, Sender};
use smol::LocalExecutor;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

type Start = (SessionPlan, Reporter, Receiver<Order>);

pub struct SmolTransport {
    tx: Sender<Start>,
}

impl SmolTransport {
    /// Start the executor thread the sessions run on.
    pub fn start() -> io::Result<SmolTransport> {
        let (tx, rx) = smol::channel::unbounded::<Start>();
        std::thread::Builder::new()
            .name("smtp-out".into())
            .spawn(move || {
                let ex = LocalExecutor::new();
                smol::block_on(ex.run(async {
                    while let Ok((plan, report, orders)) = rx.recv().await {
                        ex.spawn(run(plan, report, orders)).detach();
                    }
                }));
            })?;
        Ok(SmolTransport { tx })
    }
}

struct Sink(Sender<Order>);

impl OrderSink for Sink {
    fn send(&self, order: Order) {
        let _ = self.0.try_send(order);
    }
}

impl Transport for SmolTransport {
    fn open(&self, plan: SessionPlan, report: Reporter) -> Box<dyn OrderSink> {
        let (otx, orx) = smol::channel::unbounded();
        let session = plan.session;
        if self.tx.try_send((plan, report.clone(), orx)).is_err() {
            report(QueueCommand::Ended {
                session,
                established: false,
                permanent: false,
                error: Some("the sending thread is gone".into()),
            });
        }
        Box::new(Sink(otx))
    }
}

async fn run(plan: SessionPlan, report: Reporter, orders: Receiver<Order>) {
    let mut handler = SendHandler::new(&plan, report);
    let p = plan.clone();
    let targets = match smol::unblock(move || session::resolve(&p)).await {
        Ok(t) => t,
        Err(e) => return handler.unresolved(&plan, e),
    };
    let mut last = String::from("no address to try");
    for target in &targets {
        let stream = match connect(target.addr, plan.connect_timeout).await {
            Ok(s) => s,
            Err(e) => {
                last = handler.connect_failed(target, e);
                continue;
            }
        };
        handler.reset();
        let result = drive(&plan, target, stream, &mut handler, &orders).await;
        match handler.attempt_ended(target, result) {
            Some(reason) => last = reason,
            None => return,
        }
    }
    handler.finish(false, false, Some(last));
}

async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Async<TcpStream>> {
    Async::<TcpStream>::connect(addr)
        .or(async {
            Timer::after(timeout).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ))
        })
        .await
}

/// The sending session's answerer: the handler answers, waiting for the queue's next
/// order when it needs one.
struct Sending<'a> {
    handler: &'a mut SendHandler,
    orders: &'a Receiver<Order>,
}

impl Answer<SmtpClient> for Sending<'_> {
    async fn answer(&mut self, c: &mut ClientPump, ev: ClientEvent) {
        if self.handler.on_event(c, ev) == Need::Order {
            let order = self.orders.recv().await.ok();
            self.handler.on_order(c, order);
        }
    }
}

async fn drive(
    plan: &SessionPlan,
    target: &Target,
    stream: Async<TcpStream>,
    handler: &mut SendHandler,
    orders: &Receiver<Order>,
) -> Result<(), DriveError> {
    let mut c = session::client(plan, target);
    let mut sending = Sending { handler, orders };
    socket::drive(stream, &mut c, WRITE_TIMEOUT, &mut sending).await
}
