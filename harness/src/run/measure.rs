//! What a scenario measured, taken once the engine has stopped: latency
//! from the commit times of its result rows, throughput from its metrics
//! lines, CPU from the kernel's accounting of the waited-for engine, and
//! checkpoints and recovery from what the engine and the sampler recorded.

use std::path::Path;
use std::time::Duration;

use streambench_engines::metrics::MetricsSnapshot;
use streambench_engines::sink::tables::Tables;
use streambench_workloads::generator::Generator;
use streambench_workloads::scenario::Scenario;

use super::latency::{LatencyRecorder, LatencySeries};
use super::recovery::recoveries;
use super::results::{CheckpointStats, Resources, ScenarioResult};
use super::sampler::Sampled;
use crate::produce::ProduceReport;

/// What a finished scenario leaves to measure.
pub struct Finished<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its topic and result table.
    pub name: &'a str,
    /// Its folder (engine log, metrics, latency log).
    pub dir: &'a Path,
    /// The PostgreSQL the results are in.
    pub postgres: &'a str,
    /// When the generator's schedule started, ms since the epoch.
    pub start_time_ms: i64,
    /// Seconds at the start left out of the figures.
    pub warm_up_s: f64,
    /// What the generator sent.
    pub produced: &'a ProduceReport,
    /// The generator, for when its last record was due.
    pub schedule: &'a Generator,
    /// CPU the engine (and the harness) used.
    pub cpu: CpuTimes,
    /// Lag and memory, sampled while it ran.
    pub sampled: Sampled,
    /// When each fault took the engine (or a service) down and back.
    pub interruptions: &'a [(f64, f64)],
}

/// The scenario's figures, the check and `elapsed_s` aside.
pub async fn measure(finished: Finished<'_>) -> anyhow::Result<ScenarioResult> {
    let Finished {
        scenario,
        dir,
        start_time_ms,
        warm_up_s,
        produced,
        ..
    } = finished;
    let events = produced.events;
    let last_event_ms =
        start_time_ms + (finished.schedule.send_time_us(events.saturating_sub(1)) / 1000) as i64;
    let measure_from_ms = start_time_ms + (warm_up_s * 1000.0) as i64;
    let wait_ms = scenario.job.result_wait_ms();
    let latency = measure_latency(
        finished.postgres,
        finished.name,
        scenario,
        start_time_ms,
        (measure_from_ms, last_event_ms - wait_ms),
    )
    .await?;
    let start_time = std::time::UNIX_EPOCH + Duration::from_millis(start_time_ms as u64);
    latency
        .series
        .write_interval_log(&dir.join("latency.hlog"), start_time, "event_time")?;
    let snapshots = MetricsSnapshot::read_all(&dir.join("metrics.jsonl"), 0);
    let series = records_per_second(&snapshots);
    let measured_seconds = ((last_event_ms - measure_from_ms).max(1000) / 1000) as usize;
    let sampled = finished.sampled;
    Ok(ScenarioResult {
        events_sent: events,
        offered_per_s: produced.offered_per_s,
        achieved_per_s: produced.achieved_per_s,
        producer_max_behind_ms: produced.max_behind_ms,
        engine_records_per_s: mean_rate(&series, warm_up_s as usize, measured_seconds),
        engine_records_per_s_series: series,
        event_time_latency: latency.event_time.summary(),
        engine_delay: latency.engine_delay.summary(),
        latency_series: latency.series.seconds(),
        measure_from_s: warm_up_s,
        measure_to_s: (last_event_ms - start_time_ms) as f64 / 1000.0,
        resources: finished.cpu.resources(events, &sampled),
        checkpoints: checkpoint_stats(&snapshots),
        recovery: recoveries(&sampled.lag, finished.interruptions),
        lag_series: sampled.lag,
        ..ScenarioResult::unfinished(scenario, finished.name)
    })
}

/// Records per second over `seconds` seconds after the first `skip`.
fn mean_rate(series: &[u64], skip: usize, seconds: usize) -> f64 {
    let measured: Vec<u64> = series
        .iter()
        .skip(skip.min(series.len()))
        .take(seconds)
        .copied()
        .collect();
    if measured.is_empty() {
        0.0
    } else {
        measured.iter().sum::<u64>() as f64 / measured.len() as f64
    }
}

/// CPU seconds used so far by this process and by its waited-for children.
pub struct CpuTimes {
    own_s: f64,
    children_s: f64,
}

impl CpuTimes {
    /// The times so far.
    pub fn now() -> CpuTimes {
        use nix::sys::resource::{UsageWho, getrusage};
        let seconds = |who| {
            getrusage(who).map_or(0.0, |u| {
                let (user, system) = (u.user_time(), u.system_time());
                user.tv_sec() as f64
                    + user.tv_usec() as f64 / 1e6
                    + system.tv_sec() as f64
                    + system.tv_usec() as f64 / 1e6
            })
        };
        CpuTimes {
            own_s: seconds(UsageWho::RUSAGE_SELF),
            children_s: seconds(UsageWho::RUSAGE_CHILDREN),
        }
    }

