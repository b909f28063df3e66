//! Runs a suite's scenarios one after another: for each, a fresh topic and
//! tables, the engine started as a child process, the generator sending the
//! workload on its schedule (with the fault plan applied to the engine), the
//! engine drained and stopped, then the oracle check and the measurements.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use streambench_engines::metrics::MetricsSnapshot;
use streambench_engines::sink::tables::{Tables, quoted};
use streambench_workloads::generator::{Generator, WorkloadSpec};
use streambench_workloads::rate::RateProfile;
use streambench_workloads::suite::{DeliveryMode, EngineName, Suite};

use super::engine_process::EngineProcess;
use super::faults::{FaultTarget, Interruptions};
use super::latency::{LatencyRecorder, LatencySeries};
use super::recovery::recovery;
use super::results::{
    CheckpointStats, Resources, Results, RunContext, SCHEMA_VERSION, ScenarioResult, SearchResult,
};
use super::sampler::{Sampler, SamplerConfig};
use super::scenario::{Scenario, expand};
use super::search::{TrialObservation, Verdict, judge, search};
use super::spread::group_runs;
use crate::clock::{now_ms, rfc3339};
use crate::produce::BackgroundProduce;
use crate::stack::Resolved;

/// What a run needs to know.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The suite file.
    pub suite_path: PathBuf,
    /// Where results, engine logs and checkpoints go.
    pub out_dir: PathBuf,
    /// The broker and database.
    pub services: Resolved,
    /// The `streambench` binary to start engines with.
    pub binary: PathBuf,
    /// The local stack's home, when the broker and the database are the
    /// ones it started: faults that stop a service need it.
    pub stack_home: Option<crate::home::Home>,
    /// Keep each scenario's topic after it ran (by default it is deleted).
    pub keep_topics: bool,
    /// A Flink cluster's REST address for the `flink` engine (by default a
    /// local mini-cluster).
    pub flink_cluster: Option<String>,
    /// A Spark master for the `spark` engine (by default local mode).
    pub spark_master: Option<String>,
}

/// A moment of a run, for the progress display.
#[derive(Debug, Clone)]
pub struct RunProgress {
    /// Which scenario, from 1.
    pub scenario: usize,
    /// Of how many.
    pub of: usize,
    /// Its label.
    pub label: String,
    /// What it is doing.
    pub phase: &'static str,
}

/// Runs every scenario of the suite (or, with `[search]`, a rate search
/// per scenario) and returns what was measured; a scenario that fails is
/// recorded with its error and the run goes on. `results.json` is
/// rewritten after every scenario, so an interrupted run keeps what it measured.
pub async fn run_suite(config: &RunConfig, mut progress: impl FnMut(RunProgress)) -> anyhow::Result<Results> {
    let suite = Suite::from_file(&config.suite_path)?;
    let scenarios = expand(&suite).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("cannot create {}", config.out_dir.display()))?;
    let mut results = Results {
        schema_version: SCHEMA_VERSION,
        context: run_context(config, &suite).await,
        scenarios: Vec::new(),
        groups: Vec::new(),
        searches: Vec::new(),
    };
    let run_id = run_id();
    let warm_up_s = suite.measure.warm_up_s;
    for (index, template) in scenarios.iter().enumerate() {
        let of = scenarios.len();
        let Some(spec) = &suite.search else {
            let result = run_one(
                config,
                template,
                &run_id,
                warm_up_s,
                (index + 1, of),
                &mut progress,
            )
            .await;
            results.scenarios.push(result);
            write_results(config, &mut results)?;
            continue;
        };
        let outcome = search(spec, async |rate| {
            let scenario = Scenario {
                number: results.scenarios.len() + 1,
                workload: WorkloadSpec {
                    rate: RateProfile::constant(rate),
                    ..template.workload.clone()
                },
                ..template.clone()
            };
            let result = run_one(
                config,
                &scenario,
                &run_id,
                warm_up_s,
                (index + 1, of),
                &mut progress,
            )
            .await;
            let verdict = match &result.error {
                Some(error) => Verdict::NotSustained {
                    reason: format!("the run failed: {}", error.lines().next().unwrap_or_default()),
                },
                None => judge(&observation(&result)),
            };
            results.scenarios.push(result);
            write_results(config, &mut results)?;
            Ok((scenario.number, verdict))
        })
        .await?;
        results.searches.push(SearchResult {
            label: template.setting_label(),
            scenario: template.clone(),
            outcome,
        });
        write_results(config, &mut results)?;
    }
    Ok(results)
}

