//! Apache Flink as an engine, on the real broker and database: installed on
//! first use, it runs the catalogue jobs in Flink SQL equal to the oracle
//! (dead letters included), with checkpoints and without, refuses the
//! delivery mode Flink SQL does not offer, and keeps each promise it does
//! across a SIGKILL and a restart from its latest checkpoint under
//! `streambench run`, on its mini-cluster and submitted to a standalone
//! cluster by REST address.

mod common;

use common::{Input, count, engine, exact, run_fixture, services, steady_job_on};

#[tokio::test]
async fn flink_runs_the_catalogue_jobs_equal_to_the_oracle() {
    let services = services().await;
    // The last run takes `off` for the interval, as every engine does: no
    // checkpoints, and still exact. (One test, run after the others, so no
    // more Flink JVMs run at once than the kill tests allow for.)
    for (job, delivery, interval) in [
        ("tumbling", "upsert", "1000"),
        ("ysb", "insert", "1000"),
        ("sliding", "upsert", "1000"),
        ("session", "upsert", "1000"),
        ("tumbling", "upsert", "off"),
    ] {
        let report = steady_job_on(
            &services,
            "flink",
            job,
            &["--delivery", delivery, "--checkpoint-interval-ms", interval],
        );
        assert!(
            exact(&report, false),
            "{job} on Flink, checkpoints {interval}: {report:#}"
        );
        assert!(
            count(&report, "dead_lettered") > 0,
            "the workload has malformed records"
        );
    }
}

#[tokio::test]
async fn flink_refuses_a_delivery_mode_it_does_not_offer_and_state_it_could_not_restore() {
    let services = services().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = Input {
        suite: common::STEADY_SUITE,
        job: "tumbling",
        topic: "flink_never_read",
    };
    for (flags, refusal) in [
        (
            &["--delivery", "transactional"][..],
            "transactional delivery is not offered",
        ),
        // Without a cluster to ask, a restart could not find its checkpoints there.
        (
            &["--delivery", "upsert", "--state-uri", "s3://bucket/state"][..],
            "is not a file:// URI",
        ),
    ] {
        let run = engine(
            &services,
            "flink",
            &input,
            "flink_refused",
            dir.path(),
            flags,
            None,
        );
        assert!(!run.ok, "{}", run.text);
        assert!(run.text.contains(refusal), "{}", run.text);
        assert!(!run.text.contains("panicked"), "{}", run.text);
    }
}

/// The kill tests run one at a time: two Flink clusters starting at once on
/// a small machine can take longer than the kill's moment to checkpoint.
static ONE_KILL_RUN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[tokio::test]
async fn flink_keeps_each_delivery_modes_promise_across_a_kill() {
    let services = services().await;
    let _turn = ONE_KILL_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let run = run_fixture(&services, "flink-kill.toml");
    let results = &run.results;
    assert_eq!(
        results.scenarios.len(),
        4,
        "tumbling and fraud, insert and upsert; transactional is not offered"
    );
    common::assert_promises_kept_across_one_kill(results);
    assert_restored_and_read_live(&run);
}

#[tokio::test]
async fn flink_on_a_standalone_cluster_restores_its_checkpoint_after_a_kill() {
    let services = services().await;
    let _turn = ONE_KILL_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let home = streambench_harness::home::Home::from_env();
    let install = streambench_harness::stack::flink::install(home.tools_dir()).expect("Flink installs");
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = streambench_harness::stack::flink_cluster::FlinkCluster::start(&install, dir.path(), 2)
        .expect("the standalone cluster starts");
    let run = common::run_fixture_with(
        &services,
        "flink-kill.toml",
        &["--flink-cluster", &cluster.rest_url],
    );
    common::assert_promises_kept_across_one_kill(&run.results);
    assert_restored_and_read_live(&run);
}

/// Asserts that each scenario's restart restored a retained checkpoint (the
/// kill waited for two), and that Flink's REST API showed where it read:
/// just before the kill, Flink is seconds behind, not the whole run so far.
fn assert_restored_and_read_live(run: &common::FixtureRun) {
    common::assert_each_restart_says(run, "streambench flink: restoring from");
    for scenario in &run.results.scenarios {
        let recovery = &scenario.recovery[0];
        let before_kill = scenario
            .lag_series
            .iter()
            .rev()
            .find(|s| s.t_s < recovery.killed_at_s)
            .expect("lag samples before the kill");
        assert!(
            before_kill.lag_s < 5.0,
            "lag {:.1} s just before the kill at {} s",
            before_kill.lag_s,
            recovery.killed_at_s
        );
    }
}
