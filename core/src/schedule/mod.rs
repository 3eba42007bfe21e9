//! The connection scheduler: when to go online, what to run there, when to hang up.
//!
//! A service-level machine with the usual shape (docs/ARCHITECTURE.md "The machine
//! contract"): the driver feeds it time and [`SchedulerCommand`]s (link results, queue and user
//! events, triggers) and drains [`Action`]s (dial, hang up, run Out Mail, run In Mail,
//! send ETRN, run a hook, tell the administrator) until it answers
//! [`Output::Wait`](crate::Output::Wait) with the next moment it needs to be woken.
//!
//! Time comes in two forms. `now` is the driver's monotonic [`Instant`]; every timer
//! (retry interval, dial timeout, waits, idle hang-up) runs on it. Schedules are in
//! local wall time, which the driver reports with [`SchedulerCommand::Clock`] at every wake-up:
//! the local time at `now` and, if known, when the UTC offset next changes (a DST
//! transition). A change in the distance between the two clocks is a clock change,
//! whether a DST jump or someone setting the clock, and §6.5.1's rule decides what
//! happens to scheduled times it jumps over. docs/SCHEDULE.md has the whole model.

pub mod clock;
pub mod priority;
pub mod rules;
mod scheduler;

pub use scheduler::Scheduler;

/// The next moment any schedule runs a connection after `local_now` (local time
/// stamps in microseconds, as `clock` counts them); `None` when nothing is scheduled.
/// Mailer_Daemon's Status answer tells it (§17.10).
pub fn next_scheduled(cfg: &crate::config::Config, local_now: i64) -> Option<i64> {
    Setup::from_config(cfg, &[])
        .rules
        .iter()
        .filter(|r| !r.connections.is_empty())
        .filter_map(|r| r.next_after(local_now))
        .min()
}

use crate::config::{ClockChange, Config, LinkKind};
use crate::Instant;
use rules::Rule;
use std::time::Duration;

/// Index of a connection in [`Setup::connections`] (0-based; its number for hooks is
/// `index + 1`).
pub type ConnId = usize;

/// Serial number of a run, so late answers from an ended run are recognised.
pub type RunId = u64;

/// Everything the scheduler needs from the configuration, resolved once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub connections: Vec<ConnSetup>,
    pub rules: Vec<Rule>,
    pub send_while_online: bool,
    pub skip_if_connected_within: Duration,
    pub users_checked: u32,
    pub users_checked_within: Duration,
    pub clock_change: ClockChange,
    pub post_connect: bool,
    pub pre_disconnect: bool,
    pub failed_dials_notice: u32,
    pub priority_connect: bool,
}

/// One connection, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSetup {
    pub name: String,
    /// `false`: a LAN link, always up.
    pub command_link: bool,
    pub primary: bool,
    /// The link has a `check` command.
    pub has_check: bool,
    pub dial_retries: u32,
    pub retry_interval: Duration,
    pub dial_timeout: Duration,
    /// Connections whose links, when up, this one uses instead of dialling.
    pub alternatives: Vec<ConnId>,
    pub autoconnect: bool,
    pub autoconnect_once: bool,
    pub autoconnect_every: Duration,
    pub idle_hangup: Duration,
    pub max_online: Duration,
    /// It has an Out Mail.
    pub sends: bool,
    /// The In Mails collected over it.
    pub in_mails: Vec<String>,
    pub smtp_in: Option<SmtpInSetup>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpInSetup {
    pub wait: Duration,
    pub etrn: Vec<String>,
    /// `host:port` for the ETRN (already defaulted to the first relay).
    pub etrn_host: Option<String>,
}

impl ConnSetup {
    /// A LAN connection with defaults, for tests and code-built setups.
    pub fn lan(name: &str) -> ConnSetup {
        Self::from_config(&crate::config::Connection::new(name, LinkKind::Lan), &[])
    }

    /// A command-link connection with defaults.
    pub fn dialup(name: &str) -> ConnSetup {
        Self::from_config(
            &crate::config::Connection::new(name, LinkKind::Command),
            &[],
        )
    }

    fn from_config(c: &crate::config::Connection, alternatives: &[ConnId]) -> ConnSetup {
        ConnSetup {
            name: c.name.trim().to_string(),
            command_link: c.link == LinkKind::Command,
            primary: c.primary,
            has_check: c.check.is_some(),
            dial_retries: c.dial_retries,
            retry_interval: c.retry_interval.0,
            dial_timeout: c.dial_timeout.0,
            alternatives: alternatives.to_vec(),
            autoconnect: c.autoconnect,
            autoconnect_once: c.autoconnect_once,
            autoconnect_every: c.autoconnect_every.0,
            idle_hangup: c.idle_hangup.0,
            max_online: c.max_online.0,
            sends: c.outmail.is_some(),
            in_mails: Vec::new(),
            smtp_in: c.smtp_in.as_ref().map(|s| SmtpInSetup {
                wait: s.wait.0,
                etrn: s.etrn.clone(),
                etrn_host: s
                    .etrn_host
                    .clone()
                    .or_else(|| c.outmail.as_ref().and_then(|o| o.relays.first().cloned())),
            }),
        }
    }
}

