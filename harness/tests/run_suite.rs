//! `streambench run` end to end on a tiny suite: every scenario, with and
//! without a kill, ends exact, with latency measured and results.json
//! readable into the harness's own types.

mod common;

use common::{FixtureRun, services};
use streambench_harness::run::results::SCHEMA_VERSION;

/// Runs the fixture suite `name` against the shared services.
async fn run_fixture(name: &str) -> FixtureRun {
    common::run_fixture(&services().await, name)
}

#[tokio::test]
async fn engine_settings_from_the_suite_reach_the_engines_and_a_list_runs_each() {
    let run = run_fixture("settings-axes.toml").await;
    let (results, out) = (&run.results, run.out());
    let labels: Vec<String> = results
        .scenarios
        .iter()
        .map(|s| s.scenario.setting_label())
        .collect();
    assert_eq!(
        labels,
        [
            "tumbling continuous upsert checkpoint-0.5s parallelism=1",
            "tumbling continuous upsert checkpoint-0.5s parallelism=2",
            "tumbling microbatch upsert trigger-0.25s max_offsets_per_trigger=1500",
        ]
    );
    for (scenario, flags) in results.scenarios.iter().zip([
        "--parallelism 1",
        "--parallelism 2",
        "--max-offsets-per-trigger 1500",
    ]) {
        let label = scenario.scenario.label();
        assert!(
            scenario.error.is_none() && scenario.passed,
            "{label}: {:?} {:?}",
            scenario.error,
            scenario.check
        );
        let log = out
            .join(format!("scenario-{}", scenario.scenario.number))
            .join("engine.log");
        let log = std::fs::read_to_string(&log).expect("engine.log");
        let started = log.lines().next().unwrap_or_default();
        assert!(started.contains(flags), "{label}: {started}");
    }
}

#[tokio::test]
async fn a_suite_runs_end_to_end_and_its_results_read_back() {
    let run = run_fixture("tiny-run.toml").await;
    let (printed, results, out) = (&run.printed, &run.results, run.out());
    assert!(
        printed.contains("p50 ms") && printed.contains("exact"),
        "{printed}"
    );
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
        assert_eq!(scenario.recovery.len(), usize::from(killed), "{label}");
        assert!(!scenario.lag_series.is_empty(), "{label}: lag sampled");
        assert!(!scenario.latency_series.is_empty(), "{label}: latency per second");
        assert!(
            scenario.resources.engine_cpu_s > 0.0,
            "{label}: {:?}",
            scenario.resources
        );
        assert!(scenario.resources.engine_peak_rss_bytes > 0, "{label}");
        let hlog = out
            .join(format!("scenario-{}", scenario.scenario.number))
            .join("latency.hlog");
        let hlog = std::fs::read_to_string(&hlog).expect("latency.hlog");
        assert!(
            hlog.contains("#[StartTime:") && hlog.lines().count() > 3,
            "{hlog}"
        );
    }
    // Each setting ran once: one group per scenario, each with its one run.
    assert_eq!(results.groups.len(), 4);
    assert!(results.groups.iter().all(|g| g.runs == 1 && g.passed == 1));
    // The run wrote its reports, and deleted its topics once checked.
    for report in ["report.md", "report.html"] {
        assert!(out.join(report).exists(), "{report} missing:\n{printed}");
    }
    let services = services().await;
    let topics = existing_topics(&services.brokers);
    for scenario in &results.scenarios {
        assert!(!topics.contains(&scenario.topic), "{} was kept", scenario.topic);
    }
}

/// The topics the broker holds.
fn existing_topics(brokers: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a Kafka client");
    let metadata = client
        .fetch_metadata(None, std::time::Duration::from_secs(10))
        .expect("metadata");
    metadata.topics().iter().map(|t| t.name().to_string()).collect()
}

/// Proof against coordinated omission: latency comes from the generator's
/// schedule, so an engine stopped for 2 s shows the 2 s in its tail, and the
/// lag, sampled from outside the engine, shows it too.
#[tokio::test]
async fn a_two_second_pause_shows_in_the_latency_tail_and_the_lag() {
    let results = run_fixture("pause.toml").await.results;
    let result = &results.scenarios[0];
    assert!(result.passed, "{:?}", result.check);
    let latency = &result.event_time_latency;
    assert!(latency.at(99.9).is_some_and(|v| v >= 2_000.0), "{latency:?}");
    assert!(latency.max_ms >= 2_000.0, "{latency:?}");
    // The pause starts once the engine reads live, 5 s in at the earliest;
    // the lag before it stays under the lag during it.
    assert_eq!(result.recovery.len(), 1, "the pause is recorded with its moments");
    let (paused, resumed) = (result.recovery[0].killed_at_s, result.recovery[0].restarted_at_s);
    assert!(paused >= 5.0 && resumed - paused >= 2.0, "{:?}", result.recovery);
    let max_lag = |from: f64, to: f64| {
        result
            .lag_series
            .iter()
            .filter(|s| s.t_s >= from && s.t_s < to)
            .map(|s| s.lag_s)
            .fold(0.0, f64::max)
    };
    let (before, during) = (max_lag(paused - 4.0, paused - 0.5), max_lag(paused, paused + 3.0));
    assert!(
        during >= 1.5,
        "lag during the pause {during} s: {:?}",
        result.lag_series
    );
    assert!(during > before, "before {before} s, during {during} s");
    // The seconds in which the stalled windows were emitted carry the tail.
    assert!(
        result
            .latency_series
            .iter()
            .any(|s| s.max_ms.is_some_and(|m| m >= 2_000.0)),
        "{:?}",
        result.latency_series
    );
}

