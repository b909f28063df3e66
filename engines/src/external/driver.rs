//! The child process an external engine runs in, and the line protocol
//! streambench speaks with it: the child prints `streambench: session ready`
//! once its engine is up, waits for `start` (streambench creates the tables
//! in between, so the harness starts producing only once the engine can
//! read), and prints `streambench: started` once the job runs. The child
//! exits when streambench is gone (it watches its parent), so a SIGKILL of
//! the engine takes the external engine with it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::json;
use streambench_workloads::declared_sql::{Dialect, SqlPlan, sql_plan};
use streambench_workloads::event::MAX_EVENT_BYTES;
use streambench_workloads::job::{CampaignTable, JobSpec};

use super::end_of_input::END_OF_INPUT_MS;
use crate::engine::JobRun;
use crate::error::{Error, Result};
use crate::sink::tables::{Tables, event_columns};
use crate::start::StartPosition;

/// How long an external engine may take to start (a JVM, its jars, a plan).
pub const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A running external engine.
pub struct Driver {
    engine: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: PathBuf,
}

/// An external engine's failure, with what to look at.
pub fn failure(engine: &'static str, reason: String) -> Error {
    Error::External { engine, reason }
}

/// A PostgreSQL URL as JDBC wants it: the URL, the user and the password.
pub fn jdbc(url: &str, engine: &'static str) -> Result<(String, String, String)> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| failure(engine, format!("cannot read the PostgreSQL URL: {e}")))?;
    let host = config
        .get_hosts()
        .iter()
        .find_map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => Some(name.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            failure(
                engine,
                "a JDBC sink needs a TCP host in the PostgreSQL URL".into(),
            )
        })?;
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

impl Driver {
    /// Starts `command` for `engine`, its standard error going to `log`.
    pub fn start(engine: &'static str, mut command: Command, log: &Path) -> Result<Driver> {
        let log_file = std::fs::File::create(log)
            .map_err(|e| failure(engine, format!("cannot create {}: {e}", log.display())))?;
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .env("STREAMBENCH_PARENT_PID", std::process::id().to_string())
            .spawn()
            .map_err(|e| failure(engine, format!("cannot start {program}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| failure(engine, "no output from the engine's process".into()))?;
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::io::Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Driver {
            engine,
            child,
            stdin,
            lines,
            log: log.to_path_buf(),
        })
    }

    /// The engine's failure `reason`, with the end of its log.
    pub fn failed(&self, reason: &str) -> Error {
        failure(
            self.engine,
            format!(
                "{reason}; the end of its log ({}):\n{}",
                self.log.display(),
                self.log_tail()
            ),
        )
    }

    /// Waits up to `timeout` for a line starting with `wanted`, and returns it.
    pub fn wait_for(&self, wanted: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.starts_with(wanted) => return Ok(line),
                Ok(line) => tracing::info!(engine = self.engine, said = %line),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.failed(&format!("no {wanted:?} within {timeout:?}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failed(&format!("it exited before it printed {wanted:?}")));
                }
            }
        }
    }

    /// Sends one line.
    pub fn send(&mut self, line: &str) -> Result<()> {
        let engine = self.engine;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| failure(engine, "its input is closed".into()))?;
        writeln!(stdin, "{line}").map_err(|e| failure(engine, format!("cannot talk to it: {e}")))
    }

    /// Whether it exited, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for it to exit successfully; kills it after that.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return if status.success() {
                    Ok(())
                } else {
                    Err(self.failed(&format!("it exited with {status} while stopping")))
                };
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(self.failed(&format!("it did not stop within {timeout:?}, so it was killed")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends it SIGTERM and waits up to `timeout` for it to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.wait_exit(timeout)
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }
}

