//! `streambench stack check`: proves that a broker does everything the
//! engines rely on, so that users can trust a run against their own cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::clock::now_ms;

use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// How many partitions the check's topic has.
const PARTITIONS: i32 = 4;
/// How many keyed, timestamped records the check writes first.
const RECORDS: usize = 200;
/// The produce-to-consume latency a broker must keep at p99 at a low rate.
pub const LATENCY_P99_LIMIT_MS: f64 = 20.0;
/// How long one step may wait for the broker (group joins, fetches).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a probe checks behaviour or a performance bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// The engines are wrong on a broker that fails it.
    Functional,
    /// The engines are slow on a broker that fails it; a figure, not a test.
    Performance,
}

/// The verdict of one probe.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What was probed.
    pub name: &'static str,
    /// Behaviour or performance.
    pub kind: ProbeKind,
    /// Whether the broker behaved as the engines need.
    pub passed: bool,
    /// What was observed.
    pub detail: String,
}

/// A record the check produced: where it landed and what it carried.
#[derive(Debug, Clone, Copy)]
struct Written {
    partition: i32,
    offset: i64,
    key: usize,
    timestamp_ms: i64,
}

/// Runs every probe against `brokers` on a new topic (deleted afterwards) and
/// returns one verdict each. Fails only when the broker cannot be used at all.
pub async fn check_broker(brokers: &str) -> anyhow::Result<Vec<Probe>> {
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let topic = format!("streambench-check-{}-{nonce}", std::process::id());
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create()?;
    let mut probes = Vec::new();

    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Timeout::After(STEP_TIMEOUT))),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot create a topic on {brokers}: {e}"))?;
    if let Some(Err((_, code))) = created.into_iter().next() {
        anyhow::bail!("cannot create a topic on {brokers}: {code}");
    }
    probes.push(pass("topic with 4 partitions", format!("created {topic}")));

    let result = run_probes(brokers, &topic, &mut probes).await;
    let _ = admin.delete_topics(&[&topic], &AdminOptions::new()).await;
    result?;
    Ok(probes)
}

async fn run_probes(brokers: &str, topic: &str, probes: &mut Vec<Probe>) -> anyhow::Result<()> {
    let written = produce_keyed(brokers, topic).await?;
    probes.push(keyed_placement(&written));

    let (b, t) = (brokers.to_string(), topic.to_string());
    let w = written.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        vec![
            group_commit_and_resume(&b, &t, &w),
            two_consumers_split(&b, &t),
            offsets_for_times(&b, &t, &w),
        ]
    })
    .await?;
    probes.extend(blocking);

    let batch = produce_batch(brokers, topic).await?;
    let (b, t) = (brokers.to_string(), topic.to_string());
    let mut all_written = written;
    all_written.extend(batch.iter().copied());
    let blocking = tokio::task::spawn_blocking(move || {
        vec![
            seek_inside_batch(&b, &t, &batch),
            high_watermarks(&b, &t, &all_written),
        ]
    })
    .await?;
    probes.extend(blocking);

    probes.extend(produce_to_consume_latency(brokers, topic).await);
    Ok(())
}

fn pass(name: &'static str, detail: String) -> Probe {
    verdict(name, Ok(detail))
}

fn verdict(name: &'static str, outcome: anyhow::Result<String>) -> Probe {
    let kind = ProbeKind::Functional;
    match outcome {
        Ok(detail) => Probe {
            name,
            kind,
            passed: true,
            detail,
        },
        Err(e) => Probe {
            name,
            kind,
            passed: false,
            detail: format!("{e:#}"),
        },
    }
}

fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("socket.connection.setup.timeout.ms", "10000")
        .set("log_level", "3");
    config
}

fn consumer(brokers: &str, group: &str) -> anyhow::Result<BaseConsumer> {
    Ok(client_config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .create()?)
}

