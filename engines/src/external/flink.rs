//! Apache Flink as an engine: the job runs as Flink SQL
//! (`engines/external/FlinkJob.java`), on a local mini-cluster in a child
//! JVM or submitted by that JVM to a Flink cluster's REST address. This side
//! writes its job file, creates the tables, finds the checkpoint to restore
//! (and on a cluster cancels a job a killed run left behind), follows where
//! Flink's Kafka source reads through Flink's REST API as its metrics, and
//! on stop with drain waits until Flink has read to the end of the topic and
//! then stops it with a final watermark (`stop --drain`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use streambench_workloads::declared_sql::Dialect;
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::engine::{EngineName, EngineProfile};
use streambench_workloads::format::Format;

use super::driver::{self, Driver};
use super::flink_rest::{FlinkRest, OffsetGauges};
use crate::engine::{JobRun, Observability, RunSummary};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::options::Interval;
use crate::registry::Entry;
use crate::sink::PostgresSink;
use crate::sink::tables::{Tables, quoted};
use crate::source::{KafkaSource, Offsets};
use crate::start::StartPosition;

/// The engine's name in suites, on the command line and in results.
pub const NAME: EngineName = EngineName::new("flink");

/// The engine's name in result rows and reports.
pub const ENGINE: &str = NAME.as_str();

/// The Flink SQL job's source; the installer compiles it (Flink's class
/// loader must find the job's functions as class files).
pub const JOB_SOURCE: &str = include_str!("../../external/FlinkJob.java");

/// Module openings Flink needs on Java 17 (what Flink's own scripts pass).
pub const JVM_OPENS: &[&str] = &[
    "java.base/java.lang",
    "java.base/java.lang.reflect",
    "java.base/java.io",
    "java.base/java.net",
    "java.base/java.nio",
    "java.base/java.text",
    "java.base/java.time",
    "java.base/java.util",
    "java.base/java.util.concurrent",
    "java.base/java.util.concurrent.atomic",
    "java.base/java.util.concurrent.locks",
    "java.base/sun.nio.ch",
];

/// An installed Flink: a Java runtime and Flink's jars with the Kafka and JDBC connectors.
#[derive(Debug, Clone)]
pub struct FlinkInstall {
    /// The `java` launcher (17 or newer).
    pub java: PathBuf,
    /// The folder of jars the job runs with.
    pub libs: PathBuf,
    /// The compiled job ([`JOB_SOURCE`]).
    pub classes: PathBuf,
    /// The compiled job as a jar, sent to a cluster with the job.
    pub job_jar: PathBuf,
    /// The connectors and the PostgreSQL driver, sent to a cluster with the
    /// job (a Flink distribution has neither).
    pub connector_jars: Vec<PathBuf>,
}

/// How Flink runs the job, beyond what every engine is given.
#[derive(Debug, Clone)]
pub struct FlinkSettings {
    /// Parallelism of every operator.
    pub parallelism: u32,
    /// Time between checkpoints (Flink commits its Kafka offsets at each);
    /// none: no checkpoints, so no restore and no committed offsets.
    pub checkpoint_interval: Option<Duration>,
    /// A partition without records for this long stops holding the watermark back.
    pub idle_timeout: Duration,
    /// The JVM's heap.
    pub heap_mb: u32,
    /// The JDBC sink writes when it holds this many rows ...
    pub jdbc_batch_rows: u32,
    /// ... or this long after its first.
    pub jdbc_flush_interval: Duration,
    /// A Flink cluster's REST address to submit the job to; none runs a
    /// mini-cluster in the child JVM.
    pub cluster: Option<String>,
    /// Where Flink writes checkpoints and savepoints, as a URI; none puts
    /// them under the checkpoint folder (right for this machine's Flink).
    pub state_uri: Option<String>,
}

