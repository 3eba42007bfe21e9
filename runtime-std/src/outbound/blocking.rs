//! Sessions on threads: the blocking runtime's transport (and the one the command
//! line uses for `queue flush` when no server is running).

use super::session::{self, Need, Order, OrderSink, Pump, Reporter, SessionPlan, Target};
use super::Transport;
use crate::conn::{self, ConnError, Step, READ_CHUNK};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// Stack of a session thread (rustls and the buffers live on the heap).
const STACK: usize = 256 * 1024;
/// Longest time a write may block on a server that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);

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
            fail(mailroom_core::outbound::QueueNotice::Ended {
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
    let mut pump = Pump::new(&plan, report);
    let targets = match session::resolve(&plan) {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(session = plan.session, dest = ?plan.dest, "no address: {}", e.text);
            pump.finish(false, e.permanent, Some(e.text));
            return;
        }
    };
    let mut last = String::from("no address to try");
    for target in &targets {
        let stream = match TcpStream::connect_timeout(&target.addr, plan.connect_timeout) {
            Ok(s) => s,
            Err(e) => {
                last = format!("{} ({}): {e}", target.name, target.addr);
                tracing::info!(session = plan.session, "connect failed: {last}");
                continue;
            }
        };
        pump.reset();
        let result = drive(&plan, target, stream, &mut pump, &orders);
        if pump.established {
            let error = match result {
                Err(e) => Some(format!("{} ({}): {e}", target.name, target.addr)),
                Ok(()) => pump.end_error(),
            };
            pump.finish(true, false, error);
            return;
        }
        last = match (result, pump.end_error()) {
            (Err(e), _) => format!("{} ({}): {e}", target.name, target.addr),
            (Ok(()), Some(t)) => format!("{} ({}): {t}", target.name, target.addr),
            (Ok(()), None) => format!("{} ({}): the session ended", target.name, target.addr),
        };
        tracing::info!(session = plan.session, "not sent through {last}");
    }
    pump.finish(false, false, Some(last));
}

#[derive(Debug, thiserror::Error)]
enum DriveError {
    #[error("{0}")]
    Conn(#[from] ConnError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn drive(
    plan: &SessionPlan,
    target: &Target,
    mut stream: TcpStream,
    pump: &mut Pump,
    orders: &mpsc::Receiver<Order>,
) -> Result<(), DriveError> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut c = session::client(plan, target);
    let mut buf = vec![0u8; READ_CHUNK];
    let result = (|| loop {
        match c.poll()? {
            Step::Event(ev) => {
                write_out(&mut stream, &mut c)?;
                if pump.on_event(&mut c, ev) == Need::Order {
                    let order = orders.recv().ok();
                    pump.on_order(&mut c, order);
                }
            }
            Step::Close => {
                write_out(&mut stream, &mut c)?;
                return Ok(());
            }
            Step::Wait(deadline) => {
                write_out(&mut stream, &mut c)?;
                let now = conn::now();
                match conn::wait_time(now, deadline) {
                    Some(t) if t.is_zero() => {
                        c.tick(now);
                        continue;
                    }
                    t => stream.set_read_timeout(t)?,
                }
                match stream.read(&mut buf) {
                    Ok(0) => c.eof(conn::now()),
                    Ok(n) => c.receive(conn::now(), &buf[..n])?,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        c.tick(conn::now())
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => c.eof(conn::now()),
                }
            }
        }
    })();
    if result.is_err() {
        // A TLS alert explaining the failure, if there is one.
        let _ = stream.write_all(c.outgoing());
    }
    let _ = stream.shutdown(Shutdown::Both);
    result
}

fn write_out(stream: &mut TcpStream, c: &mut super::conn::ClientConn) -> io::Result<()> {
    let out = c.outgoing();
    if !out.is_empty() {
        stream.write_all(out)?;
        out.clear();
    }
    Ok(())
}
