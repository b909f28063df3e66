//! The micro-batch engine's trigger loop and batch protocol, as Spark's
//! MicroBatchExecution runs them: plan a batch's offset range, write it (and
//! the watermark in force) to `offsets/N`, read exactly that range, compute
//! it, commit state version N + 1, write the results, then `commits/N`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::job::CampaignTable;
use streambench_workloads::per_event::RuleState;
use streambench_workloads::window::{WindowAggregate, WindowKey, WindowSpec};

use super::frame::{Decode, OwnedRecord, aggregate, campaign_frame};
use super::reader::{BatchInput, BatchReader, Collect};
use super::rule;
use super::state::{Delta, StateStore, WindowState, Windows, apply};
use crate::batch_log::BatchLog;
use crate::crash;
use crate::engine::{JobRun, Observability, RunSummary};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::output::{OutputBatch, WindowResult};
use crate::record::Interpreter;
use crate::sink::PostgresSink;
use crate::source::{KafkaSource, Offsets};
use crate::start::StartPosition;
use crate::watermark::WatermarkTracker;

/// The engine's name in result rows and reports.
pub const ENGINE: &str = streambench_workloads::engine::EngineName::MICROBATCH.as_str();

/// When windows are written, as Spark's output modes define it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// Once per window, final, when the watermark passes its end + lateness.
    #[default]
    Append,
    /// Every batch, each window whose aggregate changed (a new revision).
    Update,
}

/// How the micro-batch engine runs, beyond what every engine is given.
#[derive(Debug, Clone)]
pub struct MicrobatchSettings {
    /// Tasks reading (and decoding) the topic's partitions in parallel.
    pub parallelism: usize,
    /// Time between batch starts (a batch that overruns is followed at once).
    pub trigger_interval: Duration,
    /// At most this many records per batch, spread over partitions by lag.
    pub max_offsets_per_trigger: Option<u64>,
    /// Append or update.
    pub output_mode: OutputMode,
    /// A partition without records for this long stops holding the watermark back.
    pub idle_timeout: Duration,
}