/// `streambench engine flink`'s settings: its flags, and its keys in a
/// suite's `[settings.flink]`.
#[derive(Debug, Clone, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlinkOptions {
    /// Milliseconds between checkpoints (Flink commits its Kafka offsets at
    /// each), or `off`.
    #[arg(long, default_value = "10000")]
    pub checkpoint_interval_ms: Interval,
    /// Parallelism of every operator.
    #[arg(long, default_value_t = 1)]
    pub parallelism: u32,
    /// Milliseconds without records after which a partition stops holding the watermark back.
    #[arg(long, default_value_t = 10_000)]
    pub idle_timeout_ms: u64,
    /// The JVM's heap, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub heap_mb: u32,
    /// The JDBC sink writes when it holds this many rows (its
    /// `sink.buffer-flush.max-rows`; Flink's default is 100) ...
    #[arg(long, default_value_t = 5000)]
    pub jdbc_batch_rows: u32,
    /// ... or this many milliseconds after the first it holds (its
    /// `sink.buffer-flush.interval`; Flink's default, 1000, would add up to a
    /// second to every result's latency).
    #[arg(long, default_value_t = 50)]
    pub jdbc_flush_interval_ms: u64,
    /// A Flink cluster's REST address (e.g. http://jobmanager:8081) to submit
    /// the job to; by default it runs on a mini-cluster in a local JVM.
    #[arg(long, env = "STREAMBENCH_FLINK_CLUSTER")]
    pub cluster: Option<String>,
    /// Where Flink writes checkpoints and savepoints (a URI every machine of
    /// the cluster reaches, e.g. s3://bucket/path); by default under
    /// --checkpoint-dir, which suits a Flink on this machine. A URI other than
    /// file:// needs --cluster, whose REST API a restart finds checkpoints through.
    #[arg(long)]
    pub state_uri: Option<String>,
}

impl Default for FlinkOptions {
    fn default() -> FlinkOptions {
        crate::options::defaults()
    }
}

impl FlinkOptions {
    /// The adapter's settings.
    pub fn settings(&self) -> FlinkSettings {
        FlinkSettings {
            parallelism: self.parallelism,
            checkpoint_interval: self.checkpoint_interval_ms.0,
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            heap_mb: self.heap_mb,
            jdbc_batch_rows: self.jdbc_batch_rows,
            jdbc_flush_interval: Duration::from_millis(self.jdbc_flush_interval_ms),
            cluster: self.cluster.clone(),
            state_uri: self.state_uri.clone(),
        }
    }
}

/// Flink's registry entry.
pub static ENTRY: Entry<FlinkOptions> = Entry {
    profile: EngineProfile {
        name: NAME,
        triggered: false,
        // Flink SQL's JDBC sink has no exactly-once mode.
        transactional: false,
        // Its windowed SQL drops late events without a side output.
        reports_late_window_events: false,
        // Its summary samples its metrics.
        counts_reads_exactly: false,
        // Its adapter reads JSON only so far.
        formats: &[Format::Json],
    },
    about: "Apache Flink itself, in Flink SQL on a local mini-cluster or a Flink cluster (installed on first use).",
    run: |job, options, tools| Box::pin(async move { run(job, options.settings(), tools.flink()?).await }),
    cannot_run: |job| driver::cannot_run_in(job, Dialect::Flink),
    install: |tools| tools.flink().map(drop),
};

impl FlinkSettings {
    /// The name the job runs under, by which a restart finds its predecessor.
    fn job_name(job: &JobRun) -> String {
        format!("streambench-flink-{}", job.table)
    }
}

fn failure(reason: String) -> Error {
    driver::failure(ENGINE, reason)
}

/// The view Flink writes dead letters through.
fn dead_letters_view(tables: &Tables) -> String {
    format!("{}_in", tables.dead_letters)
}

/// The view Flink writes a per-key rule's late events through.
fn late_view(tables: &Tables) -> String {
    format!("{}_in", tables.late)
}

/// The newest checkpoint or savepoint under `dir` (a folder with a
/// `_metadata` file), to restore from.
fn latest_snapshot(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let mut pending = vec![dir.join("checkpoints"), dir.join("savepoints")];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let metadata = path.join("_metadata");
            if let Ok(modified) = std::fs::metadata(&metadata).and_then(|m| m.modified()) {
                found.push((modified, path));
            } else if path.is_dir() && path.components().count() < dir.components().count() + 4 {
                pending.push(path);
            }
        }
    }
    found.into_iter().max().map(|(_, path)| path)
}

