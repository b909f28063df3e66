//! `streambench run` end to end on a tiny suite: every scenario, with and
//! without a kill, ends exact, with latency measured and results.json
//! readable into the harness's own types.

mod common;

use common::{run, services, streambench};
use streambench_harness::run::results::{Results, SCHEMA_VERSION};

#[tokio::test]
async fn a_suite_runs_end_to_end_and_its_results_read_back() {
    let services = services().await;
    let out = tempfile::tempdir().expect("tempdir");
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-run.toml");
    let (ok, text) = run(streambench().args(["run", suite, "--out"]).arg(out.path()).args([
        "--brokers",
        &services.brokers,
        "--postgres",
        &services.postgres,
    ]));
    assert!(ok, "the run failed:\n{text}");
    assert!(text.contains("p50 ms") && text.contains("exact"), "{text}");

    let bytes = std::fs::read(out.path().join("results.json")).expect("results.json");
    let results: Results = serde_json::from_slice(&bytes).expect("results.json reads back");
    assert_eq!(results.schema_version, SCHEMA_VERSION);
    assert_eq!(results.context.suite_name, "tiny_run");
    assert!(results.context.cores >= 1 && !results.context.postgres_version.is_empty());
    assert_eq!(results.scenarios.len(), 4, "2 engines x 2 fault plans");
    for scenario in &results.scenarios {
        let label = scenario.scenario.label();
        assert!(scenario.error.is_none(), "{label}: {:?}", scenario.error);
        assert!(scenario.passed, "{label}: {:?}", scenario.check);
        assert_eq!(scenario.events_sent, 8_000, "{label}");
        assert!(scenario.event_time_latency.count > 0, "{label}: windows measured");
        // A window cannot be final before the watermark passes its end.
        assert!(
            scenario
                .event_time_latency
                .at(50.0)
                .is_some_and(|p50| p50 >= 200.0),
            "{label}: {:?}",
            scenario.event_time_latency
        );
        assert!(scenario.engine_records_per_s > 0.0, "{label}");
        let killed = matches!(
            scenario.scenario.fault,
            streambench_workloads::suite::FaultPlan::Kill { .. }
        );
        assert_eq!(scenario.restarts, u32::from(killed), "{label}");
    }
}
