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