/// Writes RECORDS records over 20 keys, with event timestamps one second apart.
async fn produce_keyed(brokers: &str, topic: &str) -> anyhow::Result<Vec<Written>> {
    let producer: FutureProducer = client_config(brokers).create()?;
    let base_ms = now_ms() - 3_600_000;
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let key = i % 20;
        let timestamp_ms = base_ms + i as i64 * 1000;
        let key_text = format!("key-{key}");
        let payload = format!("{{\"i\":{i}}}");
        let record = FutureRecord::to(topic)
            .key(&key_text)
            .payload(&payload)
            .timestamp(timestamp_ms);
        let delivery = producer
            .send_result(record)
            .map_err(|(e, _)| anyhow::anyhow!("produce failed: {e}"))?;
        deliveries.push((key, timestamp_ms, delivery));
    }
    await_deliveries(deliveries).await
}

fn keyed_placement(written: &[Written]) -> Probe {
    let mut partition_of: BTreeMap<usize, BTreeSet<i32>> = BTreeMap::new();
    for w in written {
        partition_of.entry(w.key).or_default().insert(w.partition);
    }
    let split_keys = partition_of.values().filter(|p| p.len() > 1).count();
    let used: BTreeSet<i32> = written.iter().map(|w| w.partition).collect();
    verdict(
        "produce with keys and timestamps",
        if split_keys == 0 {
            Ok(format!(
                "{} records, each key in one partition, {} partitions used",
                written.len(),
                used.len()
            ))
        } else {
            Err(anyhow::anyhow!(
                "{split_keys} keys landed in more than one partition"
            ))
        },
    )
}

/// Polls until `want` records arrived or the step times out.
fn poll_records(consumer: &BaseConsumer, want: usize) -> anyhow::Result<Vec<(i32, i64)>> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => got.push((message.partition(), message.offset())),
            Some(Err(e)) => anyhow::bail!("consume failed: {e}"),
            None => {}
        }
    }
    Ok(got)
}

fn group_commit_and_resume(brokers: &str, topic: &str, written: &[Written]) -> Probe {
    let outcome = (|| {
        let group = format!("{topic}-resume");
        let first_part = {
            let first = consumer(brokers, &group)?;
            first.subscribe(&[topic])?;
            let got = poll_records(&first, RECORDS * 2 / 5)?;
            first.commit_consumer_state(CommitMode::Sync)?;
            got
        };
        let second = consumer(brokers, &group)?;
        second.subscribe(&[topic])?;
        let rest = poll_records(&second, RECORDS - first_part.len())?;
        let all: Vec<(i32, i64)> = first_part.iter().chain(&rest).copied().collect();
        let distinct: BTreeSet<(i32, i64)> = all.iter().copied().collect();
        let expected: BTreeSet<(i32, i64)> = written.iter().map(|w| (w.partition, w.offset)).collect();
        let duplicates = all.len() - distinct.len();
        let lost = expected.difference(&distinct).count();
        anyhow::ensure!(
            duplicates == 0 && lost == 0,
            "after commit and resume: {duplicates} duplicates, {lost} lost of {RECORDS}"
        );
        Ok(format!(
            "read {} then resumed with {}: no loss, no duplicate",
            first_part.len(),
            rest.len()
        ))
    })();
    verdict("consumer group commit and resume", outcome)
}

fn two_consumers_split(brokers: &str, topic: &str) -> Probe {
    let outcome = (|| {
        let group = format!("{topic}-split");
        let a = consumer(brokers, &group)?;
        let b = consumer(brokers, &group)?;
        a.subscribe(&[topic])?;
        b.subscribe(&[topic])?;
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let _ = a.poll(Duration::from_millis(50));
            let _ = b.poll(Duration::from_millis(50));
            let pa = assigned(&a)?;
            let pb = assigned(&b)?;
            let union: BTreeSet<i32> = pa.union(&pb).copied().collect();
            if !pa.is_empty() && !pb.is_empty() && pa.is_disjoint(&pb) && union.len() == PARTITIONS as usize {
                return Ok(format!("partitions split {pa:?} / {pb:?}"));
            }
            if Instant::now() > deadline {
                anyhow::bail!("after {STEP_TIMEOUT:?} the two consumers hold {pa:?} and {pb:?}");
            }
        }
    })();
    verdict("two consumers split the partitions", outcome)
}

