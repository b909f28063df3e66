//! The continuous engine's threads and the coordinator that ties results,
//! checkpoints and offsets together.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::expr::Val;
use streambench_workloads::key_names::KeyNames;
use streambench_workloads::window::{Keyed, WindowKey};
use tokio::sync::mpsc;

use super::operator::{Disposition, OperatorState, Slot};
use super::reader::{ReadRecord, Readers};
use super::rule::KeyedOperator;
use crate::checkpoint::{CheckpointStore, DEFAULT_KEEP};
use crate::crash;
use crate::engine::{JobRun, Observability, RunSummary};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::output::{DeadLetter, LateEvent, OutputBatch};
use crate::record::Interpreted;
use crate::sink::PostgresSink;
use crate::source::{KafkaSource, Offsets};
use crate::start::StartPosition;
use crate::watermark::WatermarkTracker;

/// The engine's name in result rows and reports.
pub const ENGINE: &str = streambench_workloads::engine::EngineName::CONTINUOUS.as_str();

/// How the continuous engine runs, beyond what every engine is given.
#[derive(Debug, Clone)]
pub struct ContinuousSettings {
    /// Reader threads (each with its own consumer, at most one per
    /// partition) and keyed worker threads.
    pub parallelism: usize,
    /// How often a checkpoint is taken; `None`: never (no recovery, and no
    /// offsets committed).
    pub checkpoint_interval: Option<Duration>,
    /// How often the watermark is recomputed and sent to the workers.
    pub watermark_interval: Duration,
    /// How long a partition without records is left out of the watermark.
    pub idle_timeout: Duration,
}

