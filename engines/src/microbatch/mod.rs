//! The micro-batch engine: Spark Structured Streaming's model. A trigger
//! starts a batch; its offset range and watermark go to the offset log
//! before it runs; it is read by parallel tasks that decode as they read
//! ([`reader`]) into a polars DataFrame and aggregated there ([`frame`])
//! or, for a per-event job, evaluated against the rule's state
//! ([`rule`]); the result merges into a state store versioned per batch
//! ([`state`]); results are written, then the commit log. A batch planned
//! but not committed is re-run with exactly the same offsets and watermark.

pub mod frame;
mod reader;
pub mod rule;
mod runtime;
pub mod state;

pub use runtime::{BatchProgress, CommitEntry, ENGINE, MicrobatchSettings, OffsetEntry, OutputMode, run};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use streambench_workloads::engine::{EngineName, EngineProfile};
use streambench_workloads::format::Format;

use crate::options::{self, Interval};
use crate::registry::Entry;

/// `streambench engine microbatch`'s settings: its flags, and its keys in
/// a suite's `[settings.microbatch]`.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MicrobatchOptions {
    /// Tasks reading and decoding the topic's partitions in parallel, each
    /// with its own consumer (Spark: one task per Kafka partition, as many
    /// at once as the executor has cores); at most one per partition.
    #[arg(long, default_value_t = 1)]
    pub parallelism: usize,
    /// Milliseconds between batch starts (a batch that overruns is followed
    /// at once), or `off` for batches back to back.
    #[arg(long, default_value = "1000")]
    pub trigger_interval_ms: Interval,
    /// At most this many records per batch (Spark's maxOffsetsPerTrigger).
    #[arg(long)]
    pub max_offsets_per_trigger: Option<u64>,
    /// `append` (each window once, when final) or `update` (changed windows every batch).
    #[arg(long, value_enum, default_value = "append")]
    pub output_mode: OutputMode,
    /// Milliseconds without records after which a partition stops holding the watermark back.
    #[arg(long, default_value_t = 10_000)]
    pub idle_timeout_ms: u64,
}

impl Default for MicrobatchOptions {
    fn default() -> MicrobatchOptions {
        options::defaults()
    }
}

impl MicrobatchOptions {
    /// The runtime's settings.
    pub fn settings(&self) -> MicrobatchSettings {
        MicrobatchSettings {
            parallelism: self.parallelism,
            trigger_interval: self.trigger_interval_ms.0.unwrap_or(Duration::ZERO),
            max_offsets_per_trigger: self.max_offsets_per_trigger,
            output_mode: self.output_mode,
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
        }
    }
}

/// The micro-batch engine's registry entry.
pub static ENTRY: Entry<MicrobatchOptions> = Entry {
    profile: EngineProfile {
        name: EngineName::MICROBATCH,
        triggered: true,
        transactional: true,
        reports_late_window_events: true,
        counts_reads_exactly: true,
        formats: &Format::ALL,
    },
    about: "Micro-batches computed with polars (Spark Structured Streaming's model).",
    run: |job, options, _| Box::pin(run(job, options.settings())),
    cannot_run: crate::registry::runs_every_job,
    install: crate::registry::nothing_to_install,
};
