//! Apache Flink as an engine: the job runs as Flink SQL
//! (`engines/external/FlinkJob.java`) on a local mini-cluster in a child JVM;
//! this side writes its job file, creates the tables, finds the checkpoint
//! to restore, follows the offsets Flink commits at each checkpoint as its
//! metrics, and on stop with drain waits until Flink has read to the end of
//! the topic and then stops it with a final watermark (`stop --drain`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use streambench_workloads::suite::DeliveryMode;

use super::driver::{self, Driver};
use crate::engine::{JobRun, Observability, RunSummary};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::sink::PostgresSink;
use crate::sink::tables::{Tables, quoted};
use crate::source::{KafkaSource, Offsets};
use crate::start::StartPosition;

/// The engine's name in result rows and reports.
pub const ENGINE: &str = "flink";

/// The Flink SQL job's source; the installer compiles it (Flink's class
/// loader must find the job's functions as class files).
pub const JOB_SOURCE: &str = include_str!("../../external/FlinkJob.java");

/// Module openings Flink needs on Java 17 (what Flink's own scripts pass).
const JVM_OPENS: &[&str] = &[
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
}

/// How Flink runs the job, beyond what every engine is given.
#[derive(Debug, Clone)]
pub struct FlinkSettings {
    /// Parallelism of every operator.
    pub parallelism: u32,
    /// Time between checkpoints; Flink commits its Kafka offsets at each.
    pub checkpoint_interval: Duration,
    /// A partition without records for this long stops holding the watermark back.
    pub idle_timeout: Duration,
    /// The JVM's heap.
    pub heap_mb: u32,
}

fn failure(reason: String) -> Error {
    driver::failure(ENGINE, reason)
}

