//! Apache Flink as an engine, on the real broker and database: installed on
//! first use, it runs the catalogue jobs in Flink SQL equal to the oracle
//! (dead letters included), refuses the delivery mode Flink SQL does not
//! offer, and keeps each promise it does across a SIGKILL and a restart from
//! its latest checkpoint under `streambench run`.

mod common;

use common::{Input, count, engine, exact, run_fixture, services, steady_job_on};

#[tokio::test]
async fn flink_runs_the_catalogue_jobs_equal_to_the_oracle() {
    let services = services().await;
    for (job, delivery) in [
        ("tumbling", "upsert"),
        ("ysb", "insert"),
        ("sliding", "upsert"),
        ("session", "upsert"),
    ] {
        let report = steady_job_on(
            &services,
            "flink",
            job,
            &["--delivery", delivery, "--checkpoint-interval-ms", "1000"],
        );
        assert!(exact(&report, false), "{job} on Flink: {report:#}");
        assert!(
            count(&report, "dead_lettered") > 0,
            "the workload has malformed records"
        );
    }
}

#[tokio::test]
async fn flink_refuses_a_delivery_mode_it_does_not_offer() {
    let services = services().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = Input {
        suite: common::STEADY_SUITE,
        job: "tumbling",
        topic: "flink_never_read",
    };
    let run = engine(
        &services,
        "flink",
        &input,
        "flink_refused",
        dir.path(),
        &["--delivery", "transactional"],
        None,
    );
    assert!(!run.ok, "{}", run.text);
    assert!(
        run.text.contains("transactional delivery is not offered"),
        "{}",
        run.text
    );
    assert!(!run.text.contains("panicked"), "{}", run.text);
}

#[tokio::test]
async fn flink_keeps_each_delivery_modes_promise_across_a_kill() {
    let results = run_fixture(&services().await, "flink-kill.toml").results;
    assert_eq!(
        results.scenarios.len(),
        2,
        "insert and upsert; transactional is not offered"
    );
    common::assert_promises_kept_across_one_kill(&results);
}
