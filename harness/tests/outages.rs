//! Services failing under a running engine, on a stack of the test's own
//! (its own broker and PostgreSQL, so stopping them disturbs no other
//! test): PostgreSQL stopped and started again, the broker stopped for
//! 10 s, and each of them crashed (SIGKILL) and started again on its data,
//! each under both engines. The engines reconnect and retry; nothing is
//! lost in any delivery mode and nothing duplicated where the mode
//! promises it.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{run, streambench};
use streambench_harness::home::Home;
use streambench_harness::run::results::Results;
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::suite::FaultPlan;

/// What Kafka's log manager says when it starts on logs that were not shut
/// down cleanly.
const KAFKA_UNCLEAN_RECOVERY: &str = "since no clean shutdown file was found";

#[test]
fn engines_ride_out_outages_and_crashes_of_the_broker_and_the_database() {
    let home = tempfile::tempdir().expect("temp home");
    // The postgres user (when we run as root) must be able to reach the cluster.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let tools = Home::from_env().tools_dir().to_path_buf();
    let with_home = |command: &mut std::process::Command| {
        command
            .env("STREAMBENCH_HOME", home.path())
            .env("STREAMBENCH_TOOLS", &tools)
            .env_remove("STREAMBENCH_BROKERS")
            .env_remove("DATABASE_URL");
    };
    let mut scenarios = Vec::new();
    let mut printed = String::new();
    for (fixture, expected) in [
        ("outages.toml", 6),
        ("broker-outage.toml", 6),
        ("crashes.toml", 12),
    ] {
        let out = tempfile::tempdir().expect("tempdir");
        let suite = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        let mut command = streambench();
        command.args(["run", &suite, "--out"]).arg(out.path());
        with_home(&mut command);
        let (_, said) = run(&mut command);
        printed.push_str(&said);
        let bytes = std::fs::read(out.path().join("results.json")).unwrap_or_else(|e| panic!("{e}:\n{said}"));
        let results: Results = serde_json::from_slice(&bytes).expect("results.json");
        assert_eq!(results.scenarios.len(), expected, "{fixture}:\n{said}");
        scenarios.extend(results.scenarios);
    }
    let mut down = streambench();
    down.args(["stack", "down"]);
    with_home(&mut down);
    let (stopped, text) = run(&mut down);
    assert!(stopped, "stack down: {text}");
    // The crashes were crashes: each service's log shows it recovering from one.
    let stack = home.path().join("stack");
    let log =
        |path: &str| std::fs::read_to_string(stack.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let postgres = log("postgres/cluster/postgres.log");
    assert!(
        postgres.contains("not properly shut down; automatic recovery in progress"),
        "PostgreSQL's log shows no crash recovery:\n{postgres}"
    );
    let kafka = log("kafka/kafka.log");
    assert!(
        kafka.contains(KAFKA_UNCLEAN_RECOVERY),
        "Kafka's log shows no recovery from an unclean shutdown"
    );

    // Every scenario is printed before any is judged: the table is the finding.
    let mut problems = Vec::new();
    for r in &scenarios {
        let label = r.scenario.label();
        let outage = r.recovery.first();
        eprintln!(
            "{label:<70} duplicates {:>5} lost {:>5} down {:>5.1} s recovery {:?}",
            r.check.duplicate_rows,
            r.check.lost_events,
            outage.map_or(0.0, |o| o.restarted_at_s - o.killed_at_s),
            outage.and_then(|o| o.recovery_s)
        );
        let mut problem = |what: String| problems.push(format!("{label}: {what}"));
        if let Some(error) = &r.error {
            problem(format!("failed: {error}"));
            continue;
        }
        if !r.passed || r.check.lost_events > 0 || r.check.missing > 0 {
            problem(format!("differs from the oracle: {:?}", r.check));
        }
        if r.scenario.delivery != DeliveryMode::Insert && r.check.duplicate_rows > 0 {
            problem(format!("{} duplicate rows", r.check.duplicate_rows));
        }
        // The service was down as long as the plan said, and the engine
        // caught up within the run.
        let planned = match r.scenario.fault {
            FaultPlan::BrokerOutage { duration_s, .. } | FaultPlan::DatabaseRestart { duration_s, .. } => {
                duration_s
            }
            FaultPlan::BrokerCrash { restart_after_s, .. }
            | FaultPlan::DatabaseCrash { restart_after_s, .. } => restart_after_s,
            ref other => panic!("unexpected fault {other:?}"),
        };
        match outage {
            None => problem("no outage recorded".into()),
            Some(o) if o.restarted_at_s - o.killed_at_s < planned => {
                problem(format!("down too briefly: {o:?}"))
            }
            Some(o) if o.recovery_s.is_none() => problem(format!("never caught up: {o:?}")),
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "{}\n{printed}", problems.join("\n"));
}
