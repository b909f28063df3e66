//! Suite files: a workload, the jobs to run on it, and the matrix of engines,
//! delivery modes, rates and faults to run them under (`workloads/suites/*.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::delivery::DeliveryMode;
use crate::engine::{EngineName, EngineProfile};
use crate::format::Format;
use crate::generator::WorkloadSpec;
use crate::invalid::Invalid;
use crate::job::JobSpec;
use crate::rate::RateProfile;
use crate::scenario::{SettingValue, Settings};
use crate::schema::EventSchema;
pub use crate::suite_jobs::JobOverrides;
use crate::suite_jobs::{check_declared, line_and_column, resolve};
use crate::window::WindowSpec;

/// A suite: what to generate, which jobs to run, and under which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Short name, used in result folders.
    pub name: String,
    /// What the suite shows, for people reading the results.
    #[serde(default)]
    pub description: String,
    /// The events (shared by every scenario; each scenario gets a fresh topic).
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// The scenarios: every combination of the lists.
    pub matrix: Matrix,
    /// More scenarios beside the matrix's: each `[[also]]` table is the
    /// matrix with the lists it gives in place of the matrix's own, and may
    /// give its own `duration_s` and `warm_up_s`. A suite runs peers at one
    /// rate, or sweeps one job, this way without multiplying the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<toml::Table>,
    /// Per job: changes to a catalogue job's defaults, or a job of the
    /// suite's own over one of its schemas ([`crate::suite_jobs`]).
    #[serde(default)]
    pub jobs: BTreeMap<String, JobOverrides>,
    /// The suite's own event schemas, by name, for its declared jobs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schemas: BTreeMap<String, EventSchema>,
    /// Per engine, its settings beyond the matrix's intervals, named as its
    /// flags are (`parallelism = 2` is `--parallelism 2`); a list is an axis
    /// of the matrix for that engine (`parallelism = [1, 2]`).
    #[serde(default)]
    pub settings: BTreeMap<EngineName, BTreeMap<String, toml::Spanned<SettingAxis>>>,
    /// Warm-up and measurement periods.
    #[serde(default)]
    pub measure: Measure,
    /// Instead of the workload's rate: search for the highest rate each
    /// scenario sustains, one trial run per rate tried.
    #[serde(default)]
    pub search: Option<RateSearch>,
    /// Where each engine setting is written (line and column, from 1), to
    /// name it when an engine refuses it.
    #[serde(skip)]
    pub setting_places: BTreeMap<(EngineName, String), (usize, usize)>,
    /// The engines the suite was checked against (the engine registry's
    /// profiles): what each offers, for the matrix's expansion.
    #[serde(skip)]
    pub engines: Vec<EngineProfile>,
}

/// One engine setting in a suite: one value, or a list of values to run
/// each of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingAxis {
    /// Every scenario of the engine takes this value.
    One(SettingValue),
    /// A scenario per value.
    Many(Vec<SettingValue>),
}

impl SettingAxis {
    /// The values, one or many.
    pub fn values(&self) -> Vec<SettingValue> {
        match self {
            SettingAxis::One(value) => vec![value.clone()],
            SettingAxis::Many(values) => values.clone(),
        }
    }
}

/// The interval settings the matrix sets for every engine of a kind; an
/// engine's `[settings.*]` table may replace its own kind's (a peer run only
/// at its default while ours sweep), never the other's.
const INTERVAL_SETTINGS: [&str; 2] = ["checkpoint_interval_ms", "trigger_interval_ms"];

/// An interval written in `[settings.*]`: a positive number of ms, or
/// `"off"` (no checkpoints; batches back to back, Spark's own default).
fn interval_value(value: &SettingValue) -> Result<Option<u64>, String> {
    match value {
        SettingValue::Integer(ms) if *ms > 0 => Ok(Some(*ms as u64)),
        SettingValue::Text(word) if word == "off" => Ok(None),
        other => Err(format!(
            "{other} is not a positive number of milliseconds or \"off\""
        )),
    }
}

/// A search for the maximum sustainable throughput (Karimov et al., ICDE
/// 2018): trials at constant offered rates, doubling from `from_per_s` until
/// one is not sustained, then bisecting until the bounds are within
/// `precision` of each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSearch {
    /// The first rate tried, events/s.
    pub from_per_s: f64,
    /// The highest rate tried, events/s.
    pub to_per_s: f64,
    /// Stop when the lowest rate not sustained is within this fraction above
    /// the highest sustained (0.1: 10 %).
    #[serde(default = "default_precision")]
    pub precision: f64,
    /// Most trials per search.
    #[serde(default = "default_max_trials")]
    pub max_trials: u32,
}

fn default_precision() -> f64 {
    0.1
}

fn default_max_trials() -> u32 {
    10
}

/// The lists whose combinations make a suite's scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Catalogue jobs.
    pub jobs: Vec<String>,
    /// Engines.
    pub engines: Vec<EngineName>,
    /// Delivery modes.
    #[serde(default = "default_delivery")]
    pub delivery: Vec<DeliveryMode>,
    /// Offered rates; empty means the workload's own rate.
    #[serde(default)]
    pub rates: Vec<RateProfile>,
    /// Wire formats of the records; empty means the workload's own format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<Format>,
    /// Continuous engine checkpoint intervals (`None`: checkpoints off,
    /// written `"off"` in the list).
    #[serde(default = "default_checkpoint_intervals", with = "intervals_or_off")]
    pub checkpoint_interval_ms: Vec<Option<u64>>,
    /// Micro-batch engine trigger intervals.
    #[serde(default = "default_trigger_intervals")]
    pub trigger_interval_ms: Vec<u64>,
    /// Watermark delays to sweep, each job run at each (empty: each job's
    /// own delay): the trade-off of latency against completeness.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watermark_delay_ms: Vec<i64>,
    /// Faults to inject.
    #[serde(default = "default_faults")]
    pub faults: Vec<FaultPlan>,
    /// How often each scenario runs.
    #[serde(default = "default_repetitions")]
    pub repetitions: u32,
}

/// One matrix of a suite's scenarios with what it runs them for: the
/// suite's `[matrix]`, or one of its `[[also]]` tables laid over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Where the suite writes it: `[matrix]` or `[[also]] table 2`.
    pub origin: String,
    /// Its lists.
    pub matrix: Matrix,
    /// Its own run length in seconds, in place of the workload's.
    pub duration_s: Option<f64>,
    /// Its own warm-up in seconds, in place of `[measure]`'s.
    pub warm_up_s: Option<f64>,
}

