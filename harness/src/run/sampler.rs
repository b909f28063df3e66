//! What the harness watches four times a second while a scenario runs, from
//! outside the engine so a stopped or killed engine cannot hide it: the
//! consumer lag (the broker's high watermarks against the read position in
//! the engine's last metrics line) and the engine's peak memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use streambench_engines::metrics::MetricsSnapshot;
pub use streambench_reports::results::{LagSample, RssSample};
use streambench_workloads::generator::Generator;

/// What to sample.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// The scenario's topic (fresh: its offsets start at 0).
    pub topic: String,
    /// Its partitions.
    pub partitions: u32,
    /// The engine's metrics file.
    pub metrics_file: PathBuf,
    /// The generator, for its schedule: when each record is due.
    pub schedule: Generator,
    /// When it started.
    pub started: Instant,
    /// The same moment, in ms since the Unix epoch (the clock of the
    /// engine's metrics lines).
    pub started_ms: i64,
}

/// A metrics line younger than this is the engine's current progress; an
/// older one means the engine has stopped writing (stopped, or dead), and
/// its lag is taken to grow from it. Engines write one a second.
const FRESH_S: f64 = 1.5;

/// What the sampler saw.
#[derive(Debug, Clone, Default)]
pub struct Sampled {
    /// Lag: one sample per metrics line the engine wrote (about one a
    /// second), and one per quarter second while it wrote none.
    pub lag: Vec<LagSample>,
    /// The largest resident set any engine process of the scenario reached
    /// (`VmHWM`), in bytes.
    pub engine_peak_rss_bytes: u64,
    /// The engine's resident set (`VmRSS`), about once a second.
    pub engine_rss: Vec<RssSample>,
}

/// The sampling thread.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    engine_pid: Arc<AtomicU32>,
    thread: JoinHandle<Sampled>,
}

impl Sampler {
    /// Starts sampling; `engine_pid` is the engine's process.
    pub fn start(config: SamplerConfig, engine_pid: u32) -> anyhow::Result<Sampler> {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .create()
            .map_err(|e| anyhow::anyhow!("cannot create a Kafka client for {}: {e}", config.brokers))?;
        let stop = Arc::new(AtomicBool::new(false));
        let pid = Arc::new(AtomicU32::new(engine_pid));
        let thread = {
            let (stop, pid) = (stop.clone(), pid.clone());
            std::thread::Builder::new()
                .name("lag-sampler".into())
                .spawn(move || sample_until(&config, &consumer, &stop, &pid))?
        };
        Ok(Sampler {
            stop,
            engine_pid: pid,
            thread,
        })
    }

    /// Follows a restarted engine.
    pub fn engine_restarted(&self, pid: u32) {
        self.engine_pid.store(pid, Ordering::Relaxed);
    }

    /// Stops sampling and returns what was seen.
    pub fn finish(self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn sample_until(
    config: &SamplerConfig,
    consumer: &BaseConsumer,
    stop: &AtomicBool,
    pid: &AtomicU32,
) -> Sampled {
    let mut sampler = Sampling {
        config,
        consumer,
        sampled: Sampled::default(),
        warned: false,
        positioned: false,
    };
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        sampler.sample(pid.load(Ordering::Relaxed));
        // Often enough that a stall longer than FRESH_S is always sampled.
        next += Duration::from_millis(250);
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(next.saturating_duration_since(Instant::now())));
        }
    }
    // The engine has stopped and written its last metrics line: where it ended.
    sampler.sample(0);
    sampler.sampled
}

/// The sampler's state between samples.
struct Sampling<'a> {
    config: &'a SamplerConfig,
    consumer: &'a BaseConsumer,
    sampled: Sampled,
    warned: bool,
    /// Whether an engine process of this run has reported a position yet.
    positioned: bool,
}