/// Runs `job` on Flink until stopped (bounded: until what the topic holds
/// now is read and every window written).
pub async fn run(job: JobRun, settings: FlinkSettings, install: FlinkInstall) -> Result<RunSummary> {
    let started = Instant::now();
    if job.delivery == DeliveryMode::Transactional {
        return Err(failure(
            "transactional delivery is not offered by Flink SQL's JDBC sink (exactly-once JDBC needs \
             the DataStream API's XA sink); use insert or upsert"
                .into(),
        ));
    }
    std::fs::create_dir_all(&job.checkpoint_dir).map_err(Error::checkpoint_write(&job.checkpoint_dir))?;
    let job = with_absolute_checkpoint_dir(job)?;
    let state = StateLocation::of(&job, &settings)?;
    let rest = match &settings.cluster {
        Some(url) => FlinkRest::new(url),
        None => FlinkRest::new(&format!("http://127.0.0.1:{}", free_port()?)),
    };
    let restore_from = restore_point(&job, &settings, &rest, &state).await?;
    let job_path = write_job_file(&job, &settings, &install, &rest, &state, &restore_from)?;
    let source = job.connect_source().await?;
    match &restore_from {
        Some(from) => eprintln!("streambench flink: restoring from {from}"),
        None => eprintln!("streambench flink: no checkpoint to restore; starting from --start"),
    }
    let jvm_temp = jvm_temp_dir(&job)?;
    let command = java_command(&install, &settings, &job_path, &job.checkpoint_dir, &jvm_temp);
    let mut driver = Driver::start(ENGINE, command, &job.checkpoint_dir.join("flink.log"))?;
    let job_id = driver::begin(&mut driver, || create_tables(&job)).await?;
    tracing::info!("Flink is running the job");

    let first = starting_offsets(&source).await?;
    let metrics = Arc::new(Metrics::new());
    // Until Flink reports where it reads, it stands where it starts.
    metrics.set_positions(&first);
    let observability = Observability::start(&job, ENGINE, &metrics, &source).await?;
    let mut positions = SourcePositions {
        job_id: (!job_id.is_empty()).then_some(job_id),
        rest,
        topic: job.topic.clone(),
        gauges: OffsetGauges::default(),
        first: first.clone(),
        last: first,
    };
    let outcome = watch(&job, &mut driver, &mut positions, &metrics, &source).await;
    observability.stop();
    if let Err(e) = std::fs::remove_dir_all(&jvm_temp) {
        tracing::warn!(
            "cannot remove Flink's temporary folder {}: {e}",
            jvm_temp.display()
        );
    }
    outcome?;
    Ok(RunSummary::from_metrics(
        ENGINE,
        &metrics,
        positions.first,
        positions.last,
        started,
    ))
}

/// `job` with its checkpoint folder as an absolute path: the JVM runs in
/// that folder, and Flink takes it as a file:// URI, so a relative one (as
/// `run` gives, under its relative `--out`) would point elsewhere.
fn with_absolute_checkpoint_dir(mut job: JobRun) -> Result<JobRun> {
    job.checkpoint_dir =
        std::path::absolute(&job.checkpoint_dir).map_err(Error::checkpoint_write(&job.checkpoint_dir))?;
    Ok(job)
}

/// Where Flink keeps its checkpoints and savepoints.
struct StateLocation {
    /// As Flink is told it.
    uri: String,
    /// The same as a folder of this machine, when it is a file:// URI;
    /// under any other, only a cluster's REST API knows the checkpoints.
    dir: Option<PathBuf>,
}