impl Default for MicrobatchSettings {
    fn default() -> Self {
        MicrobatchSettings {
            parallelism: 1,
            trigger_interval: Duration::from_secs(1),
            max_offsets_per_trigger: None,
            output_mode: OutputMode::Append,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// `offsets/N`: what batch N reads and the watermark it runs under, written
/// before it runs so a re-run is identical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffsetEntry {
    /// First offset per partition.
    pub start: Offsets,
    /// End (exclusive) per partition.
    pub end: Offsets,
    /// The watermark in force (`None` before the first; `i64::MAX` for the
    /// final batch of a bounded run).
    pub watermark_ms: Option<i64>,
}

/// `commits/N`: batch N's results are written; what the next batch starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitEntry {
    /// The watermark after batch N, in force for batch N + 1.
    pub next_watermark_ms: Option<i64>,
    /// Per partition, the latest event time kept up to batch N, from which
    /// later watermarks are derived.
    #[serde(default)]
    pub max_event_times: BTreeMap<i32, i64>,
}

/// One batch's progress, as Spark's StreamingQueryProgress reports it:
/// appended as a JSON line to `progress.jsonl` in the checkpoint directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchProgress {
    /// The batch.
    pub batch_id: u64,
    /// When it started, ms since the epoch.
    pub timestamp_ms: i64,
    /// Records read.
    pub input_rows: u64,
    /// Records over the time since the previous batch started.
    pub input_rows_per_s: f64,
    /// Records over the batch's own duration.
    pub processed_rows_per_s: f64,
    /// How long the batch started after its trigger was due.
    pub trigger_delay_ms: f64,
    /// Milliseconds per step: get_offsets, wal_commit, read_and_decode (overlapped), compute, state_commit,
    /// sink, commit_log, and trigger_execution for the whole batch.
    pub durations_ms: BTreeMap<String, f64>,
    /// The watermark in force for the batch.
    pub watermark_ms: Option<i64>,
    /// Windows in the state after the batch.
    pub state_rows: u64,
    /// Bytes the state version took on disk.
    pub state_bytes: u64,
    /// Rows written to the result table.
    pub results_written: u64,
    /// Late events.
    pub late_rows: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

/// What computing one batch gave, before anything is written.
struct Computed {
    output: OutputBatch,
    /// The state changes.
    delta: Delta,
    /// Events the job kept.
    kept: usize,
    /// The latest event time kept, per partition.
    max_event_time_ms: BTreeMap<i32, i64>,
}

/// How a batch came to run, for its progress line.
#[derive(Debug, Clone, Copy, Default)]
struct Trigger {
    /// Planning its offsets.
    get_offsets_ms: f64,
    /// How late after the due time it started.
    delay_ms: f64,
    /// Time since the previous batch started, for the input rate.
    since_previous_s: f64,
}

/// The point the engine resumes from.
struct Resume {
    batch: u64,
    /// A batch planned but never committed: re-run it exactly.
    rerun: Option<OffsetEntry>,
    next_start: Option<Offsets>,
    watermark_ms: Option<i64>,
    /// Per partition, the latest event time kept before the batch to run.
    max_event_times: BTreeMap<i32, i64>,
}

/// Runs `job` in micro-batches until stopped (or, bounded, until the topic
/// as it was at the start is processed and every window written).
pub async fn run(job: JobRun, settings: MicrobatchSettings) -> Result<RunSummary> {
    let started = Instant::now();
    let mut sink = PostgresSink::connect(job.sink_config(ENGINE)?).await?;
    let offsets_log = BatchLog::open(&job.checkpoint_dir, "offsets")?;
    let commits_log = BatchLog::open(&job.checkpoint_dir, "commits")?;
    let state_store = StateStore::open(&job.checkpoint_dir)?.with_key_names(job.key_names.clone());
    let source = job.connect_source().await?;
    let reader = connect_reader(&job, &source, settings.parallelism).await?;
    let mut resume = resume_point(&job, &offsets_log, &commits_log)?;
    let committed_epoch = match job.delivery {
        DeliveryMode::Transactional => sink.committed_epoch().await?.map(|c| c.epoch),
        _ => None,
    };
    let fresh = resume.rerun.is_none() && resume.next_start.is_none();
    if fresh {
        // Batch numbers never repeat within a checkpoint location or an
        // offsets-table group, so a fresh start is never mistaken for a re-run.
        resume.batch = resume.batch.max(committed_epoch.map_or(0, |c| c + 1));
        state_store.write_snapshot(resume.batch, &Windows::new())?;
    }
    let (first_start, bounded_end) = start_and_end(&job, &source, &resume).await?;
    let mut event_time = WatermarkTracker::new(
        source.partitions().iter().copied(),
        job.job.watermark_delay_ms,
        settings.idle_timeout,
    );
    event_time.restore(&resume.max_event_times, resume.watermark_ms);
    let windows = state_store.load(resume.batch)?;
    let decode = Decode::of(
        &job.job,
        job.workload_seed,
        job.workload_keys,
        job.workload_format,
        &job.key_names,
    )?;
    let rule = match job.job.window.is_per_event() {
        true => Some((rule::state_of(&job.job, &windows), job.interpreter()?)),
        false => None,
    };
    let mut engine = BatchEngine {
        campaigns: campaign_frame(&CampaignTable::new(job.workload_seed, job.workload_keys))
            .map_err(|e| Error::Internal(format!("building the campaign table: {e}")))?,
        rule,
        decode,
        job: &job,
        settings: &settings,
        source: source.clone(),
        sink: &mut sink,
        offsets_log,
        commits_log,
        windows,
        state_store,
        metrics: Arc::new(Metrics::new()),
        committed_epoch,
        reader,
        event_time,
    };
    tracing::info!(batch = resume.batch, rerun = resume.rerun.is_some(), start = ?first_start, "micro-batch engine starting");

    let observability = Observability::start(&job, ENGINE, &engine.metrics, &engine.source).await?;
    engine.metrics.set_positions(&first_start);
    let outcome = batches(
        &mut engine,
        &job,
        &settings,
        resume,
        first_start.clone(),
        bounded_end,
    )
    .await;
    observability.stop();
    let next_start = outcome?;
    Ok(RunSummary::from_metrics(
        ENGINE,
        &engine.metrics,
        first_start,
        next_start,
        started,
    ))
}

/// The batch reader, its `parallelism` tasks' consumers connected.
async fn connect_reader(job: &JobRun, source: &Arc<KafkaSource>, parallelism: usize) -> Result<BatchReader> {
    let (source, config) = (source.clone(), job.source_config());
    tokio::task::spawn_blocking(move || BatchReader::connect(source, &config, parallelism))
        .await
        .map_err(|e| Error::Internal(format!("source start-up failed: {e}")))?
}

/// Where the first batch starts (the logs' resume point, or `job.start`),
/// and, when the run is bounded, the end of what the topic holds now.
async fn start_and_end(
    job: &JobRun,
    source: &Arc<KafkaSource>,
    resume: &Resume,
) -> Result<(Offsets, Option<Offsets>)> {
    let source = source.clone();
    let position = if resume.next_start.is_some() || resume.rerun.is_some() {
        StartPosition::Checkpoint
    } else {
        job.start
    };
    let restored = resume
        .rerun
        .as_ref()
        .map(|e| e.start.clone())
        .or(resume.next_start.clone());
    let bounded = job.bounded;
    tokio::task::spawn_blocking(move || {
        let start = source.resolve(position, restored.as_ref())?;
        let end: Option<Offsets> = if bounded {
            Some(
                source
                    .watermarks()?
                    .into_iter()
                    .map(|(p, (_, high))| (p, high))
                    .collect(),
            )
        } else {
            None
        };
        Ok::<_, Error>((start, end))
    })
    .await
    .map_err(|e| Error::Internal(format!("source start-up failed: {e}")))?
}

/// The trigger loop: returns where the next batch would start.
async fn batches(
    engine: &mut BatchEngine<'_>,
    job: &JobRun,
    settings: &MicrobatchSettings,
    resume: Resume,
    first_start: Offsets,
    mut bounded_end: Option<Offsets>,
) -> Result<Offsets> {
    let mut batch = resume.batch;
    let mut watermark_ms = resume.watermark_ms;
    let mut next_start = first_start.clone();
    if let Some(entry) = resume.rerun {
        tracing::info!(batch, "re-running a batch that was planned but not committed");
        let after = engine.run_batch(batch, &entry, Trigger::default()).await?;
        next_start = entry.end.clone();
        watermark_ms = after;
        batch += 1;
    }
    let mut pending_no_data_batch = false;
    let mut previous_batch_at: Option<Instant> = None;
    let mut due_at = Instant::now();
    loop {
        let trigger_at = Instant::now();
        let planned = engine.plan(&next_start, bounded_end.as_ref()).await?;
        let get_offsets_ms = trigger_at.elapsed().as_secs_f64() * 1e3;
        let has_data = planned
            .iter()
            .any(|(p, end)| *end > next_start.get(p).copied().unwrap_or(0));
        let reached_end = bounded_end.as_ref().is_some_and(|end| {
            end.iter()
                .all(|(p, e)| next_start.get(p).copied().unwrap_or(0) >= *e)
        });
        let stop = job.stop.load(Ordering::Relaxed) && !job.drain_on_stop;
        if job.stop.load(Ordering::Relaxed) && job.drain_on_stop && bounded_end.is_none() {
            // Drain: what the topic holds now becomes the end of input.
            let source = engine.source.clone();
            let end: Offsets = tokio::task::spawn_blocking(move || source.end_offsets())
                .await
                .map_err(|e| Error::Internal(format!("reading offsets failed: {e}")))??;
            tracing::info!(?end, "stopping: draining to the topic's current end");
            bounded_end = Some(end);
            continue;
        }
        if has_data || pending_no_data_batch || reached_end {
            // A bounded run ends with one batch under the end-of-input
            // watermark, which writes every remaining window.
            let final_batch = reached_end && !has_data;
            let entry = OffsetEntry {
                start: next_start.clone(),
                end: planned.clone(),
                watermark_ms: if final_batch { Some(i64::MAX) } else { watermark_ms },
            };
            let trigger = Trigger {
                get_offsets_ms,
                delay_ms: trigger_at.saturating_duration_since(due_at).as_secs_f64() * 1e3,
                since_previous_s: previous_batch_at.map_or(0.0, |p| p.elapsed().as_secs_f64()),
            };
            previous_batch_at = Some(trigger_at);
            let after = engine.run_batch(batch, &entry, trigger).await?;
            pending_no_data_batch = has_data && after != watermark_ms;
            watermark_ms = after;
            next_start = planned;
            batch += 1;
            if final_batch {
                break;
            }
        }
        if stop {
            break;
        }
        let next_trigger = trigger_at + settings.trigger_interval;
        due_at = next_trigger;
        let now = Instant::now();
        if next_trigger > now && !(reached_end || bounded_end.is_some() && has_data) {
            tokio::time::sleep(next_trigger - now).await;
        }
    }
    Ok(next_start)
}

/// Where the logs say to resume: after the last committed batch, or at a
/// batch planned but not committed, which must be re-run as planned.
fn resume_point(job: &JobRun, offsets_log: &BatchLog, commits_log: &BatchLog) -> Result<Resume> {
    let planned = offsets_log.latest::<OffsetEntry>()?;
    let committed = commits_log.latest::<CommitEntry>()?;
    let fresh_batch = planned.as_ref().map_or(0, |(n, _)| n + 1);
    if job.start != StartPosition::Checkpoint {
        return Ok(Resume {
            batch: fresh_batch,
            rerun: None,
            next_start: None,
            watermark_ms: None,
            max_event_times: BTreeMap::new(),
        });
    }
    let Some((n, entry)) = planned else {
        return Ok(Resume {
            batch: 0,
            rerun: None,
            next_start: None,
            watermark_ms: None,
            max_event_times: BTreeMap::new(),
        });
    };
    match committed {
        Some((m, commit)) if m == n => Ok(Resume {
            batch: n + 1,
            rerun: None,
            next_start: Some(entry.end),
            watermark_ms: commit.next_watermark_ms,
            max_event_times: commit.max_event_times,
        }),
        Some((m, _)) if m + 1 != n => Err(Error::Checkpoint {
            path: job.checkpoint_dir.clone(),
            reason: format!(
                "the offset log ends at batch {n} but the commit log at batch {m}: more than one batch is \
                 uncommitted, which this engine never does; the checkpoint is damaged"
            ),
        }),
        previous => Ok(Resume {
            batch: n,
            watermark_ms: entry.watermark_ms,
            rerun: Some(entry),
            next_start: None,
            max_event_times: previous
                .map(|(_, commit)| commit.max_event_times)
                .unwrap_or_default(),
        }),
    }
}

struct BatchEngine<'a> {
    job: &'a JobRun,
    settings: &'a MicrobatchSettings,
    campaigns: DataFrame,
    /// Per-event jobs: the rule's state (kept equal to the stored windows)
    /// and the record interpreter its batches use instead of polars.
    rule: Option<(RuleState, Interpreter)>,
    /// How a windowed job's records become the batch's columns.
    decode: Decode,
    source: Arc<KafkaSource>,
    sink: &'a mut PostgresSink,
    offsets_log: BatchLog,
    commits_log: BatchLog,
    state_store: StateStore,
    /// The state after the last batch run.
    windows: Windows,
    metrics: Arc<Metrics>,
    /// Transactional mode: the last batch PostgreSQL has committed.
    committed_epoch: Option<u64>,
    /// Reads each batch's offset range.
    reader: BatchReader,
    /// Event-time progress per partition, from which each batch's
    /// watermark for the next is derived.
    event_time: WatermarkTracker,
}