/// Runs one scenario, recording a failure as its result.
async fn run_one(
    config: &RunConfig,
    scenario: &Scenario,
    run_id: &str,
    warm_up_s: f64,
    (position, of): (usize, usize),
    progress: &mut impl FnMut(RunProgress),
) -> ScenarioResult {
    let mut report = |phase| {
        progress(RunProgress {
            scenario: position,
            of,
            label: scenario.label(),
            phase,
        })
    };
    report("starting");
    let started = Instant::now();
    let name = format!("sb_{run_id}_{}", scenario.number);
    let mut result = run_scenario(config, scenario, &name, warm_up_s, &mut report)
        .await
        .unwrap_or_else(|error| {
            let mut result = ScenarioResult::unfinished(scenario, &name);
            result.elapsed_s = started.elapsed().as_secs_f64();
            result.error = Some(format!("{error:#}"));
            result
        });
    // The events are a function of the seed, so the topic can go: kept, a
    // long suite's topics fill the disk. The result tables stay.
    if !config.keep_topics
        && let Err(e) = crate::produce::delete_topic(&config.services.brokers, &name).await
    {
        tracing::warn!("{e:#}");
        result.error.get_or_insert(format!("{e:#}"));
    }
    result
}

/// What a search judges in a trial's result.
fn observation(result: &ScenarioResult) -> TrialObservation {
    TrialObservation {
        offered_per_s: result.offered_per_s,
        achieved_per_s: result.achieved_per_s,
        lag: result.lag_series.clone(),
        latency: result.latency_series.clone(),
        measure_from_s: result.measure_from_s,
        measure_to_s: result.measure_to_s,
        correct: result.passed,
    }
}

