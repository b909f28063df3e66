//! `streambench bench`: throughput ratios measured in one run on one
//! machine, against baselines that do only the unavoidable part of the
//! work: `generate` against a bare producer sending the same bytes, each
//! engine against a bare consumer that only reads and decodes the same
//! topic, and that consumer, reading only, against Kafka's own consumer
//! performance tool (`kafka-consumer-perf-test`), so that the ceiling the
//! engines are measured against is the machine's, not our client's.
//! Absolute rates on a shared machine are noise; ratios taken together are not.
//! What the records' format costs is measured apart, in memory on one core
//! ([`FormatCost`]): bytes per event, and how fast events are written and
//! decoded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use streambench_workloads::event::EventKind;
use streambench_workloads::format::Format;
use streambench_workloads::generator::{Generator, WorkloadSpec, key_bytes};
use streambench_workloads::job::JobSpec;
use streambench_workloads::scenario::Settings;
use streambench_workloads::schema::EventSchema;
use streambench_workloads::schema_decoder::SchemaDecoder;

use streambench_engines::start::StartPosition;
use streambench_workloads::engine::EngineName;

use crate::args::{EngineArgs, MetricsAddr, ServiceArgs};
use crate::job_file::JobFile;
use crate::produce::{create_new_topic, produce, producer_config};
use crate::run::measure::CpuTimes;
use crate::stack::Resolved;

/// One measured rate.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// What was measured.
    pub what: String,
    /// Events.
    pub events: u64,
    /// Seconds.
    pub seconds: f64,
    /// Events per second.
    pub per_s: f64,
}

impl Rate {
    fn new(what: impl Into<String>, events: u64, seconds: f64) -> Rate {
        Rate {
            what: what.into(),
            events,
            seconds,
            per_s: events as f64 / seconds.max(1e-9),
        }
    }
}

/// The rates of a bench run and the ratios that matter.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Every rate measured, in order.
    pub rates: Vec<Rate>,
    /// `generate` over the bare producer.
    pub generate_over_bare_producer: f64,
    /// The bare consumer, reading without decoding, over Kafka's own
    /// consumer performance tool on the same topic.
    pub bare_read_over_kafka_tool: f64,
    /// Each engine's catch-up read, in the order run.
    pub engines: Vec<EngineBench>,
    /// The micro-batch engine over the continuous engine, if both ran.
    pub microbatch_over_continuous: Option<f64>,
    /// What writing and decoding the records cost in their format.
    pub format_cost: FormatCost,
}

/// What a workload's format costs, measured in memory on one core.
#[derive(Debug, Clone, Serialize)]
pub struct FormatCost {
    /// The format.
    pub format: Format,
    /// Mean bytes of a record's value.
    pub bytes_per_event: f64,
    /// Records written per second (the generator's work, on one core).
    pub written_per_s: f64,
    /// Records decoded per second by the job's schema decoder, on one core:
    /// what each engine's reading of the topic pays for the format.
    pub decoded_per_s: f64,
}

impl FormatCost {
    /// Writes each of `generator`'s records, then decodes each as an
    /// engine reading `job` does, timing both.
    pub fn measure(generator: &Generator, job: &JobSpec) -> FormatCost {
        let spec = generator.spec();
        let schema = match &job.declared {
            Some(declared) => declared.schema.clone(),
            None => EventSchema::builtin(job.input, spec),
        };
        let decoder = SchemaDecoder::new(&schema).reading(spec.format);
        // Enough records for a steady rate, few enough to hold in memory.
        let events = generator.len().min(1_000_000);
        let mut records = Vec::with_capacity(events as usize);
        let mut value = Vec::new();
        let started = Instant::now();
        for index in 0..events {
            generator.write_record(index, &mut value);
            records.push(value.clone());
        }
        let written_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut row = Vec::new();
        let decoded = records
            .iter()
            .filter(|r| decoder.decode_into(r, &mut row).is_ok())
            .count();
        let decoded_s = started.elapsed().as_secs_f64();
        std::hint::black_box(decoded);
        let bytes: usize = records.iter().map(Vec::len).sum();
        FormatCost {
            format: spec.format,
            bytes_per_event: bytes as f64 / events.max(1) as f64,
            written_per_s: events as f64 / written_s.max(1e-9),
            decoded_per_s: events as f64 / decoded_s.max(1e-9),
        }
    }
}

