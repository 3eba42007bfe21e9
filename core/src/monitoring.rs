//! Monitoring copies (LOG-3, manual §15.1): whether a delivered message is copied to
//! the monitoring mailbox, and to the random-sample mailbox, and the copy's text (the
//! subject marked, so mail clients can file copies apart).
//!
//! The runtime says what the message was ([`Facts`]) and rolls the dice (core has no
//! entropy); [`decide`] applies `[monitoring]`.

use crate::config::{MonitorMode, Monitoring};
use crate::router::headers::{fields, header_end};

/// What kind of mail a copy is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the Internet to local users.
    Incoming,
    /// From a local user to the Internet.
    Outgoing,
    /// From a local user to local users.
    Internal,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
            Direction::Internal => "internal",
        }
    }
}

/// A delivered message, as far as monitoring cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Sent by a local user (logged in, or from an address of a local account).
    pub from_local_user: bool,
    /// Came from outside (collected by POP3, or by SMTP from a non-local sender).
    pub from_internet: bool,
    /// Stored in at least one local mailbox.
    pub to_mailboxes: bool,
    /// Queued for the Internet.
    pub to_internet: bool,
    /// The sender's account or a recipient's has the `monitor` flag.
    pub selected: bool,
    pub size: u64,
}

/// Where the copies go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copies {
    pub direction: Direction,
    /// The monitor target, then the sample target when the sample took it.
    pub targets: Vec<String>,
}

/// The kinds `facts` is, first the one the copy is marked with.
pub fn directions(f: &Facts) -> Vec<Direction> {
    let mut out = Vec::new();
    if f.from_local_user && f.to_internet {
        out.push(Direction::Outgoing);
    }
    if f.from_local_user && f.to_mailboxes {
        out.push(Direction::Internal);
    }
    if f.from_internet && !f.from_local_user && f.to_mailboxes {
        out.push(Direction::Incoming);
    }
    out
}

/// The copies `cfg` asks for. `roll` is uniform in 0..100 (the runtime's entropy),
/// compared with `sample_percent`.
pub fn decide(cfg: &Monitoring, f: &Facts, roll: u8) -> Option<Copies> {
    if cfg.target.trim().is_empty() {
        return None;
    }
    if cfg.min_size_kb > 0 && f.size <= cfg.min_size_kb.saturating_mul(1024) {
        return None;
    }
    let direction = directions(f).into_iter().find(|d| {
        let mode = match d {
            Direction::Incoming => cfg.incoming,
            Direction::Outgoing => cfg.outgoing,
            Direction::Internal => cfg.internal,
        };
        match mode {
            MonitorMode::None => false,
            MonitorMode::All => true,
            MonitorMode::Selected => f.selected,
        }
    })?;
    let mut targets = vec![cfg.target.trim().to_ascii_lowercase()];
    let sample = cfg.sample_target.trim().to_ascii_lowercase();
    if !sample.is_empty() && roll < cfg.sample_percent.min(100) && !targets.contains(&sample) {
        targets.push(sample);
    }
    Some(Copies { direction, targets })
}

