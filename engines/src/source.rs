//! The Kafka source both engines read through: one consumer with its
//! partitions assigned explicitly (as Flink's and Spark's Kafka sources do,
//! so no group rebalance moves them), the consumer group used only to record
//! progress, start positions resolved to concrete offsets, and per-partition
//! high watermarks for lag.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::error::{Error, Result};
use crate::start::StartPosition;

/// The next offset to read, per partition.
pub type Offsets = BTreeMap<i32, i64>;

/// How long a metadata or offset request may take before it is an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and what a source reads.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Bootstrap servers.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// The consumer group its progress is committed under.
    pub group: String,
}

/// How long librdkafka waits before it fetches again for a partition whose
/// prefetch queue was full. Its default, 1000 ms, stalls a consumer that
/// drains the queue faster than that: reading a backlog, the queue fills,
/// fetching pauses for a second, and the reader starves. Measured on a
/// 5M-record topic (`streambench bench`), the default held a bare consumer
/// to 0.23M records/s read and decoded; 10 ms gives 1.8M/s. 0 spins the
/// fetch thread on a full queue, which costs a core. See
/// `fetch.queue.backoff.ms` in librdkafka's CONFIGURATION.md.
pub const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// The consumer settings every reader of a topic in streambench uses (both
/// engines' source and `bench`'s bare consumer), so that what they are
/// compared on is the same client:
/// - no automatic commits or offset stores: the engines commit what their
///   checkpoint or transaction says;
/// - `auto.offset.reset = error`: a record deleted before it was read is an
///   error, never silently skipped (see [`is_fatal`]);
/// - `fetch.wait.max.ms = 50`: a broker with little to send answers within
///   50 ms (the default 500 ms would add up to half a second to latency at
///   low rates);
/// - [`FETCH_QUEUE_BACKOFF_MS`].
pub fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "50")
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
        .set("socket.connection.setup.timeout.ms", "10000");
    config
}

/// `parallelism` consumers of `source`'s topic (at most one per partition),
/// each with its share of the partitions, every `n`-th: how Flink's split
/// readers and Spark's per-partition tasks read. The first is `source`
/// itself; the others connect on `config`.
pub fn readers(
    source: &Arc<KafkaSource>,
    config: &SourceConfig,
    parallelism: usize,
) -> Result<Vec<(Arc<KafkaSource>, Vec<i32>)>> {
    let partitions = source.partitions();
    let count = parallelism.clamp(1, partitions.len().max(1));
    (0..count)
        .map(|reader| {
            let consumer = match reader {
                0 => source.clone(),
                _ => Arc::new(KafkaSource::connect(config.clone())?),
            };
            let share = partitions.iter().copied().skip(reader).step_by(count).collect();
            Ok((consumer, share))
        })
        .collect()
}

/// A consumer of one topic, with every partition assigned to it.
pub struct KafkaSource {
    config: SourceConfig,
    consumer: BaseConsumer,
    partitions: Vec<i32>,
}