/// Summarises the groups so far and writes `results.json`.
fn write_results(config: &RunConfig, results: &mut Results) -> anyhow::Result<()> {
    results.groups = group_runs(&results.scenarios, &results.searches);
    let path = config.out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(results)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

async fn run_scenario(
    config: &RunConfig,
    scenario: &Scenario,
    name: &str,
    warm_up_s: f64,
    report: &mut impl FnMut(&'static str),
) -> anyhow::Result<ScenarioResult> {
    let started = Instant::now();
    let services = &config.services;
    let dir = config.out_dir.join(format!("scenario-{}", scenario.number));
    std::fs::create_dir_all(&dir)?;
    crate::produce::ensure_topic(&services.brokers, name, scenario.workload.partitions).await?;
    let metrics_file = dir.join("metrics.jsonl");
    let args = engine_args(config, scenario, name, &dir, &metrics_file);
    let cpu_before = CpuTimes::now();
    let mut engine = EngineProcess::start(&config.binary, &args, &dir.join("engine.log"), &metrics_file)?;
    wait_until_ready(&services.postgres, name, &mut engine).await?;

    report("generating");
    let start_time_ms = now_ms();
    let generator_started = Instant::now();
    let generator = Generator::new(scenario.workload.clone(), scenario.job.input, start_time_ms)?;
    let sampler = Sampler::start(
        SamplerConfig {
            brokers: services.brokers.clone(),
            topic: name.to_string(),
            partitions: scenario.workload.partitions,
            metrics_file: metrics_file.clone(),
            rate: scenario.workload.rate.clone(),
            total_events: generator.len(),
            started: generator_started,
            started_ms: start_time_ms,
        },
        engine.pid(),
    )?;
    let mut produce = BackgroundProduce::start(generator.clone(), services.brokers.clone(), name.to_string());
    let faults = FaultTarget {
        config,
        scenario,
        generator_started,
        generator_started_ms: start_time_ms,
        sampler: &sampler,
    };
    let Interruptions {
        restarts,
        moments: interruptions,
    } = faults.strike_all(&mut engine, &mut produce, report).await?;
    let produced = produce.finish().await.context("the generator failed")?;

    if restarts > 0 {
        // A kill can come late (its condition waits); the drain waits for the restart.
        report("awaiting the restart");
        engine.wait_until_reporting(Duration::from_secs(180)).await?;
    }
    report("draining");
    engine.signal(Signal::SIGTERM)?;
    let stopped = tokio::time::timeout(Duration::from_secs(300), engine.child.wait()).await;
    let sampled = sampler.finish();
    match stopped {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => anyhow::bail!("the engine failed ({status}):\n{}", engine.log_tail()),
        Ok(Err(e)) => anyhow::bail!("cannot wait for the engine: {e}"),
        Err(_) => {
            let _ = engine.signal(Signal::SIGKILL);
            anyhow::bail!(
                "the engine did not stop within 300 s of SIGTERM:\n{}",
                engine.log_tail()
            );
        }
    }
    let cpu = CpuTimes::now().since(&cpu_before);

    report("checking");
    let check = crate::check::check_table(&services.postgres, name, &scenario.job, &generator).await?;
    let passed = check.passed(scenario.delivery == DeliveryMode::Insert);
    let last_event_ms = start_time_ms
        + (scenario
            .workload
            .rate
            .send_time_us(generator.len().saturating_sub(1))
            / 1000) as i64;
    let measure_from_ms = start_time_ms + (warm_up_s * 1000.0) as i64;
    let latency = measure_latency(
        &services.postgres,
        name,
        start_time_ms,
        measure_from_ms,
        last_event_ms - scenario.job.watermark_delay_ms,
        scenario.job.watermark_delay_ms,
    )
    .await?;
    let start_time = std::time::UNIX_EPOCH + Duration::from_millis(start_time_ms as u64);
    latency
        .series
        .write_interval_log(&dir.join("latency.hlog"), start_time, "event_time")?;
    let snapshots = metrics_snapshots(&metrics_file);
    let series = records_per_second(&snapshots);
    let warm_up_whole_s = (warm_up_s as usize).min(series.len());
    let measured: Vec<u64> = series
        .iter()
        .skip(warm_up_whole_s)
        .take(((last_event_ms - measure_from_ms).max(1000) / 1000) as usize)
        .copied()
        .collect();
    let events = produced.events;
    Ok(ScenarioResult {
        events_sent: events,
        offered_per_s: produced.offered_per_s,
        achieved_per_s: produced.achieved_per_s,
        producer_max_behind_ms: produced.max_behind_ms,
        engine_records_per_s: if measured.is_empty() {
            0.0
        } else {
            measured.iter().sum::<u64>() as f64 / measured.len() as f64
        },
        engine_records_per_s_series: series,
        event_time_latency: latency.event_time.summary(),
        engine_delay: latency.engine_delay.summary(),
        latency_series: latency.series.seconds(),
        measure_from_s: warm_up_s,
        measure_to_s: (last_event_ms - start_time_ms) as f64 / 1000.0,
        resources: Resources {
            engine_cpu_s: cpu.children_s,
            engine_cpu_s_per_million_events: if events > 0 {
                cpu.children_s / events as f64 * 1e6
            } else {
                0.0
            },
            engine_peak_rss_bytes: sampled.engine_peak_rss_bytes,
            engine_rss_series: sampled.engine_rss.clone(),
            harness_cpu_s: cpu.own_s,
        },
        checkpoints: checkpoint_stats(&snapshots),
        recovery: interruptions
            .iter()
            .map(|&(killed, restarted)| recovery(&sampled.lag, killed, restarted))
            .collect(),
        lag_series: sampled.lag,
        restarts,
        check,
        passed,
        elapsed_s: started.elapsed().as_secs_f64(),
        error: None,
        ..ScenarioResult::unfinished(scenario, name)
    })
}

/// CPU seconds used so far by this process and by its waited-for children.
struct CpuTimes {
    own_s: f64,
    children_s: f64,
}

impl CpuTimes {
    fn now() -> CpuTimes {
        use nix::sys::resource::{UsageWho, getrusage};
        let seconds = |who| {
            getrusage(who).map_or(0.0, |u| {
                let (user, system) = (u.user_time(), u.system_time());
                user.tv_sec() as f64
                    + user.tv_usec() as f64 / 1e6
                    + system.tv_sec() as f64
                    + system.tv_usec() as f64 / 1e6
            })
        };
        CpuTimes {
            own_s: seconds(UsageWho::RUSAGE_SELF),
            children_s: seconds(UsageWho::RUSAGE_CHILDREN),
        }
    }

    fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            own_s: self.own_s - before.own_s,
            children_s: self.children_s - before.children_s,
        }
    }
}