/// The copy's text: the first `Subject:` gets `[Monitored <direction>]` in front
/// (one is added when there is none); everything else is unchanged.
pub fn copy_text(data: &[u8], direction: Direction) -> Vec<u8> {
    let mark = format!("[Monitored {}]", direction.name());
    let end = header_end(data);
    let mut out = Vec::with_capacity(data.len() + mark.len() + 12);
    match fields(data, end)
        .into_iter()
        .find(|f| f.is(data, "subject"))
    {
        Some(f) => {
            let value = f.value(data);
            out.extend_from_slice(&data[..f.start]);
            out.extend_from_slice(b"Subject: ");
            out.extend_from_slice(mark.as_bytes());
            if !value.starts_with(b" ") && !value.starts_with(b"\t") {
                out.push(b' ');
            }
            out.extend_from_slice(value);
            out.extend_from_slice(&data[f.end..]);
        }
        None => {
            out.extend_from_slice(format!("Subject: {mark}\r\n").as_bytes());
            out.extend_from_slice(data);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(incoming: MonitorMode, outgoing: MonitorMode, internal: MonitorMode) -> Monitoring {
        Monitoring {
            incoming,
            outgoing,
            internal,
            ..Monitoring::default()
        }
    }

    const IN: Facts = Facts {
        from_local_user: false,
        from_internet: true,
        to_mailboxes: true,
        to_internet: false,
        selected: false,
        size: 5000,
    };
    const OUT: Facts = Facts {
        from_local_user: true,
        from_internet: false,
        to_mailboxes: false,
        to_internet: true,
        selected: false,
        size: 5000,
    };
    const LOCAL: Facts = Facts {
        from_local_user: true,
        from_internet: false,
        to_mailboxes: true,
        to_internet: false,
        selected: false,
        size: 5000,
    };

    #[test]
    fn all_none_and_selected_per_kind() {
        use MonitorMode::*;
        let c = cfg(All, None, Selected);
        assert_eq!(decide(&c, &IN, 99).unwrap().direction, Direction::Incoming);
        assert_eq!(decide(&c, &OUT, 0), Option::None);
        assert_eq!(decide(&c, &LOCAL, 0), Option::None);
        let selected = Facts {
            selected: true,
            ..LOCAL
        };
        let copies = decide(&c, &selected, 0).unwrap();
        assert_eq!(copies.direction, Direction::Internal);
        assert_eq!(copies.targets, vec!["monitor".to_string()]);
        // Mail from a local user to both sides is marked outgoing, yet copied for
        // "internal: all" too.
        let both = Facts {
            to_mailboxes: true,
            ..OUT
        };
        assert_eq!(
            directions(&both),
            vec![Direction::Outgoing, Direction::Internal]
        );
        let c = cfg(None, None, All);
        assert_eq!(decide(&c, &both, 0).unwrap().direction, Direction::Internal);
        // The server's own mail (no local sender, not from outside) is no kind.
        let server = Facts {
            from_local_user: false,
            from_internet: false,
            ..LOCAL
        };
        assert!(directions(&server).is_empty());
    }

    #[test]
    fn size_threshold_and_random_sample() {
        let c = Monitoring {
            incoming: MonitorMode::All,
            min_size_kb: 4,
            sample_percent: 25,
            sample_target: "Quality".into(),
            ..Monitoring::default()
        };
        let small = Facts { size: 4096, ..IN };
        assert_eq!(decide(&c, &small, 0), None);
        let big = Facts { size: 4097, ..IN };
        assert_eq!(
            decide(&c, &big, 24).unwrap().targets,
            ["monitor", "quality"]
        );
        assert_eq!(decide(&c, &big, 25).unwrap().targets, ["monitor"]);
        let none = Monitoring {
            target: " ".into(),
            ..c
        };
        assert_eq!(decide(&none, &big, 0), None);
    }

    #[test]
    fn the_copy_is_marked_in_its_subject() {
        let m = b"From: a@b\r\nSubject: Hello\r\n there\r\nTo: c@d\r\n\r\nSubject: body\r\n";
        assert_eq!(
            copy_text(m, Direction::Incoming),
            b"From: a@b\r\nSubject: [Monitored incoming] Hello\r\n there\r\nTo: c@d\r\n\r\nSubject: body\r\n"
        );
        let m = b"From: a@b\r\n\r\nbody\r\n";
        assert_eq!(
            copy_text(m, Direction::Outgoing),
            b"Subject: [Monitored outgoing]\r\nFrom: a@b\r\n\r\nbody\r\n"
        );
        let m = b"subject:x\r\n\r\n";
        assert_eq!(
            copy_text(m, Direction::Internal),
            b"Subject: [Monitored internal] x\r\n\r\n"
        );
    }
}
