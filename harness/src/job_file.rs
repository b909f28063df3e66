//! The job an engine child runs, as the runner resolved it from the suite:
//! written once per scenario and passed with `--job-file`, so that the child
//! runs exactly the parent's job (a swept watermark delay included) without
//! reading the suite again.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use streambench_workloads::format::Format;
use streambench_workloads::generator::WorkloadSpec;
use streambench_workloads::job::JobSpec;

/// A resolved job and the workload facts it needs: the seed and keys of
/// its enrichment table, and the records' format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// The job, with the suite's overrides applied.
    pub job: JobSpec,
    /// The workload's seed.
    pub workload_seed: u64,
    /// The workload's key count.
    pub workload_keys: u64,
    /// How the workload's records are written (JSON when left out).
    #[serde(default)]
    pub workload_format: Format,
}

impl JobFile {
    /// `job` on `workload`, whose seed and key count its enrichment table needs.
    pub fn new(job: JobSpec, workload: &WorkloadSpec) -> JobFile {
        JobFile {
            job,
            workload_seed: workload.seed,
            workload_keys: workload.keys,
            workload_format: workload.format,
        }
    }

    /// Writes this job as JSON to `path`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("writing the job file {}", path.display()))
    }

    /// Reads a job file written by [`JobFile::write`].
    pub fn read(path: &Path) -> anyhow::Result<JobFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the job file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("the job file {} is not a job", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streambench_workloads::job::catalogue_job;

    #[test]
    fn a_job_file_reads_back_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("job.json");
        let mut job = catalogue_job("ysb").expect("ysb");
        job.watermark_delay_ms = 1234;
        let file = JobFile {
            job,
            workload_seed: 7,
            workload_keys: 99,
            workload_format: Format::Avro,
        };
        file.write(&path).expect("writes");
        assert_eq!(JobFile::read(&path).expect("reads"), file);
    }

    #[test]
    fn a_file_that_is_not_a_job_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("job.json");
        std::fs::write(&path, "{\"job\": 3}").expect("writes");
        let error = format!("{:#}", JobFile::read(&path).expect_err("not a job"));
        assert!(
            error.contains("job.json") && error.contains("not a job"),
            "{error}"
        );
    }
}
