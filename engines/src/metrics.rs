//! An engine's live counters, shared by its threads and written as one JSON
//! line per interval to a metrics file the harness reads (the engine runs
//! as a separate process, so this file is the metrics endpoint).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Counters an engine updates as it runs.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records read from Kafka.
    pub records_read: AtomicU64,
    /// Events kept by the job.
    pub events_kept: AtomicU64,
    /// Dead letters.
    pub dead_letters: AtomicU64,
    /// Late events sent to the side output.
    pub late_events: AtomicU64,
    /// Window results written to PostgreSQL.
    pub results_written: AtomicU64,
    /// Checkpoints or batches completed.
    pub checkpoints: AtomicU64,
    /// The last checkpoint's duration, in microseconds.
    pub last_checkpoint_us: AtomicU64,
    /// The last checkpoint's size.
    pub last_checkpoint_bytes: AtomicU64,
    /// The longest processing pause a checkpoint caused, in microseconds.
    pub max_checkpoint_pause_us: AtomicU64,
    /// The current watermark (ms since the epoch; `i64::MIN` before the first).
    pub watermark_ms: AtomicI64,
}

/// One reading of [`Metrics`], as written to the metrics file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// When it was taken, in ms since the epoch.
    pub at_ms: i64,
    /// See [`Metrics::records_read`].
    pub records_read: u64,
    /// See [`Metrics::events_kept`].
    pub events_kept: u64,
    /// See [`Metrics::dead_letters`].
    pub dead_letters: u64,
    /// See [`Metrics::late_events`].
    pub late_events: u64,
    /// See [`Metrics::results_written`].
    pub results_written: u64,
    /// See [`Metrics::checkpoints`].
    pub checkpoints: u64,
    /// See [`Metrics::last_checkpoint_us`].
    pub last_checkpoint_us: u64,
    /// See [`Metrics::last_checkpoint_bytes`].
    pub last_checkpoint_bytes: u64,
    /// See [`Metrics::max_checkpoint_pause_us`].
    pub max_checkpoint_pause_us: u64,
    /// The watermark, if there is one yet.
    pub watermark_ms: Option<i64>,
}

impl Metrics {
    /// New counters, all zero.
    pub fn new() -> Metrics {
        Metrics {
            watermark_ms: AtomicI64::new(i64::MIN),
            ..Metrics::default()
        }
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let watermark = self.watermark_ms.load(Ordering::Relaxed);
        MetricsSnapshot {
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            records_read: get(&self.records_read),
            events_kept: get(&self.events_kept),
            dead_letters: get(&self.dead_letters),
            late_events: get(&self.late_events),
            results_written: get(&self.results_written),
            checkpoints: get(&self.checkpoints),
            last_checkpoint_us: get(&self.last_checkpoint_us),
            last_checkpoint_bytes: get(&self.last_checkpoint_bytes),
            max_checkpoint_pause_us: get(&self.max_checkpoint_pause_us),
            watermark_ms: (watermark != i64::MIN).then_some(watermark),
        }
    }

    /// Appends a reading to `path` every second until the returned task is
    /// aborted (or dropped with its runtime).
    pub fn write_every_second(
        self: &std::sync::Arc<Self>,
        path: std::path::PathBuf,
    ) -> tokio::task::JoinHandle<()> {
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = metrics.append_to(&path) {
                    tracing::warn!(error = %e, path = %path.display(), "cannot write metrics");
                }
            }
        })
    }

    /// Appends the current reading to `path` as one JSON line.
    pub fn append_to(&self, path: &Path) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&self.snapshot()).map_err(std::io::Error::other)?;
        line.push(b'\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(&line)
    }
}
