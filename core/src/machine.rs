//! The two shapes every machine in core has, and the rules all of them follow
//! (docs/ARCHITECTURE.md "The machine contract").
//!
//! - [`Machine`], a **byte machine** (protocol sessions: SMTP server and client, POP3
//!   server and client, the password service, the ETRN client, the collection run
//!   that wraps a POP3 client): fed `handle_input` (bytes from the peer, end of
//!   stream, a timer tick) and `handle_command` (the answer to an event), drained
//!   with `poll_output` until it returns [`Output::Wait`].
//! - [`Agent`], a machine that carries no bytes (the connection scheduler, the
//!   outbound queue): fed `handle_command` and `handle_timeout`, drained with
//!   `poll_event` until it returns [`Next::Wait`]. It has no `Bytes`/`Eof` arms to
//!   ignore and no `out` buffer.
//!
//! The rules (conformance tests check them; `core/tests/agent_contract.rs` for the
//! agents):
//!
//! 1. **Drain after every handle.** After each `handle_*` the driver polls until
//!    `Wait`. A machine never needs a second `Wait` to make progress.
//! 2. **Order.** Bytes are appended to `out` in the order the peer must see them; an
//!    `Event`, `StartTls` or `Close` comes after every byte that precedes it, and the
//!    driver flushes `out` before it acts on `StartTls` or `Close`. Events come out in
//!    the order they arise. `Wait` means drained.
//! 3. **`Close` once** (byte machines). Afterwards `poll_output` appends nothing and
//!    returns `Wait(None)`; input and commands are ignored.
//! 4. **`Eof`** (byte machines). After it the machine never waits for more bytes: it
//!    emits what it still owes and then `Close`.
//! 5. **Commands nobody asked for are ignored.** A command that answers no
//!    outstanding event (none outstanding, the wrong kind, an unknown session or run,
//!    after `Close`) changes nothing, writes nothing, is logged at `debug`, and never
//!    panics: a driver may answer late, after a timeout or a hang-up. (An agent also
//!    takes notices that answer nothing by design, such as "a message was queued";
//!    those are inputs, not answers.)
//! 6. **Time never runs backwards inside a machine.** A `now` earlier than one already
//!    seen is taken as the latest seen. A tick or timeout before the deadline changes
//!    nothing. A deadline in the past makes the driver tick at once. Deadlines are
//!    compared on the monotonic reading of [`Instant`] only.

use crate::time::Instant;

/// What the outside world hands a byte machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Bytes from the peer, split at any boundary.
    Bytes(&'a [u8]),
    /// The peer closed its side (or the transport failed).
    Eof,
    /// Nothing arrived; the deadline from the last `Wait` may have passed.
    Tick,
}

/// What a byte machine asks of its driver.
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

/// A protocol session: bytes in and out, commands and events beside them.
pub trait Machine {
    type Command;
    type Event;

    fn handle_input(&mut self, now: Instant, input: Input<'_>);
    fn handle_command(&mut self, now: Instant, cmd: Self::Command);
    /// Append bytes for the peer to `out` and return the next thing the driver must do.
    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<Self::Event>;

    /// Client errors so far (refused commands, failed logins, unknown local recipients,
    /// refused relaying): the IDS/IPS score the runtime adds up per client address
    /// when the session ends (docs/DEFENSE.md). Client machines have none.
    fn client_errors(&self) -> u32 {
        0
    }
}

/// What an agent asks of its driver.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum Next<E> {
    /// Something for the driver to do; it may answer with `handle_command`.
    Event(E),
    /// Drained: call `handle_timeout` at this deadline (or never), or sooner with a
    /// command.
    Wait(Option<Instant>),
}

/// A service machine that carries no bytes: commands and timeouts in, events out.
pub trait Agent {
    type Command;
    type Event;

    /// A command: an answer to an event, or a notice from outside.
    fn handle_command(&mut self, now: Instant, cmd: Self::Command);
    /// The deadline of the last `Wait` may have passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event, or `Wait` when drained.
    fn poll_event(&mut self) -> Next<Self::Event>;

    /// Every event until `Wait`, and the deadline it names: for drivers that act on
    /// events only after draining, and for tests.
    fn drain(&mut self) -> (Vec<Self::Event>, Option<Instant>) {
        let mut events = Vec::new();
        loop {
            match self.poll_event() {
                Next::Event(e) => events.push(e),
                Next::Wait(w) => return (events, w),
            }
        }
    }
}
