//! The one shape every protocol session and service machine has.
//!
//! A driver (runtime or harness) feeds the machine with `handle_input` (bytes from the
//! peer, end of stream, or a timer tick) and `handle_command` (the answer to an event),
//! then drains `poll_output` until it returns [`Output::Wait`]. Everything written to
//! `out` must be flushed to the peer before the driver acts on `StartTls` or `Close`.

use crate::time::Instant;

/// What the outside world hands a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Bytes from the peer, split at any boundary.
    Bytes(&'a [u8]),
    /// The peer closed its side (or the transport failed).
    Eof,
    /// Nothing arrived; the deadline from the last `Wait` may have passed.
    Tick,
}

/// What a machine asks of its driver.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum Output<E> {
    /// Something for the driver or application; it may answer with `handle_command`.
    Event(E),
    /// Flush `out`, then run a TLS handshake under this session.
    StartTls,
    /// Flush `out`, then close the connection.
    Close,
    /// Drained: flush `out`, then wake on input, or at this deadline with `Input::Tick`.
    Wait(Option<Instant>),
}

pub trait Machine {
    type Command;
    type Event;

    fn handle_input(&mut self, now: Instant, input: Input<'_>);
    fn handle_command(&mut self, now: Instant, cmd: Self::Command);
    /// Append bytes for the peer to `out` and return the next thing the driver must do.
    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<Self::Event>;
}
