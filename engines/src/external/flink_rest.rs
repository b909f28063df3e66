//! Flink's REST API, as the `flink` adapter uses it: the jobs a cluster
//! runs under a name, cancelling one, the checkpoint a job retained last,
//! and where its Kafka source reads (the connector's `currentOffset` gauge
//! per partition), which is the engine's lag as Flink itself reports it,
//! with when it read its first record (the job's own gauge).
//!
//! Calls block; callers run them off the async runtime.

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::source::Offsets;

/// A Flink cluster's REST endpoint, e.g. `http://127.0.0.1:8081`.
#[derive(Clone)]
pub struct FlinkRest {
    base: String,
    agent: ureq::Agent,
}

/// A job as the cluster lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOverview {
    /// Flink's job id.
    pub id: String,
    /// Its state: RUNNING, CANCELED, FAILED, FINISHED...
    pub state: String,
    /// When it started, in milliseconds since the epoch.
    pub start_time: i64,
}

impl JobOverview {
    /// Whether the job is still running (or about to, or restarting).
    pub fn is_live(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "CANCELED" | "FAILED" | "FINISHED" | "SUSPENDED"
        )
    }
}

/// The gauge `FlinkJob.java`'s deserializer publishes: when it decoded its
/// first record, in ms since the epoch (`Long.MAX_VALUE` before that).
pub const FIRST_RECORD_GAUGE: &str = "streambenchFirstRecordMs";

/// Where a job's Kafka source publishes its `currentOffset` gauges and its
/// first-record gauge: per vertex that has them, the metrics path and the
/// gauges' names. Found once and read many times: a vertex's metric names
/// do not change while it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OffsetGauges {
    vertices: Vec<(String, Vec<String>)>,
}

impl OffsetGauges {
    /// How many partitions' gauges were found.
    pub fn partitions(&self) -> usize {
        self.vertices
            .iter()
            .flat_map(|(_, names)| names)
            .filter(|name| !is_first_record_gauge(name))
            .count()
    }
}

/// What a job's source gauges say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceReading {
    /// Per partition, the offset of the next record the source reads.
    pub positions: Offsets,
    /// When the source decoded its first record, ms since the epoch.
    pub first_record_ms: Option<i64>,
}

fn rest_error(what: &str, url: &str, error: impl std::fmt::Display) -> Error {
    Error::External {
        engine: super::flink::ENGINE,
        reason: format!("Flink's REST API at {url}: {what} failed: {error}"),
    }
}

impl FlinkRest {
    /// A client of the cluster at `base`.
    pub fn new(base: &str) -> FlinkRest {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        FlinkRest {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// The endpoint's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn get(&self, path: &str, what: &str) -> Result<Value> {
        self.get_with(path, &[], what)
    }

    /// GET `path` with `query` pairs, encoded (metric names hold brackets).
    fn get_with(&self, path: &str, query: &[(&str, &str)], what: &str) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        self.agent
            .get(&url)
            .query_pairs(query.iter().copied())
            .call()
            .map_err(|e| rest_error(what, &url, e))?
            .body_mut()
            .read_json()
            .map_err(|e| rest_error(what, &url, e))
    }

    /// Whether the cluster answers, with its Flink version.
    pub fn version(&self) -> Result<String> {
        let overview = self.get("/overview", "reading the cluster's overview")?;
        Ok(overview["flink-version"]
            .as_str()
            .unwrap_or("unknown")
            .to_string())
    }

    /// How many TaskManagers have registered with the cluster.
    pub fn task_managers(&self) -> Result<u64> {
        let overview = self.get("/overview", "reading the cluster's overview")?;
        Ok(overview["taskmanagers"].as_u64().unwrap_or(0))
    }

