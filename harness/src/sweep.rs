//! Randomized offices for the seed sweep: each seed draws a configuration (links,
//! schedules, modifiers, hooks), a local clock with DST and third-party jumps, peers
//! with faults, and a stream of traffic; the office runs with the invariants checked
//! after every event, and a second run of the same seed must give the same trace hash.
//! Alongside the office, each seed runs an outbound world ([`crate::outbound`]): the
//! real queue and SMTP client against random relays, MX hosts and DNS faults.

use crate::localtime::{utc, LocalClock};
use crate::office::{DialOutcome, LinkSpec, Office, OfficeSpec, PushMode, Traffic, UpstreamPolicy};
use crate::outbound::random::random_out_spec;
use crate::outbound::{OutStats, OutWorld};
use crate::rng::Rng;
use crate::wire::Faults;
use mailroom_core::config::parse_config;
use mailroom_core::schedule::Target;
use mailroom_core::Instant;
use std::fmt::Write as _;
use std::time::Duration;

/// What one seed did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seed: u64,
    pub hash: u64,
    pub events: u64,
    pub runs: usize,
    pub out: OutStats,
    pub violations: Vec<String>,
}

fn pick<'a>(r: &mut Rng, v: &[&'a str]) -> &'a str {
    r.pick(v).copied().unwrap_or("")
}

fn hhmm(mins: u64) -> String {
    format!("{:02}:{:02}", mins / 60 % 24, mins % 60)
}

/// The configuration text of a random office.
fn config_text(r: &mut Rng) -> (String, bool, bool) {
    let mut t = String::from(
        "hostname = \"mail.office.example\"\ndefault_domain = \"office.example\"\nlocal_domains = [\"office.example\"]\n[services]\nsmtp = []\npop3 = []\nimap = []\nhttp = []\n",
    );
    let dialup = r.chance(0.8);
    let autoconnect = dialup && r.chance(0.2);
    let smtp_in = r.chance(0.6);
    let _ = write!(t, "\n[[connection]]\nname = \"isp\"\n");
    if dialup {
        let _ = write!(
            t,
            "link = \"command\"\nup = \"pon isp\"\ndown = \"poff isp\"\ndial_retries = {}\nretry_interval = \"{}s\"\ndial_timeout = \"{}s\"\nidle_hangup = \"{}\"\nmax_online = \"{}m\"\n",
            r.range(0, 3),
            r.range(10, 180),
            r.range(20, 120),
            pick(r, &["0s", "0s", "2m", "10m"]),
            r.range(15, 60),
        );
        if autoconnect {
            let _ = write!(
                t,
                "check = \"ip link show ppp0\"\nautoconnect = true\nautoconnect_once = {}\nautoconnect_every = \"{}m\"\n",
                r.chance(0.5),
                r.range(1, 10)
            );
        }
    } else {
        t.push_str("link = \"lan\"\n");
    }
    let _ = write!(
        t,
        "[connection.outmail]\nmethod = \"{}\"\nrelays = [\"relay.isp.example:25\"]\n",
        pick(r, &["relay", "direct"])
    );
    if smtp_in {
        let _ = write!(t, "[connection.smtp_in]\nwait = \"{}s\"\n", r.range(0, 120));
        if r.chance(0.5) {
            t.push_str("etrn = [\"office.example\"]\n");
        }
    }
    if r.chance(0.3) {
        let _ = write!(
            t,
            "\n[[connection]]\nname = \"backup\"\nlink = \"command\"\nup = \"pon backup\"\ndown = \"poff backup\"\nprimary = {}\n",
            r.chance(0.5)
        );
    }
    for i in 0..r.range(0, 3) {
        let _ = write!(t, "\n[[schedule]]\nname = \"s{i}\"\n");
        let days = pick(
            r,
            &[
                "",
                "\"weekdays\"",
                "\"weekend\"",
                "\"mon\", \"thu\"",
                "\"daily\"",
            ],
        );
        if !days.is_empty() {
            let _ = writeln!(t, "days = [{days}]");
        }
        if r.chance(0.5) {
            let times: Vec<String> = (0..r.range(1, 4))
                .map(|_| format!("\"{}\"", hhmm(r.range(0, 1439))))
                .collect();
            let _ = writeln!(t, "at = [{}]", times.join(", "));
        } else {
            let from = r.range(0, 1200);
            let to = r.range(from + 1, 1439);
            let _ = writeln!(
                t,
                "every = \"{}m\"\nfrom = \"{}\"\nto = \"{}\"",
                r.range(10, 180),
                hhmm(from),
                hhmm(to)
            );
        }
    }
    let _ = write!(
        t,
        "\n[connect]\nsend_while_online = {}\nskip_if_connected_within = \"{}\"\nusers_checked = {}\nusers_checked_within = \"{}m\"\nclock_change = \"{}\"\npriority_connect = {}\n",
        r.chance(0.7),
        pick(r, &["0s", "0s", "15m", "1h"]),
        pick(r, &["0", "0", "2", "3"]),
        r.range(0, 30),
        pick(r, &["next", "check"]),
        r.chance(0.5),
    );
    if r.chance(0.4) {
        t.push_str("post_connect = \"/bin/true\"\npre_disconnect = \"/bin/true\"\n");
    }
    (t, dialup, smtp_in)
}

