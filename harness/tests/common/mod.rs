//! What the integration tests share: the real broker and database they run
//! against, started on demand.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use streambench_engines::continuous::ContinuousOptions;
use streambench_engines::microbatch::MicrobatchOptions;
use streambench_engines::options::{self, Interval};
use streambench_harness::args::{EngineArgs, ServiceArgs};
use streambench_harness::home::Home;
use streambench_harness::stack::{self, Endpoints, Resolved};

/// The services under test: `STREAMBENCH_BROKERS` and `DATABASE_URL` when
/// set, else the local stack, started now if it is not running.
pub async fn services() -> Resolved {
    let endpoints = Endpoints {
        brokers: std::env::var("STREAMBENCH_BROKERS")
            .ok()
            .filter(|v| !v.is_empty()),
        postgres: std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty()),
    };
    stack::up(&Home::from_env(), &endpoints)
        .await
        .unwrap_or_else(|e| panic!("the test services could not be started: {e:#}"))
}

/// A name no other test (or earlier run) uses, for topics, groups and tables.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// The path of the `streambench` binary built for these tests.
pub fn streambench() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_streambench"))
}

/// Runs a command to its end: whether it succeeded, and its stdout and stderr together.
pub fn run(command: &mut std::process::Command) -> (bool, String) {
    let output = command.output().expect("run streambench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The small test workload: every kind of odd event, short windows.
pub const SMALL_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/small.toml");

/// The small workload without far-late events (see the file for why).
pub const STEADY_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/steady.toml");

/// A start time ten minutes ago, so event times are in the past and the
/// broker accepts them.
pub fn recent_start_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
        - 600_000
}

/// Writes the events of `suite` for `job` to `topic`.
pub fn generate(
    services: &Resolved,
    suite: &str,
    topic: &str,
    job: &str,
    start_time_ms: i64,
    extra: &[&str],
) {
    let output = streambench()
        .args(["generate", "--suite", suite, "--job", job, "--topic", topic])
        .args(["--start-time-ms", &start_time_ms.to_string()])
        .args(extra)
        .args(["--brokers", &services.brokers, "--postgres", &services.postgres])
        .output()
        .expect("run streambench generate");
    assert!(
        output.status.success(),
        "generate to {topic} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// How an engine run ended.
pub struct EngineRun {
    /// Whether it exited successfully.
    pub ok: bool,
    /// Its stdout and stderr.
    pub text: String,
    /// Its summary line, when it printed one.
    pub summary: Option<serde_json::Value>,
}

/// A job of a suite, fed from a topic.
pub struct Input<'a> {
    /// The suite file.
    pub suite: &'a str,
    /// The job.
    pub job: &'a str,
    /// The topic its events are on.
    pub topic: &'a str,
}

/// Runs `streambench engine continuous` on `input` (watermarks every 5 ms,
/// checkpoints every 25 ms), with `extra` flags and, if `crash_at` is set, a
/// crash point armed.
pub fn continuous(
    services: &Resolved,
    input: &Input<'_>,
    table: &str,
    checkpoint_dir: &std::path::Path,
    extra: &[&str],
    crash_at: Option<&str>,
) -> EngineRun {
    let options = ContinuousOptions {
        watermark_interval_ms: 5,
        checkpoint_interval_ms: Interval::ms(25),
        ..ContinuousOptions::default()
    };
    let mut flags = options::to_args(&options);
    flags.extend(extra.iter().map(|s| s.to_string()));
    engine(
        services,
        "continuous",
        input,
        table,
        checkpoint_dir,
        &flags,
        crash_at,
    )
}

/// Runs `streambench engine microbatch` on `input` (at most 4,000 records
/// per batch, so a run has several), with `extra` flags and, if `crash_at`
/// is set, a crash point armed.
pub fn microbatch(
    services: &Resolved,
    input: &Input<'_>,
    table: &str,
    checkpoint_dir: &std::path::Path,
    extra: &[&str],
    crash_at: Option<&str>,
) -> EngineRun {
    let options = MicrobatchOptions {
        trigger_interval_ms: Interval::ms(20),
        max_offsets_per_trigger: Some(4000),
        ..MicrobatchOptions::default()
    };
    let mut flags = options::to_args(&options);
    flags.extend(extra.iter().map(|s| s.to_string()));
    engine(
        services,
        "microbatch",
        input,
        table,
        checkpoint_dir,
        &flags,
        crash_at,
    )
}

/// Runs `streambench engine <kind>` bounded on `input`, with the engine's
/// own `flags` after the ones every engine takes.
pub fn engine<S: AsRef<std::ffi::OsStr>>(
    services: &Resolved,
    kind: &str,
    input: &Input<'_>,
    table: &str,
    checkpoint_dir: &std::path::Path,
    flags: &[S],
    crash_at: Option<&str>,
) -> EngineRun {
    let common = EngineArgs {
        suite: Some(input.suite.into()),
        topic: input.topic.to_string(),
        bounded: true,
        checkpoint_dir: Some(checkpoint_dir.to_path_buf()),
        ..EngineArgs::for_job(input.job, table)
    };
    let endpoints = ServiceArgs {
        brokers: Some(services.brokers.clone()),
        postgres: Some(services.postgres.clone()),
    };
    let mut command = streambench();
    command
        .args(["engine", kind])
        .args(common.to_args())
        .args(endpoints.to_args())
        .envs(endpoints.to_env())
        .args(flags)
        .env_remove("STREAMBENCH_CRASH_AT");
    if let Some(point) = crash_at {
        command.env("STREAMBENCH_CRASH_AT", point);
    }
    let (ok, text) = run(&mut command);
    let summary = text
        .lines()
        .find(|l| l.starts_with("{\"engine\""))
        .and_then(|l| serde_json::from_str(l).ok());
    EngineRun { ok, text, summary }
}

/// Checks `table` against the oracle of `suite`'s `job`.
pub fn check(
    services: &Resolved,
    suite: &str,
    job: &str,
    table: &str,
    start_time_ms: i64,
) -> serde_json::Value {
    check_with(services, suite, job, table, start_time_ms, &[])
}

/// Checks `table` against the oracle of `suite`'s `job`, with the same
/// `extra` workload flags the events were generated with.
pub fn check_with(
    services: &Resolved,
    suite: &str,
    job: &str,
    table: &str,
    start_time_ms: i64,
    extra: &[&str],
) -> serde_json::Value {
    let (_, text) = run(streambench()
        .args([
            "check", "--suite", suite, "--job", job, "--table", table, "--json",
        ])
        .args(["--start-time-ms", &start_time_ms.to_string()])
        .args(extra)
        .args(["--brokers", &services.brokers, "--postgres", &services.postgres]));
    let json_start = text.find('{').unwrap_or_else(|| panic!("no report: {text}"));
    let json_end = text.rfind('}').map_or(text.len(), |i| i + 1);
    serde_json::from_str(&text[json_start..json_end]).unwrap_or_else(|e| panic!("bad report ({e}): {text}"))
}

/// Reads a counter of a check report.
pub fn count(report: &serde_json::Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {report}"))
}

/// Whether the report shows the table equal to the oracle (duplicates
/// aside when `duplicates_allowed`).
pub fn exact(report: &serde_json::Value, duplicates_allowed: bool) -> bool {
    [
        "wrong_value",
        "missing",
        "unexpected",
        "lost_events",
        "side_output_wrong",
    ]
    .iter()
    .all(|f| count(report, f) == 0)
        && count(report, "dead_lettered") == count(report, "malformed_events")
        && (duplicates_allowed || count(report, "duplicate_rows") == 0)
}

/// The summary of a run that must have succeeded.
pub fn finished(run: &EngineRun) -> &serde_json::Value {
    assert!(run.ok, "the engine failed:\n{}", run.text);
    run.summary
        .as_ref()
        .unwrap_or_else(|| panic!("no summary:\n{}", run.text))
}

/// A finished `streambench run` of a fixture suite: what it printed, its
/// results, and its output folder.
pub struct FixtureRun {
    /// Its standard output and error.
    pub printed: String,
    /// Its results.json.
    pub results: streambench_harness::run::results::Results,
    /// The folder it ran in, removed when the run is dropped. Private, and
    /// its output reached only through [`FixtureRun::out`], so that no
    /// destructuring can keep a path to it past the folder's removal.
    folder: tempfile::TempDir,
}

impl FixtureRun {
    /// Where the run wrote its results, reports and scenario folders.
    pub fn out(&self) -> std::path::PathBuf {
        self.folder.path().join(RESULTS_FOLDER)
    }
}

/// The relative `--out` a fixture run is given, under the folder it runs in.
const RESULTS_FOLDER: &str = "results";

/// Runs the fixture suite `name` (in `tests/fixtures`) against `services`;
/// panics with the output if the run failed.
pub fn run_fixture(services: &Resolved, name: &str) -> FixtureRun {
    run_fixture_with(services, name, &[])
}

/// [`run_fixture`] with more `streambench run` flags.
pub fn run_fixture_with(services: &Resolved, name: &str, flags: &[&str]) -> FixtureRun {
    let (ok, run) = try_run_fixture(services, name, flags);
    assert!(ok, "the run failed:\n{}", run.printed);
    run
}

/// Runs the fixture suite `name` whether or not its scenarios pass: whether
/// `streambench run` succeeded, and what it wrote.
pub fn try_run_fixture(services: &Resolved, name: &str, flags: &[&str]) -> (bool, FixtureRun) {
    let folder = tempfile::tempdir().expect("tempdir");
    let suite = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    // A relative --out, run from its folder, as a user's run under the
    // current folder: engines get the relative paths a user's run gives them.
    let (ok, printed) = run(streambench()
        .current_dir(folder.path())
        .args(["run", &suite, "--out", RESULTS_FOLDER])
        .args(flags)
        .args(["--brokers", &services.brokers, "--postgres", &services.postgres]));
    let bytes = std::fs::read(folder.path().join(RESULTS_FOLDER).join("results.json"))
        .unwrap_or_else(|e| panic!("results.json: {e}\n{printed}"));
    let results = serde_json::from_slice(&bytes).expect("results.json reads back");
    (
        ok,
        FixtureRun {
            printed,
            results,
            folder,
        },
    )
}

/// Per partition of `topic`, its end offset: what an engine must never move.
pub fn end_offsets(services: &Resolved, topic: &str) -> std::collections::BTreeMap<i32, i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &services.brokers)
        .create()
        .expect("a consumer");
    let timeout = std::time::Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("the topic's metadata");
    metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions())
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p.id(), timeout)
                .expect("watermarks");
            (p.id(), high)
        })
        .collect()
}

