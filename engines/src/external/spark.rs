//! Apache Spark Structured Streaming as an engine: the job runs as PySpark
//! (`engines/external/spark_job.py`) in a child process; this side writes its
//! job file, creates the tables, turns Spark's progress reports into
//! streambench metrics, and on stop with drain, once Spark has read the
//! input to its end, writes an end-of-input marker to a topic of its own
//! that the job also reads, and waits until Spark's watermark has passed it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use streambench_workloads::declared_sql::Dialect;
use streambench_workloads::engine::{EngineName, EngineProfile};
use streambench_workloads::format::Format;

use super::driver::{self, Driver};
use super::end_of_input::{END_OF_INPUT_MS, MarkerTopic};
use crate::engine::{JobRun, Observability, RunSummary};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::options::Interval;
use crate::registry::Entry;
use crate::sink::{self, PostgresSink};
use crate::source::{KafkaSource, Offsets};

/// The engine's name in suites, on the command line and in results.
pub const NAME: EngineName = EngineName::new("spark");

/// The engine's name in result rows and reports.
pub const ENGINE: &str = NAME.as_str();

/// The PySpark job, written next to the job file at every start.
const JOB_SCRIPT: &str = include_str!("../../external/spark_job.py");

/// Real-time mode's sink, a JVM `ForeachWriter` (the installer compiles it).
pub const ROW_WRITER_SOURCE: &str = include_str!("../../external/SparkRowWriter.java");

/// An installed Spark: the Python that has PySpark, and the connector jars.
#[derive(Debug, Clone)]
pub struct SparkInstall {
    /// A Python interpreter with `pyspark` and `psycopg` importable.
    pub python: PathBuf,
    /// The Kafka connector and what it needs beyond PySpark's own jars.
    pub jars: Vec<PathBuf>,
    /// PySpark's folder, a Spark home: its `jars` run a standalone cluster.
    pub spark_home: PathBuf,
}

/// How Spark runs the job, beyond what every engine is given.
#[derive(Debug, Clone)]
pub struct SparkSettings {
    /// Micro-batches (the `spark` engine) or real-time mode (`spark_realtime`).
    pub mode: SparkMode,
    /// Spark's master: `local[N]` or a cluster's URL.
    pub master: String,
    /// The processing-time trigger; in real-time mode, the batch duration,
    /// which is the checkpoint interval.
    pub trigger_interval: Duration,
    /// At most this many records per batch (`maxOffsetsPerTrigger`).
    pub max_offsets_per_trigger: Option<u64>,
    /// `spark.sql.shuffle.partitions`: the state store's partitions.
    pub shuffle_partitions: u32,
    /// Where Spark keeps its state (open windows, the fraud rule's recent purchases).
    pub state_store: StateStore,
}

/// How Spark executes the results query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparkMode {
    /// Structured Streaming's default: a batch per trigger, written by
    /// `foreachBatch`.
    MicroBatch,
    /// Real-time mode (Spark 4.1+): long-running batches whose duration is
    /// the checkpoint interval, each row written by a `ForeachWriter`.
    RealTime,
}

impl SparkMode {
    /// The engine that runs Spark this way, as results name it.
    pub fn engine(self) -> &'static str {
        match self {
            SparkMode::MicroBatch => ENGINE,
            SparkMode::RealTime => super::spark_realtime::NAME.as_str(),
        }
    }
}

/// Spark's state store provider (`spark.sql.streaming.stateStore.providerClass`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StateStore {
    /// Spark's default: state in executor memory, snapshots and deltas in
    /// the checkpoint location.
    #[default]
    Hdfs,
    /// RocksDB with changelog checkpointing, as the Structured Streaming
    /// Programming Guide advises for large state ("RocksDB State Store
    /// Implementation": state off the JVM heap, so no long GC pauses;
    /// "Changelog Checkpointing": each commit uploads only what changed).
    Rocksdb,
}

