//! Apache Spark Structured Streaming as an engine, on the real broker and
//! database: installed on first use, it runs the catalogue jobs equal to the
//! oracle (dead letters included), and keeps each delivery mode's promise
//! across a SIGKILL and restart under `streambench run`.

mod common;

use common::{count, exact, run_fixture, services, steady_job_on};

#[tokio::test]
async fn spark_runs_the_catalogue_jobs_equal_to_the_oracle() {
    let services = services().await;
    for (job, delivery) in [
        ("tumbling", "transactional"),
        ("ysb", "upsert"),
        ("session", "insert"),
    ] {
        let report = steady_job_on(
            &services,
            "spark",
            job,
            &["--delivery", delivery, "--trigger-interval-ms", "200"],
        );
        assert!(exact(&report, false), "{job} on Spark: {report:#}");
        assert!(
            count(&report, "dead_lettered") > 0,
            "the workload has malformed records"
        );
    }
}

#[tokio::test]
async fn spark_keeps_each_delivery_modes_promise_across_a_kill() {
    let results = run_fixture(&services().await, "spark-kill.toml").results;
    assert_eq!(results.scenarios.len(), 3, "one per delivery mode");
    common::assert_promises_kept_across_one_kill(&results);
}
