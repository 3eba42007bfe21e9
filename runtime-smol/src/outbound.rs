//! Sending sessions as smol tasks: the production daemon's outbound transport.
//!
//! All sessions run on one executor thread; the connection logic (TLS, STARTTLS, the
//! SMTP client machine, jobs and message chunks) is `mailroom_std::outbound`'s, shared
//! with the blocking runtime. DNS lookups and opening message files run on smol's
//! blocking pool.

use super::{read_until, write_out, Woke};
use async_io::{Async, Timer};
use futures_lite::FutureExt;
use mailroom_core::outbound::QueueNotice;
use mailroom_std::clock;
use mailroom_std::conn::{ConnError, Step, READ_CHUNK};
use mailroom_std::outbound::session::{
    self, Need, Order, OrderSink, Pump, Reporter, SessionPlan, Target,
};
use mailroom_std::outbound::Transport;
use smol::channel::{Receiver, Sender};
use smol::LocalExecutor;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
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
            report(QueueNotice::Ended {
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
    let mut pump = Pump::new(&plan, report);
    let p = plan.clone();
    let targets = match smol::unblock(move || session::resolve(&p)).await {
        Ok(t) => t,
        Err(e) => return pump.unresolved(&plan, e),
    };
    let mut last = String::from("no address to try");
    for target in &targets {
        let stream = match connect(target.addr, plan.connect_timeout).await {
            Ok(s) => s,
            Err(e) => {
                last = pump.connect_failed(target, e);
                continue;
            }
        };
        pump.reset();
        let result = drive(&plan, target, stream, &mut pump, &orders).await;
        match pump.attempt_ended(target, result) {
            Some(reason) => last = reason,
            None => return,
        }
    }
    pump.finish(false, false, Some(last));
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

#[derive(Debug, thiserror::Error)]
enum DriveError {
    #[error("{0}")]
    Conn(#[from] ConnError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

async fn drive(
    plan: &SessionPlan,
    target: &Target,
    mut stream: Async<TcpStream>,
    pump: &mut Pump,
    orders: &Receiver<Order>,
) -> Result<(), DriveError> {
    let _ = stream.get_ref().set_nodelay(true);
    let mut c = session::client(plan, target);
    let mut buf = vec![0u8; READ_CHUNK];
    let result = async {
        loop {
            match c.poll()? {
                Step::Event(ev) => {
                    write_out(&mut stream, &mut c).await?;
                    if pump.on_event(&mut c, ev) == Need::Order {
                        let order = orders.recv().await.ok();
                        pump.on_order(&mut c, order);
                    }
                }
                Step::Close => {
                    write_out(&mut stream, &mut c).await?;
                    return Ok(());
                }
                Step::Wait(deadline) => {
                    write_out(&mut stream, &mut c).await?;
                    let woke = read_until(&mut stream, &mut buf, deadline).await;
                    let now = clock::now();
                    match woke {
                        Woke::Deadline => c.tick(now),
                        Woke::Read(Ok(0)) => c.eof(now),
                        Woke::Read(Ok(n)) => c.receive(now, &buf[..n])?,
                        Woke::Read(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        Woke::Read(Err(_)) => c.eof(now),
                    }
                }
            }
        }
    }
    .await;
    if result.is_err() {
        let _ = write_out(&mut stream, &mut c).await;
    }
    let _ = stream.get_ref().shutdown(Shutdown::Both);
    result
}