/// What every external engine's job file holds: where to read and write,
/// the job and its enrichment table, where to start, and the limits the
/// engine must apply as streambench's own engines do. Each adapter adds its
/// own settings with [`with`].
pub fn job_file(job: &JobRun, engine: &'static str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let tables = Tables::new(&job.table)?;
    let campaigns: Vec<(u64, u64)> = CampaignTable::new(job.workload_seed, job.workload_keys)
        .pairs()
        .collect();
    let start = match job.start {
        StartPosition::Latest => json!("latest"),
        StartPosition::Timestamp(ms) => json!({ "timestamp": ms }),
        // The engine's own checkpoint, if it has one, wins over a starting position.
        StartPosition::Earliest | StartPosition::Checkpoint => json!("earliest"),
    };
    // Each result column: what it computes, over which value column of the
    // events (`value`, `value_1`, ...), in what decimals (a float aggregated
    // in units of them is divided back, as streambench's sink does).
    let aggregates: Vec<serde_json::Value> = job
        .job
        .result_aggregates()
        .into_iter()
        .map(|c| {
            let field = match c.field {
                0 => "value".to_string(),
                i => format!("value_{i}"),
            };
            json!({"kind": c.aggregate, "column": c.column, "field": field, "decimals": c.decimals})
        })
        .collect();
    let (result_columns, result_key) = result_columns(&job.job);
    let file = json!({
        "engine": engine,
        "brokers": job.brokers,
        "topic": job.topic,
        "group": job.group,
        "results_table": job.table,
        "dead_letters_table": tables.dead_letters,
        "late_table": tables.late,
        "delivery": job.delivery,
        "start": start,
        "bounded": job.bounded,
        "input": job.job.input,
        "job": job.job,
        "aggregates": aggregates,
        "per_event": job.job.window.is_per_event(),
        "result_columns": result_columns,
        "result_key": result_key,
        "campaigns": campaigns,
        "checkpoint_dir": job.checkpoint_dir,
        "max_event_bytes": MAX_EVENT_BYTES,
        "end_of_input_ms": END_OF_INPUT_MS,
    });
    match file {
        serde_json::Value::Object(map) => Ok(map),
        _ => unreachable!("a JSON object literal"),
    }
}

/// A declared job's query pieces in `dialect`, for `engine`'s job file
/// (none for a catalogue job).
pub fn declared_sql(job: &JobSpec, dialect: Dialect, engine: &'static str) -> Result<Option<SqlPlan>> {
    job.declared
        .as_deref()
        .map(|declared| sql_plan(declared, dialect))
        .transpose()
        .map_err(|reason| failure(engine, format!("its job: {reason}")))
}

/// [`crate::registry::Entry::cannot_run`] of an adapter whose queries are
/// SQL in `dialect`: it runs every catalogue job, and every declared job
/// whose record plan streambench's engines accept (its query is that plan
/// in SQL).
pub fn cannot_run_in(job: &JobSpec, dialect: Dialect) -> Option<String> {
    job.declared
        .as_deref()
        .and_then(|declared| sql_plan(declared, dialect).err())
}

/// The result table's columns an engine writes, in order (before the
/// bookkeeping ones: a window's `revision`, then `engine`), and the upsert
/// key among them: one row per event, or one per key and window.
fn result_columns(job: &JobSpec) -> (Vec<String>, Vec<String>) {
    let names = |columns: &[&str]| columns.iter().map(|c| c.to_string()).collect::<Vec<String>>();
    if job.window.is_per_event() {
        let columns = event_columns(job).into_iter().map(|(name, _)| name).collect();
        return (columns, names(&["event_id"]));
    }
    let mut key: Vec<String> = job.key_columns().into_iter().map(|c| c.name).collect();
    key.extend(names(&["window_start_ms", "window_end_ms"]));
    let mut columns = key.clone();
    columns.extend(job.aggregate_columns());
    (columns, key)
}

/// `file` with `more` added (an object's fields).
pub fn with(
    mut file: serde_json::Map<String, serde_json::Value>,
    more: serde_json::Value,
) -> serde_json::Value {
    if let serde_json::Value::Object(more) = more {
        file.extend(more);
    }
    serde_json::Value::Object(file)
}

/// Writes `bytes` to `path`, readable by the owner only: job files hold the
/// database password.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// The protocol's start: waits for the engine to be ready, has `create`
/// make the tables, tells it to start and waits until it runs. Returns what
/// the engine said after `streambench: started` (Flink: its job id).
pub async fn begin<F, Fut>(driver: &mut Driver, create: F) -> Result<String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    tokio::task::block_in_place(|| driver.wait_for("streambench: session ready", START_TIMEOUT))?;
    create().await?;
    driver.send("start")?;
    let started = tokio::task::block_in_place(|| driver.wait_for("streambench: started", START_TIMEOUT))?;
    Ok(started
        .trim_start_matches("streambench: started")
        .trim()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_become_jdbc_settings() {
        assert_eq!(
            jdbc("postgres://bench:secret@127.0.0.1:5433/streambench", "flink").expect("url"),
            (
                "jdbc:postgresql://127.0.0.1:5433/streambench".to_string(),
                "bench".to_string(),
                "secret".to_string()
            )
        );
        assert!(
            jdbc("host=/var/run/postgresql dbname=x", "flink").is_err(),
            "a socket is no JDBC host"
        );
    }
}