/// `streambench engine spark`'s settings: its flags, and its keys in a
/// suite's `[settings.spark]`.
#[derive(Debug, Clone, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparkOptions {
    /// Milliseconds between batch starts (Spark's processing-time trigger),
    /// or `off` for batches back to back.
    #[arg(long, default_value = "1000")]
    pub trigger_interval_ms: Interval,
    /// At most this many records per batch (Spark's maxOffsetsPerTrigger).
    #[arg(long)]
    pub max_offsets_per_trigger: Option<u64>,
    /// Spark's master: `local[N]` or a cluster's URL (`spark://host:7077`).
    #[arg(long, default_value = "local[2]")]
    pub master: String,
    /// spark.sql.shuffle.partitions: how many partitions the window state is split into.
    #[arg(long, default_value_t = 4)]
    pub shuffle_partitions: u32,
    /// Spark's state store: `hdfs` (Spark's default) or `rocksdb` (with
    /// changelog checkpointing).
    #[arg(long, value_enum, default_value_t = StateStore::Hdfs)]
    pub state_store: StateStore,
}

impl Default for SparkOptions {
    fn default() -> SparkOptions {
        crate::options::defaults()
    }
}

impl SparkOptions {
    /// The adapter's settings.
    pub fn settings(&self) -> SparkSettings {
        SparkSettings {
            mode: SparkMode::MicroBatch,
            master: self.master.clone(),
            trigger_interval: self.trigger_interval_ms.0.unwrap_or(Duration::ZERO),
            max_offsets_per_trigger: self.max_offsets_per_trigger,
            shuffle_partitions: self.shuffle_partitions,
            state_store: self.state_store,
        }
    }
}

/// Spark's registry entry.
pub static ENTRY: Entry<SparkOptions> = Entry {
    profile: EngineProfile {
        name: NAME,
        triggered: true,
        // foreachBatch writes each batch with its id in one transaction.
        transactional: true,
        // Its windowed SQL drops late events without a side output.
        reports_late_window_events: false,
        // Its summary samples its metrics.
        counts_reads_exactly: false,
        // Its adapter reads JSON only so far.
        formats: &[Format::Json],
    },
    about: "Apache Spark Structured Streaming itself, in PySpark (installed on first use).",
    run: |job, options, tools| Box::pin(async move { run(job, options.settings(), tools.spark()?).await }),
    cannot_run: |job| driver::cannot_run_in(job, Dialect::Spark),
    install: |tools| tools.spark().map(drop),
};

/// The table, shared by every Spark job, that holds the last batch id each
/// result table committed in transactional mode.
pub const BATCHES_TABLE: &str = "streambench_spark_batches";

/// One line of the progress file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ProgressLine {
    /// A StreamingQueryProgress of the windowed query.
    Progress(QueryProgress),
    /// The rows a batch wrote.
    Written {
        #[serde(rename = "batchId")]
        _batch_id: u64,
        rows: u64,
    },
}

