//! The continuous engine: Flink's model in one process. N reader threads
//! ([`reader`]) read Kafka's partitions and decode each record on arrival;
//! a source thread routes it by key to one of N worker threads, each
//! owning the window state of its keys ([`operator`]), or for per-event jobs the rule state ([`rule`]);
//! watermarks and checkpoint barriers flow through the same channels as
//! the events, so a barrier cuts every worker's state exactly
//! at the source offsets it carries (Chandy-Lamport, as in Flink's
//! asynchronous barrier snapshots). A coordinator collects results and
//! state: it writes results as they fire (`insert`, `upsert`) or per
//! checkpoint epoch with the offsets (`transactional`), and writes each
//! checkpoint before the offsets it covers are committed anywhere.

pub mod operator;
mod reader;
pub mod rule;
mod runtime;

pub use runtime::{ContinuousSettings, run};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use streambench_workloads::engine::{EngineName, EngineProfile};
use streambench_workloads::format::Format;

use crate::options::{self, Interval};
use crate::registry::Entry;

/// `streambench engine continuous`'s settings: its flags, and its keys in
/// a suite's `[settings.continuous]`.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContinuousOptions {
    /// Reader threads (each with its own consumer, at most one per
    /// partition) and keyed worker threads: Flink's parallelism.
    #[arg(long, default_value_t = 1)]
    pub parallelism: usize,
    /// Milliseconds between checkpoints, or `off`.
    #[arg(long, default_value = "10000")]
    pub checkpoint_interval_ms: Interval,
    /// Milliseconds between watermark updates.
    #[arg(long, default_value_t = 200)]
    pub watermark_interval_ms: u64,
    /// Milliseconds without records after which a partition stops holding the watermark back.
    #[arg(long, default_value_t = 10_000)]
    pub idle_timeout_ms: u64,
}

impl Default for ContinuousOptions {
    fn default() -> ContinuousOptions {
        options::defaults()
    }
}

impl ContinuousOptions {
    /// The runtime's settings.
    pub fn settings(&self) -> ContinuousSettings {
        ContinuousSettings {
            parallelism: self.parallelism,
            checkpoint_interval: self.checkpoint_interval_ms.0,
            watermark_interval: Duration::from_millis(self.watermark_interval_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
        }
    }
}

/// The continuous engine's registry entry.
pub static ENTRY: Entry<ContinuousOptions> = Entry {
    profile: EngineProfile {
        name: EngineName::CONTINUOUS,
        triggered: false,
        transactional: true,
        reports_late_window_events: true,
        counts_reads_exactly: true,
        formats: &Format::ALL,
    },
    about: "Event by event (Flink's model).",
    run: |job, options, _| Box::pin(run(job, options.settings())),
    cannot_run: crate::registry::runs_every_job,
    install: crate::registry::nothing_to_install,
};
