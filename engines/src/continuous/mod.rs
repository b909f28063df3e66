//! The continuous engine: Flink's model in one process. A source thread
//! reads Kafka, decodes each record on arrival and routes it by key to one
//! of N worker threads, each owning the window state of its keys
//! ([`operator`]); watermarks and checkpoint barriers flow through the same
//! channels as the events, so a barrier cuts every worker's state exactly
//! at the source offsets it carries (Chandy-Lamport, as in Flink's
//! asynchronous barrier snapshots). A coordinator collects results and
//! state: it writes results as they fire (`insert`, `upsert`) or per
//! checkpoint epoch with the offsets (`transactional`), and writes each
//! checkpoint before the offsets it covers are committed anywhere.

pub mod operator;
mod runtime;

pub use runtime::{ContinuousSettings, run};
