//! Latency per window result, recorded in HdrHistograms: event-time latency
//! (`emitted_at` - window end: what a reader of the results waits) and
//! engine delay (`emitted_at` - (window end + watermark delay): what the
//! engine adds beyond the bound it was told to wait). Event times follow the
//! generator's schedule, never the moment a send happened, so a stalled
//! engine or producer shows up here instead of hiding (no coordinated
//! omission).

use hdrhistogram::Histogram;
pub use streambench_reports::results::{LatencySecond, LatencySummary, PERCENTILES};

/// Records latencies in microseconds, from 1 µs to one hour, 3 significant digits.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
    /// Results whose latency was negative (emitted before the window ended:
    /// only possible in update mode, where open windows are written).
    early: u64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            early: 0,
        }
    }
}

impl LatencyRecorder {
    /// Records one latency; values beyond an hour count as an hour.
    pub fn record_us(&mut self, latency_us: i64) {
        if latency_us < 0 {
            self.early += 1;
        }
        self.histogram
            .saturating_record(latency_us.clamp(1, 3_600_000_000) as u64);
    }

    /// Results recorded with a negative latency.
    pub fn early(&self) -> u64 {
        self.early
    }

    /// The histogram, for interval logs.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// The summary reports show.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.histogram;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            percentiles_ms: PERCENTILES
                .iter()
                .map(|p| (*p, h.value_at_quantile(p / 100.0) as f64 / 1000.0))
                .collect(),
            max_ms: h.max() as f64 / 1000.0,
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// Latencies recorded per second of emission, for the per-second series
/// and HdrHistogram's interval log.
#[derive(Debug, Clone, Default)]
pub struct LatencySeries {
    seconds: std::collections::BTreeMap<u32, LatencyRecorder>,
}

impl LatencySeries {
    /// Records a result emitted `t_s` seconds into the run.
    pub fn record_us(&mut self, t_s: u32, latency_us: i64) {
        self.seconds.entry(t_s).or_default().record_us(latency_us);
    }

    /// One entry per second in which results were emitted.
    pub fn seconds(&self) -> Vec<LatencySecond> {
        self.seconds
            .iter()
            .map(|(t_s, recorder)| {
                let summary = recorder.summary();
                LatencySecond {
                    t_s: *t_s,
                    count: summary.count,
                    p50_ms: summary.at(50.0),
                    p99_ms: summary.at(99.0),
                    max_ms: Some(summary.max_ms),
                }
            })
            .collect()
    }

    /// Writes the series in HdrHistogram's interval log format (values in
    /// µs, one interval per second from `start`), which HdrHistogram's own
    /// tools (HistogramLogProcessor, HdrHistogramVisualizer) read.
    pub fn write_interval_log(
        &self,
        path: &std::path::Path,
        start: std::time::SystemTime,
        tag: &str,
    ) -> anyhow::Result<()> {
        use hdrhistogram::serialization::V2DeflateSerializer;
        use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment("streambench event-time latency per window result, in microseconds")
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut serializer)?;
        let tag = Tag::new(tag).ok_or_else(|| anyhow::anyhow!("bad interval log tag {tag:?}"))?;
        for (t_s, recorder) in &self.seconds {
            writer
                .write_histogram(
                    recorder.histogram(),
                    std::time::Duration::from_secs(u64::from(*t_s)),
                    std::time::Duration::from_secs(1),
                    Some(tag),
                )
                .map_err(|e| anyhow::anyhow!("cannot write an interval histogram: {e:?}"))?;
        }
        std::fs::write(path, out).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_delays_give_known_percentiles() {
        let mut recorder = LatencyRecorder::default();
        // 1 ms .. 1000 ms, once each: p50 is 500 ms, p99 990 ms, max 1 s.
        for ms in 1..=1000 {
            recorder.record_us(ms * 1000);
        }
        let summary = recorder.summary();
        assert_eq!(summary.count, 1000);
        let close =
            |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() <= want * 0.001 + 0.001);
        assert!(close(summary.at(50.0), 500.0), "{summary:?}");
        assert!(close(summary.at(90.0), 900.0), "{summary:?}");
        assert!(close(summary.at(99.0), 990.0), "{summary:?}");
        assert!(close(Some(summary.max_ms), 1000.0), "{summary:?}");
        assert!((summary.mean_ms - 500.5).abs() < 1.0, "{summary:?}");
    }

    #[test]
    fn one_stall_shows_in_the_tail_and_early_results_are_counted() {
        let mut recorder = LatencyRecorder::default();
        for _ in 0..9_990 {
            recorder.record_us(10_000);
        }
        for _ in 0..10 {
            recorder.record_us(2_000_000);
        }
        recorder.record_us(-5);
        let summary = recorder.summary();
        assert!(
            summary.at(99.0).is_some_and(|v| (v - 10.0).abs() < 0.1),
            "{summary:?}"
        );
        assert!(summary.at(99.99).is_some_and(|v| v >= 1_990.0), "{summary:?}");
        assert_eq!(recorder.early(), 1);
    }

    #[test]
    fn the_series_keeps_seconds_apart_and_its_interval_log_reads_back() {
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        let mut series = LatencySeries::default();
        for _ in 0..99 {
            series.record_us(3, 10_000);
        }
        series.record_us(3, 900_000);
        series.record_us(7, 2_000_000);
        let seconds = series.seconds();
        assert_eq!(seconds.len(), 2);
        assert_eq!((seconds[0].t_s, seconds[0].count), (3, 100));
        assert!(seconds[0].p50_ms.is_some_and(|v| (v - 10.0).abs() < 0.1));
        assert!(seconds[0].max_ms.is_some_and(|v| (v - 900.0).abs() < 1.0));
        assert!(seconds[1].p99_ms.is_some_and(|v| (v - 2000.0).abs() < 2.0));

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("latency.hlog");
        series
            .write_interval_log(&path, std::time::SystemTime::now(), "event_time")
            .expect("write");
        let text = std::fs::read(&path).expect("read");
        let intervals: Vec<_> = IntervalLogIterator::new(&text)
            .filter_map(|e| match e {
                Ok(LogEntry::Interval(i)) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[1].start_timestamp(), std::time::Duration::from_secs(7));
        assert_eq!(intervals[0].tag().map(|t| t.as_str()), Some("event_time"));
    }
}
