//! Sends a workload to Kafka on its open-loop schedule: event *i* goes out at
//! its scheduled time, or as soon as possible after it when the producer is
//! behind; the schedule never slows down, and how far behind it fell is
//! reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode as Code;
use serde::Serialize;
use streambench_workloads::generator::{Generator, key_bytes};

/// What a producer run achieved.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    /// The topic written.
    pub topic: String,
    /// Records sent and acknowledged.
    pub events: u64,
    /// Bytes of record values sent.
    pub value_bytes: u64,
    /// From the first send to the last acknowledgement.
    pub elapsed_s: f64,
    /// Events per second over `elapsed_s`.
    pub achieved_per_s: f64,
    /// Events per second the schedule asked for.
    pub offered_per_s: f64,
    /// The furthest any send fell behind its scheduled time.
    pub max_behind_ms: f64,
    /// How far behind the last send was.
    pub final_behind_ms: f64,
}

/// A moment of progress, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Records handed to the producer so far.
    pub sent: u64,
    /// Records in the workload.
    pub total: u64,
    /// How far behind schedule the latest send is.
    pub behind_ms: f64,
    /// Seconds since the first send.
    pub elapsed_s: f64,
}

/// Counts failed deliveries, which make the run fail: nothing is dropped silently.
#[derive(Default)]
struct DeliveryCounter {
    failed: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

struct CountingContext(Arc<DeliveryCounter>);

impl rdkafka::ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.0.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.0.first_error.lock() {
                first.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// Creates `topic` with the workload's partition count unless it exists
/// (`generate` writes to the topic its user names, theirs or not).
pub async fn ensure_topic(brokers: &str, topic: &str, partitions: u32) -> anyhow::Result<()> {
    create(brokers, topic, partitions, IfExists::Use).await
}

/// Creates `topic`, failing if it exists: the topics a run or bench writes
/// its events to, and deletes afterwards, must be ones it made, never a
/// topic that was there before (a user's, or an earlier run's).
pub async fn create_new_topic(brokers: &str, topic: &str, partitions: u32) -> anyhow::Result<()> {
    create(brokers, topic, partitions, IfExists::Refuse).await
}

/// What [`create`] does with a topic that exists already.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IfExists {
    Use,
    Refuse,
}

async fn create(brokers: &str, topic: &str, partitions: u32, if_exists: IfExists) -> anyhow::Result<()> {
    anyhow::ensure!(
        streambench_workloads::names::is_identifier(&topic.replace('-', "_")),
        "topic name {topic:?} must be lower-case letters, digits, _ and -"
    );
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let results = admin
        .create_topics(
            // Event times may lie in the past (a fixed --start-time-ms): time-based
            // retention would delete such records before the engines read them.
            &[
                NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(1))
                    .set("retention.ms", "-1")
                    .set("retention.bytes", "-1"),
            ],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot create topic {topic} on {brokers}: {e}"))?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) if if_exists == IfExists::Use => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => anyhow::bail!(
                "topic {topic} already exists on {brokers}: streambench runs only on topics it \
                 creates, and deletes only those, so it leaves this one as it is (delete it \
                 yourself if it is an old run's)"
            ),
            Err((_, code)) => anyhow::bail!("cannot create topic {topic} on {brokers}: {code}"),
        }
    }
    // Metadata reaches the broker's cache after the creation is acknowledged:
    // wait until a client sees every partition, so a consumer started next
    // does not find the topic missing.
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || wait_for_partitions(&brokers, &topic, partitions)).await?
}

/// Deletes `topic` from `brokers` (a topic already gone is fine).
pub async fn delete_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let results = admin
        .delete_topics(
            &[topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete topic {topic} on {brokers}: {e}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((_, code)) => anyhow::bail!("cannot delete topic {topic} on {brokers}: {code}"),
        }
    }
    Ok(())
}

