//! Latency per window result, recorded in HdrHistograms: event-time latency
//! (`emitted_at` - window end: what a reader of the results waits) and
//! engine delay (`emitted_at` - (window end + watermark delay): what the
//! engine adds beyond the bound it was told to wait). Event times follow the
//! generator's schedule, never the moment a send happened, so a stalled
//! engine or producer shows up here instead of hiding (no coordinated
//! omission).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The percentiles every report shows.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 99.99];

/// A latency distribution summarised, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Results recorded.
    pub count: u64,
    /// p50, p90, p99, p99.9, p99.99, in that order.
    pub percentiles_ms: Vec<(f64, f64)>,
    /// The largest.
    pub max_ms: f64,
    /// The mean.
    pub mean_ms: f64,
}

impl LatencySummary {
    /// The value at `percentile`, if it was summarised.
    pub fn at(&self, percentile: f64) -> Option<f64> {
        self.percentiles_ms
            .iter()
            .find(|(p, _)| (*p - percentile).abs() < 1e-9)
            .map(|(_, v)| *v)
    }
}

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
}