/// The parts of Spark's StreamingQueryProgress streambench reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryProgress {
    num_input_rows: u64,
    /// When the batch's trigger fired (ISO-8601 UTC).
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    duration_ms: BTreeMap<String, u64>,
    #[serde(default)]
    event_time: BTreeMap<String, String>,
    #[serde(default)]
    state_operators: Vec<StateOperator>,
    #[serde(default)]
    sources: Vec<SourceProgress>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateOperator {
    #[serde(default)]
    num_rows_total: u64,
    #[serde(default)]
    memory_used_bytes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceProgress {
    #[serde(default)]
    start_offset: Option<serde_json::Value>,
    #[serde(default)]
    end_offset: Option<serde_json::Value>,
}

/// Kafka offsets as Spark's progress spells them: `{"topic": {"0": 12}}`.
fn kafka_offsets(value: Option<&serde_json::Value>, topic: &str) -> Offsets {
    value
        .and_then(|v| v.get(topic))
        .and_then(|v| v.as_object())
        .map(|partitions| {
            partitions
                .iter()
                .filter_map(|(p, o)| Some((p.parse().ok()?, o.as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Milliseconds since the epoch of an ISO-8601 UTC time as Spark writes it
/// (`2026-11-27T15:45:35.123Z`).
fn iso_utc_ms(text: &str) -> Option<i64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>());
    let (h, min, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let millis: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + s * 1000 + millis)
}

/// What the progress file has said so far.
#[derive(Debug, Default)]
struct Progress {
    read_to: usize,
    first_start: Option<Offsets>,
    end: Offsets,
    /// The watermark of the last batch, ms.
    watermark_ms: Option<i64>,
}

impl Progress {
    /// Reads the lines added to `path` since the last call into `metrics`.
    fn follow(&mut self, path: &Path, topic: &str, metrics: &Metrics) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Some(new) = text.get(self.read_to..) else {
            return;
        };
        // Only whole lines: the writer may be half-way through one.
        let Some(last_newline) = new.rfind('\n') else {
            return;
        };
        for line in new[..last_newline].lines() {
            match serde_json::from_str::<ProgressLine>(line) {
                Ok(ProgressLine::Progress(p)) => self.apply(&p, topic, metrics),
                Ok(ProgressLine::Written { rows, .. }) => Metrics::add(&metrics.results_written, rows),
                Err(e) => tracing::warn!(error = %e, "unreadable Spark progress line"),
            }
        }
        self.read_to += last_newline + 1;
    }

    fn apply(&mut self, p: &QueryProgress, topic: &str, metrics: &Metrics) {
        if p.num_input_rows > 0 && metrics.first_record_us.load(Ordering::Relaxed) == 0 {
            // A batch is reported once it is done: its reading began when
            // its trigger fired.
            match p.timestamp.as_deref().and_then(iso_utc_ms) {
                Some(ms) => metrics.set_first_record(ms * 1000),
                None => metrics.mark_first_record(),
            }
        }
        Metrics::add(&metrics.records_read, p.num_input_rows);
        Metrics::add(&metrics.checkpoints, 1);
        let took = p.duration_ms.get("triggerExecution").copied().unwrap_or(0);
        metrics.last_checkpoint_us.store(took * 1000, Ordering::Relaxed);
        if let Some(source) = p.sources.first() {
            if self.first_start.is_none() {
                self.first_start = Some(kafka_offsets(source.start_offset.as_ref(), topic));
            }
            let end = kafka_offsets(source.end_offset.as_ref(), topic);
            metrics.set_positions(&end);
            self.end = end;
        }
        if let Some(w) = p.event_time.get("watermark").and_then(|w| iso_utc_ms(w)) {
            // Spark reports the epoch before the first watermark.
            if w > 0 {
                metrics.watermark_ms.store(w, Ordering::Relaxed);
                self.watermark_ms = Some(w);
            }
        }
        let (rows, bytes) = p.state_operators.iter().fold((0, 0), |(r, b), s| {
            (r + s.num_rows_total, b + s.memory_used_bytes)
        });
        metrics.open_windows.store(rows, Ordering::Relaxed);
        metrics.last_checkpoint_bytes.store(bytes, Ordering::Relaxed);
    }
}

/// The job file `spark_job.py` reads.
fn job_file(
    job: &JobRun,
    settings: &SparkSettings,
    install: &SparkInstall,
    progress: &Path,
    markers: &MarkerTopic,
) -> Result<serde_json::Value> {
    let real_time = settings.mode == SparkMode::RealTime;
    // Real-time mode's JVM writer connects with JDBC.
    let jdbc = if real_time {
        let (url, user, password) = driver::jdbc(&job.postgres, settings.mode.engine())?;
        Some(json!({"url": url, "user": user, "password": password}))
    } else {
        None
    };
    Ok(driver::with(
        driver::job_file(job, settings.mode.engine())?,
        json!({
            "real_time": real_time,
            "jdbc": jdbc,
            "marker_topic": markers.0,
            "postgres": job.postgres,
            "progress_file": progress,
            "master": settings.master,
            "jars": install.jars,
            "trigger_interval_ms": settings.trigger_interval.as_millis() as u64,
            "max_offsets_per_trigger": settings.max_offsets_per_trigger,
            "shuffle_partitions": settings.shuffle_partitions,
            "state_store": settings.state_store,
            "declared": driver::declared_sql(&job.job, Dialect::Spark, settings.mode.engine())?,
        }),
    ))
}

/// The folders, under the checkpoint location, of the job's two queries
/// (`spark_job.py` names them): the results (windows or per-event rows) and
/// the dead letters.
const RESULTS_QUERY: &str = "windows";
const DEAD_LETTERS_QUERY: &str = "dead_letters";

/// The newest batch the query keeping its logs in `query_dir` committed
/// (Spark's commit log: one file per batch, named by its id), which a
/// restart resumes after.
fn last_committed_batch(query_dir: &Path) -> Option<u64> {
    std::fs::read_dir(query_dir.join("commits"))
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u64>().ok())
        .max()
}

/// Runs `job` on Spark until stopped (bounded: until what the topic holds
/// now is read and every window written).
pub async fn run(job: JobRun, settings: SparkSettings, install: SparkInstall) -> Result<RunSummary> {
    let started = Instant::now();
    let engine = settings.mode.engine();
    std::fs::create_dir_all(&job.checkpoint_dir).map_err(Error::checkpoint_write(&job.checkpoint_dir))?;
    let progress_file = job.checkpoint_dir.join("progress.jsonl");
    // Progress of earlier runs stays in the file; follow only this run's.
    let already = std::fs::metadata(&progress_file).map_or(0, |m| m.len() as usize);
    let job_path = job.checkpoint_dir.join("job.json");
    let markers = MarkerTopic::for_run(&job.checkpoint_dir, &job.topic, &job.brokers).await?;
    let spec = job_file(&job, &settings, &install, &progress_file, &markers)?;
    let written = serde_json::to_vec_pretty(&spec).map_err(|e| driver::failure(engine, e.to_string()))?;
    driver::write_private(&job_path, &written).map_err(Error::checkpoint_write(&job_path))?;

    let source = job.connect_source().await?;
    let script = job.checkpoint_dir.join("spark_job.py");
    std::fs::write(&script, JOB_SCRIPT).map_err(Error::checkpoint_write(&script))?;
    let mut command = Command::new(&install.python);
    command
        .arg(&script)
        .arg(&job_path)
        .env("PYSPARK_PYTHON", &install.python);
    match last_committed_batch(&job.checkpoint_dir.join(RESULTS_QUERY)) {
        Some(batch) => {
            eprintln!(
                "streambench {engine}: resuming after batch {batch}, committed in its checkpoint location"
            )
        }
        None => eprintln!("streambench {engine}: no committed batch to resume after; starting from --start"),
    }
    let mut driver = Driver::start(engine, command, &job.checkpoint_dir.join("spark.log"))?;
    driver::begin(&mut driver, || async {
        // Tables exist once Spark can run: the harness starts producing when it sees them.
        drop(PostgresSink::connect(job.sink_config(engine)?).await?);
        // Every Spark run shares the batch table: create it under the set-up lock.
        let mut client = sink::connect(&job.postgres).await?;
        let batches = format!(
            "CREATE TABLE IF NOT EXISTS {BATCHES_TABLE} (sink text PRIMARY KEY, batch_id bigint NOT NULL)"
        );
        sink::create_serialised(&mut client, &[batches]).await
    })
    .await?;
    tracing::info!("Spark is running the job");

    let metrics = Arc::new(Metrics::new());
    let observability = Observability::start(&job, engine, &metrics, &source).await?;
    let mut progress = Progress {
        read_to: already,
        ..Progress::default()
    };
    let outcome = watch(
        &job,
        &mut driver,
        &mut progress,
        &progress_file,
        &metrics,
        (&source, &markers),
    )
    .await;
    progress.follow(&progress_file, &job.topic, &metrics);
    observability.stop();
    outcome?;
    Ok(RunSummary::from_metrics(
        engine,
        &metrics,
        progress.first_start.unwrap_or_default(),
        progress.end,
        started,
    ))
}

/// Follows Spark until it fails or is told to stop; draining (or bounded),
/// once Spark has read the input to its end, writes the end-of-input marker
/// and waits for the watermark to pass it.
async fn watch(
    job: &JobRun,
    driver: &mut Driver,
    progress: &mut Progress,
    progress_file: &Path,
    metrics: &Metrics,
    (source, markers): (&KafkaSource, &MarkerTopic),
) -> Result<()> {
    let drain = job.bounded || job.drain_on_stop;
    // The input's end, and where Spark started reading it, once stopping.
    let mut input: Option<(Offsets, Offsets)> = None;
    let mut marker_sent = false;
    let end_watermark = END_OF_INPUT_MS - job.job.watermark_delay_ms - job.job.allowed_lateness_ms;
    let per_event = job.job.window.is_per_event();
    let results = job.checkpoint_dir.join(RESULTS_QUERY);
    // The dead-letter query runs on its own: Spark stops only once it has
    // also written every record up to the input's end.
    let dead_letters = job.checkpoint_dir.join(DEAD_LETTERS_QUERY);
    let dead_letters_done =
        |start: &Offsets, end: &Offsets| committed_to_end(&dead_letters, &job.topic, start, end);
    loop {
        progress.follow(progress_file, &job.topic, metrics);
        if let Some(status) = driver.exited() {
            return Err(driver.failed(&format!("Spark exited ({status})")));
        }
        let stopping = job.bounded || job.stop.load(Ordering::Relaxed);
        if stopping && !drain {
            return tokio::task::block_in_place(|| driver.terminate(Duration::from_secs(60)));
        }
        if stopping && (per_event || !marker_sent) {
            let (end, start) = match &input {
                Some(input) => input,
                None => input.insert(tokio::task::block_in_place(|| {
                    Ok::<_, Error>((source.end_offsets()?, source.resolve(job.start, None)?))
                })?),
            };
            if per_event {
                if committed_to_end(&results, &job.topic, start, end) && dead_letters_done(start, end) {
                    return tokio::task::block_in_place(|| driver.terminate(Duration::from_secs(60)));
                }
            } else if covers(
                planned_batch(&results, &job.topic)
                    .as_ref()
                    .map_or(start, |(_, read)| read),
                end,
            ) {
                // A marker read in a batch before the input's last records
                // would make them late: written once Spark has planned them.
                tracing::info!(topic = %markers.0, "Spark has read the input: writing the end-of-input marker");
                markers.append(&job.brokers, &job.job).await?;
                marker_sent = true;
            }
        }
        let dead_letters_written = input
            .as_ref()
            .is_some_and(|(end, start)| dead_letters_done(start, end));
        if marker_sent && progress.watermark_ms.is_some_and(|w| w >= end_watermark) && dead_letters_written {
            return tokio::task::block_in_place(|| driver.terminate(Duration::from_secs(60)));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether the query keeping its logs in `query_dir` has written everything
/// of `topic` up to `end`: once the newest batch it planned reads to `end`
/// and is in its commit log (or, before any batch, once there is nothing to
/// read from `start`). Enough for a query with no window waiting for a
/// watermark: the dead letters', and a per-event job's results.
fn committed_to_end(query_dir: &Path, topic: &str, start: &Offsets, end: &Offsets) -> bool {
    match planned_batch(query_dir, topic) {
        Some((batch, read)) => covers(&read, end) && last_committed_batch(query_dir) >= Some(batch),
        None => covers(start, end),
    }
}

/// The newest batch the query keeping its logs in `query_dir` planned, and
/// how far in `topic` it reads, from its offset log (written before the
/// batch runs; none before the first).
fn planned_batch(query_dir: &Path, topic: &str) -> Option<(u64, Offsets)> {
    let log = query_dir.join("offsets");
    let newest = std::fs::read_dir(&log)
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u64>().ok())
        .max()?;
    let text = std::fs::read_to_string(log.join(newest.to_string())).ok()?;
    Some((newest, offsets_in_log_entry(&text, topic)?))
}

/// The offsets of `topic` in one entry of Spark's offset log: a version
/// line, the batch's metadata, then one JSON line per source.
fn offsets_in_log_entry(text: &str, topic: &str) -> Option<Offsets> {
    text.lines()
        .skip(2)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|source| kafka_offsets(Some(&source), topic))
        .find(|offsets| !offsets.is_empty())
}

/// Whether `read` reaches `end` in every partition.
fn covers(read: &Offsets, end: &Offsets) -> bool {
    end.iter().all(|(p, &e)| read.get(p).is_some_and(|&r| r >= e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_times_and_offsets_read_back() {
        assert_eq!(iso_utc_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(iso_utc_ms("2100-01-01T00:00:00.000Z"), Some(END_OF_INPUT_MS));
        assert_eq!(iso_utc_ms("2026-11-27T15:45:35.123Z"), Some(1_795_794_335_123));
        assert_eq!(iso_utc_ms("2026-11-27T15:45:35Z"), Some(1_795_794_335_000));
        assert_eq!(iso_utc_ms("yesterday"), None);
        let value = json!({"t": {"0": 5, "1": 7}});
        assert_eq!(kafka_offsets(Some(&value), "t"), BTreeMap::from([(0, 5), (1, 7)]));
        assert!(kafka_offsets(Some(&value), "other").is_empty());
    }

    #[test]
    fn progress_lines_become_metrics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("progress.jsonl");
        let batch = |rows: u64, end: i64, watermark: &str| {
            json!({"progress": {
                "numInputRows": rows,
                "timestamp": "2026-11-27T15:45:30.000Z",
                "durationMs": {"triggerExecution": 40},
                "eventTime": {"watermark": watermark},
                "stateOperators": [{"numRowsTotal": 3, "memoryUsedBytes": 900}],
                "sources": [{"startOffset": {"t": {"0": 0}}, "endOffset": {"t": {"0": end}}}],
            }})
            .to_string()
        };
        let metrics = Metrics::new();
        let mut progress = Progress::default();
        std::fs::write(
            &path,
            format!("{}\n{}", batch(10, 10, "1970-01-01T00:00:00.000Z"), "{\"prog"),
        )
        .expect("write");
        progress.follow(&path, "t", &metrics);
        assert_eq!(metrics.snapshot().records_read, 10);
        assert_eq!(
            metrics.first_record_us.load(Ordering::Relaxed),
            1_795_794_330_000_000,
            "reading began when the first batch's trigger fired"
        );
        assert_eq!(progress.watermark_ms, None, "the epoch means no watermark yet");
        std::fs::write(
            &path,
            format!(
                "{}\n{}\n{}\n",
                batch(10, 10, "1970-01-01T00:00:00.000Z"),
                batch(5, 15, "2026-11-27T15:45:35.123Z"),
                json!({"written": {"batchId": 1, "rows": 4}})
            ),
        )
        .expect("write");
        progress.follow(&path, "t", &metrics);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.records_read, 15, "each line is read once");
        assert_eq!(snapshot.results_written, 4);
        assert_eq!(snapshot.checkpoints, 2);
        assert_eq!(progress.watermark_ms, Some(1_795_794_335_123));
        assert_eq!(progress.end, BTreeMap::from([(0, 15)]));
        assert_eq!(progress.first_start, Some(BTreeMap::from([(0, 0)])));
    }

    #[test]
    fn the_marker_waits_until_spark_has_planned_the_whole_input() {
        let entry = "v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1}\n\
                     {\"t\":{\"0\":40,\"1\":12},\"streambench-end-of-input.t.1\":{\"0\":0}}\n";
        let planned = offsets_in_log_entry(entry, "t").expect("the input's offsets");
        assert_eq!(planned, BTreeMap::from([(0, 40), (1, 12)]));
        assert!(covers(&planned, &BTreeMap::from([(0, 40), (1, 12)])));
        assert!(
            !covers(&planned, &BTreeMap::from([(0, 41), (1, 12)])),
            "a record of partition 0 is still to come"
        );
        assert!(
            !covers(&planned, &BTreeMap::from([(0, 40), (2, 1)])),
            "partition 2 is not planned at all"
        );
        assert_eq!(offsets_in_log_entry(entry, "other"), None);
    }

    #[test]
    fn a_restart_resumes_after_the_newest_committed_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(last_committed_batch(dir.path()), None);
        let commits = dir.path().join("commits");
        std::fs::create_dir_all(&commits).expect("mkdir");
        for name in ["0", "1", "12", ".12.crc", "3"] {
            std::fs::write(commits.join(name), b"v1").expect("write");
        }
        assert_eq!(last_committed_batch(dir.path()), Some(12));
    }

    #[test]
    fn a_query_has_written_to_the_end_once_its_batch_reading_there_is_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (start, end) = (BTreeMap::from([(0, 0)]), BTreeMap::from([(0, 40)]));
        assert!(
            !committed_to_end(dir.path(), "t", &start, &end),
            "nothing read yet"
        );
        assert!(committed_to_end(dir.path(), "t", &end, &end), "nothing to read");
        for folder in ["offsets", "commits"] {
            std::fs::create_dir_all(dir.path().join(folder)).expect("mkdir");
        }
        let plan = |batch: u64, read: i64| {
            let entry = format!("v1\n{{\"batchWatermarkMs\":0}}\n{{\"t\":{{\"0\":{read}}}}}\n");
            std::fs::write(dir.path().join("offsets").join(batch.to_string()), entry).expect("write");
        };
        let commit = |batch: u64| {
            std::fs::write(dir.path().join("commits").join(batch.to_string()), b"v1").expect("write")
        };
        plan(3, 39);
        commit(3);
        assert!(
            !committed_to_end(dir.path(), "t", &start, &end),
            "a record to come"
        );
        plan(4, 40);
        assert!(
            !committed_to_end(dir.path(), "t", &start, &end),
            "batch 4 not committed"
        );
        commit(4);
        assert!(committed_to_end(dir.path(), "t", &start, &end));
    }
}