/// One engine's catch-up read of the bench topic.
#[derive(Debug, Clone, Serialize)]
pub struct EngineBench {
    /// The engine.
    pub engine: EngineName,
    /// Its rate, events per second from its first record read to its last
    /// result written.
    pub per_s: f64,
    /// That rate over the bare consumer's.
    pub over_bare_consumer: f64,
    /// CPU seconds its processes used, start-up included.
    pub cpu_s: f64,
    /// Events per CPU second (its rate per core used).
    pub per_cpu_s: f64,
}

/// A bench run: `job` on `generator`'s events, against `services`,
/// starting `engines` with `binary` and Kafka's consumer tool from
/// `kafka_tools` (its jars); its topics and tables are named after `name`.
#[derive(Clone, Copy)]
pub struct Bench<'a> {
    /// The broker and database.
    pub services: &'a Resolved,
    /// The `streambench` binary the engines run from.
    pub binary: &'a Path,
    /// The jars of Kafka's consumer performance tool.
    pub kafka_tools: &'a Path,
    /// The job.
    pub job: &'a JobSpec,
    /// The events.
    pub generator: &'a Generator,
    /// The engines to measure, in this order.
    pub engines: &'a [EngineName],
    /// Settings for some of them, as a suite's `[settings.ENGINE]` gives them.
    pub settings: &'a BTreeMap<EngineName, Settings>,
    /// What its topics and tables are named after.
    pub name: &'a str,
}

/// Creates the bench's two topics (refusing one that exists), runs
/// `bench`, then deletes the topics it created whatever happened (the
/// events are a function of the seed).
pub async fn run_bench(bench: &Bench<'_>) -> anyhow::Result<BenchReport> {
    let brokers = &bench.services.brokers;
    let partitions = bench.generator.spec().partitions;
    let mut created = Vec::new();
    let mut made = Ok(());
    for topic in [format!("{}_gen", bench.name), format!("{}_bare", bench.name)] {
        made = create_new_topic(brokers, &topic, partitions).await;
        if made.is_err() {
            break;
        }
        created.push(topic);
    }
    let measured = match made {
        Ok(()) => measure(bench).await,
        Err(e) => Err(e),
    };
    // Only the topics this bench created.
    for topic in created {
        if let Err(e) = crate::produce::delete_topic_and_its_markers(brokers, &topic).await {
            eprintln!("streambench bench: {e:#}");
        }
    }
    measured
}

