//! The seed sweep in miniature: random offices with invariants after every event, and
//! the run-twice determinism check (the full sweep is `mailroom-harness sweep`).

use mailroom_harness::outbound::OutStats;
use mailroom_harness::sweep::{check_seed, run_seed};

#[test]
fn forty_random_offices_keep_every_invariant() {
    let mut out = OutStats::default();
    for seed in 1..=40 {
        let o = check_seed(seed, 2);
        assert!(
            o.violations.is_empty(),
            "seed {seed} failed (rerun: cargo run -p mailroom-harness --release -- seed {seed} --days 2 --trace):\n{}",
            o.violations.join("\n")
        );
        out.add(&o.out);
    }
    // The outbound worlds met what they are there for: retries, warnings, bounces,
    // relay fail-over, and a repeat after a lost 250.
    assert!(out.delivered > 0, "{out:?}");
    assert!(out.retried > 0, "{out:?}");
    assert!(out.warned > 0, "{out:?}");
    assert!(out.bounced > 0, "{out:?}");
    assert!(out.failed_over > 0, "{out:?}");
    assert!(out.dns_queries > 0, "{out:?}");
}

#[test]
fn a_seed_replays_exactly_and_seeds_differ() {
    let a = run_seed(7, 3);
    let b = run_seed(7, 3);
    assert_eq!(a.hash, b.hash, "seed 7 is not deterministic");
    assert_eq!(a.events, b.events);
    assert!(
        a.events > 100,
        "the office did something: {} events",
        a.events
    );
    let c = run_seed(8, 3);
    assert_ne!(a.hash, c.hash);
}
