//! Jobs a suite declares over its own event schema, on streambench's two
//! engines, Flink, Spark and Spark's real-time mode against the real broker
//! and database: equal to the oracle (in every delivery mode, on
//! streambench's engines), malformed records in the dead-letter table; and
//! refused, with the reason, where an engine cannot run one. A team's own
//! sample, replayed from a JSON-lines file, is judged the same way.

mod common;

use common::{Input, check, count, exact, finished, generate, recent_start_ms, services, unique_name};

const DECLARED_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/declared.toml");
/// `payments.jsonl` replayed: 1,000 lines, 6 of them not payments.
const REPLAY_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay.toml");

#[tokio::test]
async fn declared_jobs_equal_the_oracle_on_both_engines_in_every_delivery_mode() {
    let services = services().await;
    let start = recent_start_ms();
    let topic = unique_name("declared");
    generate(&services, DECLARED_SUITE, &topic, "category_takings", start, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    for job in ["category_takings", "country_takings", "big_foreign_online"] {
        for engine in ["continuous", "microbatch"] {
            for mode in ["insert", "upsert", "transactional"] {
                let table = unique_name(&format!("d_{}_{}_{}", &job[..3], &engine[..3], &mode[..3]));
                let input = Input {
                    suite: DECLARED_SUITE,
                    job,
                    topic: &topic,
                };
                let (checkpoints, flags) = (dir.path().join(&table), ["--delivery", mode]);
                let run = match engine {
                    "continuous" => common::continuous(&services, &input, &table, &checkpoints, &flags, None),
                    _ => common::microbatch(&services, &input, &table, &checkpoints, &flags, None),
                };
                let summary = finished(&run);
                assert!(
                    summary["dead_letters"].as_u64().is_some_and(|n| n > 100),
                    "{job} on {engine}: the damaged records are dead letters: {summary}"
                );
                let report = check(&services, DECLARED_SUITE, job, &table, start);
                assert!(
                    exact(&report, false),
                    "{job} on {engine} in {mode} mode: {report:#}"
                );
                assert!(count(&report, "matched") > 0, "{job} on {engine}: {report}");
                assert_eq!(
                    count(&report, "filtered_events") > 0,
                    job != "country_takings",
                    "{job}: the filter drops, where there is one: {report}"
                );
            }
        }
    }
}

#[tokio::test]
async fn declared_jobs_equal_the_oracle_on_flink_and_spark() {
    let services = services().await;
    let start = recent_start_ms();
    let topic = unique_name("declared_jvm");
    generate(&services, DECLARED_SUITE, &topic, "category_takings", start, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = [
        ("category_takings", "flink"),
        ("category_takings", "spark"),
        ("country_takings", "flink"),
        ("country_takings", "spark"),
        ("big_foreign_online", "flink"),
        ("big_foreign_online", "spark"),
        ("big_foreign_online", "spark_realtime"),
    ];
    for (job, engine) in runs {
        let table = unique_name(&format!("d_{}_{engine}", &job[..3]));
        let input = Input {
            suite: DECLARED_SUITE,
            job,
            topic: &topic,
        };
        let flags = ["--delivery", "upsert"];
        let run = common::engine(
            &services,
            engine,
            &input,
            &table,
            &dir.path().join(&table),
            &flags,
            None,
        );
        finished(&run);
        let report = check(&services, DECLARED_SUITE, job, &table, start);
        assert!(exact(&report, false), "{job} on {engine}: {report:#}");
        assert!(count(&report, "matched") > 0, "{job} on {engine}: {report}");
        assert!(
            count(&report, "dead_lettered") > 100,
            "{job} on {engine}: the damaged records are dead letters: {report}"
        );
    }
}

/// A key of text and a boolean is carried by id and written as its own
/// columns; its values are kept in checkpoints, so that a restored engine
/// still writes them: the continuous engine commits the interrupted epoch's
/// results (a window's, or a per-event job's rows) on restore before it
/// reads a record, the micro-batch engine resumes from its state store.
/// The windows' distinct values survive the same way.
#[tokio::test]
async fn a_key_of_text_and_a_boolean_survives_a_crash_on_both_engines() {
    let services = services().await;
    let start = recent_start_ms();
    let topic = unique_name("declared_crash");
    let events = ["--events", "100000"];
    generate(
        &services,
        DECLARED_SUITE,
        &topic,
        "country_takings",
        start,
        &events,
    );
    let flags = ["--delivery", "transactional", "--parallelism", "2"];
    for (job, engine, point) in [
        (
            "country_takings",
            "continuous",
            "sink.transaction.before_commit:2",
        ),
        (
            "big_foreign_online",
            "continuous",
            "sink.transaction.before_commit:2",
        ),
        ("country_takings", "microbatch", "microbatch.after_state:3"),
        (
            "category_takings",
            "continuous",
            "sink.transaction.before_commit:2",
        ),
        ("category_takings", "microbatch", "microbatch.after_state:3"),
    ] {
        let input = Input {
            suite: DECLARED_SUITE,
            job,
            topic: &topic,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let table = unique_name(&format!("d_key_{}_{engine}", &job[..3]));
        let run = |crash_at| match engine {
            "continuous" => common::continuous(&services, &input, &table, dir.path(), &flags, crash_at),
            _ => common::microbatch(&services, &input, &table, dir.path(), &flags, crash_at),
        };
        let crashed = run(Some(point));
        assert!(
            !crashed.ok && crashed.text.contains("crashing at"),
            "{job} on {engine}: the crash at {point} never came:\n{}",
            crashed.text
        );
        finished(&run(None));
        let report = common::check_with(&services, DECLARED_SUITE, job, &table, start, &events);
        assert!(
            exact(&report, false),
            "{job} on {engine}, crash at {point}: {report:#}"
        );
        assert!(count(&report, "matched") > 0, "{job} on {engine}: {report}");
    }
}

#[tokio::test]
async fn a_replayed_sample_equals_the_oracle_with_its_bad_lines_dead_lettered() {
    let services = services().await;
    let start = recent_start_ms();
    let topic = unique_name("replay");
    generate(&services, REPLAY_SUITE, &topic, "merchant_sales", start, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    for job in ["merchant_sales", "big_foreign_online", "card_bursts"] {
        for engine in ["continuous", "microbatch", "flink", "spark"] {
            let table = unique_name(&format!("r_{}_{engine}", &job[..3]));
            let input = Input {
                suite: REPLAY_SUITE,
                job,
                topic: &topic,
            };
            let checkpoints = dir.path().join(&table);
            let flags = ["--delivery", "upsert"];
            finished(&common::engine(
                &services,
                engine,
                &input,
                &table,
                &checkpoints,
                &flags,
                None,
            ));
            let report = check(&services, REPLAY_SUITE, job, &table, start);
            assert!(exact(&report, false), "{job} on {engine}: {report:#}");
            assert!(count(&report, "matched") > 0, "{job} on {engine}: {report}");
            assert_eq!(
                (
                    count(&report, "generated_events"),
                    count(&report, "malformed_events")
                ),
                (1000, 6),
                "every line is sent, and the 6 bad ones are the oracle's malformed records: {report}"
            );
            assert_eq!(count(&report, "dead_lettered"), 6, "{job} on {engine}: {report}");
        }
    }
}

#[test]
fn an_adapter_that_cannot_run_a_declared_job_says_so_before_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, said) = common::run(common::streambench().args([
        "engine",
        "spark_realtime",
        "--suite",
        DECLARED_SUITE,
        "--job",
        "category_takings",
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
        said.contains("spark_realtime cannot run job category_takings")
            && said.contains("stateless queries only"),
        "{said}"
    );
}