async fn measure(bench: &Bench<'_>) -> anyhow::Result<BenchReport> {
    let Bench {
        services,
        kafka_tools,
        job,
        generator,
        engines,
        name,
        ..
    } = *bench;
    let partitions = generator.spec().partitions;
    let events = generator.len();

    // generate (on its schedule, offered far above what can be sent) ...
    let topic = format!("{name}_gen");
    let (brokers, write_topic, workload) = (services.brokers.clone(), topic.clone(), generator.clone());
    let generated =
        tokio::task::spawn_blocking(move || produce(&workload, &brokers, &write_topic, |_| {})).await??;
    let generate_rate = Rate::new("generate", generated.events, generated.elapsed_s);

    // ... against a bare producer sending the same bytes, made beforehand.
    let bare_topic = format!("{name}_bare");
    let (brokers, workload) = (services.brokers.clone(), generator.clone());
    let bare_producer =
        tokio::task::spawn_blocking(move || bare_produce(&workload, &brokers, &bare_topic)).await??;

    // A bare consumer that reads (and decodes) the generated topic ...
    let decoder = Decoder::of(job, generator.spec());
    let consume_bare = |decode: Decode| {
        let (brokers, read_topic) = (services.brokers.clone(), topic.clone());
        let decoder = (decode == Decode::Yes).then(|| decoder.clone());
        tokio::task::spawn_blocking(move || bare_consume(&brokers, &read_topic, events, decoder))
    };
    // ... reading only, against Kafka's own tool, each twice, interleaved ...
    let (mut bare_reads, mut tool_reads) = (Vec::new(), Vec::new());
    for run in 0..2 {
        bare_reads.push(consume_bare(Decode::No).await??);
        let (tools, brokers, read_topic) =
            (kafka_tools.to_path_buf(), services.brokers.clone(), topic.clone());
        // A new group each time: the tool commits, and would resume.
        let group = format!("{topic}_kafka_tool_{run}");
        let seconds = tokio::task::spawn_blocking(move || {
            crate::stack::kafka::consumer_perf(&tools, &brokers, &read_topic, &group, events)
        })
        .await??;
        tool_reads.push(Rate::new("Kafka's consumer tool (read only)", events, seconds));
    }
    let bare_read = combined("bare consumer (read only), both runs", &bare_reads);
    let kafka_tool = combined("Kafka's consumer tool, both runs", &tool_reads);
    // The bare consumer that decodes runs before and after the engines, and they are
    // compared with the two together, so a neighbour's load that comes and
    // goes during the run weighs on both sides.
    let bare_before = consume_bare(Decode::Yes).await??;

    // ... against each engine on the same topic, bounded.
    let mut engine_runs = Vec::new();
    for &engine in engines {
        let table = format!("{name}_{}", engine.as_str());
        engine_runs.push(measure_engine(bench, &topic, engine, &table).await?);
    }
    let bare_after = consume_bare(Decode::Yes).await??;
    crate::produce::ensure_input_untouched(&services.brokers, &topic, partitions, generated.events).await?;
    let bare_consumer = combined("bare consumer, both runs", [&bare_before, &bare_after]);
    let ratio = |a: &Rate, b: &Rate| a.per_s / b.per_s.max(1e-9);
    let engine_rate = |name: EngineName| engine_runs.iter().find(|r| r.engine == name).map(|r| &r.rate);
    let microbatch_over_continuous = engine_rate(EngineName::MICROBATCH)
        .zip(engine_rate(EngineName::CONTINUOUS))
        .map(|(m, c)| ratio(m, c));
    let report = BenchReport {
        generate_over_bare_producer: ratio(&generate_rate, &bare_producer),
        bare_read_over_kafka_tool: ratio(&bare_read, &kafka_tool),
        engines: engine_runs
            .iter()
            .map(|run| EngineBench {
                engine: run.engine,
                per_s: run.rate.per_s,
                over_bare_consumer: ratio(&run.rate, &bare_consumer),
                cpu_s: run.cpu_s,
                per_cpu_s: run.rate.events as f64 / run.cpu_s.max(1e-9),
            })
            .collect(),
        microbatch_over_continuous,
        format_cost: FormatCost::measure(generator, job),
        rates: bare_reads
            .into_iter()
            .chain(tool_reads)
            .chain([bare_read, kafka_tool, generate_rate, bare_producer])
            .chain([bare_before, bare_after, bare_consumer])
            .chain(engine_runs.into_iter().map(|r| r.rate))
            .collect(),
    };
    Ok(report)
}

/// What one engine's run measured.
struct EngineMeasured {
    engine: EngineName,
    rate: Rate,
    cpu_s: f64,
}

/// Runs `engine` bounded on `topic` into `table` until it has read the
/// topic and written every result; its rate is over the time from its
/// first record read.
async fn measure_engine(
    bench: &Bench<'_>,
    topic: &str,
    engine: EngineName,
    table: &str,
) -> anyhow::Result<EngineMeasured> {
    let events = bench.generator.len();
    let dir = tempfile::tempdir()?;
    let job_file = dir.path().join("job.json");
    JobFile::new(bench.job.clone(), bench.generator.spec()).write(&job_file)?;
    let common = EngineArgs {
        job_file: Some(job_file),
        topic: topic.to_string(),
        start: StartPosition::Earliest,
        bounded: true,
        checkpoint_dir: Some(dir.path().join("checkpoints")),
        metrics_addr: MetricsAddr(None),
        ..EngineArgs::for_job(&bench.job.name, table)
    };
    let endpoints = ServiceArgs {
        brokers: Some(bench.services.brokers.clone()),
        postgres: Some(bench.services.postgres.clone()),
    };
    let own = streambench_engines::registry::engine(engine)
        .settings_flags(&bench.settings.get(&engine).cloned().unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("{} settings: {e}", engine.as_str()))?;
    let mut command = std::process::Command::new(bench.binary);
    command
        .args(["engine", engine.as_str()])
        .args(common.to_args())
        .args(endpoints.to_args())
        .args(own)
        .envs(endpoints.to_env());
    // Engines run one at a time, so the CPU the bench's waited-for
    // children used meanwhile is this engine's (a JVM's with it).
    let cpu_before = CpuTimes::now();
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let cpu_s = CpuTimes::now().since(&cpu_before).children_s();
    anyhow::ensure!(
        output.status.success(),
        "the {} engine failed: {}",
        engine.as_str(),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .context("the engine printed no summary")?;
    let read = summary["records_read"].as_u64().unwrap_or(0);
    // Our engines count every record. Flink's and Spark's counts are
    // sampled from their metrics (Flink's last sample can come before its
    // bounded job ends; Spark's includes its end-of-input marker); a
    // bounded run that ended well read the whole topic.
    let counts_exactly = streambench_engines::registry::engine(engine)
        .profile()
        .counts_reads_exactly;
    anyhow::ensure!(
        read >= events || !counts_exactly,
        "the {} engine read {read} of {events} records",
        engine.as_str()
    );
    let seconds = summary["processing_s"].as_f64().unwrap_or(0.0);
    Ok(EngineMeasured {
        engine,
        rate: Rate::new(format!("{} engine", engine.as_str()), events, seconds),
        cpu_s,
    })
}

/// One rate over several runs: their events over their seconds.
fn combined<'a>(what: &str, runs: impl IntoIterator<Item = &'a Rate>) -> Rate {
    let (events, seconds) = runs
        .into_iter()
        .fold((0, 0.0), |(e, s), r| (e + r.events, s + r.seconds));
    Rate::new(what, events, seconds)
}