/// The view Flink writes dead letters through.
fn dead_letters_view(tables: &Tables) -> String {
    format!("{}_in", tables.dead_letters)
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

/// A PostgreSQL URL as JDBC wants it: the URL, the user and the password.
fn jdbc(url: &str) -> Result<(String, String, String)> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| failure(format!("cannot read the PostgreSQL URL: {e}")))?;
    let host = config
        .get_hosts()
        .iter()
        .find_map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => Some(name.clone()),
            _ => None,
        })
        .ok_or_else(|| failure("Flink's JDBC sink needs a TCP host in the PostgreSQL URL".into()))?;
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or("postgres");
    let user = config.get_user().unwrap_or("postgres").to_string();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    Ok((
        format!("jdbc:postgresql://{host}:{port}/{database}"),
        user,
        password,
    ))
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
    if settings.checkpoint_interval.is_zero() {
        return Err(failure(
            "Flink needs checkpoints: they restore it after a crash and commit its Kafka offsets".into(),
        ));
    }
    std::fs::create_dir_all(&job.checkpoint_dir).map_err(Error::checkpoint_write(&job.checkpoint_dir))?;
    let restore_from = match job.start {
        StartPosition::Checkpoint => latest_snapshot(&job.checkpoint_dir),
        _ => None,
    };
    let (jdbc_url, jdbc_user, jdbc_password) = jdbc(&job.postgres)?;
    let tables = Tables::new(&job.table)?;
    let spec = driver::with(
        driver::job_file(&job, ENGINE)?,
        json!({
            "jdbc_url": jdbc_url,
            "jdbc_user": jdbc_user,
            "jdbc_password": jdbc_password,
            "dead_letters_view": dead_letters_view(&tables),
            "restore_from": restore_from,
            "checkpoint_interval_ms": settings.checkpoint_interval.as_millis() as u64,
            "idle_timeout_ms": settings.idle_timeout.as_millis() as u64,
            "parallelism": settings.parallelism,
        }),
    );
    let job_path = job.checkpoint_dir.join("job.json");
    let written = serde_json::to_vec_pretty(&spec).map_err(|e| failure(e.to_string()))?;
    driver::write_private(&job_path, &written).map_err(Error::checkpoint_write(&job_path))?;

    let source = job.connect_source().await?;
    let mut command = Command::new(&install.java);
    command.arg(format!("-Xmx{}m", settings.heap_mb));
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
        .arg(&job_path)
        .current_dir(&job.checkpoint_dir);
    match &restore_from {
        Some(from) => eprintln!("streambench flink: restoring from {}", from.display()),
        None => eprintln!("streambench flink: no checkpoint to restore; starting from --start"),
    }
    let mut driver = Driver::start(ENGINE, command, &job.checkpoint_dir.join("flink.log"))?;
    driver::begin(&mut driver, || async {
        // Tables exist once Flink can run: the harness starts producing when it sees them.
        drop(PostgresSink::connect(job.sink_config(ENGINE)?).await?);
        // The JDBC connector does not quote column names, and `offset` is a
        // reserved word: dead letters go in through a view that renames it.
        let client = crate::sink::connect(&job.postgres).await?;
        client
            .batch_execute(&format!(
                "CREATE OR REPLACE VIEW {} AS SELECT partition, \"offset\" AS record_offset, raw, error FROM {}",
                quoted(&dead_letters_view(&tables)),
                quoted(&tables.dead_letters)
            ))
            .await
            .map_err(Error::postgres("creating the dead-letter view for Flink"))
    })
    .await?;
    tracing::info!("Flink is running the job");

    let metrics = Arc::new(Metrics::new());
    let observability = Observability::start(&job, ENGINE, &metrics, &source).await?;
    // Records read are counted from where the group stood at the start
    // (the topic's first offsets for a new group).
    let reader = source.clone();
    let first = tokio::task::spawn_blocking(move || -> Result<Offsets> {
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
    .map_err(|e| failure(format!("reading the group's offsets failed: {e}")))??;
    let mut positions = CommittedPositions {
        first: Some(first),
        last: Offsets::new(),
    };
    let outcome = watch(&job, &mut driver, &mut positions, &metrics, &source).await;
    observability.stop();
    outcome?;
    Ok(RunSummary::from_metrics(
        ENGINE,
        &metrics,
        positions.first.unwrap_or_default(),
        positions.last,
        started,
    ))
}

/// The offsets Flink has committed for its group, as they move.
#[derive(Debug, Default)]
struct CommittedPositions {
    first: Option<Offsets>,
    last: Offsets,
}

impl CommittedPositions {
    /// Reads the group's committed offsets into `metrics`.
    async fn follow(&mut self, source: &Arc<KafkaSource>, metrics: &Metrics) {
        let reader = source.clone();
        let Ok(Ok(committed)) = tokio::task::spawn_blocking(move || reader.committed()).await else {
            return;
        };
        if committed.is_empty() {
            return;
        }
        let first = self.first.get_or_insert_with(|| committed.clone());
        let read: i64 = committed
            .iter()
            .map(|(p, o)| o - first.get(p).copied().unwrap_or(0))
            .sum();
        if committed != self.last {
            Metrics::add(&metrics.checkpoints, 1);
            if read > 0 {
                metrics.mark_first_record();
            }
        }
        metrics.records_read.store(read.max(0) as u64, Ordering::Relaxed);
        metrics.set_positions(&committed);
        self.last = committed;
    }
}

/// Follows Flink until it fails or is told to stop; draining, waits until
/// its committed offsets reach the topic's end, then stops it with a final
/// watermark.
async fn watch(
    job: &JobRun,
    driver: &mut Driver,
    positions: &mut CommittedPositions,
    metrics: &Metrics,
    source: &Arc<KafkaSource>,
) -> Result<()> {
    let mut drain_to: Option<Offsets> = None;
    loop {
        positions.follow(source, metrics).await;
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
    fn postgres_urls_become_jdbc_settings() {
        assert_eq!(
            jdbc("postgres://bench:secret@127.0.0.1:5433/streambench").expect("url"),
            (
                "jdbc:postgresql://127.0.0.1:5433/streambench".to_string(),
                "bench".to_string(),
                "secret".to_string()
            )
        );
        assert!(
            jdbc("host=/var/run/postgresql dbname=x").is_err(),
            "a socket is no JDBC host"
        );
    }

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