impl Setup {
    /// Resolve a validated configuration. `in_mails` lists each In Mail's name and the
    /// connections (by name) it is collected over; an empty list means the primary ones.
    pub fn from_config(cfg: &Config, in_mails: &[(String, Vec<String>)]) -> Setup {
        let index = |n: &str| {
            cfg.connections
                .iter()
                .position(|c| c.name.trim().eq_ignore_ascii_case(n.trim()))
        };
        let mut connections: Vec<ConnSetup> = cfg
            .connections
            .iter()
            .map(|c| {
                let alts: Vec<ConnId> = c.alternatives.iter().filter_map(|a| index(a)).collect();
                ConnSetup::from_config(c, &alts)
            })
            .collect();
        let primary: Vec<ConnId> = (0..connections.len())
            .filter(|&i| connections[i].primary)
            .collect();
        for (name, conns) in in_mails {
            let ids: Vec<ConnId> = if conns.is_empty() {
                primary.clone()
            } else {
                conns.iter().filter_map(|n| index(n)).collect()
            };
            for id in ids {
                connections[id].in_mails.push(name.clone());
            }
        }
        let rules = cfg
            .schedules
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Rule::new(i, s, index, &primary))
            .collect();
        let o = &cfg.connect;
        Setup {
            connections,
            rules,
            send_while_online: o.send_while_online,
            skip_if_connected_within: o.skip_if_connected_within.0,
            users_checked: o.users_checked,
            users_checked_within: o.users_checked_within.0,
            clock_change: o.clock_change,
            post_connect: o.post_connect.is_some(),
            pre_disconnect: o.pre_disconnect.is_some(),
            failed_dials_notice: o.failed_dials_notice,
            priority_connect: o.priority_connect,
        }
    }

    /// A setup with these connections, no schedules and default modifiers.
    pub fn with_connections(connections: Vec<ConnSetup>) -> Setup {
        let d = crate::config::ConnectOptions::default();
        Setup {
            connections,
            rules: Vec::new(),
            send_while_online: d.send_while_online,
            skip_if_connected_within: d.skip_if_connected_within.0,
            users_checked: d.users_checked,
            users_checked_within: d.users_checked_within.0,
            clock_change: d.clock_change,
            post_connect: false,
            pre_disconnect: false,
            failed_dials_notice: d.failed_dials_notice,
            priority_connect: d.priority_connect,
        }
    }
}

/// Which connections a trigger runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    Primary,
    Named(String),
}

impl Target {
    /// `all`, `primary`, or a connection name.
    pub fn parse(s: &str) -> Target {
        match s.trim() {
            t if t.eq_ignore_ascii_case("all") => Target::All,
            t if t.eq_ignore_ascii_case("primary") || t.is_empty() => Target::Primary,
            t => Target::Named(t.to_string()),
        }
    }
}

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    PostConnect,
    PreDisconnect,
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunKind {
    /// Send only (§6.5.1: outgoing mail arrived while online).
    Send,
    /// Send, collect, ETRN, wait for incoming SMTP.
    Full,
}

/// Why a run started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A schedule's slot (its label).
    Schedule(String),
    /// Several schedule slots at once (a late wake-up, or a clock jump with `check`).
    ClockCatchUp,
    /// `mailroom connect`, CONNECT.NOW, the admin button.
    Manual,
    /// An urgent message was queued (§16.1.1).
    Priority,
    /// Outgoing mail was queued while online (§6.5.1).
    Queued,
    /// Enough different users checked their mail (§6.5.1).
    UsersChecked,
    /// The link was found up (§6.2.3).
    AutoConnect,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Every dial attempt failed; the last reason.
    DialFailed(String),
    /// `max_online` passed before the work finished.
    TimedOut,
    /// The link went down before the run could start its work.
    LinkLost,
}

