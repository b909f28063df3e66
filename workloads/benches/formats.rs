//! What each wire format costs on one core, for both built-in kinds of
//! event: writing a record (the generator's work) and decoding it with the
//! schema's decoder (what every engine's read pays for the format).

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streambench_workloads::event::EventKind;
use streambench_workloads::format::Format;
use streambench_workloads::generator::{Generator, WorkloadSpec};
use streambench_workloads::schema::EventSchema;
use streambench_workloads::schema_decoder::SchemaDecoder;

const EVENTS: u64 = 100_000;

fn formats(c: &mut Criterion) {
    let mut group = c.benchmark_group("formats");
    group.throughput(Throughput::Elements(EVENTS));
    for kind in [EventKind::Measurement, EventKind::Ad] {
        for format in Format::ALL {
            let spec = WorkloadSpec {
                events: Some(EVENTS),
                format,
                ..WorkloadSpec::default()
            };
            let generator = Generator::new(spec.clone(), kind, 1_700_000_000_000).expect("a workload");
            let mut value = Vec::new();
            let records: Vec<Vec<u8>> = (0..EVENTS)
                .map(|i| {
                    generator.write_record(i, &mut value);
                    value.clone()
                })
                .collect();
            let decoder = SchemaDecoder::new(&EventSchema::builtin(kind, &spec)).reading(format);
            group.bench_function(format!("write {kind:?} {format}"), |b| {
                b.iter(|| {
                    for i in 0..EVENTS {
                        generator.write_record(i, &mut value);
                    }
                    black_box(value.len())
                })
            });
            group.bench_function(format!("decode {kind:?} {format}"), |b| {
                let mut row = Vec::new();
                b.iter(|| {
                    let decoded = records
                        .iter()
                        .filter(|r| decoder.decode_into(r, &mut row).is_ok())
                        .count();
                    black_box(decoded)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, formats);
criterion_main!(benches);