fn assigned(consumer: &BaseConsumer) -> anyhow::Result<BTreeSet<i32>> {
    Ok(consumer
        .assignment()?
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect())
}

fn offsets_for_times(brokers: &str, topic: &str, written: &[Written]) -> Probe {
    let outcome = (|| {
        let consumer = consumer(brokers, &format!("{topic}-times"))?;
        let mut checked = 0;
        for partition in 0..PARTITIONS {
            let in_partition: Vec<&Written> = written.iter().filter(|w| w.partition == partition).collect();
            let Some(target) = in_partition.get(in_partition.len() / 2) else {
                continue;
            };
            let mut query = TopicPartitionList::new();
            query.add_partition_offset(topic, partition, Offset::Offset(target.timestamp_ms - 500))?;
            let answer = consumer.offsets_for_times(query, STEP_TIMEOUT)?;
            let found = answer
                .find_partition(topic, partition)
                .map(|e| e.offset())
                .ok_or_else(|| anyhow::anyhow!("no answer for partition {partition}"))?;
            anyhow::ensure!(
                found == Offset::Offset(target.offset),
                "partition {partition}: time {} gave {found:?}, expected offset {}",
                target.timestamp_ms - 500,
                target.offset
            );
            checked += 1;
        }
        Ok(format!("exact first offset at a time in {checked} partitions"))
    })();
    verdict("offsets_for_times", outcome)
}

