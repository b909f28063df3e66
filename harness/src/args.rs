//! Command-line arguments several subcommands share: the workload and job
//! (`generate`, `check`), the services (`--brokers`, `--postgres`), and what
//! every engine is started with (`engine ...`, and the harness when it
//! starts engines as child processes).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use streambench_engines::engine::JobRun;
use streambench_engines::options::parse_args;
use streambench_engines::start::StartPosition;
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::format::Format;
use streambench_workloads::generator::WorkloadSpec;
use streambench_workloads::job::{JobSpec, catalogue_job};
use streambench_workloads::key_names::KeyNames;
use streambench_workloads::rate::RateProfile;
use streambench_workloads::suite::Suite;

use crate::home::Home;
use crate::job_file::JobFile;
use crate::stack::{Endpoints, Resolved};

/// The workload and job, from a suite file and flags; the same flags and
/// values reproduce the same events.
#[derive(Args)]
pub struct WorkloadArgs {
    /// Take the workload (and job settings) from this suite file.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<std::path::PathBuf>,
    /// The job (its input: ad events for `ysb`, `alerts` and `fraud`, measurements otherwise);
    /// default: the suite's first job, else `tumbling`.
    #[arg(long)]
    pub job: Option<String>,
    /// Seed (overrides the suite's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Constant rate in events per second (overrides the suite's profile).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Exactly this many events (overrides the suite's duration).
    #[arg(long)]
    pub events: Option<u64>,
    /// How each event is written: json, avro or protobuf (overrides the suite's).
    #[arg(long)]
    pub format: Option<Format>,
    /// Seconds to send for.
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// When the schedule starts, ms since the epoch (default for `generate`:
    /// now, and it prints the value); the same value and seed reproduce the
    /// same bytes.
    #[arg(long)]
    pub start_time_ms: Option<i64>,
}

impl WorkloadArgs {
    /// The job and the workload these arguments describe.
    pub fn resolve(&self) -> anyhow::Result<(JobSpec, WorkloadSpec)> {
        let suite = self.suite.as_deref().map(read_suite).transpose()?;
        let mut workload = suite.as_ref().map(|s| s.workload.clone()).unwrap_or_default();
        if let Some(seed) = self.seed {
            workload.seed = seed;
        }
        if let Some(rate) = self.rate {
            workload.rate = RateProfile::constant(rate);
        }
        if let Some(duration_s) = self.duration_s {
            workload.duration_s = duration_s;
            workload.events = None;
        }
        if self.events.is_some() {
            workload.events = self.events;
        }
        if let Some(format) = self.format {
            workload.format = format;
        }
        let job = resolve_job(suite.as_ref(), self.job.as_deref())?;
        Ok((job, workload))
    }
}

/// The suite file at `path`, checked against the engine registry.
pub fn read_suite(path: &std::path::Path) -> Result<Suite, streambench_workloads::suite::SuiteError> {
    Suite::from_file(path, &streambench_engines::registry::profiles())
}

/// The job named `name` (default: the suite's first, else `tumbling`), with
/// the suite's overrides.
pub fn resolve_job(suite: Option<&Suite>, name: Option<&str>) -> anyhow::Result<JobSpec> {
    let name = name
        .map(str::to_string)
        .or_else(|| suite.and_then(|s| s.matrix.jobs.first().cloned()))
        .unwrap_or_else(|| "tumbling".to_string());
    if let Some(suite) = suite
        && let Some(job) = suite.job_specs()?.into_iter().find(|j| j.name == name)
    {
        return Ok(job);
    }
    catalogue_job(&name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown job {name:?}; the catalogue has {}",
            streambench_workloads::job::CATALOGUE.join(", ")
        )
    })
}

/// Environment variables for a child process, as (name, value).
pub type ChildEnv = Vec<(String, String)>;

/// Where the broker and database are, when not the local stack's.
#[derive(Args)]
pub struct ServiceArgs {
    /// Kafka bootstrap servers (HOST:PORT[,HOST:PORT]); default: the local stack's broker.
    #[arg(long, env = "STREAMBENCH_BROKERS", value_name = "HOST:PORT")]
    pub brokers: Option<String>,
    /// PostgreSQL connection URL; default: the local stack's database.
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    pub postgres: Option<String>,
}

impl ServiceArgs {
    /// The broker as a flag, for a child `streambench`. The database URL,
    /// which may hold a password, goes in [`ServiceArgs::to_env`] instead:
    /// a command line is readable by every user of the machine (`/proc`).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        push_option(&mut args, "--brokers", self.brokers.clone());
        args
    }

    /// The database URL as the environment a child `streambench` reads it
    /// from (`DATABASE_URL`, which `--postgres` defaults to).
    pub fn to_env(&self) -> ChildEnv {
        self.postgres
            .iter()
            .map(|url| ("DATABASE_URL".to_string(), url.clone()))
            .collect()
    }

    /// The endpoints these flags name; unset ones mean the local stack's.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            brokers: self.brokers.clone(),
            postgres: self.postgres.clone(),
        }
    }
}