impl Default for ContinuousSettings {
    fn default() -> Self {
        ContinuousSettings {
            parallelism: 1,
            checkpoint_interval: Some(Duration::from_secs(10)),
            watermark_interval: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// A checkpoint: everything needed to resume as if never stopped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Snapshot {
    epoch: u64,
    /// Next offset to read, per partition.
    offsets: Offsets,
    /// Max event time seen, per partition.
    max_event_times: BTreeMap<i32, i64>,
    watermark_ms: Option<i64>,
    windows: Vec<(WindowKey, Slot)>,
    /// Transactional mode: the epoch's output, committed with its offsets
    /// after this checkpoint is durable (and re-committed on restore if the
    /// crash came in between, as Flink's two-phase commit sinks do).
    pending: OutputBatch,
    /// The values of the keys carried by id among the windows and pending
    /// results (a declared job keyed by text or several fields).
    #[serde(default)]
    key_names: Vec<(u64, Vec<Val>)>,
}

impl Snapshot {
    /// Gives the snapshot's key values back to `names`, and the snapshot.
    fn restoring_keys(self, names: &KeyNames) -> Snapshot {
        names.restore(&self.key_names);
        self
    }
}

/// An event on its way to a worker, with where it was read.
struct Routed {
    event: Keyed,
    partition: i32,
    offset: i64,
}

enum WorkerInput {
    Events(Vec<Routed>),
    Watermark(i64),
    Barrier(u64),
}

enum ToCoordinator {
    Output {
        sender: usize,
        batch: OutputBatch,
    },
    WorkerBarrier {
        worker: usize,
        epoch: u64,
        state: OperatorState,
        pause: Duration,
    },
    SourceBarrier {
        epoch: u64,
        part: SourcePart,
    },
    SourceFailed(Error),
}

/// The source's part of a checkpoint: where it was, and its event-time progress.
struct SourcePart {
    offsets: Offsets,
    max_event_times: BTreeMap<i32, i64>,
    watermark_ms: Option<i64>,
    /// The final checkpoint of the run.
    last: bool,
}

/// Which worker owns `key`.
fn worker_of(key: u64, workers: usize) -> usize {
    // splitmix64's finaliser spreads consecutive keys evenly.
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % workers as u64) as usize
}

/// Runs `job` until it is stopped (or, when bounded, until it has read what
/// the topic held at the start), and says what it did.
pub async fn run(job: JobRun, settings: ContinuousSettings) -> Result<RunSummary> {
    let started = Instant::now();
    let parallelism = settings.parallelism.max(1);
    if job.delivery == DeliveryMode::Transactional && settings.checkpoint_interval.is_none() {
        return Err(Error::Config(
            "transactional delivery commits results per checkpoint: it needs a checkpoint interval".into(),
        ));
    }
    let mut sink = PostgresSink::connect(job.sink_config(ENGINE)?).await?;
    let store = CheckpointStore::open(&job.checkpoint_dir, DEFAULT_KEEP)?;
    let source = job.connect_source().await?;

    let committed_epoch = match job.delivery {
        DeliveryMode::Transactional => sink.committed_epoch().await?.map(|c| c.epoch),
        _ => None,
    };
    let restored = restore(&job, &store, &mut sink, committed_epoch).await?;
    let first_epoch = first_epoch(&store, committed_epoch, restored.as_ref())?;

    let (start_offsets, end_offsets) = assign_start(&job, &source, restored.as_ref()).await?;
    tracing::info!(
        start = ?start_offsets, end = ?end_offsets, restored_epoch = restored.as_ref().map(|s| s.epoch),
        "continuous engine starting"
    );

    let metrics = Arc::new(Metrics::new());
    let (to_coordinator, from_workers) = mpsc::channel::<ToCoordinator>(1024);
    let (worker_inputs, threads) =
        start_workers(&job, parallelism, restored.as_ref(), &to_coordinator, &metrics)?;
    let source_task = SourceTask {
        source: source.clone(),
        job: job.clone(),
        settings: settings.clone(),
        offsets: start_offsets.clone(),
        end_offsets,
        restored_progress: restored
            .as_ref()
            .map(|s| (s.max_event_times.clone(), s.watermark_ms)),
        epoch: first_epoch,
        workers: worker_inputs,
        out: to_coordinator.clone(),
        metrics: metrics.clone(),
    };
    let source_thread = source_task.spawn()?;
    drop(to_coordinator);

    let mut coordinator = Coordinator {
        job: &job,
        checkpointing: settings.checkpoint_interval.is_some(),
        store,
        sink,
        source,
        metrics: metrics.clone(),
        parallelism,
        sender_epoch: vec![first_epoch + 1; parallelism + 1],
        pending: BTreeMap::new(),
        unwritten: OutputBatch::default(),
        epochs: BTreeMap::new(),
        end_offsets: start_offsets.clone(),
    };
    let outcome = coordinator.run(from_workers).await;
    let end_offsets = coordinator.end_offsets.clone();
    drop(coordinator);
    // The threads end once their channels close, which the coordinator's end ensures.
    let _ = source_thread.join();
    for thread in threads {
        let _ = thread.join();
    }
    outcome?;
    Ok(RunSummary::from_metrics(
        ENGINE,
        &metrics,
        start_offsets,
        end_offsets,
        started,
    ))
}

/// The epoch the run starts from: past every checkpoint kept and every
/// epoch committed (a restore may finish an interrupted commit: its epoch
/// is the restored one).
fn first_epoch(
    store: &CheckpointStore,
    committed_epoch: Option<u64>,
    restored: Option<&Snapshot>,
) -> Result<u64> {
    Ok(store
        .epochs()?
        .last()
        .copied()
        .unwrap_or(0)
        .max(committed_epoch.unwrap_or(0))
        .max(restored.map_or(0, |s| s.epoch)))
}

/// Where the source starts (the checkpoint's offsets, or `job.start`), with
/// the end to stop at when the run is bounded; its readers assign it.
async fn assign_start(
    job: &JobRun,
    source: &Arc<KafkaSource>,
    restored: Option<&Snapshot>,
) -> Result<(Offsets, Option<Offsets>)> {
    let source = source.clone();
    let position = job.start;
    let from_checkpoint = restored.map(|s| s.offsets.clone());
    let (start, ends) = tokio::task::spawn_blocking(move || {
        let offsets = source.resolve(position, from_checkpoint.as_ref())?;
        let ends = source.watermarks()?;
        Ok::<_, Error>((offsets, ends))
    })
    .await
    .map_err(|e| Error::Internal(format!("source start-up failed: {e}")))??;
    let end = job
        .bounded
        .then(|| ends.iter().map(|(p, (_, high))| (*p, *high)).collect());
    Ok((start, end))
}

/// The workers' inputs, and their threads.
type Workers = (Vec<SyncSender<WorkerInput>>, Vec<std::thread::JoinHandle<()>>);

/// Starts `parallelism` worker threads, each with its keys' restored
/// windows, sending to the coordinator; returns their inputs and threads.
fn start_workers(
    job: &JobRun,
    parallelism: usize,
    restored: Option<&Snapshot>,
    to_coordinator: &mpsc::Sender<ToCoordinator>,
    metrics: &Arc<Metrics>,
) -> Result<Workers> {
    let mut restored_windows: Vec<Vec<(WindowKey, Slot)>> = vec![Vec::new(); parallelism];
    if let Some(snapshot) = restored {
        for (window, slot) in &snapshot.windows {
            restored_windows[worker_of(window.key, parallelism)].push((*window, slot.clone()));
        }
    }
    let (mut inputs, mut threads) = (Vec::new(), Vec::new());
    for (worker, windows) in restored_windows.into_iter().enumerate() {
        let (tx, rx) = sync_channel::<WorkerInput>(64);
        inputs.push(tx);
        let mut operator = KeyedOperator::for_job(&job.job);
        operator.restore(windows, restored.and_then(|s| s.watermark_ms));
        let (out, metrics) = (to_coordinator.clone(), metrics.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("worker-{worker}"))
                .spawn(move || worker_loop(worker, operator, rx, out, &metrics))
                .map_err(|e| Error::Internal(format!("cannot start a worker thread: {e}")))?,
        );
    }
    Ok((inputs, threads))
}