impl StateLocation {
    fn of(job: &JobRun, settings: &FlinkSettings) -> Result<StateLocation> {
        let uri = settings
            .state_uri
            .clone()
            .unwrap_or_else(|| format!("file://{}", job.checkpoint_dir.display()));
        let dir = uri
            .strip_prefix("file://")
            .or_else(|| uri.strip_prefix("file:"))
            .map(PathBuf::from);
        if dir.is_none() && settings.cluster.is_none() {
            return Err(failure(format!(
                "--state-uri {uri} is not a file:// URI: a restart finds its checkpoints there \
                 only through a cluster's REST API, so it needs --cluster"
            )));
        }
        Ok(StateLocation { uri, dir })
    }
}

/// The checkpoint or savepoint to restore, when the run starts from its
/// checkpoint; on a cluster, first cancels a job a killed run left running.
async fn restore_point(
    job: &JobRun,
    settings: &FlinkSettings,
    rest: &FlinkRest,
    state: &StateLocation,
) -> Result<Option<String>> {
    let restore = job.start == StartPosition::Checkpoint;
    let from_cluster = if settings.cluster.is_some() {
        let (rest, name, uri) = (rest.clone(), FlinkSettings::job_name(job), state.uri.clone());
        let on_cluster = restore && state.dir.is_none();
        tokio::task::spawn_blocking(move || -> Result<Option<String>> {
            cancel_left_running(&rest, &name)?;
            if on_cluster {
                retained_on_cluster(&rest, &name, &uri)
            } else {
                Ok(None)
            }
        })
        .await
        .map_err(|e| failure(format!("reading the cluster's jobs failed: {e}")))??
    } else {
        None
    };
    Ok(match &state.dir {
        Some(dir) if restore => latest_snapshot(dir).map(|p| p.display().to_string()),
        _ => from_cluster,
    })
}

/// Writes the job file `FlinkJob` reads (readable by its owner only: it
/// holds the database password) and returns its path.
fn write_job_file(
    job: &JobRun,
    settings: &FlinkSettings,
    install: &FlinkInstall,
    rest: &FlinkRest,
    state: &StateLocation,
    restore_from: &Option<String>,
) -> Result<PathBuf> {
    let (jdbc_url, jdbc_user, jdbc_password) = driver::jdbc(&job.postgres, ENGINE)?;
    let tables = Tables::new(&job.table)?;
    let spec = driver::with(
        driver::job_file(job, ENGINE)?,
        json!({
            "jdbc_url": jdbc_url,
            "jdbc_user": jdbc_user,
            "jdbc_password": jdbc_password,
            "dead_letters_view": dead_letters_view(&tables),
            "late_view": late_view(&tables),
            "restore_from": restore_from,
            "checkpoint_interval_ms": settings.checkpoint_interval.map(|i| i.as_millis() as u64),
            "idle_timeout_ms": settings.idle_timeout.as_millis() as u64,
            "jdbc_batch_rows": settings.jdbc_batch_rows,
            "jdbc_flush_interval_ms": settings.jdbc_flush_interval.as_millis() as u64,
            "parallelism": settings.parallelism,
            "job_name": FlinkSettings::job_name(job),
            "rest_url": rest.base(),
            "local": settings.cluster.is_none(),
            "ship_jars": std::iter::once(&install.job_jar).chain(&install.connector_jars).collect::<Vec<_>>(),
            "state_uri": state.uri,
            "declared": driver::declared_sql(&job.job, Dialect::Flink, ENGINE)?,
        }),
    );
    let job_path = job.checkpoint_dir.join("job.json");
    let written = serde_json::to_vec_pretty(&spec).map_err(|e| failure(e.to_string()))?;
    driver::write_private(&job_path, &written).map_err(Error::checkpoint_write(&job_path))?;
    Ok(job_path)
}

