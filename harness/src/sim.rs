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
