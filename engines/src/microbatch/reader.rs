//! How a micro-batch reads its offset range: exactly `[start, end)` of every
//! partition, with records read past a batch's end kept for the next. The
//! records go, in chunks as they are polled, to a second thread that decodes
//! them into columns (or, for a per-event rule, keeps them in arrival order),
//! so that decoding overlaps reading, as in Spark a Kafka partition's task
//! decodes the records it fetches.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use rdkafka::Message;
use streambench_workloads::event::EventKind;

use super::frame::{BatchDecoder, Columns, OwnedRecord};
use crate::error::{Error, Result};
use crate::output::DeadLetter;
use crate::source::{KafkaSource, Offsets, is_fatal};

/// Records the reading thread hands over at a time.
const CHUNK_RECORDS: usize = 4096;

/// Chunks the reading thread may be ahead of the decoding one.
const CHUNKS_AHEAD: usize = 64;

/// What the decoding thread makes of a batch's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    /// Events of this kind, decoded into columns; the rest dead letters.
    Columns(EventKind),
    /// The records themselves, in the order read.
    Records,
}

/// A batch's records, as [`Collect`] asked.
#[derive(Debug)]
pub enum BatchInput {
    /// Decoded events and dead letters.
    Columns(Columns, Vec<DeadLetter>),
    /// The records, in the order read.
    Records(Vec<OwnedRecord>),
}

/// The micro-batch engine's reader: the source, where its consumer reads
/// now, and what it read past the last batch's end.
pub struct BatchReader {
    source: Arc<KafkaSource>,
    /// Where the consumer is reading now, if it is assigned.
    position: Option<Offsets>,
    /// Records read past the end of the last batch, kept for the next.
    carried: Vec<OwnedRecord>,
}

impl BatchReader {
    /// A reader of `source`, not yet assigned.
    pub fn new(source: Arc<KafkaSource>) -> BatchReader {
        BatchReader {
            source,
            position: None,
            carried: Vec::new(),
        }
    }

    /// Reads exactly `[start, end)` of every partition and collects it as
    /// `collect` says; returns the input and how many records it held.
    pub async fn read(
        &mut self,
        start: &Offsets,
        end: &Offsets,
        collect: Collect,
    ) -> Result<(BatchInput, u64)> {
        let mut next = start.clone();
        let first = self.take_carried(&mut next, end);
        let (sender, receiver) = sync_channel(CHUNKS_AHEAD);
        let decoding = tokio::task::spawn_blocking(move || collect_input(collect, first, receiver));
        if reached(&next, end) {
            drop(sender);
        } else {
            let source = self.source.clone();
            let reassign = self.position.as_ref() != Some(&next);
            let (end, carried) = (end.clone(), std::mem::take(&mut self.carried));
            let (next, carried) = tokio::task::spawn_blocking(move || {
                poll_range(&source, reassign, next, &end, carried, &sender)
            })
            .await
            .map_err(|e| Error::Internal(format!("reading a batch failed: {e}")))??;
            self.position = Some(next);
            self.carried = carried;
        }
        decoding
            .await
            .map_err(|e| Error::Internal(format!("decoding a batch failed: {e}")))
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
}

/// Whether `next` is at or past `end` in every partition.
fn reached(next: &Offsets, end: &Offsets) -> bool {
    end.iter().all(|(p, e)| next.get(p).copied().unwrap_or(0) >= *e)
}

/// Polls from `next` until `end` in every partition, sending the records
/// before `end` in chunks and keeping those past it; returns where the
/// consumer stands and what it kept.
fn poll_range(
    source: &KafkaSource,
    reassign: bool,
    mut next: Offsets,
    end: &Offsets,
    mut carried: Vec<OwnedRecord>,
    sender: &SyncSender<Vec<OwnedRecord>>,
) -> Result<(Offsets, Vec<OwnedRecord>)> {
    if reassign {
        source.assign(&next)?;
    }
    let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
    let mut waited = Instant::now();
    while !reached(&next, end) {
        let Some(message) = source.poll(Duration::from_millis(100)) else {
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
        let record = OwnedRecord {
            partition: message.partition(),
            offset: message.offset(),
            payload: message.payload().map(<[u8]>::to_vec),
        };
        if record.offset < next.get(&record.partition).copied().unwrap_or(0) {
            continue;
        }
        next.insert(record.partition, record.offset + 1);
        if record.offset >= end.get(&record.partition).copied().unwrap_or(0) {
            carried.push(record);
            continue;
        }
        chunk.push(record);
        if chunk.len() == CHUNK_RECORDS {
            send(
                sender,
                std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_RECORDS)),
            )?;
        }
    }
    send(sender, chunk)?;
    Ok((next, carried))
}

fn send(sender: &SyncSender<Vec<OwnedRecord>>, chunk: Vec<OwnedRecord>) -> Result<()> {
    sender
        .send(chunk)
        .map_err(|_| Error::Internal("the batch's decoding thread is gone".into()))
}

/// Collects `first`, then every chunk until the reading side is done.
fn collect_input(
    collect: Collect,
    first: Vec<OwnedRecord>,
    chunks: Receiver<Vec<OwnedRecord>>,
) -> (BatchInput, u64) {
    let chunks = std::iter::once(first).chain(chunks);
    match collect {
        Collect::Columns(kind) => {
            let mut decoder = BatchDecoder::new(kind);
            let mut count = 0;
            for chunk in chunks {
                count += chunk.len() as u64;
                chunk.iter().for_each(|record| decoder.push(record));
            }
            let (columns, dead_letters) = decoder.finish();
            (BatchInput::Columns(columns, dead_letters), count)
        }
        Collect::Records => {
            let records: Vec<OwnedRecord> = chunks.flatten().collect();
            let count = records.len() as u64;
            (BatchInput::Records(records), count)
        }
    }
}