/// The checkpoint to resume from, if the start position asks for one; in
/// transactional mode, the one that matches the epoch PostgreSQL committed,
/// finishing that epoch's commit first if the crash came between the two.
/// `committed` is the epoch PostgreSQL holds (transactional mode).
async fn restore(
    job: &JobRun,
    store: &CheckpointStore,
    sink: &mut PostgresSink,
    committed: Option<u64>,
) -> Result<Option<Snapshot>> {
    if job.start != StartPosition::Checkpoint {
        return Ok(None);
    }
    if job.delivery != DeliveryMode::Transactional {
        return Ok(store
            .latest::<Snapshot>(None)?
            .map(|(_, s)| s.restoring_keys(&job.key_names)));
    }
    let candidate = store
        .latest::<Snapshot>(Some(committed.map_or(1, |c| c + 1)))?
        .map(|(epoch, s)| (epoch, s.restoring_keys(&job.key_names)));
    match (candidate, committed) {
        (None, None) => Ok(None),
        (Some((epoch, snapshot)), Some(c)) if epoch == c => Ok(Some(snapshot)),
        (Some((epoch, snapshot)), c) if epoch == c.map_or(1, |c| c + 1) => {
            tracing::info!(epoch, "finishing the commit of the epoch the crash interrupted");
            sink.commit_epoch(&snapshot.pending, &snapshot.offsets, epoch)
                .await?;
            Ok(Some(snapshot))
        }
        (found, _) => Err(Error::Checkpoint {
            path: store.dir().to_path_buf(),
            reason: format!(
                "PostgreSQL has committed epoch {committed:?} but the matching checkpoint is missing or \
                 damaged (newest usable: {:?}); an exactly-once resume is impossible: start again with a \
                 fresh table and --start earliest",
                found.map(|(e, _)| e)
            ),
        }),
    }
}

fn worker_loop(
    worker: usize,
    mut operator: KeyedOperator,
    input: Receiver<WorkerInput>,
    out: mpsc::Sender<ToCoordinator>,
    metrics: &Metrics,
) {
    let mut batch = OutputBatch::default();
    for message in input {
        match message {
            WorkerInput::Events(events) => {
                for routed in events {
                    if let Disposition::Late { watermark_ms } = operator.process(&routed.event, &mut batch) {
                        batch.late.push(LateEvent {
                            partition: routed.partition,
                            offset: routed.offset,
                            event_id: routed.event.event_id,
                            key: routed.event.key,
                            event_time_ms: routed.event.event_time_ms,
                            watermark_ms,
                        });
                    }
                }
            }
            WorkerInput::Watermark(watermark_ms) => operator.advance(watermark_ms, &mut batch),
            WorkerInput::Barrier(epoch) => {
                let pause_started = Instant::now();
                let state = operator.snapshot();
                let pause = pause_started.elapsed();
                flush(worker, &mut batch, &out, metrics);
                let barrier = ToCoordinator::WorkerBarrier {
                    worker,
                    epoch,
                    state,
                    pause,
                };
                if out.blocking_send(barrier).is_err() {
                    return;
                }
                continue;
            }
        }
        if !flush(worker, &mut batch, &out, metrics) {
            return;
        }
    }
}