/// Whether the bare consumer decodes what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    Yes,
    No,
}

/// How the bare consumer decodes a record: as the engines decode the job's
/// events, a built-in kind's or a declared schema's, in the workload's format.
#[derive(Debug, Clone)]
enum Decoder {
    Builtin(EventKind),
    Schema(SchemaDecoder),
}

impl Decoder {
    fn of(job: &JobSpec, spec: &WorkloadSpec) -> Decoder {
        let format = spec.format;
        match (&job.declared, format) {
            (Some(declared), _) => Decoder::Schema(SchemaDecoder::new(&declared.schema).reading(format)),
            (None, Format::Json) => Decoder::Builtin(job.input),
            (None, _) => {
                Decoder::Schema(SchemaDecoder::new(&EventSchema::builtin(job.input, spec)).reading(format))
            }
        }
    }

    fn decodes(&self, bytes: &[u8]) -> bool {
        match self {
            Decoder::Builtin(kind) => streambench_workloads::event::decode(*kind, bytes).is_ok(),
            Decoder::Schema(decoder) => decoder.decode(bytes).is_ok(),
        }
    }
}

/// Sends `generator`'s records, serialised beforehand, as fast as the
/// producer takes them, with `generate`'s settings.
fn bare_produce(generator: &Generator, brokers: &str, topic: &str) -> anyhow::Result<Rate> {
    let mut value = Vec::new();
    let records: Vec<(i32, Vec<u8>, Vec<u8>, i64)> = (0..generator.len())
        .map(|i| {
            let g = generator.write_record(i, &mut value);
            (
                g.partition as i32,
                key_bytes(g.key),
                value.clone(),
                g.event.event_time_ms(),
            )
        })
        .collect();
    let producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
        producer_config(brokers).create()?;
    let started = Instant::now();
    for (partition, key, value, timestamp) in &records {
        let mut record = BaseRecord::to(topic)
            .partition(*partition)
            .key(key)
            .payload(value)
            .timestamp(*timestamp);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(Rate::new(
        "bare producer",
        records.len() as u64,
        started.elapsed().as_secs_f64(),
    ))
}

/// Reads `events` records of `topic` from the start, with the engines'
/// consumer settings, and decodes each with `decoder` if given.
fn bare_consume(brokers: &str, topic: &str, events: u64, decoder: Option<Decoder>) -> anyhow::Result<Rate> {
    let consumer: BaseConsumer =
        streambench_engines::source::consumer_config(brokers, &format!("{topic}_bare")).create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            assignment.add_partition_offset(topic, p.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment)?;
    let mut read = 0u64;
    let mut decoded = 0u64;
    let mut started: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    // As the engines' sources do: block only when nothing is buffered.
    let mut wait = Duration::from_millis(100);
    while read < events && (wait.is_zero() || Instant::now() < deadline) {
        let polled = consumer.poll(wait);
        wait = if polled.is_some() {
            Duration::ZERO
        } else {
            Duration::from_millis(100)
        };
        if let Some(message) = polled {
            let message = message?;
            started.get_or_insert_with(Instant::now);
            read += 1;
            if let Some(bytes) = message.payload()
                && decoder.as_ref().is_none_or(|d| d.decodes(bytes))
            {
                decoded += 1;
            }
        }
    }
    anyhow::ensure!(
        read == events,
        "the bare consumer read {read} of {events} records"
    );
    std::hint::black_box(decoded);
    let seconds = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let what = match decoder {
        Some(_) => "bare consumer (read + decode)",
        None => "bare consumer (read only)",
    };
    Ok(Rate::new(what, read, seconds))
}
