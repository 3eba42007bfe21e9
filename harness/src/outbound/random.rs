//! A random outbound world for a seed: the `[outbound]` policy, relay or direct
//! sending, relays and MX hosts with their faults (greylisting, 4xx for hours or days,
//! 5xx, down for a while, dropped connections), DNS faults, link faults, and a stream
//! of outgoing mail.

use super::dns_peer::{DnsFault, DnsPeer};
use super::smtp_peer::HostSpec;
use super::{OutMail, OutSpec};
use crate::rng::Rng;
use crate::wire::Faults;
use mailroom_core::config::{parse_config, Config};
use mailroom_core::Instant;
use std::fmt::Write as _;
use std::time::Duration;

pub const RELAYS: [&str; 2] = ["relay1.isp.example", "relay2.isp.example"];
/// Recipient domains with MX hosts; `nowhere.example` does not exist.
pub const DOMAINS: [&str; 4] = [
    "far0.example",
    "far1.example",
    "far2.example",
    "far3.example",
];
pub const NOWHERE: &str = "nowhere.example";

/// The `[outbound]` settings a world draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub direct: bool,
    pub retry: String,
    pub warnings: String,
    pub max_sessions: u64,
    pub per_destination: u64,
    pub dns_attempts: u64,
    /// Minutes between runs of a dial-up Out Mail (the scheduler's "run Out Mail");
    /// `None`: a LAN link, which sends by itself whenever something is due.
    pub run_every: Option<u64>,
}

impl Policy {
    /// The defaults (retry 15m, warnings always), sending through the relays.
    pub fn relay() -> Policy {
        Policy {
            direct: false,
            retry: "15m".into(),
            warnings: "always".into(),
            max_sessions: 10,
            per_destination: 2,
            dns_attempts: 2,
            run_every: None,
        }
    }

    pub fn direct() -> Policy {
        Policy {
            direct: true,
            ..Policy::relay()
        }
    }
}

/// The configuration of an office with one LAN-link connection whose Out Mail sends
/// through [`RELAYS`] (in that order) or direct to the MX hosts.
pub fn config(p: &Policy) -> Config {
    let text = config_text(p);
    match parse_config(&text) {
        Ok(c) => c,
        // The generator must only write valid configurations.
        Err(e) => panic!("generated outbound config does not parse: {e:?}\n{text}"),
    }
}