/// Sends what a worker produced, if anything; false once the coordinator is gone.
fn flush(
    sender: usize,
    batch: &mut OutputBatch,
    out: &mpsc::Sender<ToCoordinator>,
    metrics: &Metrics,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    Metrics::add(&metrics.late_events, batch.late.len() as u64);
    let batch = std::mem::take(batch);
    out.blocking_send(ToCoordinator::Output { sender, batch }).is_ok()
}

/// The source thread's work: read, decode, route, and inject watermarks and barriers.
struct SourceTask {
    source: Arc<KafkaSource>,
    job: JobRun,
    settings: ContinuousSettings,
    offsets: Offsets,
    end_offsets: Option<Offsets>,
    restored_progress: Option<(BTreeMap<i32, i64>, Option<i64>)>,
    epoch: u64,
    workers: Vec<SyncSender<WorkerInput>>,
    out: mpsc::Sender<ToCoordinator>,
    metrics: Arc<Metrics>,
}

/// Most records read before routing them and checking the clocks.
const READ_BURST: usize = 2_000;

impl SourceTask {
    /// Runs the task on a thread of its own.
    fn spawn(self) -> Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("source".into())
            .spawn(move || self.run())
            .map_err(|e| Error::Internal(format!("cannot start the source thread: {e}")))
    }

    fn run(mut self) {
        if let Err(error) = self.read_loop() {
            let _ = self.out.blocking_send(ToCoordinator::SourceFailed(error));
        }
    }

    fn read_loop(&mut self) -> Result<()> {
        let readers = Readers::start(
            &self.source,
            &self.job.source_config(),
            &self.offsets,
            self.settings.parallelism,
            &self.job.interpreter()?,
        )?;
        let mut tracker = self.watermark_tracker();
        let workers = self.workers.len();
        let mut routed: Vec<Vec<Routed>> = (0..workers).map(|_| Vec::new()).collect();
        let mut dead = OutputBatch::default();
        let mut next_watermark = Instant::now() + self.settings.watermark_interval;
        let mut next_checkpoint = self.settings.checkpoint_interval.map(|i| Instant::now() + i);
        self.metrics.set_positions(&self.offsets);
        let mut last_positions = Instant::now();
        loop {
            let read = self.read_burst(&readers, &mut tracker, &mut routed, &mut dead)?;
            Metrics::add(&self.metrics.records_read, read as u64);
            if read > 0 {
                self.metrics.mark_first_record();
            }
            self.route(&mut routed, &mut dead)?;
            if last_positions.elapsed() >= Duration::from_millis(250) {
                self.metrics.set_positions(&self.offsets);
                last_positions = Instant::now();
            }

            let now = Instant::now();
            let reached_end = self.end_offsets.as_ref().is_some_and(|end| {
                end.iter()
                    .all(|(p, e)| self.offsets.get(p).copied().unwrap_or(0) >= *e)
            });
            if reached_end {
                // Bounded input is complete: every window fires, as at Flink's end of input.
                self.broadcast(|| WorkerInput::Watermark(i64::MAX))?;
                return self.barrier(&tracker, true);
            }
            if self.out.is_closed() {
                return Err(stopped());
            }
            if self.job.stop.load(Ordering::Relaxed) && self.stops_without_draining()? {
                return self.barrier(&tracker, true);
            }
            if now >= next_watermark {
                next_watermark = now + self.settings.watermark_interval;
                self.advance_watermark(&mut tracker, now)?;
            }
            if let Some(at) = next_checkpoint
                && now >= at
            {
                next_checkpoint = self.settings.checkpoint_interval.map(|i| now + i);
                self.barrier(&tracker, false)?;
            }
        }
    }

    /// The watermark tracker over the source's partitions, with the
    /// restored checkpoint's progress.
    fn watermark_tracker(&self) -> WatermarkTracker {
        let mut tracker = WatermarkTracker::new(
            self.source.partitions().iter().copied(),
            self.job.job.watermark_delay_ms,
            self.settings.idle_timeout,
        );
        if let Some((max_event_times, watermark)) = &self.restored_progress {
            tracker.restore(max_event_times, *watermark);
        }
        tracker
    }

    /// On a stop: true to stop now, after a final checkpoint; with
    /// `drain_on_stop`, false, and what the topic holds now becomes the end
    /// of input.
    fn stops_without_draining(&mut self) -> Result<bool> {
        if !self.job.drain_on_stop {
            return Ok(true);
        }
        if self.end_offsets.is_none() {
            let end = self
                .source
                .watermarks()?
                .into_iter()
                .map(|(p, (_, high))| (p, high))
                .collect();
            tracing::info!(?end, "stopping: draining to the topic's current end");
            self.end_offsets = Some(end);
        }
        Ok(false)
    }

    /// Advances the watermark to `now`'s and, if it moved, sends it to
    /// every worker.
    fn advance_watermark(&self, tracker: &mut WatermarkTracker, now: Instant) -> Result<()> {
        let before = tracker.current();
        if let Some(watermark) = tracker.advance(now)
            && before != Some(watermark)
        {
            self.metrics.watermark_ms.store(watermark, Ordering::Relaxed);
            self.broadcast(|| WorkerInput::Watermark(watermark))?;
        }
        Ok(())
    }

    /// Takes up to about [`READ_BURST`] records from the readers, routing
    /// each to its worker's list (or the dead letters) and moving the
    /// offsets past it; returns how many it took.
    fn read_burst(
        &mut self,
        readers: &Readers,
        tracker: &mut WatermarkTracker,
        routed: &mut [Vec<Routed>],
        dead: &mut OutputBatch,
    ) -> Result<usize> {
        let mut read = 0;
        let mut wait = Some(Duration::from_millis(20));
        // One clock reading per burst: idleness is judged in seconds, and
        // reading the clock per record costs a measurable share of the source.
        let now = Instant::now();
        while read < READ_BURST {
            let Some(chunk) = readers.next(wait)? else {
                break;
            };
            wait = None;
            for record in chunk {
                read += usize::from(self.take(record, now, tracker, routed, dead));
            }
        }
        Ok(read)
    }

    /// Takes one record read at `now`: moves the offsets past it and routes
    /// it to its worker's list (or the dead letters); false for a record
    /// past the end of a bounded run, which is left alone.
    fn take(
        &mut self,
        record: ReadRecord,
        now: Instant,
        tracker: &mut WatermarkTracker,
        routed: &mut [Vec<Routed>],
        dead: &mut OutputBatch,
    ) -> bool {
        let (partition, offset) = (record.partition, record.offset);
        if self
            .end_offsets
            .as_ref()
            .is_some_and(|end| offset >= end.get(&partition).copied().unwrap_or(0))
        {
            return false;
        }
        self.offsets.insert(partition, offset + 1);
        match record.record {
            Interpreted::Kept(event) => {
                tracker.observe(partition, event.event_time_ms, now);
                let worker = worker_of(event.key, routed.len());
                routed[worker].push(Routed {
                    event,
                    partition,
                    offset,
                });
            }
            Interpreted::Filtered => tracker.touch(partition, now),
            Interpreted::Malformed(error) => {
                tracker.touch(partition, now);
                dead.dead_letters.push(DeadLetter {
                    partition,
                    offset,
                    raw: record.raw,
                    error,
                });
            }
        }
        true
    }

    /// Hands routed events to their workers and dead letters to the coordinator.
    fn route(&self, routed: &mut [Vec<Routed>], dead: &mut OutputBatch) -> Result<()> {
        for (worker, events) in routed.iter_mut().enumerate() {
            if !events.is_empty() {
                Metrics::add(&self.metrics.events_kept, events.len() as u64);
                let events = std::mem::replace(events, Vec::with_capacity(READ_BURST));
                self.workers[worker]
                    .send(WorkerInput::Events(events))
                    .map_err(|_| stopped())?;
            }
        }
        if !dead.is_empty() {
            Metrics::add(&self.metrics.dead_letters, dead.dead_letters.len() as u64);
            let batch = std::mem::take(dead);
            self.out
                .blocking_send(ToCoordinator::Output {
                    sender: self.workers.len(),
                    batch,
                })
                .map_err(|_| stopped())?;
        }
        Ok(())
    }

    fn broadcast(&self, message: impl Fn() -> WorkerInput) -> Result<()> {
        for worker in &self.workers {
            worker.send(message()).map_err(|_| stopped())?;
        }
        Ok(())
    }

    /// Starts checkpoint `epoch + 1`: a barrier to every worker, and the
    /// source's part (its offsets and watermark state) to the coordinator.
    fn barrier(&mut self, tracker: &WatermarkTracker, last: bool) -> Result<()> {
        // Every checkpoint, and the run's end, reports where the source is.
        self.metrics.set_positions(&self.offsets);
        self.epoch += 1;
        let epoch = self.epoch;
        self.broadcast(|| WorkerInput::Barrier(epoch))?;
        self.out
            .blocking_send(ToCoordinator::SourceBarrier {
                epoch,
                part: SourcePart {
                    offsets: self.offsets.clone(),
                    max_event_times: tracker.max_event_times(),
                    watermark_ms: tracker.current(),
                    last,
                },
            })
            .map_err(|_| stopped())
    }
}