/// Where an engine serves its metrics: an address, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsAddr(pub Option<std::net::SocketAddr>);

impl std::fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{addr}"),
            None => f.write_str("off"),
        }
    }
}

/// Appends `flag value` when there is a value.
fn push_option(args: &mut Vec<String>, flag: &str, value: Option<String>) {
    if let Some(value) = value {
        args.extend([flag.to_string(), value]);
    }
}

fn parse_metrics_addr(text: &str) -> Result<MetricsAddr, String> {
    if text == "off" {
        return Ok(MetricsAddr(None));
    }
    text.parse()
        .map(|a| MetricsAddr(Some(a)))
        .map_err(|_| format!("{text:?} is not HOST:PORT (an IP address and a port) or `off`"))
}

fn parse_delivery(text: &str) -> Result<DeliveryMode, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("unknown delivery mode {text:?}: use insert, upsert or transactional"))
}

/// What every engine is started with.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct EngineArgs {
    /// The job (a catalogue name); its settings may come from --suite.
    #[arg(long)]
    pub job: String,
    /// Take the job's settings and the workload's seed and keys from this suite.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// Run the job this file holds, as the harness resolved it (instead of
    /// reading a suite); its name must be --job's.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["suite", "seed", "keys"])]
    pub job_file: Option<PathBuf>,
    /// The workload's seed (for the job's enrichment table; default: the suite's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The workload's key count (default: the suite's).
    #[arg(long)]
    pub keys: Option<u64>,
    /// How the topic's records are written: json, avro or protobuf (default: the suite's).
    #[arg(long, conflicts_with = "job_file")]
    pub format: Option<Format>,
    /// The topic to read.
    #[arg(long, default_value = "streambench_events")]
    pub topic: String,
    /// The result table (late events and dead letters go to `<table>_late`
    /// and `<table>_dead_letters`).
    #[arg(long, value_parser = table_name)]
    pub table: String,
    /// The consumer group (default: the table's name).
    #[arg(long)]
    pub group: Option<String>,
    /// insert (at least once), upsert (idempotent) or transactional (exactly once).
    #[arg(long, default_value = "upsert", value_parser = parse_delivery)]
    pub delivery: DeliveryMode,
    /// earliest, latest, timestamp:<ms>, or checkpoint (the last checkpoint,
    /// else the group's committed offsets, else earliest).
    #[arg(long, default_value = "checkpoint")]
    pub start: StartPosition,
    /// Where checkpoints go (default: <home>/checkpoints/<engine>/<table>).
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Read what the topic holds now, fire every window, commit and stop.
    #[arg(long)]
    pub bounded: bool,
    /// On SIGTERM or Ctrl-C, read to the topic's current end and write every
    /// window before stopping (Flink's `stop --drain`; the harness uses it).
    #[arg(long)]
    pub drain_on_stop: bool,
    /// Append a metrics line (JSON) to this file every second.
    #[arg(long)]
    pub metrics_file: Option<PathBuf>,
    /// Serve Prometheus metrics here (loopback, a free port by default); `off` for none.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_metrics_addr)]
    pub metrics_addr: MetricsAddr,
    /// Override the job's watermark delay (bounded out-of-orderness).
    #[arg(long)]
    pub watermark_delay_ms: Option<i64>,
    /// Override the job's allowed lateness.
    #[arg(long)]
    pub allowed_lateness_ms: Option<i64>,
}

impl EngineArgs {
    /// `job` writing `table`, every other flag at its default.
    pub fn for_job(job: &str, table: &str) -> EngineArgs {
        parse_args(["--job", job, "--table", table]).expect("--job and --table are all an engine needs")
    }

