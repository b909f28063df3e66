//! `streambench`: measures streaming against micro-batch processing on the
//! same windowed Kafka-to-PostgreSQL jobs.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use streambench_harness::args::{ServiceArgs, WorkloadArgs};
use streambench_harness::broker_check;
use streambench_harness::clock::now_ms;
use streambench_harness::engine_command::EngineCommand;
use streambench_harness::home::Home;
use streambench_harness::redact::redact_url;
use streambench_harness::stack::{self, health};
use streambench_workloads::engine::EngineName;
use streambench_workloads::format::Format;
use streambench_workloads::generator::{Generator, WorkloadSpec};
use streambench_workloads::scenario::{SettingValue, Settings};

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
    /// Run a job on one of streambench's engines (the harness starts these as
    /// child processes; run one by hand to try it).
    #[command(subcommand)]
    Engine(EngineCommand),
    /// Compare a result table with the oracle of the workload that fed it.
    Check(CheckArgs),
    /// Run a suite: every scenario of its matrix, measured and checked.
    Run(RunArgs),
    /// Throughput ratios in one run: `generate` over a bare producer, each
    /// engine over a bare consumer, micro-batch over continuous.
    Bench(BenchArgs),
    /// Write a run's report (Markdown and/or self-contained HTML with
    /// charts), with its decision guide.
    Report(ReportArgs),
    /// Compare two runs setting by setting; flag changes beyond the noise.
    Compare(CompareArgs),
}

/// `streambench report`.
#[derive(Args)]
struct ReportArgs {
    /// A run's results.json.
    results: std::path::PathBuf,
    /// Which reports to write.
    #[arg(long, value_enum, default_value_t = ReportFormat::All)]
    format: ReportFormat,
    /// Where report.md and report.html go (default: next to results.json).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// The report formats `streambench report` writes.
#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum ReportFormat {
    /// report.md
    Md,
    /// report.html
    Html,
    /// both
    All,
}

/// `streambench compare`.
#[derive(Args)]
struct CompareArgs {
    /// The earlier run's results.json.
    base: std::path::PathBuf,
    /// The later run's results.json.
    new: std::path::PathBuf,
    /// Changes within this percentage are noise.
    #[arg(long, default_value_t = 5.0)]
    noise: f64,
    /// Exit with status 1 if a figure got worse beyond the noise.
    #[arg(long)]
    fail_on_regression: bool,
}

/// `streambench bench`.
#[derive(Args)]
struct BenchArgs {
    /// The engines to measure, in this order (Flink and Spark are
    /// installed on first use).
    #[arg(long, value_delimiter = ',', value_parser = engine_name,
          default_value = "continuous,microbatch,flink,spark")]
    engines: Vec<EngineName>,
    /// An engine's setting, as a suite's `[settings.ENGINE]` would give it
    /// (repeatable): `microbatch.parallelism=2`.
    #[arg(long = "set", value_name = "ENGINE.NAME=VALUE", value_parser = engine_setting)]
    settings: Vec<(EngineName, String, SettingValue)>,
    /// Bench each of these formats in turn (default: the workload's own),
    /// then set them side by side: bytes per event, write and decode rates,
    /// and each engine's rate over its rate in the first.
    #[arg(long, value_delimiter = ',', conflicts_with = "format")]
    formats: Vec<Format>,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    services: ServiceArgs,
}