/// Deletes `topic` and the end-of-input topics engines made beside it
/// (named under its [`MarkerTopic::prefix_for`]): every topic a scenario
/// made, and only those.
///
/// [`MarkerTopic::prefix_for`]: streambench_engines::external::end_of_input::MarkerTopic::prefix_for
pub async fn delete_topic_and_its_markers(brokers: &str, topic: &str) -> anyhow::Result<()> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use streambench_engines::external::end_of_input::MarkerTopic;
    let prefix = MarkerTopic::prefix_for(topic);
    let (all_brokers, markers) = (brokers.to_string(), prefix.clone());
    let marker_topics = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &all_brokers)
            .create()?;
        let metadata = client
            .fetch_metadata(None, Duration::from_secs(10))
            .map_err(|e| anyhow::anyhow!("cannot list the topics on {all_brokers}: {e}"))?;
        Ok(metadata
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|name| name.starts_with(&markers))
            .collect())
    })
    .await??;
    for name in std::iter::once(topic.to_string()).chain(marker_topics) {
        delete_topic(brokers, &name).await?;
    }
    Ok(())
}

/// Fails unless `topic` holds exactly the `written` records the generator
/// wrote: an engine must never write to its input (which may be a user's
/// data), so every run and bench checks that none did.
pub async fn ensure_input_untouched(
    brokers: &str,
    topic: &str,
    partitions: u32,
    written: u64,
) -> anyhow::Result<()> {
    let held = records_in(brokers, topic, partitions).await?;
    anyhow::ensure!(
        held == written as i64,
        "the input topic {topic} holds {held} records but the generator wrote {written}: something \
         else wrote to it, and an engine must never write to its input"
    );
    Ok(())
}

/// How many records `topic`'s `partitions` hold (end offset minus start, summed).
async fn records_in(brokers: &str, topic: &str, partitions: u32) -> anyhow::Result<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &brokers).create()?;
        let mut held = 0;
        for partition in 0..partitions as i32 {
            let (low, high) = client
                .fetch_watermarks(&topic, partition, Duration::from_secs(10))
                .map_err(|e| {
                    anyhow::anyhow!("cannot read the offsets of {topic}[{partition}] on {brokers}: {e}")
                })?;
            held += high - low;
        }
        Ok(held)
    })
    .await?
}

fn wait_for_partitions(brokers: &str, topic: &str, partitions: u32) -> anyhow::Result<()> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = client
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .map(|m| {
                m.topics()
                    .iter()
                    .filter(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len())
                    .sum::<usize>()
            })
            .unwrap_or(0);
        if seen >= partitions as usize {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "topic {topic} was created on {brokers} but its {partitions} partitions are not visible after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The producer settings of `generate`, shared with the bare producer it is
/// benchmarked against.
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        // Idempotence keeps each partition in send order across retries, so
        // event times within a partition trail by no more than the schedule says.
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("message.max.bytes", "2000000");
    config
}

/// Sends every record of `generator` to `topic` on its schedule, calling
/// `progress` about ten times a second. Fails if any record is not delivered.
pub fn produce(
    generator: &Generator,
    brokers: &str,
    topic: &str,
    progress: impl FnMut(Progress),
) -> anyhow::Result<ProduceReport> {
    produce_unless_cancelled(generator, brokers, topic, progress, &AtomicBool::new(false))
}

/// The generator sending in the background, for `run`: its scenario can
/// wait for it, race it against a fault's moment, or drop it, which stops
/// it (a failed scenario leaves no producer writing behind it).
pub struct BackgroundProduce {
    task: tokio::task::JoinHandle<anyhow::Result<ProduceReport>>,
    finished: Option<anyhow::Result<ProduceReport>>,
    cancelled: Arc<AtomicBool>,
}

impl BackgroundProduce {
    /// Starts sending `generator`'s records to `topic`.
    pub fn start(generator: Generator, brokers: String, topic: String) -> BackgroundProduce {
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = cancelled.clone();
        let task = tokio::task::spawn_blocking(move || {
            produce_unless_cancelled(&generator, &brokers, &topic, |_| {}, &flag)
        });
        BackgroundProduce {
            task,
            finished: None,
            cancelled,
        }
    }