fn config_text(p: &Policy) -> String {
    let mut t = String::from(
        "hostname = \"mail.office.example\"\ndefault_domain = \"office.example\"\nlocal_domains = [\"office.example\"]\n[services]\nsmtp = []\npop3 = []\nimap = []\nhttp = []\n",
    );
    let _ = write!(
        t,
        "[outbound]\nretry = \"{}\"\nwarnings = \"{}\"\nmax_sessions = {}\nper_destination = {}\n[dns]\nservers = [\"10.53.0.1\"]\nattempts = {}\ntimeout = \"5s\"\n",
        p.retry, p.warnings, p.max_sessions, p.per_destination, p.dns_attempts,
    );
    let relays: Vec<String> = RELAYS.iter().map(|h| format!("\"{h}:25\"")).collect();
    let _ = write!(
        t,
        "\n[[connection]]\nname = \"out\"\n{}\n[connection.outmail]\nmethod = \"{}\"\nrelays = [{}]\ntls = \"off\"\n",
        match p.run_every {
            None => "link = \"lan\"",
            Some(_) => "link = \"command\"\nup = \"pon isp\"\ndown = \"poff isp\"",
        },
        if p.direct { "direct" } else { "relay" },
        relays.join(", ")
    );
    t
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn host(name: &str, r: &mut Rng, start: Instant, span: u64, down_chance: f64) -> HostSpec {
    let mut h = HostSpec::accepting(name);
    match r.below(10) {
        0..=4 => {}
        5 | 6 => h.greylist = Some(secs(r.range(60, 3600))),
        7 | 8 => h.temp_until = Some(start + secs(r.range(3600, span))),
        _ => h.reject = r.chance(0.4),
    }
    if r.chance(down_chance) {
        for _ in 0..r.range(1, 3) {
            let a = start + secs(r.range(0, span));
            h.down.push((a, a + secs(r.range(600, 2 * 86_400))));
        }
    }
    if r.chance(0.4) {
        h.drop_in_data = r.range(0, 10) as f64 / 100.0;
        h.drop_before_reply = r.range(0, 5) as f64 / 100.0;
        h.drop_after_reply = r.range(0, 10) as f64 / 100.0;
    }
    h.pipelining = r.chance(0.7);
    h
}

/// The outbound world of `seed`, for `days` of virtual time from `start`.
pub fn random_out_spec(seed: u64, start: Instant, days: u64) -> OutSpec {
    let root = Rng::new(seed).fork("outbound spec");
    let mut r = root.fork("config");
    let policy = Policy {
        direct: r.chance(0.5),
        retry: r
            .pick(&["15m", "15m", "30m", "1h"])
            .unwrap_or(&"15m")
            .to_string(),
        warnings: if r.chance(0.8) {
            "always"
        } else {
            r.pick(&["none", "once_per_domain_per_day"])
                .unwrap_or(&"none")
        }
        .to_string(),
        max_sessions: r.range(1, 10),
        per_destination: r.range(1, 3),
        dns_attempts: r.range(1, 3),
        run_every: r.chance(0.3).then(|| r.range(10, 120)),
    };
    let config = config(&policy);
    let span = days.max(1) * 86_400;
    let mut hr = root.fork("hosts");
    let mut hosts = vec![
        host(RELAYS[0], &mut hr, start, span, 0.6),
        host(RELAYS[1], &mut hr, start, span, 0.2),
    ];
    let mut dns = DnsPeer::default();
    let mut dr = root.fork("dns");
    for d in DOMAINS {
        let n = hr.range(1, 2);
        let mx: Vec<(u16, String)> = (1..=n)
            .map(|i| (i as u16 * 10, format!("mx{i}.{d}")))
            .collect();
        for (_, name) in &mx {
            hosts.push(host(name, &mut hr, start, span, 0.2));
        }
        dns.mx.insert(d.to_string(), mx);
        match dr.below(10) {
            0 | 1 => {
                let until = start + secs(dr.range(600, span));
                dns.faults.insert(d.to_string(), DnsFault::ServFail(until));
            }
            2 => {
                let until = start + secs(dr.range(600, span));
                dns.faults.insert(d.to_string(), DnsFault::Silent(until));
            }
            _ => {}
        }
    }
    dns.faults.insert(NOWHERE.to_string(), DnsFault::NxDomain);
    dns.loss = dr.range(0, 5) as f64 / 100.0;
    let mut fr = root.fork("faults");
    let lat = fr.range(1_000, 200_000);
    let faults = Faults {
        latency: (lat, lat + fr.range(0, 300_000)),
        split: fr.chance(0.7),
        reset: fr.range(0, 10) as f64 / 1000.0,
        refuse: fr.range(0, 5) as f64 / 100.0,
    };
    let mut mr = root.fork("mail");
    let per_day = mr.range(1, 10);
    let mut mails: Vec<(Instant, OutMail)> = (0..mr.range(0, per_day * days))
        .map(|_| {
            let at = start + secs(mr.range(0, span));
            let n = mr.range(1, 3);
            let mut recipients: Vec<String> = Vec::new();
            for _ in 0..n {
                let domain = if mr.chance(0.05) {
                    NOWHERE
                } else {
                    *mr.pick(&DOMAINS).unwrap_or(&DOMAINS[0])
                };
                let a = format!("user{}@{domain}", mr.below(5));
                if !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
            (at, OutMail { recipients })
        })
        .collect();
    mails.sort_by_key(|m| m.0);
    OutSpec {
        seed,
        start,
        config,
        hosts,
        dns,
        faults,
        mails,
        run_every: policy.run_every.map(|m| secs(m * 60)),
        keep_trace: false,
    }
}
