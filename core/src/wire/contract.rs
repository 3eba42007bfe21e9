//! The parts of the machine contract (docs/ARCHITECTURE.md, "The machine contract")
//! that every byte machine needs and that are easy to get subtly wrong: `Close` handed
//! out once, time that never runs backwards, and stray commands that change nothing.
//! [`super::LineSession`] uses them for the servers; the clients use them directly.

use crate::machine::Output;
use crate::time::Instant;

/// Rule 6: the latest `now` seen. A driver may pass an earlier `now` than before (two
/// clocks read by two threads, a virtual clock replayed); taking it as the latest seen
/// means a deadline never fires early and an idle timer never restarts in the past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    latest: Instant,
}

impl Clock {
    pub fn new(now: Instant) -> Clock {
        Clock { latest: now }
    }

    /// Note `now` and return the time to act on: `now`, or the latest seen if later.
    pub fn see(&mut self, now: Instant) -> Instant {
        if now > self.latest {
            self.latest = now;
        }
        self.latest
    }

    pub fn now(&self) -> Instant {
        self.latest
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Open,
    /// The machine decided to close; `Close` is owed to the driver.
    Closing,
    /// `Close` was returned: the machine is finished.
    Closed,
}

/// Rule 3: `Close` is returned exactly once, then `Wait(None)` forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ending {
    state: State,
}

impl Ending {
    /// Decide to close; the next [`Ending::poll`] returns `Close`. Idempotent.
    pub fn close(&mut self) {
        if self.state == State::Open {
            self.state = State::Closing;
        }
    }

    /// Neither closing nor closed: input and commands still count.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// `Close` was handed out; nothing more is written or returned.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// `Some(Close)` once after [`Ending::close`], `Some(Wait(None))` ever after, and
    /// `None` while the machine is open (its own output decides).
    pub fn poll<E>(&mut self) -> Option<Output<E>> {
        match self.state {
            State::Open => None,
            State::Closing => {
                self.state = State::Closed;
                Some(Output::Close)
            }
            State::Closed => Some(Output::Wait(None)),
        }
    }
}

/// Rule 5: a command that answers nothing outstanding is dropped, and said so at
/// `debug` (a late answer after a timeout is normal; a wrong kind is a driver bug).
pub fn stray(machine: &str) {
    tracing::debug!(machine, "a command nobody asked for was ignored");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_once_then_wait() {
        let mut e = Ending::default();
        assert!(e.poll::<()>().is_none());
        e.close();
        e.close();
        assert!(!e.is_open());
        assert_eq!(e.poll::<()>(), Some(Output::Close));
        assert!(e.is_closed());
        assert_eq!(e.poll::<()>(), Some(Output::Wait(None)));
        e.close();
        assert_eq!(e.poll::<()>(), Some(Output::Wait(None)));
    }

    #[test]
    fn time_keeps_the_latest() {
        let mut c = Clock::new(Instant::from_secs(10));
        assert_eq!(c.see(Instant::from_secs(5)), Instant::from_secs(10));
        assert_eq!(c.see(Instant::from_secs(12)), Instant::from_secs(12));
        assert_eq!(c.now(), Instant::from_secs(12));
    }
}