/// `ENGINE.NAME=VALUE`: a whole number, a number, `true`/`false`, or text.
fn engine_setting(text: &str) -> Result<(EngineName, String, SettingValue), String> {
    let (place, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ENGINE.NAME=VALUE"))?;
    let (engine, name) = place
        .split_once('.')
        .ok_or_else(|| format!("{place:?} is not ENGINE.NAME"))?;
    let value = if let Ok(n) = value.parse() {
        SettingValue::Integer(n)
    } else if let Ok(x) = value.parse() {
        SettingValue::Number(x)
    } else if let Ok(b) = value.parse() {
        SettingValue::Switch(b)
    } else {
        SettingValue::Text(value.to_string())
    };
    Ok((engine_name(engine)?, name.to_string(), value))
}

/// `streambench run`.
#[derive(Args)]
struct RunArgs {
    /// The suite file.
    suite: std::path::PathBuf,
    /// Where results go (default: results/<UTC time>).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Keep each scenario's topic (by default deleted once the scenario is
    /// checked: the events can be generated again from the seed).
    #[arg(long)]
    keep_topics: bool,
    /// Submit the `flink` engine's jobs to this Flink cluster's REST address
    /// instead of a local mini-cluster.
    #[arg(long)]
    flink_cluster: Option<String>,
    /// Run the `spark` and `spark_realtime` engines on this Spark master
    /// (e.g. spark://host:7077) instead of in local mode.
    #[arg(long)]
    spark_master: Option<String>,
    #[command(flatten)]
    services: ServiceArgs,
}

/// `streambench generate`: a suite's workload, or one set by flags.
#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Topic to write (created with the workload's partitions if missing).
    #[arg(long, default_value = "streambench_events")]
    topic: String,
    #[command(flatten)]
    services: ServiceArgs,
}

/// `streambench check`: a result table against the oracle of the workload
/// that fed it.
#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// The result table to check.
    #[arg(long, value_parser = streambench_harness::args::table_name)]
    table: String,
    /// Accept repeated rows (at-least-once `insert` delivery after a restart).
    #[arg(long)]
    allow_duplicates: bool,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
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
    /// Run a standalone Flink cluster on this machine until Ctrl-C, for
    /// `run --flink-cluster` or `engine flink --cluster` to submit jobs to.
    FlinkCluster(FlinkClusterArgs),
    /// Run a standalone Spark cluster on this machine until Ctrl-C, for
    /// `run --spark-master` or `engine spark --master` to run on.
    SparkCluster(SparkClusterArgs),
}

/// `streambench stack flink-cluster`.
#[derive(Args)]
struct FlinkClusterArgs {
    /// Task slots of its one TaskManager.
    #[arg(long, default_value_t = 2)]
    slots: u32,
}

