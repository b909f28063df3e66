//! `results.json`: what a run measured, with the context needed to trust
//! and compare it. The reports are drawn from this file, never measured twice.

use serde::{Deserialize, Serialize};
use streambench_workloads::oracle::CheckReport;

use super::latency::{LatencySecond, LatencySummary};
use super::recovery::Recovery;
use super::sampler::LagSample;
use super::scenario::Scenario;
use super::search::SearchOutcome;
use super::spread::GroupSummary;

/// The version of this file's layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

/// A whole run of a suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// See [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Where and how it ran.
    pub context: RunContext,
    /// One entry per scenario, in the order run.
    pub scenarios: Vec<ScenarioResult>,
    /// Scenarios that differ only by repetition, summarised: median and
    /// range of each figure, and what checkpoints cost against none.
    pub groups: Vec<GroupSummary>,
    /// Sustainable-throughput searches (suites with `[search]`), one per
    /// setting and repetition; their trials are among `scenarios`.
    pub searches: Vec<SearchResult>,
}

/// One search for the highest sustained rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    /// The setting searched, without a rate.
    pub label: String,
    /// The settings (its rate is the one the trials replace).
    pub scenario: Scenario,
    /// Where the search ended, and every trial.
    pub outcome: SearchOutcome,
}

/// Where and how a run happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunContext {
    /// streambench's version.
    pub streambench_version: String,
    /// The git commit of the source, when known.
    pub git_commit: Option<String>,
    /// The suite file as given.
    pub suite_file: String,
    /// A hash of its content (FNV-1a, hex), to tell edited suites apart.
    pub suite_hash: String,
    /// The suite's name.
    pub suite_name: String,
    /// The workload's seed.
    pub seed: u64,
    /// The operating system (`uname -sr`).
    pub os: String,
    /// The CPU model.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// PostgreSQL's version string.
    pub postgres_version: String,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// Which CPUs the harness (with the generator) and the engines ran on.
    pub cpu_pinning: String,
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Its settings.
    pub scenario: Scenario,
    /// The topic and result table it used.
    pub topic: String,
    /// The result table.
    pub table: String,
    /// Events the generator sent.
    pub events_sent: u64,
    /// The generator's offered rate.
    pub offered_per_s: f64,
    /// The generator's achieved rate.
    pub achieved_per_s: f64,
    /// How far behind its schedule the generator fell at most.
    pub producer_max_behind_ms: f64,
    /// Records the engine read per second while the generator ran (mean over
    /// the measurement period).
    pub engine_records_per_s: f64,
    /// Per second of the run: records the engine read that second.
    pub engine_records_per_s_series: Vec<u64>,
    /// `emitted_at` - window end, over windows closed during the
    /// measurement period.
    pub event_time_latency: LatencySummary,
    /// `emitted_at` - (window end + watermark delay).
    pub engine_delay: LatencySummary,
    /// Event-time latency of the results emitted in each second of the run
    /// (also in `latency.hlog`, HdrHistogram's interval log, next to the
    /// engine's log).
    pub latency_series: Vec<LatencySecond>,
    /// Consumer lag once a second, measured from outside the engine.
    pub lag_series: Vec<LagSample>,
    /// The measurement period, seconds since the generator started: from
    /// the end of the warm-up until the last event was due.
    pub measure_from_s: f64,
    /// See `measure_from_s`.
    pub measure_to_s: f64,
    /// CPU and memory.
    pub resources: Resources,
    /// The engine's checkpoints (or, micro-batch, batches).
    pub checkpoints: CheckpointStats,
    /// After a kill: how long until the engine had caught up again.
    pub recovery: Option<Recovery>,
    /// How often the engine was restarted by the fault plan.
    pub restarts: u32,
    /// The oracle check.
    pub check: CheckReport,
    /// Whether the table equals the oracle (duplicates allowed for `insert`).
    pub passed: bool,
    /// Seconds the scenario took, set-up to check.
    pub elapsed_s: f64,
    /// Why it could not finish, if it could not.
    pub error: Option<String>,
}

impl ScenarioResult {
    /// A result with nothing measured yet: the base of a finished one, or
    /// the record of a scenario that could not finish.
    pub fn unfinished(scenario: &Scenario, name: &str) -> ScenarioResult {
        ScenarioResult {
            scenario: scenario.clone(),
            topic: name.to_string(),
            table: name.to_string(),
            events_sent: 0,
            offered_per_s: 0.0,
            achieved_per_s: 0.0,
            producer_max_behind_ms: 0.0,
            engine_records_per_s: 0.0,
            engine_records_per_s_series: Vec::new(),
            event_time_latency: LatencySummary::default(),
            engine_delay: LatencySummary::default(),
            latency_series: Vec::new(),
            lag_series: Vec::new(),
            measure_from_s: 0.0,
            measure_to_s: 0.0,
            resources: Resources::default(),
            checkpoints: CheckpointStats::default(),
            recovery: None,
            restarts: 0,
            check: CheckReport::default(),
            passed: false,
            elapsed_s: 0.0,
            error: None,
        }
    }
}

/// What a scenario cost in CPU and memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU seconds (user + system) of the engine processes, all restarts
    /// included.
    pub engine_cpu_s: f64,
    /// The same per million events sent.
    pub engine_cpu_s_per_million_events: f64,
    /// The engine's peak resident memory, bytes (sampled once a second).
    pub engine_peak_rss_bytes: u64,
    /// CPU seconds of the harness itself, generator included.
    pub harness_cpu_s: f64,
}

/// The engine's checkpoints (continuous) or batches (micro-batch), from its
/// last metrics line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// How many completed.
    pub count: u64,
    /// The last one's duration, ms.
    pub last_duration_ms: f64,
    /// The longest pause in processing one caused, ms.
    pub max_pause_ms: f64,
    /// The last one's size, bytes.
    pub last_bytes: u64,
}
