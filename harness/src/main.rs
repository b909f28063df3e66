//! `streambench`: measures streaming against micro-batch processing on the
//! same windowed Kafka-to-PostgreSQL jobs.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use streambench_harness::broker_check;
use streambench_harness::home::Home;
use streambench_harness::redact::redact_url;
use streambench_harness::stack::{self, Endpoints, health};

/// Measure event-by-event streaming against micro-batches on the same
/// windowed Kafka-to-PostgreSQL jobs.
#[derive(Parser)]
#[command(name = "streambench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start, inspect, check and stop the local Kafka broker and PostgreSQL server.
    #[command(subcommand)]
    Stack(StackCommand),
    /// Send a workload's seeded events to Kafka on its open-loop schedule.
    Generate(GenerateArgs),
}

/// `streambench generate`: a suite's workload, or one set by flags.
#[derive(Args)]
struct GenerateArgs {
    /// Take the workload from this suite file.
    #[arg(long, value_name = "FILE")]
    suite: Option<std::path::PathBuf>,
    /// The job whose input to make (ad events for `ysb`, measurements otherwise);
    /// default: the suite's first job, else `tumbling`.
    #[arg(long)]
    job: Option<String>,
    /// Topic to write (created with the workload's partitions if missing).
    #[arg(long, default_value = "streambench_events")]
    topic: String,
    /// Seed (overrides the suite's).
    #[arg(long)]
    seed: Option<u64>,
    /// Constant rate in events per second (overrides the suite's profile).
    #[arg(long)]
    rate: Option<f64>,
    /// Exactly this many events (overrides the suite's duration).
    #[arg(long)]
    events: Option<u64>,
    /// Seconds to send for.
    #[arg(long)]
    duration_s: Option<f64>,
    /// When the schedule starts, ms since the epoch (default: now); the same
    /// value and seed reproduce the same bytes.
    #[arg(long)]
    start_time_ms: Option<i64>,
    #[command(flatten)]
    services: ServiceArgs,
}

#[derive(Subcommand)]
enum StackCommand {
    /// Start the embedded Kafka and PostgreSQL (installing them on first use)
    /// unless --brokers / --postgres point elsewhere.
    Up(ServiceArgs),
    /// Show both endpoints and whether they answer; non-zero exit if one does not.
    Status(ServiceArgs),
    /// Probe a broker for everything the engines rely on.
    Check(ServiceArgs),
    /// Stop what `stack up` started.
    Down,
}

/// Where the broker and database are, when not the local stack's.
#[derive(Args)]
struct ServiceArgs {
    /// Kafka bootstrap servers (HOST:PORT[,HOST:PORT]); default: the local stack's broker.
    #[arg(long, env = "STREAMBENCH_BROKERS", value_name = "HOST:PORT")]
    brokers: Option<String>,
    /// PostgreSQL connection URL; default: the local stack's database.
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    postgres: Option<String>,
}