/// The watermark trade-off end to end: with a long tail of out-of-order
/// events, a short delay drops some as late and a long one (almost) none,
/// every table still equals the oracle, and the run prints the trade-off.
#[tokio::test]
async fn a_watermark_sweep_stays_exact_and_a_shorter_delay_keeps_fewer_events() {
    let run = run_fixture("watermark-sweep.toml").await;
    let scenarios = &run.results.scenarios;
    let labels: Vec<String> = scenarios.iter().map(|s| s.scenario.setting_label()).collect();
    assert_eq!(
        labels,
        [
            "tumbling continuous upsert watermark-0.1s checkpoint-1s",
            "tumbling microbatch upsert watermark-0.1s trigger-0.25s",
            "tumbling continuous upsert watermark-3s checkpoint-1s",
            "tumbling microbatch upsert watermark-3s trigger-0.25s",
        ]
    );
    for scenario in scenarios {
        let label = scenario.scenario.label();
        assert!(
            scenario.error.is_none() && scenario.passed,
            "{label}: {:?} {:?}",
            scenario.error,
            scenario.check
        );
        assert_eq!(scenario.check.lost_events, 0, "{label}");
    }
    for (short, long) in [(0, 2), (1, 3)] {
        let (short, long) = (&scenarios[short], &scenarios[long]);
        assert!(
            short.check.late_dropped > 0 && short.check.completeness() < long.check.completeness(),
            "{}: {:?}; {}: {:?}",
            short.scenario.label(),
            short.check,
            long.scenario.label(),
            long.check
        );
    }
    assert!(
        run.printed.contains("watermark: `tumbling` on continuous upsert"),
        "{}",
        run.printed
    );
    let report = std::fs::read_to_string(run.out().join("report.md")).expect("report.md");
    assert!(report.contains("## Watermark trade-off"), "{report}");
}

/// The CI-sized kill storm: ten kills at seeded-random moments of one run,
/// each followed by a restart: upsert and transactional delivery still end
/// equal to the oracle, without a duplicate, and each kill's recovery is
/// one the engine made before the next kill.
#[tokio::test]
async fn ten_kills_in_one_run_still_end_equal_to_the_oracle() {
    let results = run_fixture("kills.toml").await.results;
    assert_eq!(results.scenarios.len(), 4, "2 engines x 2 delivery modes");
    for scenario in &results.scenarios {
        let label = scenario.scenario.label();
        assert!(scenario.error.is_none(), "{label}: {:?}", scenario.error);
        assert_eq!(scenario.restarts, 10, "{label}");
        assert_eq!(scenario.recovery.len(), 10, "{label}");
        assert!(scenario.passed, "{label}: {:?}", scenario.check);
        assert_eq!(scenario.check.duplicate_rows, 0, "{label}: {:?}", scenario.check);
        assert_eq!(scenario.check.lost_events, 0, "{label}: {:?}", scenario.check);
        for pair in scenario.recovery.windows(2) {
            assert!(pair[0].restarted_at_s <= pair[1].killed_at_s, "{label}: {pair:?}");
            if let Some(back) = pair[0].recovered_at_s {
                assert!(back < pair[1].killed_at_s, "{label}: {pair:?}");
            }
        }
    }
}

/// A fault that waits for what never comes (a checkpoint, from an engine
/// with checkpoints off) fails its scenario at the condition's deadline,
/// naming the condition, instead of striking anyway or waiting out the run.
#[tokio::test]
async fn a_fault_whose_condition_never_comes_fails_the_scenario_at_its_deadline() {
    let (ok, run) = common::try_run_fixture(&services().await, "never-checkpoints.toml", &[]);
    assert!(!ok, "a failed scenario fails the run:\n{}", run.printed);
    let result = &run.results.scenarios[0];
    let error = result.error.as_deref().expect("the scenario failed");
    assert!(
        error.contains("1 completed checkpoint") && error.contains("within 3 s"),
        "{error}"
    );
    assert_eq!(result.restarts, 0, "no kill struck");
    assert!(
        result.elapsed_s < 20.0,
        "failed after {:.1} s of a 30 s run: {error}",
        result.elapsed_s
    );
}