/// Runs `engine` bounded, with `flags`, on a new topic of the steady
/// workload's events for `job`, and checks its table: the report. The
/// engine must not have written into the topic.
pub fn steady_job_on(services: &Resolved, engine_name: &str, job: &str, flags: &[&str]) -> serde_json::Value {
    job_on(services, STEADY_SUITE, engine_name, job, flags)
}

/// [`steady_job_on`] with the workload of `suite`.
pub fn job_on(
    services: &Resolved,
    suite: &str,
    engine_name: &str,
    job: &str,
    flags: &[&str],
) -> serde_json::Value {
    let start = recent_start_ms();
    let topic = unique_name(engine_name);
    generate(services, suite, &topic, job, start, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let input = Input {
        suite,
        job,
        topic: &topic,
    };
    let before = end_offsets(services, &topic);
    let run = engine(services, engine_name, &input, &topic, dir.path(), flags, None);
    finished(&run);
    assert_eq!(
        end_offsets(services, &topic),
        before,
        "{engine_name} wrote into its input topic"
    );
    let report = check(services, suite, job, &topic, start);
    eprintln!(
        "{engine_name} {job:<9} {flags:?} windows {} dead letters {}",
        count(&report, "matched"),
        count(&report, "dead_lettered")
    );
    report
}

/// Asserts that every scenario of an external engine's run with one kill
/// each ended equal to the oracle, lost nothing, repeated rows only in
/// `insert` mode, and counted the engine's JVM in its CPU time and memory.
pub fn assert_promises_kept_across_one_kill(results: &streambench_harness::run::results::Results) {
    for scenario in &results.scenarios {
        let label = scenario.scenario.label();
        assert!(scenario.error.is_none(), "{label}: {:?}", scenario.error);
        assert_eq!(scenario.restarts, 1, "{label}");
        assert!(scenario.passed, "{label}: {:?}", scenario.check);
        assert_eq!(scenario.check.lost_events, 0, "{label}");
        if scenario.scenario.delivery != streambench_workloads::delivery::DeliveryMode::Insert {
            assert_eq!(scenario.check.duplicate_rows, 0, "{label}");
        }
        assert!(
            scenario.resources.engine_cpu_s > 1.0,
            "{label}: the JVM's CPU time counts: {:?}",
            scenario.resources
        );
        assert!(
            scenario.resources.engine_peak_rss_bytes > 200 << 20,
            "{label}: the JVM's memory counts: {:?}",
            scenario.resources
        );
    }
}

/// Asserts that every scenario's engine log says `words`: what an engine
/// prints when its restart restores a checkpoint (a kill before the first
/// one would test only a fresh start).
pub fn assert_each_restart_says(run: &FixtureRun, words: &str) {
    for scenario in &run.results.scenarios {
        let log = std::fs::read_to_string(
            run.out()
                .join(format!("scenario-{}/engine.log", scenario.scenario.number)),
        )
        .expect("the engine's log");
        assert!(
            log.contains(words),
            "{}: the restart restores a checkpoint, so its log says {words:?}:\n{log}",
            scenario.scenario.label()
        );
    }
}

/// Runs Spark bounded on `input` in delivery `mode`, in small batches, killed
/// by its crash point after the second batch's rows are in PostgreSQL and
/// before Spark's commit log says so, then again to its end: the batch runs
/// twice. Panics if the crash never came.
pub fn spark_crashed_after_a_write_and_restarted(
    services: &Resolved,
    input: &Input<'_>,
    table: &str,
    mode: &str,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = ["--delivery", mode, "--max-offsets-per-trigger", "3000"];
    let run = |crash_at| engine(services, "spark", input, table, dir.path(), &flags, crash_at);
    let crashed = run(Some("spark.after_sink:2"));
    let log = std::fs::read_to_string(dir.path().join("spark.log")).unwrap_or_default();
    assert!(
        !crashed.ok && log.contains("streambench: crashing at spark.after_sink"),
        "{mode}: the crash never came:\n{}",
        crashed.text
    );
    finished(&run(None));
}