impl ServiceArgs {
    fn endpoints(&self) -> Endpoints {
        Endpoints {
            brokers: self.brokers.clone(),
            postgres: self.postgres.clone(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREAMBENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,librdkafka=off,rdkafka=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let home = Home::from_env();
    match cli.command {
        Command::Stack(StackCommand::Up(args)) => {
            let resolved = stack::up(&home, &args.endpoints()).await?;
            println!("kafka     {}", resolved.brokers);
            println!("postgres  {}", redact_url(&resolved.postgres));
            Ok(ExitCode::SUCCESS)
        }
        Command::Stack(StackCommand::Status(args)) => status(&home, &args).await,
        Command::Generate(args) => generate(&home, args).await,
        Command::Stack(StackCommand::Check(args)) => {
            let resolved = stack::resolve(&home, &args.endpoints())?;
            let probes = broker_check::check_broker(&resolved.brokers)
                .await
                .with_context(|| format!("checking Kafka at {}", resolved.brokers))?;
            for probe in &probes {
                let mark = match (probe.passed, probe.kind) {
                    (true, _) => "ok  ",
                    (false, broker_check::ProbeKind::Functional) => "FAIL",
                    (false, broker_check::ProbeKind::Performance) => "SLOW",
                };
                println!("{mark} {:<42} {}", probe.name, probe.detail);
            }
            let failed = probes.iter().filter(|p| !p.passed).count();
            println!("{} passed, {failed} failed", probes.len() - failed);
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Stack(StackCommand::Down) => {
            let stopped = stack::down(&home)?;
            if stopped.is_empty() {
                println!("nothing was running");
            } else {
                println!("stopped {}", stopped.join(" and "));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn status(home: &Home, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let resolved = stack::resolve(home, &args.endpoints())?;
    let timeout = Duration::from_secs(5);
    let (kafka, postgres) = tokio::join!(
        health::kafka_answers(&resolved.brokers, timeout),
        health::postgres_answers(&resolved.postgres, timeout)
    );
    let mut healthy = true;
    match kafka {
        Ok(info) => println!(
            "kafka     {}  answering ({} broker(s), {} topic(s))",
            resolved.brokers, info.brokers, info.topics
        ),
        Err(e) => {
            healthy = false;
            println!("kafka     {}  NOT answering: {e:#}", resolved.brokers);
        }
    }
    let shown = redact_url(&resolved.postgres);
    match postgres {
        Ok(version) => println!(
            "postgres  {shown}  answering ({})",
            version.split(" on ").next().unwrap_or(&version)
        ),
        Err(e) => {
            healthy = false;
            println!("postgres  {shown}  NOT answering: {e:#}");
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn generate(home: &Home, args: GenerateArgs) -> anyhow::Result<ExitCode> {
    use streambench_workloads::generator::{Generator, WorkloadSpec};
    use streambench_workloads::job::catalogue_job;
    use streambench_workloads::rate::RateProfile;
    use streambench_workloads::suite::Suite;

    let suite = args.suite.as_deref().map(Suite::from_file).transpose()?;
    let mut workload = suite
        .as_ref()
        .map(|s| s.workload.clone())
        .unwrap_or_else(WorkloadSpec::default);
    if let Some(seed) = args.seed {
        workload.seed = seed;
    }
    if let Some(rate) = args.rate {
        workload.rate = RateProfile::constant(rate);
    }
    if let Some(duration_s) = args.duration_s {
        workload.duration_s = duration_s;
        workload.events = None;
    }
    if args.events.is_some() {
        workload.events = args.events;
    }
    let job_name = args
        .job
        .or_else(|| suite.as_ref().and_then(|s| s.matrix.jobs.first().cloned()))
        .unwrap_or_else(|| "tumbling".to_string());
    let job = catalogue_job(&job_name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown job {job_name:?}; the catalogue has {}",
            streambench_workloads::job::CATALOGUE.join(", ")
        )
    })?;
    let start_time_ms = match args.start_time_ms {
        Some(ms) => ms,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64,
    };
    let generator = Generator::new(workload, job.input, start_time_ms)?;
    let resolved = stack::resolve(home, &args.services.endpoints())?;
    streambench_harness::produce::ensure_topic(&resolved.brokers, &args.topic, generator.spec().partitions)
        .await?;

    let bar = indicatif::ProgressBar::new(generator.len());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} events  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let topic = args.topic.clone();
    let brokers = resolved.brokers.clone();
    let report = tokio::task::spawn_blocking(move || {
        streambench_harness::produce::produce(&generator, &brokers, &topic, |p| {
            bar.set_position(p.sent);
            bar.set_message(format!(
                "{:.0}/s, {:.0} ms behind schedule",
                p.sent as f64 / p.elapsed_s.max(1e-9),
                p.behind_ms
            ));
        })
        .inspect(|_| bar.finish_and_clear())
    })
    .await??;
    println!(
        "sent {} {} events ({:.1} MB) to {} in {:.1} s: {:.0}/s achieved of {:.0}/s offered; \
         max {:.0} ms behind schedule{}",
        report.events,
        job.input_name(),
        report.value_bytes as f64 / 1e6,
        report.topic,
        report.elapsed_s,
        report.achieved_per_s,
        report.offered_per_s,
        report.max_behind_ms,
        if report.max_behind_ms > 1000.0 {
            " (the producer could not keep up with the offered rate)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