/// A list of intervals in ms where `"off"` stands for none.
mod intervals_or_off {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Interval {
        Ms(u64),
        Word(String),
    }

    pub fn serialize<S: Serializer>(intervals: &[Option<u64>], serializer: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Interval> = intervals
            .iter()
            .map(|i| i.map_or(Interval::Word("off".into()), Interval::Ms))
            .collect();
        items.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Option<u64>>, D::Error> {
        Vec::<Interval>::deserialize(deserializer)?
            .into_iter()
            .map(|item| match item {
                Interval::Ms(ms) => Ok(Some(ms)),
                Interval::Word(word) if word == "off" => Ok(None),
                Interval::Word(word) => Err(serde::de::Error::custom(format!(
                    "checkpoint interval {word:?} is neither a number of milliseconds nor \"off\""
                ))),
            })
            .collect()
    }
}

fn default_delivery() -> Vec<DeliveryMode> {
    vec![DeliveryMode::Upsert]
}
fn default_checkpoint_intervals() -> Vec<Option<u64>> {
    vec![Some(10_000)]
}
fn default_trigger_intervals() -> Vec<u64> {
    vec![1_000]
}
fn default_faults() -> Vec<FaultPlan> {
    vec![FaultPlan::None]
}
fn default_repetitions() -> u32 {
    1
}

/// A fault the harness injects into a running engine.
///
/// Every fault but `kills` strikes at `at_s` or, with `after`, once the
/// engine has done what `after` asks (whichever is later): a kill meant to
/// test a restore waits for a completed checkpoint instead of hoping one
/// came by a fixed second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultPlan {
    /// No fault.
    None,
    /// SIGKILL the engine, then restart it.
    Kill {
        /// Seconds into the run, at the earliest.
        #[serde(default)]
        at_s: f64,
        /// What the engine must have done first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<FaultCondition>,
        /// Seconds until the restart.
        restart_after_s: f64,
    },
    /// SIGKILL the engine `times` times at seeded-random moments between
    /// 10 % and 90 % of the run, restarting it after each.
    Kills {
        /// How many kills.
        times: u32,
        /// Chooses the moments.
        seed: u64,
        /// Seconds from each kill to its restart.
        restart_after_s: f64,
    },
    /// SIGSTOP the engine, then SIGCONT it.
    Pause {
        /// Seconds into the run, at the earliest.
        #[serde(default)]
        at_s: f64,
        /// What the engine must have done first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<FaultCondition>,
        /// How long it stays stopped.
        duration_s: f64,
    },
    /// Stop the broker (a controlled shutdown), then start it again on the
    /// same port and data. Needs the local stack.
    BrokerOutage {
        /// Seconds into the run, at the earliest.
        #[serde(default)]
        at_s: f64,
        /// What the engine must have done first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<FaultCondition>,
        /// How long it stays down (its start-up comes on top).
        duration_s: f64,
    },
    /// Stop PostgreSQL (a fast shutdown: open transactions roll back), then
    /// start it again. Needs the local stack.
    DatabaseRestart {
        /// Seconds into the run, at the earliest.
        #[serde(default)]
        at_s: f64,
        /// What the engine must have done first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<FaultCondition>,
        /// How long it stays down (its start-up comes on top).
        duration_s: f64,
    },
    /// SIGKILL the broker (no controlled shutdown, so its logs are recovered
    /// uncleanly on restart), then start it again on the same port and
    /// data. Needs the local stack.
    BrokerCrash {
        /// Seconds into the run, at the earliest.
        #[serde(default)]
        at_s: f64,
        /// What the engine must have done first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<FaultCondition>,
        /// Seconds from the kill to the restart (its start-up comes on top).
        restart_after_s: f64,
    },
    /// SIGKILL PostgreSQL's postmaster and every server process of it (no
    /// shutdown checkpoint, so the restart replays the WAL: crash
    /// recovery), then start it again. Needs the local stack.
    DatabaseCrash {
        /// Seconds into the run, at the earliest.
        #[serde(default)]
        at_s: f64,
        /// What the engine must have done first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<FaultCondition>,
        /// Seconds from the kill to the restart (its start-up comes on top).
        restart_after_s: f64,
    },
}

/// The longest time a fault plan may give, in seconds (a day).
pub const MAX_FAULT_S: f64 = 86_400.0;

/// The most kills one `kills` plan may make.
pub const MAX_KILLS: u32 = 10_000;

/// What the engine process running now must have done, as its metrics file
/// shows the harness from outside, before a fault strikes. Every part given
/// must hold; if they do not all hold within `within_s` of that process's
/// start, the scenario fails with a message naming the condition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultCondition {
    /// Completed checkpoints (committed batches, for a triggered engine).
    #[serde(default)]
    pub checkpoints: u64,
    /// Records read.
    #[serde(default)]
    pub records_read: u64,
    /// At most this many seconds behind the generator's schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind_at_most_s: Option<f64>,
    /// The deadline, in seconds from the engine process's start.
    #[serde(default = "default_condition_within_s")]
    pub within_s: f64,
}

fn default_condition_within_s() -> f64 {
    120.0
}

impl FaultCondition {
    /// The condition in words, for progress and error messages: "1 completed
    /// checkpoint, 1 record read".
    pub fn describe(&self) -> String {
        let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = Vec::new();
        if self.checkpoints > 0 {
            parts.push(plural(
                self.checkpoints,
                "completed checkpoint (or committed batch)",
                "completed checkpoints (or committed batches)",
            ));
        }
        if self.records_read > 0 {
            parts.push(plural(self.records_read, "record read", "records read"));
        }
        if let Some(s) = self.behind_at_most_s {
            parts.push(format!("at most {s} s behind the schedule"));
        }
        parts.join(", ")
    }

    /// The condition in a label, without spaces: `after-1ckpt-behind<2s`.
    pub fn label(&self) -> String {
        let mut label = "after".to_string();
        if self.checkpoints > 0 {
            label.push_str(&format!("-{}ckpt", self.checkpoints));
        }
        if self.records_read > 0 {
            label.push_str(&format!("-{}rec", self.records_read));
        }
        if let Some(s) = self.behind_at_most_s {
            label.push_str(&format!("-behind<{s}s"));
        }
        label
    }

