//! One partition's records arrive well before the others' (as when a
//! producer flushes its backlog partition by partition after a broker
//! outage): the first partition must not carry the watermark past the
//! others' events, so nothing is late and both engines equal the oracle.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{check, count, exact, services, streambench, unique_name};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use streambench_harness::produce::ensure_topic;
use streambench_harness::stack::Resolved;

const PARTITIONS: i32 = 3;

/// Copies every record of `partition` of `from` to the same partition of `to`: how many.
fn copy_partition(brokers: &str, from: &str, to: &str, partition: i32) -> u64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique_name("backlog_copy"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let (_, high) = consumer
        .fetch_watermarks(from, partition, Duration::from_secs(10))
        .expect("watermarks");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(from, partition, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut copied = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (copied as i64) < high {
        assert!(
            Instant::now() < deadline,
            "partition {partition}: copied only {copied} of {high}"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.expect("read");
        let mut record = BaseRecord::<[u8], [u8]>::to(to).partition(partition);
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        producer.send(record).map_err(|(e, _)| e).expect("send");
        copied += 1;
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    copied
}

/// The `records_read` of the last line of a metrics file, 0 before the first.
fn records_read(metrics_file: &std::path::Path) -> u64 {
    std::fs::read_to_string(metrics_file)
        .ok()
        .and_then(|text| {
            text.lines()
                .last()
                .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        })
        .and_then(|line| line["records_read"].as_u64())
        .unwrap_or(0)
}

/// Feeds `kind` partition 0 first, the rest once it has read partition 0,
/// then stops it with a drain and checks the table: the report.
async fn partition_zero_first(
    services: &Resolved,
    kind: &str,
    source_topic: &str,
    start: i64,
) -> serde_json::Value {
    let topic = unique_name("backlog");
    let table = unique_name("backlog");
    ensure_topic(&services.brokers, &topic, PARTITIONS as u32)
        .await
        .expect("topic");
    let first = copy_partition(&services.brokers, source_topic, &topic, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics_file = dir.path().join("metrics.jsonl");
    let mut command = streambench();
    command
        .args([
            "engine",
            kind,
            "--suite",
            common::STEADY_SUITE,
            "--job",
            "tumbling",
        ])
        .args(["--topic", &topic, "--table", &table, "--drain-on-stop"])
        .arg("--checkpoint-dir")
        .arg(dir.path().join("checkpoint"))
        .arg("--metrics-file")
        .arg(&metrics_file)
        .args(["--brokers", &services.brokers, "--postgres", &services.postgres])
        .env_remove("STREAMBENCH_CRASH_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match kind {
        "microbatch" => command.args(["--trigger-interval-ms", "100"]),
        _ => command.args(["--watermark-interval-ms", "5"]),
    };
    // The other partitions are silent while partition 0 is read, but only
    // for seconds: not idle.
    command.args(["--idle-timeout-ms", "60000"]);
    let child = command.spawn().expect("start the engine");
    let deadline = Instant::now() + Duration::from_secs(60);
    while records_read(&metrics_file) < first {
        assert!(
            Instant::now() < deadline,
            "{kind} did not read partition 0's {first} records in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let a few batches or watermark updates pass over partition 0 alone.
    std::thread::sleep(Duration::from_secs(1));
    for partition in 1..PARTITIONS {
        copy_partition(&services.brokers, source_topic, &topic, partition);
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let output = child.wait_with_output().expect("wait for the engine");
    assert!(
        output.status.success(),
        "{kind} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    check(services, common::STEADY_SUITE, "tumbling", &table, start)
}

#[tokio::test]
async fn a_partition_that_arrives_first_makes_no_other_partitions_events_late() {
    let services = services().await;
    let start = common::recent_start_ms();
    let source_topic = unique_name("backlog_source");
    common::generate(
        &services,
        common::STEADY_SUITE,
        &source_topic,
        "tumbling",
        start,
        &[],
    );
    for kind in ["continuous", "microbatch"] {
        let report = partition_zero_first(&services, kind, &source_topic, start).await;
        assert!(
            exact(&report, false),
            "{kind}: events of the partitions that came later were treated as late \
             ({} in the side output wrongly, {} lost): {report:#}",
            count(&report, "side_output_wrong"),
            count(&report, "lost_events")
        );
    }
}
