//! How a micro-batch reads its offset range: exactly `[start, end)` of every
//! partition, with records read past a batch's end kept for the next. As in
//! Spark, where each Kafka partition is read by a task of its own with its
//! own consumer, the partitions are split among `parallelism` reading tasks,
//! each with its own consumer and thread, and each decodes the records it
//! polls into columns: straight from the consumer's buffer, or, when the
//! machine has a core to spare per task, on a second thread of the task's,
//! so that decoding overlaps reading (a per-event rule's records are kept,
//! in the order its partitions gave them).
//! While a batch is computed and written, each consumer's fetcher keeps
//! prefetching the next one in the background.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::Message;

use super::frame::{BatchDecoder, Columns, Decode, OwnedRecord};
use crate::error::{Error, Result};
use crate::output::DeadLetter;
use crate::source::{KafkaSource, Offsets, SourceConfig, is_fatal};

/// What a batch's records are collected into.
#[derive(Debug, Clone)]
pub enum Collect {
    /// Events decoded into columns as this says; the rest dead letters.
    Columns(Decode),
    /// The records themselves, each partition's in offset order.
    Records,
}

/// A batch's records, as [`Collect`] asked.
#[derive(Debug)]
pub enum BatchInput {
    /// Decoded events and dead letters.
    Columns(Columns, Vec<DeadLetter>),
    /// The records, each partition's in offset order.
    Records(Vec<OwnedRecord>),
}

impl BatchInput {
    /// Nothing yet, collected as `collect` says.
    fn empty(collect: &Collect) -> BatchInput {
        match collect {
            Collect::Columns(_) => BatchInput::Columns(Columns::default(), Vec::new()),
            Collect::Records => BatchInput::Records(Vec::new()),
        }
    }

    /// Moves `other`'s records after these.
    fn append(&mut self, other: BatchInput) {
        match (self, other) {
            (BatchInput::Columns(columns, dead), BatchInput::Columns(more, more_dead)) => {
                columns.append(more);
                dead.extend(more_dead);
            }
            (BatchInput::Records(records), BatchInput::Records(more)) => records.extend(more),
            _ => unreachable!("one batch is collected one way"),
        }
    }
}

/// The micro-batch engine's reader: its reading tasks.
pub struct BatchReader {
    tasks: Vec<ReadTask>,
}

impl BatchReader {
    /// A reader of `partitions` in `parallelism` tasks (at most one per
    /// partition): the first reads with `source`, the others each with a
    /// consumer of their own on `config`. Nothing is assigned yet.
    pub fn connect(
        source: Arc<KafkaSource>,
        config: &SourceConfig,
        parallelism: usize,
    ) -> Result<BatchReader> {
        let readers = crate::source::readers(&source, config, parallelism)?;
        // With a core to spare per task, a task decodes on a second thread
        // while it reads (measured on 2 cores and 5M records: one task,
        // 6.1-7.1 s with a decoding thread against 7.1-7.5 s without; two
        // tasks, 3.4-4.3 s without against 4.4-4.7 s with).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let decode_apart = readers.len() < cores;
        let tasks = readers
            .into_iter()
            .map(|(source, partitions)| ReadTask {
                partitions,
                source,
                decode_apart,
                position: None,
                carried: Vec::new(),
            })
            .collect();
        Ok(BatchReader { tasks })
    }

    /// Reads exactly `[start, end)` of every partition, its tasks in
    /// parallel, and collects it as `collect` says; returns the input and
    /// how many records it held.
    pub async fn read(
        &mut self,
        start: &Offsets,
        end: &Offsets,
        collect: Collect,
    ) -> Result<(BatchInput, u64)> {
        let running: Vec<_> = std::mem::take(&mut self.tasks)
            .into_iter()
            .map(|mut task| {
                let (start, end) = (task.own(start), task.own(end));
                let collect = collect.clone();
                tokio::task::spawn_blocking(move || {
                    let read = task.read(&start, &end, collect);
                    (task, read)
                })
            })
            .collect();
        let mut input = BatchInput::empty(&collect);
        let mut count = 0;
        let mut failed = None;
        for running in running {
            let (task, read) = running
                .await
                .map_err(|e| Error::Internal(format!("reading a batch failed: {e}")))?;
            self.tasks.push(task);
            match read {
                Ok((read, n)) => {
                    input.append(read);
                    count += n;
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok((input, count)),
        }
    }
}

/// One reading task: its partitions, its consumer, where that consumer
/// reads now, and what it read past the last batch's end.
struct ReadTask {
    partitions: Vec<i32>,
    source: Arc<KafkaSource>,
    /// Whether its records are decoded on a thread of their own, which
    /// costs a copy of each but lets decoding overlap reading.
    decode_apart: bool,
    /// Where the consumer is reading now, if it is assigned.
    position: Option<Offsets>,
    /// Records read past the end of the last batch, kept for the next.
    carried: Vec<OwnedRecord>,
}

impl ReadTask {
    /// The entries of `offsets` for this task's partitions.
    fn own(&self, offsets: &Offsets) -> Offsets {
        offsets
            .iter()
            .filter(|(p, _)| self.partitions.contains(p))
            .map(|(p, o)| (*p, *o))
            .collect()
    }

    /// Reads exactly `[start, end)` of this task's partitions, collecting
    /// it as `collect` says.
    fn read(&mut self, start: &Offsets, end: &Offsets, collect: Collect) -> Result<(BatchInput, u64)> {
        let mut next = start.clone();
        let mut collector = Collector::new(collect, self.decode_apart)?;
        let mut count = 0;
        for record in self.take_carried(&mut next, end) {
            collector.push(record.partition, record.offset, record.payload.as_deref())?;
            count += 1;
        }
        if !reached(&next, end) {
            if self.position.as_ref() != Some(&next) {
                self.source.assign(&next)?;
            }
            // Until the range is read the position is unknown: a failed read reassigns.
            self.position = None;
            count += self.poll_range(&mut next, end, &mut collector)?;
            self.position = Some(next);
        }
        Ok((collector.finish()?, count))
    }

    /// The carried records where `next` stands, up to `end`, moving `next`
    /// past them; those at or past `end` stay carried.
    fn take_carried(&mut self, next: &mut Offsets, end: &Offsets) -> Vec<OwnedRecord> {
        let mut records = Vec::new();
        for record in std::mem::take(&mut self.carried) {
            if next.get(&record.partition) == Some(&record.offset) {
                next.insert(record.partition, record.offset + 1);
                if record.offset < end.get(&record.partition).copied().unwrap_or(0) {
                    records.push(record);
                } else {
                    self.carried.push(record);
                }
            }
        }
        records
    }

    /// Polls from `next` until `end` in every partition, collecting the
    /// records before `end` and carrying those past it; returns how many it
    /// collected.
    fn poll_range(&mut self, next: &mut Offsets, end: &Offsets, collector: &mut Collector) -> Result<u64> {
        let mut collected = 0;
        let mut waited = Instant::now();
        while !reached(next, end) {
            let Some(message) = self.source.poll(Duration::from_millis(100)) else {
                if waited.elapsed() > Duration::from_secs(30) {
                    tracing::warn!(?next, ?end, "still waiting for a batch's records");
                    waited = Instant::now();
                }
                continue;
            };
            let message = match message {
                Ok(m) => m,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "Kafka read failed; the client keeps retrying");
                    continue;
                }
            };
            let (partition, offset) = (message.partition(), message.offset());
            if offset < next.get(&partition).copied().unwrap_or(0) {
                continue;
            }
            next.insert(partition, offset + 1);
            if offset >= end.get(&partition).copied().unwrap_or(0) {
                self.carried.push(OwnedRecord {
                    partition,
                    offset,
                    payload: message.payload().map(<[u8]>::to_vec),
                });
                continue;
            }
            collector.push(partition, offset, message.payload())?;
            collected += 1;
        }
        Ok(collected)
    }
}