    fn validate(&self) -> Result<(), String> {
        if self.checkpoints == 0 && self.records_read == 0 && self.behind_at_most_s.is_none() {
            return Err("a fault's `after` needs checkpoints, records_read or behind_at_most_s".into());
        }
        if !(self.within_s > 0.0 && self.within_s <= MAX_FAULT_S) {
            return Err(format!(
                "a fault's `after.within_s` must be a positive number of seconds up to {MAX_FAULT_S}"
            ));
        }
        if self.behind_at_most_s.is_some_and(|s| s.is_nan() || s < 0.0) {
            return Err("a fault's `after.behind_at_most_s` must not be negative".into());
        }
        Ok(())
    }
}

impl FaultPlan {
    /// When the plan strikes, in order, for a run of `duration_s`: the
    /// earliest moment of each strike in seconds from the generator's
    /// start, and what the engine must have done first (empty for no fault).
    pub fn strikes(&self, duration_s: f64) -> Vec<(f64, Option<FaultCondition>)> {
        match *self {
            FaultPlan::Kill { at_s, after, .. }
            | FaultPlan::Pause { at_s, after, .. }
            | FaultPlan::BrokerOutage { at_s, after, .. }
            | FaultPlan::DatabaseRestart { at_s, after, .. }
            | FaultPlan::BrokerCrash { at_s, after, .. }
            | FaultPlan::DatabaseCrash { at_s, after, .. } => vec![(at_s, after)],
            FaultPlan::Kills { times, seed, .. } => {
                let mut rng = crate::rng::EventRng::new(seed, 0, 0x6b69_6c6c);
                let mut moments: Vec<f64> = (0..times)
                    .map(|_| duration_s * (0.1 + 0.8 * rng.unit()))
                    .collect();
                moments.sort_by(f64::total_cmp);
                moments.into_iter().map(|at_s| (at_s, None)).collect()
            }
            FaultPlan::None => Vec::new(),
        }
    }

    /// Every time the plan gives, in seconds: when it strikes, how long
    /// until the restart or how long the service stays down.
    fn seconds(&self) -> Vec<f64> {
        match *self {
            FaultPlan::None => Vec::new(),
            FaultPlan::Kills { restart_after_s, .. } => vec![restart_after_s],
            FaultPlan::Kill {
                at_s,
                restart_after_s,
                ..
            }
            | FaultPlan::BrokerCrash {
                at_s,
                restart_after_s,
                ..
            }
            | FaultPlan::DatabaseCrash {
                at_s,
                restart_after_s,
                ..
            } => vec![at_s, restart_after_s],
            FaultPlan::Pause { at_s, duration_s, .. }
            | FaultPlan::BrokerOutage { at_s, duration_s, .. }
            | FaultPlan::DatabaseRestart { at_s, duration_s, .. } => vec![at_s, duration_s],
        }
    }

    /// Refuses times that are negative, not numbers or beyond a day, a
    /// storm of no kills or of more than [`MAX_KILLS`], and a bad condition.
    fn validate(&self) -> Result<(), String> {
        if let Some(bad) = self
            .seconds()
            .into_iter()
            .find(|s| !(0.0..=MAX_FAULT_S).contains(s))
        {
            return Err(format!("a time of {bad} s: times are from 0 to {MAX_FAULT_S} s"));
        }
        if let FaultPlan::Kills { times, .. } = *self
            && !(1..=MAX_KILLS).contains(&times)
        {
            return Err(format!("{times} kills: a storm has from 1 to {MAX_KILLS}"));
        }
        self.condition().map_or(Ok(()), |c| c.validate())
    }

    /// What the engine must have done before the fault strikes, if anything.
    pub fn condition(&self) -> Option<FaultCondition> {
        match *self {
            FaultPlan::Kill { after, .. }
            | FaultPlan::Pause { after, .. }
            | FaultPlan::BrokerOutage { after, .. }
            | FaultPlan::DatabaseRestart { after, .. }
            | FaultPlan::BrokerCrash { after, .. }
            | FaultPlan::DatabaseCrash { after, .. } => after,
            FaultPlan::Kills { .. } | FaultPlan::None => None,
        }
    }

    /// Seconds from a kill to the engine's restart.
    pub fn restart_after_s(&self) -> f64 {
        match *self {
            FaultPlan::Kill { restart_after_s, .. } | FaultPlan::Kills { restart_after_s, .. } => {
                restart_after_s
            }
            FaultPlan::None
            | FaultPlan::Pause { .. }
            | FaultPlan::BrokerOutage { .. }
            | FaultPlan::DatabaseRestart { .. }
            | FaultPlan::BrokerCrash { .. }
            | FaultPlan::DatabaseCrash { .. } => 0.0,
        }
    }

    /// Whether the fault stops a service of the local stack (the broker or
    /// the database) rather than the engine.
    pub fn stops_a_service(&self) -> bool {
        matches!(
            self,
            FaultPlan::BrokerOutage { .. }
                | FaultPlan::DatabaseRestart { .. }
                | FaultPlan::BrokerCrash { .. }
                | FaultPlan::DatabaseCrash { .. }
        )
    }
}

/// How long to warm up before measuring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Measure {
    /// Seconds at the start of a run left out of the figures.
    pub warm_up_s: f64,
}

impl Default for Measure {
    fn default() -> Measure {
        Measure { warm_up_s: 5.0 }
    }
}