/// The engine's checkpoints, from its metrics lines: the last line's
/// counts, and the longest and largest any line reported.
fn checkpoint_stats(snapshots: &[MetricsSnapshot]) -> CheckpointStats {
    let Some(last) = snapshots.last() else {
        return CheckpointStats::default();
    };
    CheckpointStats {
        count: last.checkpoints,
        last_duration_ms: last.last_checkpoint_us as f64 / 1000.0,
        max_pause_ms: last.max_checkpoint_pause_us as f64 / 1000.0,
        last_bytes: last.last_checkpoint_bytes,
        longest_duration_ms: snapshots.iter().map(|s| s.last_checkpoint_us).max().unwrap_or(0) as f64
            / 1000.0,
        largest_bytes: snapshots
            .iter()
            .map(|s| s.last_checkpoint_bytes)
            .max()
            .unwrap_or(0),
    }
}

fn engine_args(
    config: &RunConfig,
    scenario: &Scenario,
    name: &str,
    dir: &Path,
    metrics: &Path,
) -> Vec<String> {
    let (engine, delivery) = (scenario.engine.as_str(), scenario.delivery.as_str());
    let mut args: Vec<String> = [
        "engine",
        engine,
        "--suite",
        &config.suite_path.to_string_lossy(),
        "--job",
        &scenario.job.name,
        "--topic",
        name,
        "--table",
        name,
        "--delivery",
        delivery,
        "--start",
        "checkpoint",
        "--drain-on-stop",
        "--checkpoint-dir",
        &dir.join("checkpoints").to_string_lossy(),
        "--metrics-file",
        &metrics.to_string_lossy(),
        "--brokers",
        &config.services.brokers,
        "--postgres",
        &config.services.postgres,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match scenario.engine {
        EngineName::Continuous | EngineName::Flink => {
            args.push("--checkpoint-interval-ms".into());
            args.push(
                scenario
                    .checkpoint_interval_ms
                    .map_or("off".into(), |ms| ms.to_string()),
            );
        }
        EngineName::Microbatch | EngineName::Spark => {
            args.push("--trigger-interval-ms".into());
            args.push(scenario.trigger_interval_ms.unwrap_or(1000).to_string());
        }
    }
    let cluster = match scenario.engine {
        EngineName::Flink => config.flink_cluster.as_ref().map(|url| ("--cluster", url)),
        EngineName::Spark => config.spark_master.as_ref().map(|url| ("--master", url)),
        EngineName::Continuous | EngineName::Microbatch => None,
    };
    if let Some((flag, url)) = cluster {
        args.push(flag.into());
        args.push(url.clone());
    }
    args
}

/// Waits until the engine has created its result table (it is then reading),
/// or fails with the engine's own words if it exited.
async fn wait_until_ready(postgres: &str, table: &str, engine: &mut EngineProcess) -> anyhow::Result<()> {
    let client = streambench_engines::sink::connect(postgres).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = engine.child.try_wait()? {
            anyhow::bail!("the engine exited at start ({status}):\n{}", engine.log_tail());
        }
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await?;
        if row.get::<_, bool>(0) {
            // The table exists once the sink is connected; give the source its
            // assignment, and make sure the engine did not fail on it.
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(status) = engine.child.try_wait()? {
                anyhow::bail!("the engine exited at start ({status}):\n{}", engine.log_tail());
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("the engine did not start within 60 s:\n{}", engine.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The latencies of one scenario's window results.
struct Latencies {
    event_time: LatencyRecorder,
    engine_delay: LatencyRecorder,
    /// Event-time latency by the second of the run the result was emitted in.
    series: LatencySeries,
}

/// Event-time latency and engine delay of each window that closed between
/// `from_ms` and `to_ms` (windows flushed by the final drain are left out:
/// their timing is the drain's, not the engine's).
async fn measure_latency(
    postgres: &str,
    table: &str,
    start_time_ms: i64,
    from_ms: i64,
    to_ms: i64,
    watermark_delay_ms: i64,
) -> anyhow::Result<Latencies> {
    let tables = Tables::new(table)?;
    let client = streambench_engines::sink::connect(postgres).await?;
    // Per window, its last revision, first written.
    let sql = format!(
        "SELECT DISTINCT ON (key, window_start_ms, window_end_ms) window_end_ms, \
         (extract(epoch FROM emitted_at) * 1000000)::bigint \
         FROM {} WHERE window_end_ms >= $1 AND window_end_ms <= $2 \
         ORDER BY key, window_start_ms, window_end_ms, revision DESC, emitted_at",
        quoted(&tables.emitted_view)
    );
    let rows = client.query(&sql, &[&from_ms, &to_ms]).await?;
    let mut latencies = Latencies {
        event_time: LatencyRecorder::default(),
        engine_delay: LatencyRecorder::default(),
        series: LatencySeries::default(),
    };
    for row in rows {
        let end_ms: i64 = row.get(0);
        let emitted_us: i64 = row.get(1);
        let latency_us = emitted_us - end_ms * 1000;
        latencies.event_time.record_us(latency_us);
        latencies
            .engine_delay
            .record_us(latency_us - watermark_delay_ms * 1000);
        let second = ((emitted_us / 1000 - start_time_ms) / 1000).max(0) as u32;
        latencies.series.record_us(second, latency_us);
    }
    Ok(latencies)
}

/// The lines of an engine's metrics file (a restarted engine appends its own).
fn metrics_snapshots(path: &Path) -> Vec<MetricsSnapshot> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Records read per second of the run, from the engine's metrics lines
/// (a restarted engine counts from zero again).
fn records_per_second(snapshots: &[MetricsSnapshot]) -> Vec<u64> {
    let mut series = Vec::new();
    let mut previous: Option<u64> = None;
    for snapshot in snapshots {
        let read = snapshot.records_read;
        series.push(match previous {
            Some(p) if read >= p => read - p,
            _ => read,
        });
        previous = Some(read);
    }
    if !series.is_empty() {
        // The first line counts from the engine's start, before the generator.
        series.remove(0);
    }
    series
}

/// A short id, unique per run (time and process), that fits in table names.
fn run_id() -> String {
    let base36 = |mut n: u64, digits: usize| {
        let mut id = Vec::new();
        for _ in 0..digits {
            id.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
            n /= 36;
        }
        id.reverse();
        String::from_utf8(id).unwrap_or_default()
    };
    let time = (now_ms() / 100) as u64 % 36u64.pow(7);
    let process = u64::from(std::process::id()) % 36u64.pow(3);
    format!("{}{}", base36(time, 7), base36(process, 3))
}

async fn run_context(config: &RunConfig, suite: &Suite) -> RunContext {
    let text = std::fs::read(&config.suite_path).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in &text {
        hash = (hash ^ *byte as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let command_output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    let postgres_version =
        crate::stack::health::postgres_answers(&config.services.postgres, Duration::from_secs(5))
            .await
            .map(|v| v.split(" on ").next().unwrap_or(&v).to_string())
            .unwrap_or_default();
    RunContext {
        streambench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: command_output("git", &["rev-parse", "HEAD"]),
        suite_file: config.suite_path.display().to_string(),
        suite_hash: format!("{hash:016x}"),
        suite_name: suite.name.clone(),
        seed: suite.workload.seed,
        os: command_output("uname", &["-sr"]).unwrap_or_default(),
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        brokers: config.services.brokers.clone(),
        postgres_version,
        started_at: rfc3339(now_ms() / 1000),
        cpu_pinning: super::pinning::Pinning::for_this_machine().describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_fit_in_table_names() {
        let id = run_id();
        assert_eq!(id.len(), 10);
        assert!(streambench_workloads::names::is_identifier(&format!(
            "sb_{id}_999"
        )));
    }
}
