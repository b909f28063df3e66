//! The generator on the real broker: the same seed makes byte-identical
//! topics, and a producer that falls behind says so while event times keep
//! following the schedule.

mod common;

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use streambench_harness::produce::{ProduceReport, create_new_topic, delete_topic, ensure_topic, produce};
use streambench_workloads::event::{EventKind, decode};
use streambench_workloads::generator::{Generator, Late, OutOfOrder, WorkloadSpec};
use streambench_workloads::rate::RateProfile;

/// One record as read back: partition, offset, key, value, timestamp.
type Record = (i32, i64, Vec<u8>, Vec<u8>, i64);

async fn send(brokers: &str, generator: Generator, topic: &str) -> ProduceReport {
    ensure_topic(brokers, topic, generator.spec().partitions)
        .await
        .expect("create topic");
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || produce(&generator, &brokers, &topic, |_| {}))
        .await
        .expect("producer thread")
        .expect("produce")
}

/// Every record of `topic`, by partition and offset.
fn read_all(brokers: &str, topic: &str, partitions: i32) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}_reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    let mut expected = 0;
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        expected += high - low;
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while (records.len() as i64) < expected && std::time::Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let m = message.expect("consume");
            records.push((
                m.partition(),
                m.offset(),
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
                m.timestamp().to_millis().unwrap_or(-1),
            ));
        }
    }
    assert_eq!(records.len() as i64, expected, "read the whole of {topic}");
    records.sort_by_key(|r| (r.0, r.1));
    records
}

fn workload(seed: u64) -> WorkloadSpec {
    WorkloadSpec {
        seed,
        events: Some(5_000),
        rate: RateProfile::constant(50_000.0),
        out_of_order: OutOfOrder {
            fraction: 0.1,
            max_delay_ms: 3_000,
            ..OutOfOrder::default()
        },
        late: Late {
            fraction: 0.01,
            delay_ms: 300_000,
        },
        malformed_fraction: 0.01,
        ..WorkloadSpec::default()
    }
}

#[tokio::test]
async fn the_same_seed_makes_byte_identical_topics() {
    let services = common::services().await;
    let start_ms = 1_700_000_000_000;
    let mut topics = Vec::new();
    for (label, seed) in [("a", 42), ("b", 42), ("c", 43)] {
        let topic = common::unique_name(&format!("gen_same_{label}"));
        let generator = Generator::new(workload(seed), EventKind::Ad, start_ms).expect("valid");
        let report = send(&services.brokers, generator, &topic).await;
        assert_eq!(report.events, 5_000);
        topics.push(read_all(&services.brokers, &topic, 4));
    }
    assert_eq!(topics[0].len(), 5_000);
    assert!(
        topics[0] == topics[1],
        "same seed: same keys, values, timestamps, partitions and offsets"
    );
    assert!(topics[0] != topics[2], "another seed: other bytes");
}

#[tokio::test]
async fn a_producer_behind_schedule_says_so_and_event_times_keep_the_schedule() {
    let services = common::services().await;
    let spec = WorkloadSpec {
        events: Some(200_000),
        // Far more than one core can send: every send is behind its schedule.
        rate: RateProfile::constant(20_000_000.0),
        ..WorkloadSpec::default()
    };
    let start_ms = 1_700_000_100_000;
    let generator = Generator::new(spec.clone(), EventKind::Measurement, start_ms).expect("valid");
    let topic = common::unique_name("gen_behind");
    let report = send(&services.brokers, generator, &topic).await;
    assert!(report.max_behind_ms > 0.0, "{report:?}");
    assert!(report.achieved_per_s < report.offered_per_s, "{report:?}");

    let reference = Generator::new(spec, EventKind::Measurement, start_ms).expect("valid");
    let records = read_all(&services.brokers, &topic, 4);
    assert_eq!(records.len(), 200_000);
    for (_, _, _, value, timestamp) in records {
        let event = decode(EventKind::Measurement, &value).expect("valid event");
        let scheduled = start_ms + (reference.generate(event.event_id()).send_time_us / 1000) as i64;
        assert_eq!(
            event.event_time_ms(),
            scheduled,
            "event {} keeps its scheduled time",
            event.event_id()
        );
        assert_eq!(timestamp, scheduled, "the record timestamp is the event time");
    }
}

/// A run or a bench writes only to topics it creates, and deletes only
/// those: a topic that is already there (a user's, an old run's) is
/// refused by name and left with every record it had.
#[tokio::test]
async fn a_topic_that_exists_already_is_refused_and_left_as_it_was() {
    let services = common::services().await;
    let topic = common::unique_name("gen_theirs");
    let generator = Generator::new(workload(5), EventKind::Ad, 1_700_000_200_000).expect("valid");
    send(&services.brokers, generator, &topic).await;
    let before = common::end_offsets(&services, &topic);
    assert_eq!(before.values().sum::<i64>(), 5_000);
    let refused = create_new_topic(&services.brokers, &topic, 4)
        .await
        .expect_err("an existing topic is refused");
    let said = format!("{refused:#}");
    assert!(said.contains(&topic) && said.contains("already exists"), "{said}");
    assert_eq!(common::end_offsets(&services, &topic), before, "left as it was");
    delete_topic(&services.brokers, &topic)
        .await
        .expect("the test's own topic");
}