/// Whether `next` is at or past `end` in every partition.
fn reached(next: &Offsets, end: &Offsets) -> bool {
    end.iter().all(|(p, e)| next.get(p).copied().unwrap_or(0) >= *e)
}

/// What a task collects its records into.
enum Collector {
    /// Decoding in the reading thread, straight from the consumer's buffer.
    Columns(BatchDecoder),
    /// Copying records in chunks to a thread of the task's that decodes them.
    Handing {
        chunk: Vec<OwnedRecord>,
        decoding: Decoding,
    },
    Records(Vec<OwnedRecord>),
}

/// Records the reading thread hands over at a time.
const CHUNK_RECORDS: usize = 4096;

/// A task's decoding thread and its input.
struct Decoding {
    chunks: SyncSender<Vec<OwnedRecord>>,
    thread: JoinHandle<BatchDecoder>,
}

impl Decoding {
    fn start(decode: Decode) -> Result<Decoding> {
        let (chunks, received) = sync_channel::<Vec<OwnedRecord>>(64);
        let thread = std::thread::Builder::new()
            .name("decode".into())
            .spawn(move || {
                let mut decoder = BatchDecoder::new(decode);
                for chunk in received {
                    for r in &chunk {
                        decoder.push(r.partition, r.offset, r.payload.as_deref());
                    }
                }
                decoder
            })
            .map_err(|e| Error::Internal(format!("cannot start a decoding thread: {e}")))?;
        Ok(Decoding { chunks, thread })
    }
}

impl Collector {
    fn new(collect: Collect, decode_apart: bool) -> Result<Collector> {
        Ok(match collect {
            Collect::Columns(decode) if decode_apart => Collector::Handing {
                chunk: Vec::with_capacity(CHUNK_RECORDS),
                decoding: Decoding::start(decode)?,
            },
            Collect::Columns(decode) => Collector::Columns(BatchDecoder::new(decode)),
            Collect::Records => Collector::Records(Vec::new()),
        })
    }

    /// Decodes the record (columns) or keeps a copy of it (records).
    fn push(&mut self, partition: i32, offset: i64, payload: Option<&[u8]>) -> Result<()> {
        match self {
            Collector::Columns(decoder) => decoder.push(partition, offset, payload),
            Collector::Handing { chunk, decoding } => {
                chunk.push(OwnedRecord {
                    partition,
                    offset,
                    payload: payload.map(<[u8]>::to_vec),
                });
                if chunk.len() == CHUNK_RECORDS {
                    let full = std::mem::replace(chunk, Vec::with_capacity(CHUNK_RECORDS));
                    decoding
                        .chunks
                        .send(full)
                        .map_err(|_| Error::Internal("the batch's decoding thread is gone".into()))?;
                }
            }
            Collector::Records(records) => records.push(OwnedRecord {
                partition,
                offset,
                payload: payload.map(<[u8]>::to_vec),
            }),
        }
        Ok(())
    }

    /// The input.
    fn finish(self) -> Result<BatchInput> {
        Ok(match self {
            Collector::Columns(decoder) => {
                let (columns, dead) = decoder.finish();
                BatchInput::Columns(columns, dead)
            }
            Collector::Handing { chunk, decoding } => {
                let _ = decoding.chunks.send(chunk);
                drop(decoding.chunks);
                let decoder = decoding
                    .thread
                    .join()
                    .map_err(|_| Error::Internal("the batch's decoding thread panicked".into()))?;
                let (columns, dead) = decoder.finish();
                BatchInput::Columns(columns, dead)
            }
            Collector::Records(records) => BatchInput::Records(records),
        })
    }
}
