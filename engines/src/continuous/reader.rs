//! The continuous engine's readers: as Flink's Kafka source runs one split
//! reader per parallel subtask, the topic's partitions are split among
//! `parallelism` reader threads, each with its own consumer, which poll and
//! decode their records and hand them, in chunks and in each partition's
//! order, to the source thread. The source thread alone decides what has
//! been read (its offsets are what a checkpoint records), so records a
//! reader holds when a checkpoint is taken are simply read again after a
//! restore.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::Message;

use crate::error::{Error, Result};
use crate::record::{Interpreted, Interpreter};
use crate::source::{KafkaSource, Offsets, SourceConfig, is_fatal};

/// Records a reader hands over at a time (fewer when the topic has no more).
const CHUNK_RECORDS: usize = 1024;

/// Chunks the readers together may be ahead of the source thread.
const CHUNKS_AHEAD: usize = 32;

/// How long a reader waits for a record before it looks whether to stop.
const POLL_WAIT: Duration = Duration::from_millis(50);

/// One record as a reader made it out.
pub(super) struct ReadRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// What it is to the job.
    pub record: Interpreted,
    /// Its value, kept only when it is malformed (for its dead letter).
    pub raw: Vec<u8>,
}

/// What a reader hands over: records, or the error that stopped it.
pub(super) type Chunk = Result<Vec<ReadRecord>>;

/// The reader threads and the channel they fill; stopped and joined when
/// dropped.
pub(super) struct Readers {
    chunks: Option<Receiver<Chunk>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Readers {
    /// Starts `parallelism` readers (at most one per partition) from
    /// `start`, the first with `source`, the others each with a consumer
    /// of their own on `config`.
    pub fn start(
        source: &Arc<KafkaSource>,
        config: &SourceConfig,
        start: &Offsets,
        parallelism: usize,
        interpreter: &Interpreter,
    ) -> Result<Readers> {
        let (sender, chunks) = sync_channel(CHUNKS_AHEAD);
        let mut readers = Readers {
            chunks: Some(chunks),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for (reader, (consumer, partitions)) in crate::source::readers(source, config, parallelism)?
            .into_iter()
            .enumerate()
        {
            let own: Offsets = partitions
                .iter()
                .map(|p| (*p, start.get(p).copied().unwrap_or(0)))
                .collect();
            consumer.assign(&own)?;
            let read = Reader {
                source: consumer,
                interpreter: interpreter.clone(),
                out: sender.clone(),
                stop: readers.stop.clone(),
            };
            readers.threads.push(
                std::thread::Builder::new()
                    .name(format!("reader-{reader}"))
                    .spawn(move || read.run())
                    .map_err(|e| Error::Internal(format!("cannot start a reader thread: {e}")))?,
            );
        }
        Ok(readers)
    }

    /// The next chunk: waiting up to `wait` for it, or, with no wait, only
    /// one already handed over; `None` when none came.
    pub fn next(&self, wait: Option<Duration>) -> Result<Option<Vec<ReadRecord>>> {
        let chunks = self
            .chunks
            .as_ref()
            .expect("the channel lives as long as the readers");
        let chunk = match wait {
            Some(wait) => chunks
                .recv_timeout(wait)
                .map_err(|e| e == RecvTimeoutError::Disconnected),
            None => chunks.try_recv().map_err(|e| e == TryRecvError::Disconnected),
        };
        match chunk {
            Ok(chunk) => chunk.map(Some),
            Err(false) => Ok(None),
            Err(true) => Err(Error::Internal("every reader thread has stopped".into())),
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        // Closing the channel first frees a reader waiting to hand over a chunk.
        self.chunks = None;
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One reader thread's work.
struct Reader {
    source: Arc<KafkaSource>,
    interpreter: Interpreter,
    out: SyncSender<Chunk>,
    stop: Arc<AtomicBool>,
}

impl Reader {
    /// Reads until told to stop, the source thread is gone, or records
    /// are lost (which it hands over as its last chunk).
    fn run(self) {
        let mut last_error_log: Option<Instant> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let chunk = self.read_chunk(&mut last_error_log);
            if matches!(&chunk, Ok(records) if records.is_empty()) {
                continue;
            }
            let failed = chunk.is_err();
            if self.out.send(chunk).is_err() || failed {
                return;
            }
        }
    }

    /// Up to [`CHUNK_RECORDS`] records: waits for the first, then takes
    /// what the consumer already holds.
    fn read_chunk(&self, last_error_log: &mut Option<Instant>) -> Chunk {
        let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
        let mut wait = POLL_WAIT;
        while chunk.len() < CHUNK_RECORDS {
            let Some(message) = self.source.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let message = match message {
                Ok(message) => message,
                Err(error) if is_fatal(&error) => {
                    return Err(Error::DataLost {
                        topic: self.source.topic().to_string(),
                        reason: error.to_string(),
                    });
                }
                Err(error) => {
                    // librdkafka reconnects by itself; say so now and then, do not stop.
                    if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                        tracing::warn!(%error, "Kafka read failed; the client keeps retrying");
                        *last_error_log = Some(Instant::now());
                    }
                    break;
                }
            };
            let record = self.interpreter.interpret(message.payload());
            let raw = match record {
                Interpreted::Malformed(_) => message.payload().unwrap_or_default().to_vec(),
                _ => Vec::new(),
            };
            chunk.push(ReadRecord {
                partition: message.partition(),
                offset: message.offset(),
                record,
                raw,
            });
        }
        Ok(chunk)
    }
}
