//! Records in Avro and in Protobuf (each in the Confluent wire format) on
//! streambench's two engines against the real broker and database: the
//! quickstart's jobs (`fraud`, `tumbling`), `ysb`'s join and a suite's own
//! job equal to the oracle, the damaged records in the dead-letter table;
//! and an engine that reads JSON only refusing Avro before it starts.

mod common;

use common::{Input, SMALL_SUITE, check_with, count, exact, finished, generate, services, unique_name};

const DECLARED_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/declared.toml");
const PER_EVENT_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/per-event.toml");

#[tokio::test]
async fn avro_records_equal_the_oracle_on_both_engines_with_the_damaged_ones_dead_lettered() {
    equal_the_oracle_on_both_engines("avro").await;
}

#[tokio::test]
async fn protobuf_records_equal_the_oracle_on_both_engines_with_the_damaged_ones_dead_lettered() {
    equal_the_oracle_on_both_engines("protobuf").await;
}

/// Each job's events, written in `format`, read by both engines: equal to
/// the oracle, and every damaged record (and only those) a dead letter.
async fn equal_the_oracle_on_both_engines(format: &str) {
    let services = services().await;
    let start = common::recent_start_ms();
    let dir = tempfile::tempdir().expect("tempdir");
    let written_in = ["--format", format];
    for (suite, job) in [
        (SMALL_SUITE, "tumbling"),
        (SMALL_SUITE, "ysb"),
        (PER_EVENT_SUITE, "fraud"),
        (DECLARED_SUITE, "category_takings"),
    ] {
        let topic = unique_name(&format!("{}_{job}", &format[..2]));
        generate(&services, suite, &topic, job, start, &written_in);
        for engine in ["continuous", "microbatch"] {
            let table = unique_name(&format!("{}_{}_{}", &format[..2], &job[..3], &engine[..3]));
            let input = Input {
                suite,
                job,
                topic: &topic,
            };
            let checkpoints = dir.path().join(&table);
            let flags = [&written_in[..], &["--delivery", "upsert"]].concat();
            let run = match engine {
                "continuous" => common::continuous(&services, &input, &table, &checkpoints, &flags, None),
                _ => common::microbatch(&services, &input, &table, &checkpoints, &flags, None),
            };
            let summary = finished(&run);
            let report = check_with(&services, suite, job, &table, start, &written_in);
            assert!(exact(&report, false), "{job} on {engine} in {format}: {report:#}");
            assert!(count(&report, "matched") > 0, "{job} on {engine}: {report}");
            let malformed = count(&report, "malformed_events");
            assert!(
                malformed > 0,
                "{job}: the workload damages some records: {report}"
            );
            assert_eq!(
                summary["dead_letters"].as_u64(),
                Some(malformed),
                "{job} on {engine}: every damaged {format} record, and only those, is a dead letter: {summary}"
            );
        }
    }
}

#[test]
fn an_engine_that_reads_json_only_refuses_avro_before_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, said) = common::run(common::streambench().args([
        "engine",
        "flink",
        "--job",
        "tumbling",
        "--format",
        "avro",
        "--table",
        "never_made",
        "--topic",
        "never_read",
        "--checkpoint-dir",
        &dir.path().display().to_string(),
        "--brokers",
        "127.0.0.1:1",
        "--postgres",
        "postgres://127.0.0.1:1/none",
    ]));
    assert!(!ok, "{said}");
    assert!(
        said.contains("flink cannot run job tumbling") && said.contains("reads json records only"),
        "{said}"
    );
}