impl BatchEngine<'_> {
    /// The end offsets of the next batch: what is there now, capped by the
    /// bounded end and by `max_offsets_per_trigger` (split by lag, as Spark does).
    async fn plan(&self, start: &Offsets, bounded_end: Option<&Offsets>) -> Result<Offsets> {
        let source = self.source.clone();
        let high = tokio::task::spawn_blocking(move || source.end_offsets())
            .await
            .map_err(|e| Error::Internal(format!("reading offsets failed: {e}")))??;
        let mut end: Offsets = high
            .iter()
            .map(|(p, high)| {
                let cap = bounded_end.and_then(|b| b.get(p).copied()).unwrap_or(i64::MAX);
                let from = start.get(p).copied().unwrap_or(0);
                (*p, (*high).min(cap).max(from))
            })
            .collect();
        if let Some(limit) = self.settings.max_offsets_per_trigger {
            let lag: BTreeMap<i32, i64> = end
                .iter()
                .map(|(p, e)| (*p, e - start.get(p).copied().unwrap_or(0)))
                .collect();
            let total: i64 = lag.values().sum();
            if total > limit as i64 {
                for (p, l) in &lag {
                    let share = ((*l as f64) * (limit as f64) / (total as f64)).floor() as i64;
                    end.insert(*p, start.get(p).copied().unwrap_or(0) + share.max(1).min(*l));
                }
            }
        }
        Ok(end)
    }

    /// Runs batch `n` as `entry` says: returns the watermark after it.
    async fn run_batch(&mut self, n: u64, entry: &OffsetEntry, trigger: Trigger) -> Result<Option<i64>> {
        let batch_started = Instant::now();
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut durations = BTreeMap::new();
        let mut step = Instant::now();
        let mut lap = |name: &str, durations: &mut BTreeMap<String, f64>| {
            durations.insert(name.to_string(), step.elapsed().as_secs_f64() * 1e3);
            step = Instant::now();
        };
        durations.insert("get_offsets".to_string(), trigger.get_offsets_ms);
        self.offsets_log.write(n, entry)?;
        lap("wal_commit", &mut durations);
        crash::point("microbatch.after_offsets_log");
        if entry
            .end
            .iter()
            .any(|(p, e)| *e > entry.start.get(p).copied().unwrap_or(0))
        {
            self.metrics.mark_first_record();
        }
        let collect = match self.rule {
            Some(_) => Collect::Records,
            None => Collect::Columns(self.decode.clone()),
        };
        let (input, input_rows) = self.reader.read(&entry.start, &entry.end, collect).await?;
        Metrics::add(&self.metrics.records_read, input_rows);
        lap("read_and_decode", &mut durations);

        let computed = self.compute(n, entry, input)?;
        self.count(&computed);
        let next_watermark_ms = self.next_watermark(entry, &computed.max_event_time_ms);
        let (delta, output) = (computed.delta, computed.output);
        apply(&mut self.windows, &delta);
        lap("compute", &mut durations);
        let state = self.state_store.write(n + 1, &delta, &self.windows)?;
        lap("state_commit", &mut durations);
        crash::point("microbatch.after_state");

        self.write_output(n, entry, &output).await?;
        lap("sink", &mut durations);
        crash::point("microbatch.after_sink");
        self.commits_log.write(
            n,
            &CommitEntry {
                next_watermark_ms,
                max_event_times: self.event_time.max_event_times(),
            },
        )?;
        lap("commit_log", &mut durations);
        crash::point("microbatch.after_commit_log");
        let took_s = batch_started.elapsed().as_secs_f64();
        durations.insert("trigger_execution".to_string(), took_s * 1e3);
        let progress = BatchProgress {
            batch_id: n,
            timestamp_ms,
            input_rows,
            input_rows_per_s: if trigger.since_previous_s > 0.0 {
                input_rows as f64 / trigger.since_previous_s
            } else {
                0.0
            },
            processed_rows_per_s: input_rows as f64 / took_s.max(1e-9),
            trigger_delay_ms: trigger.delay_ms,
            durations_ms: durations,
            watermark_ms: entry.watermark_ms,
            state_rows: self.windows.len() as u64,
            state_bytes: state.bytes,
            results_written: output.result_rows() as u64,
            late_rows: output.late.len() as u64,
            dead_letters: output.dead_letters.len() as u64,
        };
        self.record_progress(&progress);
        self.after_commit(n, entry, next_watermark_ms).await;
        Ok(next_watermark_ms)
    }

    /// Adds a computed batch's kept events, dead letters and late events to
    /// the metrics.
    fn count(&self, computed: &Computed) {
        Metrics::add(&self.metrics.events_kept, computed.kept as u64);
        Metrics::add(
            &self.metrics.dead_letters,
            computed.output.dead_letters.len() as u64,
        );
        Metrics::add(&self.metrics.late_events, computed.output.late.len() as u64);
    }

    /// Computes batch `n` from its input: with polars for a windowed job's
    /// columns, against the rule's state for a per-event job's records.
    fn compute(&mut self, n: u64, entry: &OffsetEntry, input: BatchInput) -> Result<Computed> {
        let (columns, dead_letters) = match (input, &mut self.rule) {
            (BatchInput::Columns(columns, dead_letters), None) => (columns, dead_letters),
            (BatchInput::Records(records), Some((state, interpreter))) => {
                return Ok(Self::evaluate_rule(state, interpreter, &records));
            }
            _ => {
                return Err(Error::Internal(format!(
                    "batch {n} was read for another kind of job"
                )));
            }
        };
        let result = aggregate(&self.job.job, columns, &self.campaigns, entry.watermark_ms)
            .map_err(|e| Error::Internal(format!("batch {n}: polars failed: {e}")))?;
        let (delta, results) = self.merge(&result.windows, entry.watermark_ms);
        let output = OutputBatch {
            results,
            late: result.late,
            dead_letters,
            ..OutputBatch::default()
        };
        Ok(Computed {
            output,
            delta,
            kept: result.kept,
            max_event_time_ms: result.max_event_time_ms,
        })
    }

    /// A per-event batch: its records run in arrival order against the rule's state.
    fn evaluate_rule(state: &mut RuleState, interpreter: &Interpreter, records: &[OwnedRecord]) -> Computed {
        let batch = rule::evaluate(state, interpreter, records);
        Computed {
            output: OutputBatch {
                rows: batch.rows,
                late: batch.late,
                dead_letters: batch.dead_letters,
                ..OutputBatch::default()
            },
            delta: batch.delta,
            kept: batch.kept,
            max_event_time_ms: batch.max_event_time_ms,
        }
    }

    /// Writes batch `n`'s output in the delivery mode (in transactional
    /// mode with its end offsets, unless PostgreSQL already has it).
    async fn write_output(&mut self, n: u64, entry: &OffsetEntry, output: &OutputBatch) -> Result<()> {
        match self.job.delivery {
            DeliveryMode::Transactional => {
                if self.committed_epoch.is_some_and(|c| c >= n) {
                    tracing::info!(
                        batch = n,
                        "PostgreSQL already has this batch; not writing it again"
                    );
                } else {
                    self.sink.commit_epoch(output, &entry.end, n).await?;
                    self.committed_epoch = Some(n);
                }
            }
            DeliveryMode::Insert | DeliveryMode::Upsert => self.sink.write(output).await?,
        }
        Metrics::add(&self.metrics.results_written, output.result_rows() as u64);
        Ok(())
    }

    /// Once batch `n` is committed: old log entries go, the consumer group
    /// hears how far the engine is (for lag; the logs are the truth), and
    /// the gauges move.
    async fn after_commit(&mut self, n: u64, entry: &OffsetEntry, next_watermark_ms: Option<i64>) {
        if n >= 100 {
            let _ = self.offsets_log.purge_before(n - 100);
            let _ = self.commits_log.purge_before(n - 100);
        }
        if self.job.delivery != DeliveryMode::Transactional {
            let source = self.source.clone();
            let end = entry.end.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || source.commit(&end))
                .await
                .map_err(|e| Error::Internal(e.to_string()))
                .and_then(|r| r)
            {
                tracing::warn!(error = %e, "could not record progress in the consumer group");
            }
        }
        Metrics::add(&self.metrics.checkpoints, 1);
        self.metrics.set_positions(&entry.end);
        self.metrics
            .open_windows
            .store(self.windows.len() as u64, Ordering::Relaxed);
        if let Some(w) = next_watermark_ms {
            self.metrics.watermark_ms.store(w, Ordering::Relaxed);
        }
    }

    /// The watermark for the batch after `entry`, whose kept events reached
    /// `max_event_time_ms` per partition: per partition the latest event
    /// time minus the delay, the minimum over partitions that are not idle,
    /// never going back. (Spark takes the maximum over all partitions
    /// instead; then a partition whose records arrive late, as after a broker
    /// outage, finds them behind a watermark the others carried past them.)
    fn next_watermark(&mut self, entry: &OffsetEntry, max_event_time_ms: &BTreeMap<i32, i64>) -> Option<i64> {
        let now = Instant::now();
        for (partition, end) in &entry.end {
            if *end > entry.start.get(partition).copied().unwrap_or(0) {
                self.event_time.touch(*partition, now);
            }
        }
        for (partition, max) in max_event_time_ms {
            self.event_time.observe(*partition, *max, now);
        }
        let next = self.event_time.advance(now);
        if entry.watermark_ms == Some(i64::MAX) {
            Some(i64::MAX)
        } else {
            next
        }
    }

    /// Appends `progress` to `progress.jsonl` in the checkpoint directory
    /// and updates the batch gauges; a failure to write it is reported, not fatal.
    fn record_progress(&self, progress: &BatchProgress) {
        self.metrics.last_checkpoint_us.store(
            (progress
                .durations_ms
                .get("trigger_execution")
                .copied()
                .unwrap_or(0.0)
                * 1e3) as u64,
            Ordering::Relaxed,
        );
        self.metrics
            .last_checkpoint_bytes
            .store(progress.state_bytes, Ordering::Relaxed);
        let path = self.job.checkpoint_dir.join("progress.jsonl");
        let written = serde_json::to_string(progress)
            .map_err(std::io::Error::other)
            .and_then(|line| {
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| writeln!(f, "{line}"))
            });
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %path.display(), "cannot write batch progress");
        }
    }

    /// Merges a batch's window aggregates into the state under the
    /// watermark in force: what changed, and what to write.
    fn merge(
        &self,
        batch: &[(WindowKey, WindowAggregate)],
        watermark_ms: Option<i64>,
    ) -> (Delta, Vec<WindowResult>) {
        let lateness = self.job.job.allowed_lateness_ms;
        let mut changed: BTreeMap<WindowKey, WindowState> = BTreeMap::new();
        let mut removed: Vec<WindowKey> = Vec::new();
        match self.job.job.window {
            WindowSpec::Session { gap_ms } => self.merge_sessions(batch, gap_ms, &mut changed, &mut removed),
            _ => self.merge_windows(batch, &mut changed),
        }
        // What to write, and which windows the watermark closes for good.
        let closes = |window: &WindowKey| watermark_ms.is_some_and(|w| window.window_end_ms + lateness <= w);
        let results = self.results_of(&mut changed, &removed, &closes);
        // Evict closed windows.
        let mut delta = Delta::default();
        for (window, state) in changed {
            if closes(&window) {
                removed.push(window);
            } else {
                delta.upserts.push((window, state));
            }
        }
        removed.extend(self.windows.keys().filter(|w| closes(w)).copied());
        removed.sort();
        removed.dedup();
        delta.removes = removed;
        (delta, results)
    }

    /// A window's state as the batch has changed it so far, else as stored.
    fn current(&self, key: &WindowKey, changed: &BTreeMap<WindowKey, WindowState>) -> Option<WindowState> {
        changed.get(key).or_else(|| self.windows.get(key)).cloned()
    }

    /// Tumbling and sliding windows: each batch aggregate adds to its window.
    fn merge_windows(
        &self,
        batch: &[(WindowKey, WindowAggregate)],
        changed: &mut BTreeMap<WindowKey, WindowState>,
    ) {
        for (window, aggregate) in batch {
            match changed.entry(*window) {
                Entry::Occupied(mut changed) => changed.get_mut().aggregate.merge(aggregate),
                Entry::Vacant(new) => {
                    let state = match self.windows.get(window) {
                        Some(stored) => {
                            let mut state = stored.clone();
                            state.aggregate.merge(aggregate);
                            state
                        }
                        None => WindowState {
                            aggregate: aggregate.clone(),
                            next_revision: 0,
                        },
                    };
                    new.insert(state);
                }
            }
        }
    }

    /// Session windows: each batch session merges with every stored
    /// session of its key that it overlaps, as Spark's session_window does;
    /// the sessions merged away go to `removed`.
    fn merge_sessions(
        &self,
        batch: &[(WindowKey, WindowAggregate)],
        gap_ms: i64,
        changed: &mut BTreeMap<WindowKey, WindowState>,
        removed: &mut Vec<WindowKey>,
    ) {
        let mut by_key: BTreeMap<u64, Vec<WindowKey>> = BTreeMap::new();
        for key in self.windows.keys() {
            by_key.entry(key.key).or_default().push(*key);
        }
        for (window, aggregate) in batch {
            let mut merged = aggregate.clone();
            let mut next_revision = 0;
            let open = by_key.entry(window.key).or_default();
            let mut k = 0;
            while k < open.len() {
                let other = open[k];
                let new_end = merged.last_event_time_ms + gap_ms;
                // Touching windows merge too, as in Flink and Spark.
                if other.window_start_ms <= new_end && merged.first_event_time_ms <= other.window_end_ms {
                    if let Some(state) = self.current(&other, changed) {
                        merged.merge(&state.aggregate);
                        next_revision = next_revision.max(state.next_revision);
                    }
                    changed.remove(&other);
                    removed.push(other);
                    open.swap_remove(k);
                    k = 0;
                } else {
                    k += 1;
                }
            }
            let session = WindowKey {
                key: window.key,
                window_start_ms: merged.first_event_time_ms,
                window_end_ms: merged.last_event_time_ms + gap_ms,
            };
            removed.retain(|r| *r != session);
            open.push(session);
            changed.insert(
                session,
                WindowState {
                    aggregate: merged,
                    next_revision,
                },
            );
        }
    }

    /// The rows the output mode writes for this batch: every changed window
    /// (update), or every window the watermark closes (append).
    fn results_of(
        &self,
        changed: &mut BTreeMap<WindowKey, WindowState>,
        removed: &[WindowKey],
        closes: &dyn Fn(&WindowKey) -> bool,
    ) -> Vec<WindowResult> {
        let mut results = Vec::new();
        match self.settings.output_mode {
            OutputMode::Update => {
                for (window, state) in changed.iter_mut() {
                    results.push(WindowResult {
                        window: *window,
                        aggregate: state.aggregate.clone(),
                        revision: state.next_revision,
                    });
                    state.next_revision += 1;
                }
            }
            OutputMode::Append => {
                let mut closing: Vec<(WindowKey, WindowState)> = changed
                    .iter()
                    .filter(|(w, _)| closes(w))
                    .map(|(w, s)| (*w, s.clone()))
                    .collect();
                closing.extend(
                    self.windows
                        .iter()
                        .filter(|(w, _)| closes(w) && !changed.contains_key(w) && !removed.contains(w))
                        .map(|(w, s)| (*w, s.clone())),
                );
                for (window, state) in closing {
                    results.push(WindowResult {
                        window,
                        aggregate: state.aggregate,
                        revision: state.next_revision,
                    });
                }
            }
        }
        results
    }
}
