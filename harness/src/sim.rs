//! The discrete-event core: a heap of `(Instant, seq, event)` and a trace whose hash
//! proves two runs of one seed did the same thing.

use crate::rng::fnv;
use mailroom_core::Instant;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    at: Instant,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and the earliest event must come first; `seq`
    // breaks ties in insertion order, which keeps runs deterministic.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Future events in time order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at: Instant, event: E) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
    }

    pub fn pop(&mut self) -> Option<(Instant, E)> {
        self.heap.pop().map(|e| (e.at, e.event))
    }

    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// A simulated world: events in time order on a virtual clock, its invariants checked
/// after each (the office, the outbound world).
pub(crate) trait World {
    type Event;
    fn queue(&mut self) -> &mut EventQueue<Self::Event>;
    fn clock(&mut self) -> &mut Instant;
    /// Handle one event at the current time, then check the invariants.
    fn run_event(&mut self, ev: Self::Event);
    /// Too many events at one instant: report it (the run stops).
    fn storm(&mut self);
    /// The reading of the world's clocks at virtual time `t` (a world whose wall
    /// clock jumps moves only the wall reading).
    fn stamp(&self, t: Instant) -> Instant {
        t
    }
}

/// Run `w`'s events until `until` (inclusive); the clock ends at `until`.
pub(crate) fn run_until<W: World>(w: &mut W, until: Instant) {
    let mut same_instant = 0u32;
    while let Some(t) = w.queue().peek_time() {
        if t > until {
            break;
        }
        let Some((t, ev)) = w.queue().pop() else {
            break;
        };
        let now = *w.clock();
        if t <= now {
            same_instant += 1;
            // Virtual time must move: a machine that keeps asking to be woken "now"
            // is spinning, a bug the real runtimes would burn a core on.
            if same_instant > 100_000 {
                w.storm();
                return;
            }
        } else {
            same_instant = 0;
        }
        let next = w.stamp(now.max(t));
        *w.clock() = next;
        w.run_event(ev);
    }
    let end = (*w.clock()).max(until);
    let next = w.stamp(end);
    *w.clock() = next;
}

/// What happened, as text lines folded into a hash (and kept, when asked).
#[derive(Debug, Clone)]
pub struct Trace {
    hash: u64,
    count: u64,
    keep: bool,
    lines: Vec<String>,
}

impl Trace {
    pub fn new(keep: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            count: 0,
            keep,
            lines: Vec::new(),
        }
    }

    pub fn record(&mut self, at: Instant, line: &str) {
        let text = format!("{:>12.3} {line}", at.mono_micros() as f64 / 1e6);
        self.hash = fnv(&[self.hash.to_le_bytes().as_slice(), text.as_bytes()].concat());
        self.count += 1;
        if self.keep {
            self.lines.push(text);
        }
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}