/// A random office for `seed`, running `days` of virtual time.
pub fn random_spec(seed: u64, days: u64) -> OfficeSpec {
    let root = Rng::new(seed);
    let mut r = root.fork("config");
    let (text, _dialup, _smtp_in) = config_text(&mut r);
    let config = match parse_config(&text) {
        Ok(c) => c,
        // The generator must only write valid configurations.
        Err(e) => panic!("seed {seed}: generated config does not parse: {e:?}\n{text}"),
    };
    let n = config.connections.len();
    let start = match r.below(3) {
        0 => utc(2026, 3, 26, 0, 0),
        1 => utc(2026, 10, 22, 0, 0),
        _ => utc(
            2026,
            1 + r.range(0, 11) as u32,
            1 + r.range(0, 27) as u32,
            0,
            0,
        ),
    };
    let end = start + Duration::from_secs(days * 86_400);
    let mut spec = OfficeSpec::new(config, start);
    spec.seed = seed;
    spec.keep_trace = false;
    spec.clock = if r.chance(0.6) {
        LocalClock::central_europe_2026()
    } else {
        LocalClock::fixed(r.range(0, 12) as i64 * 3600 - 5 * 3600)
    };
    for _ in 0..r.range(0, 3) {
        let at = start + Duration::from_secs(r.range(0, days * 86_400));
        let by = if r.chance(0.5) {
            r.range(3, 90) as i64
        } else {
            r.range(60, 7200) as i64
        };
        spec.clock.jump(at, if r.chance(0.5) { by } else { -by });
    }
    let mut lr = root.fork("links");
    spec.links = (0..n)
        .map(|_| {
            let lo = lr.range(1, 30);
            let mut l = LinkSpec {
                dial_secs: (lo, lo + lr.range(0, 30)),
                fail: lr.range(0, 40) as f64 / 100.0,
                hang: lr.range(0, 10) as f64 / 100.0,
                script: Vec::new(),
                drop_per_hour: lr.range(0, 50) as f64 / 100.0,
                external: Vec::new(),
            };
            if lr.chance(0.2) {
                l.script.push(DialOutcome::Hang);
            }
            for _ in 0..lr.range(0, 4) {
                let a = start + Duration::from_secs(lr.range(0, days * 86_400));
                l.external
                    .push((a, a + Duration::from_secs(lr.range(60, 4 * 3600))));
            }
            l
        })
        .collect();
    let mut pr = root.fork("peers");
    spec.push = match pr.below(3) {
        0 => PushMode::ConnectIn(pr.range(1, 150)),
        1 => PushMode::OnEtrn(pr.range(1, 60)),
        _ => PushMode::Never,
    };
    spec.upstream = match pr.below(3) {
        0 => UpstreamPolicy::Accept,
        1 => UpstreamPolicy::Greylist(pr.range(60, 3600)),
        _ => UpstreamPolicy::TempFailUntil(start + Duration::from_secs(pr.range(0, days * 86_400))),
    };
    let lat = pr.range(1_000, 500_000);
    spec.faults = Faults {
        latency: (lat, lat + pr.range(0, 1_500_000)),
        split: pr.chance(0.7),
        reset: pr.range(0, 20) as f64 / 1000.0,
        refuse: pr.range(0, 10) as f64 / 100.0,
    };
    spec.dns_fail = pr.range(0, 20) as f64 / 100.0;
    spec.pop3_secs = (1, pr.range(1, 20));
    spec.hook_secs = pr.range(0, 5);
    if pr.chance(0.6) {
        spec.in_mails = vec![("box".into(), Vec::new())];
    }
    let mut tr = root.fork("traffic");
    let secs = days * 86_400;
    let add = |t: &mut Vec<(Instant, Traffic)>,
               per_day: u64,
               f: &dyn Fn(&mut Rng) -> Traffic,
               tr: &mut Rng| {
        for _ in 0..tr.range(0, per_day * days) {
            let at = start + Duration::from_secs(tr.range(0, secs));
            let item = f(tr);
            t.push((at, item));
        }
    };
    let mut traffic = Vec::new();
    add(
        &mut traffic,
        30,
        &|r| Traffic::Outgoing {
            priority: r.chance(0.05),
        },
        &mut tr,
    );
    add(&mut traffic, 20, &|_| Traffic::AtRelay, &mut tr);
    add(&mut traffic, 20, &|_| Traffic::AtPop3, &mut tr);
    add(
        &mut traffic,
        10,
        &|r| Traffic::UserChecks(format!("user{}", r.below(4))),
        &mut tr,
    );
    add(
        &mut traffic,
        3,
        &|r| match r.below(4) {
            0 => Traffic::Connect(Target::All),
            1 => Traffic::Connect(Target::Named("isp".into())),
            2 => Traffic::Connect(Target::Named("nowhere".into())),
            _ => Traffic::Connect(Target::Primary),
        },
        &mut tr,
    );
    traffic.sort_by_key(|t| t.0);
    spec.traffic = traffic;
    let _ = end;
    spec
}