/// Why a suite cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The file cannot be read.
    #[error("cannot read suite {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why (in the message, not a separate cause, so it is said once).
        error: std::io::Error,
    },
    /// Not valid TOML, or not a suite (the message holds line and column).
    #[error("suite {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// Valid TOML with a setting out of range.
    #[error("suite {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Suite {
    /// Reads a suite file and checks it against `engines`, the engines
    /// there are.
    pub fn from_file(path: &Path, engines: &[EngineProfile]) -> Result<Suite, SuiteError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| SuiteError::Read {
            path: shown.clone(),
            error,
        })?;
        let mut suite = Suite::parse(&text, &shown, engines)?;
        suite
            .check_source(path.parent().unwrap_or(Path::new(".")))
            .map_err(|message| SuiteError::Invalid { path: shown, message })?;
        Ok(suite)
    }

    /// Takes a replayed file's path from `folder` (the suite's) and reads
    /// the file as each job's events, so that a file that is missing, not
    /// JSON lines or of another schema fails before anything runs.
    fn check_source(&mut self, folder: &Path) -> Result<(), String> {
        let Some(source) = &mut self.workload.source else {
            return Ok(());
        };
        source.file = folder.join(&source.file);
        for job in self.job_specs()? {
            crate::generator::Generator::for_job(self.workload.clone(), &job, 0)
                .map_err(|e| format!("[workload] {e} (job {})", job.name))?;
        }
        Ok(())
    }

    /// Parses suite text and checks it against `engines`; `origin` names it
    /// in errors.
    pub fn parse(text: &str, origin: &str, engines: &[EngineProfile]) -> Result<Suite, SuiteError> {
        let mut suite: Suite = toml::from_str(text).map_err(|e| SuiteError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        suite.setting_places = setting_places(&suite, text);
        let replayed = suite.workload.source.is_some();
        check_declared(text, &suite.jobs, &suite.schemas, replayed).map_err(|message| {
            SuiteError::Invalid {
                path: origin.to_string(),
                message,
            }
        })?;
        suite.engines = engines.to_vec();
        suite
            .validate_engines(text)
            .map_err(|message| SuiteError::Invalid {
                path: origin.to_string(),
                message,
            })?;
        suite.validate().map_err(|message| SuiteError::Invalid {
            path: origin.to_string(),
            message,
        })?;
        Ok(suite)
    }

    /// The suite's matrices: `[matrix]`, then each `[[also]]` table laid
    /// over it.
    pub fn parts(&self) -> Result<Vec<Part>, Invalid> {
        let mut parts = vec![Part {
            origin: "[matrix]".to_string(),
            matrix: self.matrix.clone(),
            duration_s: None,
            warm_up_s: None,
        }];
        let base = toml::Table::try_from(&self.matrix).map_err(|e| format!("[matrix]: {e}"))?;
        for (index, also) in self.also.iter().enumerate() {
            let origin = format!("[[also]] table {}", index + 1);
            let mut own = also.clone();
            let duration_s = take_seconds(&mut own, "duration_s", &origin)?;
            let warm_up_s = take_seconds(&mut own, "warm_up_s", &origin)?;
            let mut table = base.clone();
            table.extend(own);
            let matrix = toml::Value::Table(table)
                .try_into()
                .map_err(|e| format!("{origin}: {e}"))?;
            parts.push(Part {
                origin,
                matrix,
                duration_s,
                warm_up_s,
            });
        }
        Ok(parts)
    }

    /// Every job the suite runs, once each, with its overrides applied.
    pub fn job_specs(&self) -> Result<Vec<JobSpec>, Invalid> {
        let mut jobs: Vec<JobSpec> = Vec::new();
        for part in self.parts()? {
            for job in self.job_specs_in(&part.matrix)? {
                if !jobs.iter().any(|known| known.name == job.name) {
                    jobs.push(job);
                }
            }
        }
        Ok(jobs)
    }

    /// The jobs of matrix `m` with the suite's overrides applied.
    fn job_specs_in(&self, m: &Matrix) -> Result<Vec<JobSpec>, Invalid> {
        m.jobs
            .iter()
            .map(|name| {
                resolve(name, &self.jobs, &self.schemas).map_err(|e| match e.starts_with("unknown job") {
                    true => Invalid(e),
                    false => Invalid(format!("job {name}: {e}")),
                })
            })
            .collect()
    }

    /// Each job of matrix `m` as its scenarios run it: once with its own
    /// watermark delay, or once per delay of `m.watermark_delay_ms`, paired
    /// with that swept delay.
    pub fn job_variants(&self, m: &Matrix) -> Result<Vec<(JobSpec, Option<i64>)>, Invalid> {
        let mut variants = Vec::new();
        for job in self.job_specs_in(m)? {
            if m.watermark_delay_ms.is_empty() {
                variants.push((job, None));
                continue;
            }
            for &delay in &m.watermark_delay_ms {
                let swept = JobSpec {
                    watermark_delay_ms: delay,
                    ..job.clone()
                };
                swept
                    .validate()
                    .map_err(|e| format!("job {} at watermark {delay} ms: {e}", job.name))?;
                variants.push((swept, Some(delay)));
            }
        }
        Ok(variants)
    }

    /// What `engine` offers. Every engine a checked suite names has a
    /// profile; an unchecked one's engines are taken as checkpointing peers
    /// that offer every delivery.
    pub fn profile(&self, engine: EngineName) -> EngineProfile {
        self.engines
            .iter()
            .find(|p| p.name == engine)
            .copied()
            .unwrap_or(EngineProfile {
                name: engine,
                triggered: false,
                transactional: true,
                reports_late_window_events: false,
                counts_reads_exactly: false,
                formats: &Format::ALL,
            })
    }

    /// Every engine a matrix names is one of the suite's engines: else the
    /// error names it, where the text first writes it, and the engines there are.
    fn validate_engines(&self, text: &str) -> Result<(), String> {
        for part in self.parts()? {
            for engine in &part.matrix.engines {
                if self.engines.iter().any(|p| p.name == *engine) {
                    continue;
                }
                let quoted = format!("\"{engine}\"");
                let place = text.find(&quoted).map_or(String::new(), |at| {
                    let (line, column) = line_and_column(text, at);
                    format!(" (line {line}, column {column})")
                });
                let known: Vec<&str> = self.engines.iter().map(|p| p.name.as_str()).collect();
                let list = match part.origin.as_str() {
                    "[matrix]" => "matrix.engines".to_string(),
                    also => format!("{also}: engines"),
                };
                return Err(format!(
                    "{list}: no engine {quoted}{place}; the engines are {}",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// `engine`'s intervals in matrix `m` as (checkpoint, trigger) pairs:
    /// its own `[settings.<engine>]` interval where the suite gives one,
    /// else `m`'s axis for its kind.
    pub fn intervals_of(&self, engine: EngineName, m: &Matrix) -> Vec<(Option<u64>, Option<u64>)> {
        let profile = self.profile(engine);
        let triggered = profile.triggered;
        let own = self
            .settings
            .get(&engine)
            .and_then(|settings| settings.get(profile.interval_setting()));
        let intervals: Vec<Option<u64>> = match own {
            Some(axis) => axis
                .get_ref()
                .values()
                .iter()
                .filter_map(|value| interval_value(value).ok())
                .collect(),
            None if triggered => m.trigger_interval_ms.iter().map(|t| Some(*t)).collect(),
            None => m.checkpoint_interval_ms.clone(),
        };
        intervals
            .into_iter()
            .map(|interval| {
                if triggered {
                    (None, interval)
                } else {
                    (interval, None)
                }
            })
            .collect()
    }

    /// Every combination of `engine`'s settings axes, in the order the
    /// suite lists the values (one empty set when it has none); its
    /// interval is not among them ([`Suite::intervals_of`] gives it).
    pub fn settings_of(&self, engine: EngineName) -> Vec<Settings> {
        let mut combinations = vec![Settings::new()];
        let axes = self.settings.get(&engine).into_iter().flatten();
        for (name, axis) in axes.filter(|(name, _)| !INTERVAL_SETTINGS.contains(&name.as_str())) {
            combinations = combinations
                .into_iter()
                .flat_map(|partial| {
                    axis.get_ref().values().into_iter().map(move |value| {
                        let mut next = partial.clone();
                        next.insert(name.clone(), value);
                        next
                    })
                })
                .collect();
        }
        combinations
    }

    /// Where `engine`'s setting `name` is written: "line L, column C".
    pub fn setting_place(&self, engine: EngineName, name: &str) -> String {
        match self.setting_places.get(&(engine, name.to_string())) {
            Some((line, column)) => format!("line {line}, column {column}"),
            None => "a place the file does not show".to_string(),
        }
    }

    fn validate_settings(&self, parts: &[Part]) -> Result<(), String> {
        for (engine, settings) in &self.settings {
            if !parts.iter().any(|part| part.matrix.engines.contains(engine)) {
                return Err(format!(
                    "[settings.{}] sets an engine that is not in matrix.engines or an [[also]] table's engines",
                    engine.as_str()
                ));
            }
            for (name, axis) in settings {
                let place = self.setting_place(*engine, name);
                if axis.get_ref().values().is_empty() {
                    return Err(format!(
                        "[settings.{}] {name} ({place}) must not be an empty list",
                        engine.as_str()
                    ));
                }
                if INTERVAL_SETTINGS.contains(&name.as_str()) {
                    self.validate_interval(*engine, name, axis.get_ref(), &place)?;
                }
            }
        }
        Ok(())
    }

    /// An engine's own interval: its kind's, each value one it takes.
    fn validate_interval(
        &self,
        engine: EngineName,
        name: &str,
        axis: &SettingAxis,
        place: &str,
    ) -> Result<(), String> {
        let own = self.profile(engine).interval_setting();
        if name != own {
            return Err(format!(
                "[settings.{engine}] {name} ({place}): {engine} takes {own}, not {name}",
                engine = engine.as_str()
            ));
        }
        for value in axis.values() {
            interval_value(&value)
                .map_err(|e| format!("[settings.{}] {name} ({place}): {e}", engine.as_str()))?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        let parts = self.parts()?;
        self.validate_settings(&parts)?;
        if !crate::names::is_identifier(&self.name) {
            return Err(format!(
                "name {:?} must be lower-case letters, digits and _ (at most 40)",
                self.name
            ));
        }
        self.workload.validate().map_err(|e| e.to_string())?;
        for (name, overrides) in &self.jobs {
            if !parts.iter().any(|part| part.matrix.jobs.contains(name)) {
                let what = match overrides.input {
                    Some(_) => "declares a job",
                    None => "overrides a job",
                };
                return Err(format!(
                    "[jobs.{name}] {what} that is not in matrix.jobs or an [[also]] table's jobs"
                ));
            }
        }
        for (index, part) in parts.iter().enumerate() {
            // The matrix's own errors name their list; an `[[also]]` table's
            // say which table too.
            self.validate_part(part).map_err(|e| match index {
                0 => e,
                _ => format!("{}: {e}", part.origin),
            })?;
        }
        Ok(())
    }

    /// The checks of one matrix: lists not empty, values in range, and
    /// every job judgeable by the oracle on the workload.
    fn validate_part(&self, part: &Part) -> Result<(), String> {
        let m = &part.matrix;
        for (list, empty) in [
            ("matrix.jobs", m.jobs.is_empty()),
            ("matrix.engines", m.engines.is_empty()),
            ("matrix.delivery", m.delivery.is_empty()),
            (
                "matrix.checkpoint_interval_ms",
                m.checkpoint_interval_ms.is_empty(),
            ),
            ("matrix.trigger_interval_ms", m.trigger_interval_ms.is_empty()),
            ("matrix.faults", m.faults.is_empty()),
        ] {
            if empty {
                return Err(format!("{list} must not be empty"));
            }
        }
        if let Some(search) = &self.search {
            if !(search.from_per_s > 0.0 && search.to_per_s >= search.from_per_s) {
                return Err("search: from_per_s must be positive and at most to_per_s".into());
            }
            if !(search.precision > 0.0 && search.precision < 1.0) || search.max_trials == 0 {
                return Err("search: precision must be in (0, 1) and max_trials at least 1".into());
            }
            if !m.rates.is_empty() {
                return Err("search sets the rates itself: leave matrix.rates out".into());
            }
        }
        if m.repetitions == 0 {
            return Err("matrix.repetitions must be at least 1".into());
        }
        for rate in &m.rates {
            rate.validate().map_err(|e| format!("matrix.rates: {e}"))?;
        }
        if m.trigger_interval_ms.contains(&0) || m.checkpoint_interval_ms.contains(&Some(0)) {
            return Err(
                "intervals must be positive (leave a checkpoint interval out to turn checkpoints off)".into(),
            );
        }
        for fault in &m.faults {
            fault
                .validate()
                .map_err(|e| format!("matrix.faults: {fault:?}: {e}"))?;
        }
        for (job, _) in self.job_variants(m)? {
            self.check_lateness_of(&job)?;
        }
        Ok(())
    }

    /// Whether the oracle can judge `job` exactly on this workload: late
    /// events wholly late, and out-of-order events beyond the watermark
    /// delay only where an event is either counted or dropped whole.
    fn check_lateness_of(&self, job: &JobSpec) -> Result<(), String> {
        let reach = job.watermark_delay_ms + job.allowed_lateness_ms + window_reach(&job.window);
        // Per-event rules judge lateness per key, exactly as the oracle does.
        let windowed = !job.window.is_per_event();
        if windowed && self.workload.late.fraction > 0.0 && self.workload.late.delay_ms <= reach {
            return Err(format!(
                "workload.late.delay_ms ({}) must exceed job {}'s watermark delay + allowed lateness + window ({reach} ms), \
                 or late events would not be late",
                self.workload.late.delay_ms, job.name
            ));
        }
        // An event past the watermark is counted in its window or dropped
        // whole when it has one window (tumbling) or none (per-event). A
        // sliding or session event may be counted in some windows and not
        // others, which the oracle cannot predict.
        let whole = matches!(job.window, WindowSpec::Tumbling { .. }) || job.window.is_per_event();
        let out_of_order = &self.workload.out_of_order;
        if out_of_order.fraction > 0.0 && out_of_order.max_delay_ms > job.watermark_delay_ms && !whole {
            return Err(format!(
                "workload.out_of_order.max_delay_ms ({}) must stay within job {}'s watermark delay ({} ms): \
                 beyond it only tumbling-window and per-event jobs can be checked exactly",
                out_of_order.max_delay_ms, job.name, job.watermark_delay_ms
            ));
        }
        Ok(())
    }
}

/// Takes `key` out of an `[[also]]` table: a number of seconds, positive
/// (a warm-up may be 0).
fn take_seconds(table: &mut toml::Table, key: &str, origin: &str) -> Result<Option<f64>, Invalid> {
    let Some(value) = table.remove(key) else {
        return Ok(None);
    };
    let seconds = match value {
        toml::Value::Integer(n) => n as f64,
        toml::Value::Float(x) => x,
        other => return Err(format!("{origin}: {key} must be a number of seconds, not {other}").into()),
    };
    let in_range = if key == "warm_up_s" {
        seconds >= 0.0
    } else {
        seconds > 0.0
    };
    if !(seconds.is_finite() && in_range) {
        let least = if key == "warm_up_s" {
            "0 or more"
        } else {
            "more than 0"
        };
        return Err(format!("{origin}: {key} must be {least} seconds, not {seconds}").into());
    }
    Ok(Some(seconds))
}

/// Line and column (from 1) of every engine setting's value in `text`.
fn setting_places(suite: &Suite, text: &str) -> BTreeMap<(EngineName, String), (usize, usize)> {
    let mut places = BTreeMap::new();
    for (engine, settings) in &suite.settings {
        for (name, axis) in settings {
            places.insert((*engine, name.clone()), line_and_column(text, axis.span().start));
        }
    }
    places
}

fn window_reach(window: &WindowSpec) -> i64 {
    match *window {
        WindowSpec::Tumbling { size_ms } | WindowSpec::Sliding { size_ms, .. } => size_ms,
        WindowSpec::Session { gap_ms } => gap_ms,
        WindowSpec::Burst { within_ms, .. } => within_ms,
        WindowSpec::Each => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "mini"
[matrix]
jobs = ["tumbling"]
engines = ["continuous"]
"#;

    #[test]
    fn every_suite_that_ships_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).expect("the suites folder") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                Suite::from_file(&path, &crate::engine::examples())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                read += 1;
            }
        }
        assert!(read >= 5, "only {read} suites in {}", dir.display());
    }

    #[test]
    fn repeated_kills_fall_inside_the_run_the_same_way_for_a_seed() {
        let plan = FaultPlan::Kills {
            times: 5,
            seed: 7,
            restart_after_s: 1.0,
        };
        let moments: Vec<f64> = plan.strikes(60.0).iter().map(|(at_s, _)| *at_s).collect();
        assert_eq!(moments.len(), 5);
        assert!(moments.iter().all(|t| (6.0..=54.0).contains(t)), "{moments:?}");
        assert!(moments.windows(2).all(|w| w[0] <= w[1]), "{moments:?}");
        assert_eq!(plan.strikes(60.0), plan.strikes(60.0));
        assert!(plan.condition().is_none(), "seeded kills land anywhere");
        let other = FaultPlan::Kills {
            times: 5,
            seed: 8,
            restart_after_s: 1.0,
        };
        assert_ne!(plan.strikes(60.0), other.strikes(60.0));
        assert_eq!(plan.restart_after_s(), 1.0);
        let none = Suite::parse(
            &format!("{MINIMAL}faults = [{{ kind = \"kills\", times = 0, seed = 1, restart_after_s = 1 }}]"),
            "t",
            &crate::engine::examples(),
        );
        assert!(none.is_err());
    }

    #[test]
    fn a_crash_of_the_broker_or_the_database_is_a_service_fault_struck_once() {
        for kind in ["broker_crash", "database_crash"] {
            let suite = Suite::parse(
                &format!(
                    "{MINIMAL}faults = [{{ kind = \"{kind}\", at_s = 4, after = {{ checkpoints = 1 }}, restart_after_s = 2 }}]"
                ),
                "t", &crate::engine::examples()
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let fault = &suite.matrix.faults[0];
            assert!(fault.stops_a_service(), "{kind}");
            assert_eq!(fault.strikes(30.0).len(), 1, "{kind}");
            assert_eq!(fault.strikes(30.0)[0].0, 4.0, "{kind}");
            assert_eq!(fault.condition().map(|c| c.checkpoints), Some(1), "{kind}");
            let negative = Suite::parse(
                &format!("{MINIMAL}faults = [{{ kind = \"{kind}\", restart_after_s = -1 }}]"),
                "t",
                &crate::engine::examples(),
            );
            assert!(negative.is_err(), "{kind}: a negative restart delay is refused");
        }
    }

    #[test]
    fn a_fault_can_wait_for_what_the_engine_has_done() {
        let suite = Suite::parse(
            &format!(
                "{MINIMAL}faults = [{{ kind = \"kill\", after = {{ checkpoints = 2, behind_at_most_s = 1.5 }}, restart_after_s = 1 }}]"
            ),
            "t", &crate::engine::examples()
        )
        .expect("a kill after two checkpoints");
        let fault = &suite.matrix.faults[0];
        let condition = fault.condition().expect("the condition");
        assert_eq!(condition.checkpoints, 2);
        assert_eq!(condition.behind_at_most_s, Some(1.5));
        assert_eq!(condition.within_s, 120.0, "the default deadline");
        assert_eq!(fault.strikes(30.0), vec![(0.0, Some(condition))]);
        assert!(!condition.label().contains(' '), "{}", condition.label());
        assert!(
            condition.describe().contains("2 completed checkpoints"),
            "{}",
            condition.describe()
        );
        for bad in [
            "after = { }",
            "after = { checkpoints = 1, within_s = 0 }",
            "after = { behind_at_most_s = -1 }",
            "after = { checkpoint = 1 }",
        ] {
            let text = format!("{MINIMAL}faults = [{{ kind = \"pause\", duration_s = 1, {bad} }}]");
            assert!(
                Suite::parse(&text, "t", &crate::engine::examples()).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn every_suite_file_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
        let mut parsed = 0;
        for entry in std::fs::read_dir(&dir).expect("suites folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let suite =
                    Suite::from_file(&path, &crate::engine::examples()).unwrap_or_else(|e| panic!("{e}"));
                assert!(!suite.job_specs().expect("jobs").is_empty());
                parsed += 1;
            }
        }
        assert!(parsed >= 7, "only {parsed} suites");
    }

    #[test]
    fn a_replayed_file_is_read_from_the_suites_folder_before_anything_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let suite = |jobs: &str, file: &str| {
            let text = format!(
                r#"
name = "replay"
[workload]
source = {{ file = "{file}" }}
[schemas.reading]
time = "t"
kafka_key = "sensor"
id = "n"
fields = [{{ name = "n", type = "integer" }}, {{ name = "t", type = "timestamp" }}, {{ name = "sensor", type = "string" }}]
[jobs.per_sensor]
input = "reading"
window = {{ kind = "tumbling", size_ms = 1000 }}
aggregates = ["count"]
[matrix]
jobs = [{jobs}]
engines = ["continuous"]
"#
            );
            let path = dir.path().join("suite.toml");
            std::fs::write(&path, text).expect("write");
            Suite::from_file(&path, &crate::engine::examples()).map_err(|e| e.to_string())
        };
        let lines = "{\"n\":0,\"t\":5,\"sensor\":\"a\"}\n{\"n\":1,\"t\":2,\"sensor\":\"b\"}\n";
        std::fs::write(dir.path().join("readings.jsonl"), lines).expect("write");
        let read = suite("\"per_sensor\"", "readings.jsonl").expect("a suite");
        let scenarios = crate::scenario::expand(&read).expect("scenarios");
        assert!(
            !scenarios[0].may_have_late_events(),
            "its largest lag, 3 ms, is within 5 s"
        );
        let mut strict = scenarios[0].clone();
        strict.job.watermark_delay_ms = 3;
        assert!(
            strict.may_have_late_events(),
            "a lag of 3 ms reaches a 3 ms watermark delay"
        );
        let source = read.workload.source.expect("a source");
        assert_eq!(
            source.file,
            dir.path().join("readings.jsonl"),
            "taken from the suite's folder"
        );
        let missing = suite("\"per_sensor\"", "gone.jsonl").expect_err("refused");
        assert!(
            missing.contains("[workload] workload setting `source`: cannot read"),
            "{missing}"
        );
        let built_in = suite("\"per_sensor\", \"tumbling\"", "readings.jsonl").expect_err("refused");
        assert!(
            built_in.contains("job `tumbling` reads the built-in measurement events"),
            "{built_in}"
        );
    }

    #[test]
    fn checkpoints_can_be_off_in_the_interval_list() {
        let text = MINIMAL.replace(
            "[matrix]\n",
            "[matrix]\ncheckpoint_interval_ms = [\"off\", 500]\n",
        );
        let suite = Suite::parse(&text, "off.toml", &crate::engine::examples()).expect("valid");
        assert_eq!(suite.matrix.checkpoint_interval_ms, vec![None, Some(500)]);
        let back: Suite = toml::from_str(&toml::to_string(&suite).expect("serialise")).expect("parse");
        assert_eq!(back.matrix.checkpoint_interval_ms, vec![None, Some(500)]);
        let bad = MINIMAL.replace("[matrix]\n", "[matrix]\ncheckpoint_interval_ms = [\"never\"]\n");
        let message = Suite::parse(&bad, "bad.toml", &crate::engine::examples())
            .expect_err("never")
            .to_string();
        assert!(message.contains("bad.toml"), "{message}");
    }

    #[test]
    fn engine_settings_are_axes_checked_for_what_the_suite_alone_can_tell() {
        let text =
            format!("{MINIMAL}\n[settings.continuous]\nparallelism = [1, 2]\nwatermark_interval_ms = 50\n");
        let suite = Suite::parse(&text, "s.toml", &crate::engine::examples()).expect("valid");
        let combinations = suite.settings_of(EngineName::CONTINUOUS);
        assert_eq!(combinations.len(), 2);
        assert_eq!(combinations[1]["parallelism"], SettingValue::Integer(2));
        assert_eq!(
            combinations[1]["watermark_interval_ms"],
            SettingValue::Integer(50)
        );
        assert_eq!(suite.settings_of(EngineName::new("flink")), vec![Settings::new()]);
        assert_eq!(
            suite.setting_place(EngineName::CONTINUOUS, "parallelism"),
            "line 8, column 15"
        );
        for (extra, needle) in [
            ("[settings.flink]\nparallelism = 2\n", "not in matrix.engines"),
            (
                "[settings.continuous]\ntrigger_interval_ms = 5\n",
                "continuous takes checkpoint_interval_ms, not trigger_interval_ms",
            ),
            (
                "[settings.continuous]\ncheckpoint_interval_ms = -5\n",
                "-5 is not a positive number of milliseconds or \"off\"",
            ),
            ("[settings.continuous]\nparallelism = []\n", "empty list"),
            ("[settings.nope]\nparallelism = 2\n", "nope"),
        ] {
            let message = Suite::parse(
                &format!("{MINIMAL}{extra}"),
                "bad.toml",
                &crate::engine::examples(),
            )
            .expect_err(extra)
            .to_string();
            assert!(
                message.contains("bad.toml") && message.contains(needle),
                "{message}"
            );
        }
    }

    #[test]
    fn an_engine_may_replace_its_own_kind_of_interval() {
        let text = r#"
name = "peers"
[matrix]
jobs = ["tumbling"]
engines = ["continuous", "microbatch", "flink", "spark"]
checkpoint_interval_ms = [1000, 10000]
trigger_interval_ms = [100, 5000]
[settings.flink]
checkpoint_interval_ms = "off"
[settings.spark]
trigger_interval_ms = [1000, "off"]
"#;
        let suite = Suite::parse(text, "peers.toml", &crate::engine::examples()).expect("valid");
        assert_eq!(
            suite.intervals_of(EngineName::CONTINUOUS, &suite.matrix),
            [(Some(1000), None), (Some(10_000), None)]
        );
        assert_eq!(
            suite.intervals_of(EngineName::MICROBATCH, &suite.matrix),
            [(None, Some(100)), (None, Some(5000))]
        );
        assert_eq!(
            suite.intervals_of(EngineName::new("flink"), &suite.matrix),
            [(None, None)]
        );
        assert_eq!(
            suite.intervals_of(EngineName::new("spark"), &suite.matrix),
            [(None, Some(1000)), (None, None)]
        );
        assert_eq!(suite.settings_of(EngineName::new("spark")), vec![Settings::new()]);
        let scenarios = crate::scenario::expand(&suite).expect("expand");
        let labels: Vec<String> = scenarios.iter().map(|s| s.setting_label()).collect();
        assert_eq!(
            labels,
            [
                "tumbling continuous upsert checkpoint-1s",
                "tumbling continuous upsert",
                "tumbling microbatch upsert trigger-0.1s",
                "tumbling microbatch upsert trigger-5s",
                "tumbling flink upsert checkpoints-off",
                "tumbling spark upsert",
                "tumbling spark upsert trigger-off",
            ]
        );
    }

    #[test]
    fn an_engine_the_suite_was_not_given_is_refused_with_its_place() {
        let text = MINIMAL.replace("[\"continuous\"]", "[\"continuous\", \"storm\"]");
        let message = Suite::parse(&text, "new.toml", &crate::engine::examples())
            .expect_err("storm is no engine here")
            .to_string();
        assert!(
            message.contains("new.toml")
                && message.contains("matrix.engines: no engine \"storm\" (line 5, column 26)"),
            "{message}"
        );
        assert!(
            message.contains("continuous, microbatch, spark, flink"),
            "{message}"
        );
        let mut engines = crate::engine::examples();
        engines.push(crate::engine::EngineProfile {
            name: EngineName::new("storm"),
            ..engines[0]
        });
        Suite::parse(&text, "new.toml", &engines).expect("an engine the registry gives is taken");
    }

    #[test]
    fn a_minimal_suite_takes_the_defaults() {
        let suite = Suite::parse(MINIMAL, "mini.toml", &crate::engine::examples()).expect("valid");
        assert_eq!(suite.matrix.delivery, vec![DeliveryMode::Upsert]);
        assert_eq!(suite.workload, WorkloadSpec::default());
    }

    #[test]
    fn an_unknown_field_is_named_with_line_and_column() {
        let text = format!("{MINIMAL}\n[workload]\nsede = 4\n");
        let message = Suite::parse(&text, "typo.toml", &crate::engine::examples())
            .expect_err("unknown field")
            .to_string();
        assert!(
            message.contains("typo.toml") && message.contains("sede"),
            "{message}"
        );
        assert!(
            message.contains("line 8") && message.contains("column 1"),
            "{message}"
        );
    }

    #[test]
    fn a_lag_beyond_the_watermark_is_refused_only_where_the_oracle_cannot_judge_it() {
        let tail = "[workload.out_of_order]\nfraction = 0.1\nmax_delay_ms = 60000\n";
        let tumbling = format!("{MINIMAL}{tail}");
        Suite::parse(&tumbling, "tail.toml", &crate::engine::examples())
            .expect("a tumbling window takes or drops an event whole");
        let sliding = tumbling.replace("\"tumbling\"", "\"sliding\"");
        let message = Suite::parse(&sliding, "tail.toml", &crate::engine::examples())
            .expect_err("sliding")
            .to_string();
        assert!(
            message.contains("max_delay_ms") && message.contains("sliding"),
            "{message}"
        );
    }

    #[test]
    fn a_watermark_axis_runs_each_job_at_each_delay() {
        let text = MINIMAL.replace(
            "engines = [\"continuous\"]",
            "engines = [\"continuous\"]\nwatermark_delay_ms = [500, 2000]",
        );
        let suite = Suite::parse(&text, "sweep.toml", &crate::engine::examples()).expect("suite");
        let delays: Vec<(i64, Option<i64>)> = suite
            .job_variants(&suite.matrix)
            .expect("variants")
            .iter()
            .map(|(job, swept)| (job.watermark_delay_ms, *swept))
            .collect();
        assert_eq!(delays, [(500, Some(500)), (2000, Some(2000))]);
        let bad = MINIMAL.replace(
            "engines = [\"continuous\"]",
            "engines = [\"continuous\"]\nwatermark_delay_ms = [-1]",
        );
        let message = Suite::parse(&bad, "sweep.toml", &crate::engine::examples())
            .expect_err("negative")
            .to_string();
        assert!(message.contains("watermark"), "{message}");
    }

    #[test]
    fn bad_values_are_refused_with_the_file_and_setting() {
        for (extra, needle) in [
            (
                "[workload]\nrate = { kind = \"constant\", events_per_s = -5 }\n",
                "events_per_s",
            ),
            (
                "[workload.late]\nfraction = 0.1\ndelay_ms = 1000\n",
                "late.delay_ms",
            ),
            ("[jobs.sliding]\nwatermark_delay_ms = 1\n", "not in matrix.jobs"),
        ] {
            let text = format!("{MINIMAL}{extra}");
            let message = Suite::parse(&text, "bad.toml", &crate::engine::examples())
                .expect_err(extra)
                .to_string();
            assert!(
                message.contains("bad.toml") && message.contains(needle),
                "{message}"
            );
        }
        let unknown_job = MINIMAL.replace("\"tumbling\"", "\"nope\"");
        let message = Suite::parse(&unknown_job, "bad.toml", &crate::engine::examples())
            .expect_err("unknown job")
            .to_string();
        assert!(message.contains("unknown job \"nope\""), "{message}");
        let bad_name = MINIMAL.replace("\"mini\"", "\"x; drop table y\"");
        assert!(Suite::parse(&bad_name, "bad.toml", &crate::engine::examples()).is_err());
    }
}
