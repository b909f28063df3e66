//! From a record's bytes to the keyed event an engine's operators take, on
//! one core: the catalogue's path (the built-in decoder, then the job's
//! extraction) against a declared job's record plan (the schema's decoder,
//! then filter, derived fields, table, key and value), on the same
//! measurement records for `tumbling` and its declared twin. Target: the
//! declared path within 10% of the catalogue's. And what a key carried by
//! id costs: ad events counted per ad, against per ad and event type.

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streambench_workloads::catalogue_declared::declared_form;
use streambench_workloads::declared_job::DeclaredJob;
use streambench_workloads::declared_run::{RecordPlan, lower};
use streambench_workloads::event::{EventKind, decode};
use streambench_workloads::generator::{Generator, WorkloadSpec};
use streambench_workloads::job::{CampaignTable, catalogue_job};
use streambench_workloads::schema::EventSchema;

const EVENTS: u64 = 100_000;

/// `tumbling`, declared over the built-in measurement schema.
const TUMBLING: &str = r#"
input = "measurement"
key = ["key"]
window = { kind = "tumbling", size_ms = 10000 }
aggregates = ["count", "sum(value)", "min(value)", "max(value)", "mean(value)"]
"#;

fn interpret(c: &mut Criterion) {
    let spec = WorkloadSpec {
        events: Some(EVENTS),
        ..WorkloadSpec::default()
    };
    let records = records(&spec, EventKind::Measurement);
    let schemas = BTreeMap::from([(
        "measurement".to_string(),
        EventSchema::builtin(EventKind::Measurement, &spec),
    )]);
    let declared: DeclaredJob = toml::from_str(TUMBLING).expect("a job");
    let lowered = lower("tumbling_declared", &declared, &schemas).expect("runs");
    let plan = RecordPlan::new(lowered.declared.as_deref().expect("declared")).expect("a plan");
    let catalogue = catalogue_job("tumbling").expect("tumbling");
    let campaigns = CampaignTable::new(spec.seed, spec.keys);

    let mut group = c.benchmark_group("record_paths");
    group.throughput(Throughput::Elements(EVENTS));
    ysb(&mut group);
    keys(&mut group);
    group.bench_function("catalogue tumbling", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for bytes in &records {
                let event = decode(EventKind::Measurement, bytes).expect("an event");
                sum += catalogue.extract(&event, &campaigns).expect("kept").value;
            }
            black_box(sum)
        })
    });
    group.bench_function("declared tumbling", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for bytes in &records {
                sum += plan.interpret(bytes).expect("an event").expect("kept").value;
            }
            black_box(sum)
        })
    });
    group.finish();
}

/// `ysb` (views, keyed by the campaign of their ad through the seed's
/// table) on ad events: three text fields each, and the table lookup.
fn ysb(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let spec = WorkloadSpec {
        events: Some(EVENTS),
        ..WorkloadSpec::default()
    };
    let records = records(&spec, EventKind::Ad);
    let catalogue = catalogue_job("ysb").expect("ysb");
    let campaigns = CampaignTable::new(spec.seed, spec.keys);
    let declared = declared_form(&catalogue, spec.seed, spec.keys);
    let plan = RecordPlan::new(&declared).expect("a plan");
    group.bench_function("catalogue ysb", |b| {
        b.iter(|| {
            let mut kept = 0u64;
            for bytes in &records {
                let event = decode(EventKind::Ad, bytes).expect("an event");
                kept += catalogue.extract(&event, &campaigns).map_or(0, |k| k.key);
            }
            black_box(kept)
        })
    });
    group.bench_function("declared ysb", |b| {
        b.iter(|| {
            let mut kept = 0u64;
            for bytes in &records {
                kept += plan.interpret(bytes).expect("an event").map_or(0, |k| k.key);
            }
            black_box(kept)
        })
    });
}

/// Ad events counted per ad (a whole-number key), and per ad and event
/// type (a key carried by id: hashed, its values noted once per key).
fn keys(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let spec = WorkloadSpec {
        events: Some(EVENTS),
        ..WorkloadSpec::default()
    };
    let records = records(&spec, EventKind::Ad);
    let schemas = BTreeMap::from([("ad".to_string(), EventSchema::builtin(EventKind::Ad, &spec))]);
    for (name, key) in [
        ("declared ads per ad", r#"["ad_id"]"#),
        ("declared ads per ad and event type", r#"["ad_id", "event_type"]"#),
    ] {
        let job = format!(
            "input = \"ad\"\nkey = {key}\nwindow = {{ kind = \"tumbling\", size_ms = 10000 }}\naggregates = [\"count\"]"
        );
        let declared: DeclaredJob = toml::from_str(&job).expect("a job");
        let lowered = lower("ads", &declared, &schemas).expect("runs");
        let plan = RecordPlan::new(lowered.declared.as_deref().expect("declared")).expect("a plan");
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut keys = 0u64;
                for bytes in &records {
                    keys ^= plan.interpret(bytes).expect("an event").map_or(0, |k| k.key);
                }
                black_box(keys)
            })
        });
    }
}

/// Every record of `spec`'s workload of `kind` events, as sent.
fn records(spec: &WorkloadSpec, kind: EventKind) -> Vec<Vec<u8>> {
    let generator = Generator::new(spec.clone(), kind, 1_700_000_000_000).expect("valid");
    let mut record = Vec::new();
    (0..generator.len())
        .map(|i| {
            generator.write_record(i, &mut record);
            record.clone()
        })
        .collect()
}

criterion_group!(benches, interpret);
criterion_main!(benches);