/// The JVM's temporary folder, in the run's own folder: Flink's local
/// runtime unpacks its RPC and planner jars (about 60 MB) into
/// `java.io.tmpdir` at every start and leaves them there when it is killed,
/// which filled a shared `/tmp`. Emptied at each start, removed at the end.
fn jvm_temp_dir(job: &JobRun) -> Result<PathBuf> {
    let dir = job.checkpoint_dir.join("jvm-tmp");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(Error::checkpoint_write(&dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(Error::checkpoint_write(&dir))?;
    Ok(dir)
}

/// The JVM that runs `FlinkJob` on the job file at `job_path`, in `dir`,
/// with its temporary files in `temp`.
fn java_command(
    install: &FlinkInstall,
    settings: &FlinkSettings,
    job_path: &Path,
    dir: &Path,
    temp: &Path,
) -> Command {
    let mut command = Command::new(&install.java);
    command.arg(format!("-Xmx{}m", settings.heap_mb));
    command.arg(format!("-Djava.io.tmpdir={}", temp.display()));
    for open in JVM_OPENS {
        command.arg(format!("--add-opens={open}=ALL-UNNAMED"));
    }
    command
        .arg("-cp")
        .arg(format!(
            "{}:{}/*",
            install.classes.display(),
            install.libs.display()
        ))
        .arg("FlinkJob")
        .arg(job_path)
        .current_dir(dir);
    command
}

/// Creates the tables once Flink can run (the harness starts producing when
/// it sees them), and the views Flink writes dead letters and late events
/// through: the JDBC connector does not quote column names, and `offset` is
/// a reserved word.
async fn create_tables(job: &JobRun) -> Result<()> {
    drop(PostgresSink::connect(job.sink_config(ENGINE)?).await?);
    let tables = Tables::new(&job.table)?;
    let client = crate::sink::connect(&job.postgres).await?;
    client
        .batch_execute(&format!(
            "CREATE OR REPLACE VIEW {} AS SELECT partition, \"offset\" AS record_offset, raw, error FROM {}; \
             CREATE OR REPLACE VIEW {} AS SELECT partition, \"offset\" AS record_offset, event_id, key, \
             event_time_ms, watermark_ms FROM {}",
            quoted(&dead_letters_view(&tables)),
            quoted(&tables.dead_letters),
            quoted(&late_view(&tables)),
            quoted(&tables.late)
        ))
        .await
        .map_err(Error::postgres(
            "creating the dead-letter and late-event views for Flink",
        ))
}

/// Where records read are counted from: where the group stood at the start
/// (the topic's first offsets for a new group).
async fn starting_offsets(source: &Arc<KafkaSource>) -> Result<Offsets> {
    let reader = source.clone();
    tokio::task::spawn_blocking(move || -> Result<Offsets> {
        let committed = reader.committed()?;
        if committed.is_empty() {
            Ok(reader
                .watermarks_once()?
                .into_iter()
                .map(|(p, (low, _))| (p, low))
                .collect())
        } else {
            Ok(committed)
        }
    })
    .await
    .map_err(|e| failure(format!("reading the group's offsets failed: {e}")))?
}

/// A free TCP port on the loopback interface, for the mini-cluster's REST endpoint.
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| failure(format!("no free port for Flink's REST endpoint: {e}")))
}

/// Before a job is submitted to a cluster: cancels any job of the same name
/// still running there (a killed run's, as a crash would have ended it).
fn cancel_left_running(rest: &FlinkRest, name: &str) -> Result<()> {
    let version = rest.version()?;
    tracing::info!(cluster = rest.base(), %version, "submitting to a Flink cluster");
    for job in rest.jobs_named(name)?.iter().filter(|j| j.is_live()) {
        eprintln!(
            "streambench flink: cancelling job {} left running on the cluster",
            job.id
        );
        rest.cancel(&job.id)?;
    }
    Ok(())
}

