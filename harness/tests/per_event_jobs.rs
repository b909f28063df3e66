//! The per-event jobs (`alerts`, `fraud`) on both of streambench's engines,
//! against the real broker and database: every delivery mode equals the
//! oracle, and so does a run killed at a crash point and restarted from its
//! checkpoint (the fraud rule's state restored). Flink and Spark run both
//! equal to the oracle too, Spark also through a crash between its write
//! and its commit log.

mod common;

use common::{
    Input, check, continuous, count, exact, finished, generate, job_on, microbatch, recent_start_ms,
    services, unique_name,
};

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/per-event.toml");

/// Runs `engine` on `input`, crashing first at `crash_at` if given.
fn run(
    services: &streambench_harness::stack::Resolved,
    engine: &str,
    input: &Input<'_>,
    table: &str,
    dir: &std::path::Path,
    mode: &str,
    crash_at: Option<&str>,
) -> common::EngineRun {
    let start = match engine {
        "continuous" => continuous,
        _ => microbatch,
    };
    // Both engines read with two readers.
    let flags = ["--delivery", mode, "--parallelism", "2"];
    start(services, input, table, dir, &flags, crash_at)
}

#[tokio::test]
async fn both_engines_equal_the_oracle_on_per_event_jobs_in_every_mode_and_through_a_crash() {
    let services = services().await;
    let start = recent_start_ms();
    let topic = unique_name("per_event");
    generate(&services, SUITE, &topic, "alerts", start, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    for engine in ["continuous", "microbatch"] {
        for job in ["alerts", "fraud"] {
            let input = Input {
                suite: SUITE,
                job,
                topic: &topic,
            };
            for mode in ["insert", "upsert", "transactional"] {
                let table = unique_name(&format!("pe_{}_{}_{}", &engine[..4], &job[..3], &mode[..3]));
                finished(&run(
                    &services,
                    engine,
                    &input,
                    &table,
                    &dir.path().join(&table),
                    mode,
                    None,
                ));
                let report = check(&services, SUITE, job, &table, start);
                assert!(exact(&report, false), "{engine} {job} {mode}: {report:#}");
                assert!(count(&report, "matched") > 100, "{engine} {job}: {report}");
                if job == "fraud" {
                    assert!(
                        count(&report, "late_dropped") > 0,
                        "{engine}: late purchases: {report}"
                    );
                    assert!(
                        count(&report, "counted_events") > 2 * count(&report, "matched"),
                        "{engine}: most purchases raise nothing: {report}"
                    );
                }
            }
        }
    }
    for (engine, job, mode, point) in [
        ("continuous", "fraud", "insert", "continuous.after_rows_written:3"),
        (
            "continuous",
            "fraud",
            "upsert",
            "continuous.after_rows_before_checkpoint:2",
        ),
        (
            "continuous",
            "fraud",
            "transactional",
            "sink.transaction.before_commit:2",
        ),
        (
            "continuous",
            "alerts",
            "transactional",
            "sink.transaction.after_rows:2",
        ),
        ("microbatch", "fraud", "insert", "microbatch.after_sink:2"),
        ("microbatch", "fraud", "upsert", "microbatch.after_sink:2"),
        ("microbatch", "fraud", "transactional", "microbatch.after_state:2"),
        ("microbatch", "alerts", "upsert", "microbatch.after_commit_log:2"),
    ] {
        let input = Input {
            suite: SUITE,
            job,
            topic: &topic,
        };
        let table = unique_name(&format!("pe_crash_{}_{}_{}", &engine[..4], &job[..3], &mode[..3]));
        let checkpoints = dir.path().join(&table);
        let crashed = run(&services, engine, &input, &table, &checkpoints, mode, Some(point));
        assert!(
            !crashed.ok && crashed.text.contains("crashing at"),
            "{engine}: no crash at {point}:\n{}",
            crashed.text
        );
        finished(&run(&services, engine, &input, &table, &checkpoints, mode, None));
        let report = check(&services, SUITE, job, &table, start);
        assert!(
            exact(&report, mode == "insert"),
            "{engine} {job} {mode} after a crash at {point}: {report:#}"
        );
    }
}

#[tokio::test]
async fn flink_and_spark_equal_the_oracle_on_per_event_jobs_in_every_mode_and_spark_through_a_crash() {
    let services = services().await;
    // Flink SQL's JDBC sink has no transactional mode.
    for (name, job, modes) in [
        ("flink", "alerts", &["insert", "upsert"][..]),
        ("flink", "fraud", &["insert", "upsert"][..]),
        ("spark", "alerts", &["insert", "upsert", "transactional"][..]),
        ("spark", "fraud", &["insert", "upsert", "transactional"][..]),
    ] {
        for mode in modes {
            let report = job_on(&services, SUITE, name, job, &["--delivery", mode]);
            assert!(exact(&report, false), "{name} {job} {mode}: {report:#}");
            assert!(count(&report, "matched") > 100, "{name} {job}: {report}");
            if job == "fraud" {
                assert!(
                    count(&report, "late_dropped") > 0,
                    "{name}: late purchases: {report}"
                );
            }
        }
    }
    let start = recent_start_ms();
    let topic = unique_name("spark_fraud_crash");
    generate(&services, SUITE, &topic, "fraud", start, &[]);
    let input = Input {
        suite: SUITE,
        job: "fraud",
        topic: &topic,
    };
    let table = unique_name("spark_fraud_crash");
    common::spark_crashed_after_a_write_and_restarted(&services, &input, &table, "upsert");
    let report = check(&services, SUITE, "fraud", &table, start);
    assert!(
        exact(&report, false),
        "Spark fraud upsert after a crash (its rule state restored): {report:#}"
    );
}
