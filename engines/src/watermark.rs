//! Event-time progress per source partition and the watermark derived from
//! it: bounded out-of-orderness, minimum over partitions, idle partitions
//! left out so that an empty one does not hold everything back. Idleness
//! is judged only while the source delivers: after a silence of the whole
//! source (a broker outage, a stalled producer) every partition gets a full
//! idle timeout to deliver its backlog, so the first partition back cannot
//! make the others' records late.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One partition's event-time progress.
#[derive(Debug, Clone, Copy)]
struct PartitionClock {
    max_event_time_ms: Option<i64>,
    last_record_at: Instant,
}

/// The watermark of a source: per partition, max event time seen minus the
/// delay; the source's watermark is the minimum over active partitions and
/// never goes back.
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    delay_ms: i64,
    idle_timeout: Duration,
    partitions: BTreeMap<i32, PartitionClock>,
    current_ms: Option<i64>,
    /// When any partition last had a record.
    last_any_record_at: Instant,
}

impl WatermarkTracker {
    /// A tracker over `partitions` with a bounded out-of-orderness of
    /// `delay_ms`; a partition without records for `idle_timeout` is ignored
    /// until it has records again.
    pub fn new(partitions: impl IntoIterator<Item = i32>, delay_ms: i64, idle_timeout: Duration) -> Self {
        let now = Instant::now();
        WatermarkTracker {
            delay_ms,
            idle_timeout,
            partitions: partitions
                .into_iter()
                .map(|p| {
                    let clock = PartitionClock {
                        max_event_time_ms: None,
                        last_record_at: now,
                    };
                    (p, clock)
                })
                .collect(),
            current_ms: None,
            last_any_record_at: now,
        }
    }

