//! Generating and serializing events in memory on one core: the generator
//! must outrun any engine it feeds (target: 2 million events/s).

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use streambench_workloads::event::EventKind;
use streambench_workloads::generator::{Generator, OutOfOrder, WorkloadSpec};

const EVENTS: u64 = 100_000;

fn generate_and_serialize(c: &mut Criterion) {
    let spec = WorkloadSpec {
        events: Some(EVENTS),
        out_of_order: OutOfOrder {
            fraction: 0.1,
            max_delay_ms: 4000,
            ..OutOfOrder::default()
        },
        ..WorkloadSpec::default()
    };
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Elements(EVENTS));
    for kind in [EventKind::Measurement, EventKind::Ad] {
        let generator = Generator::new(spec.clone(), kind, 1_700_000_000_000).expect("valid spec");
        group.bench_function(format!("{kind:?}"), |b| {
            let mut buf = Vec::with_capacity(256);
            b.iter(|| {
                let mut bytes = 0;
                for i in 0..EVENTS {
                    generator.write_record(i, &mut buf);
                    bytes += buf.len();
                }
                black_box(bytes)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, generate_and_serialize);
criterion_main!(benches);
