//! Runs a suite's scenarios one after another: for each, a fresh topic and
//! tables, the engine started as a child process, the generator sending the
//! workload on its schedule (with the fault plan applied to the engine), the
//! engine drained and stopped, then the oracle check and the measurements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use streambench_engines::registry;
use streambench_engines::start::StartPosition;
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::engine::EngineName;
use streambench_workloads::generator::{Generator, WorkloadSpec};
use streambench_workloads::rate::RateProfile;
use streambench_workloads::replay::Timing;
use streambench_workloads::scenario::{Scenario, SettingValue, Settings};
use streambench_workloads::suite::Suite;

use super::engine_process::EngineProcess;
use super::faults::{FaultTarget, Interruptions};
use super::measure::{CpuTimes, Finished, measure};
use super::plan::Plan;
use super::results::{Results, RunContext, SCHEMA_VERSION, ScenarioResult, SearchResult};
use super::sampler::{Sampler, SamplerConfig};
use super::search::{TrialObservation, Verdict, judge, search};
use super::spread::group_runs;
use crate::args::{EngineArgs, ServiceArgs};
use crate::clock::{now_ms, rfc3339};
use crate::job_file::JobFile;
use crate::produce::BackgroundProduce;
use crate::stack::Resolved;

/// What a run needs to know.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The suite file (engines read their job's settings from it).
    pub suite_path: PathBuf,
    /// The suite, read from that file, and its scenarios ([`super::plan::plan`]).
    pub plan: Plan,
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
    /// Per engine, settings that say where it runs rather than how (a
    /// Flink cluster's REST address, a Spark master), applied to each of
    /// its scenarios over the suite's.
    pub placement: BTreeMap<EngineName, Settings>,
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
    let (suite, scenarios) = (&config.plan.suite, &config.plan.scenarios);
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("cannot create {}", config.out_dir.display()))?;
    let mut results = Results {
        schema_version: SCHEMA_VERSION,
        context: run_context(config, suite).await,
        scenarios: Vec::new(),
        groups: Vec::new(),
        searches: Vec::new(),
        skipped: config.plan.skipped.clone(),
    };
    let run_id = run_id();
    for (index, template) in scenarios.iter().enumerate() {
        let of = scenarios.len();
        let warm_up_s = template.warm_up_s.unwrap_or(suite.measure.warm_up_s);
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
    let brokers = &config.services.brokers;
    let created = crate::produce::create_new_topic(brokers, &name, scenario.workload.partitions).await;
    let topic_is_ours = created.is_ok();
    let ran = match created {
        Ok(()) => run_scenario(config, scenario, &name, warm_up_s, &mut report).await,
        Err(e) => Err(e),
    };
    let mut result = ran.unwrap_or_else(|error| {
        let mut result = ScenarioResult::unfinished(scenario, &name);
        result.elapsed_s = started.elapsed().as_secs_f64();
        result.error = Some(format!("{error:#}"));
        result
    });
    // The events are a function of the seed, so the topic can go: kept, a
    // long suite's topics fill the disk. The result tables stay. Only a
    // topic this run created is deleted.
    if topic_is_ours
        && !config.keep_topics
        && let Err(e) = crate::produce::delete_topic_and_its_markers(brokers, &name).await
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

/// Runs one scenario on the fresh topic `name`: the engine, the generator
/// with the faults, the drain, then the check and the measurements.
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
    let metrics_file = dir.join("metrics.jsonl");
    let cpu_before = CpuTimes::now();
    let mut engine = start_engine(config, scenario, name, &dir, &metrics_file).await?;

    report("generating");
    let start_time_ms = now_ms();
    let generator_started = Instant::now();
    let generator = Generator::for_job(scenario.workload.clone(), &scenario.job, start_time_ms)?;
    let sampler = Sampler::start(
        SamplerConfig {
            brokers: services.brokers.clone(),
            topic: name.to_string(),
            partitions: scenario.workload.partitions,
            metrics_file,
            schedule: generator.clone(),
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
        schedule: &generator,
    };
    let Interruptions { restarts, moments } = faults.strike_all(&mut engine, &mut produce, report).await?;
    let produced = produce.finish().await.context("the generator failed")?;
    let drained = drain(engine, restarts, report).await;
    let sampled = sampler.finish();
    drained?;
    let cpu = CpuTimes::now().since(&cpu_before);
    crate::produce::ensure_input_untouched(
        &services.brokers,
        name,
        scenario.workload.partitions,
        produced.events,
    )
    .await?;

    report("checking");
    let check = crate::check::check_table(&services.postgres, name, &scenario.job, &generator).await?;
    let passed = check.passed(scenario.delivery == DeliveryMode::Insert);
    let finished = Finished {
        scenario,
        name,
        dir: &dir,
        postgres: &services.postgres,
        start_time_ms,
        warm_up_s,
        produced: &produced,
        schedule: &generator,
        cpu,
        sampled,
        interruptions: &moments,
    };
    Ok(ScenarioResult {
        restarts,
        check,
        passed,
        elapsed_s: started.elapsed().as_secs_f64(),
        error: None,
        ..measure(finished).await?
    })
}

/// `scenario`'s engine, started on topic `name` with its log and metrics
/// in `dir`, once it is ready for events (its result table exists).
async fn start_engine(
    config: &RunConfig,
    scenario: &Scenario,
    name: &str,
    dir: &Path,
    metrics_file: &Path,
) -> anyhow::Result<EngineProcess> {
    let (args, env) = engine_args(config, scenario, name, dir, metrics_file)?;
    let mut engine = EngineProcess::start(
        &config.binary,
        (&args, &env),
        &dir.join("engine.log"),
        metrics_file,
    )?;
    engine.wait_until_ready(&config.services.postgres, name).await?;
    Ok(engine)
}

/// Drains `engine` once the generator is done: after its last restart, if
/// a fault restarted it (a kill can come late, its condition waiting).
async fn drain(
    mut engine: EngineProcess,
    restarts: u32,
    report: &mut impl FnMut(&'static str),
) -> anyhow::Result<()> {
    if restarts > 0 {
        report("awaiting the restart");
        engine.wait_until_reporting(Duration::from_secs(180)).await?;
    }
    report("draining");
    engine.drain(Duration::from_secs(300)).await
}

/// The command line that starts `scenario`'s engine: the flags every
/// engine takes, then the engine's own settings (the scenario's, its
/// interval, and where the run places it), each from its typed struct;
/// and its environment, which carries the database URL.
fn engine_args(
    config: &RunConfig,
    scenario: &Scenario,
    name: &str,
    dir: &Path,
    metrics: &Path,
) -> anyhow::Result<(Vec<String>, crate::args::ChildEnv)> {
    // The scenario's job as run, a swept watermark delay included.
    let job_file = dir.join("job.json");
    JobFile::new(scenario.job.clone(), &scenario.workload).write(&job_file)?;
    let common = EngineArgs {
        job_file: Some(job_file),
        topic: name.to_string(),
        delivery: scenario.delivery,
        start: StartPosition::Checkpoint,
        drain_on_stop: true,
        checkpoint_dir: Some(dir.join("checkpoints")),
        metrics_file: Some(metrics.to_path_buf()),
        ..EngineArgs::for_job(&scenario.job.name, name)
    };
    let services = ServiceArgs {
        brokers: Some(config.services.brokers.clone()),
        postgres: Some(config.services.postgres.clone()),
    };
    let mut settings = scenario.settings.clone();
    let ms = |ms: u64| SettingValue::Integer(ms as i64);
    let off = SettingValue::Text("off".into());
    let (interval, value) = if scenario.triggered {
        ("trigger_interval_ms", scenario.trigger_interval_ms)
    } else {
        ("checkpoint_interval_ms", scenario.checkpoint_interval_ms)
    };
    settings.insert(interval.to_string(), value.map_or(off, ms));
    settings.extend(
        config
            .placement
            .get(&scenario.engine)
            .cloned()
            .unwrap_or_default(),
    );
    let own = registry::engine(scenario.engine)
        .settings_flags(&settings)
        .map_err(|e| anyhow::anyhow!("{} settings: {e}", scenario.engine.as_str()))?;
    let mut args = vec!["engine".to_string(), scenario.engine.as_str().to_string()];
    args.extend(common.to_args());
    args.extend(services.to_args());
    args.extend(own);
    Ok((args, services.to_env()))
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
        replayed_from: suite.workload.source.as_ref().map(|source| {
            let timing = match source.timing {
                Timing::Rate => "sent at the suite's rate",
                Timing::Recorded => "sent at its own pace",
            };
            format!("{}, {timing}", source.file.display())
        }),
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
