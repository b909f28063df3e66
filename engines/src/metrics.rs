//! An engine's live counters, shared by its threads, exposed in the
//! Prometheus text format on a loopback HTTP port (what Flink and Kafka
//! users already scrape) and written as one JSON line per second to a
//! metrics file the harness reads.

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
    /// When the first record was read, µs since the epoch (0: not yet).
    pub first_record_us: AtomicI64,
    /// Open windows in the state (as of the last checkpoint or batch).
    pub open_windows: AtomicU64,
    /// Per partition: the next offset the engine will read, and the
    /// partition's high watermark when last asked.
    pub partitions: std::sync::Mutex<std::collections::BTreeMap<i32, (i64, i64)>>,
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
    /// See [`Metrics::open_windows`].
    #[serde(default)]
    pub open_windows: u64,
    /// Records behind the end of the topic, summed over partitions.
    #[serde(default)]
    pub lag_records: i64,
    /// The engine's next offsets summed over partitions: on a topic that
    /// starts at offset 0, how many records it has read (or, restored from a
    /// checkpoint, gone past). The harness measures lag from it.
    #[serde(default)]
    pub read_position: i64,
}

impl MetricsSnapshot {
    /// The lines of a metrics file from byte `from` on (a restarted engine
    /// appends its own after its predecessor's), leaving out a line it
    /// cannot read (one being written).
    pub fn read_all(path: &Path, from: u64) -> Vec<MetricsSnapshot> {
        let text = std::fs::read(path).unwrap_or_default();
        let own = text.get(from as usize..).unwrap_or_default();
        String::from_utf8_lossy(own)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The last line of a metrics file from byte `from` on, if there is one.
    pub fn read_last(path: &Path, from: u64) -> Option<MetricsSnapshot> {
        let text = std::fs::read(path).ok()?;
        let own = text.get(from as usize..)?;
        String::from_utf8_lossy(own)
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
    }
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
            open_windows: get(&self.open_windows),
            lag_records: self.lag().values().sum(),
            read_position: self
                .partitions
                .lock()
                .map(|p| p.values().map(|(next, _)| next).sum())
                .unwrap_or(0),
        }
    }

    /// Notes that records were read now, if none had been before.
    pub fn mark_first_record(&self) {
        if self.first_record_us.load(Ordering::Relaxed) == 0 {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_micros() as i64);
            let _ = self
                .first_record_us
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Records that the first record was read at `epoch_us`, as an external
    /// engine reports it (exact, where [`Metrics::mark_first_record`] is
    /// when streambench heard of it).
    pub fn set_first_record(&self, epoch_us: i64) {
        self.first_record_us.store(epoch_us, Ordering::Relaxed);
    }

    /// Seconds from the first record read until now (0 if none was read).
    pub fn seconds_since_first_record(&self) -> f64 {
        let first = self.first_record_us.load(Ordering::Relaxed);
        if first == 0 {
            return 0.0;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        (now - first).max(0) as f64 / 1e6
    }

    /// Records the engine's next offset per partition.
    pub fn set_positions(&self, positions: &std::collections::BTreeMap<i32, i64>) {
        if let Ok(mut partitions) = self.partitions.lock() {
            for (p, next) in positions {
                partitions.entry(*p).or_insert((0, 0)).0 = *next;
            }
        }
    }

    /// Records the partitions' high watermarks.
    pub fn set_high_watermarks(&self, highs: impl IntoIterator<Item = (i32, i64)>) {
        if let Ok(mut partitions) = self.partitions.lock() {
            for (p, high) in highs {
                partitions.entry(p).or_insert((0, 0)).1 = high;
            }
        }
    }

    /// Records behind the end of each partition.
    pub fn lag(&self) -> std::collections::BTreeMap<i32, i64> {
        self.partitions
            .lock()
            .map(|p| {
                p.iter()
                    .map(|(p, (next, high))| (*p, (high - next).max(0)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The counters in the Prometheus text exposition format.
    pub fn prometheus_text(&self, engine: &str) -> String {
        use prometheus_client::encoding::text::encode;
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::gauge::Gauge;
        use prometheus_client::registry::Registry;

        let snapshot = self.snapshot();
        let mut registry = Registry::with_prefix_and_labels(
            "streambench",
            [(
                std::borrow::Cow::Borrowed("engine"),
                std::borrow::Cow::Owned(engine.to_string()),
            )]
            .into_iter(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str, value: u64| {
            let c: Counter = Counter::default();
            c.inc_by(value);
            registry.register(name, help, c);
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str, value: i64| {
            let g: Gauge = Gauge::default();
            g.set(value);
            registry.register(name, help, g);
        };
        counter(
            &mut registry,
            "records_read",
            "Records read from Kafka",
            snapshot.records_read,
        );
        counter(
            &mut registry,
            "events_kept",
            "Events the job kept",
            snapshot.events_kept,
        );
        counter(
            &mut registry,
            "dead_letters",
            "Records sent to the dead-letter table",
            snapshot.dead_letters,
        );
        counter(
            &mut registry,
            "late_events",
            "Events sent to the late side output",
            snapshot.late_events,
        );
        counter(
            &mut registry,
            "results_written",
            "Window results written",
            snapshot.results_written,
        );
        counter(
            &mut registry,
            "checkpoints",
            "Checkpoints or batches completed",
            snapshot.checkpoints,
        );
        gauge(
            &mut registry,
            "last_checkpoint_microseconds",
            "Duration of the last checkpoint",
            snapshot.last_checkpoint_us as i64,
        );
        gauge(
            &mut registry,
            "last_checkpoint_bytes",
            "Size of the last checkpoint",
            snapshot.last_checkpoint_bytes as i64,
        );
        gauge(
            &mut registry,
            "max_checkpoint_pause_microseconds",
            "Longest pause of processing for a checkpoint",
            snapshot.max_checkpoint_pause_us as i64,
        );
        gauge(
            &mut registry,
            "open_windows",
            "Open windows in the state",
            snapshot.open_windows as i64,
        );
        if let Some(w) = snapshot.watermark_ms {
            gauge(
                &mut registry,
                "watermark_milliseconds",
                "The current watermark, ms since the epoch",
                w,
            );
            gauge(
                &mut registry,
                "watermark_delay_milliseconds",
                "How far the watermark trails the wall clock",
                snapshot.at_ms - w,
            );
        }
        let lag: Family<Vec<(String, String)>, Gauge> = Family::default();
        for (partition, records) in self.lag() {
            lag.get_or_create(&vec![("partition".to_string(), partition.to_string())])
                .set(records);
        }
        registry.register("lag_records", "Records behind the end of the partition", lag);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }

    /// Serves [`Metrics::prometheus_text`] over HTTP on `addr` (any path)
    /// until the task is aborted; returns the address bound (port 0 picks one).
    pub async fn serve_prometheus(
        self: &std::sync::Arc<Self>,
        addr: std::net::SocketAddr,
        engine: &'static str,
    ) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let metrics = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    // The request is not needed beyond its arrival; read what came.
                    let mut request = [0u8; 4096];
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut request))
                            .await;
                    let body = metrics.prometheus_text(engine);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok((bound, task))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_endpoint_serves_the_counters_in_prometheus_text() {
        let metrics = std::sync::Arc::new(Metrics::new());
        Metrics::add(&metrics.records_read, 42);
        metrics.watermark_ms.store(1_000, Ordering::Relaxed);
        metrics.set_positions(&[(0, 10), (1, 5)].into_iter().collect());
        metrics.set_high_watermarks([(0, 15), (1, 5)]);
        let (addr, task) = metrics
            .serve_prometheus("127.0.0.1:0".parse().expect("addr"), "continuous")
            .await
            .expect("bind");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        task.abort();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.contains("streambench_records_read_total{engine=\"continuous\"} 42"),
            "{response}"
        );
        assert!(
            response.contains("streambench_lag_records{engine=\"continuous\",partition=\"0\"} 5"),
            "{response}"
        );
        assert!(
            response.contains("streambench_watermark_milliseconds{engine=\"continuous\"} 1000"),
            "{response}"
        );
        assert_eq!(metrics.snapshot().lag_records, 5);
        assert_eq!(metrics.snapshot().read_position, 15);
    }
}