/// What the driver tells the scheduler. Answers name the run they belong to; answers
/// for a run that has ended are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerCommand {
    /// The local wall time at `now` (microseconds since 1970-01-01 00:00 local time)
    /// and, if known, when the UTC offset next changes. Send it at every wake-up.
    Clock {
        local: i64,
        next_change: Option<Instant>,
    },
    /// Run connections now; `request` comes back in [`Action::RunStarted`] and
    /// [`Action::RunFinished`] so the asker can follow progress.
    ConnectNow {
        target: Target,
        request: u64,
    },
    /// A message was put in the outbound queue.
    MessageQueued {
        priority: bool,
    },
    /// A user checked their mail (POP3/IMAP login).
    UserCheckedMail {
        user: String,
    },
    /// An incoming SMTP session started / ended.
    InboundStarted,
    InboundEnded,
    /// Answer to [`Action::CheckLink`]: which of the checked links is up, if any.
    LinkChecked {
        conn: ConnId,
        up: Option<ConnId>,
    },
    /// Answer to [`Action::Dial`].
    DialResult {
        conn: ConnId,
        attempt: u32,
        result: Result<(), String>,
    },
    /// The link went down by itself.
    LinkLost {
        conn: ConnId,
    },
    HookDone {
        conn: ConnId,
        hook: Hook,
    },
    EtrnDone {
        conn: ConnId,
        run: RunId,
        result: Result<(), String>,
    },
    OutMailDone {
        conn: ConnId,
        run: RunId,
    },
    InMailDone {
        conn: ConnId,
        run: RunId,
        in_mail: String,
    },
}

/// What the scheduler asks of the driver (`Event` in the machine contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the `check` commands of these connections' links (the first is the
    /// connection's own when it has one); answer with [`SchedulerCommand::LinkChecked`].
    CheckLink { conn: ConnId, links: Vec<ConnId> },
    /// Run the `up` command; answer with [`SchedulerCommand::DialResult`].
    Dial { conn: ConnId, attempt: u32 },
    /// The dial took too long: stop the `up` command and run `down`.
    CancelDial { conn: ConnId, attempt: u32 },
    /// Run the `down` command.
    HangUp { conn: ConnId },
    /// Run a hook with `CONNECTION = conn + 1`; answer with [`SchedulerCommand::HookDone`].
    RunHook { conn: ConnId, hook: Hook },
    /// Send `ETRN <domain>` for each domain to `host`; answer with
    /// [`SchedulerCommand::EtrnDone`].
    SendEtrn {
        conn: ConnId,
        run: RunId,
        host: String,
        domains: Vec<String>,
    },
    /// Send the queued mail over this connection; answer with [`SchedulerCommand::OutMailDone`].
    RunOutMail { conn: ConnId, run: RunId },
    /// Collect this In Mail; answer with [`SchedulerCommand::InMailDone`].
    RunInMail {
        conn: ConnId,
        run: RunId,
        in_mail: String,
    },
    /// Tell the main administrator that dialling keeps failing (§16.3).
    NotifyAdmin {
        conn: ConnId,
        failed_dials: u32,
        detail: String,
    },
    /// For logs and progress: no answer needed.
    RunStarted {
        conn: ConnId,
        run: RunId,
        kind: RunKind,
        reason: Reason,
        requests: Vec<u64>,
    },
    RunFinished {
        conn: ConnId,
        run: RunId,
        outcome: Outcome,
        requests: Vec<u64>,
    },
    /// The link is usable (`dialled`: this server brought it up).
    Online { conn: ConnId, dialled: bool },
    /// The link is no longer used (`hung_up`: a `HangUp` went with it).
    Offline { conn: ConnId, hung_up: bool },
    /// A scheduled time was passed over, and why.
    Skipped { conn: ConnId, why: String },
    /// The wall clock moved by this many seconds relative to the monotonic clock.
    ClockChanged { by_secs: i64, caught_up: bool },
    /// A `ConnectNow` named nothing that exists.
    Rejected { request: u64, why: String },
}

#[cfg(test)]
mod next_scheduled_tests {
    use super::clock::{DAY, SEC};
    use super::next_scheduled;

    #[test]
    fn the_next_slot_of_any_schedule() {
        let cfg = crate::config::parse_config(
            "hostname = \"h.example\"\ndefault_domain = \"example.com\"\n\
             local_domains = [\"example.com\"]\n\
             [[connection]]\nname = \"isp\"\nlink = \"lan\"\nprimary = true\n\
             [[schedule]]\nname = \"morning\"\nat = [\"09:00\", \"13:00\"]\n",
        )
        .unwrap();
        // Day 10 of the epoch (a Sunday: every day, as `days` is empty), 08:00.
        let day = 10 * DAY;
        assert_eq!(
            next_scheduled(&cfg, day + 8 * 3600 * SEC),
            Some(day + 9 * 3600 * SEC)
        );
        assert_eq!(
            next_scheduled(&cfg, day + 9 * 3600 * SEC),
            Some(day + 13 * 3600 * SEC)
        );
        assert_eq!(
            next_scheduled(&cfg, day + 14 * 3600 * SEC),
            Some(day + DAY + 9 * 3600 * SEC)
        );
        let none = crate::config::parse_config(
            "hostname = \"h.example\"\ndefault_domain = \"example.com\"\n\
             local_domains = [\"example.com\"]\n",
        )
        .unwrap();
        assert_eq!(next_scheduled(&none, day), None);
    }
}
