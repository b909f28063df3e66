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
use streambench_workloads::window::WindowSpec;

/// [`crate::registry::Entry::cannot_run`] of the Flink and Spark adapters:
/// they run the windowed jobs (Flink SQL's window functions, Spark's
/// `groupBy(window)`) and the stateless per-event job (`alerts`: a filter
/// and the campaign lookup), but have no per-key rule yet (`fraud`: Flink's
/// would be a `KeyedProcessFunction`, Spark's `applyInPandasWithState`), so
/// they say so rather than run something else in its place.
pub fn without_rules(job: &JobSpec) -> Option<String> {
    matches!(job.window, WindowSpec::Burst { .. }).then(|| {
        format!(
            "the adapter has no per-key rule (evaluated per key in arrival order) yet, so the job {} is not written for it",
            job.name
        )
    })
}