    /// The jobs named `name`, newest first.
    pub fn jobs_named(&self, name: &str) -> Result<Vec<JobOverview>> {
        let overview = self.get("/jobs/overview", "listing the jobs")?;
        let mut jobs: Vec<JobOverview> = overview["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|job| job["name"].as_str() == Some(name))
            .map(|job| JobOverview {
                id: job["jid"].as_str().unwrap_or_default().to_string(),
                state: job["state"].as_str().unwrap_or_default().to_string(),
                start_time: job["start-time"].as_i64().unwrap_or(0),
            })
            .collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(job.start_time));
        Ok(jobs)
    }

    /// Cancels job `id` and waits until the cluster says it ended.
    pub fn cancel(&self, id: &str) -> Result<()> {
        let url = format!("{}/jobs/{id}?mode=cancel", self.base);
        self.agent
            .patch(&url)
            .send_empty()
            .map_err(|e| rest_error("cancelling a job", &url, e))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let job = self.get(&format!("/jobs/{id}"), "reading a job")?;
            let state = job["state"].as_str().unwrap_or_default();
            if matches!(state, "CANCELED" | "FAILED" | "FINISHED") {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(rest_error(
                    "cancelling a job",
                    &url,
                    format!("still {state} after 60 s"),
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The newest checkpoint or savepoint job `id` completed, as a path to
    /// restore from.
    pub fn latest_retained(&self, id: &str) -> Result<Option<String>> {
        let stats = self.get(&format!("/jobs/{id}/checkpoints"), "reading a job's checkpoints")?;
        Ok(latest_retained_in(&stats))
    }

    /// Checkpoints job `id` has completed.
    pub fn completed_checkpoints(&self, id: &str) -> Result<u64> {
        let stats = self.get(&format!("/jobs/{id}/checkpoints"), "reading a job's checkpoints")?;
        Ok(stats["counts"]["completed"].as_u64().unwrap_or(0))
    }

    /// Finds the `currentOffset` gauges of job `id`'s Kafka source for `topic`
    /// (none until Flink's metric fetcher has seen the source read).
    pub fn offset_gauges(&self, id: &str, topic: &str) -> Result<OffsetGauges> {
        let job = self.get(&format!("/jobs/{id}"), "reading a job")?;
        let mut gauges = OffsetGauges::default();
        for vertex in job["vertices"].as_array().into_iter().flatten() {
            let Some(vertex_id) = vertex["id"].as_str() else {
                continue;
            };
            let path = format!("/jobs/{id}/vertices/{vertex_id}/subtasks/metrics");
            let names: Vec<String> = self
                .get(&path, "listing a vertex's metrics")?
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str())
                .filter(|name| offset_metric_partition(name, topic).is_some() || is_first_record_gauge(name))
                .map(str::to_string)
                .collect();
            if !names.is_empty() {
                gauges.vertices.push((path, names));
            }
        }
        Ok(gauges)
    }

    /// Per partition, the offset of the next record the source reads, from
    /// `gauges` (partitions it has read nothing from in this run are
    /// missing), and when it read its first record.
    pub fn read_source(&self, gauges: &OffsetGauges, topic: &str) -> Result<SourceReading> {
        let mut reading = SourceReading::default();
        for (path, names) in &gauges.vertices {
            let values = self.get_with(
                path,
                &[("get", &names.join(",")), ("agg", "min,max")],
                "reading the source's offsets",
            )?;
            reading.positions.extend(positions_in(&values, topic));
            reading.first_record_ms = match (reading.first_record_ms, first_record_in(&values)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(reading)
    }
}

fn is_first_record_gauge(name: &str) -> bool {
    name.strip_suffix(FIRST_RECORD_GAUGE)
        .is_some_and(|rest| rest.ends_with('.'))
}

/// The earliest first-record time any subtask reports, from aggregated
/// gauges (subtasks that have read nothing report `Long.MAX_VALUE`).
fn first_record_in(values: &Value) -> Option<i64> {
    values
        .as_array()?
        .iter()
        .filter(|metric| metric["id"].as_str().is_some_and(is_first_record_gauge))
        .filter_map(|metric| metric["min"].as_f64())
        .filter(|&ms| ms > 0.0 && ms < 4.0e15)
        .map(|ms| ms as i64)
        .min()
}

/// The partition a Kafka source's `currentOffset` gauge is for, if `name`
/// is one for `topic` (`<operator>.KafkaSourceReader.topic.<topic>.partition.<p>.currentOffset`).
fn offset_metric_partition(name: &str, topic: &str) -> Option<i32> {
    let rest = name.strip_suffix(".currentOffset")?;
    let (before, partition) = rest.rsplit_once(".partition.")?;
    before
        .ends_with(&format!("KafkaSourceReader.topic.{topic}"))
        .then(|| partition.parse().ok())
        .flatten()
}

/// Next offsets to read from aggregated `currentOffset` gauges (the offset
/// of the last record read, or a negative value before the first).
fn positions_in(values: &Value, topic: &str) -> Offsets {
    values
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|metric| {
            let partition = offset_metric_partition(metric["id"].as_str()?, topic)?;
            let last = metric["max"].as_f64()?;
            (last >= 0.0).then_some((partition, last as i64 + 1))
        })
        .collect()
}

/// The newest of a job's latest completed checkpoint and latest savepoint.
fn latest_retained_in(stats: &Value) -> Option<String> {
    ["completed", "savepoint"]
        .iter()
        .filter_map(|kind| {
            let snapshot = &stats["latest"][*kind];
            let path = snapshot["external_path"].as_str()?;
            (!path.is_empty() && path != "<checkpoint-not-externally-addressable>").then(|| {
                (
                    snapshot["latest_ack_timestamp"].as_i64().unwrap_or(0),
                    path.to_string(),
                )
            })
        })
        .max()
        .map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn offset_gauges_give_next_offsets_per_partition() {
        let values = json!([
            {"id": "Source__records.KafkaSourceReader.topic.t1.partition.0.currentOffset", "max": 41.0},
            {"id": "Source__records.KafkaSourceReader.topic.t1.partition.3.currentOffset", "max": -1.0},
            {"id": "Source__records.KafkaSourceReader.topic.t1.partition.2.committedOffset", "max": 7.0},
            {"id": "Source__records.KafkaSourceReader.topic.t10.partition.1.currentOffset", "max": 9.0},
        ]);
        assert_eq!(positions_in(&values, "t1"), Offsets::from([(0, 42)]));
    }

    #[test]
    fn the_first_record_gauge_gives_the_earliest_subtask_and_none_before_any() {
        let gauge = format!("Source__records.deserializer.{FIRST_RECORD_GAUGE}");
        let values = json!([
            {"id": gauge, "min": 1_790_000_000_123.0, "max": 9.2e18},
            {"id": "Source__records.KafkaSourceReader.topic.t1.partition.0.currentOffset", "min": 3.0, "max": 41.0},
        ]);
        assert_eq!(first_record_in(&values), Some(1_790_000_000_123));
        assert!(is_first_record_gauge(&gauge));
        assert!(!is_first_record_gauge(
            "Source__records.xstreambenchFirstRecordMs"
        ));
        let not_yet = json!([{"id": gauge, "min": 9.2e18, "max": 9.2e18}]);
        assert_eq!(first_record_in(&not_yet), None);
    }

    #[test]
    fn the_newest_retained_snapshot_wins() {
        let stats = json!({"latest": {
            "completed": {"external_path": "file:/c/chk-4", "latest_ack_timestamp": 200},
            "savepoint": {"external_path": "file:/c/savepoint-1", "latest_ack_timestamp": 100},
        }});
        assert_eq!(latest_retained_in(&stats).as_deref(), Some("file:/c/chk-4"));
        let none = json!({"latest": {"completed": null, "savepoint": null}});
        assert_eq!(latest_retained_in(&none), None);
    }

    #[test]
    fn an_unreachable_cluster_is_a_clear_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = FlinkRest::new(&format!("http://127.0.0.1:{port}"))
            .version()
            .unwrap_err()
            .to_string();
        assert!(error.contains("Flink's REST API at http://127.0.0.1:"), "{error}");
    }
}