/// The newest checkpoint a job named `name` retained under `state_uri`, as
/// the cluster's REST API knows it.
fn retained_on_cluster(rest: &FlinkRest, name: &str, state_uri: &str) -> Result<Option<String>> {
    for job in rest.jobs_named(name)? {
        let retained = rest.latest_retained(&job.id)?;
        if let Some(path) = retained.filter(|p| p.starts_with(state_uri)) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Where Flink's Kafka source reads, from Flink's REST API.
struct SourcePositions {
    job_id: Option<String>,
    rest: FlinkRest,
    topic: String,
    /// The source's offset gauges, once found for every partition.
    gauges: OffsetGauges,
    first: Offsets,
    last: Offsets,
}

impl SourcePositions {
    /// Reads the source's offsets and checkpoints into `metrics`.
    async fn follow(&mut self, metrics: &Metrics) {
        let Some(id) = self.job_id.clone() else {
            return;
        };
        let (rest, topic, known) = (self.rest.clone(), self.topic.clone(), self.gauges.clone());
        let partitions = self.first.len();
        let read = tokio::task::spawn_blocking(move || -> Result<_> {
            // Gauges appear as the source's splits are assigned: look again until all have.
            let gauges = if known.partitions() < partitions {
                rest.offset_gauges(&id, &topic)?
            } else {
                known
            };
            let reading = rest.read_source(&gauges, &topic)?;
            Ok((gauges, reading, rest.completed_checkpoints(&id)?))
        });
        let (gauges, reading, checkpoints) = match read.await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "Flink's metrics are not readable yet");
                return;
            }
            Err(_) => return,
        };
        self.gauges = gauges;
        for (partition, next) in reading.positions {
            self.last.insert(partition, next);
        }
        let read: i64 = self
            .last
            .iter()
            .map(|(p, o)| o - self.first.get(p).copied().unwrap_or(0))
            .sum();
        // The job's own gauge is exact; seeing the offsets move is up to
        // Flink's metric fetch interval late.
        match reading.first_record_ms {
            Some(ms) => metrics.set_first_record(ms * 1000),
            None if read > 0 => metrics.mark_first_record(),
            None => {}
        }
        metrics.checkpoints.store(checkpoints, Ordering::Relaxed);
        metrics.records_read.store(read.max(0) as u64, Ordering::Relaxed);
        metrics.set_positions(&self.last);
    }
}

/// Follows Flink until it fails or is told to stop; draining, waits until
/// its source has read to the topic's end, then stops it with a final
/// watermark.
async fn watch(
    job: &JobRun,
    driver: &mut Driver,
    positions: &mut SourcePositions,
    metrics: &Metrics,
    source: &Arc<KafkaSource>,
) -> Result<()> {
    let mut drain_to: Option<Offsets> = None;
    loop {
        positions.follow(metrics).await;
        if let Some(status) = driver.exited() {
            return if job.bounded && status.success() {
                Ok(())
            } else {
                Err(driver.failed(&format!("Flink exited ({status})")))
            };
        }
        if !job.bounded && job.stop.load(Ordering::Relaxed) {
            if !job.drain_on_stop {
                driver.send("stop")?;
                return tokio::task::block_in_place(|| driver.wait_exit(Duration::from_secs(120)));
            }
            if drain_to.is_none() {
                let reader = source.clone();
                let end = tokio::task::spawn_blocking(move || reader.end_offsets())
                    .await
                    .map_err(|e| failure(format!("reading the topic's end failed: {e}")))??;
                tracing::info!(?end, "stopping: Flink drains once it has read to the topic's end");
                drain_to = Some(end);
            }
            let reached = drain_to.as_ref().is_some_and(|end| {
                end.iter()
                    .all(|(p, e)| positions.last.get(p).copied().unwrap_or(0) >= *e)
            });
            if reached {
                driver.send("drain")?;
                return tokio::task::block_in_place(|| driver.wait_exit(Duration::from_secs(120)));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_retained_snapshot_is_restored() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(latest_snapshot(dir.path()), None);
        for (folder, pause) in [
            ("checkpoints/job1/chk-3", 0),
            ("checkpoints/job1/chk-4", 20),
            ("checkpoints/job1/shared", 0),
        ] {
            std::thread::sleep(Duration::from_millis(pause));
            let path = dir.path().join(folder);
            std::fs::create_dir_all(&path).expect("mkdir");
            if folder.contains("chk-") {
                std::fs::write(path.join("_metadata"), b"x").expect("write");
            }
        }
        assert_eq!(
            latest_snapshot(dir.path()),
            Some(dir.path().join("checkpoints/job1/chk-4"))
        );
    }
}