    /// Waits until `due` or until the generator finishes, whichever comes
    /// first: true if `due` came while it was still sending.
    pub async fn still_sending_at(&mut self, due: Instant) -> bool {
        if self.finished.is_some() {
            return false;
        }
        tokio::select! {
            done = &mut self.task => {
                self.finished = Some(done.unwrap_or_else(|e| Err(anyhow::anyhow!("its thread ended: {e}"))));
                false
            }
            _ = tokio::time::sleep_until(due.into()) => true,
        }
    }

    /// Waits for the generator to send everything.
    pub async fn finish(mut self) -> anyhow::Result<ProduceReport> {
        match self.finished.take() {
            Some(done) => done,
            None => (&mut self.task)
                .await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("its thread ended: {e}"))),
        }
    }
}

impl Drop for BackgroundProduce {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// [`produce`], stopping with an error as soon as `cancelled` is set.
fn produce_unless_cancelled(
    generator: &Generator,
    brokers: &str,
    topic: &str,
    mut progress: impl FnMut(Progress),
    cancelled: &AtomicBool,
) -> anyhow::Result<ProduceReport> {
    let counter = Arc::new(DeliveryCounter::default());
    let producer: ThreadedProducer<CountingContext> = producer_config(brokers)
        .create_with_context(CountingContext(counter.clone()))
        .map_err(|e| anyhow::anyhow!("cannot create a Kafka producer for {brokers}: {e}"))?;

    let total = generator.len();
    let mut value = Vec::with_capacity(512);
    let mut value_bytes = 0u64;
    let mut max_behind = Duration::ZERO;
    let mut behind = Duration::ZERO;
    let started = Instant::now();
    let mut last_progress = started;
    for index in 0..total {
        anyhow::ensure!(
            !cancelled.load(Ordering::Relaxed),
            "the generator was stopped after {index} of {total} records to {topic}"
        );
        let record = generator.write_record(index, &mut value);
        let due = Duration::from_micros(record.send_time_us);
        let now = started.elapsed();
        if now + Duration::from_millis(1) < due {
            std::thread::sleep(due - now);
            behind = Duration::ZERO;
        } else {
            behind = now.saturating_sub(due);
            max_behind = max_behind.max(behind);
        }
        let key = key_bytes(record.key);
        let timestamp = record.event.event_time_ms();
        let mut pending = BaseRecord::to(topic)
            .partition(record.partition as i32)
            .key(&key)
            .payload(&value)
            .timestamp(timestamp);
        loop {
            match producer.send(pending) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(Code::QueueFull), returned)) => {
                    // The local queue is full: the broker is slower than the
                    // schedule. Wait for room; the lag shows in `behind`.
                    pending = returned;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => anyhow::bail!("cannot send record {index} to {topic}: {e}"),
            }
        }
        value_bytes += value.len() as u64;
        if last_progress.elapsed() >= Duration::from_millis(100) {
            last_progress = Instant::now();
            progress(Progress {
                sent: index + 1,
                total,
                behind_ms: behind.as_secs_f64() * 1e3,
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| anyhow::anyhow!("records to {topic} were not all acknowledged within 120 s: {e}"))?;
    let elapsed_s = started.elapsed().as_secs_f64();
    progress(Progress {
        sent: total,
        total,
        behind_ms: behind.as_secs_f64() * 1e3,
        elapsed_s,
    });
    let failed = counter.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = counter
            .first_error
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        let hint = if first.contains("InvalidRecord") {
            " (Kafka refuses record timestamps too far in the future, one hour by default \
             (log.message.timestamp.after.max.ms): check --start-time-ms)"
        } else {
            ""
        };
        anyhow::bail!(
            "{failed} of {total} records to {topic} were not delivered (first error: {first}){hint}"
        );
    }
    let schedule_s = generator.send_time_us(total.saturating_sub(1)) as f64 / 1e6;
    Ok(ProduceReport {
        topic: topic.to_string(),
        events: total,
        value_bytes,
        elapsed_s,
        achieved_per_s: total as f64 / elapsed_s.max(1e-9),
        offered_per_s: if schedule_s > 0.0 {
            total as f64 / schedule_s
        } else {
            f64::INFINITY
        },
        max_behind_ms: max_behind.as_secs_f64() * 1e3,
        final_behind_ms: behind.as_secs_f64() * 1e3,
    })
}