impl Sampling<'_> {
    /// Takes one sample. While the engine writes its metrics lines, the lag
    /// is taken as of its last line (so the phase between its clock and
    /// this one does not move the figure); once the line is stale, as of
    /// now, from the last position it reported.
    fn sample(&mut self, pid: u32) {
        let config = self.config;
        let now_s = config.started.elapsed().as_secs_f64();
        let line = MetricsSnapshot::read_last(&config.metrics_file, 0);
        if let Some(line) = &line {
            if not_yet_positioned(line, self.positioned) {
                return;
            }
            self.positioned |= line.read_position > 0;
        }
        let (line_s, position) = line.map_or((0.0, 0), |line| {
            (
                (line.at_ms - config.started_ms) as f64 / 1000.0,
                line.read_position,
            )
        });
        let fresh = now_s - line_s <= FRESH_S;
        let t_s = if fresh { line_s } else { now_s };
        if fresh && self.sampled.lag.last().is_some_and(|last| last.t_s == t_s) {
            return;
        }
        match high_watermarks(self.consumer, &config.topic, config.partitions) {
            Ok(high) => {
                let scheduled = config.schedule.due_within(t_s) as i64;
                self.sampled.lag.push(LagSample {
                    t_s,
                    lag_records: (high.min(scheduled) - position).max(0),
                    lag_s: config.schedule.seconds_behind(t_s, position),
                });
            }
            Err(e) if !self.warned => {
                tracing::warn!("cannot sample the lag of {}: {e}", config.topic);
                self.warned = true;
            }
            Err(_) => {}
        }
        if let Some(hwm) = status_bytes(pid, "VmHWM:") {
            self.sampled.engine_peak_rss_bytes = self.sampled.engine_peak_rss_bytes.max(hwm);
        }
        let rss_due = self
            .sampled
            .engine_rss
            .last()
            .is_none_or(|last| now_s - last.t_s >= 1.0);
        if rss_due && let Some(bytes) = status_bytes(pid, "VmRSS:") {
            self.sampled.engine_rss.push(RssSample { t_s: now_s, bytes });
        }
    }
}

/// Whether `line` comes from an engine process that was restarted and has
/// not yet restored its position (it has read nothing and reports position
/// 0, where an engine that `positioned_before` had gone further): its lag
/// is not known then, and taken as the whole topic it made a one-sample
/// spike of every record sent so far.
fn not_yet_positioned(line: &MetricsSnapshot, positioned_before: bool) -> bool {
    positioned_before && line.records_read == 0 && line.read_position == 0
}

fn high_watermarks(consumer: &BaseConsumer, topic: &str, partitions: u32) -> anyhow::Result<i64> {
    let mut sum = 0;
    for partition in 0..partitions as i32 {
        let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(2))?;
        sum += high;
    }
    Ok(sum)
}

/// A memory figure of a process's status (`VmHWM:` peak resident set,
/// `VmRSS:` resident set now), in bytes, summed over the process and its
/// descendants: an external engine's driver and JVM count as the engine.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let own = process_status_bytes(pid, field)?;
    Some(
        own + descendants(pid)
            .into_iter()
            .filter_map(|child| process_status_bytes(child, field))
            .sum::<u64>(),
    )
}

/// A memory figure of one process's status, in bytes.
fn process_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Every live descendant of `pid`, from the parent ids in `/proc/*/stat`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            // The command name may hold spaces and parentheses: the fields
            // after its last `)` are state, then the parent id.
            let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        next += 1;
    }
    found.remove(0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_engine_has_no_lag_until_it_has_a_position() {
        let line = |records_read, read_position| MetricsSnapshot {
            records_read,
            read_position,
            ..MetricsSnapshot::default()
        };
        // A restarted process's first lines: nothing read, position 0.
        assert!(not_yet_positioned(&line(0, 0), true));
        // At the run's start, position 0 is the truth: nothing was read.
        assert!(!not_yet_positioned(&line(0, 0), false));
        // Restored from a checkpoint, or reading.
        assert!(!not_yet_positioned(&line(0, 4_000), true));
        assert!(!not_yet_positioned(&line(10, 10), true));
    }

    #[test]
    fn a_process_tree_counts_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        assert!(descendants(std::process::id()).contains(&child.id()));
        // Peaks only grow, so the sum read after both can only be larger.
        let ours = process_status_bytes(std::process::id(), "VmHWM:").expect("ours");
        let childs = process_status_bytes(child.id(), "VmHWM:").expect("the child's");
        assert!(status_bytes(std::process::id(), "VmHWM:").expect("the tree's") >= ours + childs);
        child.kill().expect("kill");
        child.wait().expect("wait");
    }

    #[test]
    fn this_process_has_a_peak_resident_set() {
        assert!(status_bytes(std::process::id(), "VmHWM:").is_some_and(|b| b > 0));
        assert!(status_bytes(std::process::id(), "VmRSS:").is_some_and(|b| b > 0));
        assert_eq!(status_bytes(u32::MAX, "VmHWM:"), None);
    }
}
