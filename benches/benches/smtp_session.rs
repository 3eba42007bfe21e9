//! The core SMTP session and its codec fed complete sessions in memory, with every
//! delivery answered at once: messages per second the protocol code can handle on one
//! core, with no sockets, TLS or disk. Run with `cargo bench -p mailroom-benches`.
#![allow(clippy::disallowed_methods)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mailroom_benches::message::{dot_stuff, message};
use mailroom_benches::session::{client_script, run_session, snapshot};

const SIZE: usize = 4096;

fn sessions(c: &mut Criterion) {
    let snap = snapshot();
    let data = dot_stuff(&message(SIZE, "bench"));
    let mut out = Vec::with_capacity(64 * 1024);

    let mut g = c.benchmark_group("smtp_session");
    for (name, per_session, auth) in [
        ("one_4k_message_per_session", 1usize, false),
        ("one_4k_message_per_session_auth_plain", 1, true),
        ("ten_4k_messages_per_session", 10, false),
    ] {
        let script = client_script(&data, per_session, auth);
        // Refuse to report a figure for a session that did not deliver.
        let check = run_session(&snap, &script, &mut out);
        assert_eq!(
            check.delivered,
            per_session,
            "{name}: {}",
            String::from_utf8_lossy(&check.replies)
        );
        g.throughput(Throughput::Elements(per_session as u64));
        g.bench_function(name, |b| {
            b.iter(|| black_box(run_session(&snap, black_box(&script), &mut out).delivered))
        });
    }
    g.finish();

    // The same bytes measured as a data rate: one session carrying a 1 MB message.
    let big = dot_stuff(&message(1 << 20, "bench-big"));
    let script = client_script(&big, 1, false);
    let mut g = c.benchmark_group("smtp_data");
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("one_1mb_message", |b| {
        b.iter(|| black_box(run_session(&snap, black_box(&script), &mut out).delivered))
    });
    g.finish();
}

criterion_group!(benches, sessions);
criterion_main!(benches);
