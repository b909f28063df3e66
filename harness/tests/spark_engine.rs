//! Apache Spark Structured Streaming as an engine, on the real broker and
//! database: installed on first use, it runs the catalogue jobs equal to the
//! oracle (dead letters included), and keeps each delivery mode's promise
//! across a SIGKILL and restart under `streambench run`, in local mode and
//! on a standalone cluster, and across a crash forced between a batch's
//! write and Spark's commit log, where `insert` shows its duplicates. Its
//! real-time mode runs the per-event job equal to the oracle, through a
//! kill, and refuses a windowed job with the reason.

mod common;

use common::{
    Input, check, count, exact, generate, recent_start_ms, run_fixture, services, steady_job_on, unique_name,
};

#[tokio::test]
async fn spark_runs_the_catalogue_jobs_equal_to_the_oracle() {
    let services = services().await;
    // One job keeps its state in RocksDB, as Spark's guide advises for large state.
    for (job, delivery, state_store) in [
        ("tumbling", "transactional", "hdfs"),
        ("ysb", "upsert", "hdfs"),
        ("session", "insert", "rocksdb"),
    ] {
        let report = steady_job_on(
            &services,
            "spark",
            job,
            &[
                "--delivery",
                delivery,
                "--trigger-interval-ms",
                "200",
                "--state-store",
                state_store,
            ],
        );
        assert!(exact(&report, false), "{job} on Spark: {report:#}");
        assert!(
            count(&report, "dead_lettered") > 0,
            "the workload has malformed records"
        );
    }
}

#[tokio::test]
async fn spark_s_real_time_mode_runs_alerts_equal_to_the_oracle_across_a_kill() {
    let services = services().await;
    let report = steady_job_on(&services, "spark_realtime", "alerts", &["--delivery", "upsert"]);
    assert!(exact(&report, false), "alerts in real-time mode: {report:#}");
    assert!(
        count(&report, "dead_lettered") > 0,
        "the workload has malformed records"
    );
    let run = run_fixture(&services, "spark-realtime-kill.toml");
    assert_eq!(run.results.scenarios.len(), 2, "alerts, once per delivery mode");
    common::assert_promises_kept_across_one_kill(&run.results);
    common::assert_each_restart_says(&run, "streambench spark_realtime: resuming after batch");
    let skipped: Vec<&str> = run.results.skipped.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        skipped,
        ["tumbling on spark_realtime"],
        "the windowed job is refused"
    );
    assert!(run.results.skipped[0].reason.contains("stateless"));
}

#[tokio::test]
async fn spark_keeps_each_delivery_modes_promise_across_a_kill() {
    let run = run_fixture(&services().await, "spark-kill.toml");
    assert_eq!(run.results.scenarios.len(), 3, "one per delivery mode");
    common::assert_promises_kept_across_one_kill(&run.results);
    common::assert_each_restart_says(&run, "streambench spark: resuming after batch");
}

#[tokio::test]
async fn spark_on_a_standalone_cluster_keeps_each_promise_across_a_kill() {
    let services = services().await;
    let home = streambench_harness::home::Home::from_env();
    let install = streambench_harness::stack::spark::install(home.tools_dir()).expect("Spark installs");
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster =
        streambench_harness::stack::spark_cluster::SparkCluster::start(&install, dir.path(), 2, 2048)
            .expect("the standalone cluster starts");
    let run = common::run_fixture_with(
        &services,
        "spark-kill.toml",
        &["--spark-master", &cluster.master_url],
    );
    assert_eq!(run.results.scenarios.len(), 3, "one per delivery mode");
    common::assert_promises_kept_across_one_kill(&run.results);
    common::assert_each_restart_says(&run, "streambench spark: resuming after batch");
    // Each scenario started Spark twice (before and after its kill), each
    // time as an application of the cluster.
    assert!(
        cluster.applications() >= 6,
        "{} applications ran on the cluster",
        cluster.applications()
    );
}

#[tokio::test]
async fn a_crash_between_the_write_and_the_commit_log_repeats_rows_only_in_insert_mode() {
    let services = services().await;
    let start = recent_start_ms();
    let topic = unique_name("spark_crash");
    generate(&services, common::STEADY_SUITE, &topic, "tumbling", start, &[]);
    let input = Input {
        suite: common::STEADY_SUITE,
        job: "tumbling",
        topic: &topic,
    };
    for mode in ["insert", "upsert", "transactional"] {
        let table = unique_name("spark_crash");
        common::spark_crashed_after_a_write_and_restarted(&services, &input, &table, mode);
        let report = check(&services, common::STEADY_SUITE, "tumbling", &table, start);
        let duplicates = count(&report, "duplicate_rows");
        eprintln!("spark {mode:<13} crash after a batch's write: duplicates {duplicates}");
        assert!(exact(&report, mode == "insert"), "{mode}: {report:#}");
        if mode == "insert" {
            assert!(
                duplicates > 0,
                "Spark runs the batch again and inserts its rows twice"
            );
        } else {
            assert_eq!(duplicates, 0, "{mode} writes the re-run batch once");
        }
    }
}
