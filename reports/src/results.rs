//! `results.json`: what a run measured, with the context needed to trust
//! and compare it. The harness writes it; the reports are drawn from it,
//! never measured twice.

use serde::{Deserialize, Serialize};
use streambench_workloads::engine::EngineName;
use streambench_workloads::oracle::CheckReport;
use streambench_workloads::scenario::Scenario;

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
    /// Jobs of the matrix an engine cannot run, left out with its reason.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

/// A job the suite asked an engine for that the engine cannot run faithfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Which job on which engine, as "fraud on flink".
    pub label: String,
    /// The engine's reason.
    pub reason: String,
}

impl Results {
    /// The engines the run had, each once, in [`EngineName`]'s order.
    pub fn engines(&self) -> Vec<EngineName> {
        let mut engines: Vec<EngineName> = self.scenarios.iter().map(|r| r.scenario.engine).collect();
        engines.sort();
        engines.dedup();
        engines
    }

    /// An engine's colour in charts: its place among the run's engines.
    pub fn colour_of(&self, engine: EngineName) -> usize {
        self.engines().iter().position(|e| *e == engine).unwrap_or(0)
    }

    /// Whether scenario `number` kept up: true unless it was a search trial
    /// judged otherwise. A run that fell behind has latency that only says
    /// how long it ran.
    pub fn kept_up(&self, number: usize) -> bool {
        self.searches
            .iter()
            .flat_map(|s| &s.outcome.trials)
            .find(|t| t.scenario == number)
            .is_none_or(|t| t.verdict == Verdict::Sustained)
    }

    /// Whether the groups say more than the scenarios do: some setting ran
    /// more than once, or was searched.
    pub fn has_repetitions_or_searches(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.runs > 1 || g.sustained_per_s.is_some())
    }

    /// The highest sustained rates of the searches of `job` on `engine`
    /// with `delivery`, one per search.
    pub fn sustained_rates(&self, job: &str, engine: EngineName, delivery: &str) -> Vec<f64> {
        self.searches
            .iter()
            .filter(|s| s.scenario.is_setting(job, engine, delivery))
            .filter_map(|s| s.outcome.sustained_per_s)
            .collect()
    }
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
    /// The file the events were replayed from, with its timing, when they
    /// were not generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
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
    /// `emitted_at` - window end (per-event jobs: - event time), over
    /// results due during the measurement period.
    pub event_time_latency: LatencySummary,
    /// `emitted_at` - (window end + watermark delay); for a per-event job,
    /// `emitted_at` - the time its event reached the broker by the schedule.
    pub engine_delay: LatencySummary,
    /// Event-time latency of the results emitted in each second of the run
    /// (also in `latency.hlog`, HdrHistogram's interval log, next to the
    /// engine's log).
    pub latency_series: Vec<LatencySecond>,
    /// Consumer lag over the run, measured from outside the engine: as of
    /// each metrics line it wrote, and every quarter second while it wrote none.
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
    /// After each kill, broker outage or database restart: how long until
    /// the engine had caught up again.
    pub recovery: Vec<Recovery>,
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
    /// The offered rate rounded to whole events per second, to group runs
    /// by it (0 for rates that are not constant).
    pub fn offered_rate_key(&self) -> u64 {
        self.scenario.constant_rate().map_or(0, |r| r.round() as u64)
    }

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
            recovery: Vec::new(),
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
    /// Events per CPU second of the engine: its rate per core used
    /// (Nexmark's throughput over cores), which on a small machine says
    /// what wall-clock rates hide. [`Resources::events_per_core_s`].
    #[serde(default)]
    pub events_per_core_s: Option<f64>,
    /// The engine's peak resident memory, bytes (sampled four times a second).
    pub engine_peak_rss_bytes: u64,
    /// CPU seconds of the harness itself, generator included.
    pub harness_cpu_s: f64,
    /// The engine's resident memory over the run, about once a second.
    #[serde(default)]
    pub engine_rss_series: Vec<RssSample>,
}

impl Resources {
    /// Events per CPU second, from the CPU per million events; `None` when
    /// no CPU was measured.
    pub fn events_per_core_s(&self) -> Option<f64> {
        let cpu = self.engine_cpu_s_per_million_events;
        (cpu > 0.0).then(|| 1e6 / cpu)
    }
}

/// An engine's resident memory at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RssSample {
    /// Seconds since the generator started.
    pub t_s: f64,
    /// Resident set (`VmRSS`), bytes.
    pub bytes: u64,
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
    /// The last one's size, bytes (after a drain: the final, near-empty one).
    pub last_bytes: u64,
    /// The longest one, ms.
    #[serde(default)]
    pub longest_duration_ms: f64,
    /// The largest one, bytes.
    #[serde(default)]
    pub largest_bytes: u64,
}

/// The percentiles every report shows.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 99.99];