    /// Notes that the source delivered at `now`; after a silence of the
    /// whole source as long as the idle timeout, restarts every partition's
    /// idle clock: none of them was idle, they were all unreachable.
    fn source_delivered(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_any_record_at) >= self.idle_timeout {
            for clock in self.partitions.values_mut() {
                clock.last_record_at = clock.last_record_at.max(now);
            }
        }
        self.last_any_record_at = self.last_any_record_at.max(now);
    }

    /// Restores what a checkpoint recorded: each partition's max event time
    /// and the watermark reached.
    pub fn restore(&mut self, max_event_times: &BTreeMap<i32, i64>, watermark_ms: Option<i64>) {
        for (partition, max) in max_event_times {
            if let Some(clock) = self.partitions.get_mut(partition) {
                clock.max_event_time_ms = Some(*max);
            }
        }
        self.current_ms = watermark_ms;
    }

    /// Notes a record of `partition` with `event_time_ms`, read at `now`.
    pub fn observe(&mut self, partition: i32, event_time_ms: i64, now: Instant) {
        self.source_delivered(now);
        let clock = self.partitions.entry(partition).or_insert(PartitionClock {
            max_event_time_ms: None,
            last_record_at: now,
        });
        clock.max_event_time_ms = Some(
            clock
                .max_event_time_ms
                .map_or(event_time_ms, |m| m.max(event_time_ms)),
        );
        clock.last_record_at = now;
    }

    /// Notes that `partition` had a record at `now` without an event time
    /// (a dead letter): it is alive, but its event time has not moved.
    pub fn touch(&mut self, partition: i32, now: Instant) {
        self.source_delivered(now);
        if let Some(clock) = self.partitions.get_mut(&partition) {
            clock.last_record_at = now;
        }
    }

    /// The watermark at `now`: no event older than it is expected any more.
    /// `None` until an active partition has seen an event.
    pub fn advance(&mut self, now: Instant) -> Option<i64> {
        let mut candidate: Option<i64> = None;
        for clock in self.partitions.values() {
            let idle = now.duration_since(clock.last_record_at) >= self.idle_timeout;
            match clock.max_event_time_ms {
                // An active partition with no event yet holds everything back.
                None if !idle => return self.current_ms,
                None => {}
                Some(_) if idle => {}
                Some(max) => {
                    let bound = max - self.delay_ms;
                    candidate = Some(candidate.map_or(bound, |c| c.min(bound)));
                }
            }
        }
        if let Some(candidate) = candidate
            && self.current_ms.is_none_or(|current| candidate > current)
        {
            self.current_ms = Some(candidate);
        }
        self.current_ms
    }

    /// The watermark last computed.
    pub fn current(&self) -> Option<i64> {
        self.current_ms
    }

    /// Each partition's max event time seen, for checkpoints.
    pub fn max_event_times(&self) -> BTreeMap<i32, i64> {
        self.partitions
            .iter()
            .filter_map(|(p, c)| c.max_event_time_ms.map(|m| (*p, m)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_active_partition_sets_the_watermark() {
        let start = Instant::now();
        let mut tracker = WatermarkTracker::new([0, 1], 1_000, Duration::from_secs(5));
        tracker.observe(0, 10_000, start);
        assert_eq!(tracker.advance(start), None, "partition 1 has seen nothing yet");
        tracker.observe(1, 7_000, start);
        assert_eq!(tracker.advance(start), Some(6_000));
        tracker.observe(1, 20_000, start);
        assert_eq!(tracker.advance(start), Some(9_000));
        tracker.observe(0, 8_000, start);
        assert_eq!(
            tracker.advance(start),
            Some(9_000),
            "out-of-order events do not move it"
        );
    }

    #[test]
    fn an_idle_partition_stops_holding_the_watermark_back_and_it_never_regresses() {
        let start = Instant::now();
        let mut tracker = WatermarkTracker::new([0, 1], 1_000, Duration::from_secs(5));
        tracker.observe(0, 10_000, start);
        tracker.observe(1, 3_000, start);
        assert_eq!(tracker.advance(start), Some(2_000));
        // Partition 0 delivers every second; partition 1 nothing.
        for second in 1..=5 {
            tracker.observe(
                0,
                10_000 + second * 1_000,
                start + Duration::from_secs(second as u64),
            );
        }
        let later = start + Duration::from_secs(6);
        tracker.observe(0, 30_000, later);
        assert_eq!(tracker.advance(later), Some(29_000), "partition 1 is idle");
        tracker.observe(1, 4_000, later);
        assert_eq!(
            tracker.advance(later),
            Some(29_000),
            "back, but the watermark stays"
        );
    }

    #[test]
    fn after_a_silence_of_the_whole_source_the_first_partition_back_does_not_make_the_others_late() {
        let start = Instant::now();
        let mut tracker = WatermarkTracker::new([0, 1], 1_000, Duration::from_secs(5));
        tracker.observe(0, 10_000, start);
        tracker.observe(1, 10_000, start);
        assert_eq!(tracker.advance(start), Some(9_000));
        // The broker is away for 20 s; partition 0's backlog arrives first.
        let back = start + Duration::from_secs(20);
        tracker.observe(0, 30_000, back);
        assert_eq!(
            tracker.advance(back),
            Some(9_000),
            "partition 1 was unreachable, not idle: its backlog is still to come"
        );
        tracker.observe(1, 12_000, back + Duration::from_millis(200));
        assert_eq!(tracker.advance(back + Duration::from_millis(200)), Some(11_000));
        // A partition that stays silent while the other delivers is idle again.
        for second in 1..=5 {
            tracker.observe(
                0,
                30_000 + second * 1_000,
                back + Duration::from_secs(second as u64),
            );
        }
        let later = back + Duration::from_secs(6);
        tracker.observe(0, 40_000, later);
        assert_eq!(tracker.advance(later), Some(39_000));
    }

    #[test]
    fn restored_progress_continues() {
        let start = Instant::now();
        let mut tracker = WatermarkTracker::new([0], 500, Duration::from_secs(5));
        tracker.restore(&BTreeMap::from([(0, 9_000)]), Some(8_500));
        assert_eq!(tracker.current(), Some(8_500));
        tracker.observe(0, 9_100, start);
        assert_eq!(tracker.advance(start), Some(8_600));
        assert_eq!(tracker.max_event_times(), BTreeMap::from([(0, 9_100)]));
    }
}