/// The outbound world of `seed`, run for `days` from `start`.
pub fn run_outbound(seed: u64, start: Instant, days: u64, keep_trace: bool) -> OutWorld {
    let mut spec = random_out_spec(seed, start, days);
    spec.keep_trace = keep_trace;
    let mut w = OutWorld::new(spec);
    w.run_until(start + Duration::from_secs(days * 86_400));
    w.final_checks();
    w
}

/// Run one seed for `days` of virtual time: the office, then its outbound world.
pub fn run_seed(seed: u64, days: u64) -> Outcome {
    let spec = random_spec(seed, days);
    let start = spec.start;
    let end = start + Duration::from_secs(days * 86_400);
    let mut o = Office::new(spec);
    o.run_until(end);
    o.final_checks();
    let w = run_outbound(seed, start, days, false);
    let mut violations = o.violations.clone();
    violations.extend(w.violations.iter().cloned());
    Outcome {
        seed,
        hash: o.trace.hash() ^ w.trace.hash().rotate_left(1),
        events: o.events + w.events_run,
        runs: o.log.runs.len(),
        out: w.stats,
        violations,
    }
}

/// Run one seed twice; a different trace hash is a determinism failure.
pub fn check_seed(seed: u64, days: u64) -> Outcome {
    let mut a = run_seed(seed, days);
    let b = run_seed(seed, days);
    if a.hash != b.hash || a.events != b.events {
        a.violations.push(format!(
            "seed {seed}: two runs differ (trace hash {:016x} vs {:016x})",
            a.hash, b.hash
        ));
    }
    a
}
