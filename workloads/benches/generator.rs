//! Generating and serializing events in memory on one core: the generator
//! must outrun any engine it feeds (target: 2 million events/s), for the
//! built-in kinds and for a declared ten-field schema alike.

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use streambench_workloads::event::EventKind;
use streambench_workloads::event_writer::EventWriter;
use streambench_workloads::generator::{Generator, OutOfOrder, WorkloadSpec};
use streambench_workloads::schema::EventSchema;

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

/// Card transactions: ten fields, one of each kind of draw a suite uses
/// most (sequence, the time, a pattern over the key, Zipf, normal money,
/// per-key categorical, weighted flags, a constant, uniform integers and
/// floats).
const CARDS: &str = r#"
time = "at"
kafka_key = "card"
fields = [
  { name = "id", type = "integer", draw = { kind = "sequence" } },
  { name = "at", type = "timestamp" },
  { name = "card", type = "string", draw = { kind = "pattern", pattern = "card-{}", of = { kind = "key" } } },
  { name = "merchant", type = "integer", draw = { kind = "zipf", n = 5000, exponent = 1.1 } },
  { name = "amount", type = "float", decimals = 2, draw = { kind = "normal", mean = 40.0, sd = 30.0, min = 0.5 } },
  { name = "country", type = "enum", values = ["DE", "FR", "US", "GB"], draw = { kind = "per_key", of = { kind = "categorical", weights = [3, 2, 4, 1] } } },
  { name = "online", type = "boolean", draw = { kind = "categorical", values = [true, false], weights = [3, 1] } },
  { name = "channel", type = "string", draw = { kind = "constant", value = "pos" } },
  { name = "items", type = "integer", draw = { kind = "uniform", min = 1, max = 9 } },
  { name = "fee", type = "float", decimals = 2, draw = { kind = "uniform", min = 0.0, max = 3.0 } },
]
"#;

fn declared_schema(c: &mut Criterion) {
    let spec = WorkloadSpec {
        events: Some(EVENTS),
        ..WorkloadSpec::default()
    };
    let schema: EventSchema = toml::from_str(CARDS).expect("a schema");
    let writer = EventWriter::new(&schema, &spec).expect("valid schema");
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("ten-field schema", |b| {
        let (mut value, mut key) = (Vec::with_capacity(256), Vec::with_capacity(32));
        b.iter(|| {
            let mut bytes = 0;
            for i in 0..EVENTS {
                writer.write(
                    i,
                    i % 1000,
                    1_700_000_000_000 + i as i64,
                    &mut value,
                    Some(&mut key),
                );
                bytes += value.len();
            }
            black_box(bytes)
        })
    });
    group.finish();
}

criterion_group!(benches, generate_and_serialize, declared_schema);
criterion_main!(benches);