    /// The times used since `before`.
    pub fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            own_s: self.own_s - before.own_s,
            children_s: self.children_s - before.children_s,
        }
    }

    /// CPU seconds of waited-for children.
    pub fn children_s(&self) -> f64 {
        self.children_s
    }

    /// The resources figures for `events` events, with the sampled memory.
    fn resources(&self, events: u64, sampled: &Sampled) -> Resources {
        let mut resources = Resources {
            engine_cpu_s: self.children_s,
            engine_cpu_s_per_million_events: if events > 0 {
                self.children_s / events as f64 * 1e6
            } else {
                0.0
            },
            events_per_core_s: None,
            engine_peak_rss_bytes: sampled.engine_peak_rss_bytes,
            engine_rss_series: sampled.engine_rss.clone(),
            harness_cpu_s: self.own_s,
        };
        resources.events_per_core_s = resources.events_per_core_s();
        resources
    }
}

/// The engine's checkpoints, from its metrics lines: the last line's
/// counts, and the longest and largest any line reported.
fn checkpoint_stats(snapshots: &[MetricsSnapshot]) -> CheckpointStats {
    let Some(last) = snapshots.last() else {
        return CheckpointStats::default();
    };
    CheckpointStats {
        count: last.checkpoints,
        last_duration_ms: last.last_checkpoint_us as f64 / 1000.0,
        max_pause_ms: last.max_checkpoint_pause_us as f64 / 1000.0,
        last_bytes: last.last_checkpoint_bytes,
        longest_duration_ms: snapshots.iter().map(|s| s.last_checkpoint_us).max().unwrap_or(0) as f64
            / 1000.0,
        largest_bytes: snapshots
            .iter()
            .map(|s| s.last_checkpoint_bytes)
            .max()
            .unwrap_or(0),
    }
}

/// The latencies of one scenario's window results.
struct Latencies {
    event_time: LatencyRecorder,
    engine_delay: LatencyRecorder,
    /// Event-time latency by the second of the run the result was emitted in.
    series: LatencySeries,
}

/// Event-time latency and engine delay of each result due between
/// `from_ms` and `to_ms`: windows that closed then, or per-event rows of
/// events from then (results flushed by the final drain are left out: their
/// timing is the drain's, not the engine's). A window's engine delay is
/// what follows its end and the watermark delay; a per-event row's is what
/// follows its event's arrival at the broker, by the generator's schedule
/// (an out-of-order event happened before it arrived, which no engine can
/// undo).
async fn measure_latency(
    postgres: &str,
    table: &str,
    scenario: &Scenario,
    start_time_ms: i64,
    (from_ms, to_ms): (i64, i64),
) -> anyhow::Result<Latencies> {
    let tables = Tables::new(table)?;
    let client = streambench_engines::sink::connect(postgres).await?;
    let job = &scenario.job;
    let rows = client
        .query(&tables.emissions_query(job), &[&from_ms, &to_ms])
        .await?;
    let mut latencies = Latencies {
        event_time: LatencyRecorder::default(),
        engine_delay: LatencyRecorder::default(),
        series: LatencySeries::default(),
    };
    let wait_us = job.result_wait_ms() * 1000;
    for row in rows {
        let due_ms: i64 = row.get(0);
        let emitted_us: i64 = row.get(1);
        let latency_us = emitted_us - due_ms * 1000;
        latencies.event_time.record_us(latency_us);
        let engine_delay_us = if job.window.is_per_event() {
            let arrived_us = start_time_ms * 1000
                + scenario.workload.rate.send_time_us(row.get::<_, i64>(2) as u64) as i64;
            emitted_us - arrived_us
        } else {
            latency_us - wait_us
        };
        latencies.engine_delay.record_us(engine_delay_us);
        let second = ((emitted_us / 1000 - start_time_ms) / 1000).max(0) as u32;
        latencies.series.record_us(second, latency_us);
    }
    Ok(latencies)
}

/// Records read per second of the run, from the engine's metrics lines
/// (a restarted engine counts from zero again).
fn records_per_second(snapshots: &[MetricsSnapshot]) -> Vec<u64> {
    let mut series = Vec::new();
    let mut previous: Option<u64> = None;
    for snapshot in snapshots {
        let read = snapshot.records_read;
        series.push(match previous {
            Some(p) if read >= p => read - p,
            _ => read,
        });
        previous = Some(read);
    }
    if !series.is_empty() {
        // The first line counts from the engine's start, before the generator.
        series.remove(0);
    }
    series
}
