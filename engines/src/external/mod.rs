//! External engines: real stream processors run on the same topics, jobs and
//! tables as streambench's own engines, so the harness measures and checks
//! them the same way. Each adapter is a child process streambench starts
//! and watches; what every adapter must do is the engine contract in the
//! README ("Plugging in another engine").

pub mod driver;
pub mod end_of_input;
pub mod flink;
pub mod flink_rest;
pub mod spark;

use streambench_workloads::job::JobSpec;

/// [`crate::registry::Entry::cannot_run`] of the Flink and Spark adapters:
/// they generate a windowed query (Flink SQL's window functions, Spark's
/// `groupBy(window)`), and have no per-event rule yet (Flink's would be a
/// `KeyedProcessFunction`, Spark's `applyInPandasWithState`), so they say
/// so rather than run something else in its place.
pub fn windowed_only(job: &JobSpec) -> Option<String> {
    job.window.is_per_event().then(|| {
        format!(
            "the adapter generates windowed queries only; the per-event job {} is not written for it yet",
            job.name
        )
    })
}
