//! How the rest of the server talks to the running outbound queue: a channel to its
//! driver thread. Kept apart from the driver so that the shared server state
//! (`crate::services::app::Shared`) can hold it without depending on the sender.

use mailroom_core::outbound::{ConnId, QueueCommand, RunId, RunReport};
use std::sync::mpsc;

pub(super) type Done = Box<dyn FnOnce(RunReport) + Send>;

pub(super) enum Msg {
    SchedulerCommand(QueueCommand),
    Queued(String),
    Flush,
    Run {
        conn: ConnId,
        run: RunId,
        flush: bool,
        done: Option<Done>,
    },
    Stop,
}

/// How the rest of the server talks to the outbound queue. Cheap to clone.
#[derive(Clone)]
pub struct OutboundHandle {
    pub(super) tx: mpsc::Sender<Msg>,
}

impl OutboundHandle {
    /// A new spool entry (the store's hook calls this).
    pub fn queued(&self, id: &str) {
        let _ = self.tx.send(Msg::Queued(id.to_string()));
    }

    /// A downstream server sent `ETRN domain`: send the mail held for it now.
    pub fn release(&self, domain: &str) {
        let _ = self.tx.send(Msg::SchedulerCommand(QueueCommand::Release {
            domain: domain.to_string(),
        }));
    }

    /// Every retry time is now; LAN links and LAN forwarding send at once.
    pub fn flush(&self) {
        let _ = self.tx.send(Msg::Flush);
    }

    /// Run connection `conn`'s Out Mail (index in `[[connection]]`, as the scheduler
    /// counts); `done` gets the run's report when it ends (at once if the connection
    /// has no Out Mail). With `flush`, recipients not yet due for a retry go too.
    pub fn run_outmail(&self, conn: ConnId, run: RunId, flush: bool, done: Option<Done>) {
        let _ = self.tx.send(Msg::Run {
            conn,
            run,
            flush,
            done,
        });
    }
}