fn stopped() -> Error {
    Error::Stopped("the engine's coordinator")
}

/// One checkpoint epoch's parts as they arrive.
#[derive(Default)]
struct EpochParts {
    states: BTreeMap<usize, OperatorState>,
    source: Option<SourcePart>,
    max_pause: Duration,
}

struct Coordinator<'a> {
    job: &'a JobRun,
    checkpointing: bool,
    store: CheckpointStore,
    sink: PostgresSink,
    source: Arc<KafkaSource>,
    metrics: Arc<Metrics>,
    parallelism: usize,
    /// The epoch each sender's next output belongs to (workers, then the source).
    sender_epoch: Vec<u64>,
    /// Transactional mode: output per epoch, until its commit.
    pending: BTreeMap<u64, OutputBatch>,
    /// Insert and upsert modes: output not yet written.
    unwritten: OutputBatch,
    epochs: BTreeMap<u64, EpochParts>,
    end_offsets: Offsets,
}

impl Coordinator<'_> {
    async fn run(&mut self, mut input: mpsc::Receiver<ToCoordinator>) -> Result<()> {
        let observability = Observability::start(self.job, ENGINE, &self.metrics, &self.source).await?;
        let outcome = self.handle(&mut input).await;
        observability.stop();
        outcome
    }

    async fn handle(&mut self, input: &mut mpsc::Receiver<ToCoordinator>) -> Result<()> {
        loop {
            let Some(message) = input.recv().await else {
                return Ok(());
            };
            match message {
                ToCoordinator::Output { sender, mut batch } => {
                    if self.job.delivery == DeliveryMode::Transactional {
                        let epoch = self.sender_epoch[sender];
                        self.pending.entry(epoch).or_default().append(&mut batch);
                    } else {
                        self.unwritten.append(&mut batch);
                        // Write as soon as nothing else is waiting: batches grow under load only.
                        if input.is_empty() || self.unwritten.len() >= 10_000 {
                            self.write_unwritten().await?;
                        }
                    }
                }
                ToCoordinator::WorkerBarrier {
                    worker,
                    epoch,
                    state,
                    pause,
                } => {
                    self.sender_epoch[worker] = epoch + 1;
                    let parts = self.epochs.entry(epoch).or_default();
                    parts.states.insert(worker, state);
                    parts.max_pause = parts.max_pause.max(pause);
                    if self.complete(epoch).await? {
                        return Ok(());
                    }
                }
                ToCoordinator::SourceBarrier { epoch, part } => {
                    self.sender_epoch[self.parallelism] = epoch + 1;
                    self.epochs.entry(epoch).or_default().source = Some(part);
                    if self.complete(epoch).await? {
                        return Ok(());
                    }
                }
                ToCoordinator::SourceFailed(error) => return Err(error),
            }
        }
    }

    async fn write_unwritten(&mut self) -> Result<()> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.unwritten);
        self.sink.write(&batch).await?;
        crash::point("continuous.after_rows_written");
        Metrics::add(&self.metrics.results_written, batch.result_rows() as u64);
        Ok(())
    }

    /// Finishes checkpoint `epoch` once every part is in. The order is what
    /// keeps the guarantees: in insert and upsert modes every result fired
    /// before the barrier is written before the checkpoint that records it
    /// as fired (else a crash in between would lose it); the checkpoint is
    /// durable before any offsets it covers are committed, to Kafka or, in
    /// transactional mode, with the epoch's results to PostgreSQL. True when
    /// it was the last.
    async fn complete(&mut self, epoch: u64) -> Result<bool> {
        let ready = self
            .epochs
            .get(&epoch)
            .is_some_and(|p| p.source.is_some() && p.states.len() == self.parallelism);
        if !ready {
            return Ok(false);
        }
        let Some(parts) = self.epochs.remove(&epoch) else {
            return Ok(false);
        };
        let Some(source) = parts.source else {
            return Ok(false);
        };
        let last = source.last;
        self.metrics.open_windows.store(
            parts.states.values().map(|s| s.windows.len() as u64).sum(),
            Ordering::Relaxed,
        );
        let windows: Vec<(WindowKey, Slot)> = parts.states.into_values().flat_map(|s| s.windows).collect();
        let pending = self.pending.remove(&epoch).unwrap_or_default();
        // The keys whose values a restore needs: the open windows', and those
        // of the results and per-event rows the epoch has yet to commit.
        let keys = windows.iter().map(|(w, _)| w.key);
        let key_names = self.job.key_names.of(keys
            .chain(pending.results.iter().map(|r| r.window.key))
            .chain(pending.rows.iter().map(|r| r.key)));
        let snapshot = Snapshot {
            epoch,
            offsets: source.offsets,
            max_event_times: source.max_event_times,
            watermark_ms: source.watermark_ms,
            windows,
            pending,
            key_names,
        };
        if self.job.delivery != DeliveryMode::Transactional {
            self.write_unwritten().await?;
            crash::point("continuous.after_rows_before_checkpoint");
        }
        let snapshot = if self.checkpointing {
            let store = self.store.clone();
            let (stats, snapshot) =
                tokio::task::spawn_blocking(move || (store.write(epoch, &snapshot), snapshot))
                    .await
                    .map_err(|e| Error::Internal(format!("checkpoint writer failed: {e}")))?;
            let stats = stats?;
            let m = &self.metrics;
            Metrics::add(&m.checkpoints, 1);
            m.last_checkpoint_us
                .store(stats.duration.as_micros() as u64, Ordering::Relaxed);
            m.last_checkpoint_bytes.store(stats.bytes, Ordering::Relaxed);
            m.max_checkpoint_pause_us
                .fetch_max(parts.max_pause.as_micros() as u64, Ordering::Relaxed);
            crash::point("continuous.after_checkpoint");
            snapshot
        } else {
            snapshot
        };
        match self.job.delivery {
            DeliveryMode::Transactional => {
                self.sink
                    .commit_epoch(&snapshot.pending, &snapshot.offsets, epoch)
                    .await?;
                Metrics::add(
                    &self.metrics.results_written,
                    snapshot.pending.result_rows() as u64,
                );
            }
            DeliveryMode::Insert | DeliveryMode::Upsert if self.checkpointing => {
                let source = self.source.clone();
                let offsets = snapshot.offsets.clone();
                tokio::task::spawn_blocking(move || source.commit(&offsets))
                    .await
                    .map_err(|e| Error::Internal(format!("offset commit failed: {e}")))??;
            }
            DeliveryMode::Insert | DeliveryMode::Upsert => {}
        }
        self.end_offsets = snapshot.offsets;
        Ok(last)
    }
}
