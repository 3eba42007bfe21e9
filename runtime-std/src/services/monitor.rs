//! The status monitor's feed (SVC-5): the parts of the server whose state a monitor
//! shows (the scheduler's connections and In Mail runs, the outbound queue) publish
//! each change here; every logged-in monitor session holds a [`Subscription`] and
//! its handler takes what arrived since its last look (core's `monitor` renders it).
//!
//! One process-wide hub, like `scheduler::online`: the publishers are the daemon's
//! single scheduler and outbound queue, and a CLI process never subscribes.

use mailroom_core::monitor::{Status, MAX_QUEUED_STATUS};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

#[derive(Default)]
struct Hub {
    online: BTreeSet<String>,
    collecting: BTreeSet<String>,
    sending: usize,
    queue: usize,
    /// When a connection last went online (Unix microseconds): Mailer_Daemon's
    /// Status answer tells it (§17.10).
    last_online: Option<i64>,
    next_id: u64,
    subscribers: HashMap<u64, Vec<Status>>,
}

static HUB: Mutex<Option<Hub>> = Mutex::new(None);

fn with_hub<T>(f: impl FnOnce(&mut Hub) -> T) -> T {
    let mut guard = HUB.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Hub::default))
}

/// When a connection of this server last went online (Unix microseconds); `None`
/// before the first since start (or in a process that runs no scheduler).
pub fn last_connection() -> Option<i64> {
    with_hub(|hub| hub.last_online)
}

/// Record a change and tell every monitor; a repeat of the current state is dropped
/// (the queue reports its size after every step).
pub fn publish(status: Status) {
    with_hub(|hub| {
        let changed = match &status {
            Status::Connection { name, online: true } => {
                let now = crate::platform::clock::unix_micros();
                hub.last_online = Some(i64::try_from(now).unwrap_or(i64::MAX));
                hub.online.insert(name.clone())
            }
            Status::Connection { name, .. } => hub.online.remove(name),
            Status::Collecting { name, active: true } => hub.collecting.insert(name.clone()),
            Status::Collecting { name, .. } => hub.collecting.remove(name),
            Status::Sending { sessions } => {
                std::mem::replace(&mut hub.sending, *sessions) != *sessions
            }
            Status::Queue { messages } => std::mem::replace(&mut hub.queue, *messages) != *messages,
        };
        if !changed || hub.subscribers.is_empty() {
            return;
        }
        for pending in hub.subscribers.values_mut() {
            // A monitor that stopped reading keeps the newest news only.
            if pending.len() >= MAX_QUEUED_STATUS {
                pending.remove(0);
            }
            pending.push(status.clone());
        }
    });
}

/// The state now, as the lines a monitor gets right after login.
fn current(hub: &Hub) -> Vec<Status> {
    let mut out: Vec<Status> = hub
        .online
        .iter()
        .map(|name| Status::Connection {
            name: name.clone(),
            online: true,
        })
        .collect();
    out.extend(hub.collecting.iter().map(|name| Status::Collecting {
        name: name.clone(),
        active: true,
    }));
    out.push(Status::Sending {
        sessions: hub.sending,
    });
    out.push(Status::Queue {
        messages: hub.queue,
    });
    out
}

/// One monitor session's place in the feed; leaves it when dropped.
pub struct Subscription {
    id: u64,
}

/// Join the feed; the first [`Subscription::take`] returns the state now.
pub fn subscribe() -> Subscription {
    with_hub(|hub| {
        let id = hub.next_id;
        hub.next_id += 1;
        let now = current(hub);
        hub.subscribers.insert(id, now);
        Subscription { id }
    })
}

impl Subscription {
    /// Everything published since the last take.
    pub fn take(&self) -> Vec<Status> {
        with_hub(|hub| {
            hub.subscribers
                .get_mut(&self.id)
                .map(std::mem::take)
                .unwrap_or_default()
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        with_hub(|hub| hub.subscribers.remove(&self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_sees_the_state_then_the_changes_once() {
        let sub = subscribe();
        let first = sub.take();
        assert!(first.iter().any(|s| matches!(s, Status::Queue { .. })));
        let conn = Status::Connection {
            name: "hub-test".into(),
            online: true,
        };
        publish(conn.clone());
        publish(conn.clone());
        // Other tests in this process may publish too; look at this test's only.
        let mine = |v: Vec<Status>| -> Vec<Status> {
            v.into_iter()
                .filter(|s| matches!(s, Status::Connection { name, .. } if name == "hub-test"))
                .collect()
        };
        assert_eq!(mine(sub.take()), vec![conn]);
        assert!(mine(sub.take()).is_empty());
        publish(Status::Connection {
            name: "hub-test".into(),
            online: false,
        });
        let again = subscribe();
        assert!(mine(again.take()).is_empty());
    }
}