impl KafkaSource {
    /// Connects and learns the topic's partitions; nothing is assigned yet.
    pub fn connect(config: SourceConfig) -> Result<KafkaSource> {
        let consumer: BaseConsumer = consumer_config(&config.brokers, &config.group)
            .set_log_level(RDKafkaLogLevel::Error)
            .create()
            .map_err(Error::kafka(format!(
                "creating a consumer for {}",
                config.brokers
            )))?;
        let metadata = consumer
            .fetch_metadata(Some(&config.topic), REQUEST_TIMEOUT)
            .map_err(Error::kafka(format!(
                "reading metadata from {} (is it running? `streambench stack up` starts one)",
                config.brokers
            )))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == config.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(Error::MissingTopic {
                topic: config.topic.clone(),
                brokers: config.brokers.clone(),
            });
        }
        Ok(KafkaSource {
            config,
            consumer,
            partitions,
        })
    }

    /// The topic read.
    pub fn topic(&self) -> &str {
        &self.config.topic
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.config.group
    }

    /// The topic's partitions, in order.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// The concrete first offset of every partition for `position`.
    /// `restored` is what the engine's own checkpoint (or the transactional
    /// offsets table) says, used by [`StartPosition::Checkpoint`]; partitions
    /// it does not cover fall back to the group's committed offsets, then to
    /// the earliest.
    pub fn resolve(&self, position: StartPosition, restored: Option<&Offsets>) -> Result<Offsets> {
        let mut offsets = Offsets::new();
        match position {
            StartPosition::Earliest | StartPosition::Latest => {
                for (partition, (low, high)) in self.watermarks()? {
                    let at = if position == StartPosition::Earliest {
                        low
                    } else {
                        high
                    };
                    offsets.insert(partition, at);
                }
            }
            StartPosition::Timestamp(ms) => {
                let mut query = TopicPartitionList::new();
                for &p in &self.partitions {
                    query
                        .add_partition_offset(&self.config.topic, p, Offset::Offset(ms))
                        .map_err(Error::kafka("building an offsets-for-times query"))?;
                }
                let found = self
                    .consumer
                    .offsets_for_times(query, REQUEST_TIMEOUT)
                    .map_err(Error::kafka(format!("finding offsets for timestamp {ms}")))?;
                let watermarks = self.watermarks()?;
                for element in found.elements() {
                    let high = watermarks.get(&element.partition()).map_or(0, |w| w.1);
                    let at = match element.offset() {
                        Offset::Offset(o) => o,
                        // No record at or after the timestamp: start at the end.
                        _ => high,
                    };
                    offsets.insert(element.partition(), at);
                }
            }
            StartPosition::Checkpoint => {
                let committed = self.committed()?;
                let watermarks = self.watermarks()?;
                for &p in &self.partitions {
                    let at = restored
                        .and_then(|r| r.get(&p).copied())
                        .or_else(|| committed.get(&p).copied())
                        .unwrap_or_else(|| watermarks.get(&p).map_or(0, |w| w.0));
                    offsets.insert(p, at);
                }
            }
        }
        Ok(offsets)
    }

    /// Reads from `offsets` on: assigns every partition there.
    pub fn assign(&self, offsets: &Offsets) -> Result<()> {
        let mut assignment = TopicPartitionList::new();
        for (&partition, &offset) in offsets {
            assignment
                .add_partition_offset(&self.config.topic, partition, Offset::Offset(offset))
                .map_err(Error::kafka("building an assignment"))?;
        }
        self.consumer
            .assign(&assignment)
            .map_err(Error::kafka(format!("assigning {}", self.config.topic)))
    }

    /// The next record, waiting at most `timeout`; `None` when none came.
    /// An error is either passing (the client reconnects by itself) or, for
    /// [`is_fatal`], means records are gone.
    pub fn poll(&self, timeout: Duration) -> Option<Result<BorrowedMessage<'_>>> {
        self.consumer
            .poll(timeout)
            // The error's text is built only on an error: this runs per record.
            .map(|r| {
                r.map_err(|error| Error::Kafka {
                    what: format!("reading {}", self.config.topic),
                    error,
                })
            })
    }

    /// Records `offsets` (next offset to read, per partition) as the group's
    /// progress, waiting for the broker to confirm.
    pub fn commit(&self, offsets: &Offsets) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (&partition, &offset) in offsets {
            list.add_partition_offset(&self.config.topic, partition, Offset::Offset(offset))
                .map_err(Error::kafka("building a commit"))?;
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(Error::kafka(format!(
                "committing offsets of group {}",
                self.config.group
            )))
    }

    /// The group's committed offsets, for partitions that have one.
    pub fn committed(&self) -> Result<Offsets> {
        let mut query = TopicPartitionList::new();
        for &p in &self.partitions {
            query.add_partition(&self.config.topic, p);
        }
        let list = self
            .consumer
            .committed_offsets(query, REQUEST_TIMEOUT)
            .map_err(Error::kafka(format!(
                "reading committed offsets of group {}",
                self.config.group
            )))?;
        Ok(list
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    }

    /// Low and high watermark (first offset, next offset to be written) of
    /// every partition, retried while the broker is away (see [`patiently`]).
    pub fn watermarks(&self) -> Result<BTreeMap<i32, (i64, i64)>> {
        patiently("the topic's offsets", || self.watermarks_once())
    }

    /// The next offset to be written of every partition, asked in one
    /// request, so that all partitions' ends are from the same moment (asked
    /// one by one, a partition asked later would be ahead of the others by
    /// the time between the requests). Retried while the broker is away.
    pub fn end_offsets(&self) -> Result<Offsets> {
        patiently("the topic's end offsets", || {
            let mut query = TopicPartitionList::new();
            for &p in &self.partitions {
                query
                    .add_partition_offset(&self.config.topic, p, Offset::End)
                    .map_err(Error::kafka(format!(
                        "asking the end of {}/{p}",
                        self.config.topic
                    )))?;
            }
            let list = self
                .consumer
                .offsets_for_times(query, REQUEST_TIMEOUT)
                .map_err(Error::kafka(format!(
                    "reading the end offsets of {}",
                    self.config.topic
                )))?;
            list.elements()
                .iter()
                .map(|e| match e.offset() {
                    Offset::Offset(o) => Ok((e.partition(), o)),
                    other => Err(Error::Internal(format!(
                        "the broker gave no end offset for {}/{} ({other:?})",
                        self.config.topic,
                        e.partition()
                    ))),
                })
                .collect()
        })
    }

    /// [`Source::watermarks`], asked once: for metrics, which must not wait.
    pub fn watermarks_once(&self) -> Result<BTreeMap<i32, (i64, i64)>> {
        self.partitions
            .iter()
            .map(|&p| {
                self.consumer
                    .fetch_watermarks(&self.config.topic, p, REQUEST_TIMEOUT)
                    .map(|w| (p, w))
                    .map_err(Error::kafka(format!(
                        "reading the offsets of {}/{p}",
                        self.config.topic
                    )))
            })
            .collect()
    }
}

/// How long the engine keeps asking a broker that does not answer before it
/// stops with an error.
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(300);

/// Runs `ask` until it succeeds, with backoff, while the broker cannot be
/// reached (an outage, a restart), for up to [`OUTAGE_PATIENCE`]; warns
/// every 5 s that it is still waiting for `what`.
fn patiently<T>(what: &str, mut ask: impl FnMut() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(100);
    let mut next_warning = started;
    loop {
        match ask() {
            Ok(answer) => return Ok(answer),
            Err(e) if started.elapsed() < OUTAGE_PATIENCE => {
                if Instant::now() >= next_warning {
                    tracing::warn!(error = %e, "cannot read {what}; retrying while the broker is away");
                    next_warning = Instant::now() + Duration::from_secs(5);
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a read error means records the job needs are gone (deleted by
/// retention before they were read, or an offset past the end): the engine
/// must stop and say so rather than skip them, which Kafka's automatic
/// offset reset would do silently.
pub fn is_fatal(error: &Error) -> bool {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    matches!(
        error,
        Error::Kafka {
            error: KafkaError::MessageConsumption(
                RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset
            ),
            ..
        }
    )
}