/// `streambench stack spark-cluster`.
#[derive(Args)]
struct SparkClusterArgs {
    /// Cores its one worker offers.
    #[arg(long, default_value_t = 2)]
    cores: u32,
    /// Memory its one worker offers executors, in MiB.
    #[arg(long, default_value_t = 2048)]
    memory_mb: u32,
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
        Command::Check(args) => check(&home, args).await,
        Command::Run(args) => run_suite(&home, args).await,
        Command::Bench(args) => bench(&home, args).await,
        Command::Report(args) => report(args),
        Command::Compare(args) => compare(args),
        Command::Engine(engine) => print_summary(&engine.run(&home).await?),
        Command::Stack(StackCommand::FlinkCluster(args)) => {
            let install = stack::flink::install(home.tools_dir())?;
            let dir = home.root().join("flink-cluster");
            let cluster = tokio::task::block_in_place(|| {
                stack::flink_cluster::FlinkCluster::start(&install, &dir, args.slots)
            })?;
            let started = format!(
                "Flink {} standalone cluster: REST at {} (logs in {})",
                stack::flink::FLINK_VERSION,
                cluster.rest_url,
                dir.display()
            );
            run_until_ctrl_c(cluster, &started).await
        }
        Command::Stack(StackCommand::SparkCluster(args)) => {
            let install = stack::spark::install(home.tools_dir())?;
            let dir = home.root().join("spark-cluster");
            let cluster = tokio::task::block_in_place(|| {
                stack::spark_cluster::SparkCluster::start(&install, &dir, args.cores, args.memory_mb)
            })?;
            let started = format!(
                "Spark {} standalone cluster: master {} (web UI {}, logs in {})",
                stack::spark::SPARK_VERSION,
                cluster.master_url,
                cluster.web_url,
                dir.display()
            );
            run_until_ctrl_c(cluster, &started).await
        }
        Command::Stack(StackCommand::Check(args)) => {
            let resolved = stack::resolve_answering(&home, &args.endpoints(), stack::Needs::KAFKA).await?;
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
    let (job, workload) = args.workload.resolve()?;
    let start_time_ms = match args.workload.start_time_ms {
        Some(ms) => ms,
        None => now_ms(),
    };
    let generator = Generator::for_job(workload, &job, start_time_ms)?;
    let resolved = stack::resolve_answering(home, &args.services.endpoints(), stack::Needs::KAFKA).await?;
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
         max {:.0} ms behind schedule{}; start time {start_time_ms} ms (pass --start-time-ms to check)",
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

async fn check(home: &Home, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (job, workload) = args.workload.resolve()?;
    let start_time_ms = args
        .workload
        .start_time_ms
        .context("--start-time-ms is needed: the value `generate` printed for this topic")?;
    let generator = Generator::for_job(workload, &job, start_time_ms)?;
    let resolved = stack::resolve_answering(home, &args.services.endpoints(), stack::Needs::POSTGRES).await?;
    let report =
        streambench_harness::check::check_table(&resolved.postgres, &args.table, &job, &generator).await?;
    let passed = report.passed(args.allow_duplicates);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", streambench_harness::check::describe(&report));
        println!(
            "{}",
            if passed {
                "PASS: the table equals the oracle"
            } else {
                "FAIL: the table differs from the oracle"
            }
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run_suite(home: &Home, args: RunArgs) -> anyhow::Result<ExitCode> {
    use streambench_harness::clock::rfc3339;
    use streambench_harness::run::RunConfig;
    // Read the suite first: a bad file is reported before anything starts.
    let plan = streambench_harness::run::plan::plan(&args.suite)?;
    let endpoints = args.services.endpoints();
    let services = stack::up(home, &endpoints).await?;
    // Downloads happen now, not while a scenario waits for its engine to start.
    let mut engines: Vec<_> = plan.scenarios.iter().map(|s| s.engine).collect();
    engines.sort();
    engines.dedup();
    streambench_harness::engine_command::install_engines(home, &engines)?;
    let stack_home = (endpoints.brokers.is_none() && endpoints.postgres.is_none()).then(|| home.clone());
    let out = args.out.unwrap_or_else(|| {
        std::path::PathBuf::from("results").join(rfc3339(now_ms() / 1000).replace(':', "-"))
    });
    let config = RunConfig {
        suite_path: args.suite,
        plan,
        out_dir: out.clone(),
        services,
        binary: std::env::current_exe().context("cannot find the streambench binary")?,
        stack_home,
        keep_topics: args.keep_topics,
        placement: placement(args.flink_cluster, args.spark_master),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let run = streambench_harness::run::run_suite(&config, |p| {
        let elapsed = started.elapsed().as_secs();
        // Searches run several trials per scenario: the estimate is per scenario.
        let remaining = match p.scenario {
            1 => String::new(),
            n => format!(
                ", about {} s left",
                elapsed * (p.of - n + 1) as u64 / (n - 1) as u64
            ),
        };
        bar.set_message(format!(
            "scenario {}/{}: {} ({}; {elapsed} s{remaining})",
            p.scenario, p.of, p.label, p.phase
        ));
    });
    let results = tokio::select! {
        results = run => results?,
        _ = interrupted() => {
            // Dropping the run kills its engine; finished scenarios are on disk.
            bar.finish_and_clear();
            eprintln!(
                "interrupted: the engine was stopped; what was measured is in {}",
                out.join("results.json").display()
            );
            return Ok(ExitCode::from(130));
        }
    };
    bar.finish_and_clear();
    print!("{}", streambench_reports::markdown::summary(&results));
    println!("results: {}", out.join("results.json").display());
    write_reports(&results, &out, ReportFormat::All)?;
    let all_passed = results.scenarios.iter().all(|s| s.passed && s.error.is_none());
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Where `--flink-cluster` and `--spark-master` place those engines, as
/// their settings.
fn placement(
    flink_cluster: Option<String>,
    spark_master: Option<String>,
) -> std::collections::BTreeMap<EngineName, Settings> {
    let mut placement = std::collections::BTreeMap::new();
    for (engine, setting, value) in [
        (
            streambench_engines::external::flink::NAME,
            "cluster",
            flink_cluster,
        ),
        (
            streambench_engines::external::spark::NAME,
            "master",
            spark_master.clone(),
        ),
        (
            streambench_engines::external::spark_realtime::NAME,
            "master",
            spark_master,
        ),
    ] {
        if let Some(value) = value {
            placement.insert(
                engine,
                Settings::from([(setting.to_string(), SettingValue::Text(value))]),
            );
        }
    }
    placement
}

/// Reads a results.json, saying which file is wrong and how.
fn read_results(path: &std::path::Path) -> anyhow::Result<streambench_reports::results::Results> {
    use streambench_reports::results::{Results, SCHEMA_VERSION};
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let version = serde_json::from_slice::<serde_json::Value>(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?["schema_version"]
        .as_u64();
    anyhow::ensure!(
        version == Some(u64::from(SCHEMA_VERSION)),
        "{} has schema_version {version:?}; this streambench reads {SCHEMA_VERSION}",
        path.display()
    );
    serde_json::from_slice::<Results>(&bytes)
        .with_context(|| format!("{} is not a streambench results file", path.display()))
}

fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let results = read_results(&args.results)?;
    let out = args.out.unwrap_or_else(|| {
        args.results
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf()
    });
    write_reports(&results, &out, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes report.md and/or report.html into `out`, printing their paths.
fn write_reports(
    results: &streambench_reports::results::Results,
    out: &std::path::Path,
    format: ReportFormat,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    if format != ReportFormat::Html {
        written.push(("report.md", streambench_reports::markdown::report(results)));
    }
    if format != ReportFormat::Md {
        written.push(("report.html", streambench_reports::html::report(results)?));
    }
    for (name, text) in written {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("report: {}", path.display());
    }
    Ok(())
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.noise >= 0.0 && args.noise.is_finite(),
        "--noise must be a percentage, 0 or more"
    );
    let (base, new) = (read_results(&args.base)?, read_results(&args.new)?);
    let comparison = streambench_reports::compare::compare(&base, &new, args.noise);
    print!("{}", comparison.render(args.noise));
    Ok(
        if args.fail_on_regression && comparison.regressions().next().is_some() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

async fn bench(home: &Home, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let (job, mut workload) = args.workload.resolve()?;
    let settings = bench_settings(&args)?;
    // A replayed file sends its own lines, as many as it has.
    if args.workload.events.is_none() && workload.source.is_none() {
        workload.events = Some(500_000);
    }
    if args.workload.rate.is_none() {
        // Far above what one machine sends: every side runs as fast as it can.
        workload.rate = streambench_workloads::rate::RateProfile::constant(10_000_000.0);
    }
    let formats = match args.formats.is_empty() {
        true => vec![workload.format],
        false => args.formats.clone(),
    };
    let services = stack::up(home, &args.services.endpoints()).await?;
    let binary = std::env::current_exe().context("cannot find the streambench binary")?;
    let kafka_tools = stack::kafka::install_tools(home.tools_dir())?;
    streambench_harness::engine_command::install_engines(home, &args.engines)?;
    let mut reports = Vec::new();
    for format in formats {
        let workload = WorkloadSpec {
            format,
            ..workload.clone()
        };
        let engines = engines_reading(&args.engines, format);
        let generator = Generator::for_job(workload, &job, now_ms() - 3_600_000 / 2)?;
        let name = format!("bench_{}", now_ms() % 100_000_000);
        let report = streambench_harness::bench::run_bench(&streambench_harness::bench::Bench {
            services: &services,
            binary: &binary,
            kafka_tools: &kafka_tools,
            job: &job,
            generator: &generator,
            engines: &engines,
            settings: &settings,
            name: &name,
        })
        .await?;
        print_bench(&report);
        reports.push(report);
    }
    if reports.len() > 1 {
        print_formats(&reports);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--set`'s settings by engine, each checked by its engine.
fn bench_settings(args: &BenchArgs) -> anyhow::Result<std::collections::BTreeMap<EngineName, Settings>> {
    let mut settings = std::collections::BTreeMap::<EngineName, Settings>::new();
    for (engine, name, value) in &args.settings {
        anyhow::ensure!(
            args.engines.contains(engine),
            "--set {}.{name}: that engine is not in --engines",
            engine.as_str()
        );
        settings
            .entry(*engine)
            .or_default()
            .insert(name.clone(), value.clone());
    }
    for (engine, own) in &settings {
        streambench_engines::registry::engine(*engine)
            .settings_flags(own)
            .map_err(|e| anyhow::anyhow!("--set: {} settings: {e}", engine.as_str()))?;
    }
    Ok(settings)
}

/// Those of `engines` that read `format`; each left out is said, with why.
fn engines_reading(engines: &[EngineName], format: Format) -> Vec<EngineName> {
    let reads = |engine: &&EngineName| {
        let unread = streambench_engines::registry::engine(**engine)
            .profile()
            .cannot_read(format);
        if let Some(reason) = &unread {
            println!("left out of the {format} bench: {reason}");
        }
        unread.is_none()
    };
    engines.iter().filter(reads).copied().collect()
}

/// Prints one bench run's rates and ratios.
fn print_bench(report: &streambench_harness::bench::BenchReport) {
    let cost = &report.format_cost;
    println!(
        "{} records: {:.0} bytes/event; on one core, {:.0} written/s, {:.0} decoded/s",
        cost.format, cost.bytes_per_event, cost.written_per_s, cost.decoded_per_s
    );
    for rate in &report.rates {
        println!(
            "{:<32} {:>10} events in {:>7.2} s = {:>10.0}/s",
            rate.what, rate.events, rate.seconds, rate.per_s
        );
    }
    println!(
        "bare read / Kafka's consumer tool {:.2}",
        report.bare_read_over_kafka_tool
    );
    println!(
        "generate / bare producer          {:.2}",
        report.generate_over_bare_producer
    );
    for engine in &report.engines {
        println!(
            "{:<10} / bare consumer       {:.2}   {:>6.1} CPU s (start-up included) = {:>9.0} events per CPU s",
            engine.engine.as_str(),
            engine.over_bare_consumer,
            engine.cpu_s,
            engine.per_cpu_s
        );
    }
    if let Some(ratio) = report.microbatch_over_continuous {
        println!("microbatch / continuous           {ratio:.2}");
    }
}

/// Prints the formats side by side: what each costs, and each engine's
/// rate over its rate in the first format.
fn print_formats(reports: &[streambench_harness::bench::BenchReport]) {
    let first = &reports[0];
    println!(
        "\nformat  bytes/event  written/s/core  decoded/s/core  engine rate over its {} rate",
        first.format_cost.format
    );
    for report in reports {
        let cost = &report.format_cost;
        let engines: Vec<String> = report
            .engines
            .iter()
            .map(|e| {
                let base = first.engines.iter().find(|b| b.engine == e.engine);
                let over = base.map_or(f64::NAN, |b| e.per_s / b.per_s.max(1e-9));
                format!("{} {over:.2}x", e.engine.as_str())
            })
            .collect();
        println!(
            "{:<7} {:>11.0}  {:>14.0}  {:>14.0}  {}",
            cost.format.as_str(),
            cost.bytes_per_event,
            cost.written_per_s,
            cost.decoded_per_s,
            engines.join(", ")
        );
    }
}

/// An engine's name as the command line spells it.
fn engine_name(text: &str) -> Result<EngineName, String> {
    streambench_engines::registry::named(text)
        .map(|engine| engine.name())
        .ok_or_else(|| {
            let known: Vec<&str> = streambench_engines::ENGINES
                .iter()
                .map(|e| e.name().as_str())
                .collect();
            format!("no engine {text:?}; the engines are {}", known.join(", "))
        })
}

/// Prints what an engine did as one JSON line, the `engine` command's output.
fn print_summary(summary: &streambench_engines::engine::RunSummary) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string(summary)?);
    Ok(ExitCode::SUCCESS)
}

/// Says `started`, then keeps `running` (a cluster, stopped when dropped)
/// until Ctrl-C or SIGTERM.
async fn run_until_ctrl_c<T>(running: T, started: &str) -> anyhow::Result<ExitCode> {
    println!("{started}; Ctrl-C stops it");
    interrupted().await?;
    drop(running);
    Ok(ExitCode::SUCCESS)
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM, so that what streambench started
/// is stopped when a supervisor or `timeout` ends it as when a user does:
/// only SIGINT was handled, and SIGTERM left a cluster's JVMs running.
async fn interrupted() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        got = tokio::signal::ctrl_c() => got,
        _ = terminate.recv() => Ok(()),
    }
}