/// A latency distribution summarised, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Results recorded.
    pub count: u64,
    /// p50, p90, p99, p99.9, p99.99, in that order.
    pub percentiles_ms: Vec<(f64, f64)>,
    /// The largest.
    pub max_ms: f64,
    /// The mean.
    pub mean_ms: f64,
}

impl LatencySummary {
    /// The value at `percentile`, if it was summarised.
    pub fn at(&self, percentile: f64) -> Option<f64> {
        self.percentiles_ms
            .iter()
            .find(|(p, _)| (*p - percentile).abs() < 1e-9)
            .map(|(_, v)| *v)
    }
}

/// The latency of the window results emitted in one second of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySecond {
    /// Seconds since the generator started.
    pub t_s: u32,
    /// Results emitted in that second.
    pub count: u64,
    /// Their median, ms.
    pub p50_ms: Option<f64>,
    /// Their p99, ms.
    pub p99_ms: Option<f64>,
    /// Their largest, ms.
    pub max_ms: Option<f64>,
}

/// The lag at one moment of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LagSample {
    /// Seconds since the generator started.
    pub t_s: f64,
    /// Records in the topic the engine has not read.
    pub lag_records: i64,
    /// How long ago the generator's schedule sent the first record the
    /// engine has not read: seconds behind (0 when it has read everything
    /// sent so far).
    pub lag_s: f64,
}

/// How long an engine took to recover from a kill (or from a pause: then
/// "killed" is when it was stopped and "restarted" when it was continued;
/// or from the broker or the database being stopped: then "killed" is when
/// the service stopped and "restarted" when it answered again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// When it was killed, seconds since the generator started.
    pub killed_at_s: f64,
    /// When it was started again.
    pub restarted_at_s: f64,
    /// The highest lag in the 5 s before the kill, records: the level it
    /// must return to.
    pub lag_before_records: i64,
    /// The highest lag after the kill, records.
    pub peak_lag_records: i64,
    /// When the lag was first back at its level before the kill (in
    /// seconds behind, within half a second).
    pub recovered_at_s: Option<f64>,
    /// From the restart to then (`None`: not within the run).
    pub recovery_s: Option<f64>,
}

/// Whether a trial's rate was sustained, and why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Lag and latency stayed bounded.
    Sustained,
    /// The engine fell behind, or its results were wrong.
    NotSustained {
        /// What showed it.
        reason: String,
    },
    /// The generator could not offer the rate: the harness, not the
    /// engine, is the limit, and higher rates cannot be judged here.
    GeneratorBound {
        /// What it achieved.
        achieved_per_s: f64,
    },
}

/// One rate tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The offered rate.
    pub offered_per_s: f64,
    /// The scenario number of its run.
    pub scenario: usize,
    /// What it showed.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Where a search ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchOutcome {
    /// The highest rate sustained (`None`: not even the lowest tried).
    pub sustained_per_s: Option<f64>,
    /// The lowest rate not sustained above it (`None`: every rate up to
    /// the search's ceiling was).
    pub not_sustained_per_s: Option<f64>,
    /// The generator could not offer a rate tried: the true figure may be
    /// higher than `sustained_per_s`.
    pub generator_bound: bool,
    /// Every trial, in the order run.
    pub trials: Vec<Trial>,
}

/// The median and range of one figure over repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values`, or `None` if there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[n - 1],
            n,
        })
    }
}

/// One setting's repetitions, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The setting.
    pub label: String,
    /// Its scenario numbers (plain runs) or empty (searches).
    pub scenarios: Vec<usize>,
    /// How many runs equalled the oracle, of how many.
    pub passed: usize,
    /// Runs in the group.
    pub runs: usize,
    /// Event-time latency p50, ms.
    pub p50_ms: Option<Spread>,
    /// Event-time latency p99, ms.
    pub p99_ms: Option<Spread>,
    /// Largest event-time latency, ms.
    pub max_ms: Option<Spread>,
    /// Records the engine read per second over the measurement period.
    pub engine_records_per_s: Option<Spread>,
    /// Engine CPU seconds per million events.
    pub engine_cpu_s_per_million_events: Option<Spread>,
    /// Searches: the highest sustained rate.
    pub sustained_per_s: Option<Spread>,
    /// Checkpointed continuous settings: against the same setting with
    /// checkpoints off, when the suite ran it.
    pub against_checkpoints_off: Option<CheckpointCost>,
}

/// What checkpoints cost, medians against medians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointCost {
    /// The setting without checkpoints.
    pub baseline: String,
    /// Engine records/s with checkpoints over without.
    pub throughput_ratio: Option<f64>,
    /// Engine CPU per event with checkpoints over without.
    pub cpu_ratio: Option<f64>,
    /// p50 latency with checkpoints minus without, ms.
    pub p50_difference_ms: Option<f64>,
    /// p99 latency with checkpoints minus without, ms.
    pub p99_difference_ms: Option<f64>,
}
