//! `results.json`: what a run measured, with the context needed to trust
//! and compare it. The reports are drawn from this file, never measured twice.

use serde::{Deserialize, Serialize};
use streambench_workloads::oracle::CheckReport;

use super::latency::LatencySummary;
use super::scenario::Scenario;

/// The version of this file's layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run of a suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// See [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Where and how it ran.
    pub context: RunContext,
    /// One entry per scenario, in suite order.
    pub scenarios: Vec<ScenarioResult>,
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
