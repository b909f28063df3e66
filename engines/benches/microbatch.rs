//! One micro-batch of a million events, decoded into columns and aggregated
//! with polars, as the micro-batch engine runs it: events per second.

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use streambench_engines::microbatch::frame::{Decode, OwnedRecord, aggregate, campaign_frame, decode_batch};
use streambench_workloads::generator::{Generator, WorkloadSpec};
use streambench_workloads::job::{CampaignTable, catalogue_job};

const EVENTS: u64 = 1_000_000;

fn batch(c: &mut Criterion) {
    let spec = WorkloadSpec {
        events: Some(EVENTS),
        rate: streambench_workloads::rate::RateProfile::constant(100_000.0),
        ..WorkloadSpec::default()
    };
    let mut group = c.benchmark_group("microbatch");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    for name in ["tumbling", "ysb"] {
        let job = catalogue_job(name).expect("job");
        let generator = Generator::new(spec.clone(), job.input, 1_700_000_000_000).expect("spec");
        let mut bytes = Vec::new();
        let records: Vec<OwnedRecord> = (0..EVENTS)
            .map(|i| {
                let generated = generator.write_record(i, &mut bytes);
                OwnedRecord {
                    partition: generated.partition as i32,
                    offset: i as i64,
                    payload: Some(bytes.clone()),
                }
            })
            .collect();
        let campaigns = campaign_frame(&CampaignTable::new(spec.seed, spec.keys)).expect("campaigns");
        group.bench_function(format!("decode_and_aggregate_{name}"), |b| {
            b.iter(|| {
                let (columns, dead) = decode_batch(&Decode::Kind(job.input), &records);
                let result = aggregate(&job, columns, &campaigns, None).expect("batch");
                black_box((result.windows.len(), dead.len()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
