//! Spark's real-time mode as an engine: Spark's own answer to "stream or
//! micro-batch?", the same PySpark job as the `spark` engine with a
//! real-time trigger. Its tasks run for a whole (long) batch and process
//! each record as it arrives; the batch duration is only the checkpoint
//! interval (the Structured Streaming guide's "Real-time Mode" page, "Batch
//! Duration Is a Checkpoint Interval"). Spark 4.2.0, the newest whose Kafka
//! connector is served here, runs stateless queries only in this mode, so
//! this engine runs the per-event job `alerts` and refuses the rest with
//! the reason.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use streambench_workloads::declared_sql::Dialect;
use streambench_workloads::engine::{EngineName, EngineProfile};
use streambench_workloads::format::Format;
use streambench_workloads::job::JobSpec;
use streambench_workloads::window::WindowSpec;

use super::spark::{SparkMode, SparkSettings, StateStore, run};
use crate::options::Interval;
use crate::registry::Entry;

/// The engine's name in suites, on the command line and in results.
pub const NAME: EngineName = EngineName::new("spark_realtime");

/// The shortest batch duration Spark accepts in real-time mode by default
/// (`spark.sql.streaming.realTimeMode.minBatchDuration`).
pub const MIN_BATCH_DURATION: Duration = Duration::from_secs(5);

/// Spark's default batch duration in real-time mode, taken for `off`.
pub const DEFAULT_BATCH_DURATION: Duration = Duration::from_secs(300);

/// Real-time mode's batch duration, which is its checkpoint interval: at
/// least [`MIN_BATCH_DURATION`]; `off` is Spark's default, five minutes
/// (real-time mode always checkpoints at the end of a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchDuration(pub Duration);

impl std::str::FromStr for BatchDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<BatchDuration, String> {
        let Interval(interval) = text.parse()?;
        let duration = interval.unwrap_or(DEFAULT_BATCH_DURATION);
        if duration < MIN_BATCH_DURATION {
            return Err(format!(
                "{} ms is below real-time mode's shortest batch duration, {} ms \
                 (spark.sql.streaming.realTimeMode.minBatchDuration); the batch duration is \
                 its checkpoint interval, not its latency",
                duration.as_millis(),
                MIN_BATCH_DURATION.as_millis()
            ));
        }
        Ok(BatchDuration(duration))
    }
}

impl std::fmt::Display for BatchDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.as_millis())
    }
}

impl Serialize for BatchDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BatchDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BatchDuration, D::Error> {
        let interval = Interval::deserialize(deserializer)?;
        interval.to_string().parse().map_err(serde::de::Error::custom)
    }
}

/// `streambench engine spark_realtime`'s settings: its flags, and its keys
/// in a suite's `[settings.spark_realtime]`.
#[derive(Debug, Clone, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparkRealtimeOptions {
    /// Milliseconds between checkpoints: real-time mode's batch duration
    /// (at least 5000), or `off` for Spark's default of five minutes.
    #[arg(long, default_value = "5000")]
    pub checkpoint_interval_ms: BatchDuration,
    /// Spark's master: `local[N]` or a cluster's URL (`spark://host:7077`).
    /// Real-time mode holds a task slot per input partition for a whole
    /// batch, and the dead-letter query needs slots beside them: N (task
    /// slots, not cores) is at least twice the topic's partitions.
    #[arg(long, default_value = "local[8]")]
    pub master: String,
}

impl Default for SparkRealtimeOptions {
    fn default() -> SparkRealtimeOptions {
        crate::options::defaults()
    }
}

impl SparkRealtimeOptions {
    /// The adapter's settings.
    pub fn settings(&self) -> SparkSettings {
        SparkSettings {
            mode: SparkMode::RealTime,
            master: self.master.clone(),
            trigger_interval: self.checkpoint_interval_ms.0,
            max_offsets_per_trigger: None,
            // A stateless query has no shuffle and no state.
            shuffle_partitions: 1,
            state_store: StateStore::Hdfs,
        }
    }
}

/// Why real-time mode cannot run `job`, if it cannot.
fn cannot_run(job: &JobSpec) -> Option<String> {
    if let Some(reason) = super::driver::cannot_run_in(job, Dialect::Spark) {
        return Some(reason);
    }
    match job.window {
        WindowSpec::Each => None,
        _ => Some(
            "Spark 4.2.0's real-time mode runs stateless queries only; streaming aggregations, \
             windows included, come in Spark 4.3.0, whose Kafka connector (spark-sql-kafka-0-10_2.13) \
             Maven Central does not serve here"
                .to_string(),
        ),
    }
}

/// Real-time mode's registry entry.
pub static ENTRY: Entry<SparkRealtimeOptions> = Entry {
    profile: EngineProfile {
        name: NAME,
        // Its trigger's duration is a checkpoint interval.
        triggered: false,
        // Its ForeachWriter commits row by row: no exactly-once sink.
        transactional: false,
        reports_late_window_events: false,
        counts_reads_exactly: false,
        // Its adapter reads JSON only so far.
        formats: &[Format::Json],
    },
    about: "Apache Spark's real-time mode (Spark 4.1+): the spark engine's job with a real-time trigger; stateless jobs only.",
    run: |job, options, tools| Box::pin(async move { run(job, options.settings(), tools.spark()?).await }),
    cannot_run,
    install: |tools| tools.spark().map(drop),
};

#[cfg(test)]
mod tests {
    use super::*;
    use streambench_workloads::job::catalogue_job;

    #[test]
    fn the_batch_duration_is_at_least_spark_s_minimum_and_off_is_its_default() {
        assert_eq!("5000".parse(), Ok(BatchDuration(Duration::from_secs(5))));
        assert_eq!("off".parse(), Ok(BatchDuration(DEFAULT_BATCH_DURATION)));
        let refused = "1000".parse::<BatchDuration>().expect_err("below the minimum");
        assert!(refused.contains("minBatchDuration"), "{refused}");
        let from_suite: BatchDuration = serde_json::from_str("10000").expect("an integer");
        assert_eq!(from_suite, BatchDuration(Duration::from_secs(10)));
        assert!(serde_json::from_str::<BatchDuration>("1000").is_err());
    }

    #[test]
    fn only_stateless_jobs_run() {
        assert_eq!(cannot_run(&catalogue_job("alerts").expect("alerts")), None);
        for name in ["tumbling", "ysb", "session", "fraud"] {
            let reason = cannot_run(&catalogue_job(name).expect(name)).expect(name);
            assert!(reason.contains("stateless"), "{name}: {reason}");
        }
    }
}
