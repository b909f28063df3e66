//! The continuous engine's window operator alone, one core: events per
//! second for tumbling, sliding and session windows; and the pause a
//! checkpoint costs (copying the state) at a million open windows.

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use streambench_engines::continuous::operator::WindowOperator;
use streambench_workloads::window::{Keyed, WindowSpec};

const EVENTS: u64 = 200_000;
const KEYS: u64 = 1_000;

/// Events 0.1 ms apart over `KEYS` keys, every tenth up to 40 ms out of order.
fn events() -> Vec<Keyed> {
    (0..EVENTS)
        .map(|i| {
            let t = 1_700_000_000_000 + (i / 10) as i64;
            Keyed {
                event_id: i,
                key: (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % KEYS,
                event_time_ms: if i % 10 == 3 { t - 40 } else { t },
                value: (i % 1000) as i64,
                ..Keyed::default()
            }
        })
        .collect()
}

fn operator(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("window_operator");
    group.throughput(Throughput::Elements(EVENTS));
    for (name, spec) in [
        ("tumbling", WindowSpec::Tumbling { size_ms: 1_000 }),
        (
            "sliding",
            WindowSpec::Sliding {
                size_ms: 3_000,
                slide_ms: 1_000,
            },
        ),
        ("session", WindowSpec::Session { gap_ms: 50 }),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut operator = WindowOperator::new(spec, 0);
                let mut fired = Vec::new();
                for (i, event) in events.iter().enumerate() {
                    operator.process(event, &mut fired);
                    if i % 1_000 == 999 {
                        // The watermark every 1,000 events, 100 ms behind.
                        operator.advance(event.event_time_ms - 100, &mut fired);
                        fired.clear();
                    }
                }
                black_box(operator.len())
            })
        });
    }
    group.finish();
}

fn checkpoint_pause(c: &mut Criterion) {
    let mut operator = WindowOperator::new(WindowSpec::Tumbling { size_ms: 10_000 }, 0);
    let mut fired = Vec::new();
    for key in 0..1_000_000u64 {
        operator.process(
            &Keyed {
                event_id: key,
                key,
                event_time_ms: 1_700_000_000_000,
                value: 1,
                ..Keyed::default()
            },
            &mut fired,
        );
    }
    let mut group = c.benchmark_group("checkpoint_pause");
    group.sample_size(20);
    group.bench_function("snapshot_1m_open_windows", |b| {
        b.iter_batched(|| (), |_| black_box(operator.snapshot()), BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group!(benches, operator, checkpoint_pause);
criterion_main!(benches);
