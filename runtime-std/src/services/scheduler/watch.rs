//! Noticing a link that drops by itself: while a `command` link is in use, its `check`
//! command runs every [`WATCH_EVERY`]; a failure tells the scheduler `LinkLost` (so a
//! run ends and the next connection dials again instead of waiting on a dead link).
//! Links without a `check` command cannot be watched.

use mailroom_core::config::{Config, LinkKind};
use mailroom_core::schedule::ConnId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often the `check` command of a link in use runs.
pub const WATCH_EVERY: Duration = Duration::from_secs(5);

/// One check to run now: its answer goes to [`LinkWatch::answer`] with `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub conn: ConnId,
    pub generation: u64,
    pub command: String,
    pub name: String,
}

struct Watched {
    command: String,
    name: String,
    next: Instant,
    generation: u64,
    busy: bool,
}

/// The links being watched.
#[derive(Default)]
pub struct LinkWatch {
    links: BTreeMap<ConnId, Watched>,
    generation: u64,
}

impl LinkWatch {
    /// Connection `conn` is online: watch it if it is a command link with a check.
    pub fn online(&mut self, conn: ConnId, config: &Config, now: Instant) {
        let Some(c) = config.connections.get(conn) else {
            return;
        };
        let Some(command) = c.check.clone().filter(|_| c.link == LinkKind::Command) else {
            return;
        };
        self.generation += 1;
        self.links.insert(
            conn,
            Watched {
                command,
                name: c.name.clone(),
                next: now + WATCH_EVERY,
                generation: self.generation,
                busy: false,
            },
        );
    }

    pub fn offline(&mut self, conn: ConnId) {
        self.links.remove(&conn);
    }

    /// The checks due at `now` (each marked as running).
    pub fn due(&mut self, now: Instant) -> Vec<Check> {
        let mut out = Vec::new();
        for (conn, w) in self.links.iter_mut() {
            if !w.busy && now >= w.next {
                w.busy = true;
                out.push(Check {
                    conn: *conn,
                    generation: w.generation,
                    command: w.command.clone(),
                    name: w.name.clone(),
                });
            }
        }
        out
    }

    /// A check ended; `true` when the scheduler must hear that the link is gone (it
    /// failed, and the link is still the same online session).
    pub fn answer(&mut self, conn: ConnId, generation: u64, up: bool, now: Instant) -> bool {
        let Some(w) = self.links.get_mut(&conn) else {
            return false;
        };
        if w.generation != generation {
            return false;
        }
        w.busy = false;
        w.next = now + WATCH_EVERY;
        if !up {
            self.links.remove(&conn);
        }
        !up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::config::parse_config;

    fn config() -> Config {
        parse_config(
            "hostname = \"h\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n\
             [[connection]]\nname = \"isp\"\nlink = \"command\"\nup = \"true\"\ndown = \"true\"\ncheck = \"true\"\n\
             [[connection]]\nname = \"lan\"\n",
        )
        .unwrap()
    }

    #[test]
    fn watches_command_links_with_a_check_and_reports_a_drop_once() {
        let cfg = config();
        let t0 = Instant::now();
        let mut w = LinkWatch::default();
        w.online(0, &cfg, t0);
        w.online(1, &cfg, t0);
        assert!(w.due(t0).is_empty());
        let due = w.due(t0 + WATCH_EVERY);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].conn, 0);
        // While it runs it is not started again.
        assert!(w.due(t0 + WATCH_EVERY * 2).is_empty());
        assert!(!w.answer(0, due[0].generation, true, t0 + WATCH_EVERY));
        let again = w.due(t0 + WATCH_EVERY * 2);
        assert_eq!(again.len(), 1);
        assert!(w.answer(0, again[0].generation, false, t0 + WATCH_EVERY * 2));
        assert!(w.due(t0 + WATCH_EVERY * 10).is_empty());
    }

    #[test]
    fn an_answer_from_an_earlier_online_session_is_ignored() {
        let cfg = config();
        let t0 = Instant::now();
        let mut w = LinkWatch::default();
        w.online(0, &cfg, t0);
        let old = w.due(t0 + WATCH_EVERY);
        w.offline(0);
        w.online(0, &cfg, t0 + WATCH_EVERY);
        assert!(!w.answer(0, old[0].generation, false, t0 + WATCH_EVERY));
    }
}