/// Writes 100 records to partition 0 in one go, so that they share a batch.
async fn produce_batch(brokers: &str, topic: &str) -> anyhow::Result<Vec<Written>> {
    let producer: FutureProducer = client_config(brokers).set("linger.ms", "100").create()?;
    let deliveries = (0..100)
        .map(|i| {
            let sent = producer
                .send_result(
                    FutureRecord::<(), _>::to(topic)
                        .partition(0)
                        .payload(&format!("batch-{i}")),
                )
                .map_err(|(e, _)| anyhow::anyhow!("produce failed: {e}"))?;
            Ok((0, 0, sent))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    await_deliveries(deliveries).await
}

/// Waits for each (key, timestamp, delivery) and records where it landed.
async fn await_deliveries(
    deliveries: Vec<(usize, i64, rdkafka::producer::DeliveryFuture)>,
) -> anyhow::Result<Vec<Written>> {
    let mut written = Vec::with_capacity(deliveries.len());
    for (key, timestamp_ms, delivery) in deliveries {
        let delivered = delivery
            .await?
            .map_err(|(e, _)| anyhow::anyhow!("delivery failed: {e}"))?;
        written.push(Written {
            partition: delivered.partition,
            offset: delivered.offset,
            key,
            timestamp_ms,
        });
    }
    Ok(written)
}

fn seek_inside_batch(brokers: &str, topic: &str, batch: &[Written]) -> Probe {
    let outcome = (|| {
        let target = batch[37].offset;
        let consumer = consumer(brokers, &format!("{topic}-seek"))?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Offset(target))?;
        consumer.assign(&assignment)?;
        let first = poll_records(&consumer, 1)?;
        match first.first() {
            Some(&(0, offset)) if offset == target => {
                Ok(format!("assign at offset {target} read {target} first"))
            }
            Some(&(p, offset)) => {
                anyhow::bail!("assign at offset {target} read partition {p} offset {offset} first")
            }
            None => anyhow::bail!("assign at offset {target} read nothing within {STEP_TIMEOUT:?}"),
        }
    })();
    verdict("assign + seek into the middle of a batch", outcome)
}

fn high_watermarks(brokers: &str, topic: &str, written: &[Written]) -> Probe {
    let outcome = (|| {
        let consumer = consumer(brokers, &format!("{topic}-hw"))?;
        for partition in 0..PARTITIONS {
            let count = written.iter().filter(|w| w.partition == partition).count() as i64;
            let (low, high) = consumer.fetch_watermarks(topic, partition, STEP_TIMEOUT)?;
            anyhow::ensure!(
                low == 0 && high == count,
                "partition {partition}: watermarks ({low}, {high}), expected (0, {count})"
            );
        }
        Ok(format!(
            "all {PARTITIONS} partitions report exactly what was written"
        ))
    })();
    verdict("high watermarks", outcome)
}

/// How many records the latency probe measures, and how many it sends first
/// to warm up connections and the broker's JIT.
const LATENCY_RECORDS: usize = 100;
const LATENCY_WARM_UP: usize = 20;

/// Sends records at 50 per second to a consumer with default fetch settings
/// and measures how long each took to arrive. Every record must arrive (a
/// functional fault otherwise); the p99 bound is a performance verdict.
async fn produce_to_consume_latency(brokers: &str, topic: &str) -> Vec<Probe> {
    const NAME: &str = "produce-to-consume latency";
    match measure_latency(brokers, topic).await {
        Err(e) => vec![verdict(NAME, Err(e))],
        Ok(latencies) => {
            let p50_ms = latencies.value_at_quantile(0.5) as f64 / 1000.0;
            let p99_ms = latencies.value_at_quantile(0.99) as f64 / 1000.0;
            vec![
                pass(
                    "every record produced is consumed",
                    format!("{LATENCY_RECORDS} of {LATENCY_RECORDS}"),
                ),
                Probe {
                    name: NAME,
                    kind: ProbeKind::Performance,
                    passed: p99_ms < LATENCY_P99_LIMIT_MS,
                    detail: format!(
                        "p50 {p50_ms:.1} ms, p99 {p99_ms:.1} ms over {LATENCY_RECORDS} records at 50/s (limit: p99 < {LATENCY_P99_LIMIT_MS} ms)"
                    ),
                },
            ]
        }
    }
}

async fn measure_latency(brokers: &str, topic: &str) -> anyhow::Result<Histogram<u64>> {
    let consumer = consumer(brokers, &format!("{topic}-latency"))?;
    let mut start = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        let (_, high) = consumer.fetch_watermarks(topic, partition, STEP_TIMEOUT)?;
        start.add_partition_offset(topic, partition, Offset::Offset(high))?;
    }
    consumer.assign(&start)?;
    let total = LATENCY_WARM_UP + LATENCY_RECORDS;
    let receiver = tokio::task::spawn_blocking(move || -> anyhow::Result<Histogram<u64>> {
        let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut received = 0;
        let deadline = Instant::now() + STEP_TIMEOUT;
        while received < total && Instant::now() < deadline {
            let Some(message) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = message?;
            let now_us = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros() as i64;
            let sent_us: i64 = std::str::from_utf8(message.payload().unwrap_or_default())?.parse()?;
            received += 1;
            if received > LATENCY_WARM_UP {
                latencies.saturating_record((now_us - sent_us).max(1) as u64);
            }
        }
        anyhow::ensure!(
            received == total,
            "only {received} of {total} records arrived within {STEP_TIMEOUT:?}"
        );
        Ok(latencies)
    });
    // No linger: the probe measures the broker and the fetch path, not the
    // producer's batching delay.
    let producer: FutureProducer = client_config(brokers).set("linger.ms", "0").create()?;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for i in 0..total {
        ticker.tick().await;
        let sent_us = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros();
        let key = format!("k{}", i % 8);
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&sent_us.to_string()),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| anyhow::anyhow!("produce failed: {e}"))?;
    }
    receiver.await?
}
