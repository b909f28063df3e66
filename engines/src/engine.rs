//! What every engine is given and what it reports: the job, where to read
//! and write, how to start, where to keep checkpoints, and the summary it
//! prints when it stops. The continuous and micro-batch engines differ only
//! in how they compute; this is the contract they share (and an external
//! engine meets through the same flags and tables).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::format::Format;
use streambench_workloads::job::JobSpec;
use streambench_workloads::key_names::KeyNames;

use crate::error::Result;
use crate::record::Interpreter;
use crate::sink::SinkConfig;
use crate::sink::tables::Tables;
use crate::source::{KafkaSource, SourceConfig};
use crate::start::StartPosition;

/// One job run, as both engines take it.
#[derive(Debug, Clone)]
pub struct JobRun {
    /// The job.
    pub job: JobSpec,
    /// The workload's seed, for the job's enrichment table.
    pub workload_seed: u64,
    /// The workload's key count, for the job's enrichment table.
    pub workload_keys: u64,
    /// How the topic's records are written.
    pub workload_format: Format,
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// The topic to read.
    pub topic: String,
    /// The consumer group (default: the result table's name).
    pub group: String,
    /// PostgreSQL URL.
    pub postgres: String,
    /// The result table.
    pub table: String,
    /// How results are delivered.
    pub delivery: DeliveryMode,
    /// Where reading starts.
    pub start: StartPosition,
    /// The checkpoint directory.
    pub checkpoint_dir: PathBuf,
    /// Read only what the topic holds when the run starts, fire every
    /// window, commit, and stop (Flink's bounded mode, Spark's available-now).
    pub bounded: bool,
    /// On stop, first read to the end the topic has at that moment and
    /// write every window (Flink's `stop --drain`); otherwise stop after a
    /// final checkpoint, leaving open windows for the next run.
    pub drain_on_stop: bool,
    /// Where to append a metrics line every second, if anywhere.
    pub metrics_file: Option<PathBuf>,
    /// Where to serve Prometheus metrics, if anywhere (port 0 picks one).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Set (by a signal) to stop: the engine commits what it has and exits.
    pub stop: Arc<AtomicBool>,
    /// The values of the keys a declared job carries by id (text, booleans
    /// or several fields), shared by its record plans, sink and checkpoints.
    pub key_names: Arc<KeyNames>,
}

impl JobRun {
    /// The source's settings.
    pub fn source_config(&self) -> SourceConfig {
        SourceConfig {
            brokers: self.brokers.clone(),
            topic: self.topic.clone(),
            group: self.group.clone(),
        }
    }

    /// Connects the Kafka source, off the async runtime: its start-up blocks.
    pub async fn connect_source(&self) -> Result<Arc<KafkaSource>> {
        let config = self.source_config();
        let source = tokio::task::spawn_blocking(move || KafkaSource::connect(config))
            .await
            .map_err(|e| crate::error::Error::Internal(format!("source start-up failed: {e}")))??;
        Ok(Arc::new(source))
    }

    /// The sink's settings, for `engine`.
    pub fn sink_config(&self, engine: &str) -> Result<SinkConfig> {
        Ok(SinkConfig {
            url: self.postgres.clone(),
            tables: Tables::new(&self.table)?,
            job: self.job.clone(),
            mode: self.delivery,
            engine: engine.to_string(),
            topic: self.topic.clone(),
            group: self.group.clone(),
            key_names: self.key_names.clone(),
        })
    }

    /// The record interpreter for the job; the error says why a declared
    /// job cannot run.
    pub fn interpreter(&self) -> Result<Interpreter> {
        Interpreter::sharing(
            self.job.clone(),
            self.workload_seed,
            self.workload_keys,
            self.workload_format,
            &self.key_names,
        )
    }
}

/// What an engine did, printed as one JSON line when it stops.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// The engine.
    pub engine: String,
    /// Records read from Kafka.
    pub records_read: u64,
    /// Events the job kept (decoded and past its filter).
    pub events_kept: u64,
    /// Records that went to the dead-letter table.
    pub dead_letters: u64,
    /// Events that went to the late side output.
    pub late_events: u64,
    /// Window results written.
    pub results_written: u64,
    /// Checkpoints (or batches) completed.
    pub checkpoints: u64,
    /// Where reading started, per partition.
    pub start_offsets: std::collections::BTreeMap<i32, i64>,
    /// Where reading ended, per partition.
    pub end_offsets: std::collections::BTreeMap<i32, i64>,
    /// Seconds from start to stop.
    pub elapsed_s: f64,
    /// Seconds from the first record read to stop: the processing time
    /// throughput is measured over.
    pub processing_s: f64,
}

/// The tasks that make an engine observable while it runs: the Prometheus
/// endpoint, the metrics file, and a probe of the partitions' ends for lag.
pub struct Observability {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    metrics: Arc<crate::metrics::Metrics>,
    metrics_file: Option<PathBuf>,
}

impl Observability {
    /// Starts them for `job` on `engine`, reading partition ends from `source`.
    pub async fn start(
        job: &JobRun,
        engine: &'static str,
        metrics: &Arc<crate::metrics::Metrics>,
        source: &Arc<crate::source::KafkaSource>,
    ) -> Result<Observability> {
        let mut tasks = Vec::new();
        if let Some(addr) = job.metrics_addr {
            let (bound, task) = metrics.serve_prometheus(addr, engine).await.map_err(|e| {
                crate::error::Error::Config(format!(
                    "cannot serve metrics on {addr}: {e}; pass another --metrics-addr"
                ))
            })?;
            eprintln!("streambench {engine}: Prometheus metrics on http://{bound}/metrics");
            tasks.push(task);
        }
        if let Some(path) = &job.metrics_file {
            tasks.push(metrics.write_every_second(path.clone()));
        }
        let (probe_metrics, probe_source) = (metrics.clone(), source.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let source = probe_source.clone();
                if let Ok(Ok(ends)) = tokio::task::spawn_blocking(move || source.watermarks_once()).await {
                    probe_metrics.set_high_watermarks(ends.into_iter().map(|(p, (_, high))| (p, high)));
                }
            }
        }));
        Ok(Observability {
            tasks,
            metrics: metrics.clone(),
            metrics_file: job.metrics_file.clone(),
        })
    }

    /// Stops the tasks and writes a last metrics line.
    pub fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(path) = &self.metrics_file {
            let _ = self.metrics.append_to(path);
        }
    }
}

impl RunSummary {
    /// The summary of `engine`'s run from its counters, reading from
    /// `start_offsets` to `end_offsets`, begun at `started`.
    pub fn from_metrics(
        engine: &str,
        metrics: &crate::metrics::Metrics,
        start_offsets: std::collections::BTreeMap<i32, i64>,
        end_offsets: std::collections::BTreeMap<i32, i64>,
        started: std::time::Instant,
    ) -> RunSummary {
        let m = metrics.snapshot();
        RunSummary {
            engine: engine.to_string(),
            records_read: m.records_read,
            events_kept: m.events_kept,
            dead_letters: m.dead_letters,
            late_events: m.late_events,
            results_written: m.results_written,
            checkpoints: m.checkpoints,
            start_offsets,
            end_offsets,
            elapsed_s: started.elapsed().as_secs_f64(),
            processing_s: metrics.seconds_since_first_record(),
        }
    }
}
