//! The SMTP server session machine.

use super::{SessionInfo, SmtpCommand, SmtpEvent};
use crate::config::Snapshot;
use crate::{Input, Instant, Machine, Output};
use std::sync::Arc;

pub struct SmtpServer {
    snapshot: Arc<Snapshot>,
    info: SessionInfo,
}

impl SmtpServer {
    /// A new session; the first `poll_output` yields the 220 greeting.
    pub fn new(now: Instant, snapshot: Arc<Snapshot>, info: SessionInfo) -> Self {
        let _ = now;
        SmtpServer { snapshot, info }
    }
}

impl Machine for SmtpServer {
    type Command = SmtpCommand;
    type Event = SmtpEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        todo!("{now:?} {input:?} {:?} {}", self.info, self.snapshot.config.hostname)
    }

    fn handle_command(&mut self, now: Instant, cmd: SmtpCommand) {
        todo!("{now:?} {cmd:?}")
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<SmtpEvent> {
        todo!("{}", out.len())
    }
}