    /// These settings as flags: what `streambench engine <name>` parses
    /// back into the same struct.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            ("--job", self.job.clone()),
            ("--topic", self.topic.clone()),
            ("--table", self.table.clone()),
            ("--delivery", self.delivery.as_str().to_string()),
            ("--start", self.start.to_string()),
            ("--metrics-addr", self.metrics_addr.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        push_option(&mut args, "--suite", path(&self.suite));
        push_option(&mut args, "--job-file", path(&self.job_file));
        push_option(&mut args, "--seed", self.seed.map(|n| n.to_string()));
        push_option(&mut args, "--keys", self.keys.map(|n| n.to_string()));
        push_option(&mut args, "--format", self.format.map(|f| f.to_string()));
        push_option(&mut args, "--group", self.group.clone());
        push_option(&mut args, "--checkpoint-dir", path(&self.checkpoint_dir));
        push_option(&mut args, "--metrics-file", path(&self.metrics_file));
        push_option(
            &mut args,
            "--watermark-delay-ms",
            self.watermark_delay_ms.map(|n| n.to_string()),
        );
        push_option(
            &mut args,
            "--allowed-lateness-ms",
            self.allowed_lateness_ms.map(|n| n.to_string()),
        );
        for (flag, on) in [
            ("--bounded", self.bounded),
            ("--drain-on-stop", self.drain_on_stop),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        args
    }

    /// The job these arguments describe, its overrides applied and checked:
    /// resolved before any service is contacted.
    pub fn job(&self) -> anyhow::Result<JobFile> {
        let mut file = self.resolved_job()?;
        if let Some(delay) = self.watermark_delay_ms {
            file.job.watermark_delay_ms = delay;
        }
        if let Some(lateness) = self.allowed_lateness_ms {
            file.job.allowed_lateness_ms = lateness;
        }
        file.job.validate()?;
        Ok(file)
    }

    /// The run of `job` (from [`EngineArgs::job`]) these arguments describe
    /// for `engine`, against `services`. SIGTERM or Ctrl-C sets its stop flag.
    pub fn job_run(&self, job: JobFile, home: &Home, engine: &str, services: &Resolved) -> JobRun {
        let JobFile {
            job,
            workload_seed,
            workload_keys,
            workload_format,
        } = job;
        let stop = Arc::new(AtomicBool::new(false));
        watch_for_stop(stop.clone());
        JobRun {
            job,
            workload_seed,
            workload_keys,
            workload_format,
            brokers: services.brokers.clone(),
            topic: self.topic.clone(),
            group: self.group.clone().unwrap_or_else(|| self.table.clone()),
            postgres: services.postgres.clone(),
            table: self.table.clone(),
            delivery: self.delivery,
            start: self.start,
            checkpoint_dir: self
                .checkpoint_dir
                .clone()
                .unwrap_or_else(|| home.root().join("checkpoints").join(engine).join(&self.table)),
            bounded: self.bounded,
            drain_on_stop: self.drain_on_stop,
            metrics_file: self.metrics_file.clone(),
            metrics_addr: self.metrics_addr.0,
            stop,
            key_names: KeyNames::shared(),
        }
    }

    /// The job to run: `--job-file`'s, else `--job` with its settings from
    /// `--suite` (or the catalogue's), the seed and keys from the flags or
    /// the suite.
    fn resolved_job(&self) -> anyhow::Result<JobFile> {
        if let Some(path) = &self.job_file {
            let file = JobFile::read(path)?;
            anyhow::ensure!(
                file.job.name == self.job,
                "the job file {} holds the job {:?}, not --job {:?}",
                path.display(),
                file.job.name,
                self.job
            );
            return Ok(file);
        }
        let suite = self.suite.as_deref().map(read_suite).transpose()?;
        let job = resolve_job(suite.as_ref(), Some(&self.job))?;
        let workload = suite.map(|s| s.workload).unwrap_or_default();
        Ok(JobFile {
            job,
            workload_seed: self.seed.unwrap_or(workload.seed),
            workload_keys: self.keys.unwrap_or(workload.keys),
            workload_format: self.format.unwrap_or(workload.format),
        })
    }
}

/// Sets `stop` on SIGTERM or SIGINT, so the engine ends cleanly.
fn watch_for_stop(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        stop.store(true, Ordering::Relaxed);
    });
}

/// Parses a `--table` value: a plain identifier, so no name can carry SQL.
pub fn table_name(value: &str) -> Result<String, String> {
    if streambench_workloads::names::is_identifier(value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "table name {value:?} must be 1 to 40 lower-case letters, digits and _, starting with a letter"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_url_never_reaches_a_command_line() {
        let services = ServiceArgs {
            brokers: Some("127.0.0.1:9092".into()),
            postgres: Some("postgres://bench:s3cret@db:5432/x".into()),
        };
        let args = services.to_args();
        assert!(args.iter().all(|a| !a.contains("s3cret")), "{args:?}");
        assert_eq!(args, ["--brokers", "127.0.0.1:9092"]);
        assert_eq!(
            services.to_env(),
            [(
                "DATABASE_URL".to_string(),
                "postgres://bench:s3cret@db:5432/x".to_string()
            )]
        );
    }

    #[test]
    fn delivery_modes_parse() {
        assert_eq!(parse_delivery("transactional"), Ok(DeliveryMode::Transactional));
        assert!(parse_delivery("twice").is_err());
    }

    #[test]
    fn engine_args_parse_back_from_their_flags() {
        let mut args = EngineArgs::for_job("ysb", "results");
        let parse = |args: &EngineArgs| parse_args::<EngineArgs>(args.to_args()).expect("parses");
        assert_eq!(parse(&args), args, "the defaults");
        args = EngineArgs {
            suite: Some("suite.toml".into()),
            seed: Some(7),
            keys: Some(9),
            group: Some("g".into()),
            delivery: DeliveryMode::Transactional,
            start: StartPosition::Earliest,
            checkpoint_dir: Some("/tmp/c".into()),
            bounded: true,
            drain_on_stop: true,
            metrics_file: Some("/tmp/m".into()),
            metrics_addr: MetricsAddr(None),
            watermark_delay_ms: Some(10),
            allowed_lateness_ms: Some(20),
            ..args
        };
        assert_eq!(parse(&args), args, "every flag set");
        args = EngineArgs {
            job_file: Some("job.json".into()),
            ..EngineArgs::for_job("ysb", "results")
        };
        assert_eq!(parse(&args), args, "a job file");
    }
}
